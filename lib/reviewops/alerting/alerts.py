"""Alerts (SPEC E1, E2): the ledger between "a case needs someone" and the IM robot, e-mail or SMS.

Every thing worth an alert is one ``alert_events`` row with an idempotency key — ``new_case:<case>``
for a new negative case, ``warn_50:<case>`` / ``warn_80:<case>`` … for an SLA warning,
``breach:<case>`` for the escalation at breach, ``appeal_warn:<case>`` for a platform-appeal deadline
within the warning window and ``appeal_overdue:<case>`` for a missed one (issue 17 §3; the watcher's
``malicious:<case>`` is in :mod:`reviewops.alerting.watch`). The unique key means an alert is raised once however
often a watcher restarts or how many run. Each event gets one ``alert_deliveries`` row per enabled
channel of the policy's 提醒渠道 table that subscribes to it (``new_case`` | ``sla_warn`` |
``sla_breach``; the policy has no appeal events of its own, so an appeal warning goes to the channels of
``sla_warn`` and a missed appeal deadline to those of ``sla_breach``). A service commitment in progress (issue 19
§P6) raises ``commit_warn:<code>:<shop>:<event>`` (channels of ``sla_warn``) and ``commit_breach:…`` (channels of
``sla_breach``): alerts with **no case** — ``alert_events.case_id`` is None and ``alert_events.subject`` holds what
they are about (JSON: commitment, masked event and order ids, start, deadline, limit).

Raising
    * :func:`case_alert_hook` — given to :func:`reviewops.handling.opening.triage_store` as ``on_case``: the
      new-case alert is written **in the transaction that opens the case**, so a crash can never
      leave a case without its alert (or an alert without its case).
    * :func:`raise_case_alerts` — the same for cases already open (a manual import, recovery).
    * :func:`raise_sla_alerts` — runs the SLA sweep (:func:`reviewops.handling.sweep.sla_sweep`, which records
      each warning and the breach escalation once) and the appeal-deadline sweep
      (:func:`reviewops.handling.sweep.appeal_sweep`, which records each appeal's warning and overdue stage once)
      and raises an alert for every notice of the last day that has none yet, whoever recorded it (the
      watcher or the daily_sweep playbook).
    * :func:`raise_commitment_alerts` — the breaches in progress of the 服务承诺
      (:func:`reviewops.prevention.commitments.breaches_in_progress`), once per key; run by the watcher's SLA check.

Sending (:func:`dispatch`)
    A sender *claims* a due delivery with a conditional update (pending, or ``sending`` whose lease
    ran out — a sender that died), builds the message from the case as it is now (masked customer
    and excerpt, :mod:`reviewops.core.privacy`), and sends it through :mod:`reviewops.alerting.channels`. Success
    records ``delivered_at``. A retryable failure (timeout, HTTP 5xx, rate limit) waits
    ``alert_retry_seconds`` × 2^(attempt−1), at most 10 minutes; after ``alert_max_attempts``
    attempts, or at once for a permanent failure (bad signature or key, missing secret, channel no
    longer in the policy), the delivery becomes a *dead letter*: :func:`dead_letters` lists them,
    :func:`resend` puts them back in the queue (audited in the access log).

    Delivery is at-least-once with a window of milliseconds: a sender killed after the service
    accepted a message but before the ledger recorded it sends it again when its lease (60 s) runs
    out. Every message carries its 提醒编号 (the key) so a repeat is recognisable.

Who is @-mentioned (:func:`on_duty`)
    The people of the policy's 值班表 on duty at the alert time (Beijing time, overnight shifts
    allowed) whose role is the role that must act (the owner, or the escalation target at breach) or
    客服主管 (``supervisor``). An appeal-deadline alert is addressed to the role recorded with its notice
    (法务, the ``malicious`` category's owner) only: its message names the case, platform, appeal type and
    state and the deadline in Beijing time, and carries no customer, rating or review text. A commitment alert is
    addressed to the measure's owner role (:data:`COMMITMENT_OWNER`) and 客服主管: its message names the commitment,
    the order or masked event, the time used against the limit, start and deadline in Beijing time, what to do and
    the owner department — no customer, rating or review text, and no case link.

Nothing here logs personal data: log lines and ``last_error`` carry ids, channel names, status
codes and the services' error codes only.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from ..core.columns import PLATFORM_ZH
from ..core.errors import ConfigError, ReviewOpsError
from ..core.policy import (
    CATEGORY_ZH,
    CHANNEL_TYPE_ZH,
    SEVERITY_ZH,
    Policy,
    alert_events_of,
    current_policy,
    weekdays_of,
)
from ..core.redact import redact_secrets

if TYPE_CHECKING:
    from ..core.store import Store
    from ..core.users import Actor
    from .channels import AlertMessage, Channel, Mention

__all__ = [
    "COMMITMENT_OWNER",
    "COMMIT_KINDS",
    "DEAD_LETTER_COLUMNS",
    "RESEND_ROLES",
    "SERVICE_LIMITS",
    "ChannelCache",
    "DispatchResult",
    "alert_event_of_kind",
    "case_alert_hook",
    "dead_letters",
    "digest_message",
    "dispatch",
    "message_for",
    "messages_for",
    "on_duty",
    "raise_case_alerts",
    "raise_commitment_alerts",
    "raise_sla_alerts",
    "resend",
]

log = logging.getLogger("reviewops.alerting.alerts")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LEASE = dt.timedelta(seconds=60)
MAX_BACKOFF = dt.timedelta(minutes=10)

#: Columns of :func:`dead_letters`.
DEAD_LETTER_COLUMNS = {
    "delivery_id": "投递编号 (alert_deliveries.id; what `reviewops watch --resend` takes)",
    "key": "提醒编号 (the alert's idempotency key)",
    "kind": "new_case | warn_NN | breach | malicious | appeal_warn | appeal_overdue | commit_warn | commit_breach",
    "case_id": "案件编号（服务承诺提醒无案件：空）",
    "shop_id": "店铺编号",
    "channel": "渠道代码",
    "channel_type": "feishu | dingtalk | wecom | email | sms",
    "attempts": "已尝试次数",
    "last_error": "最后一次失败的原因（不含个人信息）",
    "arrived_at": "到达时间 (UTC)",
    "updated_at": "进入死信的时间 (UTC)",
}


def _utcnow() -> dt.datetime:
    from ..core.store import utcnow

    return utcnow()


def _aware(t: Any) -> dt.datetime | None:
    """A caller's time or a triage frame's Timestamp as an aware datetime (naive = UTC); None/NaT → None.
    (Times read from the store are aware already.)"""
    if t is None or pd.isna(t):
        return None
    if isinstance(t, pd.Timestamp):
        t = t.to_pydatetime()
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


#: Alert kinds of platform-appeal deadlines (the ``sla_notices`` kinds of :func:`reviewops.handling.sweep.appeal_sweep`).
APPEAL_KINDS = ("appeal_warn", "appeal_overdue")


#: Alert kinds of service commitments in progress (issue 19 §P6): alerts about no case.
COMMIT_KINDS = ("commit_warn", "commit_breach")


def alert_event_of_kind(kind: str) -> str:
    """The policy event a kind belongs to: ``new_case`` and ``malicious`` → new_case, ``warn_NN``,
    ``appeal_warn`` and ``commit_warn`` → sla_warn, ``breach``, ``appeal_overdue`` and ``commit_breach`` → sla_breach."""
    if kind in ("new_case", "malicious"):
        return "new_case"
    if kind.startswith("warn_") or kind in ("appeal_warn", "commit_warn"):
        return "sla_warn"
    if kind in ("breach", "appeal_overdue", "commit_breach"):
        return "sla_breach"
    raise ConfigError(f"未知提醒类型 {kind!r} / unknown alert kind {kind!r}; use new_case, warn_NN, breach, malicious, "
                      "appeal_warn, appeal_overdue, commit_warn or commit_breach")


def _channels_for(policy: Policy, kind: str) -> list[Mapping[str, Any]]:
    event = alert_event_of_kind(kind)
    return [r for r in policy.tables.get("channels", ()) if r["enabled"] and event in alert_events_of(r)]


def _insert_event(conn: sa.Connection, *, key: str, kind: str, case_id: int | None, shop_id: int, source: str,
                  arrived_at: dt.datetime, detected_at: dt.datetime, policy: Policy, now: dt.datetime,
                  subject: str | None = None) -> int | None:
    """Insert the event and its deliveries unless the key exists (then None). Runs in the caller's transaction.
    ``case_id`` None = an alert about no case; ``subject`` then says what it is about."""
    from ..core.store import alert_deliveries, alert_events

    if conn.execute(sa.select(alert_events.c.id).where(alert_events.c.key == key)).first() is not None:
        return None
    nested = conn.begin_nested()  # a concurrent writer may insert the same key between the check and here
    try:
        event_id = int(conn.execute(alert_events.insert().values(
            key=key, kind=kind, case_id=case_id, shop_id=shop_id, source=source, arrived_at=arrived_at,
            detected_at=detected_at, created_at=now, subject=subject).returning(alert_events.c.id)).scalar_one())
    except sa.exc.IntegrityError:
        nested.rollback()
        return None
    nested.commit()
    rows = [{"event_id": event_id, "channel": r["name"], "channel_type": r["type"], "state": "pending",
             "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now}
            for r in _channels_for(policy, kind)]
    if rows:
        conn.execute(alert_deliveries.insert(), rows)
    return event_id


def case_alert_hook(policy: Policy, *, source: str, arrived_at: dt.datetime | Mapping[int, dt.datetime] | None,
                    created: list[int] | None = None) -> Any:
    """An ``on_case`` hook for :func:`reviewops.handling.opening.triage_store`: the new-case alert is written in
    the case's own transaction. ``arrived_at``: one time for the whole arrival, or per review id
    (``row.review_pk``); None = the review's detection time. Event ids are appended to ``created``.

    A review posted more than the policy's ``alert_max_review_age_hours`` (default 72) before it was
    found gets its case but no alert: a first import of months of history does not page anyone."""

    def hook(conn: sa.Connection, case_id: int, row: Any) -> None:
        now = _utcnow()
        if _is_history(policy, _aware(getattr(row, "created_at", None)), now):
            return  # a first import of old exports: a case, but no message
        detected = _aware(getattr(row, "detected_at", None)) or now
        if isinstance(arrived_at, Mapping):
            arrived = arrived_at.get(int(row.review_pk)) or detected
        else:
            arrived = arrived_at or detected
        event_id = _insert_event(conn, key=f"new_case:{case_id}", kind="new_case", case_id=case_id,
                                 shop_id=int(row.shop_id), source=source, arrived_at=min(arrived, now),
                                 detected_at=now, policy=policy, now=now)
        if event_id is not None and created is not None:
            created.append(event_id)

    return hook


def _is_history(policy: Policy, posted: dt.datetime | None, now: dt.datetime) -> bool:
    """A review posted more than ``alert_max_review_age_hours`` before ``now``: it gets a case, no alert."""
    max_age = dt.timedelta(hours=int(policy.setting("alert_max_review_age_hours")))
    return posted is not None and now - posted > max_age


def raise_case_alerts(store: Store, case_ids: Iterable[int], *, source: str, arrived_at: dt.datetime | None = None,
                      policy: Policy | None = None, include_history: bool = False) -> list[int]:
    """New-case alerts for cases already open (idempotent: a case alerted before is skipped).

    ``arrived_at`` None = the review's first-seen time. Reviews posted more than the policy's
    ``alert_max_review_age_hours`` ago are skipped unless ``include_history``. Returns the new event ids."""
    from ..core.store import cases, reviews

    ids = sorted({int(c) for c in case_ids})
    if not ids:
        return []
    policy = policy or current_policy(store)
    out: list[int] = []
    with store.write() as conn:
        rows = conn.execute(sa.select(cases.c.id, cases.c.shop_id, cases.c.created_at, reviews.c.first_seen_at,
                                      reviews.c.created_at.label("posted_at"))
                            .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.id.in_(ids))).all()
        now = _utcnow()
        for r in rows:
            if not include_history and _is_history(policy, r.posted_at, now):
                continue
            arrived = arrived_at or r.first_seen_at or r.created_at
            eid = _insert_event(conn, key=f"new_case:{r.id}", kind="new_case", case_id=int(r.id),
                                shop_id=int(r.shop_id), source=source, arrived_at=min(arrived, now),
                                detected_at=r.created_at, policy=policy, now=now)
            if eid is not None:
                out.append(eid)
    return out


def raise_sla_alerts(store: Store, *, now: dt.datetime | None = None, shop_ids: list[int] | None = None,
                     actor: str = "watcher", lookback: dt.timedelta = dt.timedelta(days=1)) -> list[int]:
    """Record SLA warnings and breach escalations (once each, :func:`reviewops.handling.sweep.sla_sweep`) and the
    platform-appeal deadline warnings and misses (once each per case, :func:`reviewops.handling.sweep.appeal_sweep`),
    and raise an alert for every notice sent within ``lookback`` that has none yet. Returns the new event ids.

    Only notices about deadlines later than ``now − lookback`` are alerted: a watcher started on a store
    with a backlog does not post a message for every case that has been overdue for days (they are in
    the queue, marked breached or overdue, and the notices and escalations are still recorded)."""
    from ..core.store import alert_events, sla_notices
    from ..handling.sweep import appeal_sweep, sla_sweep

    now = _aware(now) or _utcnow()
    policy = current_policy(store)
    sla_sweep(store, now=now, shop_ids=shop_ids, apply=True, actor=actor, policy=policy)
    appeal_sweep(store, now=now, shop_ids=shop_ids, apply=True, actor=actor, policy=policy)
    out: list[int] = []
    with store.write() as conn:
        q = (sa.select(sla_notices.c.case_id, sla_notices.c.shop_id, sla_notices.c.kind, sla_notices.c.sent_at)
             .where(sla_notices.c.sent_at >= now - lookback)
             .where(sa.or_(sla_notices.c.due_at.is_(None), sla_notices.c.due_at >= now - lookback))
             .where(~sa.exists().where(alert_events.c.case_id == sla_notices.c.case_id)
                    .where(alert_events.c.kind == sla_notices.c.kind)))
        if shop_ids is not None:
            q = q.where(sla_notices.c.shop_id.in_(list(shop_ids)))
        for r in conn.execute(q.order_by(sla_notices.c.id)).all():
            eid = _insert_event(conn, key=f"{r.kind}:{r.case_id}", kind=str(r.kind), case_id=int(r.case_id),
                                shop_id=int(r.shop_id), source="sweep", arrived_at=r.sent_at, detected_at=r.sent_at,
                                policy=policy, now=_utcnow())
            if eid is not None:
                out.append(eid)
    if out:
        log.info("SLA alerts raised: %d", len(out))
    return out


#: Per commitment measure: who owns a breach in progress (department, the role whose on-duty people are
#: @-mentioned) and what to do now. Shown in the alert; the 服务承诺 table has no owner column of its own.
COMMITMENT_OWNER: dict[str, tuple[str, str, str]] = {
    "dispatch_within_hours": ("仓储发货", "agent",
                              "请仓库立即安排发货并回填物流单号；确实无法按时发货的，请客服主动联系买家说明原因（可按策略发延迟补偿券）"),
    "aftersales_response_hours": ("售后", "agent", "请售后立即处理该售后申请：同意、退款，或写明拒绝理由"),
    "chat_first_response_minutes": ("客服", "agent", "请客服立即回复该会话中买家的消息"),
    "damage_claim_paid_hours": ("售后", "supervisor", "请核实破损凭证并尽快完成赔付打款，或联系买家补寄"),
    "return_no_reason_days": ("售后/财务", "agent", "退货已签收，请验货后立即退款"),
}


def _subject_of(row: Mapping[str, Any], measure: str) -> str:
    """The ``alert_events.subject`` of a commitment alert: JSON with the commitment, the masked event and order
    ids, the clock's start and deadline (UTC) and the limit — no customer data."""
    from ..core.privacy import mask_text

    def iso(t: Any) -> str:
        return pd.Timestamp(t).tz_convert("UTC").isoformat()

    order = row.get("order_id")
    return json.dumps({
        "commitment": str(row["commitment"]), "name_zh": str(row["name_zh"]), "measure": measure,
        "event": mask_text(str(row["event_id"])), "order": None if order is None or pd.isna(order) else str(order),
        "started_at": iso(row["started_at"]), "due_at": iso(row["due_at"]), "limit": float(row["limit"]),
        "unit_zh": str(row["unit_zh"]),
    }, ensure_ascii=False, sort_keys=True)


