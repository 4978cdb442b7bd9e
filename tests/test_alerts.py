"""The alert ledger (issue 7, SPEC E1/E2): raised once per key with the case, delivered with retries,
backoff and dead letters, the on-duty roster, the message, SLA alerts — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alert_fixtures import (
    NICK,
    PHONE,
    Recorder,
    feishu,
    policy_with,
    review_rows,
    write_export,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops.alerting import alerts
from reviewops.alerting.channels import ChannelError
from reviewops.core.errors import ConfigError, PolicyInvalid
from reviewops.intake.ingest import import_file
from reviewops.core.policy import Policy, current_policy, default_policy, export_policy, import_policy
from reviewops.core.store import Store, access_log, alert_deliveries, alert_events, cases, sla_notices
from reviewops.handling.opening import triage_store

UTC = dt.UTC


def _import_and_triage(store: Store, tmp_path: Path, rows: list[str], *, name: str = "r.csv",
                       source: str = "folder", arrived: dt.datetime | None = None) -> list[int]:
    results = import_file(store, write_export(tmp_path / name, rows))
    created: list[int] = []
    policy = current_policy(store)
    res = triage_store(store, policy=policy, batch_ids=[r.batch_id for r in results],
                       on_case=alerts.case_alert_hook(policy, source=source, arrived_at=arrived, created=created))
    assert len(created) <= res.created  # history (older than alert_max_review_age_hours) gets no alert
    return res.case_ids


def _deliveries(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.id)).mappings()]


def _events(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_events).order_by(alert_events.c.id)).mappings()]


# ------------------------------------------------------------------------------------------- raise
def test_new_case_alert_is_written_with_the_case_for_each_subscribed_channel(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("kf"), feishu("warn_only", events="sla_warn;sla_breach"),
                        feishu("off", enabled=False), {"name": "mail", "type": "email", "target": "a@shop.example"}])
    arrived = dt.datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    case_ids = _import_and_triage(store, tmp_path, review_rows(0, 6), arrived=arrived)
    assert len(case_ids) == 3  # rows 0, 2, 4 are negative
    events = _events(store)
    assert [e["key"] for e in events] == [f"new_case:{c}" for c in case_ids]
    assert {e["source"] for e in events} == {"folder"}
    assert all(e["arrived_at"] == arrived for e in events)
    assert all(e["detected_at"] >= arrived for e in events)
    by_event = {}
    for d in _deliveries(store):
        by_event.setdefault(d["event_id"], []).append(d["channel"])
        assert d["state"] == "pending" and d["attempts"] == 0
    # the SLA-only channel and the disabled one get no new-case alert
    assert all(sorted(v) == ["kf", "mail"] for v in by_event.values()) and len(by_event) == 3


def test_a_case_never_exists_without_its_alert(store: Store, tmp_path: Path) -> None:
    """The hook runs inside the case's transaction: a failure there leaves neither case nor alert."""
    policy_with(store, [feishu()])
    import_file(store, write_export(tmp_path / "r.csv", review_rows(0, 4)))
    policy = current_policy(store)

    def boom(conn, case_id, row):
        alerts.case_alert_hook(policy, source="folder", arrived_at=None)(conn, case_id, row)
        raise RuntimeError("crash after the alert, before the commit")

    with pytest.raises(RuntimeError):
        triage_store(store, policy=policy, on_case=boom)
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(alert_events)).scalar_one() == 0
    res = triage_store(store, policy=policy, on_case=alerts.case_alert_hook(policy, source="folder", arrived_at=None))
    assert len(res.case_ids) == 2 and len(_events(store)) == 2


