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

from ..core.errors import ConfigError
from ..core.sla import sla_statuses
from .measures import _chunks, revised_review_pks, small_sample

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store
    from ..core.users import Actor

__all__ = ["ALERT_DELAY_COLUMNS", "ALERT_TARGET_SECONDS", "APPEAL_FIGURE_NAMES", "ReportFigures", "WeeklyTop3",
           "alert_delays", "appeal_figures", "day_bounds", "first_contact_agents", "iso_week", "latest_review_at",
           "report_figures", "week_bounds", "weekly_top3"]

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
    alert_delays: pd.DataFrame = field(default_factory=lambda: _alert_frame([]))  # see :func:`alert_delays`
    appeals: dict[str, Any] = field(default_factory=lambda: _no_appeals())  # see :func:`appeal_figures`
    commitments: pd.DataFrame = field(default_factory=lambda: _no_commitments()[0])  # see :func:`commitment_figures`
    commitment_breaches: pd.DataFrame = field(default_factory=lambda: _no_commitments()[1])
    ambassadors: dict[str, int] = field(default_factory=dict)  # see :func:`ambassador_figures`

    @property
    def revision_rate(self) -> float | None:
        return None if not self.resolved else self.revised / self.resolved


def _week_counts(conn: sa.Connection, start: dt.datetime, end: dt.datetime, shop_ids: list[int] | None) -> tuple[int, int]:
    from ..core.store import cases, reviews

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


def weekly_top3(store: Store, week: str, *, shop_ids: list[int] | None = None, trend_weeks: int = 4,
                examples: int = 3, policy: Policy | None = None, now: dt.datetime | None = None) -> WeeklyTop3:
    """The 差评TOP3 of ``week`` for the given shops (default: all).

    ``top3`` ranks the week's cases by primary category (ties by the policy's priority) and, for
    each, gives the masked example reviews (most negative first), the SKUs, suppliers and carriers
    behind them, and the department and recommended action from the policy's 分类时效 sheet.
    ``sla`` covers the week's cases as of ``now``: answered in time / late / unanswered past the deadline,
    compliance, and the median hours to first contact and to resolution. ``remedies`` sums the
    delivered compensation by kind (fen). ``revised`` counts resolved cases whose review was later
    changed to a good rating (reported, never a condition of anything).

    The week's figures come from :func:`report_figures`' computation (the dashboard's too); only the
    trend rows of the earlier weeks and the top-three shaping are added here.
    """
    from ..core.policy import current_policy
    from ..core.privacy import mask_text
    from ..core.store import utcnow

    policy = policy or current_policy(store)
    now = now or utcnow()
    start, end = week_bounds(week)
    shops = [int(s) for s in shop_ids] if shop_ids is not None else None
    if trend_weeks < 1:
        raise ConfigError(f"trend_weeks 至少为 1，收到 {trend_weeks} / trend_weeks must be at least 1")
    trend_rows = []
    with store.read() as conn:
        for k in range(trend_weeks - 1, 0, -1):
            s, e = start - dt.timedelta(days=7 * k), end - dt.timedelta(days=7 * k)
            n_all, n_neg = _week_counts(conn, s, e, shops)
            trend_rows.append({"week": iso_week(s), "reviews": n_all, "negative": n_neg,
                               "rate": (n_neg / n_all) if n_all else None})
    fig = _compute(store, start, end, shops=shops, platforms=None, skus=None, agents=None, now=now, policy=policy,
                   breakdowns=False)
    trend_rows.append({"week": iso_week(start), "reviews": fig.reviews, "negative": fig.negative, "rate": fig.rate})
    df = fig.cases
    top_rows = []
    for rank, c in enumerate(fig.categories.head(3).itertuples(index=False), start=1):
        cat = c.category
        part = df[df["primary_category"].fillna("other") == cat].sort_values("negative_score", ascending=False)
        texts = [mask_text(" ".join(str(t).split())) for t in part["content"].dropna() if str(t).strip()]
        top_rows.append({
            "rank": rank, "category": cat, "category_zh": c.category_zh, "cases": int(c.cases),
            "share": float(c.share), "department": c.department, "action": c.action, "examples": texts[:examples],
            "skus": _top_values(part["sku_label"]), "suppliers": _top_values(part["supplier"]),
            "carriers": _top_values(part["carrier"]),
        })
    top3 = pd.DataFrame(top_rows, columns=["rank", "category", "category_zh", "cases", "share", "department", "action",
                                           "examples", "skus", "suppliers", "carriers"])
    return WeeklyTop3(week=iso_week(start), start=start, end=end, reviews=fig.reviews, negative=fig.negative,
                      rate=fig.rate, trend=pd.DataFrame(trend_rows), top3=top3, sla=fig.sla,
                      remedies=fig.remedies, revised=fig.revised, resolved=fig.resolved,
                      alert_delays=fig.alert_delays, appeals=fig.appeals, commitments=fig.commitments,
                      commitment_breaches=fig.commitment_breaches, ambassadors=fig.ambassadors)


