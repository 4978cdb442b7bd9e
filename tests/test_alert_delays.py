"""Alert delays per source (SPEC E1: "each alert records its real detection delay"): ``reports.alert_delays``,
its table in ``report_figures``/``weekly_top3``/the dashboard/the weekly playbook, and the case deep link
``workbench.ipynb?case=<id>`` (``reviewops_widgets.app.case_from_query``).

The alert ledger is filled by hand here (``alert_events``/``alert_deliveries`` rows inserted directly), so
every figure below is worked out by hand, never by the function under test. Shop 甲店 (A), week 2026-W47,
arrivals from Tuesday 11-17 10:00 Beijing; delays in seconds after arrival:

======  ========  =========  ===========================================  ==========
alert   source    detected   deliveries (channel: state @ s)              verdict
======  ========  =========  ===========================================  ==========
f1      folder    2          feishu: delivered @10, mail: delivered @5     delivered 5
f2      folder    4          feishu: delivered @30                         delivered 30
f3      folder    6          feishu: delivered @90                         delivered 90
f4      folder    8          feishu: dead                                  dead
p1      push      1.5        dingtalk: delivered @20                       delivered 20
p2      push      3          dingtalk: pending, sms: dead                  pending
s1      schedule  30         —                                             no channel
s2      schedule  50         wecom: delivered @60, mail: sending           delivered 60 (= 1 min)
i1      import    10         mail: delivered @120                          delivered 120
w1      sweep     0          sms: delivered @15, sms2: dead                delivered 15
======  ========  =========  ===========================================  ==========

Not counted for A in W47: x1 (shop 乙店 B, push, detected 100, delivered @200), x2 (arrived in W46),
x3 (arrived exactly at the end of W47: the period is half-open), x4 (a ``warn_50`` alert, not a new case).

Linear percentiles (``q·(n−1)`` between the sorted values):

* folder: detection [2, 4, 6, 8] → P50 5.0, P95 at 2.85 → 6 + 0.85·2 = 7.7; delivery [5, 30, 90] → P50 30,
  P95 at 1.9 → 30 + 0.9·60 = 84.0; within 60 s: 2 of 4.
* push: detection [1.5, 3] → 2.25 and 1.5 + 0.95·1.5 = 2.925; delivery [20]; within 1 of 2.
* schedule: detection [30, 50] → 40 and 49; delivery [60]; within 1 of 2 (60 s counts as within).
* total: detection [0, 1.5, 2, 3, 4, 6, 8, 10, 30, 50] → P50 at 4.5 = 5.0, P95 at 8.55 → 30 + 0.55·20 = 41.0;
  delivery [5, 15, 20, 30, 60, 90, 120] → P50 30, P95 at 5.7 → 90 + 0.7·30 = 111.0; within 5 of 10.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from reviewops.core import store as stmod
from reviewops.reporting.dashboard import ALERT_DELAY_TITLE, alert_delay_table, dashboard_figures
from reviewops.reporting.reports import (
    ALERT_DELAY_COLUMNS,
    SHANGHAI,
    alert_delays,
    report_figures,
    week_bounds,
    weekly_top3,
)
from reviewops.runner import playbooks_dir
from reviewops.serve import default_forms_dir
from reviewops.core.users import add_user, get_actor
from reviewops.handling.workbench import Workbench
from reviewops_widgets import build_dashboard
from reviewops_widgets.app import (
    CASE,
    build_workbench,
    case_from_query,
    page_query_string,
)
from wb_fixtures import make_case, make_users, run_notebook

ROOT = Path(__file__).resolve().parents[1]
W47 = week_bounds("2026-W47")
T0 = dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI)
NAMES = [c for c, _, _ in ALERT_DELAY_COLUMNS]
_keys = itertools.count(1)

# name: (source, detected s, [(channel, state, delivered s or None)])
EVENTS_A: dict[str, tuple[str, float, list[tuple[str, str, float | None]]]] = {
    "f1": ("folder", 2, [("feishu", "delivered", 10), ("mail", "delivered", 5)]),
    "f2": ("folder", 4, [("feishu", "delivered", 30)]),
    "f3": ("folder", 6, [("feishu", "delivered", 90)]),
    "f4": ("folder", 8, [("feishu", "dead", None)]),
    "p1": ("push", 1.5, [("dingtalk", "delivered", 20)]),
    "p2": ("push", 3, [("dingtalk", "pending", None), ("sms", "dead", None)]),
    "s1": ("schedule", 30, []),
    "s2": ("schedule", 50, [("wecom", "delivered", 60), ("mail", "sending", None)]),
    "i1": ("import", 10, [("mail", "delivered", 120)]),
    "w1": ("sweep", 0, [("sms", "delivered", 15), ("sms2", "dead", None)]),
}
CHANNEL_TYPE = {"feishu": "feishu", "dingtalk": "dingtalk", "wecom": "wecom", "mail": "email", "sms": "sms",
                "sms2": "sms"}


def add_alert(store: Any, *, case_id: int, shop_id: int, source: str, arrived: dt.datetime, detected_s: float,
              deliveries: list[tuple[str, str, float | None]], kind: str = "new_case") -> int:
    """One alert_events row and its alert_deliveries rows, as the alert engine would leave them."""
    detected = arrived + dt.timedelta(seconds=detected_s)
    with store.write() as conn:
        eid = conn.execute(stmod.alert_events.insert().values(
            key=f"{kind}:{case_id}:{next(_keys)}", kind=kind, case_id=case_id, shop_id=shop_id, source=source,
            arrived_at=arrived, detected_at=detected, created_at=detected).returning(stmod.alert_events.c.id)).scalar_one()
        for channel, state, delivered_s in deliveries:
            at = None if delivered_s is None else arrived + dt.timedelta(seconds=delivered_s)
            conn.execute(stmod.alert_deliveries.insert().values(
                event_id=eid, channel=channel, channel_type=CHANNEL_TYPE[channel], state=state,
                attempts=0 if state == "pending" else 1, next_attempt_at=detected,
                last_error="http 500" if state == "dead" else None, delivered_at=at, created_at=detected,
                updated_at=at or detected))
    return eid


def shop_id(store: Any, name: str) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(stmod.shops.c.id).where(stmod.shops.c.name == name)).scalar_one()


def build(store: Any, tmp_path: Path) -> dict[str, Any]:
    ca = make_case(store, tmp_path, text="快递太慢了，一个星期才到", shop="甲店", customer="k1")
    cb = make_case(store, tmp_path, text="质量太差，穿一次就开线了", shop="乙店", customer="k2")
    A, B = shop_id(store, "甲店"), shop_id(store, "乙店")
    for i, (source, detected_s, deliveries) in enumerate(EVENTS_A.values()):
        add_alert(store, case_id=ca, shop_id=A, source=source, arrived=T0 + dt.timedelta(minutes=i),
                  detected_s=detected_s, deliveries=deliveries)
    add_alert(store, case_id=cb, shop_id=B, source="push", arrived=T0, detected_s=100,
              deliveries=[("dingtalk", "delivered", 200)])  # x1
    add_alert(store, case_id=ca, shop_id=A, source="folder", arrived=W47[0] - dt.timedelta(seconds=1), detected_s=1,
              deliveries=[("feishu", "delivered", 1)])  # x2
    add_alert(store, case_id=ca, shop_id=A, source="folder", arrived=W47[1], detected_s=1,
              deliveries=[("feishu", "delivered", 1)])  # x3
    add_alert(store, case_id=ca, shop_id=A, source="folder", arrived=T0, detected_s=1,
              deliveries=[("feishu", "delivered", 1)], kind="warn_50")  # x4
    return {"A": A, "B": B, "ca": ca, "cb": cb}


@pytest.fixture
def ledger(store: Any, tmp_path: Path) -> dict[str, Any]:
    return build(store, tmp_path)


def rows(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["source"]: r for r in df.to_dict("records")}


# ------------------------------------------------------------------ the figures
def test_delays_per_source_match_the_hand_computed_percentiles(store, ledger):
    df = alert_delays(store, *W47, shop_ids=[ledger["A"]])
    assert list(df.columns) == NAMES
    assert list(df["source"]) == ["folder", "push", "schedule", "import", "sweep", "total"]
    assert list(df["source_zh"]) == ["文件夹", "推送", "定时导入", "手动导入", "巡检", "合计"]
    r = rows(df)
    expect = {  # alerts, detect p50/p95, delivered, deliver p50/p95, within, rate, pending, dead, no channel
        "folder": (4, 5.0, 7.7, 3, 30.0, 84.0, 2, 0.5, 0, 1, 0),
        "push": (2, 2.25, 2.925, 1, 20.0, 20.0, 1, 0.5, 1, 0, 0),
        "schedule": (2, 40.0, 49.0, 1, 60.0, 60.0, 1, 0.5, 0, 0, 1),
        "import": (1, 10.0, 10.0, 1, 120.0, 120.0, 0, 0.0, 0, 0, 0),
        "sweep": (1, 0.0, 0.0, 1, 15.0, 15.0, 1, 1.0, 0, 0, 0),
        "total": (10, 5.0, 41.0, 7, 30.0, 111.0, 5, 0.5, 1, 1, 1),
    }
    cols = ["alerts", "detect_p50_s", "detect_p95_s", "delivered", "deliver_p50_s", "deliver_p95_s", "within_60s",
            "within_60s_rate", "pending", "dead", "no_channel"]
    for source, want in expect.items():
        got = tuple(r[source][c] for c in cols)
        assert got == pytest.approx(want), (source, got)
        # every alert is exactly one of delivered / pending / dead / no channel
        assert r[source]["delivered"] + r[source]["pending"] + r[source]["dead"] + r[source]["no_channel"] == want[0]
    # fewer alerts than the policy's min_sample (10) are flagged; the total has exactly 10
    assert [r[s]["note"] for s in expect] == ["样本不足"] * 5 + [""]
    assert set(alert_delays(store, *W47, shop_ids=[ledger["A"]], min_sample=1)["note"]) == {""}


def test_the_earliest_delivery_of_an_alert_delivered_on_two_channels_counts(store, ledger):
    f1 = EVENTS_A["f1"]
    df = alert_delays(store, T0, T0 + dt.timedelta(seconds=30), shop_ids=[ledger["A"]])  # f1 alone
    assert list(df["source"]) == ["folder", "total"]
    assert (df.loc[0, "alerts"], df.loc[0, "deliver_p50_s"], df.loc[0, "delivered"]) == (1, 5.0, 1)
    assert df.loc[0, "detect_p50_s"] == f1[1]


def test_other_shops_periods_and_kinds_are_left_out(store, ledger):
    A, B = ledger["A"], ledger["B"]
    everyone = rows(alert_delays(store, *W47))
    assert everyone["total"]["alerts"] == 11 and everyone["push"]["alerts"] == 3  # x1 of shop B joins
    assert everyone["push"]["deliver_p95_s"] == pytest.approx(20 + 0.95 * 180)  # [20, 200]
    only_b = alert_delays(store, *W47, shop_ids=[B])
    assert list(only_b["source"]) == ["push", "total"] and list(only_b["alerts"]) == [1, 1]
    assert only_b.loc[0, "detect_p50_s"] == 100.0 and only_b.loc[0, "within_60s_rate"] == 0.0
    # x2 (the second before the week) and x3 (at the week's end) belong to other periods
    w46 = alert_delays(store, *week_bounds("2026-W46"), shop_ids=[A])
    w48 = alert_delays(store, *week_bounds("2026-W48"), shop_ids=[A])
    assert list(w46["alerts"]) == [1, 1] and list(w48["alerts"]) == [1, 1]


def test_an_empty_period_gives_an_empty_table_with_the_columns(store, ledger):
    for df in (alert_delays(store, *week_bounds("2026-W40")), alert_delays(store, *W47, shop_ids=[]),
               alert_delays(store, *W47, shop_ids=[ledger["B"] + 1000])):
        assert df.empty and list(df.columns) == NAMES
    shown = alert_delay_table(alert_delays(store, *week_bounds("2026-W40")))
    assert shown.empty and shown.columns[0] == "来源"


def test_report_figures_weekly_report_and_dashboard_carry_the_same_table(store, ledger):
    A = ledger["A"]
    direct = alert_delays(store, *W47, shop_ids=[A])
    pd.testing.assert_frame_equal(report_figures(store, *W47, shop_ids=[A]).alert_delays, direct)
    pd.testing.assert_frame_equal(report_figures(store, *W47, shop_ids=[A], breakdowns=False).alert_delays, direct)
    pd.testing.assert_frame_equal(weekly_top3(store, "2026-W47", shop_ids=[A]).alert_delays, direct)
    pd.testing.assert_frame_equal(weekly_top3(store, "2026-W47").alert_delays, alert_delays(store, *W47))
    # a user limited to shop A sees only A's alerts on the dashboard, whatever else is in the ledger
    add_user(store, "onlya", role="supervisor", password="password1", actor="test", shops=[A])
    mine = dashboard_figures(store, get_actor(store, "onlya"), dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    pd.testing.assert_frame_equal(mine.alert_delays, direct)
    # the shown table: Chinese headers, seconds with one decimal, shares in %
    t = alert_delay_table(direct)
    assert list(t.columns) == [h for c, h, _ in ALERT_DELAY_COLUMNS if c != "source"]
    folder = t.iloc[0].to_dict()
    assert folder["来源"] == "文件夹" and folder["检测用时 P95（秒）"] == "7.7" and folder["送达用时 P95（秒）"] == "84.0"
    assert folder["1 分钟内送达率"] == "50.0%" and folder["备注"] == "样本不足"
    assert t.iloc[1]["检测用时 P95（秒）"] == "2.9" and t.iloc[-1]["来源"] == "合计" and t.iloc[-1]["备注"] == ""


def test_the_dashboard_shows_the_alert_table_escaped(sqlite_store, tmp_path):
    ledger = build(sqlite_store, tmp_path)
    users = make_users(sqlite_store)
    hostile = '<img src=x onerror="document.body.dataset.pwned=1">'
    add_alert(sqlite_store, case_id=ledger["ca"], shop_id=ledger["A"], source=hostile, arrived=T0, detected_s=1,
              deliveries=[])
    form = build_dashboard(Workbench(sqlite_store, users["s1"]), auto_refresh=False, today=dt.date(2026, 11, 22))
    html = form.sla.value
    # s1 sees both shops: shop B's x1 (delivered @200) joins the total → delivery P95 at 6.65 = 120 + 0.65·80
    assert ALERT_DELAY_TITLE in html and "检测用时 P50（秒）" in html and "84.0" in html and "172.0" in html
    assert hostile not in html and "&lt;img src=x" in html
    assert html.index("文件夹") < html.index("推送") < html.index("&lt;img") < html.index("合计")
    form.start.value = dt.date(2026, 10, 1)
    form.end.value = dt.date(2026, 10, 7)
    assert "所选范围内没有新案件提醒" in form.sla.value


def test_the_weekly_playbook_shows_the_alert_table(sqlite_db_url, sqlite_store, tmp_path):
    import papermill as pm

    A = build(sqlite_store, tmp_path)["A"]
    nb = pm.execute_notebook(str(playbooks_dir() / "weekly_top3.ipynb"), str(tmp_path / "out.ipynb"),
                             kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                             parameters={"week": "2026-W47", "db": sqlite_db_url, "shops": str(A)})
    texts = [o.get("data", {}).get("text/html") or o.get("data", {}).get("text/markdown") or ""
             for c in nb.cells for o in c.get("outputs", [])]
    assert any(t.startswith(f"## {ALERT_DELAY_TITLE}") for t in texts)
    [table] = [t for t in texts if "<th>检测用时 P50（秒）</th>" in t]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    want = alert_delay_table(alert_delays(sqlite_store, *W47, shop_ids=[A]))
    assert cells == [str(v) for row in want.itertuples(index=False) for v in row]
    assert "84.0" in cells and "111.0" in cells and "文件夹" in cells


# ------------------------------------------------------------------ the case link
@pytest.mark.parametrize(("qs", "want"), [
    ("case=123", 123), ("case=7&x=1", 7), ("x=1&case=42", 42), ("case=%31%32", 12), ("case=000123", 123),
    (None, None), ("", None), ("case=", None), ("case", None), ("x=1", None), ("case=abc", None),
    ("case=-1", None), ("case=0", None), ("case=+1", None), ("case=1.0", None), ("case=1;drop", None),
    ("case=1%3Bdrop", None), ("case=1 or 1=1", None), ("case=%201", None), ("case=1&case=2", None),
    ("case=1&case=1", None), ("case=١٢", None), ("case=1234567890123", None), ("case=1e3", None),
    ("&".join(["x=1"] * 60) + "&case=5", None),
])
def test_case_from_query(qs: str | None, want: int | None) -> None:
    assert case_from_query(qs) == want


def test_page_query_string_reads_the_kernel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import voila.utils

    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.setenv("QUERY_STRING", "case=9")
    assert page_query_string() == "case=9"
    monkeypatch.delenv("QUERY_STRING")
    assert page_query_string() is None
    monkeypatch.setenv("VOILA_PREHEAT", "True")  # a preheated kernel still waiting for its request asks Voila
    monkeypatch.setattr(voila.utils, "get_query_string", lambda url=None: "case=8")
    assert page_query_string() == "case=8"
    monkeypatch.setenv("QUERY_STRING", "case=7")  # … but never when the request has arrived
    monkeypatch.setattr(voila.utils, "get_query_string", lambda url=None: pytest.fail("waited twice"))
    assert page_query_string() == "case=7"


def test_the_workbench_opens_the_linked_case_within_the_users_shops(sqlite_store, tmp_path):
    ledger = build(sqlite_store, tmp_path)
    A, ca, cb = ledger["A"], ledger["ca"], ledger["cb"]
    add_user(sqlite_store, "onlya", role="agent", password="password1", actor="test", shops=[A])
    wb = Workbench(sqlite_store, get_actor(sqlite_store, "onlya"))
    app = build_workbench(wb, auto_refresh=False, case_id=case_from_query(f"case={ca}"))
    assert app.tabs.selected_index == CASE and app.case.view is not None and app.case.view.case_id == ca
    other = build_workbench(wb, auto_refresh=False, case_id=case_from_query(f"case={cb}"))  # another shop's case
    assert other.tabs.selected_index == CASE and other.case.view is None and other.case.status.kind == "error"
    plain = build_workbench(wb, auto_refresh=False, case_id=case_from_query(f"case={ca};drop"))
    assert plain.tabs.selected_index == 0 and CASE not in plain._built  # nothing opened, the case tab not even built


def test_the_workbench_page_opens_the_case_of_its_query_string(sqlite_db_url, sqlite_store, tmp_path):
    from reviewops.serve import IDENTITY_ENV, SECRET_ENV, make_identity_token

    ca = build(sqlite_store, tmp_path)["ca"]
    make_users(sqlite_store)
    secret = "s" * 43
    env = {SECRET_ENV: secret, IDENTITY_ENV: make_identity_token("s1", secret=secret), "REVIEWOPS_DB": sqlite_db_url,
           "QUERY_STRING": f"case={ca}", "VOILA_PREHEAT": "False"}
    nb = run_notebook(default_forms_dir() / "workbench.ipynb", env)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], outputs
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    tabs = [m["state"] for m in state.values() if "ro-app-tabs" in m["state"].get("_dom_classes", [])]
    assert len(tabs) == 1 and tabs[0]["selected_index"] == CASE
    ids = [m["state"].get("value") for m in state.values() if m["model_name"] == "TextModel"]
    assert str(ca) in ids
