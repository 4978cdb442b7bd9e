"""The weekly 差评TOP3 report at scale: 1,000,000 reviews and 3,000,000 orders (issue 5).

    python benchmarks/bench_weekly_top3.py --cache /tmp/bench/wt3/shop.db          # full run (~10 min first time)
    python benchmarks/bench_weekly_top3.py --cache /tmp/bench/wt3/small.db --reviews 20000 --orders 60000 --repeat 2
    python benchmarks/bench_weekly_top3.py --cache /tmp/bench/wt3/shop.db --index-experiment   # + candidate index
    python benchmarks/bench_weekly_top3.py --quick    # smoke run: 5,000 reviews, one run each, no PDF (~30 s)

``--quick`` (the test suite runs it) builds its small shop in a temporary directory (``_quick.py``), writes the
result there instead of ``results/`` and prints it as one JSON line at the end of stdout.

**Generation.** A synthetic shop is written straight into a store made by ``reviewops.Store.open(url)``
(so the migrations run and the schema is the real one), with numpy-vectorised columns and bulk
inserts (``executemany`` on SQLite, ``COPY`` on PostgreSQL): three shops (taobao / douyin / jd),
1,200 products with their suppliers, ~1.2 M customers, 3 M orders with carriers and tracking
numbers, one outbound shipment per shipped order, 1 M reviews spread over 52 weeks (a weekly
rhythm plus a 双11 peak, so a week holds ~20,000 reviews), a case for each 中差评 (~9 %: every
中评/差评 and a few "hidden" negative 好评) with the policy's category, SLA hours, severity and
owner, realistic first-contact and resolution times, compensations for about a third of the
contacted cases, and review versions (version 1 of every review, version 2 for the reviews that
were later changed to a good rating). The same ``(reviews, orders, seed)`` gives the same data.

The SQLite file is built under a temporary name and renamed when complete; a JSON sidecar
(``<cache>.json``) records its size parameters, so a rerun with the same parameters skips the
generation. With ``--db URL`` (PostgreSQL) the database is emptied and refilled on every run.

**Measurements** (times in seconds):

* ``inprocess.cold``: a fresh ``python`` process opens the store and calls
  ``reviewops.reporting.reports.weekly_top3(store, week)`` once (process and import time excluded; the OS
  page cache holds the file); ``inprocess.cold_disk``: the same after the SQLite file's pages were
  dropped from the page cache (``posix_fadvise(DONTNEED)`` on that file only);
* ``inprocess.warm``: the same call repeated in one process;
* ``statements``: each SQL statement ``weekly_top3`` issues, timed on its own, with SQLite's
  ``EXPLAIN QUERY PLAN``;
* ``run``: ``reviewops run weekly_top3 --param week=… --db … --out …`` as a subprocess (papermill,
  executed notebook, HTML, XLSX, JSON), and once more with ``--pdf``;
* ``kernel``: the same ``reviewops run`` on a one-cell notebook (parameters ``db`` and
  ``output_dir`` like the playbook, body ``pass``) — process start, papermill, kernel start and
  the report writing of an empty notebook; the report's own cost is ``run - kernel``.

Results → ``benchmarks/results/weekly_top3.json``; discussion in ``docs/performance.md``
(section "Weekly report at scale"). The goal in issue 5: ≤ 60 s end to end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1
DEFAULT_SEED = 20261125
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "weekly_top3.json"

# The data cover the 52 ISO weeks 2025-W48 … 2026-W47 (Beijing time); the export was taken on
# Tuesday 2026-11-24 09:30 Beijing time, so the last week is complete and its cases are still moving.
FIRST_MONDAY_BJ = np.datetime64("2025-11-24T00:00:00", "us")
WEEKS = 52
EXPORT_BJ = np.datetime64("2026-11-24T09:30:00", "us")
BJ = np.timedelta64(8, "h")  # Beijing = UTC + 8 (no DST)
HOUR_US = 3_600_000_000
DEFAULT_WEEK = "2026-W46"  # the 双11 week: the busiest of the year

SHOPS = (("taobao", "禾木家居旗舰店", 0.55), ("douyin", "禾木抖音小店", 0.30), ("jd", "禾木京东自营店", 0.15))
CARRIERS = (("中通快递", 30), ("圆通速递", 24), ("韵达快递", 18), ("申通快递", 12), ("顺丰速运", 8), ("极兔速递", 8))
PROVINCES = (("广东省", "广州市"), ("广东省", "深圳市"), ("浙江省", "杭州市"), ("江苏省", "南京市"), ("上海市", "上海市"),
             ("北京市", "北京市"), ("四川省", "成都市"), ("湖北省", "武汉市"), ("山东省", "济南市"), ("福建省", "厦门市"),
             ("河南省", "郑州市"), ("湖南省", "长沙市"), ("陕西省", "西安市"), ("辽宁省", "沈阳市"), ("重庆市", "重庆市"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"

# category code, share of cases, SLA hours, owner role, severity (the default policy's 分类时效 sheet)
CASE_CATEGORIES = (
    ("logistics", 0.38, 2.0, "agent", "medium"), ("quality", 0.21, 4.0, "supervisor", "high"),
    ("description", 0.09, 4.0, "supervisor", "medium"), ("service", 0.08, 2.0, "supervisor", "high"),
    ("size", 0.07, 4.0, "agent", "medium"), ("other", 0.07, 8.0, "agent", "low"),
    ("missing_wrong", 0.05, 2.0, "agent", "high"), ("price", 0.045, 8.0, "agent", "low"),
    ("malicious", 0.005, 1.0, "legal", "high"),
)
NEG_TEXT = {
    "logistics": ("物流太慢了，下单{n}天才收到", "快递一直不更新，问了也没人管", "外包装破损，里面也压坏了",
                  "快递员没打电话就放驿站了", "发货太慢，催了好几次才发", "显示已签收但我根本没收到"),
    "quality": ("质量太差了，用了{n}天就坏了", "做工粗糙，线头很多", "收到就是坏的，开关按不动",
                "洗了一次就掉色起球", "有一股很难闻的味道，散了{n}天还有", "感觉是二手的，有使用痕迹"),
    "description": ("与描述不符，实物和图片差距太大", "色差很大，实物比图片暗很多", "宣传写的纯棉根本不是真的",
                    "尺寸和详情页写的不一样"),
    "service": ("客服态度很差，问什么都爱答不理", "找客服一直不回复，等了一整天", "售后推来推去，就是不给解决",
                "申请退款{n}天了一直不处理"),
    "size": ("尺码偏小，根本穿不上", "按尺码表买的还是大了两码", "鞋子偏小半码，挤脚"),
    "other": ("一般般，没有想象中好", "感觉一般，不值这个价", "普普通通，没什么惊喜", "还行吧，凑合用"),
    "missing_wrong": ("买了{n}件只收到一件，漏发了", "说好的赠品没有送", "发错颜色了，我要的是黑色"),
    "price": ("刚买完就降价了{n}块，找客服不给退差价", "买贵了，直播间比这便宜{n}块"),
    "malicious": ("给我返现50不然差评", "不给我退{n}块钱就一直差评"),
}
NEG_CLOSE = ("差评！", "不会再买了。", "大家慎拍。", "太失望了。", "希望商家重视一下。", "", "",
             "有问题打我电话1{d3}{d4}{d4}，", "联系我 1{d3}-{d4}-{d4}")
POS_TEXT = ("质量很好，和描述的一模一样", "物流很快，第二天就到了", "包装很用心，没有任何破损", "性价比很高，推荐购买",
            "已经回购好几次了", "做工精细，没有线头", "尺码标准，穿着很舒服", "客服很耐心，有问必答", "孩子很喜欢",
            "颜色很正，没有色差", "味道很好吃，甜而不腻", "用了一个星期再来评价，很好用", "好评", "不错", "满意")
COMP_KINDS = (("coupon", 0.38, 500, 2000), ("refund", 0.2, 1000, 20000), ("resend", 0.15, 1990, 9990),
              ("care_coupon", 0.17, 300, 1000), ("gift", 0.10, 500, 1500))


# ---------------------------------------------------------------------------- helpers
def _ts(us: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """UTC microseconds → SQLite's stored form ``YYYY-MM-DD HH:MM:SS.ffffff`` (object array, None where invalid)."""
    s = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    out = np.char.replace(s, "T", " ").astype(object)
    if valid is not None:
        out[~valid] = None
    return out