# ------------------------------------------------------------------ figures for any period and filters
@dataclass
class ReportFigures:
    """The figures of one period and filter set (SPEC D1/D2): what the weekly report and the dashboard show.

    ``start``/``end``: the half-open period (aware). ``shop_ids``: the shops counted (None = all).
    ``reviews``/``negative``/``rate``: reviews posted in the period and how many became cases (中差评).
    ``categories``: category, category_zh, cases, share, department, action — by cases, then the policy's
    priority. ``sla``: see :func:`_sla`. ``remedies``: delivered compensation by kind (kind, kind_zh,
    count, amount_fen). ``revised``/``resolved``: resolved cases whose review was changed to a good rating.
    ``by_shop``/``by_platform``/``by_sku``/``by_agent``: one row per key with key, label, reviews,
    negative, rate, compliance, first_contact_hours_median, resolution_hours_median, resolved, revised,
    revision_rate, remedy_fen (``reviews``/``rate`` are None by agent: reviews have no agent).
    ``daily``: date (Beijing, ``YYYY-MM-DD``), reviews, negative, rate — every day of the period.
    ``cases``: the period's cases as a DataFrame (one row per case, with ``agent``), for further shaping.
    ``alert_delays``: the real delays of the new-case alerts that arrived in the period, per source
    (:func:`alert_delays`, :data:`ALERT_DELAY_COLUMNS`), for the same shops (the SKU and agent filters
    do not apply to it).
    ``appeals``: the platform appeals of the period (:func:`appeal_figures`: filed, won, lost, pending, and
    the share of malicious cases appealed in time), for the same shops (the SKU and agent filters do not
    apply to it either).
    ``commitments`` / ``commitment_breaches``: the P6 service commitments of the events that started in the
    period (:func:`commitment_figures`), for the same shops (the SKU and agent filters do not apply).
    ``ambassadors``: the V3 referral programme's cost and referred orders of the period
    (:func:`ambassador_figures`), for the same shops.
    """

    start: dt.datetime
    end: dt.datetime
    shop_ids: list[int] | None
    reviews: int
    negative: int
    rate: float | None
    categories: pd.DataFrame
    sla: dict[str, Any]
    remedies: pd.DataFrame
    revised: int
    resolved: int
    by_shop: pd.DataFrame
    by_platform: pd.DataFrame
    by_sku: pd.DataFrame
    by_agent: pd.DataFrame
    daily: pd.DataFrame
    cases: pd.DataFrame = field(repr=False)
    filters: dict[str, Any] = field(default_factory=dict)
    alert_delays: pd.DataFrame = field(default_factory=lambda: _alert_frame([]))
    appeals: dict[str, Any] = field(default_factory=lambda: _no_appeals())
    commitments: pd.DataFrame = field(default_factory=lambda: _no_commitments()[0])
    commitment_breaches: pd.DataFrame = field(default_factory=lambda: _no_commitments()[1])
    ambassadors: dict[str, int] = field(default_factory=dict)

    @property
    def revision_rate(self) -> float | None:
        return None if not self.resolved else self.revised / self.resolved

    @property
    def remedy_fen(self) -> int:
        return int(self.remedies["amount_fen"].sum()) if len(self.remedies) else 0


