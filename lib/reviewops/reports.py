"""Reports over the store: the weekly 差评TOP3 (SPEC D2) — the figures the weekly playbook and the
dashboard show (issue 5 builds the playbooks on these functions).

Weeks are ISO weeks in Asia/Shanghai (``"2026-W47"``: Monday 00:00 to the next Monday 00:00,
Beijing time). A review counts for the week it was **posted**; a 中差评 is a review that triage
turned into a case. Example texts are masked; every table is a DataFrame with plain columns.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from .errors import ConfigError

if TYPE_CHECKING:
    from .policy import Policy
    from .store import Store

__all__ = ["WeeklyTop3", "iso_week", "week_bounds", "weekly_top3"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")


def week_bounds(week: str) -> tuple[dt.datetime, dt.datetime]:
    """``"2026-W47"`` → (Monday 00:00, next Monday 00:00) in Beijing time, as aware datetimes."""
    m = _WEEK.match(str(week).strip().upper())
    if not m:
        raise ConfigError(f"周次格式应为 2026-W47，收到 {week!r} / a week is written like 2026-W47, got {week!r}")
    try:
        monday = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ConfigError(f"没有这一周：{week!r} / no such ISO week: {week!r}") from None
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=SHANGHAI)
    return start, start + dt.timedelta(days=7)


def iso_week(moment: dt.datetime) -> str:
    """The ISO week (Beijing time) an aware datetime falls in, e.g. ``"2026-W47"``."""
    y, w, _ = moment.astimezone(SHANGHAI).isocalendar()
    return f"{y}-W{w:02d}"


@dataclass
class WeeklyTop3:
    """The weekly 差评TOP3: counts and trend, the top causes, SLA, remedies and revisions."""

    week: str
    start: dt.datetime
    end: dt.datetime
    reviews: int
    negative: int
    rate: float | None
    trend: pd.DataFrame  # week, reviews, negative, rate (oldest first, this week last)
    top3: pd.DataFrame  # rank, category, category_zh, cases, share, department, action, examples, skus, suppliers, carriers
    sla: dict[str, Any]
    remedies: pd.DataFrame  # kind, kind_zh, count, amount_fen
    revised: int
    resolved: int
    notes: list[str] = field(default_factory=list)

    @property
    def revision_rate(self) -> float | None:
        return None if not self.resolved else self.revised / self.resolved


def _week_counts(conn: sa.Connection, start: dt.datetime, end: dt.datetime, shop_ids: list[int] | None) -> tuple[int, int]:
    from .store import cases, reviews

    q_all = sa.select(sa.func.count()).select_from(reviews).where(reviews.c.created_at >= start,
                                                                  reviews.c.created_at < end)
    q_neg = (sa.select(sa.func.count()).select_from(reviews.join(cases, cases.c.review_pk == reviews.c.id))
             .where(reviews.c.created_at >= start, reviews.c.created_at < end))
    if shop_ids is not None:
        q_all = q_all.where(reviews.c.shop_id.in_(shop_ids))
        q_neg = q_neg.where(reviews.c.shop_id.in_(shop_ids))
    return int(conn.execute(q_all).scalar_one()), int(conn.execute(q_neg).scalar_one())


def _top_values(values: pd.Series, n: int = 3) -> list[str]:
    v = values.dropna().astype(str).str.strip()
    v = v[v != ""]
    return [f"{k}（{c}）" for k, c in v.value_counts().head(n).items()]


def weekly_top3(store: "Store", week: str, *, shop_ids: list[int] | None = None, trend_weeks: int = 4,
                examples: int = 3, policy: "Policy | None" = None, now: dt.datetime | None = None) -> WeeklyTop3:
    """The 差评TOP3 of ``week`` for the given shops (default: all).

    ``top3`` ranks the week's cases by primary category (ties by the policy's priority) and, for
    each, gives the masked example reviews (most negative first), the SKUs, suppliers and carriers
    behind them, and the department and recommended action from the policy's 分类时效 sheet.
    ``sla`` covers the week's cases as of ``now``: answered in time / late / unanswered past the deadline,
    compliance, and the median hours to first contact and to resolution. ``remedies`` sums the
    delivered compensation by kind (fen). ``revised`` counts resolved cases whose review was later
    changed to a good rating (reported, never a condition of anything).
    """
    from .ledger import KIND_ZH
    from .policy import CATEGORY_ZH, current_policy
    from .privacy import mask_text
    from .store import cases, compensations, orders, products, review_versions, reviews, utcnow

    policy = policy or current_policy(store)
    now = now or utcnow()
    start, end = week_bounds(week)
    shops = [int(s) for s in shop_ids] if shop_ids is not None else None
    if trend_weeks < 1:
        raise ConfigError(f"trend_weeks 至少为 1，收到 {trend_weeks} / trend_weeks must be at least 1")
    with store.read() as conn:
        trend_rows = []
        for k in range(trend_weeks - 1, -1, -1):
            s, e = start - dt.timedelta(days=7 * k), end - dt.timedelta(days=7 * k)
            n_all, n_neg = _week_counts(conn, s, e, shops)
            trend_rows.append({"week": iso_week(s), "reviews": n_all, "negative": n_neg,
                               "rate": (n_neg / n_all) if n_all else None})
        q = (sa.select(cases.c.id.label("case_id"), cases.c.primary_category, cases.c.negative_score,
                       cases.c.created_at, cases.c.sla_due_at, cases.c.first_contact_at, cases.c.resolved_at,
                       cases.c.state, reviews.c.id.label("review_pk"), reviews.c.content, reviews.c.product_title,
                       reviews.c.sku_text, reviews.c.product_id, reviews.c.shop_id, reviews.c.order_id,
                       reviews.c.rating_class, reviews.c.version.label("review_version"),
                       products.c.supplier, orders.c.carrier)
             .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk)
                          .outerjoin(products, sa.and_(products.c.shop_id == reviews.c.shop_id,
                                                       products.c.product_id == reviews.c.product_id))
                          .outerjoin(orders, sa.and_(orders.c.shop_id == reviews.c.shop_id,
                                                     orders.c.order_id == reviews.c.order_id)))
             .where(reviews.c.created_at >= start, reviews.c.created_at < end))
        if shops is not None:
            q = q.where(reviews.c.shop_id.in_(shops))
        df = pd.DataFrame(conn.execute(q).mappings().all())
        comp = pd.DataFrame()
        first_ratings: dict[int, str] = {}
        if not df.empty:
            ids = [int(x) for x in df["case_id"]]
            comp = pd.DataFrame(conn.execute(
                sa.select(compensations.c.kind, compensations.c.amount_fen)
                .where(compensations.c.case_id.in_(ids), compensations.c.state == "delivered")).mappings().all())
            revised_pks = [int(r) for r, v in zip(df["review_pk"], df["review_version"]) if v and v > 1]
            if revised_pks:
                first_ratings = dict(conn.execute(
                    sa.select(review_versions.c.review_pk, review_versions.c.rating_raw)
                    .where(review_versions.c.review_pk.in_(revised_pks), review_versions.c.version == 1)).all())
    n_all, n_neg = trend_rows[-1]["reviews"], trend_rows[-1]["negative"]
    prio = {r["code"]: r["priority"] for r in policy.tables["categories"]}
    cat_rows = {r["code"]: r for r in policy.tables["categories"]}
    top_rows = []
    if not df.empty:
        counts = df["primary_category"].fillna("other").value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], prio.get(kv[0], 99)))[:3]
        for rank, (cat, n) in enumerate(ranked, start=1):
            part = df[df["primary_category"].fillna("other") == cat].sort_values("negative_score", ascending=False)
            texts = [mask_text(" ".join(str(t).split())) for t in part["content"].dropna() if str(t).strip()]
            sku = (part["product_title"].fillna("") + " " + part["sku_text"].fillna("")).str.strip()
            row = cat_rows.get(cat, {})
            top_rows.append({
                "rank": rank, "category": cat, "category_zh": CATEGORY_ZH.get(cat, cat), "cases": int(n),
                "share": int(n) / len(df), "department": row.get("department") or "",
                "action": row.get("action") or "", "examples": texts[:examples],
                "skus": _top_values(sku), "suppliers": _top_values(part["supplier"]),
                "carriers": _top_values(part["carrier"]),
            })
    top3 = pd.DataFrame(top_rows, columns=["rank", "category", "category_zh", "cases", "share", "department", "action",
                                           "examples", "skus", "suppliers", "carriers"])
    sla = _sla(df, now)
    if comp.empty:
        remedies = pd.DataFrame(columns=["kind", "kind_zh", "count", "amount_fen"])
    else:
        g = comp.groupby("kind")["amount_fen"].agg(["count", "sum"]).reset_index()
        remedies = pd.DataFrame({"kind": g["kind"], "kind_zh": g["kind"].map(lambda k: KIND_ZH.get(k, k)),
                                 "count": g["count"].astype(int), "amount_fen": g["sum"].astype("int64")})
    resolved = 0 if df.empty else int(df["resolved_at"].notna().sum())
    revised = 0
    if not df.empty:
        for _, r in df[df["resolved_at"].notna()].iterrows():
            first = first_ratings.get(int(r["review_pk"]))
            if first is not None and r["rating_class"] == "positive":
                revised += 1
    return WeeklyTop3(week=iso_week(start), start=start, end=end, reviews=n_all, negative=n_neg,
                      rate=(n_neg / n_all) if n_all else None, trend=pd.DataFrame(trend_rows), top3=top3, sla=sla,
                      remedies=remedies, revised=revised, resolved=resolved)


def _sla(df: pd.DataFrame, cutoff: dt.datetime) -> dict[str, Any]:
    """Answered in time / late / unanswered past the deadline by ``cutoff``; median hours."""
    if df.empty:
        return {"cases": 0, "met": 0, "late": 0, "breached_unanswered": 0, "open_in_time": 0, "compliance": None,
                "first_contact_hours_median": None, "resolution_hours_median": None}
    due = pd.to_datetime(df["sla_due_at"], utc=True)
    contact = pd.to_datetime(df["first_contact_at"], utc=True)
    created = pd.to_datetime(df["created_at"], utc=True)
    resolved = pd.to_datetime(df["resolved_at"], utc=True)
    cut = pd.Timestamp(cutoff)
    met = int((contact.notna() & (contact <= due)).sum())
    late = int((contact.notna() & (contact > due)).sum())
    breached = int((contact.isna() & (due < cut)).sum())
    judged = met + late + breached
    fc = ((contact - created).dt.total_seconds() / 3600).dropna()
    rs = ((resolved - created).dt.total_seconds() / 3600).dropna()
    return {"cases": int(len(df)), "met": met, "late": late, "breached_unanswered": breached,
            "open_in_time": int(len(df)) - judged, "compliance": (met / judged) if judged else None,
            "first_contact_hours_median": float(fc.median()) if len(fc) else None,
            "resolution_hours_median": float(rs.median()) if len(rs) else None}
