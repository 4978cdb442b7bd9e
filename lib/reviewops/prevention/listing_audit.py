"""P3 listing transparency audit (SPEC P3, issue 19): per listing, the facts it lacks or that the shop's own data
contradicts.

Two layers, like :mod:`reviewops.prevention.risk`:

* :func:`audit_frame` — pure (pandas): listings (:data:`LISTING_COLUMNS`), order lines linked to a listing
  (:data:`ORDER_COLUMNS`) and reviews linked to a listing (:data:`REVIEW_COLUMNS`) in, one row per finding out
  (:data:`FINDING_COLUMNS`).
* :func:`audit_listings` — reads the store (read-only) into those frames for a period and calls
  :func:`audit_frame`.

**A listing** is one ``(shop, listing_key)`` of the ``listings`` table (import kind ``listings``); its SKU rows are
taken together: the **shortest** dispatch promise shown on any SKU binds (reference/prevention.md §3, the WeChat rule
"以商家设置、展示的最短时效为准"), the excluded regions are the union, a size chart or colour note on any SKU counts.

**The findings** (codes :data:`reviewops.core.policy.LISTING_FINDINGS`; thresholds, owner department, severity,
product scope, keywords and the fix are the policy's 商品信息审计 table, :data:`~reviewops.core.policy.
DEFAULT_LISTING_RULES` when empty):

``no_dispatch``    no dispatch promise on any SKU, with at least ``min_count`` orders in the period; the evidence gives
                   the observed paid → shipped hours (median, 90th percentile) and a promise the shop keeps today
``late_dispatch``  a promise the shop's own shipments break: of the listing's orders shipped in the period, the share
                   shipped later than paid + promise (at least ``min_count`` shipped orders and ``min_rate`` late)
``region``         buyers of a region complain about logistics (cases with category ``logistics``) at least
                   ``min_count`` times for this listing, at a rate (complaints / the listing's orders from that region)
                   at least ``min_rate`` × the shop's logistics complaint rate (complaints / orders, at least 1 %),
                   and the listing does not exclude the region. The region is the order's province (short form:
                   ``新疆维吾尔自治区`` → ``新疆``); when the store holds no province for any order of the period, the
                   last location of the order's outbound tracking is used instead and the evidence says so.
``size_chart``     a product in the rule's scope (``applies_to`` words in the product category or title: apparel and
                   shoes) without a size chart and with at least ``min_count`` size complaints (category ``size``)
``colour_note``    at least ``min_count`` complaints of 色差 / 描述不符 (category ``description``, or a case whose review
                   text has one of the rule's keywords) and no colour-difference note

Each finding carries the evidence (counts, rates, up to three example reviews masked with
:func:`reviewops.core.privacy.mask_text`, newest first), the owner department, the severity and the recommended fix
in Chinese. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..core.errors import ConfigError
from ..core.policy import (
    DEFAULT_LISTING_RULES,
    LISTING_FINDING_ZH,
    LISTING_FINDINGS,
    SEVERITIES,
    SEVERITY_ZH,
    Policy,
    default_policy,
)
from .frames import FrameColumn, frame_of
from .frames import as_utc as _as_utc
from .frames import check_frame as _check

if TYPE_CHECKING:
    from ..core.store import Store

__all__ = [
    "FINDING_COLUMNS",
    "FINDING_NAMES",
    "FINDING_ZH",
    "LISTING_COLUMNS",
    "ORDER_COLUMNS",
    "REVIEW_COLUMNS",
    "AuditColumn",
    "ListingAuditSettings",
    "audit_frame",
    "audit_listings",
    "listing_settings",
    "load_audit_data",
    "short_region",
]

UTC = dt.UTC
#: the smallest shop logistics complaint rate a region's rate is compared with (1 %)
MIN_SHOP_RATE = 0.01
#: example reviews per finding, and their length after masking
EXAMPLES = 3
EXAMPLE_CHARS = 80
#: dispatch promises suggested for a listing without one (hours)
PROMISE_STEPS = (24, 48, 72, 96, 120, 168)
#: region groups a listing may exclude as one word
REGION_GROUPS = {"港澳台": ("香港", "澳门", "台湾")}


def AuditColumn(name: str, dtype: str, zh: str, description: str, *, nullable: bool = True,
                as_text: bool = True) -> FrameColumn:
    """A column of this module's frames (:class:`~reviewops.prevention.frames.FrameColumn`; times may be empty)."""
    return FrameColumn(name, dtype, zh, description, nullable=nullable, as_text=as_text)