def test_raising_again_or_concurrently_makes_no_second_alert(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()])
    ids = _import_and_triage(store, tmp_path, review_rows(0, 8))
    assert alerts.raise_case_alerts(store, ids, source="import") == []
    assert len(_events(store)) == 4

    # a fresh set of cases raised by four threads at once: one event and one delivery each
    with store.write() as conn:
        conn.execute(alert_deliveries.delete())
        conn.execute(alert_events.delete())
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            alerts.raise_case_alerts(store, ids, source="import")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(e["key"] for e in _events(store)) == sorted(f"new_case:{c}" for c in ids)
    assert len(_deliveries(store)) == len(ids)


# ---------------------------------------------------------------------------------------- dispatch
def test_dispatch_delivers_and_records_the_time(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()])
    ids = _import_and_triage(store, tmp_path, review_rows(0, 4))
    rec = Recorder()
    res = alerts.dispatch(store, channels={"kf": rec})
    assert (res.delivered, res.retried, res.dead) == (2, 0, 0)
    assert sorted(rec.keys) == sorted(f"new_case:{c}" for c in ids)
    for d in _deliveries(store):
        assert d["state"] == "delivered" and d["attempts"] == 1 and d["delivered_at"] is not None
    assert alerts.dispatch(store, channels={"kf": rec}).delivered == 0  # nothing sent twice
    assert len(rec.messages) == 2


def test_retryable_failures_back_off_then_go_to_the_dead_letters(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()], settings={"alert_max_attempts": "3", "alert_retry_seconds": "5"})
    from reviewops.core.store import clock

    t0 = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=1)  # a past time the clock can replay
    with clock(t0 - dt.timedelta(minutes=1)):
        _import_and_triage(store, tmp_path, review_rows(0, 2))
    rec = Recorder()

    waits = []
    for attempt in range(1, 4):
        rec.fail.append(ChannelError("HTTP 500", channel="kf", retryable=True))
        with clock(t0):
            res = alerts.dispatch(store, channels={"kf": rec}, now=t0)
        assert res.delivered == 0
        d = _deliveries(store)[0]
        assert d["attempts"] == attempt and d["last_error"].startswith("kf: HTTP 500")
        if attempt < 3:
            assert d["state"] == "pending"
            waits.append((d["next_attempt_at"] - t0).total_seconds())
            # not due before its time
            with clock(t0 + dt.timedelta(seconds=1)):
                assert alerts.dispatch(store, channels={"kf": rec}, now=t0 + dt.timedelta(seconds=1)).delivered == 0
            t0 = d["next_attempt_at"]
        else:
            assert d["state"] == "dead"
    assert waits == [5.0, 10.0]  # alert_retry_seconds, doubled
    dead = alerts.dead_letters(store)
    assert list(dead.columns) == list(alerts.DEAD_LETTER_COLUMNS) and len(dead) == 1
    assert dead.iloc[0]["channel"] == "kf" and dead.iloc[0]["attempts"] == 3

    assert alerts.resend(store, actor="laoli") == 1
    d = _deliveries(store)[0]
    assert (d["state"], d["attempts"]) == ("pending", 0)
    with store.read() as conn:
        row = conn.execute(sa.select(access_log).where(access_log.c.action == "alert_resend")).mappings().one()
    assert row["actor"] == "laoli" and json.loads(row["detail_json"])["deliveries"] == [d["id"]]
    assert alerts.dispatch(store, channels={"kf": rec}).delivered == 1
    assert alerts.dead_letters(store).empty
    with pytest.raises(ConfigError, match="死信"):
        alerts.resend(store, [d["id"]], actor="laoli")  # delivered, not dead


