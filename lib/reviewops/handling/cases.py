"""The case state machine (SPEC H1, H3; issue 4's domain rules).

A case moves through explicit states; every move is checked against the current state
**and** the case's ``version`` (optimistic locking, R-05) and written to the append-only
audit log as a ``transition`` event with the reason:

    new → contacted → remedy_proposed → remedy_delivered → resolved → follow_up_done → closed
                        remedy_proposed → pending_approval → remedy_proposed   (over the proposer's limit:
                                                            approved) or → contacted (rejected)
    contacted → resolved                  (nothing to compensate)
    any open state → escalated            (and back into the flow from there)
    malicious cases → appeal              (platform appeal, H3)

:data:`TRANSITIONS` is the whole table; :func:`allowed_transitions` answers "what can this
case do next" for a form's buttons, and :func:`transition_case` performs one move.

The remedy states (:data:`LEDGER_STATES`) are entered only through the compensation ledger
(:mod:`reviewops.handling.ledger`: propose, approve, reject, deliver), which checks approval limits;
:func:`transition_case` refuses them. Entering a state also does what the playbook ties to
it, in the same transaction: the first ``contacted`` records ``first_contact_at`` and stops
the SLA clock; ``remedy_delivered`` and ``resolved`` schedule the follow-ups anchored there
(:mod:`reviewops.handling.followups`); ``resolved`` records ``resolved_at``.

**What awaits action** (待处理) is declared here once: a case in one of :data:`OPEN_STATES` — not yet
resolved, so an operator still has to do something on the case itself (first contact, diagnosis,
remedy proposal / approval / delivery, resolving, an escalation or a platform appeal). A case that is
contacted but not resolved stays open; ``resolved``, ``follow_up_done`` and ``closed``
(:data:`DONE_STATES`) are not: follow-ups due on resolved cases are listed by the follow-up surfaces
(:func:`reviewops.handling.followups.due_followups`, 今日回访), not the queue. :func:`open_case_filter` is the
SQL form, :func:`case_queue` the queue every surface lists (CLI ``reviewops queue``, the 差评工作台
form via :meth:`reviewops.handling.workbench.Workbench.queue`, Excel ``RO_CASES``), with one SLA status per
case from :func:`reviewops.core.sla.sla_statuses`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import ConfigError, NotFound

if TYPE_CHECKING:
    import pandas as pd

    from ..core.policy import Policy
    from ..core.store import Store

__all__ = ["DONE_STATES", "LEDGER_STATES", "OPEN_STATES", "QUEUE_COLUMNS", "STATES", "STATE_ZH", "TRANSITIONS",
           "InvalidTransition", "allowed_transitions", "case_queue", "count_open", "is_open", "open_case_filter",
           "schedule_in", "transition_case", "transition_in"]

STATES = ("new", "contacted", "remedy_proposed", "pending_approval", "remedy_delivered", "resolved",
          "follow_up_done", "closed", "escalated", "appeal")
STATE_ZH = {
    "new": "新建", "contacted": "已联系", "remedy_proposed": "已提出补偿", "pending_approval": "待审批",
    "remedy_delivered": "补偿已送达", "resolved": "已解决", "follow_up_done": "跟进完成", "closed": "已关闭",
    "escalated": "已升级", "appeal": "平台申诉中",
}
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"contacted", "escalated", "appeal"}),
    "contacted": frozenset({"remedy_proposed", "resolved", "escalated", "appeal"}),
    "remedy_proposed": frozenset({"pending_approval", "remedy_delivered", "contacted", "escalated"}),
    "pending_approval": frozenset({"remedy_proposed", "contacted", "escalated"}),
    "remedy_delivered": frozenset({"resolved", "escalated"}),
    "resolved": frozenset({"follow_up_done", "closed", "escalated"}),
    "follow_up_done": frozenset({"closed"}),
    "escalated": frozenset({"contacted", "remedy_proposed", "pending_approval", "resolved", "appeal", "closed"}),
    "appeal": frozenset({"resolved", "closed", "escalated", "contacted"}),
    "closed": frozenset(),
}
_NEEDS_REASON = frozenset({"escalated", "closed", "appeal"})
#: States entered only through the compensation ledger (limits and approvals are checked there).
LEDGER_STATES = frozenset({"remedy_proposed", "pending_approval", "remedy_delivered"})
#: Case states that await an operator's action on the case (待处理): the queue, open counts, 未到期待处理.
OPEN_STATES = ("new", "contacted", "remedy_proposed", "pending_approval", "remedy_delivered", "escalated", "appeal")
#: Case states whose handling is over: in no queue (follow-ups still due are on the follow-up lists).
DONE_STATES = ("resolved", "follow_up_done", "closed")


class InvalidTransition(ConfigError):
    """A move the state machine does not allow from the case's current state."""