def raise_commitment_alerts(store: Store, *, now: dt.datetime | None = None,
                            shop_ids: list[int] | None = None) -> list[int]:
    """Raise one alert per service commitment breach in progress (issue 19 §P6): every key of
    :func:`reviewops.prevention.commitments.breaches_in_progress` at ``now`` — ``commit_warn:<code>:<shop>:<event>``
    once the warning fraction of the limit has passed, ``commit_breach:…`` once the limit has — becomes one
    ``alert_events`` row of kind ``commit_warn`` / ``commit_breach`` with no case and a ``subject``
    (:func:`_subject_of`), delivered to the channels of ``sla_warn`` / ``sla_breach``. Exactly once per key (the
    ledger's unique key); an event closed before it was seen raises nothing. Returns the new event ids."""
    from ..prevention.commitments import breaches_in_progress, commitment_rows

    now = _aware(now) or _utcnow()
    policy = current_policy(store)
    progress = breaches_in_progress(store, now, shop_ids=shop_ids, policy=policy)
    if progress.empty:
        return []
    rules = {r["code"]: r for r in commitment_rows(policy)}
    out: list[int] = []
    with store.write() as conn:
        for row in progress.to_dict("records"):
            rule = rules.get(row["commitment"], {})
            started = pd.Timestamp(row["started_at"]).to_pydatetime()
            due = pd.Timestamp(row["due_at"]).to_pydatetime()
            breached = row["stage"] == "breached"
            reached = due if breached else started + (due - started) * float(rule.get("warn_fraction") or 0.0)
            eid = _insert_event(conn, key=str(row["key"]), kind="commit_breach" if breached else "commit_warn",
                                case_id=None, shop_id=int(row["shop_id"]), source="sweep",
                                arrived_at=min(reached, now), detected_at=now, policy=policy, now=_utcnow(),
                                subject=_subject_of(row, str(rule.get("measure") or "")))
            if eid is not None:
                out.append(eid)
    if out:
        log.info("commitment alerts raised: %d", len(out))
    return out