MAX_PERIOD_DAYS = 400
NO_AGENT = "（未联系）"  # label of cases nobody has contacted yet (by_agent)


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Beijing days ``first`` … ``last`` (inclusive) → (``first`` 00:00, the day after ``last`` 00:00), aware."""
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        raise ConfigError(f"日期无效：{first!r} 至 {last!r}；请选择开始和结束日期 / pick a start and an end date")
    if isinstance(first, dt.datetime):
        first = first.date()
    if isinstance(last, dt.datetime):
        last = last.date()
    if last < first:
        raise ConfigError(f"结束日期 {last} 早于开始日期 {first}；请调换 / the end date {last} is before the start "
                          f"date {first}; swap them")
    start = dt.datetime.combine(first, dt.time(0), tzinfo=SHANGHAI)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)


def _as_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, (str, int)) else list(value)
    out = [str(v).strip() for v in items]
    if any(not v for v in out):
        raise ConfigError(f"{what}筛选含空值：{items!r}；请删除空项 / the {what} filter holds an empty value: {items!r}")
    return out


def report_figures(store: Store, start: dt.datetime, end: dt.datetime, *, actor: Actor | None = None,
                   shop_ids: list[int] | None = None, platforms: list[str] | None = None,
                   skus: list[str] | None = None, agents: list[str] | None = None, now: dt.datetime | None = None,
                   policy: Policy | None = None, breakdowns: bool = True) -> ReportFigures:
    """The figures of reviews posted in ``[start, end)`` that match every filter given.

    Filters (each None = no filter; several values = any of them): ``shop_ids`` (shop numbers),
    ``platforms`` (platform codes such as ``taobao``), ``skus`` (text found in the product id, title
    or SKU of the review, case-insensitive), ``agents`` (user names: cases whose **first contact**
    was made by one of them — the actor of the case's earliest ``case_events`` row that is a
    ``contact`` or sets ``first_contact_at``, i.e. the transition to 已联系; with an agent filter,
    ``reviews`` still counts all reviews matching the other filters, so ``rate`` is the share of
    them that became this agent's cases). An unknown shop, platform or agent raises
    :class:`ConfigError` naming it. ``actor`` (the signed-in user): a user limited to some shops
    sees only those — asking for another shop raises :class:`AccessDenied`; no shop filter means
    all of the user's shops. ``now``: the moment SLA deadlines are judged at (default: now).
    ``breakdowns=False`` skips by_* and daily (the weekly report does not need them).
    """
    from ..core.columns import PLATFORMS
    from ..core.store import shops as shops_t
    from ..core.store import utcnow
    from ..core.store import users as users_t

    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ConfigError(f"{name} 需要带时区的时间，收到 {value!r} / {name} must be a timezone-aware datetime")
    if end <= start:
        raise ConfigError(f"结束时间 {end} 不晚于开始时间 {start}；请调整日期 / the end {end} is not after the start {start}")
    if end - start > dt.timedelta(days=MAX_PERIOD_DAYS):
        raise ConfigError(f"时间范围太长（{(end - start).days} 天，上限 {MAX_PERIOD_DAYS} 天）；请缩短 / the period "
                          f"is too long ({(end - start).days} days, limit {MAX_PERIOD_DAYS})")
    want_shops = _as_list(shop_ids, "店铺 shop ")
    want_platforms = _as_list(platforms, "平台 platform ")
    want_skus = _as_list(skus, "SKU ")
    want_agents = _as_list(agents, "客服 agent ")
    with store.read() as conn:
        shop_rows = {int(r.id): r.platform for r in conn.execute(sa.select(shops_t.c.id, shops_t.c.platform))}
        known_users = set(conn.execute(sa.select(users_t.c.name)).scalars()) if want_agents else set()
    if want_platforms is not None:
        for p in want_platforms:
            if p not in PLATFORMS:
                raise ConfigError(f"未知的平台 {p!r}；可选：{', '.join(PLATFORMS)} / unknown platform {p!r}; "
                                  f"choose one of {', '.join(PLATFORMS)}")
    selected: set[int] | None = None
    if want_shops is not None:
        selected = set()
        for s in want_shops:
            if not s.isdigit() or int(s) not in shop_rows:
                raise ConfigError(f"没有这个店铺：{s!r}；请从店铺列表中选择 / no such shop: {s!r}; pick one from the list")
            if actor is not None:
                actor.check_shop(int(s), what="数据看板 dashboard figures")  # AccessDenied for another shop
            selected.add(int(s))
    if actor is not None and actor.shops is not None:
        selected = set(actor.shops) if selected is None else selected & set(actor.shops)
    if want_platforms is not None:
        on_platform = {sid for sid, p in shop_rows.items() if p in want_platforms}
        selected = on_platform if selected is None else selected & on_platform
    if want_agents is not None:
        for a in want_agents:
            if a not in known_users:
                raise ConfigError(f"没有这个客服：{a!r}；请从列表中选择 / no such user (agent): {a!r}; pick one from the list")
    if want_skus is not None:
        for s in want_skus:
            if len(s) > 100:
                raise ConfigError(f"SKU 筛选太长（{len(s)} 字）；最多 100 字 / the SKU filter is too long ({len(s)} chars)")
    fig = _compute(store, start, end, shops=sorted(selected) if selected is not None else None,
                   platforms=want_platforms, skus=want_skus, agents=want_agents, now=now, policy=policy,
                   breakdowns=breakdowns)
    fig.filters = {"shop_ids": want_shops, "platforms": want_platforms, "skus": want_skus, "agents": want_agents}
    return fig


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _review_filters(q: Any, start: dt.datetime | None, end: dt.datetime | None, shops: list[int] | None,
                    skus: list[str] | None) -> Any:
    from ..core.store import reviews

    if start is not None:
        q = q.where(reviews.c.created_at >= start)
    if end is not None:
        q = q.where(reviews.c.created_at < end)
    if shops is not None:
        q = q.where(reviews.c.shop_id.in_(shops))
    if skus:
        cols = (reviews.c.product_id, reviews.c.product_title, reviews.c.sku_text)
        q = q.where(sa.or_(*[sa.func.lower(sa.func.coalesce(c, "")).like(_like(s), escape="\\")
                             for s in skus for c in cols]))
    return q


def latest_review_at(store: Store, *, shop_ids: list[int] | None = None, skus: list[str] | None = None,
                     before: dt.datetime | None = None) -> dt.datetime | None:
    """When the newest review of ``shop_ids`` (None = all) whose product id, title or SKU holds one of
    ``skus`` (None = any) was posted, before ``before`` if given; aware UTC, None when there is none.
    The same filters as :func:`report_figures` (the dashboard uses it to find the latest week with data)."""
    from ..core.store import reviews

    if shop_ids is not None and not shop_ids:
        return None
    with store.read() as conn:
        t = conn.execute(_review_filters(sa.select(sa.func.max(reviews.c.created_at)), None, before,
                                         [int(s) for s in shop_ids] if shop_ids is not None else None,
                                         skus)).scalar_one()
    if t is None:
        return None
    if isinstance(t, str):  # SQLite may hand back text for an aggregate
        t = dt.datetime.fromisoformat(t)
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def first_contact_agents(conn: sa.Connection, case_ids: list[int] | None = None) -> dict[int, str]:
    """case id → the actor of its earliest contact event (``contact`` or an event setting ``first_contact_at``)."""
    from ..core.store import case_events

    q = (sa.select(case_events.c.case_id, case_events.c.actor, case_events.c.at, case_events.c.id)
         .where(sa.or_(case_events.c.action == "contact", case_events.c.after_json.like('%"first_contact_at"%'))))
    if case_ids is None:
        rows = list(conn.execute(q).all())
    else:  # looked up by case id in chunks (index search, no scan of every event)
        ids = sorted({int(c) for c in case_ids})
        rows = []
        for chunk in _chunks(ids):
            rows.extend(conn.execute(q.where(case_events.c.case_id.in_(chunk))).all())
    out: dict[int, tuple[Any, int, str]] = {}
    for cid, actor, at, eid in rows:
        cid = int(cid)
        if cid not in out or (at, eid) < out[cid][:2]:
            out[cid] = (at, int(eid), actor)
    return {cid: v[2] for cid, v in out.items()}


def _sku_label(title: pd.Series, sku: pd.Series) -> pd.Series:
    return (title.fillna("") + " " + sku.fillna("")).str.strip()


def _compute(store: Store, start: dt.datetime, end: dt.datetime, *, shops: list[int] | None,
             platforms: list[str] | None, skus: list[str] | None, agents: list[str] | None,
             now: dt.datetime | None, policy: Policy | None, breakdowns: bool) -> ReportFigures:
    """The figures of the (already validated) period and filters; see :func:`report_figures`."""
    from ..core.policy import CATEGORY_ZH, current_policy
    from ..core.store import cases, compensations, orders, products, reviews, utcnow
    from ..core.store import shops as shops_t
    from ..core.store import utcnow
    from ..handling.ledger import KIND_ZH

    policy = policy or current_policy(store)
    now = now or utcnow()
    if shops is not None and not shops:  # the filters leave no shop: nothing to count
        shops = [-1]
    with store.read() as conn:
        shop_info = {int(r.id): (r.name, r.platform) for r in
                     conn.execute(sa.select(shops_t.c.id, shops_t.c.name, shops_t.c.platform))}
        if breakdowns:
            rv = pd.DataFrame(conn.execute(_review_filters(
                sa.select(reviews.c.created_at, reviews.c.shop_id, reviews.c.product_title, reviews.c.sku_text),
                start, end, shops, skus)).mappings().all(),
                columns=["created_at", "shop_id", "product_title", "sku_text"])
            n_all = len(rv)
        else:
            rv = None
            n_all = int(conn.execute(_review_filters(sa.select(sa.func.count()).select_from(reviews),
                                                     start, end, shops, skus)).scalar_one())
        base = (cases.join(reviews, reviews.c.id == cases.c.review_pk))
        q = (sa.select(cases.c.id.label("case_id"), cases.c.primary_category, cases.c.negative_score,
                       cases.c.created_at, cases.c.sla_due_at, cases.c.first_contact_at, cases.c.resolved_at,
                       cases.c.state, reviews.c.id.label("review_pk"), reviews.c.content, reviews.c.product_title,
                       reviews.c.sku_text, reviews.c.product_id, reviews.c.shop_id, reviews.c.order_id,
                       reviews.c.rating_class, reviews.c.version.label("review_version"),
                       reviews.c.created_at.label("review_at"), products.c.supplier, orders.c.carrier)
             .select_from(base
                          .outerjoin(products, sa.and_(products.c.shop_id == reviews.c.shop_id,
                                                       products.c.product_id == reviews.c.product_id))
                          .outerjoin(orders, sa.and_(orders.c.shop_id == reviews.c.shop_id,
                                                     orders.c.order_id == reviews.c.order_id))))
        df = pd.DataFrame(conn.execute(_review_filters(q, start, end, shops, skus)).mappings().all(),
                          columns=["case_id", "primary_category", "negative_score", "created_at", "sla_due_at",
                                   "first_contact_at", "resolved_at", "state", "review_pk", "content",
                                   "product_title", "sku_text", "product_id", "shop_id", "order_id", "rating_class",
                                   "review_version", "review_at", "supplier", "carrier"])
        comp = pd.DataFrame(columns=["case_id", "kind", "amount_fen"])
        revised_set: set[int] = set()
        agent_of: dict[int, str] = {}
        if not df.empty:
            ids = [int(x) for x in df["case_id"]]
            comp = pd.DataFrame([r for chunk in _chunks(ids) for r in conn.execute(
                sa.select(compensations.c.case_id, compensations.c.kind, compensations.c.amount_fen)
                .where(compensations.c.case_id.in_(chunk), compensations.c.state == "delivered")).mappings()],
                columns=["case_id", "kind", "amount_fen"])
            revised_set = revised_review_pks(conn, [int(r) for r, v in zip(df["review_pk"], df["review_version"])
                                                    if v and v > 1])
            if breakdowns or agents is not None:  # the agent of a case: who made its first contact
                agent_of = first_contact_agents(conn, ids)
    df["agent"] = pd.Series([agent_of.get(int(c)) for c in df["case_id"]], index=df.index, dtype=object)
    df["sku_label"] = _sku_label(df["product_title"], df["sku_text"])
    df["platform"] = [shop_info.get(int(s), ("", ""))[1] for s in df["shop_id"]]
    df["revised"] = [bool(pd.notna(r) and int(pk) in revised_set) for r, pk in zip(df["resolved_at"], df["review_pk"])]
    if agents is not None:
        df = df[df["agent"].isin(agents)].reset_index(drop=True)
        comp = comp[comp["case_id"].isin(set(df["case_id"]))]
    n_neg = len(df)
    categories = _categories(df, policy, CATEGORY_ZH)
    if comp.empty:
        remedies = pd.DataFrame(columns=["kind", "kind_zh", "count", "amount_fen"])
    else:
        g = comp.groupby("kind")["amount_fen"].agg(["count", "sum"]).reset_index()
        remedies = pd.DataFrame({"kind": g["kind"], "kind_zh": g["kind"].map(lambda k: KIND_ZH.get(k, k)),
                                 "count": g["count"].astype(int), "amount_fen": g["sum"].astype("int64")})
    resolved = int(df["resolved_at"].notna().sum())
    revised = int(df["revised"].sum())
    empty = pd.DataFrame(columns=BREAKDOWN_COLUMNS)
    by_shop = by_platform = by_sku = by_agent = empty
    daily = pd.DataFrame(columns=["date", "reviews", "negative", "rate"])
    if breakdowns and rv is not None:
        cost = comp.groupby("case_id")["amount_fen"].sum().to_dict() if not comp.empty else {}
        df["remedy_fen"] = [int(cost.get(int(c), 0)) for c in df["case_id"]]
        rv["platform"] = [shop_info.get(int(s), ("", ""))[1] for s in rv["shop_id"]]
        rv["sku_label"] = _sku_label(rv["product_title"], rv["sku_text"])
        from ..core.columns import PLATFORM_ZH

        by_shop = _breakdown(df, rv, "shop_id", now,
                             lambda k: f"{shop_info.get(int(k), ('?', ''))[0]}（{PLATFORM_ZH.get(shop_info.get(int(k), ('', ''))[1], shop_info.get(int(k), ('', ''))[1])}）")
        by_platform = _breakdown(df, rv, "platform", now, lambda k: f"{PLATFORM_ZH.get(k, k)}（{k}）")
        by_sku = _breakdown(df, rv, "sku_label", now, lambda k: k or "（未知商品）")
        by_agent = _breakdown(df, None, "agent", now, lambda k: k if k else NO_AGENT)
        daily = _daily(start, end, rv, df)
    # an event still open is judged at the end of the period (or now, if earlier): a past period's report reads
    # the same whenever it is run
    commitments, commitment_breaches = commitment_figures(store, start, end, shop_ids=shops, policy=policy,
                                                          now=min(now or utcnow(), end))
    return ReportFigures(start=start, end=end, shop_ids=shops if shops != [-1] else [], reviews=n_all,
                         negative=n_neg, rate=(n_neg / n_all) if n_all else None, categories=categories,
                         sla=_sla(df, now), remedies=remedies, revised=revised, resolved=resolved, by_shop=by_shop,
                         by_platform=by_platform, by_sku=by_sku, by_agent=by_agent, daily=daily, cases=df,
                         alert_delays=alert_delays(store, start, end, shop_ids=shops, policy=policy),
                         appeals=appeal_figures(store, start, end, shop_ids=shops, policy=policy, now=now),
                         commitments=commitments, commitment_breaches=commitment_breaches,
                         ambassadors=ambassador_figures(store, start, end, shop_ids=shops))


BREAKDOWN_COLUMNS = ["key", "label", "reviews", "negative", "rate", "compliance", "first_contact_hours_median",
                     "resolution_hours_median", "resolved", "revised", "revision_rate", "remedy_fen"]


def _categories(df: pd.DataFrame, policy: Policy, names: dict[str, str]) -> pd.DataFrame:
    """The category mix: cases per primary category, most first (ties by the policy's priority)."""
    cols = ["category", "category_zh", "cases", "share", "department", "action"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    prio = {r["code"]: r["priority"] for r in policy.tables["categories"]}
    rows = {r["code"]: r for r in policy.tables["categories"]}
    counts = df["primary_category"].fillna("other").value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], prio.get(kv[0], 99)))
    return pd.DataFrame([{"category": c, "category_zh": names.get(c, c), "cases": int(n), "share": int(n) / len(df),
                          "department": rows.get(c, {}).get("department") or "",
                          "action": rows.get(c, {}).get("action") or ""} for c, n in ranked], columns=cols)