def allowed_transitions(state: str, *, malicious: bool) -> list[str]:
    """The states a case in ``state`` may move to (``appeal`` only for malicious cases), in :data:`STATES` order."""
    if state not in TRANSITIONS:
        raise ConfigError(f"未知的案件状态 {state!r}；可用：{', '.join(STATES)} / unknown case state {state!r}")
    nxt = TRANSITIONS[state]
    return [s for s in STATES if s in nxt and (s != "appeal" or malicious)]


def transition_case(store: "Store", case_id: int, expected_version: int, to_state: str, *, actor: str, via: str,
                    reason: str | None = None, at: dt.datetime | None = None) -> int:
    """Move case ``case_id`` to ``to_state``; returns the new version.

    Raises :class:`InvalidTransition` when the move is not allowed from the current state
    (or ``appeal`` for a case that is not malicious, or a remedy state, which only the ledger
    enters), :class:`ConfigError` when escalating, closing or appealing without a reason,
    :class:`~reviewops.core.errors.ConflictError` when ``expected_version`` is stale and
    :class:`NotFound` for an unknown case. The state check and the write happen in one
    transaction; the audit event keeps the reason.
    """
    if to_state in LEDGER_STATES:
        raise InvalidTransition(
            f"“{STATE_ZH.get(to_state, to_state)}”只能通过补偿流程进入（提出补偿 / 审批 / 确认送达），以便核对审批权限\n"
            f"{to_state} is entered only through the compensation ledger (propose / approve / deliver), which checks "
            "approval limits"
        )
    with store.write() as conn:
        return transition_in(conn, case_id, expected_version, to_state, actor=actor, via=via, reason=reason, at=at)


def transition_in(conn: sa.Connection, case_id: int, expected_version: int, to_state: str, *, actor: str, via: str,
                  reason: str | None = None, at: dt.datetime | None = None,
                  changes: dict[str, object] | None = None) -> int:
    """:func:`transition_case` inside the caller's transaction, with extra case ``changes``.

    Does not refuse the ledger states: :mod:`reviewops.handling.ledger` calls it after checking limits.
    """
    from ..core.store import stale_case, update_case, utcnow

    if to_state not in TRANSITIONS:
        raise ConfigError(f"未知的案件状态 {to_state!r}；可用：{', '.join(STATES)} / unknown case state {to_state!r}")
    reason = (reason or "").strip() or None
    if to_state in _NEEDS_REASON and reason is None:
        raise ConfigError(f"转为“{STATE_ZH[to_state]}”需要填写原因 / moving a case to {to_state} needs a reason")
    row = conn.execute(_case_for_transition(), {"_case_id": case_id}).first()
    if row is None:
        raise NotFound(f"案件不存在 case {case_id} does not exist; check the case number")
    if row.version != expected_version:
        raise stale_case(case_id, row.version, expected_version)
    malicious = row.primary_category == "malicious" or "malicious" in (row.categories or "").split(";")
    allowed = allowed_transitions(row.state, malicious=malicious)
    if to_state not in allowed:
        shown = "、".join(f"{STATE_ZH[s]}（{s}）" for s in allowed) or "无（已关闭）"
        extra = "；平台申诉只适用于恶意差评" if to_state == "appeal" and not malicious else ""
        raise InvalidTransition(
            f"案件 {case_id} 当前为“{STATE_ZH[row.state]}”，不能转为“{STATE_ZH[to_state]}”{extra}；可转为：{shown}\n"
            f"Case {case_id} is {row.state}; it cannot move to {to_state}. Allowed: {', '.join(allowed) or 'none'}"
        )
    now = at or utcnow()
    new: dict[str, object] = {"state": to_state, **(changes or {})}
    if reason:
        new["notes"] = reason
    if to_state == "contacted" and row.first_contact_at is None:
        new["first_contact_at"] = now
        new.update(_sla_stopped(row.sla_state_json, row.policy_version, conn, now))
    if to_state == "resolved":
        new["resolved_at"] = now
    version = update_case(conn, case_id, expected_version, new, actor=actor, via=via, action="transition", at=now,
                          current=row._mapping)
    if to_state in ("contacted", "remedy_delivered", "resolved"):
        schedule_in(conn, case_id, to_state, at=now,
                    case=None if "shop_id" in new or "policy_version" in new else row)
    return version