# ------------------------------------------------------------------------------------------- duty
def _hhmm(text: str) -> dt.time:
    h, m = text.split(":")
    return dt.time(int(h), int(m))


def on_duty(policy: Policy, at: dt.datetime, roles: Iterable[str]) -> tuple[Mention, ...]:
    """The 值班表 people on duty at ``at`` (Beijing time) in any of ``roles``, in table order.

    A shift whose end is before its start runs overnight: it belongs to the weekday it starts on."""
    from .channels import Mention

    wanted = set(roles)
    local = _aware(at).astimezone(SHANGHAI)
    t, today = local.time(), local.isoweekday()
    yesterday = (today + 5) % 7 + 1
    out: list[Mention] = []
    for r in policy.tables.get("duty", ()):
        if r["role"] not in wanted:
            continue
        days = weekdays_of(r["weekdays"]) or frozenset()
        start, end = _hhmm(r["start"]), _hhmm(r["end"])
        if start < end:
            active = today in days and start <= t < end
        else:  # overnight
            active = (today in days and t >= start) or (yesterday in days and t < end)
        if active:
            out.append(Mention(name=r["name"], mobile=r.get("mobile"), feishu_id=r.get("feishu_id"),
                               wecom_id=r.get("wecom_id"), email=r.get("email")))
    return tuple(out)


# ---------------------------------------------------------------------------------------- message
def message_for(store: Store, event_id: int, *, policy: Policy | None = None, at: dt.datetime | None = None
                ) -> AlertMessage:
    """The message of one alert, built from the case as it is now (masked customer and excerpt)."""
    msg = messages_for(store, [event_id], policy=policy, at=at).get(int(event_id))
    if msg is None:
        raise ReviewOpsError(f"提醒 {event_id} 不存在 / alert {event_id} does not exist")
    return msg