def test_permanent_failures_and_bad_configuration_are_dead_at_once(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("kf"), feishu("signed", secret_env="NO_SUCH_SECRET_VAR"),
                        {"name": "mail", "type": "email", "target": "a@shop.example"}])
    _import_and_triage(store, tmp_path, review_rows(0, 2))
    rec = Recorder()
    rec.fail.append(ChannelError("签名校验失败 19021", channel="kf", retryable=False, code="19021"))
    res = alerts.dispatch(store, channels={"kf": rec}, env={})
    assert (res.delivered, res.dead) == (0, 3)
    errors = {d["channel"]: d["last_error"] for d in _deliveries(store)}
    assert "19021" in errors["kf"]
    assert "NO_SUCH_SECRET_VAR" in errors["signed"]  # names the missing variable, never a secret
    assert "SMTP" in errors["mail"] or "REVIEWOPS_SMTP" in errors["mail"]
    # a channel removed from the policy after the alert was raised
    policy_with(store, [])
    alerts.resend(store, actor="t")
    alerts.dispatch(store, env={})
    assert all("不在策略" in d["last_error"] for d in _deliveries(store))


def test_an_unexpected_channel_bug_is_retried_not_fatal(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("a"), feishu("b")])
    _import_and_triage(store, tmp_path, review_rows(0, 2))
    a, b = Recorder("a"), Recorder("b")
    a.fail.append(ZeroDivisionError("bug"))
    res = alerts.dispatch(store, channels={"a": a, "b": b})
    assert (res.delivered, res.retried) == (1, 1)
    assert {d["channel"]: d["state"] for d in _deliveries(store)} == {"a": "pending", "b": "delivered"}


def test_a_dead_senders_lease_is_taken_back_a_live_one_is_not(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()])
    _import_and_triage(store, tmp_path, review_rows(0, 2))
    now = dt.datetime.now(UTC)
    with store.write() as conn:  # another sender claimed it and is still within its lease
        conn.execute(alert_deliveries.update().values(state="sending", lease_until=now + dt.timedelta(seconds=30)))
    rec = Recorder()
    assert alerts.dispatch(store, channels={"kf": rec}, now=now).delivered == 0
    # that sender died: once the lease ran out the delivery is sent by the next one
    assert alerts.dispatch(store, channels={"kf": rec}, now=now + dt.timedelta(seconds=31)).delivered == 1
    assert _deliveries(store)[0]["state"] == "delivered"


# ---------------------------------------------------------------------------------- duty, message
DUTY = [
    {"role": "supervisor", "name": "老李", "weekdays": "1-5", "start": "09:00", "end": "18:00", "mobile": "13900000001"},
    {"role": "supervisor", "name": "夜班王", "weekdays": "7", "start": "22:00", "end": "06:00", "mobile": "13900000002"},
    {"role": "legal", "name": "赵法", "weekdays": "", "start": "00:00", "end": "23:59", "email": "zhao@shop.example"},
]


def _policy(duty=DUTY) -> Policy:
    raw = {k: [dict(r) for r in v] for k, v in default_policy().tables.items()}
    raw["duty"] = [dict(d) for d in duty]
    return Policy.from_tables(raw)