@functools.cache
def _case_for_transition() -> sa.Select:
    """The locked read of :func:`transition_in`, built once (parameter ``_case_id``): the whole row, which
    :func:`reviewops.core.store.update_case` then takes as ``current`` instead of reading it again."""
    from ..core.store import cases

    return sa.select(cases).where(cases.c.id == sa.bindparam("_case_id")).with_for_update()


def _sla_stopped(state_json: str | None, policy_version: int | None, conn: sa.Connection,
                 now: dt.datetime) -> dict[str, object]:
    """The SLA clock after a ``stop`` at first contact (the deadline that applied is kept)."""
    if not state_json:
        return {}
    from ..core.clock import calendar_of
    from ..core.policy import load_policy_in
    from ..core.sla import SlaEvent, state_from_json, state_to_json

    state = state_from_json(state_json)
    if state.stopped or state.started_at is None:
        return {}
    at = max(now, state.last_event_at) if state.last_event_at else now
    cal = calendar_of(load_policy_in(conn, policy_version))
    return {"sla_state_json": state_to_json(state.apply(SlaEvent("stop", at), cal))}


# ----------------------------------------------------------------------------- what awaits action


def is_open(state: str | None) -> bool:
    """Whether a case in ``state`` awaits action (one of :data:`OPEN_STATES`)."""
    return state in OPEN_STATES


def open_case_filter(state_column: "sa.ColumnElement[str] | None" = None) -> "sa.ColumnElement[bool]":
    """The SQL condition “the case awaits action” on ``state_column`` (default ``cases.state``)."""
    if state_column is None:
        from ..core.store import cases

        state_column = cases.c.state
    return state_column.in_(OPEN_STATES)


def count_open(store: "Store", *, shop_ids: Iterable[int] | None = None) -> int:
    """How many cases await action (in ``shop_ids``; ``None`` = every shop) — the total above every queue."""
    from ..core.store import cases

    q = sa.select(sa.func.count()).select_from(cases).where(open_case_filter(cases.c.state))
    if shop_ids is not None:
        q = q.where(cases.c.shop_id.in_(sorted(int(s) for s in shop_ids)))
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())


#: Columns of :func:`case_queue` (and so of ``Workbench.queue``, ``reviewops queue --json``, ``RO_CASES``).
QUEUE_COLUMNS = ["case_id", "version", "state", "state_zh", "platform", "shop_id", "shop", "rating", "primary_category",
                 "category_zh", "severity", "severity_zh", "owner_role", "assignee", "created_at", "due_at",
                 "due_local", "minutes_left", "sla_status", "sla_status_zh", "excerpt"]


