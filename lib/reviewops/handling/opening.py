"""Opening cases: :func:`triage_store` grades the store's new reviews (:func:`reviewops.triage`) and opens
one case per bad review in the same transaction as its first follow-ups and its new-case alert hook;
recategorising a case and recomputing its deadline; :func:`open_queue`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..core.errors import ConfigError
from ..core.policy import Policy, current_policy
from ..core.sla import SlaCalendar, SlaEvent, SlaState, replay, state_from_json, state_to_json
from ..intake.clean import RATING_CLASS_ZH

if TYPE_CHECKING:
    from ..core.store import Store
    from ..grading.textmodel import TextModel
from ..core.clock import calendar_of, calendar_warning
from ..grading.triage import triage

__all__ = ["TriageResult", "case_sla_events", "open_queue", "recategorize_case", "recompute_due", "triage_store"]


# ---------------------------------------------------------------------- store
@dataclass
class TriageResult:
    """What :func:`triage_store` did. ``warnings`` (``中文 / English`` sentences): the new cases whose
    deadline was counted Monday–Friday for lack of holiday data, then the holiday data missing within the
    next 60 days (:func:`calendar_warning`)."""

    examined: int = 0
    negative: int = 0
    created: int = 0
    already_cased: int = 0
    policy_version: int | None = None
    model_version: int | None = None
    case_ids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    malicious: list[int] = field(default_factory=list)  # new cases routed to 法务 by detection (detect=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pending_reviews(conn: sa.Connection, shop_ids: Iterable[int] | None, *, batch_ids: Iterable[int] | None = None,
                     seen_since: dt.datetime | None = None) -> pd.DataFrame:
    from ..core.store import cases, reviews, shops

    q = (sa.select(reviews.c.id.label("review_pk"), reviews.c.shop_id, shops.c.platform,
                   reviews.c.content, reviews.c.append_content, reviews.c.rating_score, reviews.c.rating_class,
                   reviews.c.created_at, reviews.c.first_seen_at.label("detected_at"), reviews.c.is_default_review)
         .select_from(reviews.join(shops, shops.c.id == reviews.c.shop_id)
                      .outerjoin(cases, cases.c.review_pk == reviews.c.id))
         .where(cases.c.id.is_(None))
         .order_by(reviews.c.id))
    if shop_ids is not None:
        q = q.where(reviews.c.shop_id.in_(list(shop_ids)))
    if batch_ids is not None:
        q = q.where(reviews.c.batch_id.in_([int(b) for b in batch_ids]))
    if seen_since is not None:
        q = q.where(reviews.c.first_seen_at >= seen_since)
    rows = conn.execute(q).mappings().all()
    df = pd.DataFrame(rows, columns=["review_pk", "shop_id", "platform", "content", "append_content", "rating_score",
                                     "rating_class", "created_at", "detected_at", "is_default_review"])
    # the platform wrote these texts (系统默认好评, 此用户未填写评价内容): there is no buyer text to read
    df.loc[df["is_default_review"].astype(bool), "content"] = None
    df["rating"] = [int(s) if s is not None and s == s else RATING_CLASS_ZH.get(c) for s, c in
                    zip(df["rating_score"].astype(object), df["rating_class"])]
    for c in ("created_at", "detected_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df.drop(columns=["rating_score", "rating_class", "is_default_review"])


def triage_store(store: "Store", *, policy: Policy | None = None, model: "TextModel | None | bool" = True,
                 actor: str = "system", via: str = "cli", now: dt.datetime | None = None,
                 shop_ids: Iterable[int] | None = None, dated_at_detection: bool = False,
                 batch_ids: Iterable[int] | None = None, seen_since: dt.datetime | None = None,
                 on_case: Callable[[sa.Connection, int, Any], None] | None = None,
                 detect: bool = False,
                 on_malicious: Callable[[sa.Connection, int, Any], None] | None = None) -> TriageResult:
    """Open a case for every negative review in the store that has none yet (idempotent).

    ``detect``: run the malicious-review detection (:func:`reviewops.handling.defence.detect_in`) on the new
    cases in the same transaction, so a case and its signals and malicious routing exist together and its
    new-case alert already names 法务 (the watcher and ``reviewops triage`` do; ``result.malicious``).
    ``on_malicious(conn, case_id, info)`` runs for an *earlier* case routed then (a new review completing a
    burst with it); the new cases' own alerts come from ``on_case``.

    ``batch_ids`` / ``seen_since``: only reviews written by those import batches / first seen since
    then (the watcher triages what it just imported instead of every review without a case).
    ``on_case(conn, case_id, row)`` runs inside the transaction that opens each case, so what it
    writes (the watcher's alert) exists exactly when the case does — a crash cannot keep one without
    the other.

    ``dated_at_detection``: date each new case at its review's detection time (``first_seen_at``)
    instead of now — for replaying past imports that were each triaged on arrival (the demo).

    ``policy``: default the store's current policy (the default one is stored as
    version 1 on first use); an unsaved policy given here is stored first, so every
    case names the version it was graded under. ``model``: ``True`` = the newest
    trained model if any, ``False``/``None`` = the lexicon, or a :class:`TextModel`.
    Cases are written in one transaction with their audit events; a review that got
    a case meanwhile (another triage run) is skipped, never duplicated.
    """
    from ..core.policy import save_policy
    from ..grading.textmodel import TextModel

    if policy is None:
        policy = current_policy(store, actor=actor)
    elif policy.version is None:
        policy = save_policy(store, policy, actor=actor, note="triage")
    if model is True:
        model = TextModel.load(store)
    elif model is False:
        model = None
    result = TriageResult(policy_version=policy.version, model_version=getattr(model, "version", None))
    ahead = calendar_warning(policy, now)
    result.warnings = [str(ahead)] if ahead is not None else []
    with store.read() as conn:
        pending = _pending_reviews(conn, shop_ids, batch_ids=batch_ids, seen_since=seen_since)
    result.examined = len(pending)
    if pending.empty:
        return result
    graded = triage(pending, policy, model=model, now=now)
    neg = graded[graded["is_negative"]]
    result.negative = len(neg)
    if neg.empty:
        return result
    cal = calendar_of(policy)
    secret = store.pii_key if detect else None  # may write the key on first use: not inside the transaction
    for attempt in range(3):
        try:
            _write_cases(store, neg, policy, cal, result, actor=actor, via=via,
                         dated_at_detection=dated_at_detection, on_case=on_case, detect_secret=secret, now=now,
                         on_malicious=on_malicious)
            return result
        except sa.exc.IntegrityError:
            # another triage run opened a case for one of these reviews first (PostgreSQL, read
            # committed): nothing of this transaction was kept; go again and skip what is taken
            if attempt == 2:
                raise
            result.case_ids, result.already_cased, result.created, result.malicious = [], 0, 0, []
            result.warnings = [str(ahead)] if ahead is not None else []
    return result


def _write_cases(store: "Store", neg: pd.DataFrame, policy: Policy, cal: SlaCalendar, result: TriageResult, *,
                 actor: str, via: str, dated_at_detection: bool = False,
                 on_case: Callable[[sa.Connection, int, Any], None] | None = None,
                 detect_secret: bytes | None = None, now: dt.datetime | None = None,
                 on_malicious: Callable[[sa.Connection, int, Any], None] | None = None) -> None:
    """Open the cases of graded negative rows in one transaction, skipping reviews that have one
    (with ``detect_secret``, the malicious-review detection runs on them in that transaction)."""
    from ..core.store import cases, create_case
    from .cases import schedule_in

    on_create = any(r["anchor"] == "created" for r in policy.tables["followups"])
    missing: dict[int, tuple[Any, list[int]]] = {}  # year without holiday data -> (warning, case ids)
    with store.write() as conn:
        taken = {r for (r,) in conn.execute(sa.select(cases.c.review_pk).where(
            cases.c.review_pk.in_([int(x) for x in neg["review_pk"]]))) if r is not None}
        for row in neg.itertuples(index=False):
            if int(row.review_pk) in taken:
                result.already_cased += 1
                continue
            record = {
                "is_negative": True, "negative_score": float(row.negative_score),
                "primary_category": row.primary_category, "categories": row.categories,
                "severity": row.severity, "sla_hours": float(row.sla_hours), "owner_role": row.owner_role,
                "sla_start": row.sla_start.isoformat(), "due_at": row.due_at.isoformat(),
                "needs_appeal": bool(row.needs_appeal), "reasons": row.reasons.split("\n"),
                "policy_version": policy.version, "model_version": result.model_version,
            }
            clock = SlaState.initial().apply(
                SlaEvent("start", row.sla_start.to_pydatetime(), float(row.sla_hours) * 60.0), cal)
            case_id = create_case(
                conn, shop_id=int(row.shop_id), review_pk=int(row.review_pk), state="new", actor=actor, via=via,
                primary_category=row.primary_category, categories=row.categories, severity=row.severity,
                owner_role=row.owner_role, sla_due_at=clock.due_at(cal), sla_state_json=state_to_json(clock),
                sla_started_at=row.sla_start.to_pydatetime(), sla_hours=float(row.sla_hours),
                negative_score=float(row.negative_score), model_version=result.model_version,
                triage_json=json.dumps(record, ensure_ascii=False, sort_keys=True),
                policy_version=policy.version,
                at=row.detected_at.to_pydatetime() if dated_at_detection and not pd.isna(row.detected_at) else None,
            )
            if on_create:  # follow-ups the shop anchored on 建案
                schedule_in(conn, case_id, "created", at=row.sla_start.to_pydatetime())
            if on_case is not None:
                on_case(conn, case_id, row)
            result.case_ids.append(case_id)
            for w in clock.warnings:
                missing.setdefault(w.year, (w, []))[1].append(case_id)
        result.created = len(result.case_ids)
        if detect_secret is not None and result.case_ids:
            from .defence import detect_in

            opened = set(result.case_ids)

            def earlier(conn: sa.Connection, case_id: int, info: Any) -> None:
                if on_malicious is not None and case_id not in opened:
                    on_malicious(conn, case_id, info)

            result.malicious = detect_in(conn, case_ids=result.case_ids, now=now, actor=actor, via=via,
                                         secret=detect_secret, on_malicious=earlier).malicious
    result.warnings[:0] = [_cases_warning(w, ids) for _year, (w, ids) in sorted(missing.items())]


def _cases_warning(w: Any, case_ids: list[int]) -> str:
    """One line for the new cases whose deadline used R-11's Monday–Friday fallback for ``w.year``."""
    shown = "、".join(str(i) for i in case_ids[:10]) + (f" 等 {len(case_ids)} 个" if len(case_ids) > 10 else "")
    shown_en = ", ".join(str(i) for i in case_ids[:10]) + (f" and {len(case_ids) - 10} more" if len(case_ids) > 10
                                                            else "")
    return (f"案件 {shown} 的响应截止时间用到 {w.year} 年：{w.message_zh}（元旦等假日算作工作日）/ "
            f"cases {shown_en}: the deadline runs into {w.year}; {w.message_en}")


