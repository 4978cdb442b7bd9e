"""The compensation ledger: limits per role, cumulative and rolling-window limits, bands,
approver ≠ requester, amounts in fen (S-06, S-08)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewops.core.errors import AccessDenied, ComplianceBlocked, ConfigError
from reviewops.handling.ledger import MAX_AMOUNT_FEN, RemedyItem, covers, yuan_to_fen
from reviewops.core.policy import default_policy
from reviewops.handling.workbench import Workbench

from wb_fixtures import access_rows, case_row, ledger_rows, make_case, make_users

AGENT_CASE_LIMIT = 31000
AGENT_WINDOW_LIMIT = 50000


def _contacted(wb: Workbench, case_id: int) -> int:
    return wb.record_contact(case_id, case_row(wb.store, case_id)["version"], channel="chat", note="已联系客户")


# ------------------------------------------------------------------ amounts
@pytest.mark.parametrize("value, fen", [
    ("12.5", 1250), ("¥12.50", 1250), ("12.50元", 1250), (" 1,234.56 ", 123456), (Decimal("0.01"), 1),
    (0.1, 10), (12, 1200), ("RMB 3", 300), ("人民币8.8", 880),
])
def test_yuan_to_fen_is_exact(value, fen):
    assert yuan_to_fen(value) == fen


@pytest.mark.parametrize("value, words", [
    ("", "不是数字"), (None, "请输入"), (True, "请输入"), ("-1", "大于 0"), ("0", "大于 0"), (math.nan, "无效"),
    (math.inf, "无效"), ("1e18", "不是数字"), (1e18, "超过"), ("200000", "超过"), ("12.345", "两位小数"), ("USD 5", "人民币"), ("$5", "人民币"),
    ("5 欧元", "人民币"), ("abc", "不是数字"), (Decimal("NaN"), "无效"),
])
def test_yuan_to_fen_refuses_bad_amounts(value, words):
    with pytest.raises(ConfigError, match=words):
        yuan_to_fen(value)


def test_items_take_integer_fen_only():
    assert RemedyItem("refund", 1).amount_fen == 1
    for bad in (12.5, Decimal("12"), True, "1200", -5, 0, MAX_AMOUNT_FEN + 1):
        with pytest.raises(ConfigError):
            RemedyItem("refund", bad)
    with pytest.raises(ConfigError, match="未知的补偿方式"):
        RemedyItem("cash_back", 100)


def test_role_coverage_follows_the_escalation_chain():
    p = default_policy()
    assert covers(p, "supervisor", "agent") and covers(p, "admin", "agent") and covers(p, "agent", "agent")
    assert not covers(p, "agent", "supervisor") and not covers(p, "legal", "agent")


# ------------------------------------------------------------------ limits
def test_within_the_agents_limit_is_approved_at_once(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path, paid_fen=8900)
    a = Workbench(store, u["a1"])
    v = _contacted(a, cid)
    p = a.propose(cid, v, [{"kind": "refund", "amount_fen": 8900}, {"kind": "coupon", "amount_fen": 500}])
    assert (p.state, p.pending, p.total_fen) == ("remedy_proposed", False, 9400)
    rows = ledger_rows(store, cid)
    assert [(r["kind"], r["amount_fen"], r["state"], r["requested_by"], r["decided_by"]) for r in rows] == [
        ("refund", 8900, "approved", "a1", "a1"), ("coupon", 500, "approved", "a1", "a1")]
    v = a.deliver(cid, p.version)
    assert case_row(store, cid)["state"] == "remedy_delivered"
    assert {r["state"] for r in ledger_rows(store, cid)} == {"delivered"}


@pytest.mark.parametrize("amount, pending", [(AGENT_CASE_LIMIT - 1, False), (AGENT_CASE_LIMIT, False),
                                             (AGENT_CASE_LIMIT + 1, True)])
def test_the_case_limit_boundary(sqlite_store, tmp_path, amount, pending):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=25000)  # 100–300 band: the agent's to decide
    a = Workbench(sqlite_store, u["a1"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "resend", "amount_fen": amount}],
                  note="补发两件并承担运费")  # a resend above the order's 250 yuan needs a reason
    assert p.pending is pending
    assert case_row(sqlite_store, cid)["state"] == ("pending_approval" if pending else "remedy_proposed")


def test_over_limit_waits_for_an_approver_who_is_not_the_requester(store, tmp_path):
    u = make_users(store)
    cid = make_case(store, tmp_path, paid_fen=45000)
    a, s1, a2 = Workbench(store, u["a1"]), Workbench(store, u["s1"]), Workbench(store, u["a2"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "refund", "amount_fen": 40000}])
    assert p.pending and p.needed_role == "supervisor" and "310 元" in p.message
    assert ledger_rows(store, cid)[0]["state"] == "pending"
    for wb in (a, a2):  # neither the requester nor another agent can approve
        with pytest.raises(AccessDenied):
            wb.approve(cid, p.version, "ok")
    inbox = s1.approvals()
    assert [(i["case_id"], i["may_approve"], i["requested_by"]) for i in inbox] == [(cid, True, "a1")]
    v = s1.approve(cid, p.version, "核实属实，同意全额退款")
    row = ledger_rows(store, cid)[0]
    assert (row["state"], row["decided_by"], row["decided_role"]) == ("approved", "s1", "supervisor")
    assert case_row(store, cid)["state"] == "remedy_proposed"
    a.deliver(cid, v)
    denied = access_rows(store, "approve")
    assert {r["actor"] for r in denied} == {"a1", "a2"} and {r["outcome"] for r in denied} == {"denied"}
    assert {r["shop_id"] for r in denied} == {case_row(store, cid)["shop_id"]}  # refusals name the case's shop


def test_a_supervisor_cannot_approve_their_own_request_and_the_next_role_is_named(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=200000)
    s1, s2, boss = (Workbench(sqlite_store, u[n]) for n in ("s1", "s2", "boss"))
    p = s1.propose(cid, _contacted(s1, cid), [{"kind": "refund", "amount_fen": 150000}])  # above 1000 yuan
    assert p.pending and p.needed_role == "admin"
    with pytest.raises(AccessDenied, match="自己"):
        s1.approve(cid, p.version)
    with pytest.raises(AccessDenied, match="店长"):
        s2.approve(cid, p.version)
    with pytest.raises(AccessDenied, match="自己"):
        s1.reject(cid, p.version, "撤回")
    assert boss.approve(cid, p.version, "同意") == p.version + 1


def test_splitting_a_refund_on_one_case_does_not_get_round_the_limit(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=28000)
    a = Workbench(sqlite_store, u["a1"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "refund", "amount_fen": 20000}])
    assert not p.pending
    v = a.deliver(cid, p.version)
    v = a.escalate(cid, v, "客户仍不满意，要求再补偿")
    p2 = a.propose(cid, v, [{"kind": "refund", "amount_fen": 4000}, {"kind": "resend", "amount_fen": 4000},
                            {"kind": "coupon", "amount_fen": 4000}])
    assert p2.pending and "累计 320 元" in p2.message  # 200 + 40 + 40 + 40 > 310


def test_the_rolling_window_counts_the_customers_other_cases(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a = Workbench(sqlite_store, u["a1"])
    c1 = make_case(sqlite_store, tmp_path, paid_fen=29000, customer="same")
    c2 = make_case(sqlite_store, tmp_path, paid_fen=29000, customer="same", text="质量太差了，一洗就破")
    p1 = a.propose(c1, _contacted(a, c1), [{"kind": "resend", "amount_fen": 29000}])
    assert not p1.pending
    p2 = a.propose(c2, _contacted(a, c2), [{"kind": "resend", "amount_fen": 22000}])  # 290 + 220 > 500
    assert p2.pending and "30 天内累计 510 元" in p2.message
    c3 = make_case(sqlite_store, tmp_path, paid_fen=29000, customer="other", text="物流太慢了")
    assert not a.propose(c3, _contacted(a, c3), [{"kind": "resend", "amount_fen": 22000}]).pending


def test_the_band_above_300_yuan_is_the_supervisors_even_for_a_coupon(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=45000)
    a = Workbench(sqlite_store, u["a1"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "coupon", "amount_fen": 500}])
    assert p.pending and "主管" in p.message


def test_gifts_are_capped_by_the_customers_tier(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=8900)
    a = Workbench(sqlite_store, u["a1"])
    with pytest.raises(ConfigError, match="礼遇"):  # a customer with one order is "new": no gift in their tier
        a.propose(cid, _contacted(a, cid), [{"kind": "gift", "amount_fen": 1000}])


def test_conditional_notes_are_blocked(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path)
    a = Workbench(sqlite_store, u["a1"])
    v = _contacted(a, cid)
    with pytest.raises(ComplianceBlocked, match="条件"):
        a.propose(cid, v, [{"kind": "refund", "amount_fen": 500}], note="改好评后返现5元")
    assert ledger_rows(sqlite_store, cid) == []


def test_another_shops_case_is_refused_and_audited(sqlite_store, tmp_path):
    mine = make_case(sqlite_store, tmp_path, shop="A店")
    theirs = make_case(sqlite_store, tmp_path, shop="B店", text="破损严重，差评")
    shop_a = case_row(sqlite_store, mine)["shop_id"]
    u = make_users(sqlite_store, a1=[shop_a])
    a = Workbench(sqlite_store, u["a1"])
    _contacted(a, mine)
    with pytest.raises(AccessDenied, match="店铺"):
        a.propose(theirs, 1, [{"kind": "refund", "amount_fen": 100}])
    with pytest.raises(AccessDenied):
        a.case(theirs)
    assert {(r["action"], r["case_id"]) for r in access_rows(sqlite_store) if r["outcome"] == "denied"} >= {
        ("propose", theirs), ("read", theirs)}  # a refused case view is a refused read
    assert ledger_rows(sqlite_store, theirs) == []


# ------------------------------------------------------------------ property (S-06)
AMOUNTS = st.one_of(st.sampled_from([1, 100, AGENT_CASE_LIMIT - 1, AGENT_CASE_LIMIT, AGENT_CASE_LIMIT + 1,
                                     AGENT_WINDOW_LIMIT - 1, AGENT_WINDOW_LIMIT + 1, 15500, 15501]),
                    st.integers(min_value=1, max_value=60000))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(AMOUNTS, st.booleans()), min_size=1, max_size=6))
def test_an_agent_never_approves_above_the_limit_alone_or_cumulatively(tmp_path_factory, steps):
    from reviewops.core.store import Store

    d = tmp_path_factory.mktemp("s06")
    with Store.open(d / "s.db") as store:
        u = make_users(store)
        a, s1 = Workbench(store, u["a1"]), Workbench(store, u["s1"])
        cases = [make_case(store, d, paid_fen=29900, customer="c"), make_case(store, d, paid_fen=29900, customer="c",
                                                                               text="质量很差")]
        versions = {c: _contacted(a, c) for c in cases}
        for i, (amount, split) in enumerate(steps):
            cid = cases[i % 2]
            v = versions[cid]
            state = case_row(store, cid)["state"]
            if state not in ("contacted", "escalated"):
                v = a.escalate(cid, v, "再次补偿")
            # resends: the refunds of an order are capped by what was paid (test_ledger_money); this is about limits
            items = ([{"kind": "resend", "amount_fen": amount // 2}, {"kind": "resend", "amount_fen": amount - amount // 2}]
                     if split and amount > 1 else [{"kind": "resend", "amount_fen": amount}])
            p = a.propose(cid, v, items, note="客户损失较大，补发")  # a reason: resends above the order value need one
            v = p.version
            if p.pending:
                v = s1.reject(cid, v, "金额过高")
            else:
                v = a.deliver(cid, v)
            versions[cid] = v
            # the invariant: what agents approved stays within the agent's case and window limits
            agent_total = {c: sum(r["amount_fen"] for r in ledger_rows(store, c)
                                  if r["state"] in ("approved", "delivered") and r["decided_role"] == "agent")
                           for c in cases}
            assert all(t <= AGENT_CASE_LIMIT for t in agent_total.values())
            assert sum(agent_total.values()) <= AGENT_WINDOW_LIMIT
            for c in cases:
                for r in ledger_rows(store, c):
                    assert isinstance(r["amount_fen"], int)
                    if r["state"] in ("rejected",):
                        assert r["decided_by"] != r["requested_by"]