def _sh(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(("at", "roles", "names"), [
    (_sh(2026, 11, 26, 9, 30), {"supervisor"}, ["老李"]),  # Thursday, in the day shift
    (_sh(2026, 11, 26, 18, 0), {"supervisor"}, []),  # the shift ends at 18:00 (exclusive)
    (_sh(2026, 11, 28, 10, 0), {"supervisor"}, []),  # Saturday: nobody
    (_sh(2026, 11, 29, 23, 0), {"supervisor"}, ["夜班王"]),  # Sunday night shift
    (_sh(2026, 11, 30, 3, 0), {"supervisor"}, ["夜班王"]),  # … which runs into Monday morning
    (_sh(2026, 11, 30, 9, 0), {"supervisor"}, ["老李"]),
    (_sh(2026, 11, 24, 3, 0), {"supervisor"}, []),  # Tuesday 03:00: Monday has no night shift
    (_sh(2026, 11, 26, 9, 30), {"supervisor", "legal"}, ["老李", "赵法"]),
    (_sh(2026, 11, 26, 9, 30), {"agent"}, []),
])
def test_on_duty_follows_the_roster_in_beijing_time(at: dt.datetime, roles: set[str], names: list[str]) -> None:
    assert [m.name for m in alerts.on_duty(_policy(), at.astimezone(UTC), roles)] == names


def test_duty_and_channel_rows_are_validated_and_round_trip_the_workbook(tmp_path: Path) -> None:
    raw = {k: [dict(r) for r in v] for k, v in default_policy().tables.items()}
    raw["duty"] = [{"role": "supervisor", "name": "x", "weekdays": "5-1", "start": "09:00", "end": "08:00"},
                   {"role": "supervisor", "name": "y", "weekdays": "1-5", "start": "25:00", "end": "08:00"}]
    raw["channels"] = [{"name": "kf", "type": "钉钉", "target": "ftp://x", "secret_env": "SEC-RET", "events": "all",
                        "enabled": "是"}]
    with pytest.raises(PolicyInvalid) as e:
        Policy.from_tables(raw)
    text = str(e.value)
    for bit in ("值班表", "5-1", "25:00", "提醒渠道", "ftp://x", "SE***", "'all'"):
        assert bit in text, bit
    assert "SEC-RET" not in text  # not a variable name: probably the secret itself, never quoted (issue 15 §2)
    good = _policy()
    raw = {k: [dict(r) for r in v] for k, v in good.tables.items()}
    raw["channels"] = [{"name": "kf", "type": "dingtalk", "target": "https://oapi.dingtalk.com/robot/send?access_token=t",
                        "secret_env": "REVIEWOPS_DINGTALK_SECRET", "events": "new_case;sla_breach", "enabled": True}]
    good = Policy.from_tables(raw)
    path = export_policy(good, tmp_path / "p.xlsx")
    again = import_policy(path)
    assert again.to_json() == good.to_json()
    assert again.tables["duty"][1]["start"] == "22:00" and again.tables["channels"][0]["type"] == "dingtalk"


def test_a_policy_stored_before_the_alert_tables_still_loads() -> None:
    data = json.loads(default_policy().to_json())
    del data["tables"]["channels"], data["tables"]["duty"]
    p = Policy.from_json(json.dumps(data))
    assert p.tables["channels"] == () and p.tables["duty"] == ()


def test_the_message_is_masked_and_links_the_case(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()], DUTY, settings={"workbench_url": "https://kefu.shop.example/rv"})
    ids = _import_and_triage(store, tmp_path, review_rows(0, 2))
    event_id = _events(store)[0]["id"]
    msg = alerts.message_for(store, event_id, at=_sh(2026, 11, 26, 10, 0))
    assert msg.key == f"new_case:{ids[0]}" and msg.kind == "new_case" and msg.title == "新中差评"
    assert msg.case_url == f"https://kefu.shop.example/rv/voila/render/workbench.ipynb?case={ids[0]}"
    assert PHONE not in msg.excerpt and "138****5678" in msg.excerpt
    assert NICK not in msg.customer and "*" in msg.customer
    assert (msg.platform_zh, msg.shop, msg.category_zh) == ("淘宝", "测试店", "质量")
    with store.read() as conn:
        due = conn.execute(sa.select(cases.c.sla_due_at).where(cases.c.id == ids[0])).scalar_one()
    from zoneinfo import ZoneInfo

    assert msg.due_local == due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert msg.role_zh == "客服主管" and [m.name for m in msg.mentions] == ["老李"]


def test_a_stored_nickname_with_a_star_is_still_masked_in_the_alert(store: Store, tmp_path: Path) -> None:
    """An asterisk does not make a nickname 'already masked' (issue 15 §6): the alert masks it again."""
    from reviewops.core.store import customers, reviews

    policy_with(store, [feishu()], DUTY)
    ids = _import_and_triage(store, tmp_path, review_rows(0, 2))
    with store.write() as conn:
        pk = conn.execute(sa.select(cases.c.review_pk).where(cases.c.id == ids[0])).scalar_one()
        conn.execute(sa.update(reviews).where(reviews.c.id == pk).values(buyer_nick_masked="@SUM(1+1)*cmd"))
        conn.execute(sa.update(customers).values(nick_masked="@SUM(1+1)*cmd"))
    msg = alerts.message_for(store, _events(store)[0]["id"], at=_sh(2026, 11, 26, 10, 0))
    assert "SUM" not in msg.customer and "cmd" not in msg.customer and "*" in msg.customer