def messages_for(store: Store, event_ids: Iterable[int], *, policy: Policy | None = None,
                 at: dt.datetime | None = None) -> dict[int, AlertMessage]:
    """The messages of several alerts by event id, read in one transaction with one query per 500 alerts (plus
    one for the escalation roles of breaches, and the appeal facts of each appeal-deadline alert) — what a
    sender round needs. Ids that do not exist are left out."""
    from ..core.store import alert_events, cases, customers, reviews, shops, sla_notices

    policy = policy or current_policy(store)
    ids = sorted({int(i) for i in event_ids})
    when = _aware(at) or _utcnow()
    out: dict[int, AlertMessage] = {}
    duty: dict[frozenset[str], tuple[Mention, ...]] = {}

    def mentions(roles: set[str]) -> tuple[Mention, ...]:
        key = frozenset(roles)
        if key not in duty:
            duty[key] = on_duty(policy, when, roles)
        return duty[key]

    with store.read() as conn:
        rows: list[Any] = []
        for i in range(0, len(ids), 500):
            rows += conn.execute(
                sa.select(alert_events.c.id, alert_events.c.key, alert_events.c.kind, alert_events.c.case_id,
                          alert_events.c.arrived_at, alert_events.c.subject,
                          shops.c.platform, shops.c.name.label("shop"), cases.c.primary_category, cases.c.severity,
                          cases.c.owner_role, cases.c.sla_due_at, cases.c.triage_json, reviews.c.content,
                          reviews.c.rating_score,
                          reviews.c.rating_raw, reviews.c.buyer_nick_masked, customers.c.nick_masked)
                .select_from(alert_events.outerjoin(cases, cases.c.id == alert_events.c.case_id)
                             .join(shops, shops.c.id == alert_events.c.shop_id)
                             .outerjoin(reviews, reviews.c.id == cases.c.review_pk)
                             .outerjoin(customers, customers.c.id == reviews.c.customer_id))
                .where(alert_events.c.id.in_(ids[i:i + 500]))).all()
        breach_cases = sorted({int(r.case_id) for r in rows if r.kind == "breach" and r.case_id is not None})
        breach_roles: dict[int, str] = {}
        for i in range(0, len(breach_cases), 500):
            breach_roles.update((int(c), r) for c, r in conn.execute(
                sa.select(sla_notices.c.case_id, sla_notices.c.role).where(sla_notices.c.kind == "breach")
                .where(sla_notices.c.case_id.in_(breach_cases[i:i + 500]))).all())
        masked = _masked_customers(rows)
        for row in rows:
            if row.case_id is None:  # an alert about no case: a service commitment in progress
                out[int(row.id)] = _commitment_message(row, policy, at)
            elif row.kind in APPEAL_KINDS:
                out[int(row.id)] = _appeal_message(conn, row, policy, at)
            else:
                role = row.owner_role
                if row.kind == "breach":
                    role = breach_roles.get(int(row.case_id)) or role
                out[int(row.id)] = _case_message(row, role, policy, mentions, masked.get(int(row.id)))
    return out


def _masked_customers(rows: list[Any]) -> dict[int, str]:
    """The customers' nicknames of alert rows masked again (whatever they look like: the masking keeps only what
    matches a platform's pattern) — one vectorised :func:`reviewops.core.privacy.name_frame` for all of them, the
    same rule as :func:`reviewops.core.privacy.mask_name` (which costs a frame per name)."""
    from ..core.privacy import CIPHER_SHOWN, name_frame

    nicks = {int(r.id): str(r.nick_masked or r.buyer_nick_masked) for r in rows
             if r.case_id is not None and (r.nick_masked or r.buyer_nick_masked)}
    todo = {i: v for i, v in nicks.items() if v != CIPHER_SHOWN}
    out = {i: v for i, v in nicks.items() if v == CIPHER_SHOWN}
    if todo:
        frame = name_frame(pd.Series(list(todo.values()), dtype=object), b"mask-only", nick=True)
        out.update(zip(todo, (str(v) for v in frame["masked"]), strict=True))
    return out


def _case_message(row: Any, role: str | None, policy: Policy, mentions: Any, customer: str | None) -> AlertMessage:
    """The message of an alert about a review's case (new case, SLA warning, breach, malicious)."""
    from ..core.outputs import fmt_time  # Beijing time, the one formatter for people
    from ..core.privacy import mask_text
    from .channels import AlertMessage, alert_title

    role_names = {r["code"]: r["name_zh"] for r in policy.tables["roles"]}
    chars = int(policy.setting("excerpt_chars"))
    excerpt = mask_text(" ".join(str(row.content or "").split())) or ""
    if len(excerpt) > chars:
        excerpt = excerpt[:chars] + "…"
    customer = customer or "（未知）"  # masked again by _masked_customers
    due_text = fmt_time(row.sla_due_at, empty="—")
    try:  # a deadline counted without holiday data says so in the alert too
        reasons = json.loads(row.triage_json or "{}").get("reasons") or []
    except ValueError:
        reasons = []
    if any("节假日数据" in str(r) for r in reasons):
        due_text += "（缺少节假日数据，按周一至周五计）"
    return AlertMessage(
        key=row.key, kind=row.kind, title=alert_title(row.kind), case_id=int(row.case_id),
        platform_zh=PLATFORM_ZH.get(row.platform, row.platform or ""),
        shop=row.shop or "", customer=customer, rating=int(row.rating_score) if row.rating_score is not None else None,
        rating_text=str(row.rating_raw or "")[:10],
        category_zh=CATEGORY_ZH.get(row.primary_category, row.primary_category or "其他"),
        severity_zh=SEVERITY_ZH.get(row.severity, row.severity or ""), excerpt=excerpt,
        due_local=due_text,
        role_zh=role_names.get(role, role or ""),
        case_url=f"{policy.setting('workbench_url')}voila/render/workbench.ipynb?case={int(row.case_id)}",
        mentions=mentions({role, "supervisor"} if role else {"supervisor"}))


def _commitment_message(row: Any, policy: Policy, at: dt.datetime | None) -> AlertMessage:
    """The message of a case-less alert (a service commitment in progress, kinds :data:`COMMIT_KINDS`): the
    commitment, the event (masked order id), how long it has been open against the limit, start and deadline in
    Beijing time, what to do and who owns it — no customer, rating or review text, no case link."""
    from ..core.outputs import fmt_time
    from ..prevention.commitments import UNIT_SECONDS
    from .channels import AlertMessage, alert_title

    try:
        sub = json.loads(row.subject or "{}")
    except ValueError:
        sub = {}
    if not isinstance(sub, dict):
        sub = {}
    name = str(sub.get("name_zh") or sub.get("commitment") or "服务承诺")
    measure = str(sub.get("measure") or "")
    dept, role, todo = COMMITMENT_OWNER.get(measure, ("店铺运营", "supervisor", "请尽快处理并在承诺时限内完成"))
    unit_zh = str(sub.get("unit_zh") or "小时")
    unit_s = {"小时": UNIT_SECONDS["hours"], "分钟": UNIT_SECONDS["minutes"], "天": UNIT_SECONDS["days"]}.get(
        unit_zh, UNIT_SECONDS["hours"])
    started = _aware(pd.Timestamp(sub["started_at"])) if sub.get("started_at") else None
    due = _aware(pd.Timestamp(sub["due_at"])) if sub.get("due_at") else None
    when = _aware(at) or _utcnow()
    event = str(sub.get("event") or "—")
    order = sub.get("order")
    what = f"订单 {order}" if order else f"事件 {event}"
    if order and event != order:
        what += f"（事件 {event}）"
    limit = sub.get("limit")
    parts = []
    if started is not None:
        parts.append(f"自 {fmt_time(started)}（北京时间）起已 {(when - started).total_seconds() / unit_s:.1f} {unit_zh}"
                     + (f"，承诺上限 {float(limit):g} {unit_zh}" if limit is not None else ""))
    if row.kind == "commit_breach":
        parts.append("已超过承诺时限，仍未完成")
    else:
        parts.append("即将超过承诺时限")
    body = "，".join(parts) + f"：{todo}。若已处理，请确认数据已导入，本提醒不会重复发送。"
    role_names = {r["code"]: r["name_zh"] for r in policy.tables["roles"]}
    roles = {role, "supervisor"}
    platform_zh = PLATFORM_ZH.get(row.platform, row.platform or "")
    return AlertMessage(
        key=row.key, kind=row.kind, title=f"{alert_title(row.kind)}：{name}", case_id=None,
        platform_zh=platform_zh, shop=row.shop or "", customer="—", rating=None, rating_text="—",
        category_zh=name, severity_zh="已违约" if row.kind == "commit_breach" else "即将违约", excerpt=body,
        due_local=fmt_time(due, empty="—"), role_zh=f"{dept}（{role_names.get(role, role)}）", case_url="",
        mentions=on_duty(policy, when, roles), subject=f"{name}·{what}")