def _breakdown(df: pd.DataFrame, rv: pd.DataFrame | None, key: str, now: dt.datetime,
               label: Any) -> pd.DataFrame:
    """One row per value of ``key``: reviews (from ``rv``; None without it), cases and their figures
    (the same rules as :func:`_sla`, computed per group)."""
    def norm(k: Any) -> Any:
        return None if k is None or (isinstance(k, float) and pd.isna(k)) else k

    review_counts = {norm(k): int(v) for k, v in rv[key].value_counts(dropna=False).items()} if rv is not None else {}
    stats: dict[Any, dict[str, Any]] = {}
    if not df.empty:
        due = pd.to_datetime(df["sla_due_at"], utc=True)
        contact = pd.to_datetime(df["first_contact_at"], utc=True)
        created = pd.to_datetime(df["created_at"], utc=True)
        resolved_at = pd.to_datetime(df["resolved_at"], utc=True)
        status = sla_statuses(contact, due, now)  # the one SLA status (reviewops.core.sla); warning is not needed here
        w = pd.DataFrame({
            "k": df[key].astype(object).where(df[key].notna(), "\x00none"),
            "met": (status == "met").astype(int).to_numpy(),
            "late": (status == "late").astype(int).to_numpy(),
            "breached": (status == "breached").astype(int).to_numpy(),
            "fc": (contact - created).dt.total_seconds() / 3600,
            "rs": (resolved_at - created).dt.total_seconds() / 3600,
            "resolved": resolved_at.notna().astype(int),
            "revised": df["revised"].astype(int),
            "remedy_fen": df["remedy_fen"].astype("int64"),
        })
        g = w.groupby("k", sort=False).agg(n=("met", "size"), met=("met", "sum"), late=("late", "sum"),
                                            breached=("breached", "sum"), fc=("fc", "median"), rs=("rs", "median"),
                                            resolved=("resolved", "sum"), revised=("revised", "sum"),
                                            remedy_fen=("remedy_fen", "sum"))
        for k, r in g.iterrows():
            judged = int(r["met"] + r["late"] + r["breached"])
            stats[None if k == "\x00none" else k] = {
                "negative": int(r["n"]), "compliance": (int(r["met"]) / judged) if judged else None,
                "first_contact_hours_median": None if pd.isna(r["fc"]) else float(r["fc"]),
                "resolution_hours_median": None if pd.isna(r["rs"]) else float(r["rs"]),
                "resolved": int(r["resolved"]), "revised": int(r["revised"]), "remedy_fen": int(r["remedy_fen"])}
    rows = []
    for k in dict.fromkeys([*review_counts, *stats]):
        st = stats.get(k, {"negative": 0, "compliance": None, "first_contact_hours_median": None,
                           "resolution_hours_median": None, "resolved": 0, "revised": 0, "remedy_fen": 0})
        n_rev = review_counts.get(k, 0) if rv is not None else None
        rows.append({"key": k, "label": label(k), "reviews": n_rev, "negative": st["negative"],
                     "rate": (st["negative"] / n_rev) if n_rev else None, "compliance": st["compliance"],
                     "first_contact_hours_median": st["first_contact_hours_median"],
                     "resolution_hours_median": st["resolution_hours_median"], "resolved": st["resolved"],
                     "revised": st["revised"],
                     "revision_rate": (st["revised"] / st["resolved"]) if st["resolved"] else None,
                     "remedy_fen": st["remedy_fen"]})
    out = pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)
    if out.empty:
        return out
    out["_r"] = out["reviews"].fillna(0)
    out = (out.sort_values(["negative", "_r", "label"], ascending=[False, False, True], kind="stable")
           .drop(columns="_r").reset_index(drop=True))
    return _nones(out, ["reviews", "rate", "compliance", "first_contact_hours_median", "resolution_hours_median",
                        "revision_rate"])


