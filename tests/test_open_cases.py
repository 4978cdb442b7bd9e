"""One definition of "open" (issue 14.3): every surface lists the same cases awaiting action with one
SLA status per case.

The same store, user and time give the same case ids in ``reviewops queue`` (text and --json), the
workbench queue (``Workbench.queue`` and the 差评工作台 form built on it) and Excel ``RO_CASES``; resolved,
follow_up_done and closed cases are in none of them; a case contacted after its deadline is ``late``
(逾期响应) — never breached, never a countdown past the deadline (超时Nh); the status boundaries
(warning fraction, deadline, business hours) with a fixed ``now``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from reviewops import excel as x
from reviewops.core import store as stmod
from reviewops.handling.cases import transition_case
from reviewops.cli import main
from reviewops.handling.workbench import Workbench

from wb_fixtures import case_row, make_case, make_users

UTC = dt.timezone.utc


TOKENS: dict[str, str] = {}  # personal tokens of the fixture's users (REVIEWOPS_TOKEN)


@pytest.fixture
def shop(sqlite_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Cases in every kind of state, opened ten hours ago (store clock), in two shops; Excel pointed at the file.

    Returns (path, now, ids, store) with ``ids`` by role: new, met (contacted in time, not resolved),
    late (contacted after its deadline, not resolved), escalated, resolved, follow_up_done, closed,
    other_shop (乙店, never contacted, past its deadline).
    """
    store = sqlite_store
    t0 = stmod.utcnow().replace(microsecond=0) - dt.timedelta(hours=10)
    ids: dict[str, int] = {}
    with stmod.clock(t0):  # every case opened at t0: logistics 2 h, quality 4 h (24×7 by default)
        ids["new"] = make_case(store, tmp_path, text="质量太差，穿一次就开线了", shop="甲店")
        ids["met"] = make_case(store, tmp_path, text="快递太慢了，一个星期才到", shop="甲店")
        ids["late"] = make_case(store, tmp_path, text="快递太慢了，包装也破了", shop="甲店")
        ids["escalated"] = make_case(store, tmp_path, text="快递太慢了，还不送上楼", shop="甲店")
        ids["resolved"] = make_case(store, tmp_path, text="快递太慢了，等了十天", shop="甲店")
        ids["follow_up_done"] = make_case(store, tmp_path, text="快递太慢了，催了三次", shop="甲店")
        ids["closed"] = make_case(store, tmp_path, text="快递太慢了，物流不更新", shop="甲店")
        ids["other_shop"] = make_case(store, tmp_path, text="快递太慢了，根本没人管", shop="乙店")
    with store.read() as conn:
        shops = dict(conn.execute(sa.select(stmod.shops.c.name, stmod.shops.c.id)).all())
    u = make_users(store, a1=str(shops["甲店"]))
    a1, boss = Workbench(store, u["a1"]), Workbench(store, u["boss"])
    with stmod.clock(t0 + dt.timedelta(hours=1)):  # in time (deadline t0 + 2 h)
        for k in ("met", "resolved", "follow_up_done", "closed", "escalated"):
            a1.record_contact(ids[k], 1, channel="chat", note="已联系买家")
        a1.resolve(ids["resolved"], 2, satisfied=True)
        v = a1.resolve(ids["follow_up_done"], 2, satisfied=True)
        transition_case(store, ids["follow_up_done"], v, "follow_up_done", actor="a1", via="test")
        v = a1.resolve(ids["closed"], 2, satisfied=True)
        boss.close(ids["closed"], v, "处理完毕")
        a1.escalate(ids["escalated"], 2, "买家要求主管处理")
    with stmod.clock(t0 + dt.timedelta(hours=5)):  # three hours after its deadline
        a1.record_contact(ids["late"], 1, channel="phone", note="电话致歉")
    from reviewops.core.users import issue_token

    TOKENS.update({n: issue_token(store, n, actor="test") for n in ("a1", "boss")})  # Excel's identity (issue 15)
    path = Path(store.url[len("sqlite:///"):])
    monkeypatch.setenv("REVIEWOPS_DB", str(path))
    x._close_stores()
    yield path, t0 + dt.timedelta(hours=6), ids, store, u
    x._close_stores()