def _appeal_message(conn: sa.Connection, row: Any, policy: Policy, at: dt.datetime | None) -> AlertMessage:
    """The message of an appeal-deadline alert: case number, platform and shop, the appeal type and state, the
    deadline in Beijing time (the one recorded with the notice) and what to do — no customer, rating or review
    text. Addressed to the notice's role (法务) and its on-duty people only."""
    from ..core.outputs import fmt_time
    from ..core.store import appeals, case_signals, sla_notices
    from ..handling.appeals import APPEAL_STATE_ZH, choose_ground, load_appeal_rules
    from .channels import AlertMessage, alert_title

    notice = conn.execute(sa.select(sla_notices.c.due_at, sla_notices.c.role)
                          .where(sla_notices.c.case_id == row.case_id, sla_notices.c.kind == row.kind)).first()
    deadline = notice.due_at if notice is not None else None
    role = (notice.role if notice is not None else None) or row.owner_role or "legal"
    appeal = conn.execute(sa.select(appeals.c.state, appeals.c.appeal_type, appeals.c.deadline_at)
                          .where(appeals.c.case_id == row.case_id).order_by(appeals.c.id.desc()).limit(1)).first()
    if appeal is not None:
        state_zh, appeal_type = APPEAL_STATE_ZH.get(appeal.state, appeal.state), appeal.appeal_type
        deadline = deadline or appeal.deadline_at
    else:
        signals = [dict(r) for r in conn.execute(
            sa.select(case_signals.c.kind, case_signals.c.pointers)
            .where(case_signals.c.case_id == row.case_id, case_signals.c.status != "rejected")).mappings()]
        rule = load_appeal_rules(policy=policy).get((row.platform, choose_ground(signals)))
        state_zh, appeal_type = "待制作申诉包", (rule.appeal_type if rule is not None else "恶意评价")
    platform_zh = PLATFORM_ZH.get(row.platform, row.platform or "")
    due = fmt_time(deadline, empty="—")
    what = f"案件 #{int(row.case_id)} 的{platform_zh}平台申诉（{appeal_type}，{state_zh}）"
    filed = appeal is not None and appeal.state not in ("drafted",)  # submitted since the notice was recorded
    if row.kind == "appeal_overdue":
        body = f"{what}已于 {due}（北京时间）截止" + (
            "；此后已提交，无需再处理" if filed else "，仍未提交：请立即提交，或在案件中记录未能申诉的原因")
    else:
        left = ("" if deadline is None else
                f"，剩余约 {max((deadline - (at or _utcnow())).total_seconds(), 0) / 3600:.0f} 小时")
        body = f"{what}须在 {due}（北京时间）前提交{left}" + ("；现已提交，无需再处理" if filed else "：请制作申诉包并提交")
    role_names = {r["code"]: r["name_zh"] for r in policy.tables["roles"]}
    return AlertMessage(
        key=row.key, kind=row.kind, title=f"{alert_title(row.kind)}：案件 #{int(row.case_id)}（{platform_zh}）",
        case_id=int(row.case_id),
        platform_zh=platform_zh, shop=row.shop or "", customer="—", rating=None, rating_text="—",
        category_zh=CATEGORY_ZH.get("malicious", "恶意"), severity_zh=SEVERITY_ZH.get(row.severity, row.severity or ""),
        excerpt=body, due_local=due, role_zh=role_names.get(role, role),
        case_url=f"{policy.setting('workbench_url')}voila/render/workbench.ipynb?case={int(row.case_id)}",
        mentions=on_duty(policy, at or _utcnow(), {role}))


# --------------------------------------------------------------------------------------- dispatch
@dataclass
class DispatchResult:
    """What one :func:`dispatch` round did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # claimed by another sender first
    throttled: int = 0  # left queued: the channel used its minute (SERVICE_LIMITS)
    digests: int = 0  # combined messages sent (each delivered several alerts)
    errors: list[str] = field(default_factory=list)  # no personal data


#: What each service accepts from one robot or account: (messages per minute, per second or None). Over
#: it the services refuse, and DingTalk blocks the robot for 10 minutes. Feishu custom bots: 100/min and
#: 5/s; DingTalk and WeCom group robots: 20/min; e-mail and SMS: a conservative 30/min. A channel's
#: 每分钟上限 (``per_minute``) in the policy replaces the per-minute figure.
SERVICE_LIMITS: dict[str, tuple[int, float | None]] = {
    "feishu": (100, 5.0), "dingtalk": (20, None), "wecom": (20, None), "email": (30, None), "sms": (30, None),
}
#: Lines of a combined message (合并提醒) that name their case; the policy's ``alert_digest_over`` decides
#: when alerts are combined.
DIGEST_LINES = 10


def digest_message(messages: list[AlertMessage], *, queue_url: str) -> AlertMessage:
    """One message for several alerts of a channel (a burst, or more than its rate allows): counts by
    category, severity and kind, the first :data:`DIGEST_LINES` cases with their excerpts, the earliest
    deadline, everyone to mention, and a link to the queue instead of one case."""
    from collections import Counter

    from .channels import AlertMessage

    def counted(values: list[str]) -> str:
        return "、".join(f"{k} {n}" for k, n in Counter(v for v in values if v).most_common())

    def unique(values: list[str]) -> str:
        return "、".join(dict.fromkeys(v for v in values if v))

    lines = [(f"#{m.case_id} {m.title}·{m.category_zh}：{m.excerpt[:30]}" if m.case_id is not None
              else f"{m.title}·{m.subject[:40]}") for m in messages[:DIGEST_LINES]]
    if len(messages) > DIGEST_LINES:
        lines.append(f"另有 {len(messages) - DIGEST_LINES} 条，见工作台队列")
    mentions = {m.name: m for msg in messages for m in msg.mentions}
    dues = sorted(m.due_local for m in messages if m.due_local and m.due_local != "—")
    return AlertMessage(
        key=f"digest:{messages[0].key}+{len(messages) - 1}", kind="digest",
        title=f"中差评提醒 {len(messages)} 条（合并发送）", case_id=messages[0].case_id,
        platform_zh=unique([m.platform_zh for m in messages]), shop=unique([m.shop for m in messages]),
        customer="（多位顾客）", rating=None, rating_text="—",
        category_zh=counted([m.category_zh for m in messages]), severity_zh=counted([m.severity_zh for m in messages]),
        excerpt="；".join(lines), due_local=(dues[0] + "（最早）") if dues else "—",
        role_zh=unique([m.role_zh for m in messages]), case_url=queue_url, mentions=tuple(mentions.values()))


#: While a round sends, the outcomes of its messages are written to the ledger at least this often (seconds):
#: one transaction for all outcomes of the interval instead of one per alert. It bounds the at-least-once
#: window: a sender killed after a service accepted a message repeats at most what it sent in the last interval.
FLUSH_S = 0.05
#: A paced channel (a per-second limit) whose next free send slot is further away than this is left for a
#: later round (its alerts stay queued) rather than waited for.
MAX_SLOT_WAIT = dt.timedelta(seconds=1)
#: A paced channel's first send slot of a round is this far after the slots are (re)reserved, just before sending:
#: time to commit, so the first send is not late (a late send followed by another sender's on-time one would come
#: closer than the per-second limit allows).
SLOT_LEAD = dt.timedelta(seconds=0.05)


def _message_of(store: Store, msgs: Mapping[int, AlertMessage], event_id: int, policy: Policy,
                now: dt.datetime) -> AlertMessage:
    """A message built for the round, or built now (when building them together failed)."""
    return msgs.get(event_id) or message_for(store, event_id, policy=policy, at=now)


def _digest_of(store: Store, msgs: Mapping[int, AlertMessage], event_ids: list[int], policy: Policy,
               now: dt.datetime) -> AlertMessage:
    return digest_message([_message_of(store, msgs, e, policy, now) for e in event_ids],
                          queue_url=f"{policy.setting('workbench_url')}voila/render/workbench.ipynb")


class ChannelCache:
    """Channels built from the policy's 提醒渠道 rows, kept from one :func:`dispatch` round to the next so a robot's
    HTTP connection stays open (:class:`reviewops.alerting.channels.HttpSession`). A channel is built again when its
    row or the environment it reads changes; :meth:`close` closes every connection. One per sender (the watcher
    holds one); not shared between threads."""

    def __init__(self) -> None:
        self._built: dict[str, tuple[Any, Channel]] = {}

    def get(self, row: Mapping[str, Any], env: Mapping[str, str] | None) -> Channel:
        """The channel of ``row``; raises :class:`ConfigError` as :func:`reviewops.alerting.channels.build_channel`."""
        import os

        from .channels import build_channel

        e = os.environ if env is None else env
        secret = str(row.get("secret_env") or "")
        key = (tuple(sorted((str(k), str(v)) for k, v in row.items())),
               tuple(sorted((k, str(v)) for k, v in e.items() if k.startswith("REVIEWOPS_") or k == secret)))
        name = str(row["name"])
        held = self._built.get(name)
        if held is not None and held[0] == key:
            return held[1]
        channel = build_channel(row, env=env)
        if held is not None:
            held[1].close()
        self._built[name] = (key, channel)
        return channel

    def close(self) -> None:
        for _, channel in self._built.values():
            channel.close()
        self._built.clear()


def _lock_channel(conn: sa.Connection, name: str) -> None:
    """Serialise the claims of one channel between senders (other watcher processes) for the rest of this
    transaction: on PostgreSQL a transaction-level advisory lock on the channel's name; SQLite's write
    transaction (``BEGIN IMMEDIATE``) already excludes every other writer."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"reviewops.alert_channel:{name}"})