def _nones(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Missing figures as None (not NaN) in ``cols``."""
    for c in cols:
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _daily(start: dt.datetime, end: dt.datetime, rv: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Reviews, 中差评 and rate per Beijing day of the period (days without reviews included)."""
    def day(s: pd.Series) -> pd.Series:
        if s.empty:
            return pd.Series([], dtype=object)
        return pd.to_datetime(s, utc=True).dt.tz_convert(SHANGHAI).dt.strftime("%Y-%m-%d")

    n_rev = day(rv["created_at"]).value_counts().to_dict()
    n_neg = day(df["review_at"]).value_counts().to_dict() if not df.empty else {}
    rows = []
    d = start.astimezone(SHANGHAI).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    while d <= last:
        k = d.isoformat()
        r, n = int(n_rev.get(k, 0)), int(n_neg.get(k, 0))
        rows.append({"date": k, "reviews": r, "negative": n, "rate": (n / r) if r else None})
        d += dt.timedelta(days=1)
    return _nones(pd.DataFrame(rows, columns=["date", "reviews", "negative", "rate"]), ["rate"])


def _sla(df: pd.DataFrame, cutoff: dt.datetime) -> dict[str, Any]:
    """Answered in time (``met``) / ``late`` / unanswered at or past the deadline (``breached``) at ``cutoff``
    — :func:`reviewops.core.sla.sla_statuses`, the status every queue shows; ``open_in_time`` = clock still
    running; median hours."""
    if df.empty:
        return {"cases": 0, "met": 0, "late": 0, "breached_unanswered": 0, "open_in_time": 0, "compliance": None,
                "first_contact_hours_median": None, "resolution_hours_median": None}
    due = pd.to_datetime(df["sla_due_at"], utc=True)
    contact = pd.to_datetime(df["first_contact_at"], utc=True)
    created = pd.to_datetime(df["created_at"], utc=True)
    resolved = pd.to_datetime(df["resolved_at"], utc=True)
    status = sla_statuses(contact, due, cutoff)  # the one SLA status (reviewops.core.sla) at the cutoff
    met = int((status == "met").sum())
    late = int((status == "late").sum())
    breached = int((status == "breached").sum())
    judged = met + late + breached
    fc = ((contact - created).dt.total_seconds() / 3600).dropna()
    rs = ((resolved - created).dt.total_seconds() / 3600).dropna()
    return {"cases": len(df), "met": met, "late": late, "breached_unanswered": breached,
            "open_in_time": len(df) - judged, "compliance": (met / judged) if judged else None,
            "first_contact_hours_median": float(fc.median()) if len(fc) else None,
            "resolution_hours_median": float(rs.median()) if len(rs) else None}


# ------------------------------------------------------------------ alert delays (SPEC E1)
ALERT_TARGET_SECONDS = 60  # SPEC E1: a supervisor is alerted within 1 minute of arrival

ALERT_DELAY_COLUMNS: list[tuple[str, str, str]] = [
    ("source", "来源代码", "folder | push | schedule | import | sweep …; total on the 合计 row"),
    ("source_zh", "来源", "文件夹 / 推送 / 定时导入 / 手动导入 / 巡检 …; 合计 on the total row"),
    ("alerts", "提醒数", "new-case alerts whose arrival (arrived_at) is in the period"),
    ("detect_p50_s", "检测用时 P50（秒）", "median of detected_at − arrived_at (case opened − review arrived), seconds"),
    ("detect_p95_s", "检测用时 P95（秒）", "95th percentile of the same, seconds"),
    ("delivered", "已送达", "alerts delivered on at least one channel"),
    ("deliver_p50_s", "送达用时 P50（秒）", "median of first delivered_at − arrived_at, delivered alerts, seconds"),
    ("deliver_p95_s", "送达用时 P95（秒）", "95th percentile of the same, seconds"),
    ("within_60s", "1 分钟内送达", "alerts first delivered at most 60 s after arrival"),
    ("within_60s_rate", "1 分钟内送达率", "within_60s / alerts (an undelivered alert counts as not within)"),
    ("pending", "待发送", "not delivered on any channel, at least one delivery still pending or sending"),
    ("dead", "发送失败", "every delivery dead (retries exhausted)"),
    ("no_channel", "无渠道", "no delivery at all (no channel configured for it)"),
    ("note", "备注", "样本不足 when alerts is below the policy's min_sample"),
]
ALERT_DELAY_NAMES = [c for c, _, _ in ALERT_DELAY_COLUMNS]
SOURCE_ORDER = ("folder", "push", "schedule", "import")
#: The alert sources (``alert_events.source``) in Chinese — the one table for every surface.
SOURCE_ZH = {"folder": "文件夹", "push": "推送", "schedule": "定时导入", "import": "手动导入", "recovery": "重启补发",
             "sweep": "巡检"}
TOTAL = "total"
_ALERT_FIGURES = ["detect_p50_s", "detect_p95_s", "deliver_p50_s", "deliver_p95_s", "within_60s_rate"]


def _alert_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=ALERT_DELAY_NAMES)
    return _nones(df, _ALERT_FIGURES) if len(df) else df