# ------------------------------------------------------------------------------------------- columns
LISTING_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("shop_id", "int64", "店铺编号", "the listing's shop (shops.id)"),
    AuditColumn("listing_key", "object", "商品链接键", "listings.listing_key: the listing id, else 商家编码:…, else 标题:…"),
    AuditColumn("sku", "object", "SKU", "the SKU of the row ('' = the whole listing)"),
    AuditColumn("listing_id", "object", "商品ID", "the platform's listing id, text (None when the export has none)"),
    AuditColumn("title", "object", "商品标题", "listing title"),
    AuditColumn("category", "object", "类目", "the product's category (products.category, else the listing's)"),
    AuditColumn("dispatch_hours", "float64", "承诺发货时效(小时)", "promised dispatch hours; NaN = no promise shown"),
    AuditColumn("excluded_regions", "object", "不发货地区", "regions not served, ;-joined ('' = none)"),
    AuditColumn("size_chart", "object", "尺码表", "True / False / None (the export says nothing)", as_text=False),
    AuditColumn("colour_note", "object", "色差说明", "True / False / None (the export says nothing)", as_text=False),
)
ORDER_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("shop_id", "int64", "店铺编号", "the order's shop"),
    AuditColumn("order_id", "object", "订单号", "platform order id, text"),
    AuditColumn("listing_key", "object", "商品链接键", "the listing of the order line"),
    AuditColumn("region", "object", "地区", "the buyer's region (short province, or tracking location); None = unknown"),
    AuditColumn("paid_at", "datetime64[ns, UTC]", "付款时间", "paid (else created) time, UTC", nullable=False),
    AuditColumn("shipped_at", "datetime64[ns, UTC]", "发货时间", "when the line/order was shipped; NaT = not shipped"),
)
REVIEW_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("shop_id", "int64", "店铺编号", "the review's shop"),
    AuditColumn("listing_key", "object", "商品链接键", "the reviewed listing"),
    AuditColumn("region", "object", "地区", "the buyer's region (as for orders); None = unknown"),
    AuditColumn("created_at", "datetime64[ns, UTC]", "评价时间", "when the review was posted, UTC", nullable=False),
    AuditColumn("content", "object", "评价内容", "review text as stored (masked only on output)"),
    AuditColumn("categories", "object", "投诉分类", "the case's categories, ;-joined ('' = no case)"),
)
FINDING_COLUMNS: tuple[AuditColumn, ...] = (
    AuditColumn("shop_id", "int64", "店铺编号", "the listing's shop"),
    AuditColumn("shop", "object", "店铺", "shop name (platform); None from audit_frame"),
    AuditColumn("listing_key", "object", "商品链接键", "listings.listing_key"),
    AuditColumn("listing_id", "object", "商品ID", "platform listing id, text"),
    AuditColumn("title", "object", "商品标题", "listing title"),
    AuditColumn("skus", "int64", "SKU行数", "rows of the listing in the export"),
    AuditColumn("finding", "object", "问题代码", "no_dispatch | late_dispatch | region | size_chart | colour_note"),
    AuditColumn("finding_zh", "object", "问题", "the finding in Chinese"),
    AuditColumn("region", "object", "地区", "the region complained about (region findings), else None"),
    AuditColumn("promise_hours", "float64", "承诺发货时效(小时)", "the binding (shortest) promise; NaN = none"),
    AuditColumn("orders", "int64", "期间订单数", "the listing's orders paid in the period"),
    AuditColumn("count", "int64", "问题次数", "late orders, or complaints behind the finding (no_dispatch: orders)"),
    AuditColumn("base", "int64", "基数", "what count is out of: shipped orders (late), the region's orders (region)"),
    AuditColumn("rate", "float64", "比率", "count / base where a rate is meant (late share, region complaint rate)"),
    AuditColumn("evidence", "object", "证据", "the counts and rates in Chinese"),
    AuditColumn("examples", "object", "典型评价(已脱敏)", "tuple of up to 3 masked review texts, newest first"),
    AuditColumn("department", "object", "负责部门", "owner department (policy 商品信息审计)"),
    AuditColumn("severity", "object", "严重程度代码", "high | medium | low"),
    AuditColumn("severity_zh", "object", "严重程度", "高 / 中 / 低"),
    AuditColumn("recommendation", "object", "建议措施", "the policy's fix, with this listing's specifics"),
)
FINDING_NAMES = tuple(c.name for c in FINDING_COLUMNS)
FINDING_ZH = {c.name: c.zh for c in FINDING_COLUMNS}


