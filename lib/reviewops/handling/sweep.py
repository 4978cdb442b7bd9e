"""The daily sweep (每日巡检; SPEC E2, H1 follow-ups, P4, H3 appeal deadlines): what every role has to do today.

:func:`daily_sweep` runs four checks and writes one to-do list per role:

1. **SLA** (:func:`sla_sweep`, E2) — every open case without a first contact, with the share of
   its response budget used, counted by the case's SLA clock (business hours and Chinese holidays
   when the policy says so, :mod:`reviewops.core.sla`). Its ``sla_status`` is the one status every surface
   shows (:data:`reviewops.core.sla.SLA_STATUSES`): *warning* once the share reaches the largest of the
   policy's ``sla_warn_fractions`` (default 80 %, :func:`reviewops.core.sla.warning_fraction`), *breached* at
   or after the deadline. Every fraction (default 50 % and 80 %) is a reminder: each warning kind
   (``warn_50``, ``warn_80`` …, the fraction in percent; on the role's to-do list) and ``breach`` is recorded in ``sla_notices`` at most once per case (the table's unique (case, kind) constraint
   decides, so concurrent sweeps never record twice). Recording ``breach`` also escalates the case:
   its ``owner_role`` moves to the owner role's ``escalates_to`` in the policy's roles table
   (普通客服 → 客服主管 → 店长; 法务 → 店长) through a version-checked, audited case change
   (``case_events`` action ``sla_escalation``, note “超时自动升级” with the old and new role). That
   happens once per case — a later sweep finds the ``breach`` notice and does not escalate again.
2. **Follow-ups** (:func:`followups_due_today`, H1) — open follow-up tasks due by the end of the
   current day in Beijing time, overdue ones included, with the (masked) message to send, from
   :func:`reviewops.handling.followups.due_followups`.
3. **Delay remedy** (:func:`delay_sweep`, P4) — orders whose dispatch was late (the promised ship
   time passed before the order shipped) or whose delivery stalled (an outbound shipment not signed
   and either past its promised arrival or without a tracking event for ``stall_hours``). Orders
   that are closed or cancelled (status text containing 关闭/取消/closed/cancel) or fully refunded
   (the order's refund, or its refunds paid out by ``now``, ≥ the amount paid) are skipped, and so is every order that already has a ``delay_remedies`` row.
   Issuing inserts one ``delay_remedies`` row per order — ``delay_coupon_fen`` (default 5 yuan),
   the reason, the hours late and the filled, masked ``delay_notice`` message — at most once per
   order even with concurrent sweeps (unique (shop, order)). Only promises from the last
   the policy's ``delay_lookback_days`` (default 30) days count, so a first sweep over a long history does not pay out
   for months-old parcels; a policy with ``delay_coupon_fen`` = 0 lists the late orders but issues
   nothing.

4. **Appeal deadlines** (:func:`appeal_sweep`, H3/P5) — malicious cases whose platform appeal is not yet
   submitted (no packet built yet, or drafted) from :func:`reviewops.handling.appeals.legal_queue`: the deadline
   counted from the review time by the platform's rule (working days on the policy's holiday calendar), a
   *warning* within :func:`reviewops.handling.appeals.warn_hours` hours of it (the policy's
   ``appeal_warn_hours``, default 24 h), *overdue*
   after it. Each stage is recorded in ``sla_notices`` at most once per case — kinds ``appeal_warn`` and
   ``appeal_overdue``, addressed to the owner role of the policy's ``malicious`` category (法务); a case first
   seen overdue records only ``appeal_overdue`` — and :func:`reviewops.alerting.alerts.raise_sla_alerts` turns each
   into an alert exactly as it does the SLA notices. The deadline items are on that role's to-do list
   (kind ``appeal_deadline``).

The sweep also says ahead of time when the next 60 days lack holiday data (deadlines would count
Monday–Friday): :attr:`DailySweep.warnings`, from :func:`reviewops.core.clock.calendar_warning` (``chinese_calendar``
and the policy's 节假日 sheet), the sentence triage, the dashboard and ``reviewops watch --status`` show.

``apply=False`` (a dry run) computes the same tables without writing anything. ``now`` makes a
run reproducible; every time in the store is UTC, shown in Beijing time.

Columns (declared once here)
----------------------------
:data:`SLA_COLUMNS` — ``case_id``, ``shop_id``, ``platform``, ``shop``, ``state``/``state_zh``,
``category``/``category_zh``, ``severity``, ``owner_role``/``owner_role_zh`` (the role owning the
case before this sweep), ``escalate_to``/``escalate_to_zh`` (that role's ``escalates_to``; empty at
the top of the chain), ``due_at`` (UTC) / ``due_local`` (Beijing time), ``fraction_used`` (share of
the budget used, > 1 when overdue), ``minutes_left`` (working minutes; negative = overdue),
``sla_status`` (``running`` | ``warning`` | ``breached``; :data:`reviewops.core.sla.SLA_STATUS_ZH`) / ``sla_status_zh``, ``notice`` (the
highest notice the case has reached: ``warn_50`` … or ``breach``; empty while running),
``new_notices`` (``;``-joined kinds this sweep recorded — or would record in a dry run),
``escalated_to``/``escalated_to_zh`` (the role this sweep moved the case to — or would move it to), ``todo_role``
(who acts on it now: the escalation target when this sweep records the breach, otherwise the owner — after an
earlier escalation that is already the escalation target).

:data:`FOLLOWUP_COLUMNS` — ``followup_id``, ``case_id``, ``platform``, ``shop``, ``step``/``step_zh``,
``template_kind``, ``due_at``/``due_local``, ``minutes_left`` (negative = overdue), ``overdue``,
``role``/``role_zh`` (the case's owner role), ``assignee``, ``message`` (masked), ``message_ok``,
``problems``.

:data:`DELAY_COLUMNS` — ``shop_id``, ``platform``, ``shop``, ``order_id`` (text), ``customer_id``,
``reason`` (``late_dispatch`` | ``stalled_delivery``) / ``reason_zh``, ``promised_at``/``promised_local``
(promised ship time, or promised arrival), ``hours_late`` (late dispatch: hours from the promised
ship time to dispatch, or to now while unshipped; stalled delivery: hours past the promised arrival,
or hours since the last tracking event when the promise has not passed), ``carrier``,
``tracking_no``, ``amount_fen``/``amount_yuan``, ``message`` (masked), ``message_ok``, ``problems``,
``issued`` (this sweep inserted the remedy), ``role``/``role_zh`` (the owner role of the policy's
``logistics`` category, who sends the message).

:data:`APPEAL_COLUMNS` — ``case_id``, ``shop_id``, ``platform``/``platform_zh``, ``shop``, ``appeal_id`` (empty
while no packet is built), ``state`` (``to_build`` | ``drafted``) / ``state_zh``, ``ground``, ``appeal_type``,
``deadline_at`` (UTC) / ``deadline_local`` (Beijing time), ``hours_left`` (negative = overdue),
``appeal_status`` (``warning`` | ``overdue``) / ``appeal_status_zh``, ``notice`` (the stage reached:
``appeal_warn`` | ``appeal_overdue``), ``new_notices`` (recorded by this sweep — or would be in a dry run),
``role``/``role_zh`` (who files the appeal: the ``malicious`` category's owner role).

:data:`TODO_COLUMNS` — ``role``, ``role_zh``, ``kind`` (``sla_warning`` | ``sla_escalation`` |
``followup`` | ``delay_coupon`` | ``appeal_deadline``) / ``kind_zh``, ``ref`` (case id or order id, as text), ``shop``,
``what_zh`` (what to do, in Chinese), ``due_at``/``due_local``, ``new`` (the notice/coupon came
from this sweep). Sorted by the policy's role order, then due time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from ..core import sla as sla_mod
from ..core.errors import ConfigError

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store

__all__ = ["APPEAL_COLUMNS", "APPEAL_NOTICES", "DAILY_SWEEP_ACTOR", "DELAY_COLUMNS", "FOLLOWUP_COLUMNS",
           "SLA_COLUMNS", "TODO_COLUMNS", "DailySweep", "appeal_sweep", "daily_sweep", "delay_sweep",
           "followups_due_today", "parse_now", "sla_sweep"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
DAILY_SWEEP_ACTOR = "playbook:daily_sweep"
#: Only delivery promises (ship-by or arrive-by) from the last this many days qualify for the delay remedy.
#: An order whose platform status says it was closed or cancelled gets no delay remedy.
_CLOSED_STATUS = re.compile(r"关闭|取消|closed|cancel", re.IGNORECASE)
#: Shipment statuses that are not a parcel on its way to the buyer.
_NOT_IN_TRANSIT = ("signed", "returned", "rejected")
ESCALATION_NOTE = "超时自动升级"

SLA_COLUMNS = ["case_id", "shop_id", "platform", "shop", "state", "state_zh", "category", "category_zh", "severity",
               "owner_role", "owner_role_zh", "escalate_to", "escalate_to_zh", "due_at", "due_local",
               "fraction_used", "minutes_left", "sla_status", "sla_status_zh", "notice", "new_notices",
               "escalated_to", "escalated_to_zh", "todo_role"]
FOLLOWUP_COLUMNS = ["followup_id", "case_id", "platform", "shop", "step", "step_zh", "template_kind", "due_at",
                    "due_local", "minutes_left", "overdue", "role", "role_zh", "assignee", "message", "message_ok",
                    "problems"]
DELAY_COLUMNS = ["shop_id", "platform", "shop", "order_id", "customer_id", "reason", "reason_zh", "promised_at",
                 "promised_local", "hours_late", "carrier", "tracking_no", "amount_fen", "amount_yuan", "message",
                 "message_ok", "problems", "issued", "role", "role_zh"]
TODO_COLUMNS = ["role", "role_zh", "kind", "kind_zh", "ref", "shop", "what_zh", "due_at", "due_local", "new"]
APPEAL_COLUMNS = ["case_id", "shop_id", "platform", "platform_zh", "shop", "appeal_id", "state", "state_zh", "ground",
                  "appeal_type", "deadline_at", "deadline_local", "hours_left", "appeal_status", "appeal_status_zh",
                  "notice", "new_notices", "role", "role_zh"]
#: The ``sla_notices`` kinds of an appeal deadline, by stage (recorded once per case each).
APPEAL_NOTICES = {"warning": "appeal_warn", "overdue": "appeal_overdue"}
APPEAL_STATUS_ZH = {"warning": "申诉即将截止", "overdue": "申诉已逾期"}

SLA_STATUS_ZH = sla_mod.SLA_STATUS_ZH  # the one set of names (reviewops.core.sla)
REASON_ZH = {"late_dispatch": "发货超时", "stalled_delivery": "物流停滞"}
KIND_ZH = {"sla_warning": "时效预警", "sla_escalation": "超时升级", "followup": "到期跟进", "delay_coupon": "物流延迟补偿券",
           "appeal_deadline": "申诉截止"}


# ------------------------------------------------------------------------ helpers
def parse_now(value: Any) -> dt.datetime:
    """``value`` as an aware UTC instant: empty/None = the current time; an ISO-8601 text or datetime
    without a zone counts as Beijing time. Anything else raises :class:`ConfigError` naming it."""
    from ..core.store import utcnow

    if value is None or (isinstance(value, str) and not value.strip()):
        return utcnow()
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(
                f"参数 now 不是有效的时间：{value!r}；请用 ISO 格式，例如 2026-11-25T09:00:00+08:00（不带时区按北京时间），"
                f"或留空表示当前时间 / now is not a valid time: {value!r}; use ISO 8601 such as "
                f"2026-11-25T09:00:00+08:00 (no zone = Beijing time), or leave it empty for the current time"
            ) from None
    else:
        raise ConfigError(f"参数 now 应为时间文本，收到 {type(value).__name__} {value!r} / now must be an ISO time text, "
                          f"got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed.astimezone(UTC)


def _local(t: Any) -> str:
    if t is None or (not isinstance(t, dt.datetime) and pd.isna(t)):
        return ""
    from ..core.outputs import fmt_time  # Beijing time, the one formatter for people

    return fmt_time(t)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _py_dt(v: Any) -> dt.datetime | None:
    """A datetime cell of a DataFrame as an aware UTC ``datetime`` (None for NaT/None)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    return _aware(v)