def _utcnow() -> dt.datetime:
    """:func:`reviewops.core.store.utcnow` (honours the simulated clock)."""
    from ..core.store import utcnow

    return utcnow()


def _case_policy(store: "Store", version: int | None) -> Policy:
    from ..core.policy import load_policy

    p = load_policy(store, version) if version is not None else None
    return p or current_policy(store)


def recategorize_case(store: "Store", case_id: int, expected_version: int, category: str, *, actor: str,
                      via: str, at: dt.datetime | None = None, note: str | None = None) -> int:
    """An operator corrects a case's primary category; the SLA, owner and severity follow it.

    The SLA clock is re-budgeted (time already used still counts) under the policy
    version the case was graded with; the new deadline is stored and the change is
    audited as a ``recategorize`` event — which later serves as a training label for
    the model's category head. Optimistic locking as :func:`~reviewops.core.store.update_case`
    (``ConflictError`` when ``expected_version`` is stale). Returns the new version.
    """
    from ..core.policy import CATEGORY_CODES
    from ..core.store import cases, stale_case, update_case

    if category not in CATEGORY_CODES:
        raise ConfigError(f"未知分类 {category!r}；可用：{', '.join(CATEGORY_CODES)} / unknown category {category!r}")
    at = at or _utcnow()
    with store.read() as conn:
        row = conn.execute(sa.select(cases.c.policy_version).where(cases.c.id == case_id)).first()
    if row is None:
        from ..core.errors import NotFound
        raise NotFound(f"案件不存在 case {case_id} does not exist; check the case number")
    policy = _case_policy(store, row.policy_version)
    cal = calendar_of(policy)
    cat = policy.category(category)
    with store.write() as conn:
        cur = conn.execute(sa.select(cases.c.version, cases.c.sla_state_json, cases.c.categories)
                           .where(cases.c.id == case_id)).first()
        if cur is not None and cur.version != expected_version:
            raise stale_case(case_id, cur.version, expected_version)
        if cur is None or cur.sla_state_json is None:
            raise ConfigError(f"案件 {case_id} 没有时效记录，不能改分类 / case {case_id} has no SLA clock")
        rest = [c for c in (cur.categories or "").split(";") if c and c != category]
        changes: dict[str, Any] = {
            "primary_category": category, "categories": ";".join([category, *rest]),
            "owner_role": cat["owner_role"], "severity": cat["severity"],
        }
        clock = state_from_json(cur.sla_state_json)
        if not clock.stopped:  # after the first contact the response SLA is settled; only the labels change
            clock = clock.apply(SlaEvent("rebudget", at, float(cat["sla_hours"]) * 60.0), cal)
            changes.update({"sla_hours": float(cat["sla_hours"]), "sla_due_at": clock.due_at(cal),
                            "sla_state_json": state_to_json(clock)})
        if note:
            changes["notes"] = note
        return update_case(conn, case_id, expected_version, changes, actor=actor, via=via,
                           action="recategorize", at=at)