@dataclass
class _Claim:
    """What one channel may send this round (decided and recorded in one transaction)."""

    ids: list[int] = field(default_factory=list)  # claimed, in the order given
    digest: bool = False  # one combined message for all of them
    throttled: int = 0  # left queued: the minute is used up, or the next send slot is too far
    offset_s: float = 0.0  # the first send slot, seconds after ``now``
    spacing_s: float = 0.0  # between individual sends (a per-second limit), 0 = unpaced


def _claim_round(store: Store, name: str, ids: list[int], now: dt.datetime, *, per_minute: int,
                 per_second: float | None, digest_over: int, pace: bool, elapsed_s: float = 0.0) -> _Claim:
    """Claim the due deliveries ``ids`` of one channel with one ``UPDATE`` (pending, or ``sending`` whose lease ran
    out), within the channel's rate, counted over **every** sender sharing the ledger: the minute's budget is
    ``per_minute`` minus the messages delivered in the last minute and those claimed by any sender and still in
    flight (distinct times = messages: a combined message's deliveries share one); a paced channel's sends get
    slots ``1/per_second`` apart after the last one delivered or reserved (kept in ``next_attempt_at`` while
    ``sending``), so two watchers together still keep to Feishu's 5 a second. More than ``digest_over`` claimed,
    or more than the budget, → one combined message (one slot). ``elapsed_s``: seconds since ``now`` was read
    (slots are reserved from the current time, :data:`SLOT_LEAD` ahead)."""
    from ..core.store import alert_deliveries as d

    out = _Claim()
    with store.write() as conn:
        _lock_channel(conn, name)
        sent, last_sent, held, last_held = _rate_state(conn, name, now)
        budget = per_minute - sent - held
        if budget <= 0:
            out.throttled = len(ids)
            return out
        base = now
        if per_second and pace:
            out.spacing_s = 1.0 / per_second
            current = now + dt.timedelta(seconds=elapsed_s)
            base = current + SLOT_LEAD
            last = max((t for t in (last_sent, last_held) if t is not None), default=None)
            if last is not None:
                base = max(base, last + dt.timedelta(seconds=out.spacing_s))
            if base - current > MAX_SLOT_WAIT + SLOT_LEAD:
                out.throttled = len(ids)
                return out
        claimed: set[int] = set()
        for i in range(0, len(ids), 500):
            claimed.update(int(r) for r in conn.execute(
                d.update().where(d.c.id.in_(ids[i:i + 500]))
                .where(sa.or_(d.c.state == "pending", sa.and_(d.c.state == "sending", d.c.lease_until < now)))
                .values(state="sending", lease_until=now + LEASE, updated_at=now).returning(d.c.id)).scalars())
        out.ids = [i for i in ids if i in claimed]
        if not out.ids:
            return out
        out.digest = len(out.ids) > max(1, min(digest_over, budget))
        out.offset_s = (base - now).total_seconds()
        _set_slots(conn, out, base)
    return out


def _rate_state(conn: sa.Connection, name: str, now: dt.datetime, mine: list[int] | None = None
                ) -> tuple[int, Any, int, Any]:
    """(messages delivered in the minute before ``now``, the last one's time, messages claimed and in flight, the
    latest slot reserved) of a channel, over every sender; ``mine``: deliveries of this round, left out."""
    from ..core.store import alert_deliveries as d

    recent = (sa.select(sa.func.count(sa.distinct(d.c.delivered_at)), sa.func.max(d.c.delivered_at))
              .where(d.c.channel == name).where(d.c.state == "delivered")
              .where(d.c.delivered_at >= now - dt.timedelta(minutes=1)))
    flying = (sa.select(sa.func.count(sa.distinct(d.c.next_attempt_at)), sa.func.max(d.c.next_attempt_at))
              .where(d.c.channel == name).where(d.c.state == "sending").where(d.c.lease_until >= now))
    if mine:
        flying = flying.where(d.c.id.not_in(mine))
    sent, last_sent = conn.execute(recent).one()
    held, last_held = conn.execute(flying).one()
    return int(sent or 0), last_sent, int(held or 0), last_held


def _set_slots(conn: sa.Connection, claim: _Claim, base: dt.datetime) -> None:
    """Record the claimed deliveries' send slots in ``next_attempt_at`` (one for a combined message)."""
    from ..core.store import alert_deliveries as d

    step = dt.timedelta(seconds=claim.spacing_s or 0.001)  # distinct slots: each single send is one message
    conn.execute(d.update().where(d.c.id == sa.bindparam("b_id")).values(next_attempt_at=sa.bindparam("b_slot")),
                 [{"b_id": i, "b_slot": base if claim.digest else base + n * step} for n, i in enumerate(claim.ids)])