def _role_names(policy: Policy) -> dict[str, str]:
    return {r["code"]: r["name_zh"] for r in policy.tables["roles"]}


def _escalates(policy: Policy) -> dict[str, str | None]:
    return {r["code"]: r.get("escalates_to") or None for r in policy.tables["roles"]}


def _warn_kinds(policy: Policy) -> list[tuple[float, str]]:
    """The policy's warning fractions below 1 with their notice kinds (``0.8`` → ``warn_80``), ascending."""
    out: dict[str, float] = {}
    for f in sorted(float(x) for x in (policy.setting("sla_warn_fractions") or ())):
        if 0 < f < 1:
            out.setdefault(f"warn_{round(f * 100)}", f)
    return sorted(((f, k) for k, f in out.items()))


def _shop_filter(col: sa.ColumnElement, shop_ids: list[int] | None) -> Any:
    return sa.true() if shop_ids is None else col.in_(list(shop_ids))


def _insert_once(conn: sa.Connection, table: sa.Table, keys: list[str], values: dict[str, Any]) -> bool:
    """Insert ``values`` unless a row with the same unique ``keys`` exists; True when this call inserted it.

    ``INSERT … ON CONFLICT DO NOTHING`` on both backends: a concurrent sweep holding the same key
    makes this one wait for its commit and then insert nothing (never an error, never a duplicate).
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=keys).returning(table.c.id)
    return conn.execute(stmt).first() is not None


def _shop_ids(shop_ids: Any) -> list[int] | None:
    if shop_ids is None:
        return None
    out = []
    for s in shop_ids:
        if isinstance(s, bool) or not (isinstance(s, int) or (isinstance(s, str) and s.strip().isdigit())):
            raise ConfigError(f"店铺编号应为整数，收到 {s!r} / shop ids must be integers, got {s!r}")
        out.append(int(s))
    return out or None


# ------------------------------------------------------------------------ 1. SLA
def _case_clock(row: Any, cal: Any, now: dt.datetime) -> tuple[float, dt.datetime | None, float, bool] | None:
    """(fraction used, deadline, working minutes left, clock running) of one case at ``now``; None without an SLA.

    A paused clock keeps its fraction; its stored deadline does not count against it.
    """
    from ..core.sla import fraction_used, state_from_json

    due = _aware(row.sla_due_at)
    if row.sla_state_json:
        state = state_from_json(row.sla_state_json)
        if state.started_at is None:
            return None
        frac = fraction_used(state, now, cal)
        running_due = state.due_at(cal)
        return frac, running_due or due, state.remaining_minutes(now, cal), state.running
    if due is None:
        return None
    start = _aware(row.sla_started_at) or _aware(row.created_at)
    total = (due - start).total_seconds() if start is not None else 0.0
    used = (now - start).total_seconds() if start is not None else 0.0
    frac = (max(used, 0.0) / total) if total > 0 else (1.0 if now >= due else 0.0)
    return frac, due, (due - now).total_seconds() / 60.0, True


def sla_sweep(store: Store, *, now: dt.datetime | None = None, shop_ids: list[int] | None = None,
              apply: bool = True, actor: str = DAILY_SWEEP_ACTOR, policy: Policy | None = None) -> pd.DataFrame:
    """Every open case without a first contact and its SLA standing at ``now`` (:data:`SLA_COLUMNS`).

    With ``apply`` records the new notices in ``sla_notices`` (once per case and kind) and escalates
    newly breached cases to the next role (one audited, version-checked case change each). A dry run
    returns the same table and writes nothing. Sorted by status (breached first), then deadline.
    """
    from ..core.clock import calendar_of
    from ..core.policy import CATEGORY_ZH, load_policy_in
    from ..core.store import cases, shops, sla_notices, utcnow
    from .cases import STATE_ZH, open_case_filter

    now = parse_now(now) if now is not None else utcnow()
    shop_ids = _shop_ids(shop_ids)
    with store.read() as conn:
        policy = policy or load_policy_in(conn, None)
        rows = conn.execute(
            sa.select(cases.c.id, cases.c.shop_id, shops.c.platform, shops.c.name.label("shop"), cases.c.state,
                      cases.c.primary_category, cases.c.severity, cases.c.owner_role, cases.c.sla_due_at,
                      cases.c.sla_started_at, cases.c.sla_state_json, cases.c.created_at)
            .select_from(cases.join(shops, shops.c.id == cases.c.shop_id))
            .where(cases.c.first_contact_at.is_(None), open_case_filter(cases.c.state),
                   _shop_filter(cases.c.shop_id, shop_ids))
            .order_by(cases.c.id)).all()
        open_ids = (sa.select(cases.c.id).where(cases.c.first_contact_at.is_(None),
                                                 open_case_filter(cases.c.state),
                                                 _shop_filter(cases.c.shop_id, shop_ids)))
        seen: dict[int, set[str]] = {}
        for cid, kind in conn.execute(
                sa.select(sla_notices.c.case_id, sla_notices.c.kind)
                .where(sla_notices.c.case_id.in_(open_ids))).all():
            seen.setdefault(int(cid), set()).add(str(kind))
    cal = calendar_of(policy)
    names, up = _role_names(policy), _escalates(policy)
    warn = _warn_kinds(policy)
    warn_at = sla_mod.warning_fraction(policy.setting("sla_warn_fractions"))
    out: list[dict[str, Any]] = []
    for r in rows:
        clock = _case_clock(r, cal, now)
        if clock is None:
            continue
        frac, due, left, running = clock
        breached = frac >= 1.0 or (running and due is not None and due <= now)
        reached = [k for f, k in warn if frac >= f] + (["breach"] if breached else [])
        status = "breached" if breached else ("warning" if frac >= warn_at else "running")
        owner = r.owner_role or ""
        target = up.get(owner) if owner else None
        new = [k for k in reached if k not in seen.get(int(r.id), set())]
        escalated = target if "breach" in new and target and target != owner else ""
        out.append({
            "case_id": int(r.id), "shop_id": int(r.shop_id), "platform": r.platform, "shop": r.shop,
            "state": r.state, "state_zh": STATE_ZH.get(r.state, r.state),
            "category": r.primary_category or "", "category_zh": CATEGORY_ZH.get(r.primary_category or "", ""),
            "severity": r.severity or "", "owner_role": owner, "owner_role_zh": names.get(owner, owner),
            "escalate_to": target or "", "escalate_to_zh": names.get(target, "") if target else "",
            "due_at": due, "due_local": _local(due), "fraction_used": round(float(frac), 4),
            "minutes_left": round(left), "sla_status": status, "sla_status_zh": SLA_STATUS_ZH[status],
            "notice": reached[-1] if reached else "", "new_notices": ";".join(new), "escalated_to": escalated,
            "escalated_to_zh": "",
            "todo_role": (target or owner) if "breach" in new else owner,  # escalated earlier: the new owner
        })
    df = pd.DataFrame(out, columns=SLA_COLUMNS)
    if apply:
        for i, rec in df.iterrows():
            if not rec["new_notices"]:
                continue
            recorded, moved = _record_notices(store, rec, now=now, actor=actor, policy=policy)
            df.at[i, "new_notices"] = ";".join(recorded)
            df.at[i, "escalated_to"] = moved
    df["escalated_to_zh"] = [names.get(r, r) if r else "" for r in df["escalated_to"]]
    order = {"breached": 0, "warning": 1, "running": 2}
    if len(df):
        df = (df.assign(_o=df["sla_status"].map(order), _d=pd.to_datetime(df["due_at"], utc=True))
              .sort_values(["_o", "_d", "case_id"], kind="stable").drop(columns=["_o", "_d"]).reset_index(drop=True))
    return df


def _record_notices(store: Store, rec: Any, *, now: dt.datetime, actor: str,
                    policy: Policy) -> tuple[list[str], str]:
    """Record one case's new notices and, for a new ``breach``, escalate it — in one transaction.

    Returns the kinds this call inserted and the role the case moved to ("" when none). A kind some
    other sweep recorded first is skipped; so is the escalation that belongs to its ``breach``.
    """
    from ..core.store import cases, sla_notices, update_case

    names, up = _role_names(policy), _escalates(policy)
    recorded: list[str] = []
    moved = ""
    with store.write() as conn:
        case = conn.execute(sa.select(cases.c.version, cases.c.owner_role, cases.c.first_contact_at)
                            .where(cases.c.id == int(rec["case_id"])).with_for_update()).first()
        if case is None or case.first_contact_at is not None:
            return recorded, moved  # contacted (or gone) since the sweep looked
        owner = case.owner_role or ""
        target = up.get(owner) if owner else None
        for kind in str(rec["new_notices"]).split(";"):
            role = (target or owner) if kind == "breach" else owner
            if _insert_once(conn, sla_notices, ["case_id", "kind"], {
                    "case_id": int(rec["case_id"]), "shop_id": int(rec["shop_id"]), "kind": kind,
                    "due_at": _py_dt(rec["due_at"]),
                    "role": role or None, "sent_at": now, "sent_by": actor}):
                recorded.append(kind)
        if "breach" in recorded and target and target != owner:
            note = (f"{ESCALATION_NOTE}：首次联系超时，{names.get(owner, owner)}（{owner}）→ "
                    f"{names.get(target, target)}（{target}）/ SLA breached: escalated from {owner} to {target}")
            update_case(conn, int(rec["case_id"]), int(case.version), {"owner_role": target, "notes": note},
                        actor=actor, via="playbook", action="sla_escalation", at=now)
            moved = target
    return recorded, moved


# ------------------------------------------------------------------- 2. follow-ups
def _end_of_local_day(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(SHANGHAI)
    nxt = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0, 0), tzinfo=SHANGHAI)
    return nxt.astimezone(UTC)


def followups_due_today(store: Store, *, now: dt.datetime | None = None, shop_ids: list[int] | None = None,
                        actor: str = DAILY_SWEEP_ACTOR, policy: Policy | None = None) -> pd.DataFrame:
    """Open follow-ups due before the end of ``now``'s day in Beijing time, overdue ones first
    (:data:`FOLLOWUP_COLUMNS`); the message is the drafted one, masked. Reads only."""
    from ..core.policy import load_policy_in
    from ..core.privacy import mask_text
    from ..core.store import cases, utcnow
    from ..core.users import Actor
    from .followups import due_followups

    now = parse_now(now) if now is not None else utcnow()
    shop_ids = _shop_ids(shop_ids)
    with store.read() as conn:
        policy = policy or load_policy_in(conn, None)
    names = _role_names(policy)
    system = Actor(name=actor, display_name="每日巡检", role="system", role_zh="系统", shops=None if shop_ids is None
                   else frozenset(shop_ids), case_limit_fen=0, window_days=0, window_limit_fen=0, can_unmask=False,
                   escalates_to=None)
    hours = (_end_of_local_day(now) - now).total_seconds() / 3600.0
    due = due_followups(store, system, now=now, horizon_hours=hours)
    if due.empty:
        return pd.DataFrame(columns=FOLLOWUP_COLUMNS)
    ids = [int(x) for x in due["case_id"].unique()]
    with store.read() as conn:
        owners = {int(r.id): (r.owner_role or "", r.assignee or "") for r in conn.execute(
            sa.select(cases.c.id, cases.c.owner_role, cases.c.assignee).where(cases.c.id.in_(ids))).all()}
    due = due.copy()
    due["overdue"] = due["minutes_left"] < 0
    due["role"] = [owners.get(int(c), ("", ""))[0] for c in due["case_id"]]
    due["role_zh"] = [names.get(r, r) for r in due["role"]]
    due["assignee"] = [owners.get(int(c), ("", ""))[1] for c in due["case_id"]]
    due["message"] = [mask_text(m) or "" for m in due["message"]]
    return due[FOLLOWUP_COLUMNS].reset_index(drop=True)


# -------------------------------------------------------------------- 3. delay remedy
def _delay_candidates(conn: sa.Connection, now: dt.datetime, shop_ids: list[int] | None, stall_hours: float,
                      lookback_days: float) -> dict[tuple[int, str], dict[str, Any]]:
    """Late-dispatch and stalled-delivery orders at ``now`` (one entry per (shop, order); dispatch first)."""
    from ..core.store import orders, shipment_events, shipments

    since = now - dt.timedelta(days=float(lookback_days))
    found: dict[tuple[int, str], dict[str, Any]] = {}
    late = conn.execute(
        sa.select(orders.c.shop_id, orders.c.order_id, orders.c.promised_ship_at, orders.c.shipped_at,
                  orders.c.carrier, orders.c.tracking_no)
        .where(orders.c.promised_ship_at.is_not(None), orders.c.promised_ship_at < now,
               orders.c.promised_ship_at >= since, _shop_filter(orders.c.shop_id, shop_ids),
               sa.or_(orders.c.shipped_at.is_(None), orders.c.shipped_at > orders.c.promised_ship_at))
        .order_by(orders.c.shop_id, orders.c.order_id)).all()
    for o in late:
        promised, shipped = _aware(o.promised_ship_at), _aware(o.shipped_at)
        until = shipped if shipped is not None and shipped <= now else now
        found[(int(o.shop_id), str(o.order_id))] = {
            "reason": "late_dispatch", "promised_at": promised,
            "hours_late": round((until - promised).total_seconds() / 3600.0, 2),
            "carrier": o.carrier or "", "tracking_no": o.tracking_no or ""}
    last_event = (sa.select(sa.func.max(shipment_events.c.event_at))
                  .where(shipment_events.c.shipment_pk == shipments.c.id, shipment_events.c.event_at <= now)
                  .scalar_subquery())
    ships = conn.execute(
        sa.select(shipments.c.shop_id, shipments.c.order_id, shipments.c.promised_at, shipments.c.shipped_at,
                  shipments.c.signed_at, shipments.c.status, shipments.c.last_event_at, shipments.c.carrier,
                  shipments.c.tracking_no, last_event.label("event_at"))
        .where(shipments.c.direction == "outbound", shipments.c.order_id.is_not(None),
               _shop_filter(shipments.c.shop_id, shop_ids),
               sa.or_(shipments.c.shipped_at.is_(None), shipments.c.shipped_at <= now),
               sa.or_(shipments.c.signed_at.is_(None), shipments.c.signed_at > now),
               sa.or_(shipments.c.status.is_(None), shipments.c.status.not_in(_NOT_IN_TRANSIT),
                      shipments.c.signed_at > now))
        .order_by(shipments.c.shop_id, shipments.c.order_id, shipments.c.id)).all()
    stall = dt.timedelta(hours=float(stall_hours))
    for s in ships:
        key = (int(s.shop_id), str(s.order_id))
        if key in found:
            continue
        promised = _aware(s.promised_at)
        last = _aware(s.event_at)
        if last is None:
            stored = _aware(s.last_event_at)
            last = stored if stored is not None and stored <= now else _aware(s.shipped_at)
        if promised is not None and since <= promised < now:
            hours = (now - promised).total_seconds() / 3600.0
        elif last is not None and last >= since and now - last >= stall:
            hours = (now - last).total_seconds() / 3600.0
        else:
            continue
        found[key] = {"reason": "stalled_delivery", "promised_at": promised, "hours_late": round(hours, 2),
                      "carrier": s.carrier or "", "tracking_no": s.tracking_no or ""}
    return found


def delay_sweep(store: Store, *, now: dt.datetime | None = None, shop_ids: list[int] | None = None,
                apply: bool = True, actor: str = DAILY_SWEEP_ACTOR, policy: Policy | None = None,
                lookback_days: float | None = None) -> pd.DataFrame:
    """Orders that qualify for the P4 delay remedy at ``now`` (:data:`DELAY_COLUMNS`), by shop and order.

    With ``apply`` (and a non-zero ``delay_coupon_fen``) inserts one ``delay_remedies`` row per order;
    ``issued`` says whether this call inserted it (False in a dry run, or when a concurrent sweep
    was first). Orders with an existing remedy, closed/cancelled or fully refunded orders are left out.
    """
    from ..core.policy import fen_to_yuan_text, load_policy_in
    from ..core.privacy import mask_text
    from ..core.store import delay_remedies, orders, refunds, shops, utcnow
    from .replies import draft_reply

    now = parse_now(now) if now is not None else utcnow()
    shop_ids = _shop_ids(shop_ids)
    with store.read() as conn:
        policy = policy or load_policy_in(conn, None)
        if lookback_days is None:
            lookback_days = float(policy.setting("delay_lookback_days"))
        found = _delay_candidates(conn, now, shop_ids, policy.setting("stall_hours"), lookback_days)
        done: set[tuple[int, str]] = set()
        info: dict[tuple[int, str], Any] = {}
        refunded: dict[tuple[int, str], int] = {}
        for shop in sorted({k[0] for k in found}):
            wanted = [k[1] for k in found if k[0] == shop]
            for start in range(0, len(wanted), 500):
                done.update((int(a), str(b)) for a, b in conn.execute(
                    sa.select(delay_remedies.c.shop_id, delay_remedies.c.order_id)
                    .where(delay_remedies.c.shop_id == shop,
                           delay_remedies.c.order_id.in_(wanted[start:start + 500]))).all())
                for o in conn.execute(sa.select(orders.c.shop_id, orders.c.order_id, orders.c.customer_id,
                                                orders.c.status_raw, orders.c.paid_fen, orders.c.refund_fen,
                                                orders.c.buyer_nick_masked)
                                      .where(orders.c.shop_id == shop,
                                             orders.c.order_id.in_(wanted[start:start + 500]))).all():
                    info[(int(o.shop_id), str(o.order_id))] = o
                refunded.update({(int(a), str(b)): int(n or 0) for a, b, n in conn.execute(
                    sa.select(refunds.c.shop_id, refunds.c.order_id, sa.func.sum(refunds.c.refund_fen))
                    .where(refunds.c.shop_id == shop, refunds.c.order_id.in_(wanted[start:start + 500]),
                           refunds.c.refunded_at.is_not(None), refunds.c.refunded_at <= now)
                    .group_by(refunds.c.shop_id, refunds.c.order_id)).all()})
        shop_rows = {int(r.id): r for r in conn.execute(sa.select(shops.c.id, shops.c.platform, shops.c.name)).all()}
    keys = [k for k in found if k not in done]
    amount = int(policy.setting("delay_coupon_fen") or 0)
    names = _role_names(policy)
    try:
        role = policy.category("logistics")["owner_role"]
    except KeyError:
        role = "agent"
    out: list[dict[str, Any]] = []
    for key in sorted(keys):
        o = info.get(key)
        if o is not None and _excluded(o, refunded.get(key, 0)):
            continue
        c = found[key]
        shop = shop_rows[key[0]]
        d = draft_reply("delay_notice", category="logistics", platform=shop.platform,
                        customer=(o.buyer_nick_masked if o is not None else None) or None, coupon_fen=amount,
                        shop=shop.name, order_id=key[1], policy=policy)
        out.append({
            "shop_id": key[0], "platform": shop.platform, "shop": shop.name, "order_id": key[1],
            "customer_id": None if o is None or o.customer_id is None else int(o.customer_id),
            "reason": c["reason"], "reason_zh": REASON_ZH[c["reason"]], "promised_at": c["promised_at"],
            "promised_local": _local(c["promised_at"]), "hours_late": c["hours_late"], "carrier": c["carrier"],
            "tracking_no": c["tracking_no"], "amount_fen": amount, "amount_yuan": fen_to_yuan_text(amount),
            "message": mask_text(d.text) or "", "message_ok": d.ok, "problems": "；".join(d.problems),
            "issued": False, "role": role, "role_zh": names.get(role, role),
        })
    df = pd.DataFrame(out, columns=DELAY_COLUMNS)
    df["customer_id"] = df["customer_id"].astype("Int64")
    if apply and amount > 0 and len(df):
        issued = []
        with store.write() as conn:
            for rec in df.itertuples(index=False):
                issued.append(_insert_once(conn, delay_remedies, ["shop_id", "order_id"], {
                    "shop_id": rec.shop_id, "order_id": rec.order_id,
                    "customer_id": None if pd.isna(rec.customer_id) else int(rec.customer_id),
                    "reason": rec.reason, "promised_at": _py_dt(rec.promised_at), "hours_late": float(rec.hours_late),
                    "amount_fen": amount, "message": rec.message, "issued_by": actor, "issued_at": now,
                    "policy_version": policy.version}))
        df["issued"] = issued
    return df


def _excluded(o: Any, refunds_fen: int = 0) -> bool:
    """Closed/cancelled per the platform status, or refunded in full: the order's refund amount or the sum
    of its refunds paid out by ``now`` (``refunds.refunded_at``) reaches the amount paid."""
    if _CLOSED_STATUS.search(str(o.status_raw or "")):
        return True
    paid = int(o.paid_fen or 0)
    return paid > 0 and max(int(o.refund_fen or 0), int(refunds_fen or 0)) >= paid


# ------------------------------------------------------------------ 4. appeal deadlines
def appeal_role(policy: Policy) -> str:
    """The role that files platform appeals: the owner role of the policy's ``malicious`` category (法务)."""
    try:
        return str(policy.category("malicious")["owner_role"] or "legal")
    except KeyError:
        return "legal"