# -------------------------------------------------------------------------------------------- SLA
def test_sla_warnings_and_breach_are_alerted_once_each(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu("kf"), feishu("new_only", events="new_case")], DUTY)
    ids = _import_and_triage(store, tmp_path, review_rows(0, 2))
    (case_id,) = ids
    with store.read() as conn:
        c = conn.execute(sa.select(cases.c.sla_started_at, cases.c.sla_due_at).where(cases.c.id == case_id)).one()
    start, due = c.sla_started_at, c.sla_due_at
    at_60 = start + (due - start) * 0.6
    assert [e["kind"] for e in _events(store)] == ["new_case"]
    first = alerts.raise_sla_alerts(store, now=at_60)
    assert len(first) == 1 and alerts.raise_sla_alerts(store, now=at_60) == []
    after = alerts.raise_sla_alerts(store, now=due + dt.timedelta(minutes=1))
    kinds = [e["kind"] for e in _events(store)]
    assert kinds == ["new_case", "warn_50", "warn_80", "breach"] and len(after) == 2
    assert alerts.raise_sla_alerts(store, now=due + dt.timedelta(hours=1)) == []
    # SLA alerts go to the channel that takes them, not to the new-case-only one
    per_event = {}
    for d in _deliveries(store):
        per_event.setdefault(d["event_id"], set()).add(d["channel"])
    events = {e["id"]: e["kind"] for e in _events(store)}
    assert all(per_event[i] == ({"kf", "new_only"} if k == "new_case" else {"kf"}) for i, k in events.items())
    breach = next(e for e in _events(store) if e["kind"] == "breach")
    msg = alerts.message_for(store, breach["id"], at=_sh(2026, 11, 26, 10, 0))
    with store.read() as conn:
        role = conn.execute(sa.select(sla_notices.c.role).where(sla_notices.c.kind == "breach")).scalar_one()
    assert role == "admin" and msg.role_zh == "店长" and msg.title == "超时升级"


def test_notices_recorded_by_the_daily_sweep_are_alerted_too(store: Store, tmp_path: Path) -> None:
    from reviewops.handling.sweep import sla_sweep

    policy_with(store, [feishu()])
    (case_id,) = _import_and_triage(store, tmp_path, review_rows(0, 2))
    with store.read() as conn:
        due = conn.execute(sa.select(cases.c.sla_due_at).where(cases.c.id == case_id)).scalar_one()
    sla_sweep(store, now=due + dt.timedelta(minutes=5))  # the playbook recorded them
    new = alerts.raise_sla_alerts(store, now=due + dt.timedelta(minutes=6))
    assert sorted(e["kind"] for e in _events(store) if e["id"] in new) == ["breach", "warn_50", "warn_80"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["raise", "dispatch_ok", "dispatch_fail", "resend"]), min_size=1, max_size=12))
