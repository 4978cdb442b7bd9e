"""P6 service commitments (SPEC P6, issue 19): how well the shop keeps the promises it publishes.

The commitments are the policy's 服务承诺 table (:data:`reviewops.core.policy.DEFAULT_COMMITMENTS` when it is empty):
code, Chinese name, the **measure** (one of :data:`reviewops.core.policy.COMMITMENT_MEASURES`), the limit in the
measure's unit, the platform it applies to (``*`` = every shop), the warning fraction and the words that mean a
listing shows it. Every measure is an *event* with a start and a closing time read from the exports already in the
store (nothing is written):

``dispatch_within_hours``        an order paid (``orders.paid_at``, else created) → shipped (``orders.shipped_at``, else
                                 the first outbound tracking's ``shipped_at``). Orders closed or cancelled without
                                 shipping (status 关闭 / 取消 / 未发货，退款成功) are not events.
``aftersales_response_hours``    an after-sales request (``refunds.applied_at``) → the seller's first action: the
                                 earliest of agreed, refunded, finished and closed (a refusal or withdrawal also ends
                                 the wait).
``chat_first_response_minutes``  a buyer's turn in a conversation (the first buyer message after an agent message, or
                                 the first of the conversation) → the next **agent** message (bots and system
                                 messages do not count as a response).
``damage_claim_paid_hours``      a refund whose reason, tag or buyer note names damage (:data:`DAMAGE_WORDS`) applied
                                 → refunded (paid). A damage claim closed without payment is not counted.
``return_no_reason_days``        a return received (the return tracking's ``signed_at``, matched on the refund's
                                 ``return_tracking_no``) → refunded (else finished).

An event is **kept** when closed within the limit — exactly at the limit is kept —, **breached** when closed later or
still open after the limit at the time of measuring, and **open** (not yet counted) while still within its limit.
Rate = kept / (kept + breached). :func:`commitment_adherence` gives the figures per commitment for a period and lists
the breaches; :func:`breaches_in_progress` the open events at ``now`` whose warning fraction or limit has passed,
each with the alert ledger's key (once per event and stage; :func:`reviewops.alerting.alerts.raise_commitment_alerts`
raises them as case-less alerts ``commit_warn`` / ``commit_breach``, run by the watcher's SLA check);
:func:`listing_commitments` which commitments each listing of the
``listings`` table shows (a 服务承诺 row matches a shown word that contains one of its 商品页用语 or its name).

Order ids are passed through :func:`reviewops.core.privacy.mask_text` (the project's redaction: an order id is kept,
an id-card-shaped number masked); conversations are shown by their masked name only. Times out are Beijing time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..core.errors import ConfigError
from ..core.policy import (
    ANY,
    COMMITMENT_MEASURE_ZH,
    COMMITMENT_MEASURES,
    COMMITMENT_UNIT,
    DEFAULT_COMMITMENTS,
    Policy,
    default_policy,
)
from ..core.privacy import mask_text
from .frames import as_utc, empty_frame, frame_of
from .listing_audit import AuditColumn

if TYPE_CHECKING:
    from ..core.store import Store

__all__ = [
    "ADHERENCE_COLUMNS",
    "BREACH_COLUMNS",
    "DAMAGE_WORDS",
    "EVENT_COLUMNS",
    "LISTING_COMMITMENT_COLUMNS",
    "PROGRESS_COLUMNS",
    "STAGE_ZH",
    "UNIT_SECONDS",
    "UNIT_ZH",
    "breaches_in_progress",
    "commitment_adherence",
    "commitment_rows",
    "empty_frame",
    "evaluate_events",
    "listing_commitments",
    "load_events",
]

UTC = dt.UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIT_SECONDS = {"hours": 3600.0, "minutes": 60.0, "days": 86400.0}
UNIT_ZH = {"hours": "小时", "minutes": "分钟", "days": "天"}
STAGE_ZH = {"warning": "即将违约", "breached": "已违约"}
STATUS_ZH = {"kept": "守约", "breached": "违约", "open": "进行中"}
#: words in a refund's reason, tag or buyer note that make it a damage claim (破损包赔)
DAMAGE_WORDS = ("破损", "损坏", "坏损", "压坏", "摔坏", "碎了", "破碎", "漏液", "污渍")
#: order states that end an order without shipping (not a dispatch event)
NOT_SHIPPING = r"关闭|取消|未发货，?退款"
#: how far back :func:`breaches_in_progress` looks for open events (beyond the commitment's limit)
PROGRESS_LOOKBACK = dt.timedelta(days=1)

# ------------------------------------------------------------------------------------------- columns
_T = "datetime64[ns, UTC]"
_BJ = "datetime64[ns, Asia/Shanghai]"
EVENT_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("shop_id", "int64", "店铺编号", "the event's shop (shops.id)"),
    AuditColumn("platform", "object", "平台", "the shop's platform code"),
    AuditColumn("measure", "object", "衡量方式", "one of COMMITMENT_MEASURES"),
    AuditColumn("event_id", "object", "事件编号", "order id, refund id, or conversation@time (chat turns)"),
    AuditColumn("order_id", "object", "订单号", "the order the event belongs to, text (None when unknown)"),
    AuditColumn("started_at", _T, "开始时间", "paid / applied / the buyer's message / return received, UTC",
                nullable=False),
    AuditColumn("closed_at", _T, "结束时间", "shipped / first seller action / agent reply / paid; NaT = still open"),
)
BREACH_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("commitment", "object", "承诺代码", "the 服务承诺 code"),
    AuditColumn("name_zh", "object", "承诺", "the commitment's Chinese name"),
    AuditColumn("shop_id", "int64", "店铺编号", "the event's shop"),
    AuditColumn("event_id", "object", "事件编号", "order id / refund id / masked conversation@Beijing time"),
    AuditColumn("order_id", "object", "订单号", "order id after mask_text (None when unknown)"),
    AuditColumn("started_at", _BJ, "开始时间(北京)", "when the clock started, Beijing time", nullable=False),
    AuditColumn("due_at", _BJ, "时限(北京)", "started + limit, Beijing time", nullable=False),
    AuditColumn("closed_at", _BJ, "结束时间(北京)", "when it was closed, Beijing time; NaT = still open"),
    AuditColumn("elapsed", "float64", "用时", "closed (or the measuring time) − started, in the measure's unit"),
    AuditColumn("limit", "float64", "上限", "the commitment's limit, same unit"),
    AuditColumn("unit_zh", "object", "单位", "小时 / 分钟 / 天"),
    AuditColumn("status_zh", "object", "状态", "违约（已结束但超时）or 进行中已超时"),
)
ADHERENCE_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("commitment", "object", "承诺代码", "the 服务承诺 code"),
    AuditColumn("name_zh", "object", "承诺", "the commitment's Chinese name"),
    AuditColumn("measure_zh", "object", "衡量方式", "what is measured, Chinese"),
    AuditColumn("limit", "float64", "上限", "the limit in the measure's unit"),
    AuditColumn("unit_zh", "object", "单位", "小时 / 分钟 / 天"),
    AuditColumn("eligible", "int64", "应履约", "events of the period that are decided: kept + breached"),
    AuditColumn("kept", "int64", "守约", "closed within the limit (exactly at the limit counts as kept)"),
    AuditColumn("breached", "int64", "违约", "closed after the limit, or open past it"),
    AuditColumn("open", "int64", "进行中", "open and still within the limit (not counted)"),
    AuditColumn("rate", "float64", "达成率", "kept / eligible; NaN when nothing is eligible"),
    AuditColumn("median", "float64", "用时中位数", "median time of the closed events, in the unit; NaN when none"),
    AuditColumn("p90", "float64", "用时P90", "90th percentile of the closed events' time, in the unit; NaN when none"),
    AuditColumn("listings", "int64", "展示商品数", "listings (of the shops measured) whose commitments show this one"),
)
PROGRESS_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("key", "object", "提醒编号", "commit_warn:<code>:<shop>:<event> or commit_breach:…: once per stage"),
    AuditColumn("stage", "object", "阶段", "warning | breached"),
    AuditColumn("stage_zh", "object", "阶段(中文)", "即将违约 / 已违约"),
    AuditColumn("commitment", "object", "承诺代码", "the 服务承诺 code"),
    AuditColumn("name_zh", "object", "承诺", "the commitment's Chinese name"),
    AuditColumn("shop_id", "int64", "店铺编号", "the event's shop"),
    AuditColumn("event_id", "object", "事件编号", "order id / refund id / masked conversation@Beijing time"),
    AuditColumn("order_id", "object", "订单号", "order id after mask_text (None when unknown)"),
    AuditColumn("started_at", _BJ, "开始时间(北京)", "when the clock started", nullable=False),
    AuditColumn("due_at", _BJ, "时限(北京)", "started + limit", nullable=False),
    AuditColumn("elapsed", "float64", "已用时", "now − started, in the measure's unit"),
    AuditColumn("limit", "float64", "上限", "the commitment's limit"),
    AuditColumn("unit_zh", "object", "单位", "小时 / 分钟 / 天"),
)
LISTING_COMMITMENT_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("shop_id", "int64", "店铺编号", "the listing's shop"),
    AuditColumn("listing_key", "object", "商品链接键", "listings.listing_key"),
    AuditColumn("title", "object", "商品标题", "listing title"),
    AuditColumn("shown", "object", "展示的服务承诺", "the commitments the export shows, ;-joined"),
    AuditColumn("commitments", "object", "对应承诺代码", "the 服务承诺 codes whose listing words match, ;-joined"),
    AuditColumn("not_measured", "object", "未计量的承诺", "shown commitments no 服务承诺 row matches, ;-joined"),
)


def _typed(df: pd.DataFrame, cols: Sequence[AuditColumn]) -> pd.DataFrame:
    out = df.reindex(columns=[c.name for c in cols])
    for c in cols:
        if c.dtype.startswith("datetime64"):
            tz = c.dtype.split(", ")[1].rstrip("]")
            out[c.name] = pd.to_datetime(out[c.name], utc=True).dt.tz_convert(tz)
        elif c.dtype == "object":
            out[c.name] = out[c.name].astype(object).where(out[c.name].notna(), None)
        else:
            out[c.name] = out[c.name].astype(c.dtype)
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------------- policy
def commitment_rows(policy: Policy | None = None) -> list[dict[str, Any]]:
    """The enabled 服务承诺 rows of ``policy`` (the built-in :data:`DEFAULT_COMMITMENTS` when the table is empty)."""
    rows = list((policy or default_policy()).tables.get("commitments", ())) or [dict(r) for r in DEFAULT_COMMITMENTS]
    out = []
    for r in rows:
        if r["measure"] not in COMMITMENT_MEASURES:  # pragma: no cover - the policy validated it
            raise ConfigError(f"服务承诺 {r['code']} 的衡量方式 {r['measure']!r} 未知 / unknown measure")
        if r.get("enabled", True):
            out.append({k: v for k, v in r.items() if not k.startswith("_")})
    return out


# ------------------------------------------------------------------------------------------- reading
def load_events(conn: sa.Connection, *, since: dt.datetime, until: dt.datetime,
                measures: Sequence[str] = COMMITMENT_MEASURES, shop_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The events (:data:`EVENT_COLUMNS`) of ``measures`` whose clock started in ``[since, until)``, read on ``conn``
    (nothing written)."""
    from ..core.store import chat_messages, orders, refunds, shipments, shops

    def shops_of(col: Any) -> Any:
        return sa.true() if shop_ids is None else col.in_([int(s) for s in shop_ids])

    platform = {int(i): str(p) for i, p in conn.execute(sa.select(shops.c.id, shops.c.platform))}
    parts: list[pd.DataFrame] = []
    if "dispatch_within_hours" in measures:
        paid = sa.func.coalesce(orders.c.paid_at, orders.c.created_at)
        # the first outbound tracking, looked up (index shop_id, order_id) only for orders without a shipped time
        first_ship = (sa.select(sa.func.min(shipments.c.shipped_at))
                      .where(shipments.c.shop_id == orders.c.shop_id, shipments.c.order_id == orders.c.order_id,
                             sa.or_(shipments.c.direction.is_(None), shipments.c.direction == "outbound"))
                      .scalar_subquery())
        od = frame_of(conn.execute(
            sa.select(orders.c.shop_id, orders.c.order_id, orders.c.status_raw, paid,
                      sa.func.coalesce(orders.c.shipped_at, first_ship))
            .where(shops_of(orders.c.shop_id), paid.is_not(None), paid >= since, paid < until)).all(),
            ["shop_id", "order_id", "status", "started_at", "closed_at"], times=True)
        unshipped_end = od["closed_at"].isna() & od["status"].fillna("").str.contains(NOT_SHIPPING, regex=True)
        od = od[~unshipped_end]
        parts.append(od.assign(measure="dispatch_within_hours", event_id=od["order_id"]))
    refund_measures = {"aftersales_response_hours", "damage_claim_paid_hours", "return_no_reason_days"} & set(measures)
    if refund_measures:
        rf = frame_of(conn.execute(
            sa.select(refunds.c.shop_id, refunds.c.refund_id, refunds.c.order_id, refunds.c.reason, refunds.c.reason_tag,
                      refunds.c.buyer_note, refunds.c.need_return, refunds.c.return_tracking_no, refunds.c.applied_at,
                      refunds.c.agreed_at, refunds.c.refunded_at, refunds.c.finished_at, refunds.c.closed_at)
            .where(shops_of(refunds.c.shop_id), refunds.c.applied_at.is_not(None),
                   refunds.c.applied_at >= since - dt.timedelta(days=60), refunds.c.applied_at < until)).all(),
            ["shop_id", "refund_id", "order_id", "reason", "reason_tag", "buyer_note", "need_return", "return_tracking_no",
             "applied_at", "agreed_at", "refunded_at", "finished_at", "closed_at"], times=True)
        rf["event_id"] = rf["refund_id"]
        if "aftersales_response_hours" in measures:
            first = rf[["agreed_at", "refunded_at", "finished_at", "closed_at"]].min(axis=1)
            a = rf.assign(measure="aftersales_response_hours", started_at=rf["applied_at"], closed_at=first)
            parts.append(a[(a["started_at"] >= since) & (a["started_at"] < until)])
        if "damage_claim_paid_hours" in measures:
            text = (rf["reason"].fillna("") + " " + rf["reason_tag"].fillna("") + " " + rf["buyer_note"].fillna(""))
            damage = text.str.contains("|".join(DAMAGE_WORDS), regex=True)
            refused = rf["refunded_at"].isna() & rf["closed_at"].notna()
            d = rf[damage & ~refused]
            d = d.assign(measure="damage_claim_paid_hours", started_at=d["applied_at"], closed_at=d["refunded_at"])
            parts.append(d[(d["started_at"] >= since) & (d["started_at"] < until)])
        if "return_no_reason_days" in measures:
            rt = frame_of(conn.execute(
                sa.select(shipments.c.shop_id, shipments.c.tracking_no, shipments.c.signed_at)
                .where(shops_of(shipments.c.shop_id), shipments.c.direction == "return",
                       shipments.c.signed_at.is_not(None))).all(), ["shop_id", "return_tracking_no", "signed_at"], times=True)
            r = rf[rf["return_tracking_no"].notna()].merge(rt, on=["shop_id", "return_tracking_no"], how="inner")
            r = r.assign(measure="return_no_reason_days", started_at=r["signed_at"],
                         closed_at=r["refunded_at"].fillna(r["finished_at"]))
            parts.append(r[(r["started_at"] >= since) & (r["started_at"] < until)])
    if "chat_first_response_minutes" in measures:
        ch = frame_of(conn.execute(
            sa.select(chat_messages.c.shop_id, chat_messages.c.conversation_hash, chat_messages.c.conversation_masked,
                      chat_messages.c.sent_at, chat_messages.c.message_seq, chat_messages.c.sender_role,
                      chat_messages.c.order_id)
            .where(shops_of(chat_messages.c.shop_id), chat_messages.c.sender_role.in_(("buyer", "agent")),
                   chat_messages.c.sent_at >= since, chat_messages.c.sent_at < until + dt.timedelta(days=1))).all(),
            ["shop_id", "conv", "conv_masked", "sent_at", "seq", "role", "order_id"], times=True)
        parts.append(chat_turns(ch, until=until))
    if not parts:
        return empty_frame(EVENT_COLUMNS)
    ev = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else empty_frame(EVENT_COLUMNS)
    ev["platform"] = ev["shop_id"].map(platform) if len(ev) else ev.get("platform")
    return _typed(ev, EVENT_COLUMNS)