def appeal_sweep(store: Store, *, now: dt.datetime | None = None, shop_ids: list[int] | None = None,
                 apply: bool = True, actor: str = DAILY_SWEEP_ACTOR, policy: Policy | None = None) -> pd.DataFrame:
    """Appeals not yet submitted whose platform deadline is near or past at ``now`` (:data:`APPEAL_COLUMNS`),
    overdue first, then by deadline.

    With ``apply`` records each stage's notice in ``sla_notices`` (``appeal_warn`` within the warning window,
    ``appeal_overdue`` after the deadline; once per case and kind — the table's unique (case, kind) decides, so
    concurrent sweeps never record twice). A dry run returns the same table and writes nothing. The queue is read
    as the sweep's ``actor`` (a plain operator name: every shop), limited to ``shop_ids``.
    """
    from ..core.columns import PLATFORM_ZH
    from ..core.policy import load_policy_in
    from ..core.store import shops, sla_notices, utcnow
    from .appeals import legal_queue

    now = parse_now(now) if now is not None else utcnow()
    shop_ids = _shop_ids(shop_ids)
    with store.read() as conn:
        policy = policy or load_policy_in(conn, None)
    queue = [r for r in legal_queue(store, actor, now=now, policy=policy)
             if (r["warning"] or r["overdue"]) and (shop_ids is None or int(r["shop_id"]) in shop_ids)]
    seen: dict[int, set[str]] = {}
    ids = sorted({int(r["case_id"]) for r in queue})
    with store.read() as conn:
        for start in range(0, len(ids), 500):
            for cid, kind in conn.execute(
                    sa.select(sla_notices.c.case_id, sla_notices.c.kind)
                    .where(sla_notices.c.case_id.in_(ids[start:start + 500]),
                           sla_notices.c.kind.in_(list(APPEAL_NOTICES.values())))).all():
                seen.setdefault(int(cid), set()).add(str(kind))
        shop_names = {int(r.id): r.name for r in conn.execute(sa.select(shops.c.id, shops.c.name)).all()}
    role = appeal_role(policy)
    role_zh = _role_names(policy).get(role, role)
    out: list[dict[str, Any]] = []
    for r in queue:
        status = "overdue" if r["overdue"] else "warning"
        kind = APPEAL_NOTICES[status]
        new = "" if kind in seen.get(int(r["case_id"]), set()) else kind
        out.append({
            "case_id": int(r["case_id"]), "shop_id": int(r["shop_id"]), "platform": r["platform"],
            "platform_zh": PLATFORM_ZH.get(r["platform"], r["platform"]), "shop": shop_names.get(int(r["shop_id"]), ""),
            "appeal_id": r["appeal_id"], "state": r["state"], "state_zh": r["state_zh"], "ground": r["ground"],
            "appeal_type": r["appeal_type"], "deadline_at": r["deadline_at"], "deadline_local": _local(r["deadline_at"]),
            "hours_left": r["hours_left"], "appeal_status": status, "appeal_status_zh": APPEAL_STATUS_ZH[status],
            "notice": kind, "new_notices": new, "role": role, "role_zh": role_zh})
    df = pd.DataFrame(out, columns=APPEAL_COLUMNS)
    df["appeal_id"] = df["appeal_id"].astype("Int64")
    if apply and len(df) and (df["new_notices"] != "").any():
        recorded = []
        with store.write() as conn:
            for rec in df.itertuples(index=False):
                if not rec.new_notices:
                    recorded.append("")
                    continue
                done = _insert_once(conn, sla_notices, ["case_id", "kind"], {
                    "case_id": int(rec.case_id), "shop_id": int(rec.shop_id), "kind": rec.new_notices,
                    "due_at": _py_dt(rec.deadline_at), "role": role, "sent_at": now, "sent_by": actor})
                recorded.append(rec.new_notices if done else "")
        df["new_notices"] = recorded
    if len(df):
        df = (df.assign(_o=df["appeal_status"].map({"overdue": 0, "warning": 1}),
                        _d=pd.to_datetime(df["deadline_at"], utc=True))
              .sort_values(["_o", "_d", "case_id"], kind="stable").drop(columns=["_o", "_d"]).reset_index(drop=True))
    return df


