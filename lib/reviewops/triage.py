"""Triage: every negative review becomes a graded case with an SLA, an owner and its reasons.

Two entry points:

* :func:`triage` works on a DataFrame (Excel ``RO_TRIAGE``, notebooks, tests):
  it adds :data:`TRIAGE_OUTPUT` columns to the rows given, in order, and never
  touches a store.
* :func:`triage_store` reads the store's reviews that have no case yet, triages
  them under the current policy (and the newest text model, if one was
  trained), and opens one case per negative review — idempotently: a review
  never gets a second case, and running it again changes nothing. Each case
  keeps the decision and its reasons (``cases.triage_json`` and the ``create``
  audit event).

Decision rules (all values from the :class:`~reviewops.policy.Policy`):

1. **Negative** = rating at or below ``rating_negative_max_stars`` (中评/差评) **or** text
   score ≥ ``negative_threshold`` **or** an alarm word (投诉, 12315, 返现删评 …).
2. **Categories** from the text (:func:`~reviewops.classify.classify`); ``other`` when none.
3. **SLA hours, owner role, severity, appeal** from the primary category's row of the
   SLA matrix (分类时效); an alarm word raises the severity to ``alarm_severity``.
4. **Due time** = SLA clock start + SLA hours on the policy's clock (24×7 or business
   hours with Chinese holidays, the shop's 节假日 rows first; :mod:`reviewops.sla`). The clock
   starts when the review was detected (first imported) or, with ``sla_start = posted``, when it
   was posted.

:attr:`TriageResult.warnings` says what the grader could not know: cases whose deadline was counted
Monday–Friday for lack of holiday data, and — ahead of time — when the next 60 days lack holiday data
(:func:`calendar_warning`, the same sentence the dashboard, ``watch --status`` and the daily sweep show).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa

from .classify import TextResult, _rating_stars, classify_detail, rating_is_negative
from .clean import RATING_CLASS_ZH
from .columns import Field
from .errors import ConfigError
from .policy import CATEGORY_ZH, SEVERITIES, SEVERITY_ZH, Policy, current_policy, default_policy
from .sla import (
    CalendarGap,
    SlaCalendar,
    SlaEvent,
    SlaState,
    add_working_time,
    calendar_gap,
    replay,
    state_from_json,
    state_to_json,
)

if TYPE_CHECKING:
    from .store import Store
    from .textmodel import TextModel

__all__ = ["TRIAGE_INPUT", "TRIAGE_OUTPUT", "TriageResult", "calendar_of", "calendar_warning", "case_sla_events",
           "open_queue",
           "recategorize_case", "recompute_due", "triage", "triage_store"]

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Columns :func:`triage` reads. Only ``content`` (or its alias ``text``) is required; others pass through.
TRIAGE_INPUT: tuple[Field, ...] = (
    Field("content", "text", "评价内容", "the review text; the alias `text` is accepted"),
    Field("append_content", "text", "追评内容", "follow-up review (追评), read together with the content"),
    Field("rating", "rating", "评分", "stars 1–5 (4星, 4.0) or the platform class 好评/中评/差评; blank = unknown"),
    Field("created_at", "datetime", "评价时间", "when the review was posted; naive times are Asia/Shanghai"),
    Field("detected_at", "datetime", "发现时间", "when the shop first saw the review; default: now"),
    Field("platform", "id", "平台", "platform code (taobao, tmall, douyin, jd, pdd, kuaishou)"),
)

#: Columns :func:`triage` adds (types as produced).
TRIAGE_OUTPUT: tuple[Field, ...] = (
    Field("is_negative", "bool", "中差评", "bad rating or negative text or an alarm word"),
    Field("negative_score", "text", "负面分", "the text's negativity 0–1 (lexicon or fitted model)"),
    Field("primary_category", "id", "主分类", "SPEC category code of a negative review; empty otherwise"),
    Field("categories", "text", "全部分类", "every category found, ;-joined, primary first"),
    Field("severity", "id", "严重程度", "high / medium / low"),
    Field("sla_hours", "text", "响应时效(小时)", "hours to respond, from the SLA matrix"),
    Field("owner_role", "id", "负责角色", "role that owns the case (agent, supervisor, legal …)"),
    Field("sla_start", "datetime", "时效起算", "when the SLA clock starts (UTC, tz-aware)"),
    Field("due_at", "datetime", "响应截止", "SLA deadline (UTC, tz-aware; show in Asia/Shanghai)"),
    Field("needs_appeal", "bool", "需申诉", "the category asks for a platform appeal too (malicious)"),
    Field("reasons", "text", "判定理由", "why: one line per decision, Chinese / English"),
)
OUTPUT_NAMES = tuple(f.name for f in TRIAGE_OUTPUT)
_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # high=0 is the most severe


def calendar_of(policy: Policy) -> SlaCalendar:
    """The SLA clock the policy asks for: its clock settings and its 节假日 rows (which win over
    ``chinese_calendar``). Every deadline — triage, workbench, sweep, alerts, Excel, demo — is counted on it."""
    return SlaCalendar(
        mode=policy.setting("sla_clock"),
        day_start=policy.setting("business_day_start"),
        day_end=policy.setting("business_day_end"),
        holidays=bool(policy.setting("use_cn_holidays")),
        shop_days=policy.shop_days,
    )


def calendar_warning(policy: Policy, now: dt.datetime | None = None) -> CalendarGap | None:
    """Whether the next :data:`reviewops.sla.CALENDAR_LOOKAHEAD_DAYS` days from ``now`` (default: the
    current time) lack holiday data under ``policy`` — neither ``chinese_calendar`` nor the policy's 节假日
    rows cover them (:func:`reviewops.sla.calendar_gap`); ``None`` when nothing is missing or the clock
    needs no calendar. Every surface that computes deadlines shows this one message."""
    return calendar_gap(calendar_of(policy), now or _utcnow())


def _fmt_local(t: dt.datetime) -> str:
    from .outputs import fmt_time  # the one formatter for times people read (Beijing time)

    return fmt_time(t)


def _to_utc_series(values: pd.Series, name: str) -> pd.Series:
    """Datetimes (aware, naive = Asia/Shanghai, strings, Excel serials) → aware UTC; bad values raise."""
    if pd.api.types.is_datetime64_any_dtype(values):
        s = pd.to_datetime(values)
        if s.dt.tz is None:
            s = s.dt.tz_localize(SHANGHAI, ambiguous="raise", nonexistent="raise")
        return s.dt.tz_convert("UTC")
    objs = values.astype(object).where(values.notna(), None)
    if all(v is None or isinstance(v, (dt.datetime, pd.Timestamp)) for v in objs):
        out = []
        for v in objs:
            if v is None:
                out.append(pd.NaT)
                continue
            ts = pd.Timestamp(v)
            out.append((ts.tz_localize(SHANGHAI) if ts.tzinfo is None else ts).tz_convert("UTC"))
        return pd.Series(out, index=values.index, dtype="datetime64[ns, UTC]")
    from .clean import to_utc

    def local_text(v: Any) -> Any:  # datetimes among strings: as Shanghai wall time, which to_utc reads
        if isinstance(v, dt.datetime):
            return (v.astimezone(SHANGHAI).replace(tzinfo=None) if v.tzinfo else v).isoformat(sep=" ")
        return v

    conv, _ = to_utc(objs.map(local_text))
    bad = conv.bad
    if bad.any():
        rows = [int(i) + 2 for i in np.flatnonzero(bad.to_numpy())[:5]]
        sample = [str(values.iloc[i - 2]) for i in rows]
        raise ConfigError(f"列 {name} 有无法识别的时间（第 {rows} 行，值 {sample}）；请用 2025-10-01 12:00 这样的格式 / "
                          f"column {name} has times that cannot be read (rows {rows}, values {sample}); "
                          "use a format such as 2025-10-01 12:00")
    return pd.to_datetime(conv.values, utc=True)


def _reason_negative(rating: Any, rated_neg: bool, max_stars: int, score: float, threshold: float,
                     d: TextResult, model_version: int | None) -> str:
    parts = []
    if rated_neg:
        stars = _rating_stars(rating)
        shown = f"{stars:g}星" if isinstance(rating, (int, float, np.integer, np.floating)) else str(rating)
        parts.append(f"评分 {shown}（中评/差评或 ≤{max_stars}星）/ rating {shown} (≤ {max_stars}★ or 中评/差评)"
                     if stars is not None else f"评分 {rating} / rating {rating}")
    src = f"模型 v{model_version}" if model_version is not None else "词库"
    src_en = f"model v{model_version}" if model_version is not None else "lexicon"
    if score >= threshold:
        words = "、".join(dict.fromkeys(d.negative_hits)) or "—"
        parts.append(f"文本负面分 {score:.2f} ≥ {threshold:g}（{src}；负面词：{words}）/ "
                     f"text score {score:.2f} ≥ {threshold:g} ({src_en})")
    if d.alarm:
        words = "、".join(dict.fromkeys(d.alarm))
        parts.append(f"预警词：{words} / alarm words")
    if not parts:
        return (f"非中差评：评分未达中差评，文本负面分 {score:.2f} < {threshold:g}（{src}）/ not negative: rating fine, "
                f"text score {score:.2f} < {threshold:g} ({src_en})")
    return "中差评：" + "；".join(parts)


def _reason_category(primary: str, cats: list[str], d: TextResult, from_model: bool) -> str:
    hits = d.category_hits.get(primary, ())
    if from_model:
        why = "模型分类头 / model's category head"
    elif hits:
        why = "命中：" + "、".join(dict.fromkeys(hits))
    else:
        why = "未命中分类词，归为其他 / no category words found"
    others = [f"{CATEGORY_ZH[c]}" for c in cats[1:]]
    more = f"；其他分类：{'、'.join(others)}" if others else ""
    return f"主分类 {CATEGORY_ZH[primary]} {primary}（{why}）{more}"


def triage(reviews: pd.DataFrame, policy: Policy | None = None, *, model: "TextModel | None" = None,
           now: dt.datetime | None = None) -> pd.DataFrame:
    """Grade review rows: a copy of ``reviews`` with :data:`TRIAGE_OUTPUT` columns added.

    ``reviews`` needs a ``content`` (or ``text``) column; ``rating``, ``append_content``,
    ``created_at``, ``detected_at`` and ``platform`` are used when present (see
    :data:`TRIAGE_INPUT`); other columns pass through unchanged. Rows that are not
    negative get empty category, SLA, owner and due values and a reason saying why.
    ``now`` (aware) stands in for a missing ``detected_at``; default: the current time.
    """
    policy = policy or default_policy()
    if not isinstance(reviews, pd.DataFrame):
        raise ConfigError(f"triage 需要 DataFrame，收到 {type(reviews).__name__} / triage needs a DataFrame")
    df = reviews.copy()
    if "content" not in df.columns:
        if "text" not in df.columns:
            raise ConfigError(f"缺少评价内容列 content（或 text）；现有列：{list(df.columns)} / a `content` (or `text`) "
                              f"column is required; got columns {list(df.columns)}")
        content = df["text"]
    else:
        content = df["content"]
    clash = [c for c in OUTPUT_NAMES if c in df.columns]
    if clash:
        df = df.drop(columns=clash)
    now = now or _utcnow()
    if now.tzinfo is None:
        raise ConfigError(f"now 必须带时区 / `now` must be timezone-aware; got {now!r}")
    texts = content.astype(object).where(content.notna(), "").map(str)
    if "append_content" in df.columns:
        extra = df["append_content"].astype(object).where(df["append_content"].notna(), "").map(str)
        texts = texts.where(extra.str.len() == 0, texts + "\n" + extra)
    ratings = df["rating"].tolist() if "rating" in df.columns else [None] * len(df)
    frame, details = classify_detail(texts.tolist(), ratings, model, policy)
    n = len(df)
    start_posted = policy.setting("sla_start") == "posted"
    detected = _to_utc_series(df["detected_at"], "detected_at") if "detected_at" in df.columns else \
        pd.Series([pd.NaT] * n, index=df.index, dtype="datetime64[ns, UTC]")
    posted = _to_utc_series(df["created_at"], "created_at") if "created_at" in df.columns else \
        pd.Series([pd.NaT] * n, index=df.index, dtype="datetime64[ns, UTC]")
    cal = calendar_of(policy)
    threshold = float(policy.setting("negative_threshold"))
    max_stars = int(policy.setting("rating_negative_max_stars"))
    alarm_sev = policy.setting("alarm_severity")
    cats_by_code = {r["code"]: r for r in policy.tables["categories"]}
    role_zh = {r["code"]: r["name_zh"] for r in policy.tables["roles"]}
    model_version = getattr(model, "version", None) if model is not None else None
    has_cat_head = model is not None and getattr(model, "cat_weights", None) is not None
    out: dict[str, list[Any]] = {k: [] for k in OUTPUT_NAMES}
    negs = frame["is_negative"].tolist()
    scores = frame["negative_score"].tolist()
    primaries = frame["primary_category"].tolist()
    categories = frame["categories"].tolist()
    posted_at = [None if pd.isna(t) else t.to_pydatetime() for t in posted]
    detected_at = [None if pd.isna(t) else t.to_pydatetime() for t in detected]
    for i in range(n):
        d = details[i]
        neg = bool(negs[i])
        score = float(scores[i])
        reasons = [_reason_negative(ratings[i], rating_is_negative(ratings[i], max_stars), max_stars, score,
                                    threshold, d, model_version)]
        out["is_negative"].append(neg)
        out["negative_score"].append(score)
        out["primary_category"].append(primaries[i])
        out["categories"].append(categories[i])
        if not neg:
            for k in ("severity", "owner_role", "sla_start", "due_at"):
                out[k].append(None)
            out["sla_hours"].append(np.nan)
            out["needs_appeal"].append(False)
            out["reasons"].append("\n".join(reasons))
            continue
        primary = primaries[i]
        cats = categories[i].split(";")
        row = cats_by_code[primary]
        reasons.append(_reason_category(primary, cats, d, has_cat_head))
        severity = row["severity"]
        sev_why = f"分类默认 {SEVERITY_ZH[severity]}"
        if d.alarm and _SEV_RANK[alarm_sev] < _SEV_RANK[severity]:
            severity = alarm_sev
            sev_why = f"预警词 {'、'.join(dict.fromkeys(d.alarm))} → {SEVERITY_ZH[severity]}"
        hours = float(row["sla_hours"])
        role = row["owner_role"]
        when_posted = posted_at[i]
        when_detected = detected_at[i]
        if start_posted and when_posted is not None:
            start, start_why = when_posted, ("评价时间", "posted")
        elif when_detected is not None:
            start, start_why = when_detected, ("发现时间", "detected")
        else:
            start, start_why = now.astimezone(dt.timezone.utc), ("当前时间", "now")
        due, warnings = add_working_time(start, hours * 60.0, cal)
        clock = ("全天候", "24x7") if cal.mode == "always" else ("仅工作时间", "business hours")
        pver = f"策略 v{policy.version}" if policy.version else "默认策略"
        reasons.append(
            f"时效 {hours:g} 小时，负责 {role_zh.get(role, role)}（{role}），严重程度 {SEVERITY_ZH[severity]}（{sev_why}）"
            f"{'，需平台申诉' if row['appeal'] else ''}；{pver} / "
            f"SLA {hours:g} h, owner {role}, severity {severity}{', appeal' if row['appeal'] else ''}")
        reasons.append(f"截止 {_fmt_local(due)}（北京时间；从{start_why[0]} {_fmt_local(start)} 起算，{clock[0]}）/ "
                       f"due {_fmt_local(due)} Asia/Shanghai ({clock[1]} from {start_why[1]} time)")
        for w in warnings:
            reasons.append(f"⚠ {w.message_zh} / {w.message_en}")
        out["severity"].append(severity)
        out["sla_hours"].append(hours)
        out["owner_role"].append(role)
        out["sla_start"].append(start)
        out["due_at"].append(due)
        out["needs_appeal"].append(bool(row["appeal"]))
        out["reasons"].append("\n".join(reasons))
    for k in OUTPUT_NAMES:
        if k in ("sla_start", "due_at"):
            df[k] = pd.to_datetime(pd.Series(out[k], index=df.index, dtype=object), utc=True)
        else:
            df[k] = pd.Series(out[k], index=df.index)
    df["is_negative"] = df["is_negative"].astype(bool)
    df["needs_appeal"] = df["needs_appeal"].astype(bool)
    df["sla_hours"] = df["sla_hours"].astype(float)
    return df


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)




def _pending_reviews(conn: sa.Connection, shop_ids: Iterable[int] | None, *, batch_ids: Iterable[int] | None = None,
                     seen_since: dt.datetime | None = None) -> pd.DataFrame:
    from .store import cases, reviews, shops

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
                 on_case: Callable[[sa.Connection, int, Any], None] | None = None) -> TriageResult:
    """Open a case for every negative review in the store that has none yet (idempotent).

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
    from .policy import save_policy
    from .textmodel import TextModel

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
    for attempt in range(3):
        try:
            _write_cases(store, neg, policy, cal, result, actor=actor, via=via,
                         dated_at_detection=dated_at_detection, on_case=on_case)
            return result
        except sa.exc.IntegrityError:
            # another triage run opened a case for one of these reviews first (PostgreSQL, read
            # committed): nothing of this transaction was kept; go again and skip what is taken
            if attempt == 2:
                raise
            result.case_ids, result.already_cased, result.created = [], 0, 0
            result.warnings = [str(ahead)] if ahead is not None else []
    return result


