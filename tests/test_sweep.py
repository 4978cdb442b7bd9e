"""The daily sweep (reviewops.handling.sweep): SLA warnings and escalation (E2), follow-ups due today, the P4 delay coupon.

Every case, order and shipment is built inline; expected values are written out by hand from that data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reviewops.core import store as stmod
from reviewops.core.errors import ConfigError
from reviewops.core.policy import TABLES, Policy, _json_to_cell, current_policy, default_policy, save_policy
from reviewops.core.sla import SlaEvent, replay, state_to_json
from reviewops.handling.sweep import (
    DELAY_COLUMNS,
    FOLLOWUP_COLUMNS,
    SLA_COLUMNS,
    TODO_COLUMNS,
    daily_sweep,
    delay_sweep,
    followups_due_today,
    parse_now,
    sla_sweep,
)
from reviewops.core.clock import calendar_of

UTC = dt.UTC
SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Beijing
_shop_seq = itertools.count(1)


# ------------------------------------------------------------------ builders
def _policy_with(settings_: dict[str, str] | None = None, delay_text: str | None = None) -> Policy:
    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
           for k, rows in default_policy().tables.items()}
    for r in raw["settings"]:
        if settings_ and r["key"] in settings_:
            r["value"] = settings_[r["key"]]
    if delay_text is not None:
        for r in raw["templates"]:
            if r["kind"] == "delay_notice":
                r["text"] = delay_text
    return Policy.from_tables(raw, source="test")


def _shop(store, name: str | None = None) -> int:
    with store.write() as conn:
        return store.shop_id(conn, "taobao", name or f"店{next(_shop_seq)}")


def _case(store, shop_id: int, *, start: dt.datetime = T0, hours: float = 2.0, role: str = "agent",
          category: str = "logistics", contacted: bool = False) -> int:
    policy = current_policy(store)
    cal = calendar_of(policy)
    clock = replay([SlaEvent("start", start, hours * 60.0)], cal)
    with store.write() as conn:
        return stmod.create_case(
            conn, shop_id=shop_id, review_pk=None, state="contacted" if contacted else "new", actor="test", via="cli",
            at=start, primary_category=category, owner_role=role, severity="medium", sla_started_at=start,
            sla_hours=hours, sla_due_at=clock.due_at(cal), sla_state_json=state_to_json(clock),
            policy_version=policy.version, first_contact_at=start if contacted else None)


def _rows(store, table: sa.Table, *where) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).where(*where).order_by(table.c.id)).mappings()]


def _count(store, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _owner(store, case_id: int) -> tuple[str, int]:
    with store.read() as conn:
        r = conn.execute(sa.select(stmod.cases.c.owner_role, stmod.cases.c.version)
                         .where(stmod.cases.c.id == case_id)).one()
    return r.owner_role, r.version


def _row(df, case_id: int) -> dict:
    hit = df[df["case_id"] == case_id]
    assert len(hit) == 1, df
    return hit.iloc[0].to_dict()


# ------------------------------------------------------------------ parse_now
def test_parse_now_reads_iso_times_and_names_bad_values() -> None:
    assert parse_now("2026-11-25T09:00:00+08:00") == dt.datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert parse_now("2026-11-25 09:00") == dt.datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # naive = Beijing
    before = dt.datetime.now(UTC)
    assert before <= parse_now("") <= dt.datetime.now(UTC)
    with pytest.raises(ConfigError) as e:
        parse_now("yesterday-ish")
    assert "yesterday-ish" in str(e.value) and "now" in str(e.value) and "ISO" in str(e.value)


# ------------------------------------------------------------------ SLA
@pytest.mark.parametrize(("minutes", "status", "kinds"), [
    (59.99, "running", ""),
    (60, "running", "warn_50"),  # exactly 50 % of 2 h: a reminder; the status warns at the largest fraction
    (95.99, "running", "warn_50"),
    (96, "warning", "warn_50;warn_80"),  # exactly 80 %
    (119.99, "warning", "warn_50;warn_80"),
    (120, "breached", "warn_50;warn_80;breach"),  # at the deadline
])
def test_warning_thresholds_at_the_exact_fractions(store, minutes, status, kinds) -> None:
    shop = _shop(store)
    cid = _case(store, shop)
    df = sla_sweep(store, now=T0 + dt.timedelta(minutes=minutes), apply=False)
    assert list(df.columns) == SLA_COLUMNS
    r = _row(df, cid)
    assert r["sla_status"] == status
    assert r["new_notices"] == kinds
    assert r["fraction_used"] == pytest.approx(minutes / 120, abs=1e-4)
    assert r["minutes_left"] == round(120 - minutes)
    assert r["due_at"] == T0 + dt.timedelta(hours=2)


def test_business_hours_clock_counts_only_working_time(sqlite_store) -> None:
    save_policy(sqlite_store, _policy_with({"sla_clock": "business"}), actor="test")
    shop = _shop(sqlite_store)
    start = dt.datetime(2026, 11, 24, 21, 0, tzinfo=SH)  # Tuesday 21:00; the working day ends at 22:00
    cid = _case(sqlite_store, shop, start=start)
    # next morning 08:00: one working hour used (21–22), so 50 %, not breached (wall clock: 11 h)
    r = _row(sla_sweep(sqlite_store, now=dt.datetime(2026, 11, 25, 8, 0, tzinfo=SH), apply=False), cid)
    assert (r["sla_status"], r["fraction_used"], r["minutes_left"]) == ("running", 0.5, 60)
    assert r["due_at"] == dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)
    r = _row(sla_sweep(sqlite_store, now=dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH), apply=False), cid)
    assert r["sla_status"] == "breached"


def test_a_paused_clock_is_not_breached_by_its_old_deadline(sqlite_store) -> None:
    shop = _shop(sqlite_store)
    cid = _case(sqlite_store, shop)
    cal = calendar_of(current_policy(sqlite_store))
    paused = replay([SlaEvent("start", T0, 120.0), SlaEvent("pause", T0 + dt.timedelta(minutes=60))], cal)
    with sqlite_store.write() as conn:  # waiting for the buyer since half the budget was used
        conn.execute(stmod.cases.update().where(stmod.cases.c.id == cid).values(sla_state_json=state_to_json(paused)))
    r = _row(sla_sweep(sqlite_store, now=T0 + dt.timedelta(hours=5)), cid)
    assert (r["sla_status"], r["fraction_used"], r["minutes_left"], r["new_notices"]) == ("running", 0.5, 60, "warn_50")
    assert _owner(sqlite_store, cid) == ("agent", 1)


def test_breach_escalates_once_to_the_policy_next_role(store) -> None:
    shop = _shop(store)
    agent = _case(store, shop, role="agent")
    legal = _case(store, shop, role="legal", category="malicious", hours=1.0)
    admin = _case(store, shop, role="admin")
    fresh = _case(store, shop, start=T0 + dt.timedelta(minutes=150))  # 30 min of 2 h used: nothing yet
    done = _case(store, shop, contacted=True)  # first contact made: not swept
    now = T0 + dt.timedelta(hours=3)
    events_before = _count(store, stmod.case_events)

    df = sla_sweep(store, now=now)
    assert set(df["case_id"]) == {agent, legal, admin, fresh}
    assert done not in set(df["case_id"])
    assert _owner(store, agent) == ("supervisor", 2)
    assert _owner(store, legal) == ("admin", 2)
    assert _owner(store, admin) == ("admin", 1)  # top of the chain: notified, not moved
    assert _owner(store, fresh) == ("agent", 1)
    r = _row(df, agent)
    assert (r["escalated_to"], r["escalated_to_zh"], r["todo_role"]) == ("supervisor", "客服主管", "supervisor")
    assert _row(df, admin)["escalated_to"] == ""

    ev = _rows(store, stmod.case_events, stmod.case_events.c.case_id == agent,
               stmod.case_events.c.action == "sla_escalation")
    assert len(ev) == 1
    assert ev[0]["version_from"] == 1 and ev[0]["version_to"] == 2 and ev[0]["via"] == "playbook"
    assert '"owner_role": "agent"' in ev[0]["before_json"] and '"owner_role": "supervisor"' in ev[0]["after_json"]
    assert "超时自动升级" in ev[0]["after_json"]
    assert _count(store, stmod.case_events) == events_before + 2  # agent and legal

    notices = {(n["case_id"], n["kind"]): n for n in _rows(store, stmod.sla_notices)}
    assert set(notices) == {(c, k) for c in (agent, legal, admin) for k in ("warn_50", "warn_80", "breach")}
    assert notices[(agent, "breach")]["role"] == "supervisor"
    assert notices[(agent, "warn_50")]["role"] == "agent"
    assert notices[(admin, "breach")]["role"] == "admin"
    assert notices[(agent, "breach")]["sent_at"] == now
    assert notices[(agent, "breach")]["sent_by"] == "playbook:daily_sweep"

    # the next day: nothing new, no second escalation (supervisor → admin would be a cascade)
    later = sla_sweep(store, now=now + dt.timedelta(days=1))
    old = later[later["case_id"] != fresh]
    assert (old["new_notices"] == "").all() and (old["escalated_to"] == "").all()
    r = _row(later, agent)  # still on the supervisor's list, not passed on to the admin
    assert (r["owner_role"], r["todo_role"], r["sla_status"]) == ("supervisor", "supervisor", "breached")
    assert _owner(store, agent) == ("supervisor", 2)
    # the fresh case reaches its own notices later, once each, and is escalated once
    r = _row(later, fresh)
    assert (r["sla_status"], r["new_notices"], r["escalated_to"]) == ("breached", "warn_50;warn_80;breach", "supervisor")
    assert len(_rows(store, stmod.sla_notices)) == 12
    assert _count(store, stmod.case_events) == events_before + 3
    final = sla_sweep(store, now=now + dt.timedelta(days=2))
    assert (final["new_notices"] == "").all() and (final["escalated_to"] == "").all()
    assert len(_rows(store, stmod.sla_notices)) == 12 and _count(store, stmod.case_events) == events_before + 3


def test_dry_run_computes_the_same_list_and_writes_nothing(store) -> None:
    shop = _shop(store)
    ids = [_case(store, shop, start=T0 + dt.timedelta(minutes=m)) for m in (0, 40, 70, 200)]
    now = T0 + dt.timedelta(hours=3)
    _orders(store, shop, now=now)
    tables = (stmod.sla_notices, stmod.delay_remedies, stmod.case_events, stmod.cases)
    before = {t.name: _rows(store, t) for t in tables}
    dry = daily_sweep(store, now=now, apply=False)
    assert {t.name: _rows(store, t) for t in tables} == before
    assert dry.counts["delay_issued"] == 0 and not dry.delays["issued"].any()
    wet = daily_sweep(store, now=now, apply=True)
    keep = ["case_id", "sla_status", "new_notices", "escalated_to", "todo_role", "fraction_used"]
    assert dry.sla[keep].to_dict("records") == wet.sla[keep].to_dict("records")
    assert list(dry.delays["order_id"]) == list(wet.delays["order_id"]) == ["A", "B", "C", "D"]
    assert wet.delays["issued"].all()
    assert dry.todo[["role", "kind", "ref"]].to_dict("records") == wet.todo[["role", "kind", "ref"]].to_dict("records")
    assert {r["case_id"] for r in _rows(store, stmod.sla_notices)} == set(ids[:3])


# ------------------------------------------------------------------ delay remedy (P4)
NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _orders(store, shop: int, now: dt.datetime = NOW, nick: str = "张*") -> None:
    """A–D qualify; E–K do not (see the comments)."""
    h = lambda n: now - dt.timedelta(hours=n)
    orders = [
        # id, promised ship, shipped, status, paid, refund
        ("A", h(10), None, "买家已付款，等待卖家发货", 5000, 0),  # unshipped, 10 h past the promise
        ("B", h(30), h(20), "卖家已发货，等待买家确认", 5000, 0),  # shipped 10 h late
        ("C", h(60), h(70), "卖家已发货，等待买家确认", 5000, 0),  # on time; parcel past its promised arrival
        ("D", h(80), h(90), "卖家已发货，等待买家确认", 5000, 0),  # on time; no tracking event for 50 h
        ("E", h(80), h(90), "卖家已发货，等待买家确认", 5000, 0),  # last event 47 h ago: not yet stalled
        ("F", h(10), None, "交易关闭", 5000, 0),  # closed
        ("G", h(10), None, "待发货", 5000, 5000),  # refunded in full
        ("H", h(10), None, "待发货", 5000, 0),  # already has a delay remedy
        ("I", h(80), h(90), "交易成功", 5000, 0),  # signed
        ("J", now - dt.timedelta(days=40), None, "待发货", 5000, 0),  # promise older than the look-back
        ("K", h(10), None, "待发货", 5000, None),  # refunded in full per the refunds table (3000 + 2000)
    ]
    with store.write() as conn:
        cust = conn.execute(stmod.customers.insert().values(
            shop_id=shop, customer_key=f"c{shop}", nick_masked=nick, nick_is_masked=True, created_at=now)
            .returning(stmod.customers.c.id)).scalar_one()
        for oid, promised, shipped, status, paid, refund in orders:
            conn.execute(stmod.orders.insert().values(
                shop_id=shop, order_id=oid, customer_id=cust, status_raw=status, created_at=h(100),
                promised_ship_at=promised, shipped_at=shipped, paid_fen=paid, refund_fen=refund,
                buyer_nick_masked=nick, carrier="中通快递", tracking_no=f"T{shop}{oid}"))
        ships = [
            # order, promised arrival, status, signed, last event
            ("C", h(5), "in_transit", None, h(2)),
            ("D", h(-24), "in_transit", None, h(50)),
            ("E", h(-24), "in_transit", None, h(47)),
            ("I", h(5), "signed", h(6), h(6)),
        ]
        for oid, promised, status, signed, last in ships:
            pk = conn.execute(stmod.shipments.insert().values(
                shop_id=shop, tracking_no=f"T{shop}{oid}", carrier="中通快递", order_id=oid, direction="outbound",
                shipped_at=h(70), promised_at=promised, status=status, signed_at=signed, last_event_at=last)
                .returning(stmod.shipments.c.id)).scalar_one()
            conn.execute(stmod.shipment_events.insert().values(shipment_pk=pk, event_key="e1", event_at=last,
                                                               description="运输中"))
        for rid, fen in (("r1", 3000), ("r2", 2000)):
            conn.execute(stmod.refunds.insert().values(shop_id=shop, refund_id=f"{rid}{shop}", order_id="K",
                                                       refund_fen=fen, refunded_at=h(2), status_raw="退款成功"))
        conn.execute(stmod.delay_remedies.insert().values(
            shop_id=shop, order_id="H", reason="late_dispatch", amount_fen=500, issued_by="earlier", issued_at=h(1)))


def test_delay_detection_exclusions_and_issue_once(store) -> None:
    shop = _shop(store)
    _orders(store, shop)
    df = delay_sweep(store, now=NOW)
    assert list(df.columns) == DELAY_COLUMNS
    got = {r["order_id"]: (r["reason"], r["hours_late"]) for r in df.to_dict("records")}
    assert got == {"A": ("late_dispatch", 10.0), "B": ("late_dispatch", 10.0), "C": ("stalled_delivery", 5.0),
                   "D": ("stalled_delivery", 50.0)}
    assert df["issued"].all() and (df["amount_fen"] == 500).all() and (df["amount_yuan"] == "5").all()
    assert (df["role"] == "agent").all()  # owner of the logistics category
    stored = {r["order_id"]: r for r in _rows(store, stmod.delay_remedies, stmod.delay_remedies.c.shop_id == shop)}
    assert set(stored) == {"A", "B", "C", "D", "H"}
    assert stored["A"]["amount_fen"] == 500 and stored["A"]["reason"] == "late_dispatch"
    assert stored["A"]["hours_late"] == 10.0 and stored["A"]["issued_at"] == NOW
    assert stored["C"]["promised_at"] == NOW - dt.timedelta(hours=5)
    assert "5元优惠券" in stored["A"]["message"]
    # a second sweep issues nothing more; a day later only E, stalled by then (71 h without an event), is new
    assert delay_sweep(store, now=NOW).empty
    again = delay_sweep(store, now=NOW + dt.timedelta(days=1))
    assert list(again["order_id"]) == ["E"] and list(again["hours_late"]) == [71.0]
    assert len(_rows(store, stmod.delay_remedies, stmod.delay_remedies.c.shop_id == shop)) == 6


def test_delay_coupon_amount_follows_the_policy_and_zero_issues_nothing(sqlite_store) -> None:
    shop = _shop(sqlite_store)
    _orders(sqlite_store, shop)
    save_policy(sqlite_store, _policy_with({"delay_coupon_fen": "0"}), actor="test")
    df = delay_sweep(sqlite_store, now=NOW)
    assert list(df["order_id"]) == ["A", "B", "C", "D"] and not df["issued"].any()
    assert _count(sqlite_store, stmod.delay_remedies) == 1  # only H's earlier one
    save_policy(sqlite_store, _policy_with({"delay_coupon_fen": "8.5", "stall_hours": "46"}), actor="test")
    df = delay_sweep(sqlite_store, now=NOW)
    assert list(df["order_id"]) == ["A", "B", "C", "D", "E"]  # E stalled after 46 h
    assert set(df["amount_fen"]) == {850}
    assert {r["amount_fen"] for r in _rows(sqlite_store, stmod.delay_remedies) if r["order_id"] != "H"} == {850}


def test_delay_look_back_follows_the_policy(sqlite_store) -> None:
    shop = _shop(sqlite_store)
    _orders(sqlite_store, shop)
    assert "J" not in set(delay_sweep(sqlite_store, now=NOW, apply=False)["order_id"])  # 40 days > 30 (default)
    save_policy(sqlite_store, _policy_with({"delay_lookback_days": "45"}), actor="test")
    assert "J" in set(delay_sweep(sqlite_store, now=NOW, apply=False)["order_id"])


def test_delay_messages_are_masked(sqlite_store) -> None:
    save_policy(sqlite_store, _policy_with(delay_text="{customer}您好，包裹慢了，已为您发放{coupon}优惠券。"),
                actor="test")
    shop = _shop(sqlite_store)
    _orders(sqlite_store, shop, nick="13812345678")
    df = delay_sweep(sqlite_store, now=NOW)
    assert len(df) == 4
    for text in list(df["message"]) + [r["message"] for r in _rows(sqlite_store, stmod.delay_remedies)
                                       if r["order_id"] != "H"]:
        assert "13812345678" not in text
        assert text.startswith("138****5678您好") and "5元优惠券" in text


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_sweeps_issue_each_coupon_and_notice_once(store, threads) -> None:
    shop = _shop(store)
    _orders(store, shop)
    cases = [_case(store, shop, start=NOW - dt.timedelta(minutes=m)) for m in (30, 70, 100, 200, 300)]
    barrier = threading.Barrier(threads)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(daily_sweep(store, now=NOW, shop_ids=[shop]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    assert sum(int(r.delays["issued"].sum()) for r in results) == 4
    issued = [r["order_id"] for r in _rows(store, stmod.delay_remedies, stmod.delay_remedies.c.shop_id == shop)]
    assert sorted(issued) == ["A", "B", "C", "D", "H"]
    notices = [(n["case_id"], n["kind"]) for n in _rows(store, stmod.sla_notices)]
    assert len(notices) == len(set(notices))
    # 30 min: none; 70: warn_50; 100: warn_50+warn_80; 200 and 300: all three
    assert len(notices) == 0 + 1 + 2 + 3 + 3
    assert sum(r.counts["notices_new"] for r in results) == 9
    assert sum(r.counts["escalated"] for r in results) == 2
    for cid in cases[3:]:
        assert _owner(store, cid) == ("supervisor", 2)
        assert len(_rows(store, stmod.case_events, stmod.case_events.c.case_id == cid,
                         stmod.case_events.c.action == "sla_escalation")) == 1


# ------------------------------------------------------------------ follow-ups
def test_followups_due_today_in_beijing_time_with_overdue_ones(store) -> None:
    shop = _shop(store)
    cid = _case(store, shop, contacted=True, role="supervisor")
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)
    due = {
        "care_day3": dt.datetime(2026, 11, 24, 9, 0, tzinfo=SH),  # overdue since yesterday
        "repurchase_coupon": dt.datetime(2026, 11, 25, 23, 30, tzinfo=SH),  # later today (Beijing)
        "silver_day30": dt.datetime(2026, 11, 26, 0, 30, tzinfo=SH),  # tomorrow
    }
    with store.write() as conn:
        for step, at in due.items():
            kind = {"care_day3": "care", "repurchase_coupon": "repurchase_coupon", "silver_day30": "silver_member"}[step]
            conn.execute(stmod.followups.insert().values(case_id=cid, shop_id=shop, step=step, template_kind=kind,
                                                         due_at=at, state="open", created_at=now))
    df = followups_due_today(store, now=now)
    assert list(df.columns) == FOLLOWUP_COLUMNS
    assert list(df["step"]) == ["care_day3", "repurchase_coupon"]
    assert list(df["overdue"]) == [True, False]
    assert list(df["minutes_left"]) == [-25 * 60, 13 * 60 + 30]
    assert set(df["role"]) == {"supervisor"} and set(df["role_zh"]) == {"客服主管"}
    assert all(df["message"].str.len() > 0)
    other = _shop(store)
    assert followups_due_today(store, now=now, shop_ids=[other]).empty
    s = daily_sweep(store, now=now, shop_ids=[shop])
    fu = s.todo[s.todo["kind"] == "followup"]
    assert list(fu["ref"]) == [str(cid), str(cid)] and set(fu["role_zh"]) == {"客服主管"}


# ------------------------------------------------------------------ the to-do list
def test_todo_list_per_role(sqlite_store) -> None:
    shop = _shop(sqlite_store)
    warn = _case(sqlite_store, shop, start=NOW - dt.timedelta(minutes=100))  # 83 %: agent warning
    late = _case(sqlite_store, shop, start=NOW - dt.timedelta(hours=3), role="legal", category="malicious",
                 hours=1.0)
    _orders(sqlite_store, shop)
    s = daily_sweep(sqlite_store, now=NOW)
    assert list(s.todo.columns) == TODO_COLUMNS
    assert [c for c, _ in s.roles] == ["agent", "supervisor", "legal", "admin"]
    rows = s.todo[["role", "role_zh", "kind", "ref"]].to_dict("records")
    assert rows == [
        {"role": "agent", "role_zh": "普通客服", "kind": "sla_warning", "ref": str(warn)},
        *({"role": "agent", "role_zh": "普通客服", "kind": "delay_coupon", "ref": o} for o in "BACD"),  # by due time
        {"role": "admin", "role_zh": "店长", "kind": "sla_escalation", "ref": str(late)},
    ]
    assert s.todo_for("legal").empty and len(s.todo_for("agent")) == 5
    assert "已自动升级给店长" in s.todo_for("admin").iloc[0]["what_zh"]
    assert s.counts == {"sla_open": 2, "sla_warning": 1, "sla_breached": 1, "notices_new": 5, "escalated": 1,
                        "followups_due": 0, "followups_overdue": 0, "delay_orders": 4, "delay_issued": 4, "todo": 6}
    assert list(s.summary["数值"]) == list(s.counts.values())
    with pytest.raises(ConfigError, match="soon"):
        daily_sweep(sqlite_store, now="soon")


# ------------------------------------------------------------------ property
_case_spec = st.tuples(st.integers(min_value=0, max_value=600),  # minutes before the first sweep it started
                       st.sampled_from([1.0, 2.0, 4.0]),
                       st.sampled_from(["agent", "supervisor", "legal", "admin"]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(_case_spec, min_size=1, max_size=6), gap=st.integers(min_value=0, max_value=400))
def test_sweeping_twice_equals_sweeping_once(sqlite_store, specs, gap) -> None:
    """Sweep at t1 then t2 (twice) ≡ one sweep at t2: the same notices (once each) and the same owners."""
    t1 = NOW
    t2 = NOW + dt.timedelta(minutes=gap)
    twice, once = _shop(sqlite_store), _shop(sqlite_store)
    pairs = [(_case(sqlite_store, twice, start=t1 - dt.timedelta(minutes=m), hours=h, role=r),
              _case(sqlite_store, once, start=t1 - dt.timedelta(minutes=m), hours=h, role=r)) for m, h, r in specs]
    sla_sweep(sqlite_store, now=t1, shop_ids=[twice])
    sla_sweep(sqlite_store, now=t2, shop_ids=[twice])
    second = sla_sweep(sqlite_store, now=t2, shop_ids=[twice])
    assert (second["new_notices"] == "").all() and (second["escalated_to"] == "").all()
    sla_sweep(sqlite_store, now=t2, shop_ids=[once])
    notices = _rows(sqlite_store, stmod.sla_notices)
    kinds = {}
    for n in notices:
        kinds.setdefault(n["case_id"], []).append(n["kind"])
    for a, b in pairs:
        assert sorted(kinds.get(a, [])) == sorted(kinds.get(b, []))
        assert len(kinds.get(a, [])) == len(set(kinds.get(a, [])))
        assert _owner(sqlite_store, a) == _owner(sqlite_store, b)


_order_spec = st.tuples(st.integers(min_value=-100, max_value=100),  # promised ship time, hours before now
                        st.one_of(st.none(), st.integers(min_value=-100, max_value=100)),  # shipped, hours before now
                        st.sampled_from(["待发货", "交易关闭", "已取消", "卖家已发货", "TRADE_CLOSED"]),
                        st.booleans())  # refunded in full


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(_order_spec, min_size=1, max_size=8))
def test_delay_coupons_are_issued_once_to_exactly_the_late_open_orders(sqlite_store, specs) -> None:
    shop = _shop(sqlite_store)
    h = lambda n: NOW - dt.timedelta(hours=n)
    with sqlite_store.write() as conn:
        for i, (promised, shipped, status, refunded) in enumerate(specs):
            conn.execute(stmod.orders.insert().values(
                shop_id=shop, order_id=f"P{i}", status_raw=status, promised_ship_at=h(promised),
                shipped_at=None if shipped is None else h(shipped), paid_fen=1000, refund_fen=1000 if refunded else 0))
    expected = set()
    for i, (promised, shipped, status, refunded) in enumerate(specs):
        shipped_by_now = shipped is not None and shipped >= 0
        late = promised > 0 and (not shipped_by_now or shipped < promised)
        if late and status in ("待发货", "卖家已发货") and not refunded:
            expected.add(f"P{i}")
    first = delay_sweep(sqlite_store, now=NOW, shop_ids=[shop])
    second = delay_sweep(sqlite_store, now=NOW, shop_ids=[shop])
    assert set(first["order_id"]) == expected and first["issued"].all()
    assert second.empty
    stored = [r["order_id"] for r in _rows(sqlite_store, stmod.delay_remedies, stmod.delay_remedies.c.shop_id == shop)]
    assert sorted(stored) == sorted(expected)
