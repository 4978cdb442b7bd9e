"""Customer value of handling bad reviews (SPEC V4): repurchase vs the shop's baseline, win-back, NPS.

For a period ``[start, end)`` and the selected shops:

* **handled customers**: customers with a case resolved in the period — the customer of the case's
  review (its nick), or, where the review names none (JD shows review nicks masked), the buyer of the
  reviewed order; a customer's reference moment is their first resolution in the period.
* **orders** are the buyer's; an order whose export names no buyer (Douyin, Pinduoduo) counts for the
  customer who reviewed it.
* **repurchase**: another paid order (``paid_fen > 0``) created after the reference moment and at most
  ``repurchase_window_days`` days after it (day N counts, day N + 1 does not).
* **baseline**: customers who placed a paid order in the period and never had a case; reference
  moment = their first paid order in the period; repurchase as above. One row per shop and a total.
* **win-back**: delivered ``repurchase_coupon`` compensations of the period → customers who ordered
  within the window after delivery; **silent** handled customers (last paid order before the case at
  least the policy's silent-tier ``min_silent_days`` earlier) → how many re-ordered.
* **conversion**: resolved cases of the period whose review was later changed to a good rating
  (the weekly report's rule, :func:`reviewops.reporting.measures.revised_review_pks`); the playbook's example is 78 %.
* **NPS**: ``nps`` answers (0–10) of the period: promoters (9–10) % minus detractors (0–6) %, in
  points, for handled customers (the answer's case, or its customer, is handled) vs the others, and
  the change against the previous period of the same length (same handled/other split of that period).

Every rate comes with its counts; a rate over fewer than ``min_sample`` (default: the policy setting ``min_sample``, 10)
observations is flagged ``样本不足`` in its ``note`` column (the rate is still given).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from .measures import check_period, check_shops, revised_review_pks, small_sample

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store

__all__ = ["OUTCOME_COLUMNS", "CustomerValue", "customer_value", "nps_points"]

EXAMPLE_CONVERSION = 0.78  # the playbook's example conversion rate (SPEC V4)

OUTCOME_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "repurchase": [
        ("shop_id", "店铺编号", "shop id; None on the total row"),
        ("shop", "店铺", "shop name (platform)"),
        ("handled", "处理客户数", "customers with a case resolved in the period"),
        ("handled_repurchased", "处理客户复购数", "of them, with another paid order within the window"),
        ("handled_rate", "处理客户复购率", "handled_repurchased / handled"),
        ("baseline", "基线客户数", "customers who ordered in the period and never had a case"),
        ("baseline_repurchased", "基线复购数", "of them, with another paid order within the window"),
        ("baseline_rate", "基线复购率", "baseline_repurchased / baseline"),
        ("difference_points", "差值（百分点）", "(handled_rate − baseline_rate) × 100"),
        ("note", "备注", "样本不足 when either group is below the minimum sample"),
    ],
    "winback": [
        ("measure", "项目代码", "repurchase_coupon | silent"),
        ("measure_zh", "项目", "what is measured"),
        ("customers", "客户数", "customers given a repurchase coupon / silent handled customers"),
        ("reordered", "再次下单", "of them, with a paid order within the window afterwards"),
        ("rate", "比率", "reordered / customers"),
        ("order_fen", "订单金额（分）", "paid amount of those orders, fen"),
        ("note", "备注", "样本不足 below the minimum sample"),
    ],
    "conversion": [
        ("resolved", "已解决案件", "cases resolved in the period"),
        ("revised", "改为好评", "of them, reviews later changed to a good rating (reported only)"),
        ("rate", "改评率（转化率）", "revised / resolved"),
        ("example", "剧本示例", "the playbook's example rate (78 %)"),
        ("note", "备注", "样本不足 below the minimum sample"),
    ],
    "nps": [
        ("group", "分组代码", "handled | other | all"),
        ("group_zh", "客户分组", "handled customers / other customers / all"),
        ("n", "答卷数", "NPS answers in the period"),
        ("promoters", "推荐者（9–10）", "answers 9–10"),
        ("passives", "中立者（7–8）", "answers 7–8"),
        ("detractors", "贬损者（0–6）", "answers 0–6"),
        ("nps", "NPS（分）", "promoters % − detractors %, points; None without answers"),
        ("prev_n", "上期答卷数", "answers in the previous period of the same length"),
        ("prev_nps", "上期 NPS", "the previous period's NPS"),
        ("change", "变化（分）", "nps − prev_nps"),
        ("note", "备注", "无数据 / 样本不足"),
    ],
}


@dataclass
class CustomerValue:
    """Customer value of ``[start, end)``: see the module docstring."""

    start: dt.datetime
    end: dt.datetime
    window_days: int
    min_sample: int
    repurchase: pd.DataFrame  # OUTCOME_COLUMNS["repurchase"]: one row per shop, then the total (shop_id None)
    winback: pd.DataFrame  # OUTCOME_COLUMNS["winback"]
    conversion: pd.DataFrame  # OUTCOME_COLUMNS["conversion"] (one row)
    nps: pd.DataFrame  # OUTCOME_COLUMNS["nps"]: handled, other, all
    notes: list[str] = field(default_factory=list)


def nps_points(scores: list[int] | pd.Series) -> float | None:
    """NPS of 0–10 answers: promoters (9–10) % minus detractors (0–6) %, in points; None without answers."""
    s = pd.Series(list(scores), dtype=float)
    if s.empty:
        return None
    return float(((s >= 9).mean() - (s <= 6).mean()) * 100)


def _frame(rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    cols = [c for c, _, _ in OUTCOME_COLUMNS[table]]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype(object).where(df.notna(), None) if len(df) else df


def _rate(k: int, n: int) -> float | None:
    return (k / n) if n else None


def _repurchased(orders: pd.DataFrame, refs: pd.DataFrame, window: dt.timedelta) -> pd.DataFrame:
    """refs (customer_id, ref_at) + flag/amount of a paid order in (ref_at, ref_at + window]."""
    if refs.empty:
        return refs.assign(repurchased=pd.Series([], dtype=bool), order_fen=pd.Series([], dtype="int64"))
    m = refs.merge(orders, on="customer_id", how="left")
    hit = m["created_at"].notna() & (m["created_at"] > m["ref_at"]) & (m["created_at"] <= m["ref_at"] + window)
    m["hit_fen"] = m["paid_fen"].where(hit, 0).fillna(0)
    m["hit"] = hit
    g = m.groupby(["customer_id", "ref_at"], sort=False).agg(repurchased=("hit", "any"), order_fen=("hit_fen", "sum"))
    out = refs.merge(g.reset_index(), on=["customer_id", "ref_at"], how="left")
    out["repurchased"] = out["repurchased"].fillna(False).astype(bool)
    out["order_fen"] = out["order_fen"].fillna(0).astype("int64")
    return out


def customer_value(store: Store, start: dt.datetime, end: dt.datetime, *, shop_ids: list[int] | None = None,
                   policy: Policy | None = None, min_sample: int | None = None,
                   now: dt.datetime | None = None) -> CustomerValue:
    """Repurchase vs baseline, win-back, conversion and NPS of ``[start, end)`` (aware datetimes)."""
    from ..core.columns import PLATFORM_ZH
    from ..core.policy import current_policy
    from ..core.store import cases, compensations, orders, reviews, surveys, utcnow
    from ..core.store import shops as shops_t

    check_period(start, end)
    now = now or utcnow()
    policy = policy or current_policy(store)
    with store.read() as conn:
        shops = check_shops(conn, shop_ids)
    days = int(policy.setting("repurchase_window_days"))
    if min_sample is None:
        min_sample = int(policy.setting("min_sample"))
    window = dt.timedelta(days=days)
    silent_days = [int(t["min_silent_days"]) for t in policy.tables["tiers"] if t.get("min_silent_days") is not None]
    prev_start = start - (end - start)

    def shop_filter(q: Any, col: Any) -> Any:
        return q.where(col.in_(shops)) if shops is not None else q

    with store.read() as conn:
        shop_info = {int(r.id): f"{r.name}（{PLATFORM_ZH.get(r.platform, r.platform)}）"
                     for r in conn.execute(sa.select(shops_t.c.id, shops_t.c.name, shops_t.c.platform))}
        # A customer is known from the review's nick or, where the review shows it masked (JD), from the
        # order's buyer; an order whose export names no buyer (Douyin, PDD) is the customer's who reviewed it.
        order_of_review = orders.alias("ro")
        cs = pd.DataFrame(conn.execute(shop_filter(
            sa.select(cases.c.id.label("case_id"), cases.c.shop_id, cases.c.review_pk, cases.c.resolved_at,
                      cases.c.created_at,
                      sa.func.coalesce(reviews.c.customer_id, order_of_review.c.customer_id).label("customer_id"))
            .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk)
                         .outerjoin(order_of_review, sa.and_(order_of_review.c.shop_id == reviews.c.shop_id,
                                                             order_of_review.c.order_id == reviews.c.order_id))),
            cases.c.shop_id))
            .mappings().all(), columns=["case_id", "shop_id", "review_pk", "resolved_at", "created_at", "customer_id"])
        reviewer = (sa.select(reviews.c.shop_id, reviews.c.order_id, sa.func.min(reviews.c.customer_id).label("cid"))
                    .where(reviews.c.order_id.is_not(None), reviews.c.customer_id.is_not(None))
                    .group_by(reviews.c.shop_id, reviews.c.order_id).subquery())
        buyer = sa.func.coalesce(orders.c.customer_id, reviewer.c.cid)
        od = pd.DataFrame(conn.execute(shop_filter(
            sa.select(buyer.label("customer_id"), orders.c.shop_id, orders.c.created_at, orders.c.paid_fen)
            .select_from(orders.outerjoin(reviewer, sa.and_(reviewer.c.shop_id == orders.c.shop_id,
                                                            reviewer.c.order_id == orders.c.order_id)))
            .where(buyer.is_not(None), orders.c.paid_fen > 0, orders.c.created_at.is_not(None),
                   orders.c.created_at <= end + window),  # later orders cannot fall in any window
            orders.c.shop_id)).mappings().all(), columns=["customer_id", "shop_id", "created_at", "paid_fen"])
        cp = pd.DataFrame(conn.execute(shop_filter(
            sa.select(compensations.c.customer_id, compensations.c.case_id,
                      sa.func.coalesce(compensations.c.delivered_at, compensations.c.requested_at).label("at"))
            .where(compensations.c.kind == "repurchase_coupon", compensations.c.state == "delivered"),
            compensations.c.shop_id)).mappings().all(), columns=["customer_id", "case_id", "at"])
        sv = pd.DataFrame(conn.execute(shop_filter(
            sa.select(surveys.c.score, surveys.c.case_id, surveys.c.customer_id, surveys.c.answered_at)
            .where(surveys.c.kind == "nps", surveys.c.answered_at >= prev_start, surveys.c.answered_at < end),
            surveys.c.shop_id)).mappings().all(), columns=["score", "case_id", "customer_id", "answered_at"])
        in_period = [int(p) for p, r in zip(cs["review_pk"], pd.to_datetime(cs["resolved_at"], utc=True))
                     if pd.notna(p) and pd.notna(r) and start <= r < end]
        revised_pks = revised_review_pks(conn, in_period)
    for frame, cols in ((cs, ("resolved_at", "created_at")), (od, ("created_at",)), (cp, ("at",)),
                        (sv, ("answered_at",))):
        for c in cols:
            frame[c] = pd.to_datetime(frame[c], utc=True)
    ts, te = pd.Timestamp(start), pd.Timestamp(end)
    res = cs[cs["resolved_at"].notna() & (cs["resolved_at"] >= ts) & (cs["resolved_at"] < te)]
    orders_c = od[["customer_id", "created_at", "paid_fen"]]
    # handled customers: first resolution in the period
    h = (res[res["customer_id"].notna()].sort_values("resolved_at").drop_duplicates("customer_id")
         [["customer_id", "shop_id", "resolved_at", "created_at"]]
         .rename(columns={"resolved_at": "ref_at", "created_at": "case_at"}))
    h["customer_id"] = h["customer_id"].astype(int)
    hr = _repurchased(orders_c, h[["customer_id", "ref_at"]], window).merge(
        h[["customer_id", "shop_id", "case_at"]], on="customer_id")
    # baseline: ordered in the period, never had a case
    ever_case = {int(c) for c in cs["customer_id"].dropna()}
    bo = od[(od["created_at"] >= ts) & (od["created_at"] < te) & ~od["customer_id"].isin(ever_case)]
    b = (bo.sort_values("created_at").drop_duplicates("customer_id")[["customer_id", "shop_id", "created_at"]]
         .rename(columns={"created_at": "ref_at"}))
    br = _repurchased(orders_c, b[["customer_id", "ref_at"]], window).merge(b[["customer_id", "shop_id"]],
                                                                            on="customer_id")
    rows = []

    def rep_row(sid: int | None, label: str, hh: pd.DataFrame, bb: pd.DataFrame) -> dict[str, Any]:
        n_h, k_h, n_b, k_b = len(hh), int(hh["repurchased"].sum()), len(bb), int(bb["repurchased"].sum())
        rh, rb = _rate(k_h, n_h), _rate(k_b, n_b)
        return {"shop_id": sid, "shop": label, "handled": n_h, "handled_repurchased": k_h, "handled_rate": rh,
                "baseline": n_b, "baseline_repurchased": k_b, "baseline_rate": rb,
                "difference_points": (rh - rb) * 100 if rh is not None and rb is not None else None,
                "note": small_sample(n_h, n_b, min_sample=min_sample)}

    for sid in sorted(set(hr["shop_id"].astype(int)) | set(br["shop_id"].astype(int))):
        rows.append(rep_row(sid, shop_info.get(sid, str(sid)), hr[hr["shop_id"] == sid], br[br["shop_id"] == sid]))
    rows.append(rep_row(None, "合计 total", hr, br))
    repurchase = _frame(rows, "repurchase")

    # win-back: repurchase coupons delivered in the period; silent handled customers
    cpp = cp[cp["customer_id"].notna() & (cp["at"] >= ts) & (cp["at"] < te)]
    cref = (cpp.sort_values("at").drop_duplicates("customer_id")[["customer_id", "at"]]
            .rename(columns={"at": "ref_at"}))
    cref["customer_id"] = cref["customer_id"].astype(int)
    cr = _repurchased(orders_c, cref, window)
    wrows = [{"measure": "repurchase_coupon", "measure_zh": "复购券 → 再次下单", "customers": len(cr),
              "reordered": int(cr["repurchased"].sum()), "rate": _rate(int(cr["repurchased"].sum()), len(cr)),
              "order_fen": int(cr["order_fen"].sum()), "note": small_sample(len(cr), min_sample=min_sample)}]
    if silent_days:
        thr = dt.timedelta(days=min(silent_days))
        before = h[["customer_id", "case_at"]].merge(orders_c, on="customer_id", how="left")
        before = before[before["created_at"].notna() & (before["created_at"] < before["case_at"])]
        last = before.groupby("customer_id")["created_at"].max()
        silent_ids = {int(c) for c, t in last.items()
                      if t <= h.set_index("customer_id").loc[c, "case_at"] - thr}
        sr = hr[hr["customer_id"].isin(silent_ids)]
        wrows.append({"measure": "silent", "measure_zh": f"沉默客户（≥{min(silent_days)} 天未购）→ 再次下单",
                      "customers": len(sr), "reordered": int(sr["repurchased"].sum()),
                      "rate": _rate(int(sr["repurchased"].sum()), len(sr)), "order_fen": int(sr["order_fen"].sum()),
                      "note": small_sample(len(sr), min_sample=min_sample)})
    winback = _frame(wrows, "winback")

    n_res = len(res)
    n_rev = int(sum(1 for p in res["review_pk"] if pd.notna(p) and int(p) in revised_pks))
    conversion = _frame([{"resolved": n_res, "revised": n_rev, "rate": _rate(n_rev, n_res),
                          "example": EXAMPLE_CONVERSION, "note": small_sample(n_res, min_sample=min_sample)}], "conversion")

    # NPS: handled vs other, this period vs the previous one
    def split(p_start: dt.datetime, p_end: dt.datetime) -> tuple[pd.Series, pd.Series]:
        r = cs[cs["resolved_at"].notna() & (cs["resolved_at"] >= pd.Timestamp(p_start))
               & (cs["resolved_at"] < pd.Timestamp(p_end))]
        hc = {int(c) for c in r["customer_id"].dropna()}
        hcase = {int(c) for c in r["case_id"]}
        a = sv[(sv["answered_at"] >= pd.Timestamp(p_start)) & (sv["answered_at"] < pd.Timestamp(p_end))]
        is_h = (a["customer_id"].map(lambda c: pd.notna(c) and int(c) in hc)
                | a["case_id"].map(lambda c: pd.notna(c) and int(c) in hcase))
        return a[is_h.astype(bool)]["score"], a[~is_h.astype(bool)]["score"]

    cur_h, cur_o = split(start, end)
    prv_h, prv_o = split(prev_start, start)
    nrows = []
    for code, zh, cur, prv in (("handled", "处理过的客户", cur_h, prv_h), ("other", "其他客户", cur_o, prv_o),
                               ("all", "全部", pd.concat([cur_h, cur_o]), pd.concat([prv_h, prv_o]))):
        n, p = nps_points(cur), nps_points(prv)
        nrows.append({"group": code, "group_zh": zh, "n": len(cur), "promoters": int((cur >= 9).sum()),
                      "passives": int(((cur >= 7) & (cur <= 8)).sum()), "detractors": int((cur <= 6).sum()),
                      "nps": n, "prev_n": len(prv), "prev_nps": p,
                      "change": (n - p) if n is not None and p is not None else None,
                      "note": "无数据" if not len(cur) else small_sample(len(cur), min_sample=min_sample)})
    nps = _frame(nrows, "nps")
    notes = []
    open_windows = int((h["ref_at"] + window > pd.Timestamp(now)).sum()) if len(h) else 0
    if open_windows:
        notes.append(f"{open_windows} 位处理客户的 {days} 天复购窗口尚未结束，复购率可能偏低 / {open_windows} handled "
                     f"customers' {days}-day window has not closed yet")
    return CustomerValue(start=start, end=end, window_days=days, min_sample=min_sample, repurchase=repurchase,
                         winback=winback, conversion=conversion, nps=nps, notes=notes)
