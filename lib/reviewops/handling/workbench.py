"""The operator workbench: what the forms call (issue 4).

:class:`Workbench` binds the store to one signed-in :class:`~reviewops.core.users.Actor` — made by
the server from its own identity (:func:`reviewops.serve.open_session`), never from widget
values — and offers the day's work as plain Python: the queue, one case with everything
needed to handle it, the four H1 steps, approvals and follow-ups. Every method — reads
included — first re-reads the user from the store (role, shops, active: one small query,
:func:`reviewops.core.users.current_actor`), so a page left open by a user who was disabled or
moved to other shops shows nothing more from the next refresh; every method checks the
actor's shops; every write checks the case's ``version`` (a stale save raises
:class:`~reviewops.core.errors.ConflictError` with what changed, and overwrites nothing, R-04);
refusals raise :class:`~reviewops.core.errors.AccessDenied` and are written to the access log
(refused reads as action ``read``, target = the view).

Everything returned for display is masked (phones, names, addresses; personal numbers in
every free text — review, chat, and what staff typed: diagnosis, reply, contact notes,
ledger notes and reasons, follow-up reasons and messages) and is *text*: the forms show it
escaped, never as HTML (S-04).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..core.errors import AccessDenied, ConfigError, NotFound
from ..core.policy import CATEGORY_CODES, CATEGORY_ZH, SEVERITY_ZH, fen_to_yuan_text
from ..core.sla import SLA_STATUS_ZH
from .cases import STATE_ZH, allowed_transitions, transition_case

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.sla import SlaCalendar
    from ..core.store import Store
    from ..core.users import Actor
    from .remedy import Remedy
    from .replies import Draft

__all__ = ["ACTION_ZH", "CHANNELS", "PROBLEMS", "CaseView", "Suggestion", "Workbench", "describe_conflict",
           "one_transaction"]

#: H1 step 1: the confirmed problems an operator picks from, each pointing to a category.
PROBLEMS: dict[str, str] = {
    "漏发": "missing_wrong", "错发": "missing_wrong", "尺码不符": "size", "质量问题": "quality", "破损": "quality",
    "物流延误": "logistics", "快递丢件": "logistics", "描述不符": "description", "色差": "description",
    "服务态度": "service", "回复不及时": "service", "价格问题": "price", "恶意差评/勒索": "malicious", "其他": "other",
}
CHANNELS = {"chat": "在线聊天", "phone": "电话", "sms": "短信", "platform_message": "平台站内信"}
ACTION_ZH = {
    "take": "领取案件", "contact": "记录联系", "diagnose": "保存诊断", "save_reply": "保存回复", "propose": "提出补偿",
    "approve": "批准", "reject": "驳回", "deliver": "确认补偿送达", "resolve": "标记已解决", "escalate": "升级",
    "appeal": "发起平台申诉", "close": "关闭案件",
}
MAX_QUEUE = 500


def _utcnow() -> dt.datetime:
    from ..core.store import utcnow

    return utcnow()


def _local(t: dt.datetime | None) -> str:
    from ..core.outputs import fmt_time  # Beijing time, the one formatter for people

    return fmt_time(t)


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen_to_yuan_text(int(fen))} 元"


def _mask(text: str | None) -> str:
    from ..core.privacy import mask_text

    return "" if text is None else (mask_text(str(text)) or "")


def _masked_diagnosis(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """The stored diagnosis with the operator's words masked (problems and category are codes)."""
    if diagnosis.get("text"):
        return {**diagnosis, "text": _mask(diagnosis["text"])}
    return diagnosis


@dataclass
class CaseView:
    """One case as the 案件处理 form shows it (all personal data masked; all strings are text)."""

    case_id: int
    version: int
    state: str
    state_zh: str
    shop_id: int
    shop: str
    platform: str
    primary_category: str
    categories: list[str]
    severity: str
    owner_role: str
    assignee: str | None
    due_local: str
    sla_status: str
    sla_status_zh: str
    review: dict[str, Any]
    review_versions: list[dict[str, Any]]
    order: dict[str, Any] | None
    items: list[dict[str, Any]]
    shipment: dict[str, Any] | None
    customer: dict[str, Any]
    reasons: list[str]
    diagnosis: dict[str, Any]
    draft: "Draft"
    reply_text: str
    remedy: "Remedy"
    suggested_items: list[dict[str, Any]]
    approval_note: str
    ledger: list[dict[str, Any]]
    followups: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    chats: list[dict[str, Any]]
    actions: list[str]
    unmask_fields: list[str] = field(default_factory=list)


@dataclass
class Suggestion:
    """What the workbench suggests for a case: the drafted 3S reply, the policy's remedy and its ledger items."""

    draft: "Draft"
    remedy: "Remedy"
    suggested_items: list[dict[str, Any]]


