"""Appeal deadlines as alerts (issue 17 §3, SPEC H3/P5): a malicious case whose platform appeal is not yet
submitted is alerted to 法务 once when its deadline comes within the warning window and once when it is missed,
through the same notice table, alert ledger and channels as the SLA warnings — the watcher's tick
(:func:`reviewops.alerting.alerts.raise_sla_alerts`) and the daily sweep (:func:`reviewops.handling.sweep.daily_sweep`)
both record them. Working-day deadlines count across Chinese holidays (国庆). Both backends.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alert_fixtures import Recorder, feishu, policy_with
from reviewops.alerting import alerts
from reviewops.alerting.channels import render
from reviewops.core import store as st
from reviewops.core.store import Store, alert_deliveries, alert_events, sla_notices
from reviewops.handling import appeals as ap
from reviewops.handling.sweep import APPEAL_COLUMNS, appeal_sweep, daily_sweep
from wb_fixtures import make_case, make_users

BJ = dt.timezone(dt.timedelta(hours=8))
# a bad review on 2026-09-29 10:00 (Tuesday before 国庆); PDD: 7 working days on the Chinese calendar →
# 9-30, 10-08, 10-09, 10-10 (Saturday 调休), 10-12, 10-13, 10-14 → due 2026-10-14 22:00 Beijing time.
# Counted Monday–Friday without holidays it would end on 10-08.
REVIEW_AT = dt.datetime(2026, 9, 29, 10, 0, tzinfo=BJ)
DUE = dt.datetime(2026, 10, 14, 22, 0, tzinfo=BJ)
TEXT = "质量太差了，垃圾"
NICK = "王小明"
DUTY = [
    {"role": "supervisor", "name": "老李", "weekdays": "", "start": "00:00", "end": "23:59", "mobile": "13900000001"},
    {"role": "legal", "name": "赵法", "weekdays": "", "start": "00:00", "end": "23:59", "email": "zhao@shop.example"},
]
APPEAL = ("appeal_warn", "appeal_overdue")


@pytest.fixture(autouse=True)
def _lexicon_only(monkeypatch):
    # the case is made malicious by hand; triage need not load the shipped text model
    monkeypatch.setattr("reviewops.grading.classify.default_model", lambda: None, raising=False)


def _malicious(store: Store, tmp_path: Path, *, platform: str = "pdd", shop: str = "拼多多店",
               at: dt.datetime = REVIEW_AT) -> int:
    case_id = make_case(store, tmp_path, platform="taobao", shop=shop, text=TEXT, nick=NICK)
    with store.write() as conn:
        c = conn.execute(sa.select(st.cases.c.shop_id, st.cases.c.review_pk, st.cases.c.version)
                         .where(st.cases.c.id == case_id)).one()
        conn.execute(st.shops.update().where(st.shops.c.id == c.shop_id).values(platform=platform))
        conn.execute(st.reviews.update().where(st.reviews.c.id == c.review_pk).values(created_at=at))
        st.update_case(conn, case_id, c.version, {"primary_category": "malicious", "categories": "malicious",
                                                  "owner_role": "legal"}, actor="test", via="test")
    return case_id


def _appeal_events(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_events).where(alert_events.c.kind.in_(APPEAL))
                                              .order_by(alert_events.c.id)).mappings()]


def _channels(store: Store, event_id: int) -> set[str]:
    with store.read() as conn:
        return {r for (r,) in conn.execute(sa.select(alert_deliveries.c.channel)
                                           .where(alert_deliveries.c.event_id == event_id))}


def _notices(store: Store) -> list[tuple[int, str]]:
    with store.read() as conn:
        return [(int(a), str(b)) for a, b in conn.execute(
            sa.select(sla_notices.c.case_id, sla_notices.c.kind).where(sla_notices.c.kind.in_(APPEAL))
            .order_by(sla_notices.c.id))]


def test_deadline_counts_working_days_across_national_day() -> None:
    from reviewops.core.policy import default_policy

    due = ap.appeal_deadline(ap.rule_for("pdd"), REVIEW_AT, default_policy())
    assert due == DUE.astimezone(dt.UTC)


def test_warning_then_overdue_each_alerted_once_to_legal(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("kf"), feishu("new_only", events="new_case"),
                        feishu("breach_only", events="sla_breach")], DUTY)
    case_id = _malicious(store, tmp_path)

    # 10-09 09:00: a Monday–Friday count would have passed its deadline (10-08 22:00); on the Chinese calendar
    # five working days are left, so nothing is raised
    alerts.raise_sla_alerts(store, now=dt.datetime(2026, 10, 9, 9, 0, tzinfo=BJ))
    assert _appeal_events(store) == [] and _notices(store) == []

    # within 24 h of the deadline: one warning, whatever how often the watcher ticks
    warn_at = DUE - dt.timedelta(hours=20)
    first = alerts.raise_sla_alerts(store, now=warn_at)
    again = alerts.raise_sla_alerts(store, now=warn_at + dt.timedelta(minutes=1))
    events = _appeal_events(store)
    assert [(e["kind"], e["key"], e["case_id"]) for e in events] == [("appeal_warn", f"appeal_warn:{case_id}", case_id)]
    assert events[0]["id"] in first and not set(again) & {e["id"] for e in events}
    # an appeal warning goes where the SLA warnings go (the policy has no appeal event of its own)
    assert _channels(store, events[0]["id"]) == {"kf"}

    # the daily sweep at the same time finds it on 法务's list and records nothing new
    sweep = daily_sweep(store, now=warn_at + dt.timedelta(minutes=2))
    assert list(sweep.appeals.columns) == APPEAL_COLUMNS
    row = sweep.appeals.iloc[0]
    assert (row["case_id"], row["appeal_status"], row["notice"], row["new_notices"], row["role"]) == \
        (case_id, "warning", "appeal_warn", "", "legal")
    todo = sweep.todo_for("legal")
    assert list(todo["kind"]) == ["appeal_deadline"] and todo.iloc[0]["ref"] == str(case_id)
    assert "2026-10-14 22:00" in todo.iloc[0]["what_zh"] and not todo.iloc[0]["new"]

    # after the deadline: one overdue alert, on the channels of SLA breaches too
    late = DUE + dt.timedelta(hours=11)
    alerts.raise_sla_alerts(store, now=late)
    alerts.raise_sla_alerts(store, now=late + dt.timedelta(minutes=5))
    events = _appeal_events(store)
    assert [e["kind"] for e in events] == ["appeal_warn", "appeal_overdue"]
    assert _channels(store, events[1]["id"]) == {"kf", "breach_only"}
    assert _notices(store) == [(case_id, "appeal_warn"), (case_id, "appeal_overdue")]

    # the messages: Chinese, case number, platform, deadline in Beijing time, 法务 only, no personal data
    for e, head in zip(events, ("申诉即将截止", "申诉已逾期"), strict=True):
        msg = alerts.message_for(store, e["id"], at=late)
        assert msg.title == f"{head}：案件 #{case_id}（拼多多）"
        assert msg.due_local == "2026-10-14 22:00" and msg.platform_zh == "拼多多" and msg.role_zh == "法务"
        assert f"案件 #{case_id}" in msg.excerpt and "2026-10-14 22:00（北京时间）" in msg.excerpt
        assert [m.name for m in msg.mentions] == ["赵法"]
        for payload in (render("feishu", msg), render("dingtalk", msg), render("wecom", msg)):
            text = json.dumps(payload, ensure_ascii=False)
            assert "【平台申诉提醒】" in text and "2026-10-14 22:00" in text and f"#{case_id}" in text
            assert TEXT not in text and NICK[:1] + "*" not in text and "13800" not in text and "顾客" not in text
        email = render("email", msg)
        assert email["Subject"].startswith(f"【平台申诉提醒】{head}") and TEXT not in email.as_string()
        sms = render("sms", msg)
        assert sms[1] == head and sms[3] == ("AW" if e["kind"] == "appeal_warn" else "AO") + f"-{case_id}"

    # sent through the ledger like every alert
    rec = Recorder("kf")
    res = alerts.dispatch(store, channels={"kf": rec, "breach_only": Recorder("breach_only"),
                                           "new_only": Recorder("new_only")}, pace=False)
    assert res.dead == 0
    assert {f"appeal_warn:{case_id}", f"appeal_overdue:{case_id}"} <= set(rec.keys)


def test_daily_sweep_records_and_the_watcher_alerts_a_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("kf")], DUTY)
    case_id = _malicious(store, tmp_path)
    warn_at = DUE - dt.timedelta(hours=3)
    dry = appeal_sweep(store, now=warn_at, apply=False)
    assert list(dry["new_notices"]) == ["appeal_warn"] and _notices(store) == []
    wet = appeal_sweep(store, now=warn_at)  # the daily_sweep playbook
    assert list(wet["new_notices"]) == ["appeal_warn"] and _notices(store) == [(case_id, "appeal_warn")]
    assert list(appeal_sweep(store, now=warn_at)["new_notices"]) == [""]  # recorded once
    with store.read() as conn:
        sent_by = conn.execute(sa.select(sla_notices.c.sent_by, sla_notices.c.role, sla_notices.c.due_at)
                               .where(sla_notices.c.kind == "appeal_warn")).one()
    assert sent_by.sent_by == "playbook:daily_sweep" and sent_by.role == "legal" and sent_by.due_at == DUE
    new = alerts.raise_sla_alerts(store, now=warn_at + dt.timedelta(minutes=1))  # the watcher's next tick
    events = _appeal_events(store)
    assert [e["kind"] for e in events] == ["appeal_warn"] and events[0]["id"] in new
    assert events[0]["source"] == "sweep"


def test_a_case_first_seen_late_gets_only_the_overdue_alert_and_an_old_backlog_none(store: Store,
                                                                                   tmp_path: Path) -> None:
    policy_with(store, [feishu("kf")], DUTY)
    case_id = _malicious(store, tmp_path)
    old = _malicious(store, tmp_path, platform="taobao", shop="淘宝店",  # taobao: 30 calendar days
                     at=dt.datetime(2026, 9, 1, 10, 0, tzinfo=BJ))
    late = DUE + dt.timedelta(hours=2)
    alerts.raise_sla_alerts(store, now=late)
    assert [(e["kind"], e["case_id"]) for e in _appeal_events(store)] == [("appeal_overdue", case_id)]
    # the taobao case was due on 10-01: overdue for two weeks, recorded but not posted (like an SLA backlog)
    assert (old, "appeal_overdue") in _notices(store) and (old, "appeal_warn") not in _notices(store)


def test_a_submitted_appeal_is_not_alerted_a_drafted_one_is(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("kf")], DUTY)
    users = make_users(store)
    drafted = _malicious(store, tmp_path)
    filed = _malicious(store, tmp_path, shop="拼多多二店")
    for case_id in (drafted, filed):
        ap.build_packet(store, users["l1"], case_id, out_dir=tmp_path / "packets")
    (pk,) = [a for a in ap.list_appeals(store, case_id=filed)]
    ap.submit_appeal(store, users["l1"], pk["id"], "PDD-2026-1")
    alerts.raise_sla_alerts(store, now=DUE - dt.timedelta(hours=1))
    events = _appeal_events(store)
    assert [(e["kind"], e["case_id"]) for e in events] == [("appeal_warn", drafted)]
    msg = alerts.message_for(store, events[0]["id"], at=DUE - dt.timedelta(hours=1))
    assert "已起草" in msg.excerpt and "剩余约 1 小时" in msg.excerpt


def test_the_warning_window_is_warn_hours(store: Store, tmp_path: Path, monkeypatch) -> None:
    from reviewops.core.policy import default_policy

    assert ap.warn_hours(default_policy()) == ap.WARN_HOURS == 24  # the default policy's appeal_warn_hours
    policy_with(store, [feishu("kf")], DUTY)
    _malicious(store, tmp_path)
    at = DUE - dt.timedelta(hours=30)
    alerts.raise_sla_alerts(store, now=at)
    assert _appeal_events(store) == []  # 30 h before the deadline: outside the 24 h window
    monkeypatch.setattr(ap, "WARN_HOURS", 48)
    alerts.raise_sla_alerts(store, now=at + dt.timedelta(minutes=1))
    assert [e["kind"] for e in _appeal_events(store)] == ["appeal_warn"]