def chat_turns(ch: pd.DataFrame, *, until: dt.datetime | None = None) -> pd.DataFrame:
    """Buyer turns of chat messages (``shop_id, conv, conv_masked, sent_at, seq, role, order_id``; roles buyer and
    agent only) → events of ``chat_first_response_minutes``: a turn starts with a buyer message that follows an agent
    message (or opens the conversation) and closes with the next agent message; turns starting at or after ``until``
    are left out (their messages are read only to close earlier turns)."""
    if ch.empty:
        return empty_frame(EVENT_COLUMNS)
    ch = ch.sort_values(["shop_id", "conv", "sent_at", "seq"], kind="stable").reset_index(drop=True)
    same = (ch["shop_id"].eq(ch["shop_id"].shift())) & (ch["conv"].eq(ch["conv"].shift()))
    prev_role = ch["role"].shift().where(same)
    start = ch["role"].eq("buyer") & prev_role.ne("buyer")
    agent_at = ch["sent_at"].where(ch["role"].eq("agent"))
    grp = (~same).cumsum()
    nxt = agent_at.groupby(grp).bfill()  # the next agent message within the conversation (the row itself is a buyer's)
    t = ch[start].assign(closed_at=nxt[start])
    if until is not None:
        t = t[t["sent_at"] < until]
    conv = t["conv_masked"].fillna(t["conv"].astype(str).str[:8])
    event_id = conv + "@" + t["sent_at"].dt.tz_convert(SHANGHAI).dt.strftime("%Y-%m-%d %H:%M:%S")
    return t.assign(measure="chat_first_response_minutes", event_id=event_id, started_at=t["sent_at"])