def test_property_each_alert_is_delivered_at_most_once_per_channel(tmp_path_factory: pytest.TempPathFactory,
                                                                   steps: list[str]) -> None:
    """Whatever order raising, failing and re-sending happen in, a channel never gets one key twice and a
    delivered alert is never pending again."""
    tmp = tmp_path_factory.mktemp("p")
    with Store.open(f"sqlite:///{tmp / 'a.db'}") as store:
        policy_with(store, [feishu()], settings={"alert_max_attempts": "2", "alert_retry_seconds": "1"})
        rec = Recorder()
        n = 0
        far = dt.datetime.now(UTC) + dt.timedelta(days=1)  # every backoff has passed
        for step in steps:
            if step == "raise":
                _import_and_triage(store, tmp, review_rows(n, 2), name=f"r{n}.csv")
                n += 2
            elif step == "dispatch_ok":
                alerts.dispatch(store, channels={"kf": rec}, now=far)
            elif step == "dispatch_fail":
                rec.fail.extend(ChannelError("x", channel="kf", retryable=True) for _ in range(50))
                alerts.dispatch(store, channels={"kf": rec}, now=far)
                rec.fail.clear()
            else:
                alerts.resend(store, actor="t")
        alerts.resend(store, actor="t")
        alerts.dispatch(store, channels={"kf": rec}, now=far)
        assert len(rec.keys) == len(set(rec.keys)) == n // 2
        assert all(d["state"] == "delivered" for d in _deliveries(store))