def _write_cases(store: "Store", neg: pd.DataFrame, policy: Policy, cal: SlaCalendar, result: TriageResult, *,
                 actor: str, via: str, dated_at_detection: bool = False,
                 on_case: Callable[[sa.Connection, int, Any], None] | None = None) -> None:
    """Open the cases of graded negative rows in one transaction, skipping reviews that have one."""
    from .followups import schedule_in
    from .store import cases, create_case

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
    result.warnings[:0] = [_cases_warning(w, ids) for _year, (w, ids) in sorted(missing.items())]


def _cases_warning(w: Any, case_ids: list[int]) -> str:
    """One line for the new cases whose deadline used R-11's Monday–Friday fallback for ``w.year``."""
    shown = "、".join(str(i) for i in case_ids[:10]) + (f" 等 {len(case_ids)} 个" if len(case_ids) > 10 else "")
    shown_en = ", ".join(str(i) for i in case_ids[:10]) + (f" and {len(case_ids) - 10} more" if len(case_ids) > 10
                                                            else "")
    return (f"案件 {shown} 的响应截止时间用到 {w.year} 年：{w.message_zh}（元旦等假日算作工作日）/ "
            f"cases {shown_en}: the deadline runs into {w.year}; {w.message_en}")


def _utcnow() -> dt.datetime:
    """:func:`reviewops.store.utcnow` (honours the simulated clock)."""
    from .store import utcnow

    return utcnow()