def case_sla_events(conn: sa.Connection, case_id: int) -> list[SlaEvent]:
    """The SLA clock's events, rebuilt from the case's audit log alone.

    ``create`` → start (at ``sla_started_at`` with ``sla_hours``); every later event
    that changed ``sla_hours`` → rebudget at the event's time; the event that set
    ``first_contact_at`` (the first contact) → stop.
    """
    from ..core.store import case_events

    rows = conn.execute(sa.select(case_events.c.action, case_events.c.at, case_events.c.after_json)
                        .where(case_events.c.case_id == case_id).order_by(case_events.c.version_from)).all()
    events: list[SlaEvent] = []
    for action, at, after_json in rows:
        after = json.loads(after_json or "{}")
        if action == "create" and after.get("sla_started_at") and after.get("sla_hours") is not None:
            events.append(SlaEvent("start", dt.datetime.fromisoformat(after["sla_started_at"]),
                                   float(after["sla_hours"]) * 60.0))
        elif action != "create" and "sla_hours" in after and after["sla_hours"] is not None:
            events.append(SlaEvent("rebudget", at, float(after["sla_hours"]) * 60.0))
        if after.get("first_contact_at") and events:
            stop_at = max(dt.datetime.fromisoformat(after["first_contact_at"]), events[-1].at)
            events.append(SlaEvent("stop", stop_at))
            break  # the clock is stopped for good
    return events