def _quantile(s: pd.Series, q: float) -> float | None:
    s = s.dropna()
    return float(s.quantile(q, interpolation="linear")) if len(s) else None


def _alert_row(source: str, label: str, g: pd.DataFrame, min_sample: int) -> dict[str, Any]:
    n = len(g)
    delivered = g["deliver_s"].notna()
    within = int((g["deliver_s"] <= ALERT_TARGET_SECONDS).sum())  # NaN (undelivered) compares False
    return {
        "source": source, "source_zh": label, "alerts": n,
        "detect_p50_s": _quantile(g["detect_s"], 0.5), "detect_p95_s": _quantile(g["detect_s"], 0.95),
        "delivered": int(delivered.sum()),
        "deliver_p50_s": _quantile(g["deliver_s"], 0.5), "deliver_p95_s": _quantile(g["deliver_s"], 0.95),
        "within_60s": within, "within_60s_rate": (within / n) if n else None,
        "pending": int((~delivered & (g["n_open"] > 0)).sum()),
        "dead": int((~delivered & (g["n_deliveries"] > 0) & (g["n_dead"] == g["n_deliveries"])).sum()),
        "no_channel": int((g["n_deliveries"] == 0).sum()),
        "note": small_sample(n, min_sample=min_sample),
    }


def alert_delays(store: Store, start: dt.datetime, end: dt.datetime, *, shop_ids: list[int] | None = None,
                 policy: Policy | None = None, min_sample: int | None = None) -> pd.DataFrame:
    """The real delays of the new-case alerts (SPEC E1) that **arrived** in ``[start, end)``, per source.

    One row per source (folder, push, schedule, import, then any other source alphabetically; only the
    sources that had alerts), then the 合计 row (``source`` = ``"total"``); columns
    :data:`ALERT_DELAY_COLUMNS`. An alert is an ``alert_events`` row of kind ``new_case`` of the shops
    ``shop_ids`` (None = all). Per alert: detection delay = ``detected_at − arrived_at`` (the review
    arriving → its case opened); delivery delay = the earliest ``delivered_at`` over its channels in state
    ``delivered`` − ``arrived_at`` (alerts not delivered anywhere are left out of its percentiles but count
    as not within 60 s). P50/P95 are exact: pandas ``Series.quantile`` with linear interpolation over the
    delays in seconds (no buckets, no estimates); None when there is nothing to take them over. Every
    alert is exactly one of delivered / pending / dead / no_channel. ``note`` is 样本不足 on rows with
    fewer alerts than ``min_sample`` (default: the policy's setting ``min_sample``); the figures are still
    given. No alert in the period: an empty frame with the columns. One query (aggregated per alert in SQL).
    """
    from ..core.store import alert_deliveries, alert_events

    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ConfigError(f"{name} 需要带时区的时间，收到 {value!r} / {name} must be a timezone-aware datetime")
    if min_sample is None:
        from ..core.policy import current_policy

        min_sample = int((policy or current_policy(store)).setting("min_sample"))
    e, d = alert_events, alert_deliveries
    delivered = sa.and_(d.c.state == "delivered", d.c.delivered_at.is_not(None))
    q = (sa.select(e.c.id, e.c.source, e.c.arrived_at, e.c.detected_at,
                   sa.func.min(sa.case((delivered, d.c.delivered_at))).label("first_delivered_at"),
                   sa.func.count(d.c.id).label("n_deliveries"),
                   sa.func.sum(sa.case((d.c.state.in_(("pending", "sending")), 1), else_=0)).label("n_open"),
                   sa.func.sum(sa.case((d.c.state == "dead", 1), else_=0)).label("n_dead"))
         .select_from(e.outerjoin(d, d.c.event_id == e.c.id))
         .where(e.c.kind == "new_case", e.c.arrived_at >= start, e.c.arrived_at < end)
         .group_by(e.c.id, e.c.source, e.c.arrived_at, e.c.detected_at))
    if shop_ids is not None:
        q = q.where(e.c.shop_id.in_([int(s) for s in shop_ids] or [-1]))
    with store.read() as conn:
        ev = pd.DataFrame(conn.execute(q).mappings().all(),
                          columns=["id", "source", "arrived_at", "detected_at", "first_delivered_at", "n_deliveries",
                                   "n_open", "n_dead"])
    if ev.empty:
        return _alert_frame([])
    arrived = pd.to_datetime(ev["arrived_at"], utc=True)
    ev["detect_s"] = (pd.to_datetime(ev["detected_at"], utc=True) - arrived).dt.total_seconds()
    ev["deliver_s"] = (pd.to_datetime(ev["first_delivered_at"], utc=True) - arrived).dt.total_seconds()
    for c in ("n_deliveries", "n_open", "n_dead"):
        ev[c] = pd.to_numeric(ev[c]).fillna(0).astype("int64")
    ev["source"] = ev["source"].fillna("").astype(str)
    present = set(ev["source"])
    order = [s for s in SOURCE_ORDER if s in present] + sorted(present - set(SOURCE_ORDER))
    rows = [_alert_row(s, SOURCE_ZH.get(s, s or "（未知）"), ev[ev["source"] == s], min_sample) for s in order]
    rows.append(_alert_row(TOTAL, "合计", ev, min_sample))
    return _alert_frame(rows)