def _reserve_slots(store: Store, name: str, claim: _Claim, now: dt.datetime, elapsed_s: float) -> None:
    """Just before a paced round sends (its messages built): reserve its slots again from the current time, after
    anything delivered or reserved by the other senders meanwhile, so the round's first send is on time — the slots
    of the claim were only a place in the queue. Sets ``claim.offset_s``."""
    with store.write() as conn:
        _lock_channel(conn, name)
        _sent, last_sent, _held, last_held = _rate_state(conn, name, now, claim.ids)
        base = now + dt.timedelta(seconds=elapsed_s) + SLOT_LEAD
        last = max((t for t in (last_sent, last_held) if t is not None), default=None)
        if last is not None:
            base = max(base, last + dt.timedelta(seconds=claim.spacing_s))
        _set_slots(conn, claim, base)
    claim.offset_s = (base - now).total_seconds()


class _Outcomes:
    """The outcomes of a round's sends, written to the ledger in one transaction per :data:`FLUSH_S` (and at the
    end): delivered (with the time the service accepted it), back to ``pending`` with backoff, or dead."""

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.max_attempts = int(policy.setting("alert_max_attempts"))
        self.retry_s = int(policy.setting("alert_retry_seconds"))
        self.rows: dict[str, list[dict[str, Any]]] = {"delivered": [], "retry": [], "dead": []}
        self.since: float | None = None

    def add(self, delivery_id: int, *, attempts: int, error: str | None = None, retryable: bool = False,
            at: dt.datetime | None = None) -> str:
        import time

        now = at or _utcnow()
        if error is None:
            state = "delivered"
            row: dict[str, Any] = {"b_id": delivery_id, "b_at": now}
        else:
            error = redact_secrets(error)  # the ledger never keeps a webhook token or signing secret (issue 15 §2)
            if retryable and attempts < self.max_attempts:
                state = "retry"
                wait = dt.timedelta(seconds=self.retry_s * 2 ** (attempts - 1))
                row = {"b_id": delivery_id, "b_next": now + min(wait, MAX_BACKOFF), "b_err": error}
            else:
                state = "dead"
                row = {"b_id": delivery_id, "b_err": error}
        row.update(b_attempts=attempts, b_now=now)
        self.rows[state].append(row)
        if self.since is None:
            self.since = time.monotonic()
        elif time.monotonic() - self.since >= FLUSH_S:
            self.flush()
        return state

    def flush(self) -> None:
        from ..core.store import alert_deliveries as d

        if not any(self.rows.values()):
            return
        mine = (d.update().where(d.c.id == sa.bindparam("b_id")).where(d.c.state == "sending"))
        common = {"attempts": sa.bindparam("b_attempts"), "lease_until": None, "updated_at": sa.bindparam("b_now")}
        with self.store.write() as conn:
            if self.rows["delivered"]:
                conn.execute(mine.values(state="delivered", delivered_at=sa.bindparam("b_at"), last_error=None,
                                         **common), self.rows["delivered"])
            if self.rows["retry"]:
                conn.execute(mine.values(state="pending", next_attempt_at=sa.bindparam("b_next"),
                                         last_error=sa.bindparam("b_err"), **common), self.rows["retry"])
            if self.rows["dead"]:
                conn.execute(mine.values(state="dead", last_error=sa.bindparam("b_err"), **common), self.rows["dead"])
        self.rows = {"delivered": [], "retry": [], "dead": []}
        self.since = None


def dispatch(store: Store, *, channels: Mapping[str, Channel] | None = None, policy: Policy | None = None,
             now: dt.datetime | None = None, limit: int = 200, timeout: float = 5.0,
             env: Mapping[str, str] | None = None, pace: bool = True, cache: ChannelCache | None = None
             ) -> DispatchResult:
    """Send every due delivery (at most ``limit``), oldest first, within each service's rate
    (:data:`SERVICE_LIMITS`): a channel that used its minute waits (its alerts stay queued), and more than
    the policy's ``alert_digest_over`` alerts due at once for a channel — or more than its remaining minute
    allows — go out as one combined message (:func:`digest_message`; ``alert_digest_over`` 0 = only when
    the minute's budget requires it). ``pace`` spaces individual sends to a per-second limit.
    ``channels`` by name overrides the ones built from the policy (tests, a custom SMS provider); ``cache``
    keeps the built ones (and their open connections) for the next round — without it they are closed at the end.

    Per channel and round: one transaction claims the due deliveries (:func:`_claim_round`: one ``UPDATE``, the
    rate counted over every sender of the ledger), one read builds their messages (:func:`messages_for`), and
    the outcomes are recorded in one transaction per :data:`FLUSH_S` seconds of sending (:class:`_Outcomes`)."""
    import time

    from ..core.store import alert_deliveries as d
    from .channels import ChannelError

    policy = policy or current_policy(store)
    now = _aware(now) or _utcnow()
    at_now = time.monotonic()  # send slots are times after ``now``: each send waits for its own, however late we are
    with store.read() as conn:
        due = conn.execute(
            sa.select(d.c.id, d.c.event_id, d.c.channel, d.c.channel_type, d.c.attempts)
            .where(sa.or_(sa.and_(d.c.state == "pending", d.c.next_attempt_at <= now),
                          sa.and_(d.c.state == "sending", d.c.lease_until < now)))
            .order_by(d.c.next_attempt_at, d.c.id).limit(limit)).all()
    result = DispatchResult()
    rows = {r["name"]: r for r in policy.tables.get("channels", ())}
    digest_over = int(policy.setting("alert_digest_over")) or limit
    by_channel: dict[str, list[Any]] = {}
    for item in due:
        by_channel.setdefault(item.channel, []).append(item)
    own_cache = cache is None
    cache = cache if cache is not None else ChannelCache()

    def tally(state: str, err: str | None, item_id: int, channel: str, attempts: int) -> None:
        if state == "delivered":
            result.delivered += 1
        elif state == "retry":
            result.retried += 1
        else:
            result.dead += 1
        if err:
            result.errors.append(redact_secrets(err))  # never a webhook token or signing secret (issue 15 §2)
            log.warning("alert delivery %s via %s: %s (attempt %d)", item_id, channel, state, attempts)

    def send_one(ch: Any, name: str, msg: Any) -> tuple[str | None, bool]:
        try:
            ch.send(msg(), timeout=timeout)
        except ChannelError as e:
            return f"{name}: {str(e)[:300]}", e.retryable
        except Exception as e:  # noqa: BLE001 - a channel bug must not stop the other alerts
            return f"{name}: {type(e).__name__}", True
        return None, False

    try:
        for name, items in by_channel.items():
            ch: Any = (channels or {}).get(name)
            if ch is None:
                if name not in rows:
                    ch = ConfigError(f"渠道 {name} 已不在策略的提醒渠道表中 / channel {name} is no longer in the policy")
                else:
                    try:
                        ch = cache.get(rows[name], env)
                    except ConfigError as e:
                        ch = e
            attempts = {int(item.id): int(item.attempts) + 1 for item in items}
            events = {int(item.id): int(item.event_id) for item in items}
            ids = [int(item.id) for item in items]
            outcomes = _Outcomes(store, policy)
            if isinstance(ch, ReviewOpsError):  # cannot be built here: every delivery of it is dead now
                claim = _claim_round(store, name, ids, now, per_minute=10**9, per_second=None, digest_over=limit,
                                     pace=False)
                err = f"{name}: {str(ch)[:300]}"
                for i in claim.ids:
                    tally(outcomes.add(i, attempts=attempts[i], error=err), err, i, name, attempts[i])
                outcomes.flush()
                result.skipped += len(ids) - len(claim.ids)
                continue
            per_minute, per_second = SERVICE_LIMITS.get(getattr(ch, "type", ""), (60, None))
            per_minute = int((rows.get(name) or {}).get("per_minute") or per_minute)  # the shop's own cap (每分钟上限)
            claim = _claim_round(store, name, ids, now, per_minute=per_minute, per_second=per_second,
                                 digest_over=digest_over, pace=pace, elapsed_s=time.monotonic() - at_now)
            result.throttled += claim.throttled
            result.skipped += len(ids) - len(claim.ids) - claim.throttled
            if not claim.ids:
                continue
            try:
                msgs = messages_for(store, [events[i] for i in claim.ids], policy=policy, at=now)
            except Exception:  # noqa: BLE001 - built one by one below, each failure on its own delivery
                log.warning("alert messages of %d deliveries via %s: built one by one", len(claim.ids), name)
                msgs = {}

            try:
                if claim.spacing_s:  # paced: this round's send slots, from now
                    _reserve_slots(store, name, claim, now, time.monotonic() - at_now)
                if claim.digest:  # one combined message
                    combined = functools.partial(_digest_of, store, msgs, [events[i] for i in claim.ids], policy, now)
                    wait = claim.offset_s - (time.monotonic() - at_now)
                    if wait > 0:
                        time.sleep(wait)
                    err, retry = send_one(ch, name, combined)
                    if err is None:
                        result.digests += 1
                    at = _utcnow()
                    for i in claim.ids:
                        tally(outcomes.add(i, attempts=attempts[i], error=err, retryable=retry, at=at), err, i, name,
                              attempts[i])
                    continue
                previous: float | None = None  # when this round's last send began (seconds after ``now``)
                for n, i in enumerate(claim.ids):
                    if claim.spacing_s:  # its slot, and never closer than the limit to the send before it
                        slot = claim.offset_s + n * claim.spacing_s
                        if previous is not None:
                            slot = max(slot, previous + claim.spacing_s)
                        wait = slot - (time.monotonic() - at_now)
                        if wait > 0:
                            time.sleep(wait)
                        previous = time.monotonic() - at_now
                    err, retry = send_one(ch, name, functools.partial(_message_of, store, msgs, events[i], policy, now))
                    tally(outcomes.add(i, attempts=attempts[i], error=err, retryable=retry), err, i, name, attempts[i])
            finally:
                outcomes.flush()
    finally:
        if own_cache:
            cache.close()
    return result