def describe_conflict(store: "Store", case_id: int, since_version: int) -> list[dict[str, Any]]:
    """What others changed on a case after ``since_version``: [{version, at, actor, action, field, before, after}]."""
    from ..core.store import case_events

    with store.read() as conn:
        rows = conn.execute(sa.select(case_events).where(case_events.c.case_id == case_id,
                                                         case_events.c.version_from >= since_version)
                            .order_by(case_events.c.version_from)).mappings().all()
    out = []
    for r in rows:
        before = json.loads(r["before_json"] or "{}")
        after = json.loads(r["after_json"] or "{}")
        for k, v in after.items():
            if k in ("sla_state_json", "triage_json"):
                continue
            out.append({"version": r["version_to"], "at": _local(r["at"]), "actor": r["actor"], "action": r["action"],
                        "field": k, "before": "" if before.get(k) is None else _mask(str(before.get(k))),
                        "after": "" if v is None else _mask(str(v))})
    return out


@functools.cache
def _stmts() -> dict[str, Any]:
    """The workbench's per-step lookups, built once with bind parameters (the demo's history runs each of
    them thousands of times; SQLAlchemy then reuses the compiled form)."""
    from ..core.store import cases, orders, reviews, shops

    case = cases.c.id == sa.bindparam("case_id")
    return {
        "shop_of": sa.select(cases.c.shop_id).where(case),
        "state": sa.select(cases.c.state, cases.c.assignee).where(case),
        "category": sa.select(cases.c.primary_category).where(case),
        "platform": sa.select(shops.c.platform).select_from(cases.join(shops, shops.c.id == cases.c.shop_id))
        .where(case),
        "owner_role": sa.select(cases.c.owner_role).where(case),
        "suggestion": sa.select(cases.c.shop_id, cases.c.primary_category, cases.c.diagnosis_json, shops.c.platform,
                                reviews.c.customer_id, reviews.c.order_id)
        .select_from(cases.join(shops, shops.c.id == cases.c.shop_id).outerjoin(reviews, reviews.c.id == cases.c.review_pk))
        .where(case),
        "order_paid": sa.select(orders.c.paid_fen, orders.c.customer_id).where(
            orders.c.shop_id == sa.bindparam("shop_id"), orders.c.order_id == sa.bindparam("order_id")),
    }


def _one_read(method: Any) -> Any:
    """Run a read-only method's reads on one connection in one read transaction (:meth:`Workbench._reads`)."""

    @functools.wraps(method)
    def wrapper(self: "Workbench", *args: Any, **kwargs: Any) -> Any:
        with self._reads():
            return method(self, *args, **kwargs)

    return wrapper


