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

Decision rules (all values from the :class:`~reviewops.core.policy.Policy`):

1. **Negative** = rating at or below ``rating_negative_max_stars`` (中评/差评) **or** text
   score ≥ ``negative_threshold`` **or** an alarm word (投诉, 12315, 返现删评 …).
2. **Categories** from the text (:func:`~reviewops.grading.classify.classify`); ``other`` when none.
3. **SLA hours, owner role, severity, appeal** from the primary category's row of the
   SLA matrix (分类时效); an alarm word raises the severity to ``alarm_severity``.
4. **Due time** = SLA clock start + SLA hours on the policy's clock (24×7 or business
   hours with Chinese holidays, the shop's 节假日 rows first; :mod:`reviewops.core.sla`). The clock
   starts when the review was detected (first imported) or, with ``sla_start = posted``, when it
   was posted.

:attr:`TriageResult.warnings` says what the grader could not know: cases whose deadline was counted
Monday–Friday for lack of holiday data, and — ahead of time — when the next 60 days lack holiday data
(:func:`calendar_warning`, the same sentence the dashboard, ``watch --status`` and the daily sweep show).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..core.clock import calendar_of
from ..core.columns import Field
from ..core.errors import ConfigError
from ..core.policy import CATEGORY_ZH, SEVERITIES, SEVERITY_ZH, Policy, default_policy
from ..core.sla import add_working_time
from ..core.store import utcnow
from .classify import classify_detail
from .lexicon import TextResult, _rating_stars, rating_is_negative

if TYPE_CHECKING:
    from .textmodel import TextModel

__all__ = ["OUTPUT_NAMES", "TRIAGE_INPUT", "TRIAGE_OUTPUT", "triage"]

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


def _fmt_local(t: dt.datetime) -> str:
    from ..core.outputs import fmt_time  # the one formatter for times people read (Beijing time)

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
    from ..intake.clean import to_utc

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
    elif primary != "other":  # named by the shipped default category model, not by a lexicon phrase
        why = "默认分类模型判断，未命中分类词 / the default category model; no category words found"
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
    now = now or utcnow()
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