def test_a_deadline_counted_without_holiday_data_says_so_in_the_alert_and_the_status(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-11: with the business clock and Chinese holidays on, a year the calendar does not know is counted
    Monday–Friday — visibly, in the alert's deadline and in ``reviewops watch --status``."""
    from reviewops.core import sla
    from reviewops.alerting.watch import watch_status

    policy_with(store, [feishu()], settings={"sla_clock": "business", "use_cn_holidays": "是"})
    (_case_id,) = _import_and_triage(store, tmp_path, review_rows(0, 2))
    msg = alerts.message_for(store, _events(store)[0]["id"])
    assert "节假日" not in msg.due_local  # 2026 is in the calendar
    real = sla._cn_working_days
    monkeypatch.setattr(sla, "_cn_working_days", lambda year: None if year == 2026 else real(year))
    _import_and_triage(store, tmp_path, review_rows(10, 2), name="r2.csv")
    msg = alerts.message_for(store, _events(store)[1]["id"])
    assert msg.due_local.endswith("（缺少节假日数据，按周一至周五计）")
    problems = " ".join(watch_status(store, now=dt.datetime(2026, 6, 1, tzinfo=UTC))["problems"])
    assert "缺少 2026 年节假日数据" in problems and "chinese_calendar" in problems
    policy_with(store, [feishu()], settings={"sla_clock": "always"})
    problems = " ".join(watch_status(store, now=dt.datetime(2026, 6, 1, tzinfo=UTC))["problems"])
    assert "节假日" not in problems  # the 24×7 clock needs no calendar


def test_only_a_supervisor_or_admin_resends_and_only_their_shops(store: Store, tmp_path: Path) -> None:
    from reviewops.core.errors import AccessDenied
    from reviewops.core.users import add_user, get_actor

    policy_with(store, [feishu()])
    _import_and_triage(store, tmp_path, review_rows(0, 2, shop="甲店"), name="a.csv")
    _import_and_triage(store, tmp_path, review_rows(10, 2, shop="乙店"), name="b.csv")
    rec = Recorder()
    rec.fail = [ChannelError("bad key", channel="kf", retryable=False) for _ in range(2)]
    alerts.dispatch(store, channels={"kf": rec})
    dead = alerts.dead_letters(store)
    assert len(dead) == 2
    shop_a = int(dead[dead["key"] == _events(store)[0]["key"]]["shop_id"].iloc[0])
    add_user(store, "laoli", role="supervisor", shops=[shop_a], actor="t")
    add_user(store, "xiaowang", role="agent", actor="t")
    agent = get_actor(store, "xiaowang")
    with pytest.raises(AccessDenied, match="客服主管或店长"):
        alerts.resend(store, actor=agent)
    with store.read() as conn:
        denied = conn.execute(sa.select(access_log).where(access_log.c.action == "alert_resend")
                              .where(access_log.c.outcome == "denied")).mappings().all()
    assert [r["actor"] for r in denied] == ["xiaowang"]
    sup = get_actor(store, "laoli")
    mine = alerts.dead_letters(store, shop_ids=sup.shops)
    assert len(mine) == 1 and set(mine["shop_id"]) == {shop_a}
    assert alerts.resend(store, actor=sup) == 1  # only the dead letter of 甲店
    left = alerts.dead_letters(store)
    assert len(left) == 1 and int(left["shop_id"].iloc[0]) != shop_a


def test_a_backlog_overdue_for_days_is_escalated_but_not_posted(store: Store, tmp_path: Path) -> None:
    """A watcher started on a store whose cases have been overdue for days records the escalations but
    does not flood the group with one message per old case."""
    policy_with(store, [feishu()])
    (case_id,) = _import_and_triage(store, tmp_path, review_rows(0, 2))
    with store.read() as conn:
        due = conn.execute(sa.select(cases.c.sla_due_at).where(cases.c.id == case_id)).scalar_one()
    assert alerts.raise_sla_alerts(store, now=due + dt.timedelta(days=3)) == []
    with store.read() as conn:
        kinds = sorted(conn.execute(sa.select(sla_notices.c.kind).where(sla_notices.c.case_id == case_id)).scalars())
        owner = conn.execute(sa.select(cases.c.owner_role).where(cases.c.id == case_id)).scalar_one()
    assert kinds == ["breach", "warn_50", "warn_80"] and owner == "admin"  # recorded and escalated all the same


def test_history_gets_cases_but_no_alerts(store: Store, tmp_path: Path) -> None:
    """A first import of months of reviews opens their cases without paging anyone; a review posted within
    alert_max_review_age_hours is alerted."""
    from alert_fixtures import recent

    policy_with(store, [feishu()], settings={"alert_max_review_age_hours": "72"})
    old = review_rows(0, 4, posted=recent(seconds_ago=80 * 3600))
    fresh = review_rows(10, 2, posted=recent(seconds_ago=70 * 3600))
    ids = _import_and_triage(store, tmp_path, old + fresh)
    assert len(ids) == 3
    assert [e["key"] for e in _events(store)] == [f"new_case:{ids[-1]}"]
    assert alerts.raise_case_alerts(store, ids, source="import") == []  # the orphan check skips history too
    assert len(alerts.raise_case_alerts(store, ids, source="import", include_history=True)) == 2


# ----------------------------------------------------------------------------- rate limits, digests
def test_a_burst_goes_out_as_one_combined_message(store: Store, tmp_path: Path) -> None:
    from reviewops.alerting.channels import render

    policy_with(store, [feishu()], DUTY, settings={"alert_digest_over": "3",
                                                   "workbench_url": "https://kefu.shop.example/"})
    from reviewops.core.store import clock

    at = _sh(2026, 11, 26, 10, 0)  # a Thursday morning, 老李 on duty (a past time the clock can replay)
    with clock(at):
        ids = _import_and_triage(store, tmp_path, review_rows(0, 16, posted="2026-11-26 09:00:00"))  # 8 negative
        rec = Recorder()
        res = alerts.dispatch(store, channels={"kf": rec}, now=at)
    assert (res.delivered, res.digests, len(rec.messages)) == (8, 1, 1)
    (msg,) = rec.messages
    assert msg.kind == "digest" and msg.title == "中差评提醒 8 条（合并发送）"
    assert msg.case_url == "https://kefu.shop.example/voila/render/workbench.ipynb"
    assert all(f"#{c}" in msg.excerpt for c in ids) and PHONE not in msg.excerpt
    assert msg.category_zh == "质量 8" and [m.name for m in msg.mentions] == ["老李"]
    times = {d["delivered_at"] for d in _deliveries(store)}
    assert len(times) == 1 and all(d["state"] == "delivered" for d in _deliveries(store))
    text = json.dumps(render("feishu", msg), ensure_ascii=False)
    assert "合并发送" in text and "workbench.ipynb" in text
    # three or fewer go one by one
    _import_and_triage(store, tmp_path, review_rows(100, 6), name="b.csv")
    res = alerts.dispatch(store, channels={"kf": rec})
    assert (res.delivered, res.digests, len(rec.messages)) == (3, 0, 4)


def test_a_channel_that_used_its_minute_waits_then_combines(store: Store, tmp_path: Path) -> None:
    """DingTalk takes 20 messages a minute per robot (and blocks it for 10 minutes beyond): the sender
    never goes over, leaves the rest queued, and combines what the remaining budget cannot carry."""
    policy_with(store, [{"name": "dd", "type": "dingtalk",
                         "target": "https://oapi.dingtalk.com/robot/send?access_token=t"}])
    ids = _import_and_triage(store, tmp_path, review_rows(0, 10))
    rec = Recorder("dd", "dingtalk")
    now = dt.datetime.now(UTC)
    with store.write() as conn:  # 20 messages went out in the last 50 s (earlier SLA alerts of one case)
        case = conn.execute(sa.select(cases.c.id, cases.c.shop_id).limit(1)).one()
        for i in range(20):
            eid = conn.execute(alert_events.insert().values(
                key=f"warn_{i}:{case.id}", kind=f"warn_{i}", case_id=case.id, shop_id=case.shop_id, source="sweep",
                arrived_at=now, detected_at=now, created_at=now).returning(alert_events.c.id)).scalar_one()
            conn.execute(alert_deliveries.insert().values(
                event_id=eid, channel="dd", channel_type="dingtalk", state="delivered", attempts=1, next_attempt_at=now,
                delivered_at=now - dt.timedelta(seconds=50 - i), created_at=now, updated_at=now))
    res = alerts.dispatch(store, channels={"dd": rec}, now=now)
    assert (res.delivered, res.throttled, len(rec.messages)) == (0, len(ids), 0)
    assert all(d["state"] == "pending" for d in _deliveries(store) if d["state"] != "delivered")
    # 13 s later the oldest 4 have left the window: a budget of 4 for 5 due alerts → one combined message
    res = alerts.dispatch(store, channels={"dd": rec}, now=now + dt.timedelta(seconds=13.5))
    assert (res.delivered, res.digests, len(rec.messages)) == (len(ids), 1, 1)
    assert rec.messages[0].kind == "digest"


def test_a_failed_combined_message_retries_every_alert_in_it(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()], settings={"alert_digest_over": "2"})
    _import_and_triage(store, tmp_path, review_rows(0, 8))
    rec = Recorder()
    rec.fail.append(ChannelError("HTTP 503", channel="kf", retryable=True))
    res = alerts.dispatch(store, channels={"kf": rec})
    assert (res.retried, res.digests) == (4, 0)
    assert all(d["state"] == "pending" and d["attempts"] == 1 for d in _deliveries(store))
    res = alerts.dispatch(store, channels={"kf": rec}, now=dt.datetime.now(UTC) + dt.timedelta(minutes=1))
    assert (res.delivered, res.digests, len(rec.messages)) == (4, 1, 1)


def test_the_shops_own_per_minute_cap_replaces_the_services(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu(per_minute=2)])
    _import_and_triage(store, tmp_path, review_rows(0, 10))  # 5 due at once, combining otherwise off
    rec = Recorder(type="feishu")
    res = alerts.dispatch(store, channels={"kf": rec}, pace=False)
    assert (res.delivered, res.digests, len(rec.messages)) == (5, 1, 1)  # 2 a minute cannot carry 5 singly
    _import_and_triage(store, tmp_path, review_rows(100, 2), name="b.csv")
    assert alerts.dispatch(store, channels={"kf": rec}, pace=False).delivered == 1  # the second of the minute
    _import_and_triage(store, tmp_path, review_rows(200, 2), name="c.csv")
    res = alerts.dispatch(store, channels={"kf": rec}, pace=False)
    assert (res.delivered, res.throttled) == (0, 1)  # the minute is used up: it waits