def case_queue(store: "Store", *, now: dt.datetime | None = None, shop_ids: Iterable[int] | None = None,
               assignee: str | None = None, role: str | None = None, category: str | None = None,
               platform: str | None = None, shop_id: int | None = None, states: Iterable[str] | None = None,
               include_done: bool = False, since: dt.datetime | None = None, limit: int | None = None,
               policy: "Policy | None" = None, excerpt_chars: int | None = None) -> "pd.DataFrame":
    """The case queue: cases awaiting action, not-yet-contacted first by SLA deadline, then severity, then id.

    Which cases: :func:`open_case_filter` — or exactly ``states`` when given (a report of resolved cases,
    say), or every case with ``include_done``. ``shop_ids`` (``None`` = all), ``assignee``, ``role`` (owner
    role), ``category`` (primary), ``platform``, ``shop_id`` and ``since`` (aware; opened at or after)
    narrow it, all before ``limit``. ``now`` (default: the store clock) and ``policy`` (default: the
    current one: its SLA clock, warning fraction and ``excerpt_chars``) fix each row's SLA status
    (:func:`reviewops.core.sla.sla_statuses`). Columns :data:`QUEUE_COLUMNS`; ``due_local`` is Beijing time,
    ``minutes_left`` is clock minutes to the deadline (negative = past it; ``None`` once contacted or
    without a deadline: a stopped clock has nothing left to count), the excerpt is masked.
    """
    import pandas as pd

    from ..core.clock import calendar_of
    from ..core.outputs import fmt_time
    from ..core.policy import CATEGORY_ZH, SEVERITIES, SEVERITY_ZH, current_policy
    from ..core.privacy import mask_text
    from ..core.sla import SLA_STATUS_ZH, sla_statuses, warning_fraction
    from ..core.store import cases, reviews, shops, utcnow

    now = now or utcnow()
    if now.tzinfo is None:
        raise ConfigError(f"now 必须带时区，收到 {now!r} / now must be timezone-aware")
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    sev_order = sa.case(rank, value=cases.c.severity, else_=len(rank))
    q = (sa.select(cases.c.id.label("case_id"), cases.c.version, cases.c.state, shops.c.platform, cases.c.shop_id,
                   shops.c.name.label("shop"), reviews.c.rating_raw.label("rating"), cases.c.primary_category,
                   cases.c.severity, cases.c.owner_role, cases.c.assignee, cases.c.created_at,
                   cases.c.sla_due_at.label("due_at"), cases.c.sla_hours, cases.c.first_contact_at, reviews.c.content)
         .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)
                      .outerjoin(reviews, reviews.c.id == cases.c.review_pk))
         .order_by(cases.c.first_contact_at.is_not(None), cases.c.sla_due_at.is_(None), cases.c.sla_due_at,
                   sev_order, cases.c.id))
    if states is not None:
        q = q.where(cases.c.state.in_(sorted(set(states))))
    elif not include_done:
        q = q.where(open_case_filter(cases.c.state))
    if shop_ids is not None:
        q = q.where(cases.c.shop_id.in_(sorted(int(s) for s in shop_ids)))
    if assignee is not None:
        q = q.where(cases.c.assignee == assignee)
    if role:
        q = q.where(cases.c.owner_role == role)
    if category:
        q = q.where(cases.c.primary_category == category)
    if platform:
        q = q.where(shops.c.platform == platform)
    if shop_id is not None:
        q = q.where(cases.c.shop_id == int(shop_id))
    if since is not None:
        if since.tzinfo is None:
            raise ConfigError(f"since 必须带时区，收到 {since!r} / since must be timezone-aware")
        q = q.where(cases.c.created_at >= since)
    if limit is not None:
        q = q.limit(max(0, int(limit)))
    with store.read() as conn:
        rows = conn.execute(q).mappings().all()
    policy = policy or current_policy(store)
    chars = int(excerpt_chars if excerpt_chars is not None else policy.setting("excerpt_chars"))
    df = pd.DataFrame(rows, columns=["case_id", "version", "state", "platform", "shop_id", "shop", "rating",
                                     "primary_category", "severity", "owner_role", "assignee", "created_at",
                                     "due_at", "sla_hours", "first_contact_at", "content"])
    status = sla_statuses(df["first_contact_at"], df["due_at"], now, budget_minutes=df["sla_hours"] * 60.0,
                          cal=calendar_of(policy), warn=warning_fraction(policy.setting("sla_warn_fractions")))
    out = pd.DataFrame({
        "case_id": df["case_id"], "version": df["version"], "state": df["state"],
        "state_zh": df["state"].map(lambda s: STATE_ZH.get(s, s)), "platform": df["platform"],
        "shop_id": df["shop_id"], "shop": df["shop"], "rating": df["rating"].map(lambda r: r or ""),
        "primary_category": df["primary_category"],
        "category_zh": df["primary_category"].map(lambda c: CATEGORY_ZH.get(c, c or "")),
        "severity": df["severity"], "severity_zh": df["severity"].map(lambda s: SEVERITY_ZH.get(s, s or "")),
        "owner_role": df["owner_role"], "assignee": df["assignee"].map(lambda a: a or ""),
        "created_at": df["created_at"], "due_at": df["due_at"],
        "due_local": df["due_at"].map(lambda t: "" if t is None or t != t else fmt_time(t)),
        "minutes_left": [None if d is None or d != d or c is not None and c == c else
                         round((d - now).total_seconds() / 60.0) for d, c in zip(df["due_at"], df["first_contact_at"])],
        "sla_status": status.to_numpy(), "sla_status_zh": status.map(SLA_STATUS_ZH).to_numpy(),
        "excerpt": df["content"].map(lambda s: (mask_text(" ".join(str(s or "").split())) or "")[:chars]),
    }, columns=QUEUE_COLUMNS)
    return out


