"""Money rules of the compensation ledger (issue 15 §6): a refund never above what the order can still
refund (imported after-sales refunds and the ledger's own refunds counted, checked inside the write
transaction), other remedies above the order's value need a reason and are flagged on the approval card,
gift caps per case and per customer over ``gift_window_days``, and one yuan parser that refuses an
ambiguous comma."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import re
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reviewops import import_file
from reviewops.core import store as stmod
from reviewops.core.errors import ConfigError, PolicyInvalid
from reviewops.core.money import AmountError, parse_yuan
from reviewops.handling.ledger import (
    GiftCapExceeded,
    ReasonRequired,
    RefundExceedsPaid,
    fit_suggestion,
    refund_room,
    yuan_to_fen,
)
from reviewops.core.policy import Policy, default_policy, save_policy
from reviewops.handling.workbench import Workbench

from wb_fixtures import case_row, ledger_rows, make_case, make_users

REFUND_HEADER = ["订单编号", "退款编号", "买家实际支付金额", "买家退款金额", "退款的申请时间", "退款状态", "买家退款原因",
                 "售中或售后"]
_refund_seq = itertools.count(1)


def _contacted(wb: Workbench, case_id: int) -> int:
    return wb.record_contact(case_id, case_row(wb.store, case_id)["version"], channel="chat", note="已联系客户")


def _order_of(store, case_id: int) -> str:
    with store.read() as conn:
        return conn.execute(sa.select(stmod.reviews.c.order_id).join(
            stmod.cases, stmod.cases.c.review_pk == stmod.reviews.c.id).where(stmod.cases.c.id == case_id)).scalar_one()


def _import_refunds(store, tmp_path: Path, order_id: str, rows: list[tuple[str, str, str]]) -> None:
    """A Taobao 退款管理 export for ``order_id``: (paid, refunded, status) per row, through the importer."""
    path = tmp_path / f"refunds{next(_refund_seq)}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(REFUND_HEADER)
        for paid, amount, status in rows:
            w.writerow([order_id, f"RF{next(_refund_seq):08d}", paid, amount, "2026-11-21 10:00:00", status,
                        "质量问题", "售后"])
    import_file(store, path, platform="taobao", kind="refunds", shop="测试店")


def _refunded(store, case_id: int) -> tuple[int | None, int]:
    with store.read() as conn:
        room = refund_room(conn, case_id)
    return room.paid_fen, room.refunded_fen


# ------------------------------------------------------------------ refunds ≤ paid
@pytest.mark.parametrize("paid, asked, shown", [
    (37600, 40000, "实付 376 元"),   # over the agent's limit: it used to wait for a supervisor's "可以审批"
    (6090, 30900, "实付 60.9 元"),   # within the agent's limit: it used to be approved at once
])
def test_a_refund_above_what_was_paid_is_refused(sqlite_store, tmp_path, paid, asked, shown):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=paid)
    a = Workbench(sqlite_store, u["a1"])
    v = _contacted(a, cid)
    with pytest.raises(RefundExceedsPaid) as exc:
        a.propose(cid, v, [{"kind": "refund", "amount_fen": asked}])
    e = exc.value
    assert (e.paid_fen, e.refunded_fen, e.max_fen, e.asked_fen) == (paid, 0, paid, asked)
    text = str(e)
    assert shown in text and "已退款 0 元" in text and f"最多还能退 {shown[3:]}" in text
    assert f"paid {paid / 100:.2f}" in text and "lower the refund" in text  # English alongside
    assert isinstance(e, ConfigError)  # the forms show it like any refusal
    assert ledger_rows(sqlite_store, cid) == [] and case_row(sqlite_store, cid)["state"] == "contacted"


def test_the_whole_paid_amount_can_be_refunded_and_not_a_fen_more(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    a = Workbench(sqlite_store, u["a1"])
    c1 = make_case(sqlite_store, tmp_path, paid_fen=6090)
    with pytest.raises(RefundExceedsPaid):
        a.propose(c1, _contacted(a, c1), [{"kind": "refund", "amount_fen": 6000}, {"kind": "refund", "amount_fen": 91}])
    p = a.propose(c1, case_row(sqlite_store, c1)["version"], [{"kind": "refund", "amount_fen": 6090}])
    assert not p.pending and _refunded(sqlite_store, c1) == (6090, 6090)


def test_imported_refunds_count_closed_ones_do_not(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=8900)
    _import_refunds(sqlite_store, tmp_path, _order_of(sqlite_store, cid), [
        ("89.00", "50.00", "退款成功"),                        # paid out
        ("89.00", "30.00", "退款关闭"),                        # closed: nothing was returned
        ("89.00", "10.00", "买家已经申请退款，等待卖家同意"),     # in progress: counts like a pending remedy
    ])
    assert _refunded(sqlite_store, cid) == (8900, 6000)
    a = Workbench(sqlite_store, u["a1"])
    v = _contacted(a, cid)
    with pytest.raises(RefundExceedsPaid) as exc:
        a.propose(cid, v, [{"kind": "refund", "amount_fen": 3000}])
    assert "平台/售后已退 60 元" in str(exc.value) and "最多还能退 29 元" in str(exc.value)
    assert exc.value.max_fen == 2900
    assert not a.propose(cid, v, [{"kind": "refund", "amount_fen": 2900}]).pending


def test_the_order_exports_refund_and_the_after_sales_rows_are_one_refund_not_two(sqlite_store, tmp_path):
    cid = make_case(sqlite_store, tmp_path, paid_fen=8900)
    order_id = _order_of(sqlite_store, cid)
    with sqlite_store.write() as conn:
        conn.execute(stmod.orders.update().where(stmod.orders.c.order_id == order_id).values(refund_fen=5000))
    assert _refunded(sqlite_store, cid) == (8900, 5000)
    _import_refunds(sqlite_store, tmp_path, order_id, [("89.00", "50.00", "退款成功")])  # the same refund
    assert _refunded(sqlite_store, cid) == (8900, 5000)
    _import_refunds(sqlite_store, tmp_path, order_id, [("89.00", "20.00", "退款成功")])  # a second one
    assert _refunded(sqlite_store, cid) == (8900, 7000)


def test_pending_and_delivered_refunds_of_the_ledger_count(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=45000)  # above 300 yuan: the supervisor's band
    a = Workbench(sqlite_store, u["a1"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "refund", "amount_fen": 30000}])
    assert p.pending
    v = a.escalate(cid, p.version, "客户要求再退一部分")
    with pytest.raises(RefundExceedsPaid) as exc:
        a.propose(cid, v, [{"kind": "refund", "amount_fen": 20000}])
    assert "本系统已批准或待审批的退款 300 元" in str(exc.value) and exc.value.max_fen == 15000
    assert a.propose(cid, v, [{"kind": "refund", "amount_fen": 15000}]).pending
    assert _refunded(sqlite_store, cid) == (45000, 45000)


def test_approval_rechecks_refunds_imported_since_the_proposal(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=45000)
    a, s1 = Workbench(sqlite_store, u["a1"]), Workbench(sqlite_store, u["s1"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "refund", "amount_fen": 40000}])
    assert p.pending
    (card,) = s1.approvals()
    assert card["may_approve"]
    _import_refunds(sqlite_store, tmp_path, _order_of(sqlite_store, cid), [("450.00", "100.00", "退款成功")])
    (card,) = s1.approvals()
    assert not card["may_approve"] and "超过订单" in card["why_not"] and "最多还能退 350 元" in card["why_not"]
    with pytest.raises(RefundExceedsPaid) as exc:
        s1.approve(cid, p.version, "同意")
    assert exc.value.max_fen == 35000 and exc.value.refunded_fen == 10000
    assert {r["state"] for r in ledger_rows(sqlite_store, cid)} == {"pending"}
    s1.reject(cid, p.version, "平台已部分退款，请按余额重新提出")


def test_an_unknown_paid_amount_refuses_a_refund_but_not_a_coupon(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=None)
    a = Workbench(sqlite_store, u["a1"])
    v = _contacted(a, cid)
    with pytest.raises(RefundExceedsPaid, match="实付金额未知"):
        a.propose(cid, v, [{"kind": "refund", "amount_fen": 100}])
    assert not a.propose(cid, v, [{"kind": "coupon", "amount_fen": 500}]).pending


def _same_order(store, tmp_path) -> tuple[int, int]:
    """Two cases (two reviews) on one order that paid 89 yuan, for two customers' worth of locks."""
    c1 = make_case(store, tmp_path, paid_fen=8900, customer="same-order-1")
    c2 = make_case(store, tmp_path, paid_fen=None, customer="same-order-2", text="质量太差了，一洗就破")
    with store.write() as conn:
        pk = conn.execute(sa.select(stmod.cases.c.review_pk).where(stmod.cases.c.id == c2)).scalar_one()
        conn.execute(stmod.reviews.update().where(stmod.reviews.c.id == pk).values(order_id=_order_of(store, c1)))
    return c1, c2