# ----------------------------------------------------------------------- the sweep
@dataclass
class DailySweep:
    """One sweep's result: the SLA, follow-up and delay tables, the to-do list per role, the counts (see the module
    doc), ``warnings`` (``中文 / English`` sentences: the holiday data missing within the next 60 days) and
    ``appeals`` (:data:`APPEAL_COLUMNS`: appeal deadlines near or past; on the legal role's to-do list, not in
    ``counts``)."""

    now: dt.datetime
    applied: bool
    sla: pd.DataFrame
    followups: pd.DataFrame
    delays: pd.DataFrame
    todo: pd.DataFrame
    counts: dict[str, int]
    roles: list[tuple[str, str]] = field(default_factory=list)  # (code, name_zh) in the policy's order
    warnings: list[str] = field(default_factory=list)
    appeals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=APPEAL_COLUMNS))

    def todo_for(self, role: str) -> pd.DataFrame:
        """The to-do rows of one role (a role code)."""
        return self.todo[self.todo["role"] == role].reset_index(drop=True)

    @property
    def summary(self) -> pd.DataFrame:
        """The counts as a two-column table (指标, 数值) for display."""
        labels = {
            "sla_open": "未首次联系的案件", "sla_warning": "即将超时", "sla_breached": "已超时",
            "notices_new": "本次新记录的时效提醒", "escalated": "本次自动升级", "followups_due": "今日到期跟进",
            "followups_overdue": "其中已逾期", "delay_orders": "符合延迟补偿的订单",
            "delay_issued": "本次发放延迟补偿券", "todo": "待办事项",
        }
        return pd.DataFrame([{"指标": labels[k], "数值": int(self.counts[k])} for k in labels])