# ------------------------------------------------------------------ platform appeals (SPEC H3, issue 17 §3)
#: The keys of :func:`appeal_figures`, in the order the reports show them.
APPEAL_FIGURE_NAMES = ("filed", "won", "lost", "pending", "due", "in_time", "in_time_rate")


def _no_appeals() -> dict[str, Any]:
    return {"filed": 0, "won": 0, "lost": 0, "pending": 0, "due": 0, "in_time": 0, "in_time_rate": None}


def _is_malicious(primary: Any, categories: Any, state: Any, triage_json: Any) -> bool:
    """A case legal must appeal — the stored decision, read the way the legal queue reads it
    (``handling.appeals.legal_queue``): primary category or one of the categories ``malicious``, the case in
    state ``appeal``, or triage's ``needs_appeal`` flag (set by the detection of issue 17 §1)."""
    import json

    if primary == "malicious" or state == "appeal" or "malicious" in str(categories or "").split(";"):
        return True
    try:
        return bool(json.loads(triage_json or "{}").get("needs_appeal"))
    except (TypeError, ValueError):
        return False


def _aware(t: Any) -> dt.datetime | None:
    if t is None or (isinstance(t, float) and pd.isna(t)):
        return None
    t = pd.Timestamp(t).to_pydatetime()
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t  # the store's naive times are UTC