def _pick(rng: np.random.Generator, items: Sequence[str], n: int, p: Sequence[float] | None = None) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = list(items)
    if p is not None:
        p = np.asarray(p, dtype=float)
        p = p / p.sum()
    return arr[rng.choice(len(items), size=n, p=p)]


def _text_pools(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per category, 400 distinct complaint texts (some with a phone number to mask); 300 praises."""
    pools: dict[str, np.ndarray] = {}
    for cat, cores in NEG_TEXT.items():
        texts = []
        for i in range(400):
            core = cores[i % len(cores)].format(n=int(rng.integers(2, 9)))
            close = NEG_CLOSE[int(rng.integers(0, len(NEG_CLOSE)))]
            close = close.format(d3=int(rng.integers(30, 99)), d4=f"{int(rng.integers(0, 10000)):04d}")
            extra = POS_TEXT[int(rng.integers(0, 6))] if i % 5 == 0 else ""
            texts.append(f"{'，'.join(t for t in (core, extra) if t)}，{close}".rstrip("，"))
        pools[cat] = np.array(texts, dtype=object)
    pools["positive"] = np.array([f"{POS_TEXT[i % len(POS_TEXT)]}{'，' + POS_TEXT[(i * 7 + 3) % len(POS_TEXT)] if i % 3 else ''}"
                                  f"{'！' * (i % 4)}" for i in range(300)], dtype=object)
    return pools


# ------------------------------------------------------------------------ generation
def generate(n_reviews: int, n_orders: int, seed: int) -> Iterator[tuple[str, list[str], dict[str, np.ndarray]]]:
    """Yield ``(table, columns, {column: array})`` in foreign-key order; all arrays of one table have equal length."""
    rng = np.random.default_rng(seed)
    from reviewops.demo import catalogue

    first_utc = (FIRST_MONDAY_BJ - BJ).astype("int64")
    export_utc = int((EXPORT_BJ - BJ).astype("int64"))
    created_now = _ts(np.array([export_utc]))[0]

    # shops
    yield "shops", ["id", "platform", "name", "created_at"], {
        "id": np.arange(1, len(SHOPS) + 1), "platform": np.array([s[0] for s in SHOPS], dtype=object),
        "name": np.array([s[1] for s in SHOPS], dtype=object), "created_at": np.array([created_now] * len(SHOPS), dtype=object)}
    shop_p = np.array([s[2] for s in SHOPS])

    # products: 1,200 listings over the demo catalogue's products and suppliers, spread over the shops
    base = catalogue(__import__("random").Random(seed))
    suppliers = sorted({p.supplier for p in base})  # the catalogue's suppliers (public API)
    n_prod = 1200
    pb = rng.integers(0, len(base), size=n_prod)
    prod_shop = rng.choice(len(SHOPS), size=n_prod, p=shop_p) + 1
    prod_titles = np.array([f"{base[b].title} {['', '升级款', '加厚款', '新款', '经典款', '礼盒装'][i % 6]}".strip()
                            for i, b in enumerate(pb)], dtype=object)
    prod_supplier = np.array([base[b].supplier if i % 4 else suppliers[i % len(suppliers)] for i, b in enumerate(pb)],
                             dtype=object)
    prod_price = np.array([base[b].price_fen for b in pb], dtype=np.int64)
    prod_ids = np.array([str(600_000_000_000 + i * 7_919_321) for i in range(n_prod)], dtype=object)
    prod_issue = rng.gamma(2.0, 0.5, size=n_prod)  # some products draw far more complaints than others
    yield "products", ["id", "shop_id", "product_id", "title", "category", "supplier"], {
        "id": np.arange(1, n_prod + 1), "shop_id": prod_shop, "product_id": prod_ids, "title": prod_titles,
        "category": np.array([base[b].category for b in pb], dtype=object), "supplier": prod_supplier}
    by_shop = [np.flatnonzero(prod_shop == s + 1) for s in range(len(SHOPS))]

    # customers: 40 % of the order count, split over the shops
    n_cust = max(10, int(n_orders * 0.4))
    cust_shop = np.sort(rng.choice(len(SHOPS), size=n_cust, p=shop_p)) + 1
    cust_first = np.searchsorted(cust_shop, np.arange(1, len(SHOPS) + 2))
    cust_id = np.arange(1, n_cust + 1)
    keys = np.array([f"nick:{h:032x}" for h in (rng.integers(0, 2**63, size=n_cust, dtype=np.int64).astype(object)
                                                 * 1_000_003 + cust_id.astype(object))], dtype=object)
    nick_masked = np.char.add(_pick(rng, list("tb快安小大阿温"), n_cust).astype(str), "***" + "2").astype(object)
    yield "customers", ["id", "shop_id", "customer_key", "nick_masked", "nick_hash", "nick_is_masked", "first_seen_at",
                        "created_at"], {
        "id": cust_id, "shop_id": cust_shop, "customer_key": keys, "nick_masked": nick_masked,
        "nick_hash": np.array([k[5:] for k in keys], dtype=object), "nick_is_masked": np.zeros(n_cust, dtype=np.int64),
        "first_seen_at": np.full(n_cust, None, dtype=object), "created_at": np.full(n_cust, created_now, dtype=object)}

    # orders: placed over the 52 weeks plus two weeks before (reviews come days after the order)
    lead = 14 * 24 * HOUR_US
    week_w = 1 + 0.12 * np.sin(np.arange(WEEKS + 2) / 52 * 2 * np.pi)
    week_w[[WEEKS, WEEKS + 1]] *= 1.3  # 双11 orders fall in the last weeks before the 双11 review peak
    week_w[WEEKS - 2] *= 1.25  # the 双11 week itself
    week_of = np.sort(rng.choice(WEEKS + 2, size=n_orders, p=week_w / week_w.sum()))
    o_created = first_utc - lead + week_of * 7 * 24 * HOUR_US + rng.integers(0, 7 * 24 * HOUR_US, size=n_orders)
    o_created.sort()
    o_shop = rng.choice(len(SHOPS), size=n_orders, p=shop_p) + 1
    o_cust = np.empty(n_orders, dtype=np.int64)
    o_prod = np.empty(n_orders, dtype=np.int64)
    for s in range(len(SHOPS)):
        m = o_shop == s + 1
        lo, hi = cust_first[s], cust_first[s + 1]
        # repeat buyers: a Zipf-like draw inside the shop's customers
        o_cust[m] = lo + 1 + (rng.pareto(1.2, size=int(m.sum())) * (hi - lo) / 20).astype(np.int64) % max(1, hi - lo)
        pop = by_shop[s] if len(by_shop[s]) else np.arange(n_prod)
        w = 1.0 / np.arange(1, len(pop) + 1) ** 0.8
        o_prod[m] = pop[rng.choice(len(pop), size=int(m.sum()), p=w / w.sum())]
    o_ids = (3 * 10**18 + (np.arange(n_orders, dtype=np.int64) * 982_451_653) % 10**15).astype(str).astype(object)
    paid = o_created + rng.integers(30_000_000, 900_000_000, size=n_orders)
    promised = paid + 48 * HOUR_US
    ship_delay = rng.lognormal(np.log(20), 0.7, size=n_orders) * HOUR_US
    shipped = paid + ship_delay.astype(np.int64)
    deliver = shipped + (rng.lognormal(np.log(60), 0.5, size=n_orders) * HOUR_US).astype(np.int64)
    completed = deliver + rng.integers(0, 10 * 24 * HOUR_US, size=n_orders)
    is_shipped = shipped < export_utc
    is_done = completed < export_utc
    carrier_names = [c[0] for c in CARRIERS]
    carrier_idx = rng.choice(len(CARRIERS), size=n_orders, p=np.array([c[1] for c in CARRIERS]) / 100)
    o_carrier = np.array(carrier_names, dtype=object)[carrier_idx]
    tracking = (7 * 10**12 + (np.arange(n_orders, dtype=np.int64) * 48_271 + 17) % 10**12).astype(str).astype(object)
    qty = rng.choice([1, 1, 1, 1, 2, 2, 3], size=n_orders)
    goods = prod_price[o_prod - 1] * qty
    ship_fee = np.where(goods > 9900, 0, 600)
    discount = np.where(rng.random(n_orders) < 0.35, (goods * rng.uniform(0.05, 0.2, size=n_orders)).astype(np.int64), 0)
    prov = rng.integers(0, len(PROVINCES), size=n_orders)
    prov_arr = np.array([p[0] for p in PROVINCES], dtype=object)[prov]
    city_arr = np.array([p[1] for p in PROVINCES], dtype=object)[prov]
    status = np.where(is_done, "交易成功", np.where(is_shipped, "卖家已发货，等待买家确认", "买家已付款，等待卖家发货")).astype(object)
    o_cols = ["id", "shop_id", "order_id", "customer_id", "status_raw", "created_at", "paid_at", "promised_ship_at",
              "shipped_at", "completed_at", "buyer_nick_masked", "receiver_name_masked", "receiver_phone_masked",
              "receiver_phone_is_masked", "receiver_pii_encrypted", "receiver_address_masked", "province", "city",
              "goods_fen", "shipping_fee_fen", "discount_fen", "paid_fen", "tracking_no", "carrier", "item_count",
              "titles"]
    yield "orders", o_cols, {
        "id": np.arange(1, n_orders + 1), "shop_id": o_shop, "order_id": o_ids, "customer_id": o_cust,
        "status_raw": status, "created_at": _ts(o_created), "paid_at": _ts(paid), "promised_ship_at": _ts(promised),
        "shipped_at": _ts(shipped, is_shipped), "completed_at": _ts(completed, is_done),
        "buyer_nick_masked": nick_masked[o_cust - 1],
        "receiver_name_masked": np.char.add(_pick(rng, list(SURNAMES), n_orders).astype(str), "**").astype(object),
        "receiver_phone_masked": np.char.add(np.char.add(_pick(rng, ["138", "139", "186", "159", "177"], n_orders).astype(str),
                                                         "****"), rng.integers(1000, 9999, size=n_orders).astype(str)).astype(object),
        "receiver_phone_is_masked": np.ones(n_orders, dtype=np.int64), "receiver_pii_encrypted": np.zeros(n_orders, dtype=np.int64),
        "receiver_address_masked": np.char.add(np.char.add(prov_arr.astype(str), " "), np.char.add(city_arr.astype(str), " ****")).astype(object),
        "province": prov_arr, "city": city_arr, "goods_fen": goods, "shipping_fee_fen": ship_fee, "discount_fen": discount,
        "paid_fen": goods + ship_fee - discount, "tracking_no": np.where(is_shipped, tracking, None),
        "carrier": np.where(is_shipped, o_carrier, None), "item_count": qty, "titles": prod_titles[o_prod - 1]}

    # shipments: one outbound parcel per shipped order
    sh = np.flatnonzero(is_shipped)
    delivered = deliver[sh] < export_utc
    problem = rng.random(len(sh)) < 0.004
    sh_status = np.where(problem, "problem", np.where(delivered, "signed", "in_transit")).astype(object)
    yield "shipments", ["id", "shop_id", "tracking_no", "carrier", "order_id", "direction", "shipped_at", "status_raw",
                        "status", "signed_at", "last_event_at"], {
        "id": np.arange(1, len(sh) + 1), "shop_id": o_shop[sh], "tracking_no": tracking[sh], "carrier": o_carrier[sh],
        "order_id": o_ids[sh], "direction": np.full(len(sh), "outbound", dtype=object), "shipped_at": _ts(shipped[sh]),
        "status_raw": np.where(sh_status == "signed", "签收", np.where(sh_status == "problem", "疑难件", "运输中")).astype(object),
        "status": sh_status, "signed_at": _ts(deliver[sh], delivered & ~problem),
        "last_event_at": _ts(np.minimum(deliver[sh], export_utc - HOUR_US))}
    del sh, delivered, problem, sh_status

    # reviews: on completed orders, spread over the 52 weeks (+ the 双11 peak), in time order
    # the review week is drawn first (so each week holds ~1/52 of them), then a completed order of that time
    rw = 1 + 0.12 * np.sin((np.arange(WEEKS) + 1) / 52 * 2 * np.pi)
    rw[WEEKS - 2] *= 1.25
    rw[WEEKS - 1] *= 1.1
    r_week = np.sort(rng.choice(WEEKS, size=n_reviews, p=rw / rw.sum()))
    r_created = first_utc + r_week * 7 * 24 * HOUR_US + rng.integers(0, 7 * 24 * HOUR_US, size=n_reviews)
    r_created = np.minimum(np.sort(r_created), export_utc - HOUR_US)
    # the order: completed up to ~15 days before the review; unique orders, searched in completion order
    c_order = np.argsort(completed, kind="stable")
    c_sorted = completed[c_order]
    hi = np.searchsorted(c_sorted, r_created) - 1
    back = (rng.exponential(0.25, size=n_reviews) * n_orders / (WEEKS + 2) / 7).astype(np.int64)
    pos = np.clip(hi - back, 0, n_orders - 1)
    used = np.zeros(n_orders, dtype=bool)
    r_order = np.empty(n_reviews, dtype=np.int64)
    done = np.zeros(n_reviews, dtype=bool)
    # resolve collisions (two reviews on one order) in a few vectorised passes, then draw free orders
    for _ in range(6):
        todo = np.flatnonzero(~done)
        if not len(todo):
            break
        order_idx = c_order[pos[todo]]
        uniq, first = np.unique(order_idx, return_index=True)
        free = ~used[uniq]
        take = todo[first[free]]
        r_order[take] = uniq[free]
        used[uniq[free]] = True
        done[take] = True
        pos = np.where(done, pos, np.clip(pos - 1 - rng.integers(0, 50, size=n_reviews), 0, n_orders - 1))
    rest = np.flatnonzero(~done)
    if len(rest):
        free_orders = np.flatnonzero(~used)
        r_order[rest] = rng.choice(free_orders, size=len(rest), replace=False)
    o_created_r = o_created[r_order]
    r_created = np.maximum(r_created, o_created_r + 24 * HOUR_US)  # a review never precedes its order
    r_created = np.minimum(r_created, export_utc - HOUR_US)
    order_by_time = np.argsort(r_created, kind="stable")
    r_order, r_created = r_order[order_by_time], r_created[order_by_time]
    first_seen = r_created + (rng.uniform(0.5, 24, size=n_reviews) * HOUR_US).astype(np.int64)  # the daily import
    first_seen = np.minimum(first_seen, export_utc)
    r_prod = o_prod[r_order]
    r_shop = o_shop[r_order]

    # ratings and cases: hidden negatives and complaint-prone products push the share to ~9 %
    u = rng.random(n_reviews)
    issue = prod_issue[r_prod - 1]
    p_neg = 0.038 * issue
    p_neu = 0.042 * issue
    rating = np.where(u < p_neg, 2, np.where(u < p_neg + p_neu, 1, 0))  # 2 差评, 1 中评, 0 好评
    hidden = (rating == 0) & (rng.random(n_reviews) < 0.012)
    is_case = (rating > 0) | hidden
    default_review = (rating == 0) & ~hidden & (rng.random(n_reviews) < 0.12) & (r_shop == 1)
    cats = np.array([c[0] for c in CASE_CATEGORIES], dtype=object)
    cat_p = np.array([c[1] for c in CASE_CATEGORIES])
    r_cat = rng.choice(len(cats), size=n_reviews, p=cat_p / cat_p.sum())
    pools = _text_pools(rng)
    content = pools["positive"][rng.integers(0, len(pools["positive"]), size=n_reviews)].copy()
    for k, cat in enumerate(cats):
        m = is_case & (r_cat == k)
        content[m] = pools[cat][rng.integers(0, len(pools[cat]), size=int(m.sum()))]
    content[hidden] = np.char.add("好评是给快递小哥的，不过", content[hidden].astype(str)).astype(object)
    content[default_review] = "评价方未及时做出评价,系统默认好评!"

    # case progress (relative to the export time: the last days' cases are still open)
    case_idx = np.flatnonzero(is_case)
    nc = len(case_idx)
    c_cat = r_cat[case_idx]
    sla_h = np.array([c[2] for c in CASE_CATEGORIES])[c_cat]
    c_start = first_seen[case_idx]
    c_created = c_start + rng.integers(1_000_000, 60_000_000, size=nc)
    due = c_start + (sla_h * HOUR_US).astype(np.int64)
    late = rng.random(nc) < 0.13
    contact_delay = np.where(late, sla_h * rng.uniform(1.05, 6, size=nc), sla_h * rng.beta(2, 3, size=nc))
    contact = c_start + (contact_delay * HOUR_US).astype(np.int64)
    never = rng.random(nc) < 0.03
    contacted = (contact < export_utc) & ~never
    resolve_at = contact + (rng.lognormal(np.log(20), 0.9, size=nc) * HOUR_US).astype(np.int64)
    resolved = contacted & (resolve_at < export_utc) & (rng.random(nc) < 0.92)
    closed = resolved & (resolve_at + 7 * 24 * HOUR_US < export_utc) & (rng.random(nc) < 0.8)
    mid_state = _pick(rng, ["contacted", "remedy_proposed", "pending_approval", "remedy_delivered", "escalated"], nc,
                      [0.45, 0.2, 0.1, 0.15, 0.1])
    state = np.where(closed, "closed", np.where(resolved, "resolved", np.where(contacted, mid_state, "new"))).astype(object)
    revised_case = resolved & (rng.random(nc) < 0.14)  # the customer later changed the rating to 好评
    rev_pk = case_idx[revised_case]
    version = np.ones(n_reviews, dtype=np.int64)
    version[rev_pk] = 2
    rating_first = rating.copy()
    rating[rev_pk] = 0
    rating_raw = np.array(["好评", "中评", "差评"], dtype=object)
    rating_class = np.array(["positive", "neutral", "negative"], dtype=object)
    append = np.full(n_reviews, None, dtype=object)
    append[rev_pk] = _pick(rng, ["客服主动联系我补发了，处理得挺及时的", "商家给退款了，态度还可以",
                                 "联系售后换了新的，这次没问题了"], len(rev_pk))
    append_at = np.zeros(n_reviews, dtype=np.int64)
    append_at[rev_pk] = np.minimum(resolve_at[revised_case] + 24 * HOUR_US, export_utc)
    r_ids = (1_700_000_000_000 + np.arange(n_reviews, dtype=np.int64) * 37).astype(str).astype(object)
    sku_text = np.array(["颜色分类:白色;尺码:M", "颜色分类:黑色;尺码:L", "规格:标准款", "规格:礼盒装", "颜色分类:藏青;尺码:XL",
                         "规格:升级款"], dtype=object)
    r_cols = ["id", "shop_id", "review_key", "review_id", "order_id", "product_id", "product_title", "sku_text",
              "customer_id", "buyer_nick_masked", "rating_raw", "rating_class", "content", "created_at",
              "append_content", "append_created_at", "has_media", "is_default_review", "version", "first_seen_at",
              "row_hash"]
    row_hash = np.array([hashlib.md5(f"{seed}:{i}".encode()).hexdigest() for i in range(n_reviews)], dtype=object)
    r_cust = o_cust[r_order]
    yield "reviews", r_cols, {
        "id": np.arange(1, n_reviews + 1), "shop_id": r_shop, "review_key": np.char.add("id:", r_ids.astype(str)).astype(object),
        "review_id": r_ids, "order_id": o_ids[r_order], "product_id": prod_ids[r_prod - 1],
        "product_title": prod_titles[r_prod - 1], "sku_text": sku_text[rng.integers(0, len(sku_text), size=n_reviews)],
        "customer_id": r_cust, "buyer_nick_masked": nick_masked[r_cust - 1], "rating_raw": rating_raw[rating],
        "rating_class": rating_class[rating], "content": content, "created_at": _ts(r_created),
        "append_content": append, "append_created_at": _ts(append_at, version == 2),
        "has_media": (rng.random(n_reviews) < 0.2).astype(np.int64), "is_default_review": default_review.astype(np.int64),
        "version": version, "first_seen_at": _ts(first_seen), "row_hash": row_hash}

    # review versions: version 1 of every review (as first imported), version 2 of the revised ones
    rv_pk = np.concatenate([np.arange(1, n_reviews + 1), rev_pk + 1])
    rv_ver = np.concatenate([np.ones(n_reviews, dtype=np.int64), np.full(len(rev_pk), 2)])
    rv_rating = np.concatenate([rating_raw[rating_first], rating_raw[rating[rev_pk]]])
    rv_content = np.concatenate([content, content[rev_pk]])
    rv_append = np.concatenate([np.full(n_reviews, None, dtype=object), append[rev_pk]])
    rv_seen = np.concatenate([first_seen, append_at[rev_pk]])
    yield "review_versions", ["id", "review_pk", "version", "content", "append_content", "rating_raw", "row_hash",
                              "observed_at"], {
        "id": np.arange(1, len(rv_pk) + 1), "review_pk": rv_pk, "version": rv_ver, "content": rv_content,
        "append_content": rv_append, "rating_raw": rv_rating,
        "row_hash": np.concatenate([row_hash, np.char.add(row_hash[rev_pk].astype(str), "2").astype(object)]),
        "observed_at": _ts(rv_seen)}

    # cases
    sev = np.array([c[4] for c in CASE_CATEGORIES], dtype=object)[c_cat]
    role = np.array([c[3] for c in CASE_CATEGORIES], dtype=object)[c_cat]
    agents = np.array([f"agent{i:02d}" for i in range(1, 25)], dtype=object)
    score = np.round(rng.uniform(0.5, 0.99, size=nc), 4)
    triage = np.array([json.dumps({"is_negative": True, "primary_category": str(cats[c]), "categories": str(cats[c]),
                                   "negative_score": float(s), "sla_hours": float(h), "owner_role": str(r),
                                   "severity": str(v), "policy_version": 1,
                                   "reasons": [f"中差评：评分 {rating_raw[rating_first[i]]} / rating; 主分类 {cats[c]}",
                                               f"时效 {h:g} 小时，负责 {r}，严重程度 {v}；策略 v1"]}, ensure_ascii=False)
                       for i, c, s, h, r, v in zip(case_idx, c_cat, score, sla_h, role, sev)], dtype=object)
    updated = np.where(resolved, resolve_at, np.where(contacted, contact, c_created))
    yield "cases", ["id", "shop_id", "review_pk", "state", "primary_category", "categories", "severity", "owner_role",
                    "assignee", "sla_due_at", "sla_started_at", "sla_hours", "negative_score", "triage_json",
                    "policy_version", "follow_up_count", "first_contact_at", "resolved_at", "satisfied",
                    "last_contact_channel", "created_at", "updated_at", "version"], {
        "id": np.arange(1, nc + 1), "shop_id": r_shop[case_idx], "review_pk": case_idx + 1, "state": state,
        "primary_category": cats[c_cat], "categories": cats[c_cat], "severity": sev, "owner_role": role,
        "assignee": np.where(contacted, agents[rng.integers(0, len(agents), size=nc)], None), "sla_due_at": _ts(due),
        "sla_started_at": _ts(c_start), "sla_hours": sla_h, "negative_score": score, "triage_json": triage,
        "policy_version": np.ones(nc, dtype=np.int64), "follow_up_count": np.where(resolved, 1, 0),
        "first_contact_at": _ts(contact, contacted), "resolved_at": _ts(resolve_at, resolved),
        "satisfied": np.where(resolved, (rng.random(nc) < 0.8).astype(np.int64), None),
        "last_contact_channel": np.where(contacted, "chat", None), "created_at": _ts(c_created),
        "updated_at": _ts(updated), "version": np.where(resolved, 4, np.where(contacted, 2, 1))}

    # compensations: about a third of the contacted cases
    comp_case = np.flatnonzero(contacted & (rng.random(nc) < 0.33))
    m = len(comp_case)
    kinds = np.array([k[0] for k in COMP_KINDS], dtype=object)
    kp = np.array([k[1] for k in COMP_KINDS])
    ki = rng.choice(len(kinds), size=m, p=kp / kp.sum())
    lo = np.array([k[2] for k in COMP_KINDS])[ki]
    hi = np.array([k[3] for k in COMP_KINDS])[ki]
    amount = (lo + (hi - lo) * rng.random(m)).astype(np.int64) // 100 * 100
    cstate = np.where(resolved[comp_case], "delivered",
                      _pick(rng, ["approved", "pending", "rejected", "delivered"], m, [0.3, 0.3, 0.1, 0.3])).astype(object)
    requested = contact[comp_case] + rng.integers(60_000_000, 3 * HOUR_US, size=m)
    delivered_at = np.minimum(requested + 6 * HOUR_US, export_utc)
    c_orders = r_order[case_idx[comp_case]]
    yield "compensations", ["id", "case_id", "shop_id", "customer_id", "order_id", "kind", "amount_fen", "state",
                            "stackable", "requested_by", "requested_role", "requested_at", "decided_by", "decided_at",
                            "delivered_by", "delivered_at", "policy_version", "version"], {
        "id": np.arange(1, m + 1), "case_id": comp_case + 1, "shop_id": r_shop[case_idx[comp_case]],
        "customer_id": o_cust[c_orders], "order_id": o_ids[c_orders], "kind": kinds[ki], "amount_fen": amount,
        "state": cstate, "stackable": np.zeros(m, dtype=np.int64), "requested_by": agents[rng.integers(0, len(agents), size=m)],
        "requested_role": np.full(m, "agent", dtype=object), "requested_at": _ts(np.minimum(requested, export_utc)),
        "decided_by": np.where(cstate != "pending", "supervisor01", None),
        "decided_at": _ts(np.minimum(requested + HOUR_US, export_utc), cstate != "pending"),
        "delivered_by": np.where(cstate == "delivered", "agent01", None),
        "delivered_at": _ts(delivered_at, cstate == "delivered"), "policy_version": np.ones(m, dtype=np.int64),
        "version": np.where(cstate == "delivered", 3, 1)}


def _rows(cols: list[str], data: dict[str, np.ndarray], lo: int, hi: int) -> list[tuple]:
    parts = []
    for c in cols:
        a = data[c][lo:hi]
        parts.append(a.tolist())
    return list(zip(*parts))


def build_sqlite(path: Path, n_reviews: int, n_orders: int, seed: int, chunk: int = 100_000) -> dict[str, object]:
    """Create the store at ``path`` (migrations via ``Store.open``) and bulk-insert the generated shop."""
    from reviewops import Store

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    Store.open(f"sqlite:///{tmp}").close()
    t_schema = time.perf_counter() - t0
    con = sqlite3.connect(tmp, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")  # a fresh file under a temporary name: nothing to recover if we die
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-524288")
    con.execute("PRAGMA foreign_keys=OFF")
    counts: dict[str, int] = {}
    per_table: dict[str, float] = {}
    t_gen = 0.0
    tg = time.perf_counter()
    for table, cols, data in generate(n_reviews, n_orders, seed):
        t_gen += time.perf_counter() - tg
        t1 = time.perf_counter()
        n = len(data[cols[0]])
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        con.execute("BEGIN")
        for lo in range(0, n, chunk):
            con.executemany(sql, _rows(cols, data, lo, min(n, lo + chunk)))
        con.execute("COMMIT")
        counts[table] = n
        per_table[table] = round(time.perf_counter() - t1, 2)
        print(f"  {table}: {n:,} rows in {per_table[table]:.1f} s", file=sys.stderr, flush=True)
        del data
        tg = time.perf_counter()
    con.execute("PRAGMA journal_mode=WAL")  # as Store.open leaves it
    con.close()
    os.replace(tmp, path)
    return {"rows": counts, "schema_s": round(t_schema, 2), "generate_s": round(t_gen, 2),
            "insert_s": per_table, "total_s": round(time.perf_counter() - t0, 2),
            "size_bytes": path.stat().st_size}


def build_postgres(url: str, n_reviews: int, n_orders: int, seed: int) -> dict[str, object]:
    """Empty the benchmark's tables of the PostgreSQL store at ``url`` and fill them with ``COPY`` (psycopg 3).

    Meant for a scratch database: a store whose cases already have history (append-only ``case_events``)
    cannot be emptied and is refused by PostgreSQL.
    """
    import psycopg
    from reviewops import Store

    t0 = time.perf_counter()
    Store.open(url).close()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    counts: dict[str, int] = {}
    per_table: dict[str, float] = {}
    with psycopg.connect(dsn) as con:
        # the benchmark's own tables, children first (case_events is append-only: a store with case history is refused)
        for table in ("compensations", "cases", "review_versions", "reviews", "shipments", "orders", "customers",
                      "products", "shops"):
            con.execute(f"DELETE FROM {table}")
        con.commit()
        for table, cols, data in generate(n_reviews, n_orders, seed):
            t1 = time.perf_counter()
            n = len(data[cols[0]])
            with con.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                ts_cols = {c for c in cols if c.endswith("_at")}
                for lo in range(0, n, 100_000):
                    for row in _rows(cols, data, lo, min(n, lo + 100_000)):
                        cp.write_row([(v + "+00") if (c in ts_cols and v is not None) else v for c, v in zip(cols, row)])
            con.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            con.commit()
            counts[table] = n
            per_table[table] = round(time.perf_counter() - t1, 2)
            print(f"  {table}: {n:,} rows in {per_table[table]:.1f} s", file=sys.stderr, flush=True)
        con.execute("ANALYZE")  # autovacuum would do this shortly after a bulk load
    return {"rows": counts, "insert_s": per_table, "total_s": round(time.perf_counter() - t0, 2)}


def ensure_store(args: argparse.Namespace) -> tuple[str, dict[str, object]]:
    """The database URL to measure and how it was built (``reused`` when the cached file matched)."""
    if args.db:
        info = build_postgres(args.db, args.reviews, args.orders, args.seed)
        return args.db, info
    path = Path(args.cache)
    meta = Path(str(path) + ".json")
    want = {"reviews": args.reviews, "orders": args.orders, "seed": args.seed, "generator": GENERATOR_VERSION}
    if path.is_file() and meta.is_file():
        info = json.loads(meta.read_text(encoding="utf-8"))
        if info.get("params") == want:
            info["reused"] = True
            return f"sqlite:///{path}", info
    print(f"building {path} ({args.reviews:,} reviews, {args.orders:,} orders) …", file=sys.stderr, flush=True)
    info = build_sqlite(path, args.reviews, args.orders, args.seed)
    info["params"] = want
    meta.write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    info = dict(info, reused=False)
    return f"sqlite:///{path}", info


# ------------------------------------------------------------------------ measurement
_COLD = r"""
import json, sys, time
from reviewops import Store
from reviewops.reporting.reports import weekly_top3
store = Store.open(sys.argv[1])
t = time.perf_counter()
r = weekly_top3(store, sys.argv[2])
dt_ = time.perf_counter() - t
print(json.dumps({"s": dt_, "reviews": r.reviews, "negative": r.negative, "cases": r.sla["cases"]}))
"""


def _stats(xs: list[float]) -> dict[str, object]:
    return {"n": len(xs), "median_s": round(statistics.median(xs), 3), "max_s": round(max(xs), 3),
            "min_s": round(min(xs), 3), "all_s": [round(x, 3) for x in xs]}


def evict(url: str) -> bool:
    """Drop the SQLite file's pages from the OS page cache (``posix_fadvise DONTNEED``; this file only)."""
    if not url.startswith("sqlite:///") or not hasattr(os, "posix_fadvise"):
        return False
    path = url[len("sqlite:///"):]
    for p in (path, path + "-wal"):
        if os.path.exists(p):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return True


def measure_inprocess(url: str, week: str, repeat: int) -> dict[str, object]:
    """``weekly_top3`` in a fresh process (file cache warm, and with the file evicted from it) and repeated in one."""
    cold, cold_disk = [], []
    figures = None
    for evicted in (False, True):
        for _ in range(repeat):
            if evicted and not evict(url):
                break
            out = subprocess.run([sys.executable, "-c", _COLD, url, week], capture_output=True, text=True, check=True)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            (cold_disk if evicted else cold).append(rec["s"])
            figures = {k: rec[k] for k in ("reviews", "negative", "cases")}
    from reviewops import Store
    from reviewops.reporting.reports import weekly_top3

    store = Store.open(url)
    warm = []
    weekly_top3(store, week)
    for _ in range(repeat):
        t = time.perf_counter()
        weekly_top3(store, week)
        warm.append(time.perf_counter() - t)
    # every shop named explicitly (the playbook's ``shops`` parameter): the (shop_id, created_at) index applies
    import sqlalchemy as sa
    from reviewops.core.store import shops
    with store.read() as conn:
        all_shops = [int(x) for x in conn.execute(sa.select(shops.c.id)).scalars()]
    warm_shops = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = weekly_top3(store, week, shop_ids=all_shops)
        warm_shops.append(time.perf_counter() - t)
    store.close()
    res = {"cold": _stats(cold), "warm": _stats(warm), "warm_all_shops_named": _stats(warm_shops),
           "figures": figures, "figures_check": check_figures(url, week),
           "figures_all_shops_named": {"reviews": r.reviews, "negative": r.negative, "cases": r.sla["cases"]}}
    if cold_disk:
        res["cold_disk"] = _stats(cold_disk)
    return res


def check_figures(url: str, week: str) -> dict[str, int] | None:
    """The week's review and case counts by plain SQL on the SQLite file or the PostgreSQL database (to compare
    with ``figures``)."""
    from reviewops.reporting.reports import week_bounds

    start, end = week_bounds(week)
    if url.startswith("postgresql"):
        import sqlalchemy as sa

        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                b = {"s": start, "e": end}
                n = conn.execute(sa.text("SELECT count(*) FROM reviews WHERE created_at >= :s AND created_at < :e"),
                                 b).scalar_one()
                k = conn.execute(sa.text("SELECT count(*) FROM cases c JOIN reviews r ON r.id = c.review_pk "
                                         "WHERE r.created_at >= :s AND r.created_at < :e"), b).scalar_one()
        finally:
            engine.dispose()
        return {"reviews": int(n), "cases": int(k)}
    if not url.startswith("sqlite:///"):
        return None
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    bounds = tuple(t.astimezone(dt.UTC).strftime(fmt) for t in (start, end))
    con = sqlite3.connect(f"file:{url[len('sqlite:///'):]}?mode=ro", uri=True)
    try:
        n = con.execute("SELECT count(*) FROM reviews WHERE created_at >= ? AND created_at < ?", bounds).fetchone()[0]
        k = con.execute("SELECT count(*) FROM cases c JOIN reviews r ON r.id = c.review_pk "
                        "WHERE r.created_at >= ? AND r.created_at < ?", bounds).fetchone()[0]
    finally:
        con.close()
    return {"reviews": int(n), "cases": int(k)}


def measure_statements(url: str, week: str, repeat: int = 3) -> list[dict[str, object]]:
    """Time each SQL statement ``weekly_top3`` runs (captured from SQLAlchemy), with its query plan."""
    from reviewops import Store
    from reviewops.reporting.reports import weekly_top3
    from sqlalchemy import event

    store = Store.open(url)
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    weekly_top3(store, week)
    event.remove(store.engine, "before_cursor_execute", capture)
    out = []
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        for stmt, params in seen:
            if "policy" in stmt or "FROM settings" in stmt:
                continue
            times = []
            for _ in range(repeat):
                cur = raw.cursor()
                t = time.perf_counter()
                cur.execute(stmt, params)
                rows = cur.fetchall()
                times.append(time.perf_counter() - t)
                cur.close()
            plan = None
            if store.dialect == "sqlite":
                cur = raw.cursor()
                plan = [r[-1] for r in cur.execute("EXPLAIN QUERY PLAN " + stmt, params).fetchall()]
                cur.close()
            else:
                cur = raw.cursor()
                cur.execute("EXPLAIN " + stmt, params)
                plan = [r[0] for r in cur.fetchall()]
                cur.close()
            n_params = len(params) if isinstance(params, (tuple, list, dict)) else 0
            out.append({"sql": " ".join(stmt.split())[:400], "params": n_params, "rows": len(rows),
                        "median_s": round(statistics.median(times), 4), "plan": plan})
    store.close()
    return out


TRIVIAL_NB = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "params", "metadata": {"tags": ["parameters"]},
         "outputs": [], "source": ["db: str = \"\"  # 数据库 URL\n", "output_dir: str = \"\"  # 输出目录"]},
        {"cell_type": "code", "execution_count": None, "id": "body", "metadata": {}, "outputs": [], "source": ["pass"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _reviewops_cmd() -> list[str]:
    exe = shutil.which("reviewops")
    return [exe] if exe else [sys.executable, "-m", "reviewops"]


def measure_run(url: str, week: str, repeat: int, pdf: bool, work: Path) -> dict[str, object]:
    """``reviewops run`` as a subprocess: the playbook, the playbook with --pdf, and a trivial notebook."""
    trivial = work / "trivial.ipynb"
    trivial.write_text(json.dumps(TRIVIAL_NB), encoding="utf-8")
    env = dict(os.environ)

    def one(target: str, extra: list[str]) -> tuple[float, dict[str, object]]:
        out = Path(tempfile.mkdtemp(prefix="out.", dir=work))
        cmd = [*_reviewops_cmd(), "run", target, "--db", url, "--out", str(out), "--no-progress", *extra]
        t = time.perf_counter()
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
        took = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        files = {f.name: f.stat().st_size for f in out.iterdir() if f.is_file()}
        summary = {}
        js = [f for f in out.iterdir() if f.suffix == ".json"]
        if js:
            with contextlib.suppress(ValueError):
                summary = json.loads(js[0].read_text(encoding="utf-8"))
        shutil.rmtree(out, ignore_errors=True)
        return took, {"files": files, "runner_duration_s": summary.get("duration_s") or summary.get("duration")}

    kernel, report, detail = [], [], {}
    for _ in range(repeat):
        s, _d = one(str(trivial), [])
        kernel.append(s)
        s, detail = one("weekly_top3", ["--param", f"week={week}"])
        report.append(s)
    res: dict[str, object] = {"kernel": _stats(kernel), "run": _stats(report), "run_outputs": detail}
    if pdf:
        pdf_times = []
        for _ in range(max(1, repeat // 2)):
            s, d = one("weekly_top3", ["--param", f"week={week}", "--pdf"])
            pdf_times.append(s)
        res["run_pdf"] = _stats(pdf_times)
        res["run_pdf_outputs"] = d
        res["run_pdf_minus_kernel_median_s"] = round(statistics.median(pdf_times) - statistics.median(kernel), 3)
    res["run_minus_kernel_median_s"] = round(statistics.median(report) - statistics.median(kernel), 3)
    return res


def index_experiment(path: Path, week: str, repeat: int, work: Path, ddl: list[str]) -> dict[str, object]:
    """Copy the cached SQLite file, add candidate indexes by hand and measure ``weekly_top3`` again."""
    copy = work / "experiment.db"
    shutil.copyfile(path, copy)
    con = sqlite3.connect(copy)
    t = time.perf_counter()
    for stmt in ddl:
        con.execute(stmt)
    con.commit()
    con.close()
    built = time.perf_counter() - t
    url = f"sqlite:///{copy}"
    res = {"ddl": ddl, "build_s": round(built, 2), "inprocess": measure_inprocess(url, week, repeat),
           "statements": measure_statements(url, week)}
    copy.unlink(missing_ok=True)
    return res


def machine() -> dict[str, object]:
    import pandas
    import papermill
    import sqlalchemy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, IndexError, ValueError):
        pass
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    lib = {"head": git("rev-parse", "--short", "HEAD"),
           "reports_py_commit": git("log", "-1", "--format=%h", "--", "lib/reviewops/reporting/reports.py"),
           "lib_uncommitted_changes": git("status", "--short", "--", "lib/")}
    return {"lib": lib, "cpu": cpu, "cores": os.cpu_count(), "mem_mib": mem, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "numpy": np.__version__, "pandas": pandas.__version__,
            "sqlalchemy": sqlalchemy.__version__, "papermill": papermill.__version__, "os": platform.platform()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/bench/wt3/shop.db", help="the SQLite file to build or reuse")
    ap.add_argument("--db", help="a PostgreSQL URL instead (emptied and refilled)")
    ap.add_argument("--reviews", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=3_000_000)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--week", default=DEFAULT_WEEK)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--run-repeat", type=int, default=3)
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--index-experiment", action="store_true",
                    help="also measure with a candidate index added by hand to a copy of the database")
    ap.add_argument("--out", type=Path, default=None, help=f"result JSON (default {RESULTS.relative_to(ROOT)})")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 5,000 reviews / 15,000 orders in a temp directory, one run each, no PDF; "
                         "last stdout line = JSON")
    args = ap.parse_args()
    if args.quick:
        sys.path.insert(0, str(ROOT / "benchmarks"))  # _quick.py (already there when run as a script)
        from _quick import print_result, quick_dir

        args.reviews, args.orders, args.repeat, args.run_repeat, args.no_pdf = 5_000, 15_000, 1, 1, True
        with quick_dir("weekly_top3") as tmp:
            if not args.db:
                args.cache = str(tmp / "shop.db")
            args.out = args.out or tmp / "weekly_top3.json"
            result = run(args)
        if result is not None:
            result["quick"] = True
            print_result(result)
        return
    args.out = args.out or RESULTS
    run(args)


def run(args: argparse.Namespace) -> dict[str, object] | None:
    url, built = ensure_store(args)
    print(json.dumps({"store": built}, ensure_ascii=False), file=sys.stderr, flush=True)
    if args.generate_only:
        return None
    work = Path(tempfile.mkdtemp(prefix="wt3.", dir=Path(args.cache).parent if not args.db else None))
    try:
        result: dict[str, object] = {
            "benchmark": "weekly_top3", "goal_s": 60, "week": args.week, "store": "postgresql" if args.db else "sqlite",
            "params": {"reviews": args.reviews, "orders": args.orders, "seed": args.seed, "repeat": args.repeat,
                       "run_repeat": args.run_repeat},
            "machine": machine(), "generation": built, "load_avg_start": os.getloadavg(),
        }
        print("weekly_top3 in process …", file=sys.stderr, flush=True)
        result["inprocess"] = measure_inprocess(url, args.week, args.repeat)
        print(json.dumps(result["inprocess"]), file=sys.stderr, flush=True)
        result["statements"] = measure_statements(url, args.week)
        print("reviewops run …", file=sys.stderr, flush=True)
        result["end_to_end"] = measure_run(url, args.week, args.run_repeat, not args.no_pdf, work)
        e2e = result["end_to_end"]
        result["goal_met"] = max(e2e["run"]["max_s"], e2e.get("run_pdf", {}).get("max_s", 0)) <= 60
        if args.index_experiment and not args.db:
            ddl = ["CREATE INDEX ix_bench_reviews_created_at ON reviews (created_at)"]
            print("index experiment …", file=sys.stderr, flush=True)
            result["index_experiment"] = index_experiment(Path(args.cache), args.week, args.repeat, work, ddl)
        text = json.dumps(result, ensure_ascii=False, indent=2)
        print(text)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