def daily_sweep(store: Store, *, now: dt.datetime | str | None = None, shop_ids: list[int] | None = None,
                apply: bool = True, actor: str = DAILY_SWEEP_ACTOR) -> DailySweep:
    """Run the SLA, follow-up, delay and appeal-deadline checks at ``now`` and build the to-do list per role.

    ``shop_ids`` limits every check to those shops (None = all). ``apply=False`` writes nothing.
    """
    from ..core.clock import calendar_warning
    from ..core.policy import load_policy_in

    when = parse_now(now)
    shop_ids = _shop_ids(shop_ids)
    with store.read() as conn:
        policy = load_policy_in(conn, None)
    sla = sla_sweep(store, now=when, shop_ids=shop_ids, apply=apply, actor=actor, policy=policy)
    fups = followups_due_today(store, now=when, shop_ids=shop_ids, actor=actor, policy=policy)
    delays = delay_sweep(store, now=when, shop_ids=shop_ids, apply=apply, actor=actor, policy=policy)
    appeal_rows = appeal_sweep(store, now=when, shop_ids=shop_ids, apply=apply, actor=actor, policy=policy)
    roles = [(r["code"], r["name_zh"]) for r in policy.tables["roles"]]
    todo = _todo(sla, fups, delays, roles, applied=apply, appeals=appeal_rows)
    counts = {
        "sla_open": len(sla), "sla_warning": int((sla["sla_status"] == "warning").sum()),
        "sla_breached": int((sla["sla_status"] == "breached").sum()),
        "notices_new": int(sum(len([k for k in str(x).split(";") if k]) for x in sla["new_notices"])),
        "escalated": int((sla["escalated_to"] != "").sum()), "followups_due": len(fups),
        "followups_overdue": int(fups["overdue"].sum()) if len(fups) else 0, "delay_orders": len(delays),
        "delay_issued": int(delays["issued"].sum()) if len(delays) else 0, "todo": len(todo),
    }
    gap = calendar_warning(policy, when)  # R-11, ahead of time: the same sentence on every surface
    return DailySweep(now=when, applied=apply, sla=sla, followups=fups, delays=delays, todo=todo, counts=counts,
                      roles=roles, warnings=[str(gap)] if gap is not None else [], appeals=appeal_rows)