def recompute_due(store: "Store", case_id: int) -> dt.datetime | None:
    """The SLA deadline recomputed from the audit log (R-10: equals the stored ``sla_due_at``).

    For a case whose clock stopped at the first contact, the deadline that applied then.
    """
    from ..core.store import cases

    with store.read() as conn:
        version = conn.execute(sa.select(cases.c.policy_version).where(cases.c.id == case_id)).scalar()
        events = case_sla_events(conn, case_id)
    if not events:
        return None
    cal = calendar_of(_case_policy(store, version))
    if events[-1].kind == "stop":
        events = events[:-1]
    return replay(events, cal).due_at(cal)


def open_queue(store: "Store", *, limit: int | None = 50, now: dt.datetime | None = None,
               shop_ids: Iterable[int] | None = None, excerpt_chars: int | None = None) -> pd.DataFrame:
    """Cases awaiting action, most urgent first: :func:`reviewops.handling.cases.case_queue` (the one queue every
    surface lists — CLI, forms, Excel), for ``shop_ids`` (``None`` = every shop).

    Columns :data:`reviewops.handling.cases.QUEUE_COLUMNS` (due_at UTC, due_local Beijing time, minutes_left
    negative = past the deadline and None once contacted, sla_status / sla_status_zh, masked excerpt).
    """
    from .cases import case_queue

    return case_queue(store, now=now, shop_ids=shop_ids, limit=limit, excerpt_chars=excerpt_chars)