# ------------------------------------------------------------------------------------------- evaluating
def _rules_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rf = pd.DataFrame([{"commitment": r["code"], "name_zh": r["name_zh"], "measure": r["measure"],
                        "limit": float(r["limit"]), "rule_platform": r.get("platform") or ANY,
                        "warn_fraction": float(r["warn_fraction"]),
                        "unit": COMMITMENT_UNIT[r["measure"]]} for r in rows],
                      columns=["commitment", "name_zh", "measure", "limit", "rule_platform", "warn_fraction", "unit"])
    rf["unit_seconds"] = rf["unit"].map(UNIT_SECONDS).astype(float)
    rf["unit_zh"] = rf["unit"].map(UNIT_ZH)
    return rf


def evaluate_events(events: pd.DataFrame, rows: Sequence[Mapping[str, Any]], at: dt.datetime) -> pd.DataFrame:
    """Pure: events (:data:`EVENT_COLUMNS`) × the commitments ``rows`` that measure them and apply to the event's
    platform → one row per (commitment, event) with ``elapsed`` (in the unit: closed − started, or ``at`` − started
    while open), ``due_at`` and ``status`` (kept | breached | open). Exactly at the limit is kept."""
    rf = _rules_frame(rows)
    ev = events.merge(rf, on="measure", how="inner")
    ev = ev[(ev["rule_platform"] == ANY) | (ev["rule_platform"] == ev["platform"])]
    at_ts = pd.Timestamp(at).tz_convert(UTC)
    closed = ev["closed_at"].notna()
    end = ev["closed_at"].where(closed, at_ts)
    secs = (end - ev["started_at"]).dt.total_seconds().clip(lower=0)
    limit_s = ev["limit"] * ev["unit_seconds"]
    ev = ev.assign(elapsed=secs / ev["unit_seconds"], elapsed_s=secs, limit_s=limit_s,
                   due_at=ev["started_at"] + pd.to_timedelta(limit_s, unit="s"))
    ev["status"] = np.where(secs <= limit_s, np.where(closed, "kept", "open"), "breached")
    return ev.reset_index(drop=True)