# ------------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class ListingAuditSettings:
    """The policy's audit period (days) and 商品信息审计 rows (code, min_count, min_rate or None, department,
    severity, applies_to, keywords, action)."""

    days: int = 90
    rules: tuple[Mapping[str, Any], ...] = DEFAULT_LISTING_RULES

    def rule(self, code: str) -> Mapping[str, Any] | None:
        return next((r for r in self.rules if r["code"] == code), None)


def listing_settings(policy: Policy | None = None, **override: Any) -> ListingAuditSettings:
    """The audit settings of ``policy`` (the default policy when None); an empty 商品信息审计 table = the built-in
    rules. ``override`` replaces fields (``days=30``)."""
    p = policy or default_policy()
    rows = tuple(dict(r) for r in p.tables.get("listing_rules", ())) or tuple(dict(r) for r in DEFAULT_LISTING_RULES)
    try:
        days = int(p.setting("listing_audit_days"))
    except (KeyError, ValueError, TypeError):  # a policy stored before the setting existed
        days = 90
    s = ListingAuditSettings(days=days, rules=rows)
    if override:
        s = ListingAuditSettings(**{**s.__dict__, **override})
    return s


# ------------------------------------------------------------------------------------------ helpers
_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


def short_region(name: Any) -> str | None:
    """A province as listings write it: ``新疆维吾尔自治区`` → ``新疆``, ``广东省`` → ``广东``, ``上海市`` → ``上海``;
    empty → None."""
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return None
    s = str(name).strip()
    if not s:
        return None
    for suf in _SUFFIXES:
        if s.endswith(suf) and len(s) > len(suf) + 1:
            return s[: -len(suf)]
    return s


def _excluded_set(cells: Sequence[Any]) -> set[str]:
    out: set[str] = set()
    for cell in cells:
        if cell is None or (isinstance(cell, float) and math.isnan(cell)):
            continue
        for part in str(cell).replace("，", ";").replace("、", ";").replace(",", ";").split(";"):
            r = short_region(part)
            if r:
                out.add(r)
                out.update(REGION_GROUPS.get(r, ()))
    return out


def _words(text: Any) -> list[str]:
    return [w.strip().lower() for w in str(text or "").replace("；", ";").split(";") if w.strip()]


