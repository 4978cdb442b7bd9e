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
(:mod:`reviewops.ledger`: propose, approve, reject, deliver), which checks approval limits;
:func:`transition_case` refuses them. Entering a state also does what the playbook ties to
it, in the same transaction: the first ``contacted`` records ``first_contact_at`` and stops
the SLA clock; ``remedy_delivered`` and ``resolved`` schedule the follow-ups anchored there
(:mod:`reviewops.followups`); ``resolved`` records ``resolved_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .errors import ConfigError, NotFound

if TYPE_CHECKING:
    from .store import Store

__all__ = ["LEDGER_STATES", "STATES", "STATE_ZH", "TRANSITIONS", "InvalidTransition", "allowed_transitions",
           "transition_case", "transition_in"]

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
    :class:`~reviewops.errors.ConflictError` when ``expected_version`` is stale and
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

    Does not refuse the ledger states: :mod:`reviewops.ledger` calls it after checking limits.
    """
    from .store import cases, stale_case, update_case, utcnow

    if to_state not in TRANSITIONS:
        raise ConfigError(f"未知的案件状态 {to_state!r}；可用：{', '.join(STATES)} / unknown case state {to_state!r}")
    reason = (reason or "").strip() or None
    if to_state in _NEEDS_REASON and reason is None:
        raise ConfigError(f"转为“{STATE_ZH[to_state]}”需要填写原因 / moving a case to {to_state} needs a reason")
    row = conn.execute(sa.select(cases.c.state, cases.c.version, cases.c.primary_category, cases.c.categories,
                                 cases.c.first_contact_at, cases.c.sla_state_json, cases.c.policy_version)
                       .where(cases.c.id == case_id).with_for_update()).first()
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
    version = update_case(conn, case_id, expected_version, new, actor=actor, via=via, action="transition", at=now)
    if to_state in ("contacted", "remedy_delivered", "resolved"):
        from .followups import schedule_in

        schedule_in(conn, case_id, to_state, at=now)
    return version


def _sla_stopped(state_json: str | None, policy_version: int | None, conn: sa.Connection,
                 now: dt.datetime) -> dict[str, object]:
    """The SLA clock after a ``stop`` at first contact (the deadline that applied is kept)."""
    if not state_json:
        return {}
    from .policy import load_policy_in
    from .sla import SlaEvent, state_from_json, state_to_json
    from .triage import calendar_of

    state = state_from_json(state_json)
    if state.stopped or state.started_at is None:
        return {}
    at = max(now, state.last_event_at) if state.last_event_at else now
    cal = calendar_of(load_policy_in(conn, policy_version))
    return {"sla_state_json": state_to_json(state.apply(SlaEvent("stop", at), cal))}