def test_two_proposals_racing_cannot_together_refund_more_than_was_paid(store, tmp_path):
    u = make_users(store)
    c1, c2 = _same_order(store, tmp_path)
    versions = {c: _contacted(Workbench(store, u["a1"]), c) for c in (c1, c2)}
    barrier = threading.Barrier(2)
    out: dict[int, object] = {}

    def go(cid: int, who: str) -> None:
        wb = Workbench(store, u[who])
        barrier.wait()
        try:
            out[cid] = wb.propose(cid, versions[cid], [{"kind": "refund", "amount_fen": 6000}])
        except Exception as e:  # noqa: BLE001 - the assertion below names it
            out[cid] = e

    threads = [threading.Thread(target=go, args=(c1, "a1")), threading.Thread(target=go, args=(c2, "a2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted(type(o).__name__ for o in out.values())
    assert kinds == ["Proposal", "RefundExceedsPaid"], out
    assert _refunded(store, c1) == (8900, 6000)


# ------------------------------------------------------------------ other remedies above the order's value
def test_other_remedies_above_the_order_value_need_a_reason(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=6090)
    a = Workbench(sqlite_store, u["a1"])
    v = _contacted(a, cid)
    with pytest.raises(ReasonRequired) as exc:
        a.propose(cid, v, [{"kind": "coupon", "amount_fen": 5000}, {"kind": "coupon", "amount_fen": 2000}])
    assert "超过订单实付 60.9 元" in str(exc.value) and "原因" in str(exc.value) and "reason" in str(exc.value)
    assert ledger_rows(sqlite_store, cid) == []
    p = a.propose(cid, v, [{"kind": "coupon", "amount_fen": 5000}, {"kind": "coupon", "amount_fen": 2000}],
                  note="商品两次破损，客户损失运费")
    assert not p.pending and "超过订单实付 60.9 元" in p.message
    rows = ledger_rows(sqlite_store, cid)
    assert all("超过订单实付 60.9 元" in r["decision_reason"] and "原因：商品两次破损" in r["decision_reason"]
               for r in rows)
    with sqlite_store.read() as conn:
        events = [a for (a,) in conn.execute(sa.select(stmod.case_events.c.after_json).where(
            stmod.case_events.c.case_id == cid))]
    assert any("超过订单实付 60.9 元" in (a or "") for a in events)  # in the case's audit


def test_the_policys_own_remedy_needs_no_reason(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=25000)
    a = Workbench(sqlite_store, u["a1"])
    items = a.suggestion(cid).suggested_items  # 100–300 yuan: resend the order + a 10-yuan coupon
    assert [(i["kind"], i["amount_fen"]) for i in items] == [("resend", 25000), ("coupon", 1000)]
    assert not a.propose(cid, _contacted(a, cid), items).pending


def test_the_approval_card_flags_remedies_above_the_order_value_with_the_reason(sqlite_store, tmp_path):
    from reviewops_widgets.approvals import item_html

    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=37600)
    a, s1 = Workbench(sqlite_store, u["a1"]), Workbench(sqlite_store, u["s1"])
    p = a.propose(cid, _contacted(a, cid), [{"kind": "coupon", "amount_fen": 40000}],
                  note="客户多次投诉，电话13812345678")
    assert p.pending
    (card,) = s1.approvals()
    assert card["may_approve"]
    assert "超过订单实付 376 元" in card["flags"] and "优惠券、礼品等合计 400 元" in card["flags"]
    assert "原因：客户多次投诉" in card["flags"] and "13812345678" not in card["flags"]  # typed text is masked
    html = item_html(card)
    assert "超过订单实付 376 元" in html and "可以审批" in html


# ------------------------------------------------------------------ gift caps per case and customer
def _vip_case(store, tmp_path, customer: str = "vip", **kw) -> int:
    """A case for a customer who spent more than 1000 yuan this year (高价值: gift ≤ 30 yuan)."""
    cid = make_case(store, tmp_path, paid_fen=8900, customer=customer, **kw)
    with store.write() as conn:
        row = conn.execute(sa.select(stmod.orders.c.shop_id, stmod.orders.c.customer_id).where(
            stmod.orders.c.order_id == _order_of(store, cid))).one()
        conn.execute(stmod.orders.insert().values(
            shop_id=row.shop_id, order_id=f"VIP{cid:014d}", customer_id=row.customer_id, paid_fen=100000,
            goods_fen=100000, created_at=stmod.utcnow() - dt.timedelta(days=40)))
    return cid


def test_escalating_and_proposing_again_does_not_give_a_second_gift(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = _vip_case(sqlite_store, tmp_path)
    a = Workbench(sqlite_store, u["a1"])
    assert not a.propose(cid, _contacted(a, cid), [{"kind": "gift", "amount_fen": 3000, "note": "VIP专属礼包"}]).pending
    v = a.escalate(cid, case_row(sqlite_store, cid)["version"], "客户仍不满意")
    for amount in (3000, 1):
        with pytest.raises(GiftCapExceeded) as exc:
            a.propose(cid, v, [{"kind": "gift", "amount_fen": amount}])
        assert "本案已有礼品 30 元" in str(exc.value) and "礼遇上限 30 元" in str(exc.value)
    assert [r["kind"] for r in ledger_rows(sqlite_store, cid)] == ["gift"]


def test_a_second_case_of_the_customer_within_the_window_shares_the_cap(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    c1 = _vip_case(sqlite_store, tmp_path)
    c2 = make_case(sqlite_store, tmp_path, paid_fen=8900, customer="vip", text="质量太差了，一洗就破")
    a = Workbench(sqlite_store, u["a1"])
    assert not a.propose(c1, _contacted(a, c1), [{"kind": "gift", "amount_fen": 2000}]).pending
    v2 = _contacted(a, c2)
    with pytest.raises(GiftCapExceeded, match="该客户 30 天内已有礼品 20 元") as exc:
        a.propose(c2, v2, [{"kind": "gift", "amount_fen": 2000}])
    assert "本次礼品最多 10 元" in str(exc.value)
    assert fit_suggestion(sqlite_store, c2, [{"kind": "gift", "amount_fen": 3000}]) == [
        {"kind": "gift", "amount_fen": 1000}]
    assert not a.propose(c2, v2, [{"kind": "gift", "amount_fen": 1000}]).pending
    # a gift older than the window no longer counts
    with sqlite_store.write() as conn:
        conn.execute(stmod.compensations.update().where(stmod.compensations.c.case_id == c1).values(
            requested_at=stmod.utcnow() - dt.timedelta(days=31)))
    c3 = make_case(sqlite_store, tmp_path, paid_fen=8900, customer="vip", text="物流太慢了")
    assert not a.propose(c3, _contacted(a, c3), [{"kind": "gift", "amount_fen": 2000}]).pending


def test_the_gift_window_comes_from_the_policy(sqlite_store, tmp_path):
    data = json.loads(default_policy().to_json())
    (row,) = [r for r in data["tables"]["settings"] if r["key"] == "gift_window_days"]
    row["value"] = "60"
    save_policy(sqlite_store, Policy.from_json(json.dumps(data, ensure_ascii=False), source="edited"), actor="boss")
    u = make_users(sqlite_store)
    c1 = _vip_case(sqlite_store, tmp_path)
    a = Workbench(sqlite_store, u["a1"])
    assert not a.propose(c1, _contacted(a, c1), [{"kind": "gift", "amount_fen": 3000}]).pending
    with sqlite_store.write() as conn:
        conn.execute(stmod.compensations.update().where(stmod.compensations.c.case_id == c1).values(
            requested_at=stmod.utcnow() - dt.timedelta(days=45)))
    c2 = make_case(sqlite_store, tmp_path, paid_fen=8900, customer="vip", text="物流太慢了")
    with pytest.raises(GiftCapExceeded, match="60 天内"):
        a.propose(c2, _contacted(a, c2), [{"kind": "gift", "amount_fen": 100}])


@pytest.mark.parametrize("value", ["0", "731", "三十"])
def test_the_gift_window_setting_is_validated(value):
    data = json.loads(default_policy().to_json())
    (row,) = [r for r in data["tables"]["settings"] if r["key"] == "gift_window_days"]
    row["value"] = value
    with pytest.raises(PolicyInvalid) as exc:
        Policy.from_json(json.dumps(data, ensure_ascii=False), source="edited")
    assert any(p.value == value for p in exc.value.problems)


def test_the_suggestion_offers_what_the_order_can_still_refund(sqlite_store, tmp_path):
    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=8900)
    _import_refunds(sqlite_store, tmp_path, _order_of(sqlite_store, cid), [("89.00", "30.00", "退款成功")])
    a = Workbench(sqlite_store, u["a1"])
    items = a.suggestion(cid).suggested_items
    assert [(i["kind"], i["amount_fen"]) for i in items] == [("refund", 5900), ("coupon", 500)]
    assert a.case(cid).suggested_items == items
    assert not a.propose(cid, _contacted(a, cid), items).pending


# ------------------------------------------------------------------ the form's path (reviewops.Workbench)
def test_the_workbench_refuses_what_the_form_sends(sqlite_store, tmp_path):
    import reviewops

    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=6090)
    wb = reviewops.Workbench(sqlite_store, u["a1"])
    v = _contacted(wb, cid)
    # what the case form does: yuan → fen with the ledger's parser, then Workbench.propose
    with pytest.raises(AmountError, match="歧义"):
        yuan_to_fen("12,50")
    with pytest.raises(RefundExceedsPaid, match="最多还能退 60.9 元"):
        wb.propose(cid, v, [{"kind": "refund", "amount_fen": yuan_to_fen("309")}])
    p = wb.propose(cid, v, [{"kind": "refund", "amount_fen": yuan_to_fen("60.90")},
                            {"kind": "coupon", "amount_fen": yuan_to_fen("5")}])
    assert not p.pending and p.total_fen == 6590
    assert [r["state"] for r in wb.case(cid).ledger] == ["approved", "approved"]


def test_the_case_form_editor_refuses_a_decimal_comma(sqlite_store, tmp_path):
    from reviewops_widgets import build_case

    u = make_users(sqlite_store)
    cid = make_case(sqlite_store, tmp_path, paid_fen=8900)
    form = build_case(Workbench(sqlite_store, u["a1"]), case_id=cid)
    form.item_rows.clear()
    form.items_box.children = []
    row = form._add_item()
    row.kind.value, row.amount.value = "coupon", "12,50"
    items, problems = form.editor_items()
    assert items == [] and len(problems) == 1 and "12,50" in problems[0] and "12.50" in problems[0]
    row.amount.value = "1,234.50"
    items, problems = form.editor_items()
    assert items == [{"kind": "coupon", "amount_fen": 123450}] and problems == []


# ------------------------------------------------------------------ property: refunds per order ≤ paid
STEP = st.tuples(st.sampled_from(["a1", "s1"]), st.integers(min_value=1, max_value=12000), st.booleans(),
                 st.sampled_from(["approve", "reject", "deliver", "leave"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(imported=st.integers(min_value=0, max_value=9000), steps=st.lists(STEP, min_size=1, max_size=6))
def test_refunds_per_order_never_exceed_what_was_paid(tmp_path_factory, imported, steps):
    from reviewops.core.store import Store

    d = tmp_path_factory.mktemp("refunds")
    with Store.open(d / "s.db") as store:
        u = make_users(store)
        wbs = {n: Workbench(store, u[n]) for n in ("a1", "s1", "s2", "boss")}
        c1, c2 = _same_order(store, d)
        paid = 8900
        if imported:
            _import_refunds(store, d, _order_of(store, c1), [("89.00", f"{imported / 100:.2f}", "退款成功")])
        for i, (who, amount, split, then) in enumerate(steps):
            cid = (c1, c2)[i % 2]
            wb = wbs[who]
            state = case_row(store, cid)["state"]
            v = case_row(store, cid)["version"]
            if state == "new":
                v = _contacted(wb, cid)
            elif state not in ("contacted", "escalated"):
                v = wb.escalate(cid, v, "再次补偿")
            items = ([{"kind": "refund", "amount_fen": amount // 2}, {"kind": "refund", "amount_fen": amount - amount // 2}]
                     if split and amount > 1 else [{"kind": "refund", "amount_fen": amount}])
            try:
                p = wb.propose(cid, v, items)
            except RefundExceedsPaid as e:
                assert e.asked_fen == amount and e.max_fen < amount
                assert e.max_fen == max(0, paid - e.refunded_fen)
                continue
            v = p.version
            if p.pending and then in ("approve", "deliver"):
                approver = wbs["boss"] if who == "s1" else wbs["s2"]
                v = approver.approve(cid, v, "同意")
            elif p.pending and then == "reject":
                wbs["boss"].reject(cid, v, "金额不妥")
                continue
            if then == "deliver" and case_row(store, cid)["state"] == "remedy_proposed":
                wb.deliver(cid, v)
            # the invariant, after every step: what the shop refunded and the ledger holds ≤ what was paid
            got_paid, refunded = _refunded(store, c1)
            assert got_paid == paid and refunded <= max(paid, imported)
            assert _refunded(store, c2) == (paid, refunded)


# ------------------------------------------------------------------ the yuan parser (one for the kit)
@pytest.mark.parametrize("text, fen", [
    ("1,234.50", 123450), ("12,345", 1234500), ("1,234,567.89", 123456789), ("1，234", 123400), ("¥1,234", 123400),
    ("12.50元", 1250), ("１２.５", 1250), ("0.5", 50), (" 8 ", 800), ("RMB 3", 300), ("人民币8.8", 880),
])
def test_thousands_separators_in_their_place_are_read(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["12,50", "1,5", "1，5", "1,2345", "1.234,50", ",5", "1,23", "12,34,567", "1 5",
                                  "1,234.5,6", "1元5"])
def test_an_ambiguous_comma_is_refused_with_the_value_and_how_to_write_it(text):
    with pytest.raises(AmountError) as exc:
        yuan_to_fen(text)
    msg = str(exc.value)
    assert repr(text) in msg
    if "," in text or "，" in text or " " in text:
        assert "歧义" in msg and "12.50" in msg and "1,234.50" in msg and "ambiguous" in msg


def _formatted(fen: int, grouped: bool, decimals: int, prefix: str, suffix: str) -> str:
    """``fen`` written as a person would: with or without thousands commas, 0/1/2 decimals where exact."""
    yuan, cents = divmod(fen, 100)
    whole = f"{yuan:,}" if grouped else str(yuan)
    if decimals == 0 and cents == 0:
        frac = ""
    elif decimals == 1 and cents % 10 == 0:
        frac = f".{cents // 10}"
    else:
        frac = f".{cents:02d}"
    return f"{prefix}{whole}{frac}{suffix}"


@settings(max_examples=300, deadline=None)
@given(fen=st.integers(min_value=0, max_value=10**13), grouped=st.booleans(), decimals=st.sampled_from([0, 1, 2]),
       prefix=st.sampled_from(["", "¥", "￥", "RMB ", "人民币"]), suffix=st.sampled_from(["", "元", " 元"]))
def test_formatted_amounts_round_trip(fen, grouped, decimals, prefix, suffix):
    text = _formatted(fen, grouped, decimals, prefix, suffix)
    assert parse_yuan(text) == fen, text


_NUMBERISH = st.text(alphabet="0123456789,，. ", min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(_NUMBERISH)
@example("0，000")  # a leading zero group is no thousands grouping (found by this property)
@example("0,123.5")
def test_no_accepted_amount_is_ambiguous(text):
    try:
        fen = parse_yuan(text)
    except AmountError:
        return
    plain = text.replace("，", ",").strip()
    assert " " not in plain
    if "," in plain:
        whole = plain.split(".")[0].lstrip("+-")
        # every comma sits between groups of three digits: read as a decimal comma it would have 3 decimals,
        # which no amount of money has — the only reading is the thousands one
        assert whole == f"{int(whole.replace(',', '')):,}", text
        assert re.fullmatch(r"\d{1,3}(,\d{3})+", whole)
    assert Decimal(fen) / 100 == Decimal(plain.replace(",", "") if not plain.endswith(".") else plain[:-1] or "0")


# ------------------------------------------------------------------ the same parser in Excel and the policy
def test_excel_functions_refuse_an_ambiguous_comma(monkeypatch):
    from reviewops import excel as x

    monkeypatch.delenv("REVIEWOPS_DB", raising=False)
    x._close_stores()
    try:
        assert x.ro_remedy("1,234.50")[0] == "主管决定"
        assert x.ro_remedy("12,345")[0] == "主管决定"
        for bad in ("12,50", "1,5", "1，5"):  # used to read as 1,250 / 15 / 15 yuan
            out = x.ro_remedy(bad)
            assert isinstance(out, str) and out.startswith("#错误: ") and "歧义" in out and bad in out
        assert x.ro_remedy("60.90")[0] == "退款"
    finally:
        x._close_stores()


def test_the_policy_workbook_refuses_an_ambiguous_comma_in_a_yuan_cell(tmp_path):
    import openpyxl
    from reviewops.core.policy import export_policy, import_policy

    book = export_policy(default_policy(), tmp_path / "策略.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["补偿档位"]
    heads = [c.value for c in ws[1]]
    col = next(i for i, h in enumerate(heads, 1) if str(h).startswith("附赠券"))
    ws.cell(2, col, "1,5")
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(PolicyInvalid) as exc:
        import_policy(tmp_path / "bad.xlsx")
    (prob,) = exc.value.problems
    assert prob.value == "1,5" and "金额" in prob.reason_zh
    ws.cell(2, col, "1,000")
    wb.save(tmp_path / "good.xlsx")
    assert import_policy(tmp_path / "good.xlsx").tables["remedy_bands"][0]["coupon_fen"] == 100000
