"""The compensation ledger: remedies in fen, approval limits and approvals (SPEC H1, D3; S-06).

Every remedy offered on a case is a row of ``compensations`` (refund, resend, coupon, gift,
and the follow-up coupons), in integer fen. A proposal is approved at once when it fits
the proposer's authority; otherwise it waits for someone who has it:

* the **role limits** come from the policy's roles table: ``case_limit_fen`` caps everything
  approved on one case (cumulative, so splitting a refund into small ones does not get round
  it) and ``window_limit_fen`` caps everything for one customer within ``window_days``;
* the **band**: the H1 remedy band for the order value names the approving role (above 300
  yuan the supervisor decides); a role covers another when it is that role or above it on
  the escalation chain (agent → supervisor → admin);
* the **money rules**, checked in the same write transaction: a refund never above what the order
  can still refund (paid, less the shop's imported refunds and the ledger's refunds on the order —
  :class:`RefundExceedsPaid`); resends, or coupons and gifts, above the order's value only with a reason
  (:class:`ReasonRequired`), flagged on the approval card; gifts within the tier's cap counted per case
  and per customer over ``gift_window_days`` (:class:`GiftCapExceeded`);
* the **approver is never the requester** (S-06, S-08), and every decision is audited — the
  ledger row keeps requester, approver, times and reasons, and the case's state change is in
  its audit log.

The case states follow (:mod:`reviewops.handling.cases`): ``contacted`` → ``remedy_proposed``
(approved, to deliver) or → ``remedy_proposed`` → ``pending_approval``; approval moves back
to ``remedy_proposed``, rejection to ``contacted``; :func:`deliver` marks every approved
row delivered and moves to ``remedy_delivered``.

No remedy can carry a condition on the review (SPEC Compliance): notes are checked for
conditional-incentive wording and refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import AccessDenied, ComplianceBlocked, ConfigError, NotFound
from ..core.money import AmountError, parse_yuan
from ..core.users import log_denied

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store
    from ..core.users import Actor

__all__ = [
    "AmountError",
    "GiftCapExceeded",
    "KINDS",
    "KIND_ZH",
    "MAX_AMOUNT_FEN",
    "Proposal",
    "ReasonRequired",
    "RefundExceedsPaid",
    "RemedyItem",
    "approve",
    "case_ledger",
    "covers",
    "deliver",
    "fit_suggestion",
    "parse_yuan",
    "pending_approvals",
    "propose",
    "record_policy_coupon",
    "refund_room",
    "reject",
    "yuan_to_fen",
]

KINDS = ("refund", "resend", "coupon", "gift", "care_coupon", "repurchase_coupon", "delay_coupon")
KIND_ZH = {"refund": "退款", "resend": "补发", "coupon": "优惠券", "gift": "礼品", "care_coupon": "关怀券",
           "repurchase_coupon": "复购券", "delay_coupon": "延迟补偿券"}
PROPOSABLE = ("refund", "resend", "coupon", "gift")
MAX_AMOUNT_FEN = 10_000_000  # 100,000 yuan: anything above is a typing error, not a remedy
COUNTED = ("approved", "pending", "delivered")
STATE_ZH = {"approved": "已批准", "pending": "待审批", "rejected": "已驳回", "delivered": "已送达", "cancelled": "已取消"}


class RefundExceedsPaid(ConfigError):
    """A refund that would take the order's refunds (imported after-sales refunds plus the ledger's own
    refunds) above what was paid for it. ``paid_fen``, ``refunded_fen``, ``max_fen`` and ``asked_fen``
    are in fen."""

    def __init__(self, message: str, *, paid_fen: int | None, refunded_fen: int, max_fen: int, asked_fen: int):
        super().__init__(message)
        self.paid_fen, self.refunded_fen, self.max_fen, self.asked_fen = paid_fen, refunded_fen, max_fen, asked_fen


class ReasonRequired(ConfigError):
    """Remedies other than refunds (coupons, gifts, resends …) that take the order's remedies above its
    value, proposed without a reason (the proposal's ``note``)."""


class GiftCapExceeded(ConfigError):
    """A gift above the customer tier's cap, counting the gifts already on the case and the customer's
    gifts within the policy's ``gift_window_days``."""


def yuan_to_fen(value: Any) -> int:
    """An amount of a remedy in yuan as typed or sent (``"12.5"``, ``"¥12.50"``, ``Decimal("12.5")``, ``12``)
    → fen: :func:`parse_yuan`, then refuses zero, negative amounts and more than :data:`MAX_AMOUNT_FEN`.
    Every refusal is a :class:`ConfigError` (:class:`AmountError` for what :func:`parse_yuan` refuses)
    with a clear message."""
    return _check_fen(parse_yuan(value), value)


def _check_fen(fen: int, shown: Any) -> int:
    if fen <= 0:
        raise ConfigError(f"补偿金额必须大于 0，收到 {shown!r} / the amount must be above 0, got {shown!r}")
    if fen > MAX_AMOUNT_FEN:
        raise ConfigError(f"金额 {shown!r} 超过单笔上限 {MAX_AMOUNT_FEN // 100} 元，请核对 / amount {shown!r} is above "
                          f"{MAX_AMOUNT_FEN // 100} yuan; check it")
    return fen


def _yuan(fen: int | None) -> str:
    from ..core.policy import fen_to_yuan_text

    return f"{fen_to_yuan_text(fen or 0)} 元"


@dataclass(frozen=True)
class RemedyItem:
    """One thing offered: ``kind`` (refund/resend/coupon/gift), ``amount_fen`` (integer fen, its cost)."""

    kind: str
    amount_fen: int
    note: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PROPOSABLE:
            raise ConfigError(f"未知的补偿方式 {self.kind!r}；可选：{'、'.join(KIND_ZH[k] + '（' + k + '）' for k in PROPOSABLE)}"
                              f" / unknown remedy kind {self.kind!r}; choose one of {', '.join(PROPOSABLE)}")
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise ConfigError(f"amount_fen 应为以分为单位的整数，收到 {self.amount_fen!r}；元请先用 yuan_to_fen 换算 / "
                              f"amount_fen must be an integer number of fen, got {self.amount_fen!r}")
        _check_fen(self.amount_fen, self.amount_fen / 100)


@dataclass(frozen=True)
class Proposal:
    """What :func:`propose` did: the case's new version and state, the ledger rows, and why."""

    version: int
    state: str  # remedy_proposed (approved) | pending_approval
    compensation_ids: tuple[int, ...]
    total_fen: int
    pending: bool
    needed_role: str | None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def message(self) -> str:
        return "；".join(self.reasons)


# ----------------------------------------------------------------- roles
def _chain(policy: "Policy", role: str) -> list[str]:
    """``role`` and the roles above it on the escalation chain, in order."""
    out, cur = [], role
    while cur and cur not in out:
        out.append(cur)
        try:
            cur = policy.role(cur).get("escalates_to") or None
        except KeyError:
            break
    return out


def covers(policy: "Policy", approver_role: str, needed_role: str) -> bool:
    """True when ``approver_role`` is ``needed_role`` or above it on the escalation chain."""
    return approver_role in _chain(policy, needed_role)


def _role_zh(policy: "Policy", role: str | None) -> str:
    if not role:
        return "（无）"
    try:
        return f"{policy.role(role)['name_zh']}（{role}）"
    except KeyError:
        return role


# ----------------------------------------------------------------- context
@dataclass(frozen=True)
class _Ctx:
    case_id: int
    shop_id: int
    state: str
    version: int
    customer_id: int | None
    order_id: str | None
    order_value_fen: int | None
    policy: "Policy"


# ----------------------------------------------------------------- statements
# The ledger's statements run several times in every remedy step (propose, approve, deliver, the policy's own
# coupons, the suggestion's fit): each is built once, with bind parameters, so SQLAlchemy reuses its compiled
# form instead of building the statement and its cache key again on every call.
_bp = sa.bindparam


@functools.cache
def _context_stmts() -> dict[str, Any]:
    from ..core.store import cases, customers, orders, reviews

    order = sa.select(orders.c.paid_fen, orders.c.goods_fen, orders.c.customer_id).where(
        orders.c.shop_id == _bp("shop_id"), orders.c.order_id == _bp("order_id"))
    return {
        "case": sa.select(cases.c.id, cases.c.shop_id, cases.c.state, cases.c.version, cases.c.policy_version,
                          reviews.c.customer_id, reviews.c.order_id)
        .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
        .where(cases.c.id == _bp("case_id")),
        "order": order,
        "order_locked": order.with_for_update(),
        "customer_locked": sa.select(customers.c.id).where(customers.c.id == _bp("customer_id")).with_for_update(),
    }


@functools.cache
def _sum_stmt(scope: str, *, kinds: bool = False, since: bool = False, refunds_only: bool = False) -> sa.Select:
    """``coalesce(sum(amount_fen), 0)`` of the counted ledger rows of the case (``:case_id``), the customer
    (``:customer_id``) or the order (``:shop_id``, ``:order_id``); of ``:kinds`` only (``kinds``), of refunds
    only (``refunds_only``), requested at or after ``:since`` (``since``)."""
    from ..core.store import compensations as comp

    where = {"case": [comp.c.case_id == _bp("case_id")], "customer": [comp.c.customer_id == _bp("customer_id")],
             "order": [(comp.c.shop_id == _bp("shop_id")) & (comp.c.order_id == _bp("order_id"))]}[scope]
    if refunds_only:
        where.append(comp.c.kind == "refund")
    where.append(comp.c.state.in_(COUNTED))
    if kinds:
        where.append(comp.c.kind.in_(_bp("kinds", expanding=True)))
    if since:
        where.append(comp.c.requested_at >= _bp("since"))
    return sa.select(sa.func.coalesce(sa.func.sum(comp.c.amount_fen), 0)).where(*where)


@functools.cache
def _insert_stmt() -> sa.Insert:
    """A ledger row, its id returned; the values come as the parameters of each execution."""
    from ..core.store import compensations as comp

    return comp.insert().returning(comp.c.id)


@functools.cache
def _case_rows_stmt(state: str) -> sa.Select:
    """The case's (``:case_id``) ledger rows in ``state``, oldest first."""
    from ..core.store import compensations as comp

    return sa.select(comp).where(comp.c.case_id == _bp("case_id"), comp.c.state == state).order_by(comp.c.id)


def _scope(ctx: "_Ctx", *, by_order: bool = False, by_customer: bool = False) -> tuple[str, dict[str, Any]]:
    """The ledger rows a sum is over: the order's (when it has one and ``by_order``), the customer's (when
    known and ``by_customer``), else the case's; (scope, its parameters)."""
    if by_order and ctx.order_id:
        return "order", {"shop_id": ctx.shop_id, "order_id": ctx.order_id}
    if by_customer and ctx.customer_id is not None:
        return "customer", {"customer_id": ctx.customer_id}
    return "case", {"case_id": ctx.case_id}


def _context(conn: sa.Connection, case_id: int, *, lock: bool = True) -> _Ctx:
    from ..core.policy import load_policy_in

    q = _context_stmts()
    row = conn.execute(q["case"], {"case_id": case_id}).first()
    if row is None:
        raise NotFound(f"案件不存在 case {case_id} does not exist; check the case number")
    value = None
    customer_id = row.customer_id
    if row.order_id:
        # serialise decisions on one order: the refunds of its cases must not race past what was paid (PostgreSQL)
        o = conn.execute(q["order_locked"] if lock else q["order"],
                         {"shop_id": row.shop_id, "order_id": row.order_id}).first()
        if o is not None:
            value = o.paid_fen if o.paid_fen is not None else o.goods_fen
            customer_id = customer_id or o.customer_id
    if customer_id is not None and lock:
        # serialise decisions for one customer: the rolling-window sum must not race (PostgreSQL)
        conn.execute(q["customer_locked"], {"customer_id": customer_id})
    policy = load_policy_in(conn, None)  # limits are those in force now, not when the case was graded
    return _Ctx(int(row.id), int(row.shop_id), row.state, int(row.version), customer_id, row.order_id, value, policy)


def _totals(conn: sa.Connection, ctx: _Ctx, window_days: int, now: dt.datetime,
            kinds: tuple[str, ...] | None = None) -> tuple[int, int]:
    """(case total, customer's window total) of approved + pending + delivered rows, in fen (of ``kinds``
    only when given: the gift caps use the same two sums as the money limits)."""
    extra = {"kinds": list(kinds)} if kinds is not None else {}
    case_total = conn.execute(_sum_stmt("case", kinds=kinds is not None),
                              {"case_id": ctx.case_id, **extra}).scalar_one()
    since = now - dt.timedelta(days=int(window_days))
    who, params = _scope(ctx, by_customer=True)
    window_total = conn.execute(_sum_stmt(who, kinds=kinds is not None, since=True),
                                {**params, **extra, "since": since}).scalar_one()
    return int(case_total), int(window_total)


# An imported refund row whose status says it was closed, cancelled, refused or failed, and that has no
# payout time, returned nothing; every other row counts (paid out, agreed or still in progress).
_CLOSED_REFUND_RE = re.compile(r"关闭|取消|撤销|撤回|拒绝|驳回|失败|未通过|无效|closed|cancel|reject|fail", re.I)


@dataclass(frozen=True)
class RefundRoom:
    """How much more can be refunded on an order (fen): ``paid_fen`` (None: unknown), ``imported_fen``
    (the shop's imported refunds: the larger of the order export's 退款金额 and the sum of the after-sales
    rows that were not closed without payout), ``ledger_fen`` (the ledger's own refunds on the order's
    cases, approved + pending + delivered) and ``max_fen`` (what is left; 0 when the paid amount is unknown)."""

    order_id: str | None
    paid_fen: int | None
    imported_fen: int
    ledger_fen: int

    @property
    def refunded_fen(self) -> int:
        return self.imported_fen + self.ledger_fen

    @property
    def max_fen(self) -> int:
        return 0 if self.paid_fen is None else max(0, self.paid_fen - self.refunded_fen)


@functools.cache
def _refund_stmts() -> tuple[sa.Select, sa.Select]:
    from ..core.store import orders, refunds

    return (sa.select(orders.c.refund_fen).where(orders.c.shop_id == _bp("shop_id"),
                                                 orders.c.order_id == _bp("order_id")),
            sa.select(refunds.c.status_raw, refunds.c.refund_fen, refunds.c.apply_fen, refunds.c.refund_shipping_fen,
                      refunds.c.refunded_at, refunds.c.closed_at)
            .where(refunds.c.shop_id == _bp("shop_id"), refunds.c.order_id == _bp("order_id")))


def _refund_room(conn: sa.Connection, ctx: _Ctx) -> RefundRoom:
    imported = 0
    if ctx.order_id:
        of_order, of_refunds = _refund_stmts()
        key = {"shop_id": ctx.shop_id, "order_id": ctx.order_id}
        order_refund = conn.execute(of_order, key).scalar()
        rows = conn.execute(of_refunds, key).all()
        rows_fen = sum(int(r.refund_fen if r.refund_fen is not None else (r.apply_fen or 0))
                       + int(r.refund_shipping_fen or 0) for r in rows
                       if r.refunded_at is not None or not (r.closed_at is not None
                                                            or _CLOSED_REFUND_RE.search(str(r.status_raw or ""))))
        imported = max(int(order_refund or 0), rows_fen)
    scope, params = _scope(ctx, by_order=True)
    ledger_fen = conn.execute(_sum_stmt(scope, refunds_only=True), params).scalar_one()
    return RefundRoom(ctx.order_id, ctx.order_value_fen, imported, int(ledger_fen))


def refund_room(conn: sa.Connection, case_id: int) -> RefundRoom:
    """How much more may be refunded on the case's order (see :class:`RefundRoom`); read-only."""
    return _refund_room(conn, _context(conn, case_id, lock=False))


def _refund_message(room: RefundRoom, asked_fen: int) -> str:
    if room.paid_fen is None:
        which = f"订单 {room.order_id}" if room.order_id else "本案没有关联订单，"
        return (f"不能退款 {_yuan(asked_fen)}：{which}实付金额未知（订单未导入），无法核对退款不超过实付；请先导入该订单"
                f"（订单导出）后再提出退款，或改用补发/优惠券\nrefund of {asked_fen / 100:.2f} yuan refused: the "
                f"order's paid amount is unknown (order {room.order_id or '-'} not imported); import the order first "
                "or offer another remedy")
    parts = []
    if room.imported_fen:
        parts.append(f"平台/售后已退 {_yuan(room.imported_fen)}")
    if room.ledger_fen:
        parts.append(f"本系统已批准或待审批的退款 {_yuan(room.ledger_fen)}")
    already = "、".join(parts) or "无"
    todo = (f"最多还能退 {_yuan(room.max_fen)}，请把退款改为不超过此金额" if room.max_fen
            else "已没有可退金额，请改用补发或优惠券（须说明原因）")
    return (f"退款 {_yuan(asked_fen)} 超过订单 {room.order_id} 可退金额：实付 {_yuan(room.paid_fen)}，"
            f"已退款 {_yuan(room.refunded_fen)}（{already}），{todo}\n"
            f"refund of {asked_fen / 100:.2f} yuan is above what order {room.order_id} can still refund: paid "
            f"{room.paid_fen / 100:.2f}, already refunded {room.refunded_fen / 100:.2f} (imported after-sales "
            f"{room.imported_fen / 100:.2f} + this ledger {room.ledger_fen / 100:.2f}), at most "
            f"{room.max_fen / 100:.2f} more; lower the refund or offer another remedy")


def _check_refunds(conn: sa.Connection, ctx: _Ctx, asked_fen: int, *, counted: bool = False) -> RefundRoom:
    """Refuse (:class:`RefundExceedsPaid`) refunds of ``asked_fen`` above what the order can still refund
    (what was paid, less the imported and the ledger's refunds). ``counted``: the asked refunds are
    already ledger rows (pending rows at approval), so they are taken out of "already refunded"."""
    room = _refund_room(conn, ctx)
    if not asked_fen:
        return room
    before = dataclasses.replace(room, ledger_fen=room.ledger_fen - asked_fen) if counted else room
    if before.paid_fen is None or asked_fen > before.max_fen:
        raise RefundExceedsPaid(_refund_message(before, asked_fen), paid_fen=before.paid_fen,
                                refunded_fen=before.refunded_fen, max_fen=before.max_fen, asked_fen=asked_fen)
    return room


# Remedies compared with the order's value (refunds are capped, not compared): a resend replaces the goods,
# the rest is given on top of them; either group above what the order is worth needs a reason.
_OVER_GROUPS = ((("resend",), "补发", "resends"),
                (tuple(k for k in KINDS if k not in ("refund", "resend")), "优惠券、礼品等", "coupons, gifts and the like"))


def _above_order(conn: sa.Connection, ctx: _Ctx, items: list[Any] = ()) -> list[tuple[str, str, int, int]]:
    """The groups of remedies that exceed the order's value with ``items`` added: (label zh, label en, the
    group's total on the order in fen, order value); empty when none does or the value is unknown."""
    if ctx.order_value_fen is None:
        return []
    scope, params = _scope(ctx, by_order=True)
    out = []
    for kinds, zh, en in _OVER_GROUPS:
        adding = sum(i.amount_fen for i in items if i.kind in kinds)
        had = int(conn.execute(_sum_stmt(scope, kinds=True), {**params, "kinds": list(kinds)}).scalar_one())
        if had + adding > ctx.order_value_fen and (adding or not items):
            out.append((zh, en, had + adding, ctx.order_value_fen))
    return out


def _above_order_text(above: list[tuple[str, str, int, int]], reason: str | None) -> str:
    if not above:
        return ""
    parts = "，".join(f"{zh}合计 {_yuan(total)}" for zh, _en, total, _v in above)
    return f"超过订单实付 {_yuan(above[0][3])}：{parts}" + (f"；原因：{reason}" if reason else "")


def _band_role(ctx: _Ctx, total_fen: int) -> tuple[str, str]:
    """(approving role of the H1 band, reason) for the case's order value (or the total when unknown)."""
    from .remedy import remedy_for

    value = ctx.order_value_fen if ctx.order_value_fen is not None else total_fen
    r = remedy_for(int(value), None, policy=ctx.policy)
    return r.approver_role, f"订单 {_yuan(value)}：{r.remedy_zh}档由{_role_zh(ctx.policy, r.approver_role)}审批"


def _authority(conn: sa.Connection, ctx: _Ctx, role: str, extra_fen: int, now: dt.datetime) -> list[str]:
    """Why ``role`` may NOT decide a total that includes ``extra_fen`` more; empty = it may."""
    r = ctx.policy.role(role)
    case_total, window_total = _totals(conn, ctx, int(r["window_days"]), now)
    problems = []
    if case_total + extra_fen > int(r["case_limit_fen"]):
        problems.append(f"本案累计 {_yuan(case_total + extra_fen)} 超过{_role_zh(ctx.policy, role)}单案上限 "
                        f"{_yuan(r['case_limit_fen'])}")
    if window_total + extra_fen > int(r["window_limit_fen"]):
        problems.append(f"该客户 {r['window_days']} 天内累计 {_yuan(window_total + extra_fen)} 超过"
                        f"{_role_zh(ctx.policy, role)}窗口上限 {_yuan(r['window_limit_fen'])}")
    band_role, _ = _band_role(ctx, case_total + extra_fen)
    if not covers(ctx.policy, role, band_role):
        problems.append(f"该订单金额档位须由{_role_zh(ctx.policy, band_role)}决定")
    return problems


def _needed_role(conn: sa.Connection, ctx: _Ctx, role: str, extra_fen: int, now: dt.datetime) -> str | None:
    """The first role above ``role`` on the chain whose authority covers the total (None: nobody's does)."""
    for up in _chain(ctx.policy, role)[1:]:
        if not _authority(conn, ctx, up, extra_fen, now):
            return up
    return None


def _check_note(note: str | None, policy: "Policy") -> str | None:
    note = (note or "").strip() or None
    if note:
        hits = policy.forbidden_hits(note)
        if hits:
            raise ComplianceBlocked(
                f"补偿备注含有以评价为条件的利益诱导用语：“{hits[0][0]}”（{hits[0][1]}）；补偿不得以改评/删评为条件，请删除后重试\n"
                f"the note ties the remedy to changing the review ({hits[0][0]!r}); remedies may never be conditional "
                "on the review (SPEC Compliance)")
    return note


def _inbox_money(conn: sa.Connection, ctx: _Ctx, rows: list[Any]) -> tuple[list[str], list[str]]:
    """For the 审批 inbox: (why the pending refunds cannot be approved — refunds imported since the proposal
    took the order past what was paid —, the flags a card shows: remedies other than refunds above the
    order's value, with the reasons given, masked)."""
    from ..core.privacy import mask_text

    why = []
    try:
        _check_refunds(conn, ctx, sum(r.amount_fen for r in rows if r.kind == "refund"), counted=True)
    except RefundExceedsPaid as e:
        why.append(str(e).splitlines()[0])
    flags = []
    above = _above_order(conn, ctx)
    if above:
        reason = "；".join(dict.fromkeys(r.note for r in rows if r.note and r.kind != "refund"))
        flags.append(_above_order_text(above, mask_text(reason) if reason else None))
    elif ctx.order_value_fen is None:
        flags.append("订单金额未知（订单未导入），无法核对补偿是否超过订单实付")
    return why, flags


# ----------------------------------------------------------------- operations
def propose(store: "Store", actor: "Actor", case_id: int, expected_version: int, items: list[RemedyItem], *,
            via: str = "form", note: str | None = None, at: dt.datetime | None = None) -> Proposal:
    """Record the remedy ``items`` for a case (from ``contacted`` or ``escalated``).

    Approved at once when the proposer's role covers it (limits, band); otherwise the rows
    wait as ``pending`` and the case moves on to ``pending_approval``. Raises
    :class:`ConfigError` for bad items, :class:`AccessDenied` for another shop's case,
    :class:`ComplianceBlocked` for a conditional note, :class:`InvalidTransition` from a
    state that cannot propose and :class:`ConflictError` on a stale version.

    Money rules checked in the same write transaction, so two proposals racing cannot together pass
    them: refunds never above what the order can still refund (:class:`RefundExceedsPaid`: what was
    paid less the shop's imported refunds and the ledger's refunds on the order); other remedies that
    take the order's remedies above its value need a reason (``note``, :class:`ReasonRequired`) and say
    so in the reasons, the audit and the approval inbox; gifts within the tier's cap counting the case's
    gifts and the customer's within ``gift_window_days`` (:class:`GiftCapExceeded`).
    """
    from ..core.store import utcnow
    from .cases import transition_in

    if not items:
        raise ConfigError("请至少添加一项补偿（退款/补发/优惠券/礼品）/ add at least one remedy item")
    items = [i if isinstance(i, RemedyItem) else RemedyItem(**i) for i in items]
    now = at or utcnow()
    try:
        with store.write() as conn:
            ctx = _context(conn, case_id)
            actor.check_shop(ctx.shop_id, what="案件")
            note = _check_note(note, ctx.policy)
            for i in items:
                _check_note(i.note, ctx.policy)
            _check_refunds(conn, ctx, sum(i.amount_fen for i in items if i.kind == "refund"))
            above = _above_order(conn, ctx, items)
            if above and not note:
                raise ReasonRequired(
                    f"{_above_order_text(above, None)}；请在“说明”中写明原因后再提交\n"
                    + "; ".join(f"{en} {total / 100:.2f} yuan" for _zh, en, total, _v in above)
                    + f" exceed what order {ctx.order_id} paid ({above[0][3] / 100:.2f} yuan): give the reason in the note")
            flag = _above_order_text(above, note)
            _check_gift_caps(conn, ctx, items, now)
            total = sum(i.amount_fen for i in items)
            problems = _authority(conn, ctx, actor.role, total, now)
            pending = bool(problems)
            needed = _needed_role(conn, ctx, actor.role, total, now) if pending else None
            ids = []
            for i in items:
                values = dict(case_id=ctx.case_id, shop_id=ctx.shop_id, customer_id=ctx.customer_id,
                              order_id=ctx.order_id, kind=i.kind, amount_fen=i.amount_fen, stackable=False,
                              note="；".join(dict.fromkeys(x for x in (i.note, note) if x)) or None, requested_by=actor.name, requested_role=actor.role,
                              requested_at=now, policy_version=ctx.policy.version, version=1,
                              state="pending" if pending else "approved")
                if not pending:
                    values.update(decided_by=actor.name, decided_role=actor.role, decided_at=now,
                                  decision_reason="在提出人审批权限内 / within the proposer's authority"
                                  + (f"；{flag}" if flag else ""))
                ids.append(int(conn.execute(_insert_stmt(), values).scalar_one()))
            summary = "、".join(f"{KIND_ZH[i.kind]} {_yuan(i.amount_fen)}" for i in items)
            v = transition_in(conn, ctx.case_id, expected_version, "remedy_proposed", actor=actor.name, via=via,
                              reason=f"提出补偿：{summary}（合计 {_yuan(total)}）" + (f"；{note}" if note else "")
                              + (f"；{_above_order_text(above, None)}" if above else ""), at=now)
            reasons = [f"合计 {_yuan(total)}"] + ([_above_order_text(above, None)] if above else [])
            if pending:
                who = _role_zh(ctx.policy, needed) if needed else "（没有角色的权限覆盖此金额，请拆分原因后由店长处理）"
                reasons += problems + [f"已提交{who}审批"]
                v = transition_in(conn, ctx.case_id, v, "pending_approval", actor=actor.name, via=via,
                                  reason="；".join(problems) + f"；待{who}审批", at=now)
            else:
                reasons.append("在您的审批权限内，已批准，请执行后确认送达")
            return Proposal(version=v, state="pending_approval" if pending else "remedy_proposed",
                            compensation_ids=tuple(ids), total_fen=total, pending=pending, needed_role=needed,
                            reasons=tuple(reasons))
    except AccessDenied as e:
        log_denied(store, actor, "propose", e, case_id=case_id)
        raise


def _check_gift_caps(conn: sa.Connection, ctx: _Ctx, items: list[RemedyItem], now: dt.datetime) -> None:
    """Gifts may not cost more than the customer's tier allows (D3: VIP ≤ 30, silent ≤ 15 yuan) — counted
    like the money limits: the case's gifts (approved, pending, delivered) plus these, and the customer's
    gifts within the policy's ``gift_window_days`` plus these, each within the cap."""
    gifts = sum(i.amount_fen for i in items if i.kind == "gift")
    if not gifts:
        return
    tier = customer_tier(conn, ctx.customer_id, ctx.policy, now)
    cap = tier.get("gift_cost_limit_fen")
    if cap is None:
        raise GiftCapExceeded(f"{tier['name_zh']}没有处理后礼遇，不能添加礼品；请改用优惠券或退款 / the customer's tier "
                              f"({tier['code']}) has no gift")
    cap = int(cap)
    if gifts > cap:
        raise GiftCapExceeded(f"礼品成本 {_yuan(gifts)} 超过{tier['name_zh']}的礼遇上限 {_yuan(cap)} / gift cost above "
                              f"the tier's cap of {cap / 100:.2f} yuan")
    days = int(ctx.policy.setting("gift_window_days"))
    case_gifts, window_gifts = _totals(conn, ctx, days, now, kinds=("gift",))
    for had, where_zh, where_en in ((case_gifts, "本案", "this case"),
                                    (window_gifts, f"该客户 {days} 天内", f"the customer's last {days} days")):
        if had + gifts > cap:
            room = max(0, cap - had)
            raise GiftCapExceeded(
                f"{where_zh}已有礼品 {_yuan(had)}，加上本次 {_yuan(gifts)} 共 {_yuan(had + gifts)}，超过{tier['name_zh']}的"
                f"礼遇上限 {_yuan(cap)}（按案件与客户 {days} 天内累计）；"
                + (f"本次礼品最多 {_yuan(room)}" if room else "不能再送礼品，请改用优惠券或其他补偿")
                + f" / gifts on {where_en} {had / 100:.2f} + {gifts / 100:.2f} yuan exceed the tier's cap of "
                f"{cap / 100:.2f} yuan (counted per case and per customer over {days} days)")


def fit_suggestion(store: "Store", case_id: int, items: list[dict[str, Any]], *,
                   now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The suggested ``items`` (``{kind, amount_fen[, note]}``) cut to what :func:`propose` accepts: a refund to
    what the order can still refund (left out when nothing can be), a gift to what the tier's cap leaves on the
    case and for the customer within ``gift_window_days`` (left out when nothing). Read-only."""
    from ..core.store import utcnow

    now = now or utcnow()
    out: list[dict[str, Any]] = []
    with store.read() as conn:
        ctx = _context(conn, case_id, lock=False)
        refund_left = _refund_room(conn, ctx).max_fen
        gift_left = None
        for i in items:
            amount = int(i["amount_fen"])
            if i["kind"] == "refund":
                amount = min(amount, refund_left)
                refund_left -= amount
            elif i["kind"] == "gift":
                if gift_left is None:
                    cap = customer_tier(conn, ctx.customer_id, ctx.policy, now).get("gift_cost_limit_fen")
                    had = max(_totals(conn, ctx, int(ctx.policy.setting("gift_window_days")), now, kinds=("gift",)))
                    gift_left = max(0, int(cap or 0) - had)
                amount = min(amount, gift_left)
                gift_left -= amount
            if amount > 0:
                out.append({**i, "amount_fen": amount})
    return out


@functools.cache
def _tier_stmts() -> tuple[sa.Select, sa.Select]:
    from ..core.store import orders

    return (sa.select(sa.func.coalesce(sa.func.sum(orders.c.paid_fen), 0))
            .where(orders.c.customer_id == _bp("customer_id"), orders.c.created_at >= _bp("since")),
            sa.select(sa.func.count(), sa.func.max(orders.c.created_at)).where(orders.c.customer_id == _bp("customer_id")))


def customer_tier(conn: sa.Connection, customer_id: int | None, policy: "Policy", now: dt.datetime) -> dict[str, Any]:
    """The D3 tier row of a customer from their orders (annual spend, order count, last order)."""
    from .remedy import tier_of

    if customer_id is None:
        t = tier_of(0, 0, None, policy=policy, today=now.date())
    else:
        since = now - dt.timedelta(days=365)
        spend_q, count_q = _tier_stmts()
        spend = conn.execute(spend_q, {"customer_id": customer_id, "since": since}).scalar_one()
        n, last = conn.execute(count_q, {"customer_id": customer_id}).one()
        t = tier_of(int(spend), int(n), last.date() if last is not None else None, policy=policy, today=now.date())
    row = next(r for r in policy.tables["tiers"] if r["code"] == t.code)
    return {**row, "reason": t.reason}


def _pending_rows(conn: sa.Connection, case_id: int) -> list[Any]:
    return conn.execute(_case_rows_stmt("pending"), {"case_id": case_id}).all()


def _pending_case(conn: sa.Connection, actor: "Actor", case_id: int, verb_zh: str) -> tuple[_Ctx, list[Any]]:
    """The case (in the actor's shops) and its pending remedies, for a decision by someone who did not
    request any of them (S-06, S-08)."""
    ctx = _context(conn, case_id)
    actor.check_shop(ctx.shop_id, what="案件")
    rows = _pending_rows(conn, case_id)
    if ctx.state != "pending_approval" or not rows:
        raise ConfigError(f"案件 {case_id} 没有待审批的补偿（当前状态 {ctx.state}）/ case {case_id} has nothing "
                          "pending approval")
    if actor.name in {r.requested_by for r in rows}:
        raise AccessDenied(f"不能{verb_zh}自己提出的补偿（{actor.name}）；请由其他有权限的同事审批\n"
                           f"you cannot decide your own request ({actor.name}); another approver must decide")
    return ctx, rows


def _decide_pending(conn: sa.Connection, actor: "Actor", case_id: int, state: str, reason: str,
                    now: dt.datetime) -> None:
    """Record the decision (``approved`` / ``rejected``) on every pending remedy of the case."""
    from ..core.store import compensations as comp

    conn.execute(comp.update().where(comp.c.case_id == case_id, comp.c.state == "pending")
                 .values(state=state, decided_by=actor.name, decided_role=actor.role, decided_at=now,
                         decision_reason=reason, version=comp.c.version + 1))


def approve(store: "Store", actor: "Actor", case_id: int, expected_version: int, *, reason: str | None = None,
            via: str = "form", at: dt.datetime | None = None) -> int:
    """Approve every pending remedy of a case; returns the case's new version.

    Refused (:class:`AccessDenied`, audited) when the approver requested any of them, is not
    in the case's shop, or whose role does not cover the case's cumulative total, the
    customer's rolling-window total or the order's band.
    """
    from ..core.store import utcnow
    from .cases import transition_in

    now = at or utcnow()
    try:
        with store.write() as conn:
            ctx, rows = _pending_case(conn, actor, case_id, "审批")
            # refunds imported since the proposal count too: never approve refunds above what can be refunded
            _check_refunds(conn, ctx, sum(r.amount_fen for r in rows if r.kind == "refund"), counted=True)
            requesters = sorted({r.requested_by for r in rows})
            # the pending rows are already in the totals: check the approver's authority over them as they stand
            problems = _authority(conn, ctx, actor.role, 0, now)
            if problems:
                needed = _needed_role(conn, ctx, actor.role, 0, now)
                raise AccessDenied("；".join(problems) + f"；需要{_role_zh(ctx.policy, needed)}审批\n"
                                   f"above {actor.role}'s authority; needs {needed or 'nobody: reduce the amount'}")
            text = (reason or "").strip() or "同意 / approved"
            _check_note(text, ctx.policy)
            _decide_pending(conn, actor, case_id, "approved", text, now)
            total = sum(r.amount_fen for r in rows)
            return transition_in(conn, case_id, expected_version, "remedy_proposed", actor=actor.name, via=via,
                                 reason=f"批准补偿 {_yuan(total)}（提出人 {'、'.join(requesters)}）：{text}", at=now)
    except AccessDenied as e:
        log_denied(store, actor, "approve", e, case_id=case_id)
        raise


def reject(store: "Store", actor: "Actor", case_id: int, expected_version: int, *, reason: str,
           via: str = "form", at: dt.datetime | None = None) -> int:
    """Reject the pending remedies of a case with a reason; the case goes back to ``contacted``."""
    from ..core.store import utcnow
    from .cases import transition_in

    now = at or utcnow()
    text = (reason or "").strip()
    if not text:
        raise ConfigError("驳回需要填写原因 / a rejection needs a reason")
    try:
        with store.write() as conn:
            ctx, rows = _pending_case(conn, actor, case_id, "审批（含驳回）")
            if not any(covers(ctx.policy, actor.role, r.requested_role) and actor.role != r.requested_role
                       for r in rows):
                raise AccessDenied(f"{_role_zh(ctx.policy, actor.role)}无权审批该补偿 / {actor.role} may not decide it")
            _decide_pending(conn, actor, case_id, "rejected", text, now)
            return transition_in(conn, case_id, expected_version, "contacted", actor=actor.name, via=via,
                                 reason=f"驳回补偿：{text}", at=now)
    except AccessDenied as e:
        log_denied(store, actor, "reject", e, case_id=case_id)
        raise


def deliver(store: "Store", actor: "Actor", case_id: int, expected_version: int, *, note: str | None = None,
            via: str = "form", at: dt.datetime | None = None) -> int:
    """Mark every approved remedy of the case delivered; the case moves to ``remedy_delivered``.

    Follow-ups anchored on delivery (the 24 h revision guidance) are scheduled then.
    """
    from ..core.store import compensations as comp
    from ..core.store import utcnow
    from .cases import transition_in

    now = at or utcnow()
    try:
        with store.write() as conn:
            ctx = _context(conn, case_id)
            actor.check_shop(ctx.shop_id, what="案件")
            note = _check_note(note, ctx.policy)
            if _pending_rows(conn, case_id):
                raise ConfigError(f"案件 {case_id} 还有待审批的补偿，批准后才能送达 / case {case_id} still has remedies "
                                  "pending approval")
            rows = conn.execute(sa.select(comp.c.kind, comp.c.amount_fen)
                                .where(comp.c.case_id == case_id, comp.c.state == "approved")).all()
            if not rows:
                raise ConfigError(f"案件 {case_id} 没有已批准待送达的补偿 / case {case_id} has no approved remedy to deliver")
            conn.execute(comp.update().where(comp.c.case_id == case_id, comp.c.state == "approved")
                         .values(state="delivered", delivered_by=actor.name, delivered_at=now,
                                 version=comp.c.version + 1))
            summary = "、".join(f"{KIND_ZH[k]} {_yuan(a)}" for k, a in rows)
            return transition_in(conn, case_id, expected_version, "remedy_delivered", actor=actor.name, via=via,
                                 reason=f"补偿已送达：{summary}" + (f"；{note}" if note else ""), at=now)
    except AccessDenied as e:
        log_denied(store, actor, "deliver", e, case_id=case_id)
        raise


def record_policy_coupon(conn: sa.Connection, *, case_id: int, kind: str, amount_fen: int, actor: str, role: str,
                         at: dt.datetime, expires_at: dt.datetime | None = None, stackable: bool = False,
                         note: str | None = None) -> int:
    """A coupon the policy itself grants (day-3 care, V2 repurchase, P4 delay): delivered at once, decided by
    ``policy``; it counts towards the customer's rolling-window total like any remedy."""
    ctx = _context(conn, case_id)
    return int(conn.execute(_insert_stmt(), dict(
        case_id=case_id, shop_id=ctx.shop_id, customer_id=ctx.customer_id, order_id=ctx.order_id, kind=kind,
        amount_fen=_check_fen(int(amount_fen), amount_fen / 100), state="delivered", stackable=stackable,
        expires_at=expires_at, note=note, requested_by=actor, requested_role=role, requested_at=at,
        decided_by="policy", decided_role="policy", decided_at=at,
        decision_reason="策略规定的跟进券 / granted by the policy's follow-up cadence", delivered_by=actor,
        delivered_at=at, policy_version=ctx.policy.version, version=1)).scalar_one())


# ----------------------------------------------------------------- reading
def _shown(text: str | None) -> str | None:
    """What staff typed (a note, a reason), as shown to anyone: personal numbers masked (P-02)."""
    from ..core.privacy import mask_text

    return None if text is None else mask_text(str(text))


def case_ledger(conn: sa.Connection, case_id: int) -> list[dict[str, Any]]:
    """The case's ledger rows, oldest first, with Chinese labels; ``note`` and ``decision_reason`` masked
    (:func:`reviewops.core.privacy.mask_text`: what staff typed is shown like imported text)."""
    from ..core.store import compensations as comp

    rows = conn.execute(sa.select(comp).where(comp.c.case_id == case_id).order_by(comp.c.id)).mappings().all()
    return [{**r, "note": _shown(r["note"]), "decision_reason": _shown(r["decision_reason"]),
             "kind_zh": KIND_ZH.get(r["kind"], r["kind"]), "state_zh": STATE_ZH.get(r["state"], r["state"]),
             "amount_yuan": _yuan(r["amount_fen"])} for r in rows]


def pending_approvals(store: "Store", actor: "Actor", *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Cases waiting for approval in the actor's shops, oldest request first, with ``may_approve`` and why not."""
    from ..core.store import cases, shops, utcnow

    now = now or utcnow()
    out: list[dict[str, Any]] = []
    with store.read() as conn:
        q = (sa.select(cases.c.id, cases.c.version, cases.c.shop_id, cases.c.primary_category, shops.c.platform,
                       shops.c.name.label("shop"))
             .select_from(cases.join(shops, shops.c.id == cases.c.shop_id))
             .where(cases.c.state == "pending_approval").order_by(cases.c.updated_at, cases.c.id))
        for c in conn.execute(q).all():
            if not actor.may_see_shop(c.shop_id):
                continue
            rows = _pending_rows(conn, c.id)
            if not rows:
                continue
            ctx = _context(conn, c.id, lock=False)
            requesters = sorted({r.requested_by for r in rows})
            why = []
            if actor.name in requesters:
                why.append("这是您自己提出的补偿")
            why += _authority(conn, ctx, actor.role, 0, now)
            money_why, flags = _inbox_money(conn, ctx, rows)
            why += money_why
            case_total, window_total = _totals(conn, ctx, actor.window_days, now)
            out.append({
                "case_id": c.id, "version": c.version, "platform": c.platform, "shop": c.shop,
                "primary_category": c.primary_category, "flags": "；".join(flags),
                "items": "、".join(f"{KIND_ZH[r.kind]} {_yuan(r.amount_fen)}" for r in rows),
                "total_fen": sum(r.amount_fen for r in rows), "case_total_fen": case_total,
                "window_total_fen": window_total, "order_value_fen": ctx.order_value_fen,
                "requested_by": "、".join(requesters), "requested_at": min(r.requested_at for r in rows),
                "note": "；".join(_shown(r.note) or "" for r in rows if r.note), "may_approve": not why, "why_not": "；".join(why),
            })
    return out