def _shown_event(df: pd.DataFrame, *, status_col: bool) -> pd.DataFrame:
    out = df.assign(order_id=df["order_id"].map(lambda v: None if v is None or pd.isna(v) else mask_text(str(v))))
    if status_col:
        out["status_zh"] = np.where(out["closed_at"].notna(), "违约（超时结束）", "进行中已超时")
    return out


def commitment_adherence(store: Store, start: Any, end: Any, *, shop_ids: Sequence[int] | None = None,
                         policy: Policy | None = None, now: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Adherence per commitment (:data:`ADHERENCE_COLUMNS`, one row per enabled commitment of the policy, in its
    order, zeros when the period has no event) and the breaches (:data:`BREACH_COLUMNS`, by commitment then start)
    of the events whose clock started in ``[start, end)`` (text or naive times = Beijing time) in ``shop_ids``
    (None = every shop). Events are judged as the store knows them at ``now`` (None = the current time): a late
    closing after ``end`` still counts, and an event still open at ``now`` past its limit is breached. Read-only;
    ``policy`` None = the store's newest policy."""
    from ..core.policy import load_policy
    from ..core.store import utcnow

    since, until = as_utc(start, "start", required=True), as_utc(end, "end", required=True)
    if since > until:
        raise ConfigError(f"start（{since:%Y-%m-%d %H:%M} UTC）晚于 end（{until:%Y-%m-%d %H:%M} UTC）；请交换或改正 / "
                          "start is after end")
    at = as_utc(now, "now", required=True) if now is not None else utcnow()
    rows = commitment_rows(policy or load_policy(store) or default_policy())
    measures = sorted({r["measure"] for r in rows})
    with store.read() as conn:
        events = load_events(conn, since=since, until=until, measures=measures, shop_ids=shop_ids)
        shown = _listing_frame(conn, shop_ids)
    ev = evaluate_events(events, rows, at)
    listings = _match_listings(shown, rows)
    per_code = {code: int(n) for code, n in
                listings["commitments"].str.split(";").explode().loc[lambda s: s.fillna("") != ""].value_counts().items()}
    counts = pd.crosstab(ev["commitment"], ev["status"]) if len(ev) else pd.DataFrame()
    closed = ev[ev["closed_at"].notna()]
    stats = closed.groupby("commitment")["elapsed"].quantile([0.5, 0.9]).unstack() if len(closed) else pd.DataFrame()
    out = []
    for r in rows:
        code = r["code"]

        def n(status: str, code: str = code) -> int:
            return int(counts.at[code, status]) if code in counts.index and status in counts.columns else 0

        kept, breached = n("kept"), n("breached")
        med = float(stats.at[code, 0.5]) if code in stats.index else np.nan
        p90 = float(stats.at[code, 0.9]) if code in stats.index else np.nan
        unit = COMMITMENT_UNIT[r["measure"]]
        out.append({"commitment": code, "name_zh": r["name_zh"], "measure_zh": COMMITMENT_MEASURE_ZH[r["measure"]],
                    "limit": float(r["limit"]), "unit_zh": UNIT_ZH[unit], "eligible": kept + breached, "kept": kept,
                    "breached": breached, "open": n("open"),
                    "rate": kept / (kept + breached) if kept + breached else np.nan, "median": med, "p90": p90,
                    "listings": per_code.get(code, 0)})
    adherence = _typed(pd.DataFrame(out), ADHERENCE_COLUMNS) if out else empty_frame(ADHERENCE_COLUMNS)
    order = {r["code"]: i for i, r in enumerate(rows)}
    br = ev[ev["status"] == "breached"]
    br = br.assign(_o=br["commitment"].map(order)).sort_values(["_o", "started_at", "event_id"], kind="stable")
    breaches = _typed(_shown_event(br, status_col=True), BREACH_COLUMNS) if len(br) else empty_frame(BREACH_COLUMNS)
    adherence.attrs.update({"since": since, "until": until, "at": at, "events": len(ev)})
    return adherence, breaches


def breaches_in_progress(store: Store, now: Any = None, *, shop_ids: Sequence[int] | None = None,
                         policy: Policy | None = None, lookback: dt.timedelta = PROGRESS_LOOKBACK) -> pd.DataFrame:
    """Open events at ``now`` (None = the current time) whose warning fraction of the limit has passed (stage
    ``warning``) or whose limit has passed (stage ``breached``), with no closing event in the store
    (:data:`PROGRESS_COLUMNS`, most overdue first). Only events whose deadline is later than ``now − lookback`` are
    listed: an old backlog is in the adherence figures, not paged. ``key`` is the alert ledger's idempotency key
    (once per event and stage). Read-only."""
    from ..core.policy import load_policy
    from ..core.store import utcnow

    at = as_utc(now, "now", required=True) if now is not None else utcnow()
    rows = commitment_rows(policy or load_policy(store) or default_policy())
    if not rows:
        return empty_frame(PROGRESS_COLUMNS)
    longest = max(float(r["limit"]) * UNIT_SECONDS[COMMITMENT_UNIT[r["measure"]]] for r in rows)
    since = at - dt.timedelta(seconds=longest) - lookback
    with store.read() as conn:
        events = load_events(conn, since=since, until=at, measures=sorted({r["measure"] for r in rows}),
                             shop_ids=shop_ids)
    ev = evaluate_events(events, rows, at)
    ev = ev[ev["closed_at"].isna() & (ev["due_at"] > pd.Timestamp(at) - pd.Timedelta(lookback))]
    ev = ev[ev["elapsed_s"] >= ev["limit_s"] * ev["warn_fraction"]]
    if ev.empty:
        return empty_frame(PROGRESS_COLUMNS)
    stage = np.where(ev["status"] == "breached", "breached", "warning")
    prefix = np.where(stage == "breached", "commit_breach:", "commit_warn:")
    ev = ev.assign(stage=stage, stage_zh=pd.Series(stage, index=ev.index).map(STAGE_ZH),
                   key=prefix + ev["commitment"] + ":" + ev["shop_id"].astype(str) + ":" + ev["event_id"].astype(str))
    ev = ev.assign(_over=ev["elapsed_s"] / ev["limit_s"]).sort_values(["_over", "key"], ascending=[False, True])
    return _typed(_shown_event(ev, status_col=False), PROGRESS_COLUMNS)


# ------------------------------------------------------------------------------------------- listings
def _listing_frame(conn: sa.Connection, shop_ids: Sequence[int] | None) -> pd.DataFrame:
    from ..core.store import listings

    q = sa.select(listings.c.shop_id, listings.c.listing_key, listings.c.title, listings.c.commitments)
    if shop_ids is not None:
        q = q.where(listings.c.shop_id.in_([int(s) for s in shop_ids]))
    df = frame_of(conn.execute(q).all(), ["shop_id", "listing_key", "title", "commitments"], times=True)

    def words(cell: Any) -> list[str]:
        if not cell:
            return []
        try:
            v = json.loads(cell)
        except (TypeError, ValueError):
            return [str(cell)]
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]

    df["shown"] = df["commitments"].map(words)
    # a listing's SKU rows are taken together: what any SKU shows, the listing shows
    g = df.groupby(["shop_id", "listing_key"], sort=True).agg(
        title=("title", "first"), shown=("shown", lambda s: sorted({w for ws in s for w in ws})))
    return g.reset_index()