def _tri(values: pd.Series) -> bool | None:
    """Any True → True; else any False → False; else None (the export says nothing)."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if any(bool(v) for v in vals):
        return True
    return False if vals else None


def _example(text: Any) -> str:
    from ..core.privacy import mask_text

    t = " ".join(str(text or "").split())
    t = mask_text(t) or ""
    return t if len(t) <= EXAMPLE_CHARS else t[: EXAMPLE_CHARS - 1] + "…"


def _examples(reviews: pd.DataFrame) -> tuple[str, ...]:
    part = reviews[reviews["content"].fillna("").str.strip() != ""]
    part = part.sort_values("created_at", ascending=False, kind="stable")
    return tuple(_example(t) for t in part["content"].head(EXAMPLES))


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%" if x * 100 < 9.95 else f"{x * 100:.0f}%"


def _h(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 or x >= 10 else f"{x:.1f}"


def _mentions(texts: pd.Series, words: Sequence[str]) -> pd.Series:
    """Whether each text contains one of ``words`` (lower-cased); no words: all False."""
    if not words:
        return pd.Series(False, index=texts.index, dtype=bool)
    return texts.fillna("").str.lower().map(lambda t: any(w in t for w in words)).astype(bool)


def _has(cats: pd.Series, code: str) -> pd.Series:
    return cats.fillna("").map(lambda c: code in str(c).split(";")).astype(bool)


# ------------------------------------------------------------------------------------------ the audit
def audit_frame(listings: pd.DataFrame, orders: pd.DataFrame, reviews: pd.DataFrame,
                settings: ListingAuditSettings | None = None, *, region_source: str = "province") -> pd.DataFrame:
    """Audit every listing of ``listings`` (:data:`LISTING_COLUMNS`) against its order lines (:data:`ORDER_COLUMNS`)
    and reviews (:data:`REVIEW_COLUMNS`, already limited to the period): one row per finding
    (:data:`FINDING_COLUMNS`), most severe first. Pure: the same frames give the same findings.
    ``region_source`` (``province`` | ``tracking``) is named in the region evidence."""
    st = settings or ListingAuditSettings()
    L = _check(listings, LISTING_COLUMNS, "商品表 listings")
    O = _check(orders, ORDER_COLUMNS, "订单表 orders")
    R = _check(reviews, REVIEW_COLUMNS, "评价表 reviews")
    for r in st.rules:
        if r["code"] not in LISTING_FINDINGS:
            raise ConfigError(f"未知的审计问题代码：{r['code']!r}；可用：{'、'.join(LISTING_FINDINGS)} / unknown finding "
                              f"code {r['code']!r}")
        if r["severity"] not in SEVERITIES:
            raise ConfigError(f"审计问题 {r['code']} 的严重程度 {r['severity']!r} 无效；可用：high、medium、low / "
                              f"bad severity {r['severity']!r}")
    R["categories"] = R["categories"].fillna("")
    R["is_case"] = R["categories"] != ""
    R["logistics"] = _has(R["categories"], "logistics")
    O["hours"] = (O["shipped_at"] - O["paid_at"]).dt.total_seconds() / 3600.0
    where = "（地区取自物流轨迹最后一站：订单没有收货省份）" if region_source == "tracking" else ""

    # the shop's logistics complaint rate (region baseline): complaints / order lines of the period
    shop_lines = O.groupby("shop_id").size()
    shop_logi = R[R["logistics"]].groupby("shop_id").size()
    shop_rate = {int(s): max(float(shop_logi.get(s, 0)) / float(n), MIN_SHOP_RATE) if n else MIN_SHOP_RATE
                 for s, n in shop_lines.items()}

    orders_by = {k: g for k, g in O.groupby(["shop_id", "listing_key"], sort=False)}
    reviews_by = {k: g for k, g in R.groupby(["shop_id", "listing_key"], sort=False)}
    empty_o, empty_r = O.iloc[0:0], R.iloc[0:0]
    rows: list[dict[str, Any]] = []

    for (shop_id, key), g in L.groupby(["shop_id", "listing_key"], sort=True):
        title = next((t for t in g["title"] if t), None)
        lid = next((t for t in g["listing_id"] if t), None)
        text = " ".join(str(v) for v in (*g["category"], title) if v).lower()
        promise = float(g["dispatch_hours"].min()) if g["dispatch_hours"].notna().any() else float("nan")
        excluded = _excluded_set(list(g["excluded_regions"]))
        size_chart, colour_note = _tri(g["size_chart"]), _tri(g["colour_note"])
        o = orders_by.get((shop_id, key), empty_o)
        rv = reviews_by.get((shop_id, key), empty_r)
        n_orders = int(o["order_id"].nunique())
        shipped = o[o["shipped_at"].notna()]
        base = {"shop_id": int(shop_id), "shop": None, "listing_key": key, "listing_id": lid, "title": title,
                "skus": len(g), "region": None, "promise_hours": promise, "orders": n_orders}

        def add(code: str, count: int, denom: int, rate: float, evidence: str, examples: pd.DataFrame,
                specific: str = "", region: str | None = None, base: dict[str, Any] = base) -> None:
            rule = st.rule(code) or {}
            action = str(rule.get("action") or "")
            rows.append({**base, "finding": code, "finding_zh": LISTING_FINDING_ZH[code], "region": region,
                         "count": int(count), "base": int(denom), "rate": float(rate), "evidence": evidence,
                         "examples": _examples(examples), "department": str(rule.get("department") or ""),
                         "severity": rule.get("severity") or "medium",
                         "severity_zh": SEVERITY_ZH.get(str(rule.get("severity")), "中"),
                         "recommendation": action + (f"（{specific}）" if specific else "")})

        def active(code: str, text: str = text) -> Mapping[str, Any] | None:
            rule = st.rule(code)
            if rule is None:
                return None
            scope = _words(rule.get("applies_to"))
            if scope and not any(w in text for w in scope):
                return None
            return rule

        # (a) no dispatch promise
        rule = active("no_dispatch")
        if rule is not None and math.isnan(promise) and n_orders >= int(rule["min_count"]):
            hrs = shipped["hours"]
            if len(hrs):
                med, p90 = float(hrs.median()), float(hrs.quantile(0.9))
                keep = next((h for h in PROMISE_STEPS if h >= p90), None)
                ev = (f"商品链接没有写发货时效；期间 {n_orders} 单，已发货 {len(hrs)} 单，付款到发货中位 {_h(med)} 小时、"
                      f"90% 在 {_h(p90)} 小时内")
                spec = (f"按近期实际可承诺 {keep} 小时内发货" if keep else f"近期 90% 订单在 {_h(p90)} 小时内发出，"
                        "请先缩短发货用时再承诺")
            else:
                ev, spec = f"商品链接没有写发货时效；期间 {n_orders} 单，尚无发货记录", ""
            add("no_dispatch", n_orders, n_orders, float("nan"), ev, rv[rv["logistics"]], spec)

        # (b) a promise the shop's own shipments break
        rule = active("late_dispatch")
        if rule is not None and not math.isnan(promise) and len(shipped):
            late = shipped[shipped["hours"] > promise + 1e-9]
            n_s, n_l = len(shipped), len(late)
            share = n_l / n_s
            need_rate = rule.get("min_rate")
            if n_s >= int(rule["min_count"]) and n_l > 0 and (need_rate is None or pd.isna(need_rate)
                                                              or share >= float(need_rate) - 1e-12):
                ev = (f"承诺 {_h(promise)} 小时内发货；期间已发货 {n_s} 单，其中 {n_l} 单超时发货（{_pct(share)}），"
                      f"付款到发货中位 {_h(float(shipped['hours'].median()))} 小时、最慢 {_h(float(late['hours'].max()))} 小时")
                add("late_dispatch", n_l, n_s, share, ev, rv[rv["logistics"]],
                    f"超时 {n_l}/{n_s} 单；90% 订单在 {_h(float(shipped['hours'].quantile(0.9)))} 小时内发出")

        # (c) regions complained about but not excluded
        rule = active("region")
        if rule is not None:
            logi = rv[rv["logistics"] & rv["region"].notna()]
            if len(logi):
                per_region = o[o["region"].notna()].groupby("region")["order_id"].nunique()
                rate_of_shop = shop_rate.get(int(shop_id), MIN_SHOP_RATE)
                for region, part in sorted(logi.groupby("region"), key=lambda kv: (-len(kv[1]), kv[0])):
                    n_c = len(part)
                    n_o = int(per_region.get(region, 0))
                    if n_c < int(rule["min_count"]) or region in excluded:
                        continue
                    rate = n_c / n_o if n_o else float("inf")
                    ratio = rule.get("min_rate")
                    if ratio is not None and not pd.isna(ratio) and rate < float(ratio) * rate_of_shop - 1e-12:
                        continue
                    shown = "；".join(sorted(excluded)) or "无"
                    ev = (f"{region}买家的物流投诉 {n_c} 条（该地区本商品订单 {n_o} 单，投诉率 "
                          f"{_pct(rate) if n_o else '—'}；本店物流投诉率 {_pct(rate_of_shop)}）；不发货地区：{shown}{where}")
                    add("region", n_c, n_o, rate if n_o else float("nan"), ev, part, f"地区：{region}", region=region)

        # (d) apparel without a size chart where size complaints occur
        rule = active("size_chart")
        if rule is not None and size_chart is not True:
            kw = _words(rule.get("keywords"))
            hit = _has(rv["categories"], "size")
            if kw:
                hit |= rv["is_case"] & _mentions(rv["content"], kw)
            part = rv[hit]
            if len(part) >= max(1, int(rule["min_count"])):
                said = "导出未说明是否有尺码表" if size_chart is None else "没有尺码表"
                add("size_chart", len(part), len(rv[rv["is_case"]]), float("nan"),
                    f"{said}；期间尺码投诉 {len(part)} 条（该商品中差评 {int(rv['is_case'].sum())} 条）", part)

        # (e) 色差 / 描述不符 complaints and no colour-difference note
        rule = active("colour_note")
        if rule is not None and colour_note is not True:
            kw = _words(rule.get("keywords"))
            desc = _has(rv["categories"], "description")
            words = rv["is_case"] & _mentions(rv["content"], kw)
            part = rv[desc | words]
            if len(part) >= max(1, int(rule["min_count"])):
                said = "导出未说明是否有色差说明" if colour_note is None else "没有色差说明"
                add("colour_note", len(part), len(rv[rv["is_case"]]), float("nan"),
                    f"{said}；期间色差/描述不符投诉 {len(part)} 条（其中分类为描述不符 {int(desc.sum())} 条，"
                    f"评价提到色差等词 {int((words & ~desc).sum())} 条）", part)

    out = pd.DataFrame(rows, columns=list(FINDING_NAMES))
    if len(out):
        order = {s: i for i, s in enumerate(SEVERITIES)}
        out = out.assign(_s=out["severity"].map(order), _f=out["finding"].map(LISTING_FINDINGS.index))
        out = out.sort_values(["_s", "count", "shop_id", "listing_key", "_f"], ascending=[True, False, True, True, True],
                              kind="stable").drop(columns=["_s", "_f"])
    out = out.reset_index(drop=True)
    for c in FINDING_COLUMNS:
        if c.dtype != "object":
            out[c.name] = out[c.name].astype(c.dtype)
    return out


# ------------------------------------------------------------------------------------------ the store
def _regions_json(cell: Any) -> str:
    if not cell:
        return ""
    try:
        vals = json.loads(cell)
    except (TypeError, ValueError):
        return str(cell)
    return ";".join(str(v) for v in vals) if isinstance(vals, list) else str(vals)


def load_audit_data(conn: sa.Connection, *, since: dt.datetime, until: dt.datetime,
                    shop_ids: Sequence[int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """The listings, the order lines paid in ``[since, until]`` and the reviews posted in it, each linked to a
    listing (by listing id, else 商家编码, else title, within the shop), read on ``conn`` (nothing written); and the
    region source (``province``, or ``tracking`` when no order of the period has a province)."""
    from ..core.store import (
        cases,
        listings,
        order_lines,
        orders,
        products,
        reviews,
        shipment_events,
        shipments,
    )

    def shops_of(col: Any) -> Any:
        return sa.true() if shop_ids is None else col.in_([int(s) for s in shop_ids])

    ls = frame_of(conn.execute(
        sa.select(listings.c.shop_id, listings.c.listing_key, listings.c.sku, listings.c.listing_id,
                  listings.c.merchant_code, listings.c.title, sa.func.coalesce(products.c.category, listings.c.category),
                  listings.c.dispatch_hours, listings.c.excluded_regions, listings.c.size_chart, listings.c.colour_note)
        .select_from(listings.outerjoin(products, products.c.id == listings.c.product_pk))
        .where(shops_of(listings.c.shop_id))).all(),
        ["shop_id", "listing_key", "sku", "listing_id", "merchant_code", "title", "category", "dispatch_hours",
         "excluded_regions", "size_chart", "colour_note"])
    ls["excluded_regions"] = ls["excluded_regions"].map(_regions_json)
    ls["dispatch_hours"] = pd.to_numeric(ls["dispatch_hours"], errors="coerce").astype(float)
    # link keys: (shop, kind, value) → listing_key; the first listing wins
    link: dict[tuple[int, str, str], str] = {}
    for r in ls.itertuples(index=False):
        for kind, v in (("id", r.listing_id), ("code", r.merchant_code), ("title", r.title)):
            if v:
                link.setdefault((int(r.shop_id), kind, str(v).strip()), r.listing_key)

    def key_of(shop: int, pid: Any, code: Any, title: Any) -> str | None:
        for kind, v in (("id", pid), ("code", code), ("title", title)):
            if v and (k := link.get((int(shop), kind, str(v).strip()))):
                return k
        return None

    paid = sa.func.coalesce(orders.c.paid_at, orders.c.created_at)
    first_ship = (sa.select(shipments.c.shop_id, shipments.c.order_id, sa.func.min(shipments.c.shipped_at).label("at"))
                  .where(sa.or_(shipments.c.direction.is_(None), shipments.c.direction == "outbound"))
                  .group_by(shipments.c.shop_id, shipments.c.order_id).subquery())
    od = frame_of(conn.execute(
        sa.select(order_lines.c.shop_id, order_lines.c.order_id, order_lines.c.product_id, order_lines.c.merchant_code,
                  order_lines.c.title, orders.c.province, paid,
                  sa.func.coalesce(order_lines.c.shipped_at, orders.c.shipped_at, first_ship.c.at))
        .select_from(order_lines.join(orders, sa.and_(orders.c.shop_id == order_lines.c.shop_id,
                                                      orders.c.order_id == order_lines.c.order_id))
                     .outerjoin(first_ship, sa.and_(first_ship.c.shop_id == orders.c.shop_id,
                                                    first_ship.c.order_id == orders.c.order_id)))
        .where(shops_of(order_lines.c.shop_id), paid.is_not(None), paid >= since, paid <= until)).all(),
        ["shop_id", "order_id", "product_id", "merchant_code", "title", "province", "paid_at", "shipped_at"])
    od["listing_key"] = [key_of(s, p, c, t) for s, p, c, t in
                         zip(od["shop_id"], od["product_id"], od["merchant_code"], od["title"])]
    od = od[od["listing_key"].notna()].drop_duplicates(["shop_id", "order_id", "listing_key"])
    source = "province"
    od["region"] = od["province"].map(short_region)
    if len(od) and od["region"].isna().all():  # no province stored: the outbound tracking's last location
        source = "tracking"
        last = (sa.select(shipments.c.shop_id, shipments.c.order_id, shipment_events.c.location,
                          shipment_events.c.event_at)
                .select_from(shipment_events.join(shipments, shipments.c.id == shipment_events.c.shipment_pk))
                .where(shops_of(shipments.c.shop_id), shipment_events.c.location.is_not(None)))
        ev = frame_of(conn.execute(last).all(), ["shop_id", "order_id", "location", "at"])
        ev = ev.sort_values("at", kind="stable").drop_duplicates(["shop_id", "order_id"], keep="last")
        loc = {(int(s), str(o)): short_region(x) for s, o, x in zip(ev["shop_id"], ev["order_id"], ev["location"])}
        od["region"] = [loc.get((int(s), str(o))) for s, o in zip(od["shop_id"], od["order_id"])]
    region_of = {(int(s), str(o)): r for s, o, r in zip(od["shop_id"], od["order_id"], od["region"])}

    rv = frame_of(conn.execute(
        sa.select(reviews.c.id, reviews.c.shop_id, reviews.c.order_id, reviews.c.product_id, reviews.c.product_title,
                  reviews.c.created_at, reviews.c.content, cases.c.categories)
        .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id))
        .where(shops_of(reviews.c.shop_id), reviews.c.created_at >= since, reviews.c.created_at <= until)).all(),
        ["review_pk", "shop_id", "order_id", "product_id", "title", "created_at", "content", "categories"])
    rv = rv.drop_duplicates("review_pk")
    rv["listing_key"] = [key_of(s, p, None, t) for s, p, t in zip(rv["shop_id"], rv["product_id"], rv["title"])]
    rv = rv[rv["listing_key"].notna()]
    if len(rv):
        rv["region"] = [region_of.get((int(s), str(o))) for s, o in zip(rv["shop_id"], rv["order_id"])]
        missing = rv["region"].isna() & rv["order_id"].notna()
        if missing.any():  # a review of an order paid before the period: its order's province
            ids = sorted({str(o) for o in rv.loc[missing, "order_id"]})
            got: dict[tuple[int, str], str | None] = {}
            for chunk in range(0, len(ids), 900):
                for s, o, p in conn.execute(sa.select(orders.c.shop_id, orders.c.order_id, orders.c.province)
                                            .where(orders.c.order_id.in_(ids[chunk:chunk + 900]))):
                    got[(int(s), str(o))] = short_region(p)
            rv.loc[missing, "region"] = [got.get((int(s), str(o))) for s, o in
                                         zip(rv.loc[missing, "shop_id"], rv.loc[missing, "order_id"])]
    else:
        rv["region"] = pd.Series(dtype=object)
    for df in (od, rv):
        for col in ("paid_at", "shipped_at", "created_at"):
            if col in df:
                df[col] = pd.to_datetime(df[col], utc=True)
    return (_check(ls, LISTING_COLUMNS, "listings"), _check(od, ORDER_COLUMNS, "orders"),
            _check(rv, REVIEW_COLUMNS, "reviews"), source)


def audit_listings(store: Store, *, since: Any = None, until: Any = None, shop_ids: Sequence[int] | None = None,
                   now: Any = None, policy: Policy | None = None,
                   settings: ListingAuditSettings | None = None) -> pd.DataFrame:
    """The P3 findings of the store's listings (:func:`audit_frame`; columns :data:`FINDING_COLUMNS`, ``shop`` = the
    shop's name and platform) over the orders paid and reviews posted in ``[since, until]`` — ``until`` None = ``now``
    (None = the current time), ``since`` None = ``until`` − the policy's ``listing_audit_days``; text or naive times
    are Beijing time — of ``shop_ids`` (None = every shop). Read-only; the rules are the store's newest policy
    (``policy``/``settings`` override; nothing is saved)."""
    from ..core.policy import load_policy
    from ..core.store import shops, utcnow

    at = _as_utc(now, "now") or utcnow()
    end = _as_utc(until, "until") or at
    if settings is None:
        settings = listing_settings(policy or load_policy(store) or default_policy())
    start = _as_utc(since, "since") or end - dt.timedelta(days=int(settings.days))
    if start > end:
        raise ConfigError(f"since（{start:%Y-%m-%d %H:%M} UTC）晚于 until（{end:%Y-%m-%d %H:%M} UTC）；请交换或改正 / "
                          "since is after until")
    with store.read() as conn:
        ls, od, rv, source = load_audit_data(conn, since=start, until=end, shop_ids=shop_ids)
        names = {int(i): f"{n}（{p}）" for i, p, n in conn.execute(sa.select(shops.c.id, shops.c.platform, shops.c.name))}
    out = audit_frame(ls, od, rv, settings, region_source=source)
    out["shop"] = out["shop_id"].map(names).astype(object)
    out.attrs.update({"since": start, "until": end, "region_source": source, "listings": int(
        ls.groupby(["shop_id", "listing_key"]).ngroups) if len(ls) else 0, "orders": len(od[["shop_id", "order_id"]].drop_duplicates()),
        "order_lines": len(od), "reviews": len(rv)})
    return out