# ----------------------------------------------------------------------------------- dead letters
#: Roles that may re-send dead letters from the browser (the CLI is the server operator's).
RESEND_ROLES = ("supervisor", "admin")


def dead_letters(store: Store, *, limit: int = 500, shop_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Deliveries that gave up, newest first (columns: :data:`DEAD_LETTER_COLUMNS`); ``shop_ids``
    limits them to those shops (a signed-in user's)."""
    from ..core.store import alert_deliveries as d
    from ..core.store import alert_events as e

    with store.read() as conn:
        rows = conn.execute(
            sa.select(d.c.id.label("delivery_id"), e.c.key, e.c.kind, e.c.case_id, e.c.shop_id, d.c.channel,
                      d.c.channel_type, d.c.attempts, d.c.last_error, e.c.arrived_at, d.c.updated_at)
            .select_from(d.join(e, e.c.id == d.c.event_id)).where(d.c.state == "dead")
            .where(sa.true() if shop_ids is None else e.c.shop_id.in_([int(i) for i in shop_ids]))
            .order_by(d.c.updated_at.desc(), d.c.id.desc()).limit(limit)).mappings().all()
    return pd.DataFrame(rows, columns=list(DEAD_LETTER_COLUMNS))


def resend(store: Store, delivery_ids: Iterable[int] | None = None, *, actor: str | Actor) -> int:
    """Put dead deliveries (all, or ``delivery_ids``) back in the queue, due now with a fresh attempt
    count; each is recorded in the access log. Returns how many were re-queued.

    ``actor``: the CLI's login name (the server operator: everything), or a signed-in
    :class:`~reviewops.core.users.Actor` — then only a supervisor or admin (:data:`RESEND_ROLES`), and only
    the dead letters of the actor's shops; a refusal raises :class:`AccessDenied` and is logged."""
    from ..core.errors import AccessDenied
    from ..core.store import alert_deliveries as d
    from ..core.store import alert_events as e
    from ..core.users import Actor, log_access, log_denied

    name, role, shops = (actor.name, actor.role, actor.shops) if isinstance(actor, Actor) else (str(actor), None, None)
    if isinstance(actor, Actor) and actor.role not in RESEND_ROLES:
        err = AccessDenied(f"{actor.label}无权重新发送提醒；需要角色：客服主管或店长 / re-sending alerts needs a supervisor "
                           "or admin")
        log_denied(store, actor, "alert_resend", err)
        raise err
    now = _utcnow()
    with store.write() as conn:
        q = sa.select(d.c.id, d.c.channel).where(d.c.state == "dead")
        if shops is not None:
            q = q.where(d.c.event_id.in_(sa.select(e.c.id).where(e.c.shop_id.in_(sorted(shops)))))
        if delivery_ids is not None:
            wanted = sorted({int(i) for i in delivery_ids})
            q = q.where(d.c.id.in_(wanted))
            found = {int(r.id) for r in conn.execute(q).all()}
            missing = [i for i in wanted if i not in found]
            if missing:
                raise ConfigError(f"这些投递不在死信列表中：{missing}；用 `reviewops watch --dead` 查看 / not dead "
                                  f"letters: {missing}; see `reviewops watch --dead`")
        ids = [int(r.id) for r in conn.execute(q).all()]
        if ids:
            conn.execute(d.update().where(d.c.id.in_(ids)).values(
                state="pending", attempts=0, next_attempt_at=now, lease_until=None, updated_at=now))
            log_access(conn, actor=name, role=role, action="alert_resend", outcome="ok",
                       detail={"deliveries": ids})
    return len(ids)


def channel_summary(policy: Policy, env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The policy's channels with whether each can be built here (its secret variable set, addresses valid)."""
    from .channels import build_channel

    out = []
    for r in policy.tables.get("channels", ()):
        problem = ""
        if r["enabled"]:
            try:
                build_channel(r, env=env)
            except ReviewOpsError as e:
                problem = redact_secrets(e)  # may quote the webhook (issue 15 §2)
        out.append({"channel": r["name"], "type": CHANNEL_TYPE_ZH.get(r["type"], r["type"]),
                    "events": "、".join(sorted(alert_events_of(r))), "enabled": bool(r["enabled"]),
                    "problem": problem})
    return pd.DataFrame(out, columns=["channel", "type", "events", "enabled", "problem"])