class Workbench:
    """The signed-in ``actor``'s view of the store; every form action is one method.

    One instance serves one page (one user, one thread): a method may bind ``self.store`` to one read
    transaction while it runs (:meth:`_reads`)."""

    def __init__(self, store: "Store", actor: "Actor", *, via: str = "form", policy: "Policy | None" = None):
        self.store = store
        self.actor = actor
        self.via = via
        self._policy = policy

    # ----------------------------------------------------------- helpers
    @property
    def policy(self) -> "Policy":
        from ..core.policy import current_policy

        if self._policy is None:
            self._policy = current_policy(self.store, actor=self.actor.name)
        return self._policy

    @contextlib.contextmanager
    def _reads(self) -> Iterator[None]:
        """Every ``store.read()`` inside the block runs on one connection, in one read transaction (issue 21: with
        many seats on PostgreSQL, each separate read cost a pool checkout with its liveness ping, a ``BEGIN`` and
        an end — four round trips — and under CPU contention every round trip waits for a core). A write inside
        (a refusal written to the access log) still goes through the store's own connections. Nested, or inside
        :func:`one_transaction`, it changes nothing."""
        if isinstance(self.store, (_BoundStore, _ReadBoundStore)):
            yield
            return
        outer = self.store
        with outer.read() as conn:
            self.store = _ReadBoundStore(outer, conn)
            try:
                yield
            finally:
                self.store = outer

    def _deny(self, action: str, err: Exception, case_id: int | None = None, shop_id: int | None = None) -> None:
        from ..core.users import log_denied

        log_denied(self.store, self.actor, action, err, case_id=case_id, shop_id=shop_id)

    def _fresh(self, action: str | None = None, case_id: int | None = None) -> None:
        """Re-read the actor from the store before a write: a user disabled or given another role
        while their page is open acts with what the store says now (AccessDenied when disabled;
        logged as a refusal of ``action`` when given)."""
        from ..core.users import get_actor

        try:
            self.actor = get_actor(self.store, self.actor.name, policy=self.policy)
        except AccessDenied as e:
            if action is not None:
                ok = isinstance(case_id, int) and not isinstance(case_id, bool)
                self._deny(action, e, case_id if ok else None)
            raise

    def _read(self, view: str, case_id: int | None = None) -> None:
        """Re-read the actor from the store before a read (:func:`reviewops.core.users.current_actor`: one
        small query); a disabled user gets :class:`AccessDenied`, logged as a refused read of ``view``."""
        from ..core.users import current_actor

        self.actor = current_actor(self.store, self.actor, view=view, policy=self.policy, case_id=case_id)

    def _case_shop(self, case_id: int, action: str, view: str = "case") -> int:
        """The case's shop after checking the actor (re-read from the store) may see it (refusals audited;
        ``action`` ``view`` is a read: refused as action ``read``, target ``case``)."""
        if action == "view":
            self._read(view, case_id if isinstance(case_id, int) and not isinstance(case_id, bool) else None)
        else:
            self._fresh(action, case_id if isinstance(case_id, int) and not isinstance(case_id, bool) else None)
        if isinstance(case_id, bool) or not isinstance(case_id, int):
            raise ConfigError(f"案件编号应为整数，收到 {case_id!r} / case id must be an integer, got {case_id!r}")
        known = getattr(self.store, "case_shops", None)  # inside one_transaction: a case never changes shop
        shop = known.get(case_id) if known is not None else None
        if shop is None:
            with self.store.read() as conn:
                shop = conn.execute(_stmts()["shop_of"], {"case_id": case_id}).scalar_one_or_none()
            if known is not None and shop is not None:
                known[case_id] = shop
        if shop is None:
            raise NotFound(f"案件不存在 case {case_id} does not exist; check the case number")
        try:
            self.actor.check_shop(shop, what="案件")
        except AccessDenied as e:
            if action == "view":
                from ..core.users import log_read_denied

                log_read_denied(self.store, self.actor, view, e, case_id=case_id, shop_id=shop)
            else:
                self._deny(action, e, case_id, shop)
            raise
        return int(shop)

    def _require_role(self, action: str, roles: Iterable[str], case_id: int | None = None) -> None:
        roles = tuple(roles)
        if self.actor.role not in roles and self.actor.role != "admin":
            err = AccessDenied(f"{self.actor.label}无权执行“{ACTION_ZH.get(action, action)}”；需要角色：{'、'.join(roles)}\n"
                               f"{self.actor.role} may not {action}; needs one of {', '.join(roles)}")
            self._deny(action, err, case_id)
            raise err

    # ----------------------------------------------------------- queue
    @_one_read
    def queue(self, *, mine: bool = False, role: str | None = None, category: str | None = None,
              platform: str | None = None, shop_id: int | None = None, include_closed: bool = False,
              states: Iterable[str] | None = None, since: dt.datetime | None = None,
              limit: int = 200, now: dt.datetime | None = None) -> pd.DataFrame:
        """Cases awaiting action in the actor's shops (:func:`reviewops.handling.cases.case_queue`, the one queue of
        every surface): not-yet-contacted first by SLA deadline, then severity.

        ``states`` keeps exactly those case states instead (resolved ones too); ``include_closed`` lists every
        case; ``since`` (aware) only cases opened at or after it. All filter before ``limit`` (at most
        :data:`MAX_QUEUE`).

        Columns :data:`reviewops.handling.cases.QUEUE_COLUMNS`: case_id, version, state, state_zh, platform, shop_id,
        shop, rating, primary_category, category_zh, severity, severity_zh, owner_role, assignee, created_at,
        due_at, due_local, minutes_left (None once contacted), sla_status (running | warning | breached | met |
        late, :data:`reviewops.core.sla.SLA_STATUSES`), sla_status_zh, excerpt (masked).
        """
        from .cases import case_queue

        self._read("queue")
        return case_queue(self.store, now=now, shop_ids=self.actor.shops, assignee=self.actor.name if mine else None,
                          role=role, category=category, platform=platform, shop_id=shop_id, states=states,
                          include_done=include_closed, since=since, limit=max(1, min(int(limit), MAX_QUEUE)),
                          policy=self.policy)

    @staticmethod
    def queue_counts(df: pd.DataFrame) -> dict[str, int]:
        """Counts for the queue header: total, breached, warning, unanswered (clock still running), by severity."""
        from ..core.sla import UNANSWERED_STATUSES

        return {
            "total": int(len(df)), "breached": int((df["sla_status"] == "breached").sum()),
            "warning": int((df["sla_status"] == "warning").sum()),
            "unanswered": int(df["sla_status"].isin(UNANSWERED_STATUSES).sum()),
            **{f"severity_{s}": int((df["severity"] == s).sum()) for s in SEVERITY_ZH},
        }

    @_one_read
    def shops(self) -> list[dict[str, Any]]:
        """The shops the actor may see: id, platform, name."""
        from ..core.store import shops

        self._read("shops")
        with self.store.read() as conn:
            rows = conn.execute(sa.select(shops.c.id, shops.c.platform, shops.c.name).order_by(shops.c.id)).all()
        return [{"id": r.id, "platform": r.platform, "name": r.name} for r in rows if self.actor.may_see_shop(r.id)]

    # ----------------------------------------------------------- one case
    @_one_read
    def case(self, case_id: int, *, now: dt.datetime | None = None) -> CaseView:
        """Everything the 案件处理 form shows for one case (masked)."""
        from ..core.store import (
            case_events,
            cases,
            chat_messages,
            order_lines,
            orders,
            review_versions,
            reviews,
            shipments,
            shops,
            utcnow,
        )
        from .followups import case_followups
        from .ledger import case_ledger, customer_tier

        now = now or utcnow()
        self._case_shop(case_id, "view")
        policy = self.policy
        with self.store.read() as conn:
            c = conn.execute(sa.select(cases, shops.c.platform, shops.c.name.label("shop_name"))
                             .select_from(cases.join(shops, shops.c.id == cases.c.shop_id))
                             .where(cases.c.id == case_id)).mappings().one()
            rv = conn.execute(sa.select(reviews).where(reviews.c.id == c["review_pk"])).mappings().first()
            versions = [] if rv is None else [
                {"version": v["version"], "observed_local": _local(v["observed_at"]), "rating": v["rating_raw"] or "",
                 "content": _mask(v["content"]), "append_content": _mask(v["append_content"])}
                for v in conn.execute(sa.select(review_versions).where(review_versions.c.review_pk == rv["id"])
                                      .order_by(review_versions.c.version)).mappings()]
            order = items = shipment = None
            customer_id = rv["customer_id"] if rv is not None else None
            if rv is not None and rv["order_id"]:
                o = conn.execute(sa.select(orders).where(orders.c.shop_id == c["shop_id"],
                                                         orders.c.order_id == rv["order_id"])).mappings().first()
                if o is not None:
                    customer_id = customer_id or o["customer_id"]
                    order = {"order_id": o["order_id"], "paid_fen": o["paid_fen"], "paid": _yuan(o["paid_fen"]),
                             "created_local": _local(o["created_at"]), "status": o["status_raw"] or "",
                             "receiver_name": o["receiver_name_masked"] or "", "receiver_phone":
                             o["receiver_phone_masked"] or "", "receiver_address": o["receiver_address_masked"] or "",
                             "carrier": o["carrier"] or "", "tracking_no": o["tracking_no"] or "",
                             "buyer_message": _mask(o["buyer_message"])}
                items = [{"title": li["title"] or "", "sku": li["sku_spec"] or "", "quantity": li["quantity"],
                          "paid": _yuan(li["paid_fen"] if li["paid_fen"] is not None else
                                        (li["unit_price_fen"] * (li["quantity"] or 1)
                                         if li["unit_price_fen"] is not None else None))}
                         for li in conn.execute(sa.select(order_lines).where(
                             order_lines.c.shop_id == c["shop_id"], order_lines.c.order_id == rv["order_id"])
                             .order_by(order_lines.c.line_id)).mappings()]
                s = conn.execute(sa.select(shipments).where(shipments.c.shop_id == c["shop_id"],
                                                            shipments.c.order_id == rv["order_id"])
                                 .order_by(shipments.c.id.desc())).mappings().first()
                if s is not None:
                    shipment = {"carrier": s["carrier"] or "", "tracking_no": s["tracking_no"], "status":
                                s["status"] or "", "status_raw": s["status_raw"] or "", "shipped_local":
                                _local(s["shipped_at"]), "promised_local": _local(s["promised_at"]),
                                "signed_local": _local(s["signed_at"]), "last_event_local": _local(s["last_event_at"])}
            tier = customer_tier(conn, customer_id, policy, now)
            customer = self._profile(conn, customer_id, c["shop_id"], case_id, tier, rv)
            ledger = case_ledger(conn, case_id)
            followups = [{**f, "reason": _mask(f.get("reason")) if f.get("reason") is not None else None,
                          "message": _mask(f.get("message")) if f.get("message") is not None else None}
                         for f in case_followups(conn, case_id)]
            contacts = []
            for e in conn.execute(sa.select(case_events).where(case_events.c.case_id == case_id)
                                  .order_by(case_events.c.version_from)).mappings():
                after = json.loads(e["after_json"] or "{}")
                if "last_contact_note" in after:
                    contacts.append({"at": _local(e["at"]), "actor": e["actor"],
                                     "channel": CHANNELS.get(after.get("last_contact_channel") or "", ""),
                                     "note": _mask(after.get("last_contact_note"))})
            chats = []
            if customer_id is not None:
                chats = [{"at": _local(m["sent_at"]), "who": m["sender_role"] or "", "text": _mask(m["content"])}
                         for m in conn.execute(sa.select(chat_messages).where(chat_messages.c.customer_id == customer_id)
                                               .order_by(chat_messages.c.sent_at.desc()).limit(30)).mappings()][::-1]
        triage = json.loads(c["triage_json"] or "{}")
        categories = [x for x in (c["categories"] or "").split(";") if x]
        diagnosis = json.loads(c["diagnosis_json"] or "{}")
        value = order["paid_fen"] if order and order["paid_fen"] is not None else None
        sug = self._suggestion_of(c["primary_category"], c["platform"], diagnosis, value, tier["code"], case_id)
        remedy, suggested, draft = sug.remedy, sug.suggested_items, sug.draft
        total = sum(i["amount_fen"] for i in suggested)
        approval_note = self._approval_note(case_id, total)
        status = self._sla_status(c["first_contact_at"], c["sla_due_at"], c["sla_hours"], now)
        malicious = c["primary_category"] == "malicious" or "malicious" in categories
        return CaseView(
            case_id=case_id, version=c["version"], state=c["state"], state_zh=STATE_ZH.get(c["state"], c["state"]),
            shop_id=c["shop_id"], shop=c["shop_name"], platform=c["platform"],
            primary_category=c["primary_category"] or "other", categories=categories,
            severity=c["severity"] or "", owner_role=c["owner_role"] or "", assignee=c["assignee"],
            due_local=_local(c["sla_due_at"]), sla_status=status, sla_status_zh=SLA_STATUS_ZH[status],
            review={} if rv is None else {
                "rating": rv["rating_raw"] or "", "content": _mask(rv["content"]),
                "append_content": _mask(rv["append_content"]), "created_local": _local(rv["created_at"]),
                "append_local": _local(rv["append_created_at"]), "product_title": rv["product_title"] or "",
                "sku": rv["sku_text"] or "", "nick": rv["buyer_nick_masked"] or "",
                "seller_reply": _mask(rv["seller_reply"]), "order_id": rv["order_id"] or "",
            },
            review_versions=versions, order=order, items=items or [], shipment=shipment, customer=customer,
            reasons=list(triage.get("reasons") or []), diagnosis=_masked_diagnosis(diagnosis), draft=draft,
            reply_text=_mask(c["reply_text"]), remedy=remedy, suggested_items=suggested, approval_note=approval_note,
            ledger=ledger, followups=followups, contacts=contacts, chats=chats,
            actions=self.actions_for(c["state"], malicious=malicious, assignee=c["assignee"]),
            unmask_fields=["receiver_name", "receiver_phone", "receiver_address"] if self.actor.can_unmask else [],
        )

    @functools.cached_property
    def _sla_clock(self) -> tuple["SlaCalendar", float]:
        """The policy's SLA calendar and the warning fraction (the largest of 时效提醒比例)."""
        from ..core.clock import calendar_of
        from ..core.sla import warning_fraction

        return calendar_of(self.policy), warning_fraction(self.policy.setting("sla_warn_fractions"))

    def _sla_status(self, first_contact_at: dt.datetime | None, due: dt.datetime | None, sla_hours: float | None,
                    now: dt.datetime) -> str:
        """The case's :func:`reviewops.core.sla.sla_status` under this workbench's policy."""
        from ..core.sla import sla_status

        cal, warn = self._sla_clock
        return sla_status(first_contact_at, due, now, budget_minutes=None if sla_hours is None else sla_hours * 60.0,
                          cal=cal, warn=warn)

    def _profile(self, conn: sa.Connection, customer_id: int | None, shop_id: int, case_id: int,
                 tier: dict[str, Any], rv: Any) -> dict[str, Any]:
        """V1: the customer's tier, history and preferences (masked)."""
        from ..core.store import cases, customers, order_lines, orders, reviews

        out: dict[str, Any] = {"tier": tier["code"], "tier_zh": tier["name_zh"], "tier_reason": tier.get("reason", ""),
                               "gift": tier.get("gift") or "", "gift_cap": _yuan(tier.get("gift_cost_limit_fen")),
                               "approach": tier.get("approach") or "", "nick": (rv["buyer_nick_masked"] if rv else "")
                               or "", "orders": 0, "spend_365": "0 元", "spend_total": "0 元", "last_order_local": "", "other_cases": 0,
                               "negative_reviews": 0, "top_products": []}
        if customer_id is None:
            return out
        cu = conn.execute(sa.select(customers.c.nick_masked).where(customers.c.id == customer_id)).first()
        n, spend, last = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(orders.c.paid_fen), 0),
                                                sa.func.max(orders.c.created_at))
                                      .where(orders.c.customer_id == customer_id)).one()
        year_ago = (last or _utcnow()) - dt.timedelta(days=365)
        spend_365 = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(orders.c.paid_fen), 0))
                                 .where(orders.c.customer_id == customer_id, orders.c.created_at >= year_ago)).scalar_one()
        top = conn.execute(sa.select(order_lines.c.title, sa.func.count().label("n"))
                           .select_from(order_lines.join(orders, sa.and_(orders.c.shop_id == order_lines.c.shop_id,
                                                                         orders.c.order_id == order_lines.c.order_id)))
                           .where(orders.c.customer_id == customer_id).group_by(order_lines.c.title)
                           .order_by(sa.desc("n")).limit(3)).all()
        other = conn.execute(sa.select(sa.func.count()).select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk))
                             .where(reviews.c.customer_id == customer_id, cases.c.id != case_id)).scalar_one()
        neg = conn.execute(sa.select(sa.func.count()).select_from(reviews)
                           .where(reviews.c.customer_id == customer_id, reviews.c.rating_class == "negative")).scalar_one()
        out.update({"nick": (cu.nick_masked if cu else None) or out["nick"], "orders": int(n),
                    "spend_total": _yuan(int(spend)), "spend_365": _yuan(int(spend_365)), "last_order_local": _local(last), "other_cases": int(other),
                    "negative_reviews": int(neg), "top_products": [t.title for t in top if t.title]})
        return out

    def _suggest(self, remedy: "Remedy", value: int | None) -> list[dict[str, Any]]:
        """The policy's remedy as ledger items (refund/resend of the order value + coupon; the tier's gift)."""
        items: list[dict[str, Any]] = []
        if value and remedy.remedy in ("refund", "resend"):
            items.append({"kind": remedy.remedy, "amount_fen": int(value)})
        if remedy.coupon_fen:
            items.append({"kind": "coupon", "amount_fen": int(remedy.coupon_fen)})
        if remedy.gift and remedy.gift_cost_limit_fen:
            items.append({"kind": "gift", "amount_fen": int(remedy.gift_cost_limit_fen), "note": remedy.gift})
        return items

    def _suggestion_of(self, category: str | None, platform: str, diagnosis: dict[str, Any], value: int | None,
                       tier_code: str, case_id: int | None = None) -> "Suggestion":
        """The policy's remedy for the order value and tier, as ledger items, and the 3S reply drafted
        with the diagnosed problems (what :meth:`case` and :meth:`suggestion` both show). With ``case_id``
        the items are cut to what the ledger accepts (:func:`reviewops.handling.ledger.fit_suggestion`: the refund
        to what the order can still refund, the gift to what the tier's cap leaves)."""
        from .remedy import remedy_for
        from .replies import draft_reply

        policy = self.policy
        remedy = remedy_for(int(value or 0), tier_code, policy=policy)
        problem = "、".join(diagnosis.get("problems") or []) or None
        draft = draft_reply("reply_3s", category=category or "other", platform=platform, problem=problem,
                            remedy=remedy, policy=policy)
        items = self._suggest(remedy, value)
        if case_id is not None:
            from .ledger import fit_suggestion

            items = fit_suggestion(self.store, case_id, items)
        return Suggestion(draft=draft, remedy=remedy, suggested_items=items)

    @_one_read
    def suggestion(self, case_id: int, *, now: dt.datetime | None = None) -> "Suggestion":
        """The drafted 3S reply and the suggested remedy of one case — the same as :meth:`case`'s ``draft``,
        ``remedy`` and ``suggested_items`` — without the rest of the case view (customer profile, chats,
        ledger, versions): for callers that only act on the suggestion. Access checked as :meth:`case`."""
        from ..core.store import utcnow
        from .ledger import customer_tier

        now = now or utcnow()
        self._case_shop(case_id, "view", view="suggestion")
        q = _stmts()
        with self.store.read() as conn:
            c = conn.execute(q["suggestion"], {"case_id": case_id}).one()
            customer_id, value = c.customer_id, None
            if c.order_id:
                o = conn.execute(q["order_paid"], {"shop_id": c.shop_id, "order_id": c.order_id}).first()
                if o is not None:
                    customer_id, value = customer_id or o.customer_id, o.paid_fen
            tier = customer_tier(conn, customer_id, self.policy, now)
        return self._suggestion_of(c.primary_category, c.platform, json.loads(c.diagnosis_json or "{}"), value,
                                   tier["code"], case_id)

    def _approval_note(self, case_id: int, total_fen: int) -> str:
        """Who may approve ``total_fen`` more on this case, as a sentence for the form."""
        from ..core.store import utcnow
        from .ledger import _authority, _context, _needed_role, _role_zh

        if total_fen <= 0:
            return "主管决定档：请与主管商定方案后填写金额" if total_fen == 0 else ""
        now = utcnow()
        with self.store.read() as conn:
            ctx = _context(conn, case_id, lock=False)
            problems = _authority(conn, ctx, self.actor.role, total_fen, now)
            if not problems:
                return f"合计 {_yuan(total_fen)}，在您（{self.actor.role_zh}）的审批权限内，提交即批准"
            needed = _needed_role(conn, ctx, self.actor.role, total_fen, now)
            return "；".join(problems) + f"；提交后需{_role_zh(ctx.policy, needed)}审批"

    def actions_for(self, state: str, *, malicious: bool, assignee: str | None = None) -> list[str]:
        """The action buttons the actor may use on a case in ``state`` (codes of :data:`ACTION_ZH`)."""
        nxt = set(allowed_transitions(state, malicious=malicious))
        acts = []
        if state not in ("resolved", "follow_up_done", "closed") and assignee != self.actor.name:
            acts.append("take")
        if state != "closed":
            acts += ["diagnose", "save_reply"]
        if "contacted" in nxt or state in ("contacted", "remedy_proposed", "remedy_delivered", "escalated", "appeal"):
            acts.append("contact")
        if "remedy_proposed" in nxt and state in ("contacted", "escalated"):
            acts.append("propose")
        if state == "pending_approval" and (self.actor.role in ("supervisor", "admin") or self.actor.case_limit_fen > 0):
            acts += ["approve", "reject"]
        if "remedy_delivered" in nxt:
            acts.append("deliver")
        if "resolved" in nxt:
            acts.append("resolve")
        for a in ("escalated", "appeal", "closed"):
            if a in nxt:
                acts.append({"escalated": "escalate", "appeal": "appeal", "closed": "close"}[a])
        if self.actor.role == "agent":
            acts = [a for a in acts if a not in ("approve", "reject", "appeal", "close")]
        return acts

    # ----------------------------------------------------------- writes
    def _update(self, case_id: int, version: int, changes: dict[str, Any], action: str) -> int:
        from ..core.store import update_case

        with self._reads():
            self._case_shop(case_id, action)
        with self.store.write() as conn:
            return update_case(conn, case_id, version, changes, actor=self.actor.name, via=self.via, action=action)

    def take(self, case_id: int, version: int) -> int:
        """Assign the case to the actor (领取)."""
        return self._update(case_id, version, {"assignee": self.actor.name}, "assign")

    def record_contact(self, case_id: int, version: int, *, channel: str, note: str) -> int:
        """Log a contact with the customer; the first one moves the case to ``contacted`` and stops the SLA clock."""
        from .cases import transition_in

        if channel not in CHANNELS:
            raise ConfigError(f"未知的联系方式 {channel!r}；可选：{'、'.join(CHANNELS.values())} / unknown channel {channel!r}")
        note = (note or "").strip()
        if not note:
            raise ConfigError("请填写联系记录（与客户沟通了什么）/ write what was said in the contact")
        with self._reads():
            self._case_shop(case_id, "contact")
        with self.store.write() as conn:
            state, assignee = conn.execute(_stmts()["state"], {"case_id": case_id}).one()
            changes = {"last_contact_channel": channel, "last_contact_note": note[:2000]}
            if not assignee:
                changes["assignee"] = self.actor.name
            if state in ("new", "escalated", "appeal"):
                return transition_in(conn, case_id, version, "contacted", actor=self.actor.name, via=self.via,
                                     changes=changes, reason=None)
            from ..core.store import update_case

            return update_case(conn, case_id, version, changes, actor=self.actor.name, via=self.via, action="contact")

    def save_diagnosis(self, case_id: int, version: int, *, problems: list[str], text: str = "",
                       category: str | None = None) -> int:
        """H1 step 1: the confirmed problems (from :data:`PROBLEMS`) and notes; a different ``category``
        corrects the case's primary category (kept as a training label for the text model)."""
        from .opening import recategorize_case

        bad = [p for p in problems if p not in PROBLEMS]
        if bad:
            raise ConfigError(f"未知的问题类型 {bad}；可选：{'、'.join(PROBLEMS)} / unknown problem(s) {bad}")
        if not problems and not (text or "").strip():
            raise ConfigError("请至少选择一个问题或填写说明 / pick at least one problem or write a note")
        if category is not None and category not in CATEGORY_CODES:
            raise ConfigError(f"未知分类 {category!r} / unknown category {category!r}")

        # one transaction, one version check: the diagnosis and the corrected category are saved together or
        # not at all (a save by someone else in between cannot leave the diagnosis saved and the category not)
        with one_transaction(self.store) as tx:
            wb = Workbench(tx, self.actor, via=self.via, policy=self.policy)
            diagnosis = {"problems": list(problems), "text": (text or "").strip()[:2000], "category": category,
                         "by": self.actor.name}
            v = wb._update(case_id, version, {"diagnosis_json": json.dumps(diagnosis, ensure_ascii=False)},
                           "diagnose")
            self.actor = wb.actor
            with tx.read() as conn:
                current = conn.execute(_stmts()["category"], {"case_id": case_id}).scalar_one()
            if category and category != current:
                v = recategorize_case(tx, case_id, v, category, actor=self.actor.name, via=self.via,
                                      note=f"诊断更正分类：{CATEGORY_ZH.get(current, current)} → {CATEGORY_ZH[category]}")
        return v

    def save_reply(self, case_id: int, version: int, text: str) -> int:
        """Save the (edited) 3S reply after the compliance and platform-length check."""
        from ..core.errors import ComplianceBlocked
        from .replies import check_message

        with self._reads():
            self._case_shop(case_id, "save_reply")
            with self.store.read() as conn:
                platform = conn.execute(_stmts()["platform"], {"case_id": case_id}).scalar_one()
        text = (text or "").strip()
        if not text:
            raise ConfigError("回复内容为空 / the reply is empty")
        problems = check_message(text, platform=platform, policy=self.policy)
        if problems:
            raise ComplianceBlocked("回复不能保存：" + "；".join(problems))
        return self._update(case_id, version, {"reply_text": text}, "reply")

    def propose(self, case_id: int, version: int, items: list[dict[str, Any]], *, note: str | None = None):
        """H1 step 2: propose remedies (kind + amount in fen); see :func:`reviewops.handling.ledger.propose`."""
        from .ledger import RemedyItem, propose

        self._case_shop(case_id, "propose")
        return propose(self.store, self.actor, case_id, version, [RemedyItem(**i) for i in items], via=self.via,
                       note=note)

    def approvals(self) -> list[dict[str, Any]]:
        """The 审批 inbox: cases pending approval in the actor's shops, with whether the actor may decide."""
        from .ledger import pending_approvals

        self._read("approvals")
        return pending_approvals(self.store, self.actor)

    def approve(self, case_id: int, version: int, reason: str | None = None) -> int:
        from .ledger import approve

        self._fresh("approve", case_id)
        self._require_role("approve", ("supervisor", "admin", "legal"), case_id)
        return approve(self.store, self.actor, case_id, version, reason=reason, via=self.via)

    def reject(self, case_id: int, version: int, reason: str) -> int:
        from .ledger import reject

        self._fresh("reject", case_id)
        self._require_role("reject", ("supervisor", "admin", "legal"), case_id)
        return reject(self.store, self.actor, case_id, version, reason=reason, via=self.via)

    def deliver(self, case_id: int, version: int, note: str | None = None) -> int:
        from .ledger import deliver

        self._fresh("deliver", case_id)
        return deliver(self.store, self.actor, case_id, version, note=note, via=self.via)

    def resolve(self, case_id: int, version: int, *, satisfied: bool, note: str | None = None) -> int:
        """Mark the case resolved (customer-confirmed satisfaction recorded); schedules the day-3/day-30 follow-ups."""
        from .cases import transition_in

        if not isinstance(satisfied, bool):
            raise ConfigError(f"satisfied 应为 True/False，收到 {satisfied!r}")
        self._case_shop(case_id, "resolve")
        with self.store.write() as conn:
            return transition_in(conn, case_id, version, "resolved", actor=self.actor.name, via=self.via,
                                 reason=(note or "").strip() or ("客户确认满意" if satisfied else "客户未确认满意"),
                                 changes={"satisfied": satisfied})

    def escalate(self, case_id: int, version: int, reason: str) -> int:
        """Escalate to the next role of the owner's chain (policy), with a reason."""
        from .cases import transition_in

        self._case_shop(case_id, "escalate")
        with self.store.write() as conn:
            owner = conn.execute(_stmts()["owner_role"], {"case_id": case_id}).scalar_one()
            try:
                up = self.policy.role(owner or "agent").get("escalates_to") or owner
            except KeyError:
                up = "supervisor"
            return transition_in(conn, case_id, version, "escalated", actor=self.actor.name, via=self.via,
                                 reason=reason, changes={"owner_role": up})

    def appeal(self, case_id: int, version: int, reason: str) -> int:
        self._fresh("appeal", case_id)
        self._require_role("appeal", ("legal", "supervisor", "admin"), case_id)
        self._case_shop(case_id, "appeal")
        return transition_case(self.store, case_id, version, "appeal", actor=self.actor.name, via=self.via,
                               reason=reason)

    def close(self, case_id: int, version: int, reason: str) -> int:
        self._fresh("close", case_id)
        self._require_role("close", ("supervisor", "legal", "admin"), case_id)
        self._case_shop(case_id, "close")
        return transition_case(self.store, case_id, version, "closed", actor=self.actor.name, via=self.via,
                               reason=reason)

    # ----------------------------------------------------------- follow-ups
    def followups_due(self, *, horizon_hours: float = 0.0, now: dt.datetime | None = None) -> pd.DataFrame:
        """今日回访: tasks due by now (+ horizon) with the message to send."""
        from .followups import due_followups

        self._read("followups")
        df = due_followups(self.store, self.actor, now=now, horizon_hours=horizon_hours)
        if len(df):  # a task already done shows the message as sent (staff may have edited it)
            df["message"] = [_mask(m) for m in df["message"]]
        return df

    def complete_followup(self, followup_id: int, *, done: bool = True, reason: str | None = None,
                          message: str | None = None) -> dict[str, Any]:
        from .followups import complete_followup

        self._fresh("complete_followup")
        return complete_followup(self.store, self.actor, followup_id, done=done, reason=reason, message=message,
                                 via=self.via)

    def complete_followups(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several tasks at once (:func:`reviewops.handling.followups.complete_followups`: each item ``followup_id``,
        optionally ``done``, ``reason``, ``message``, ``at``), in order, in one transaction."""
        from .followups import complete_followups

        self._fresh("complete_followups")
        return complete_followups(self.store, self.actor, tasks, via=self.via)

    # ----------------------------------------------------------- personal data
    def unmask(self, case_id: int, field: str, purpose: str) -> str:
        """One field of one case's order in full, for roles the policy allows; audited with the purpose (P-03)."""
        from ..core.vault import reveal

        self._fresh("unmask", case_id)
        return reveal(self.store, self.actor, case_id, field, purpose)




# ----------------------------------------------------------- several steps, one transaction
from ..core.store import Store as _Store  # noqa: E402  (the store is below the workbench; only this binding needs the class)


class _BoundStore(_Store):
    """The store as seen inside :func:`one_transaction`: every ``read()`` and ``write()`` block runs in the one
    open write transaction (each ``write()`` as a savepoint, so a step that fails is undone alone)."""

    def __init__(self, store: "Store", conn: sa.Connection):
        super().__init__(store.engine, store.url)
        self._pii_key = store._pii_key
        self._conn = conn
        self.case_shops: dict[int, int] = {}  # case id → shop id, read once per transaction

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with self._conn.begin_nested():
            yield self._conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        if self.dialect == "postgresql":  # a failed statement must not abort the whole transaction
            with self._conn.begin_nested():
                yield self._conn
        else:
            yield self._conn

    def close(self) -> None:  # the engine belongs to the store that opened it
        pass


class _ReadBoundStore(_Store):
    """The store as seen inside :meth:`Workbench._reads`: every ``read()`` block runs on the one connection of an
    open read transaction; ``write()`` is the store's own (a separate transaction)."""

    def __init__(self, store: "Store", conn: sa.Connection):
        super().__init__(store.engine, store.url)
        self._pii_key = store._pii_key
        self._outer = store
        self._conn = conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        yield self._conn

    def write(self) -> Any:
        return self._outer.write()

    def close(self) -> None:  # the engine belongs to the store that opened it
        pass


@contextlib.contextmanager
def one_transaction(store: "Store") -> Iterator["Store"]:
    """Run several workbench steps as one write transaction: ``with one_transaction(store) as tx:`` then
    ``Workbench(tx, actor)`` (one or several actors). Every step still runs its own checks (shops, roles,
    versions, authority, compliance) and writes its audit rows; each step is a savepoint, so a step that
    raises is undone alone and the others stand. Everything commits when the block ends, or is rolled back
    together when an exception leaves the block. On SQLite the write lock is held for the whole block:
    meant for scripted runs (the demo's worked history, replays), not for forms that wait for a person.
    Nested calls join the outer transaction."""
    if isinstance(store, _BoundStore):
        yield store
        return
    with store.write() as conn:
        yield _BoundStore(store, conn)