def _todo(sla: pd.DataFrame, fups: pd.DataFrame, delays: pd.DataFrame, roles: list[tuple[str, str]], *,
          applied: bool, appeals: pd.DataFrame | None = None) -> pd.DataFrame:
    names = dict(roles)
    rows: list[dict[str, Any]] = []
    for r in sla.itertuples(index=False):
        if r.sla_status == "running" and not r.notice:  # no reminder reached yet (50 % reminds while running)
            continue
        if r.sla_status == "breached":
            if "breach" in str(r.new_notices).split(";"):
                moved = r.escalated_to or r.escalate_to
                how = ((f"已自动升级给{names.get(moved, moved)}" if applied and r.escalated_to else
                        f"应升级给{names.get(moved, moved)}") if moved else "已在升级链顶端")
                who = f"原负责：{r.owner_role_zh}，{how}"
            else:  # escalated by an earlier sweep: the owner is already the escalation target
                who = f"负责：{r.owner_role_zh}，此前已超时升级"
            what = f"案件 {r.case_id} 首次联系已超时 {abs(r.minutes_left)} 分钟（{who}）：请立即联系顾客并处理"
            kind = "sla_escalation"
        else:
            what = (f"案件 {r.case_id} 时效已用 {r.fraction_used:.0%}，剩余 {r.minutes_left} 分钟（截止 {r.due_local}）："
                    f"请在截止前首次联系顾客")
            kind = "sla_warning"
        rows.append({"role": r.todo_role, "kind": kind, "ref": str(r.case_id), "shop": r.shop, "what_zh": what,
                     "due_at": r.due_at, "new": bool(r.new_notices)})
    for f in fups.itertuples(index=False):
        late = f"，已逾期 {abs(f.minutes_left) // 60} 小时" if f.overdue else ""
        rows.append({"role": f.role, "kind": "followup", "ref": str(f.case_id), "shop": f.shop,
                     "what_zh": f"案件 {f.case_id} 跟进“{f.step_zh}”到期{late}：发送话术并在工作台标记完成",
                     "due_at": f.due_at, "new": False})
    for d in delays.itertuples(index=False):
        how = "已发放" if d.issued else ("应发放" if not applied or d.amount_fen > 0 else "未发放（券面额为 0）")
        rows.append({"role": d.role, "kind": "delay_coupon", "ref": str(d.order_id), "shop": d.shop,
                     "what_zh": f"订单 {d.order_id} {d.reason_zh}（{d.hours_late:.1f} 小时）：{how} {d.amount_yuan} 元"
                                f"延迟补偿券，请把补偿消息发给顾客",
                     "due_at": d.promised_at, "new": bool(d.issued)})
    for a in (appeals.itertuples(index=False) if appeals is not None else ()):
        if a.appeal_status == "overdue":
            what = (f"案件 {a.case_id} 的{a.platform_zh}平台申诉（{a.appeal_type}，{a.state_zh}）已于 {a.deadline_local} 截止"
                    f"仍未提交：请立即提交，或在案件中记录未能申诉的原因")
        else:
            what = (f"案件 {a.case_id} 的{a.platform_zh}平台申诉（{a.appeal_type}，{a.state_zh}）将于 {a.deadline_local} 截止"
                    f"（剩余约 {max(float(a.hours_left), 0):.0f} 小时）：请在截止前制作申诉包并提交")
        rows.append({"role": a.role, "kind": "appeal_deadline", "ref": str(a.case_id), "shop": a.shop, "what_zh": what,
                     "due_at": a.deadline_at, "new": bool(a.new_notices)})
    df = pd.DataFrame(rows, columns=["role", "kind", "ref", "shop", "what_zh", "due_at", "new"])
    order = {code: i for i, (code, _) in enumerate(roles)}
    df["role_zh"] = [names.get(r, r or "未指定") for r in df["role"]]
    df["kind_zh"] = [KIND_ZH[k] for k in df["kind"]]
    df["due_local"] = [_local(t) for t in df["due_at"]]
    if len(df):
        df = (df.assign(_r=df["role"].map(lambda r: order.get(r, len(order))),
                        _k=df["kind"].map({"sla_escalation": 0, "sla_warning": 1, "appeal_deadline": 2, "followup": 3,
                                           "delay_coupon": 4}),
                        _d=pd.to_datetime(df["due_at"], utc=True))
              .sort_values(["_r", "_k", "_d", "ref"], kind="stable", na_position="last")
              .drop(columns=["_r", "_k", "_d"]).reset_index(drop=True))
    return df[TODO_COLUMNS]