def appeal_figures(store: Store, start: dt.datetime, end: dt.datetime, *, shop_ids: list[int] | None = None,
                   policy: Policy | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The platform appeals of ``[start, end)`` for the shops ``shop_ids`` (None = all), from the stored
    ``appeals`` rows and the cases' stored categories:

    * ``filed``: appeals submitted to the platform in the period (``submitted_at``);
    * ``won`` / ``lost``: appeals the platform accepted / rejected in the period (``decided_at``);
    * ``pending``: appeals awaiting the platform at the end of the period (or now, if that is earlier) —
      submitted before then and not decided before then;
    * ``due``: malicious cases (see :func:`_is_malicious`, or any case with an appeal) whose appeal deadline
      fell in the period: it lies in ``[start, end)`` and is not after ``now`` (a deadline still ahead is not
      counted yet). The deadline is the one stored on the case's first appeal; a case never appealed has the
      deadline the legal queue shows for it (``handling.appeals``: the platform's rule for the ground its
      signals support, counted from the review time on the policy's calendar);
    * ``in_time``: of those, the cases whose **first** appeal was submitted at or before that deadline;
      ``in_time_rate`` = ``in_time / due`` (None when nothing was due).

    The figures count what is stored; nothing is re-graded. ``now`` defaults to the store's clock.
    """
    from ..core.store import appeals, case_signals, cases, reviews, utcnow
    from ..core.store import shops as shops_t
    from ..core.store import utcnow
    from ..handling.appeals import (
        appeal_deadline,
        choose_ground,
        load_appeal_rules,
        rule_for,
    )

    now = now or utcnow()
    cutoff = min(end, now)
    shops = None if shop_ids is None else ([int(s) for s in shop_ids] or [-1])
    out = _no_appeals()
    if policy is None:
        from ..core.policy import current_policy

        policy = current_policy(store)
    with store.read() as conn:
        q = sa.select(appeals.c.id, appeals.c.case_id, appeals.c.state, appeals.c.deadline_at, appeals.c.submitted_at,
                      appeals.c.decided_at, appeals.c.created_at)
        if shops is not None:
            q = q.where(appeals.c.shop_id.in_(shops))
        arows = [dict(r) for r in conn.execute(q.order_by(appeals.c.id)).mappings()]
        rules = load_appeal_rules(policy=policy)  # the shop's 申诉规则 (empty sheet = built in)
        window = max((r.deadline_days if r.deadline_basis == "calendar" else 2 * r.deadline_days + 30)
                     for r in rules.values()) + 1
        cq = (sa.select(cases.c.id, cases.c.primary_category, cases.c.categories, cases.c.state, cases.c.triage_json,
                        shops_t.c.platform, reviews.c.created_at.label("review_at"))
              .select_from(cases.join(shops_t, shops_t.c.id == cases.c.shop_id)
                           .join(reviews, reviews.c.id == cases.c.review_pk))
              .where(reviews.c.created_at < cutoff, reviews.c.created_at >= start - dt.timedelta(days=window),
                     sa.or_(cases.c.primary_category == "malicious", cases.c.state == "appeal",
                            cases.c.categories.like("%malicious%"), cases.c.triage_json.like("%needs_appeal%"))))
        if shops is not None:
            cq = cq.where(cases.c.shop_id.in_(shops))
        crows = [r for r in conn.execute(cq).all()
                 if _is_malicious(r.primary_category, r.categories, r.state, r.triage_json)]
        ids = [int(r.id) for r in crows]
        signals: dict[int, list[dict[str, Any]]] = {}
        for chunk in _chunks(ids):
            for srow in conn.execute(sa.select(case_signals.c.case_id, case_signals.c.kind, case_signals.c.pointers)
                                     .where(case_signals.c.case_id.in_(chunk),
                                            case_signals.c.status != "rejected")).mappings():
                signals.setdefault(int(srow["case_id"]), []).append(dict(srow))
    for a in arows:
        submitted, decided = _aware(a["submitted_at"]), _aware(a["decided_at"])
        if submitted is not None and start <= submitted < end:
            out["filed"] += 1
        if decided is not None and start <= decided < end:
            if a["state"] == "accepted":
                out["won"] += 1
            elif a["state"] == "rejected":
                out["lost"] += 1
        if submitted is not None and submitted < cutoff and (decided is None or decided >= cutoff):
            out["pending"] += 1
    first: dict[int, dict[str, Any]] = {}
    for a in arows:  # ordered by id: the first appeal of each case
        first.setdefault(int(a["case_id"]), a)
    deadlines: dict[int, tuple[dt.datetime | None, dt.datetime | None]] = {
        cid: (_aware(a["deadline_at"]), _aware(a["submitted_at"])) for cid, a in first.items()}
    if crows:
        for r in crows:
            cid = int(r.id)
            if cid in deadlines or r.review_at is None:
                continue
            rule = rule_for(r.platform, choose_ground(signals.get(cid, [])), rules=rules)
            deadlines[cid] = (appeal_deadline(rule, _aware(r.review_at), policy), None)
    for deadline, submitted in deadlines.values():
        if deadline is None or not (start <= deadline < end) or deadline > now:
            continue
        out["due"] += 1
        if submitted is not None and submitted <= deadline:
            out["in_time"] += 1
    out["in_time_rate"] = (out["in_time"] / out["due"]) if out["due"] else None
    return out


# ------------------------------------------------------------------ service commitments (SPEC P6, issue 19)
def _no_commitments() -> tuple[pd.DataFrame, pd.DataFrame]:
    from ..prevention.commitments import ADHERENCE_COLUMNS, BREACH_COLUMNS, empty_frame

    return empty_frame(ADHERENCE_COLUMNS), empty_frame(BREACH_COLUMNS)


def commitment_figures(store: Store, start: dt.datetime, end: dt.datetime, *, shop_ids: list[int] | None = None,
                       policy: Policy | None = None, now: dt.datetime | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Adherence to the policy's 服务承诺 of the events whose clock started in ``[start, end)`` in ``shop_ids``
    (None = all): :func:`reviewops.prevention.commitments.commitment_adherence` — one row per enabled commitment
    (eligible, kept, breached, open, rate, median, P90, listings showing it) and the breaches (masked, Beijing
    time). Events are judged as the store knows them at ``now`` (default: now)."""
    from ..prevention.commitments import commitment_adherence

    return commitment_adherence(store, start, end, shop_ids=shop_ids, policy=policy, now=now)


# ------------------------------------------------------------------ review ambassadors (SPEC V3, issue 20)
def ambassador_figures(store: Store, start: dt.datetime, end: dt.datetime, *,
                       shop_ids: list[int] | None = None) -> dict[str, int]:
    """The referral programme in ``[start, end)`` for ``shop_ids`` (None = all), in fen:
    :func:`reviewops.handling.ambassadors.reward_costs` — ``referral_coupon`` and ``threshold_gift`` (approved or
    delivered rewards requested in the period), ``total``, ``referred_orders`` and ``referred_revenue_fen``
    (counted referred orders placed in the period, paid less refunds)."""
    from ..handling.ambassadors import reward_costs

    with store.read() as conn:
        return reward_costs(conn, start, end, shop_ids)