def _case_policy(store: "Store", version: int | None) -> Policy:
    from .policy import load_policy

    p = load_policy(store, version) if version is not None else None
    return p or current_policy(store)


def recategorize_case(store: "Store", case_id: int, expected_version: int, category: str, *, actor: str,
                      via: str, at: dt.datetime | None = None, note: str | None = None) -> int:
    """An operator corrects a case's primary category; the SLA, owner and severity follow it.

    The SLA clock is re-budgeted (time already used still counts) under the policy
    version the case was graded with; the new deadline is stored and the change is
    audited as a ``recategorize`` event — which later serves as a training label for
    the model's category head. Optimistic locking as :func:`~reviewops.store.update_case`
    (``ConflictError`` when ``expected_version`` is stale). Returns the new version.
    """
    from .policy import CATEGORY_CODES
    from .store import cases, stale_case, update_case

    if category not in CATEGORY_CODES:
        raise ConfigError(f"未知分类 {category!r}；可用：{', '.join(CATEGORY_CODES)} / unknown category {category!r}")
    at = at or _utcnow()
    with store.read() as conn:
        row = conn.execute(sa.select(cases.c.policy_version).where(cases.c.id == case_id)).first()
    if row is None:
        from .errors import NotFound
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
    from .store import case_events

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
    from .store import cases

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
    """Cases awaiting action, most urgent first: :func:`reviewops.cases.case_queue` (the one queue every
    surface lists — CLI, forms, Excel), for ``shop_ids`` (``None`` = every shop).

    Columns :data:`reviewops.cases.QUEUE_COLUMNS` (due_at UTC, due_local Beijing time, minutes_left
    negative = past the deadline and None once contacted, sla_status / sla_status_zh, masked excerpt).
    """
    from .cases import case_queue

    return case_queue(store, now=now, shop_ids=shop_ids, limit=limit, excerpt_chars=excerpt_chars)