def _cli_queue(path: Path, now: dt.datetime, user: str | None, capsys) -> tuple[dict, str]:
    args = ["queue", "--db", str(path), "--limit", "500"] + (["--user", user] if user else [])
    with stmod.clock(now):
        assert main([*args, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert main(args) == 0
        text = capsys.readouterr().out
    return data, text


def _excel_ids(now: dt.datetime, user: str, monkeypatch) -> list[int]:
    monkeypatch.setenv("REVIEWOPS_TOKEN", TOKENS[user])
    with stmod.clock(now):
        rows = x.ro_cases()
    assert rows[0][0] == "案件号", rows
    return [int(r[0]) for r in rows[1:] if isinstance(r[0], (int, float))]


@pytest.mark.parametrize("user", ["a1", "boss"])
def test_every_surface_lists_the_same_cases(shop, user, capsys, monkeypatch):
    path, now, ids, store, u = shop
    data, text = _cli_queue(path, now, user if user != "boss" else None, capsys)  # no --user: every shop
    cli_ids = [int(q["case_id"]) for q in data["queue"]]
    wb_ids = [int(c) for c in Workbench(store, u[user]).queue(now=now, limit=500)["case_id"]]
    excel_ids = _excel_ids(now, user, monkeypatch)
    assert cli_ids == wb_ids == excel_ids
    assert data["open_cases"] == len(cli_ids)
    open_ids = {ids[k] for k in ("new", "met", "late", "escalated")} | ({ids["other_shop"]} if user == "boss" else set())
    assert set(cli_ids) == open_ids
    for done in ("resolved", "follow_up_done", "closed"):
        assert ids[done] not in cli_ids
        assert not re.search(rf"^\s*{ids[done]}\s", text, re.M), text
    assert f"共 {len(cli_ids)} 个" not in text  # everything fits: no "showing the most urgent" line

    from reviewops_widgets import build_queue

    form = build_queue(Workbench(store, u[user]), auto_refresh=False, page_size=50)
    form.refresh(now=now)
    assert form.visible_case_ids() == wb_ids


def test_status_and_counts_agree_with_the_queue(shop, capsys):
    path, now, ids, store, u = shop
    with stmod.clock(now):
        assert main(["status", "--db", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["open_cases"] == 5  # 4 in 甲店 + 1 in 乙店
    q = Workbench(store, u["boss"]).queue(now=now)
    counts = Workbench.queue_counts(q)
    assert counts["total"] == 5 and counts["breached"] == 2 and counts["unanswered"] == 2  # new (4 h) and 乙店
    assert counts["warning"] == 0


def test_a_late_contact_is_late_never_overdue(shop, capsys):
    path, now, ids, store, u = shop
    q = Workbench(store, u["a1"]).queue(now=now).set_index("case_id")
    assert q.loc[ids["late"], "sla_status"] == "late" and q.loc[ids["late"], "sla_status_zh"] == "逾期响应"
    assert q.loc[ids["met"], "sla_status"] == "met" and q.loc[ids["escalated"], "sla_status"] == "met"
    assert q.loc[ids["new"], "sla_status"] == "breached"  # 4 h budget, 6 h ago, never contacted
    assert pd.isna(q.loc[ids["late"], "minutes_left"])  # a stopped clock has nothing left to count
    assert q.loc[ids["new"], "minutes_left"] == -120
    assert case_row(store, ids["late"])["first_contact_at"] > case_row(store, ids["late"])["sla_due_at"]

    data, text = _cli_queue(path, now, "a1", capsys)
    rows = {int(q["case_id"]): q for q in data["queue"]}
    assert rows[ids["late"]]["sla_status"] == "late" and rows[ids["late"]]["minutes_left"] is None
    line = next(ln for ln in text.splitlines() if re.match(rf"\s*{ids['late']}\s", ln))
    assert "逾期响应" in line and "超时" not in line, line
    line = next(ln for ln in text.splitlines() if re.match(rf"\s*{ids['new']}\s", ln))
    assert "已超时" in line and "超时2h00" in line, line

    from reviewops_widgets.queue import row_html

    late_row = Workbench(store, u["a1"]).queue(now=now).set_index("case_id").loc[ids["late"]].to_dict()
    html = row_html({"case_id": ids["late"], **late_row})
    assert "逾期响应" in html and "已超时" not in html


# ------------------------------------------------------------------ status boundaries (fixed now)
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 18:00 in Beijing, a working day


def _both(contact, due, *, budget=120.0, cal=None, warn=0.8):
    from reviewops.core.sla import sla_status, sla_statuses

    one = sla_status(contact, due, NOW, budget_minutes=budget, cal=cal, warn=warn)
    many = sla_statuses([contact], [due], NOW, budget_minutes=[budget], cal=cal, warn=warn)
    assert list(many) == [one]
    return one


def test_status_boundaries_with_a_fixed_now():
    m = dt.timedelta(minutes=1)
    assert _both(None, NOW + 25 * m) == "running"        # 95 of 120 min used: 79 %
    assert _both(None, NOW + 24 * m) == "warning"        # exactly 80 % used
    assert _both(None, NOW + 1 * m) == "warning"
    assert _both(None, NOW) == "breached"                 # at the deadline
    assert _both(None, NOW - 300 * m) == "breached"
    assert _both(None, NOW + 24 * m, warn=0.9) == "running"  # the policy's fraction decides
    assert _both(NOW - 60 * m, NOW - 60 * m) == "met"     # contacted exactly at the deadline
    assert _both(NOW - 59 * m, NOW - 60 * m) == "late"    # a minute after it …
    assert _both(NOW - 59 * m, NOW - 6000 * m) == "late"  # … however long ago: never breached
    assert _both(NOW, None) == "met" and _both(None, None) == "running"


def test_warning_counts_working_time_on_a_business_hours_clock():
    from reviewops.core.sla import SlaCalendar

    cal = SlaCalendar(mode="business")  # 09:00–22:00 Beijing, Chinese working days
    late_evening = dt.datetime(2026, 3, 2, 13, 50, tzinfo=UTC)  # Monday 21:50 Beijing
    from reviewops.core.sla import sla_statuses

    # deadline Tuesday 09:30: 10 + 30 working minutes left of 120 → 67 % used (24×7 would say 9 %)
    # deadline Tuesday 09:10: 10 + 10 left → 83 % used
    due = [dt.datetime(2026, 3, 3, 1, 30, tzinfo=UTC), dt.datetime(2026, 3, 3, 1, 10, tzinfo=UTC)]
    assert list(sla_statuses([None, None], due, late_evening, budget_minutes=[120, 120], cal=cal, warn=0.8)) == \
        ["running", "warning"]
    assert list(sla_statuses([None, None], due, late_evening, budget_minutes=[120, 120], warn=0.8)) == \
        ["running", "running"]


def test_one_definition_and_one_set_of_names():
    from reviewops.handling import cases, sweep, workbench
    from reviewops.core import sla
    from reviewops.core.sla import SLA_STATUS_ZH, SLA_STATUSES

    assert set(cases.OPEN_STATES) | set(cases.DONE_STATES) == set(cases.STATES)
    assert not set(cases.OPEN_STATES) & set(cases.DONE_STATES)
    assert "contacted" in cases.OPEN_STATES and "follow_up_done" in cases.DONE_STATES
    assert tuple(SLA_STATUS_ZH) == SLA_STATUSES == ("running", "warning", "breached", "met", "late")
    assert len(set(SLA_STATUS_ZH.values())) == 5 and "超时" not in SLA_STATUS_ZH["late"]
    assert workbench.SLA_STATUS_ZH is SLA_STATUS_ZH and sweep.SLA_STATUS_ZH is SLA_STATUS_ZH
    assert sla.warning_fraction([0.5, 0.8]) == 0.8 and sla.warning_fraction(None) == 0.8


def test_reports_judge_with_the_same_status(shop):
    """The report's 按时/超时/超时未联系 figures are the queue's statuses, also exactly at a deadline."""
    from reviewops.reporting.reports import report_figures

    path, now, ids, store, u = shop
    at = case_row(store, ids["other_shop"])["sla_due_at"]  # the 乙店 case's deadline, to the microsecond
    for when in (at, now):
        fig = report_figures(store, dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC),
                             now=when, breakdowns=False)
        every = Workbench(store, u["boss"]).queue(now=when, include_closed=True, limit=500)
        assert len(every) == fig.sla["cases"] == 8
        counts = every["sla_status"].value_counts().to_dict()
        assert (fig.sla["met"], fig.sla["late"], fig.sla["breached_unanswered"]) == \
            (counts.get("met", 0), counts.get("late", 0), counts.get("breached", 0))
        assert fig.sla["open_in_time"] == counts.get("running", 0) + counts.get("warning", 0)
    assert Workbench(store, u["boss"]).queue(now=at).set_index("case_id").loc[ids["other_shop"], "sla_status"] == \
        "breached"