def _match_listings(df: pd.DataFrame, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per listing, the commitment codes whose listing words (or name) appear in a shown commitment."""
    from ..core.policy import _split_list

    terms = [(r["code"], [w for w in [*_split_list(r.get("listing_words")), r["name_zh"]] if w]) for r in rows]
    if df.empty:
        return empty_frame(LISTING_COMMITMENT_COLUMNS)
    exploded = df[["shop_id", "listing_key", "shown"]].explode("shown").dropna(subset=["shown"])
    hits = []
    for code, ws in terms:  # one vectorised pass per commitment row (a handful)
        m = exploded["shown"].map(lambda s, ws=ws: any(w in s for w in ws))
        hits.append(exploded[m].assign(code=code))
    hit = pd.concat(hits) if hits else exploded.assign(code=None).iloc[0:0]
    codes = hit.groupby(["shop_id", "listing_key"])["code"].agg(lambda s: ";".join(dict.fromkeys(s)))
    matched = hit.groupby(["shop_id", "listing_key"])["shown"].agg(set)
    out = df.set_index(["shop_id", "listing_key"])
    out["commitments"] = codes.reindex(out.index).fillna("")
    m = matched.reindex(out.index)
    out["not_measured"] = [";".join(w for w in shown if not (isinstance(mm, set) and w in mm))
                           for shown, mm in zip(out["shown"], m)]
    out["shown"] = out["shown"].map(";".join)
    return _typed(out.reset_index(), LISTING_COMMITMENT_COLUMNS)


def listing_commitments(store: Store, *, shop_ids: Sequence[int] | None = None,
                        policy: Policy | None = None) -> pd.DataFrame:
    """Which commitments each listing of the ``listings`` table shows (:data:`LISTING_COMMITMENT_COLUMNS`): the shown
    words (all SKUs of a listing together), the 服务承诺 codes they match (a row's 商品页用语 or its name found in a
    shown word), and the shown commitments no row measures (运费险, 极速退款 … have no measure). Read-only."""
    from ..core.policy import load_policy

    rows = commitment_rows(policy or load_policy(store) or default_policy())
    with store.read() as conn:
        df = _listing_frame(conn, shop_ids)
    return _match_listings(df, rows)