def schedule_in(conn: sa.Connection, case_id: int, anchor: str, *, at: dt.datetime,
                case: Any = None) -> list[int]:
    """Create the case's follow-up tasks anchored at ``anchor`` (``at`` = when it happened); returns new ids.

    Idempotent per (case, step). When a case is resolved without any remedy, the steps that
    are anchored on the remedy's delivery (the revision guidance) are scheduled from the
    resolution instead — the explanation was the remedy.
    ``case``: the case row (``shop_id``, ``policy_version``) when the caller has just read it in this
    transaction (else it is read here).
    """
    from ..core.policy import load_policy_in

    q = _schedule_statements()
    if case is None:
        case = conn.execute(q["case_shop_policy"], {"_case_id": case_id}).one()
    policy = load_policy_in(conn, case.policy_version)
    anchors = {anchor}
    if anchor == "resolved":
        delivered = conn.execute(q["comp_any"], {"_case_id": case_id}).scalar_one()
        if not delivered:
            anchors.add("remedy_delivered")
    existing = set(conn.execute(q["steps_of_case"], {"_case_id": case_id}).scalars())
    ids = []
    for row in policy.tables["followups"]:
        if row["anchor"] not in anchors or row["step"] in existing:
            continue
        ids.append(int(conn.execute(q["insert_task"], {
            "case_id": case_id, "shop_id": case.shop_id, "step": row["step"], "template_kind": row["template_kind"],
            "due_at": at + dt.timedelta(hours=float(row["offset_hours"])), "state": "open", "created_at": at,
        }).scalar_one()))
    return ids


@functools.cache
def _schedule_statements() -> dict[str, Any]:
    """The statements :func:`schedule_in` runs, built once (parameters bound per call)."""
    from ..core.store import cases, followups
    from ..core.store import compensations as comp

    cid = sa.bindparam("_case_id")
    return {
        "case_shop_policy": sa.select(cases.c.shop_id, cases.c.policy_version).where(cases.c.id == cid),
        "comp_any": sa.select(sa.func.count()).select_from(comp).where(
            comp.c.case_id == cid, comp.c.state.in_(("delivered", "approved", "pending"))),
        "steps_of_case": sa.select(followups.c.step).where(followups.c.case_id == cid),
        "insert_task": followups.insert().returning(followups.c.id),
    }
