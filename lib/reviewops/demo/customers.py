"""Customers and orders of the demo shop: buyers on four platforms with nicknames, names, phones and
addresses (a few risky accounts that order serially), the orders they place over the 150 days (with the
双11 and 618 peaks, discounts, fees, 达人 live sales), the same-IP sock-puppet bursts, and which order lines
go wrong (the complaint a line will carry)."""

from __future__ import annotations

import datetime as dt

from .catalogue import Product
from .shipments import lifecycle
from .shop import (
    _GEO,
    _PHONE_PREFIX,
    _STREETS,
    _SURNAMES,
    PLATFORMS,
    Shop,
    _cum,
    _Customer,
    _Line,
    _Order,
    _pick,
    _split,
)
from .timeline import DAY, H, _sec

_NICK_ADJ = ("快乐的", "安静的", "爱笑的", "奔跑的", "迷糊的", "温柔的", "勇敢的", "会飞的", "慢吞吞的", "元气", "小小",
             "爱吃鱼的", "不吃香菜的", "早睡的", "追风的")
_NICK_NOUN = ("小鱼", "猫咪", "兔子", "向日葵", "橘子", "西瓜", "星星", "月亮", "小熊", "柠檬", "云朵", "奶茶", "饺子",
              "汤圆", "豆包", "小鹿", "企鹅", "土豆", "花卷", "果冻")
_PINYIN = ("xiao", "yu", "mei", "li", "hua", "tian", "yue", "ming", "feng", "yun", "xin", "le", "an", "qing",
           "lan", "chen", "zi", "mu", "nan", "bei", "jia", "hao", "wen", "jing")
# complaint-code weights per category (size only where sizes exist)
_CODE_WEIGHTS = {
    "default": (("quality", 34), ("description", 15), ("missing_wrong", 10), ("service", 8), ("price", 6),
                ("logistics", 10)),
    "sized": (("quality", 24), ("size", 30), ("description", 12), ("missing_wrong", 8), ("service", 6),
              ("price", 5), ("logistics", 8)),
    "食品": (("quality", 44), ("description", 8), ("missing_wrong", 10), ("service", 6), ("price", 6),
            ("logistics", 16)),
}
_INFLUENCERS = {
    "服装": ("穿搭小能手阿May", "7295301846"), "鞋": ("鞋控老周", "6620183957"), "食品": ("吃货小分队", "8102935574"),
    "美妆": ("美妆博主可乐", "7731029466"), "数码配件": ("数码宅老王", "6938471025"), "家居": ("居家好物铺子", "7012384456"),
    "母婴": ("宝妈日记", "6829301744"),
}


def nick(g: Shop, platform: str, taken: set[str]) -> str:
    r = g.rng
    while True:
        style = r.random()
        if platform == "jd":
            v = "jd_" + "".join(r.choice("0123456789abcdef") for _ in range(12)) if style < 0.6 else \
                r.choice(_PINYIN) + r.choice(_PINYIN) + str(r.randint(1970, 2008))
        elif platform == "douyin" and style < 0.35:
            v = "用户" + g.digits(10)
        elif platform == "taobao" and style < 0.3:
            v = "tb" + g.digits(r.randint(9, 10))
        elif style < 0.65:
            v = r.choice(_NICK_ADJ) + r.choice(_NICK_NOUN) + (str(r.randint(1, 2025)) if r.random() < 0.7 else "")
        else:
            v = r.choice(_PINYIN) + r.choice(("", "_", "")) + r.choice(_PINYIN) + str(r.randint(1, 9999))
        if v not in taken:
            taken.add(v)
            return v

def make_customers(g: Shop) -> None:
    r = g.rng
    geo_cum = _cum([geo[4] for geo in _GEO])
    per = g.spec.customers_by_platform()
    risky_per = _split(g.spec.risky_customers, (("taobao", 0.5), ("douyin", 0.3), ("pdd", 0.1), ("jd", 0.1)))
    for platform in PLATFORMS:
        taken: set[str] = set()
        for i in range(per[platform]):
            c = _Customer()
            c.platform = platform
            c.nick = nick(g, platform, taken)
            c.name = r.choice(_SURNAMES) + ("*" if r.random() < 0.25 else "**")
            c.phone = r.choice(_PHONE_PREFIX) + "****" + g.digits(4)
            c.geo = r.choices(_GEO, cum_weights=geo_cum)[0]
            c.district = r.choice(c.geo[2])
            c.street = r.choice(_STREETS)
            c.risky = i < risky_per[platform]
            c.sock = False
            c.weight = r.paretovariate(1.6)
            g.customers[platform].append(c)
        g._taken = getattr(g, "_taken", {})
        g._taken[platform] = taken

# ------------------------------------------------------------------ orders
def order_times(g: Shop, n: int) -> list[dt.datetime]:
    r = g.rng
    days = g.spec.days
    weights = []
    for d in range(days + 1):
        day = g.start.date() + dt.timedelta(days=d)
        w = 1.0 + 0.004 * d
        if day.weekday() >= 5:
            w *= 1.12
        if day.month == 11 and 1 <= day.day <= 11:
            w *= {10: 2.4, 11: 4.0}.get(day.day, 1.5)
        elif day.month == 11 and 12 <= day.day <= 14:
            w *= 1.3
        elif day.month == 6 and 1 <= day.day <= 18:  # 618
            w *= {17: 2.0, 18: 3.0}.get(day.day, 1.3)
        if d == days:
            w *= max(0.02, (g.now.hour * 60 + g.now.minute) / (24 * 60))
        weights.append(w)
    day_cum = _cum(weights)
    hour_w = (0.6, 0.35, 0.2, 0.1, 0.08, 0.1, 0.25, 0.6, 1.0, 1.4, 1.7, 1.6, 1.3, 1.3, 1.4, 1.4, 1.3, 1.2, 1.3,
              1.6, 2.0, 2.3, 2.0, 1.2)
    hour_cum = _cum(hour_w)
    out = []
    for _ in range(n):
        d = r.choices(range(days + 1), cum_weights=day_cum)[0]
        h = r.choices(range(24), cum_weights=hour_cum)[0]
        t = g.start + dt.timedelta(days=d, hours=h, seconds=r.randrange(3600))
        if t >= g.now - dt.timedelta(minutes=2):
            t = g.now - _sec(r.randint(120, 8 * H))
        out.append(t)
    return out

def make_orders(g: Shop) -> None:
    r = g.rng
    spec = g.spec
    prod_cum = _cum([p.weight for p in g.products])
    # every customer orders once; risky accounts order serially; the rest follow a heavy tail
    plan: list[_Customer] = []
    for platform in PLATFORMS:
        for c in g.customers[platform]:
            plan.append(c)
            if c.risky:
                plan.extend([c] * r.randint(5, 11))
    extra = max(0, spec.orders - len(plan) - spec.burst_taobao - spec.burst_douyin)
    everyone = [c for p in PLATFORMS for c in g.customers[p]]
    plan.extend(r.choices(everyone, cum_weights=_cum([c.weight for c in everyone]), k=extra))
    times = order_times(g, len(plan))
    for c, t in zip(plan, times):
        new_order(g, c, t, prod_cum)
    make_bursts(g, prod_cum)
    for platform in PLATFORMS:
        g.orders[platform].sort(key=lambda o: o.created)

def new_order(g: Shop, c: _Customer, created: dt.datetime, prod_cum: list[float],
              product: Product | None = None) -> _Order:
    r = g.rng
    o = _Order()
    o.platform = c.platform
    o.customer = c
    o.created = created
    o.order_id = g.order_id(c.platform, created)
    if product is not None:
        n_lines = 1
    elif c.platform == "pdd":
        n_lines = 1
    elif c.platform == "douyin":
        n_lines = 1 if r.random() < 0.93 else 2
    else:
        n_lines = r.choices((1, 2, 3), weights=(82, 13, 5))[0]
    chosen: list[Product] = [product] if product is not None else []
    while len(chosen) < n_lines:
        p = r.choices(g.products, cum_weights=prod_cum)[0]
        if p not in chosen:
            chosen.append(p)
    for i, p in enumerate(chosen):
        ln = _Line()
        ln.product = p
        sku = []
        for name, values in p.dims:
            if name == "尺码" and len(values) >= 4:
                mid = len(values) // 2
                w = [1.0 / (1 + abs(k - mid + 0.5)) for k in range(len(values))]
                sku.append(r.choices(values, weights=w)[0])
            else:
                sku.append(r.choice(values))
        ln.sku = tuple(sku)
        q = r.random()
        bulky = p.category in ("食品", "母婴", "家居")
        ln.qty = 1 if q < (0.78 if bulky else 0.9) else (2 if q < 0.96 else 3)
        ln.unit_fen = p.platform_price[c.platform]
        ln.line_id = o.order_id if (c.platform == "douyin" and n_lines == 1) else None
        o.lines.append(ln)
    if c.platform == "douyin":
        for ln in o.lines:
            if ln.line_id is None:
                ln.line_id = g.uid(lambda: "69" + g.digits(17))
    goods = o.goods_fen
    disc = 0
    in_1111 = created.month == 11 and 1 <= created.day <= 11
    if goods >= 29900 and in_1111:
        disc = 5000
    elif goods >= 19900 and r.random() < 0.35:
        disc = 2000
    elif goods >= 9900 and r.random() < 0.3:
        disc = 1000
    elif goods >= 4900 and r.random() < 0.15:
        disc = 300
    o.discount_fen = disc
    if c.platform == "taobao":
        o.fee_fen = 400 if goods < 1990 else 0
    elif c.platform == "jd":
        o.fee_fen = 600 if goods < 4900 else 0
    else:
        o.fee_fen = 0
    paid = o.goods_fen - disc
    acc = 0
    for i, ln in enumerate(o.lines):
        if i == len(o.lines) - 1:
            ln.paid_fen = paid - acc
        else:
            ln.paid_fen = paid * ln.unit_fen * ln.qty // goods
            acc += ln.paid_fen
    o.buyer_msg = r.choice(("请尽快发货", "不要放驿站，送货上门谢谢", "能发顺丰吗", "送人的，请不要放价格单",
                            "尺码按详情页选的，麻烦核对一下")) if r.random() < 0.06 else ""
    o.memo = ""
    o.cipher = c.platform == "douyin" and r.random() < 0.3
    if c.platform == "douyin":
        cat = o.lines[0].product.category
        o.influencer = _INFLUENCERS[cat] if r.random() < 0.55 else None
    lifecycle(g, o)
    c.orders.append(o)
    g.orders[c.platform].append(o)
    return o


def make_bursts(g: Shop, prod_cum: list[float]) -> None:
    """Sock-puppet accounts that all buy one product and post bad reviews from one IP within minutes."""
    r = g.rng
    for platform, n, code, ip in (("taobao", g.spec.burst_taobao, "SM002", "117.136.38.201"),
                                  ("douyin", g.spec.burst_douyin, "JJ001", "223.104.21.77")):
        if n <= 0:
            continue
        product = next(p for p in g.products if p.code == code)
        review_start = g.now - dt.timedelta(days=4, hours=r.randint(0, 10), minutes=r.randint(0, 59))
        orders = []
        for k in range(n):
            c = _Customer()
            c.platform = platform
            c.nick = nick(g, platform, g._taken[platform])
            c.name = r.choice(_SURNAMES) + "**"
            c.phone = r.choice(_PHONE_PREFIX) + "****" + g.digits(4)
            c.geo = r.choice(_GEO)
            c.district = r.choice(c.geo[2])
            c.street = r.choice(_STREETS)
            c.risky = False
            c.sock = True
            c.weight = 0.0
            g.customers[platform].append(c)
            for _attempt in range(500):
                created = review_start - _sec(r.uniform(8 * DAY, 14 * DAY))
                o = new_order(g, c, created, prod_cum, product=product)
                if o.completed is not None and o.completed < review_start and not o.refunds:
                    break
                # not received in time: drop it and draw again (deterministically)
                g.orders[platform].remove(o)
                c.orders.remove(o)
            else:  # pragma: no cover - 500 misses in a row cannot happen with these odds
                raise RuntimeError("demo: could not place a burst order")
            o.burst = True
            orders.append(o)
        g.bursts.append({"platform": platform, "product": product, "orders": orders, "ip": ip,
                            "start": review_start})

# ------------------------------------------------------------------ issues and refunds
def issue_code(g: Shop, p: Product) -> str:
    key = p.category if p.category in _CODE_WEIGHTS else ("sized" if p.size_kind else "default")
    return _pick(g.rng, _CODE_WEIGHTS[key])

def assign_issues(g: Shop) -> None:
    r = g.rng
    for platform in PLATFORMS:
        for o in g.orders[platform]:
            if o.shipped is None or o.burst:
                continue
            for ln in o.lines:
                if o.customer.risky and r.random() < 0.55:
                    ln.issue = "malicious"
                elif o.delayed and r.random() < 0.3:
                    ln.issue, ln.sub = "logistics", ("lost" if o.lost else "slow")
                elif o.dropoff and r.random() < 0.05:
                    ln.issue, ln.sub = "logistics", "nodoor"
                elif r.random() < ln.product.issue_rate:
                    ln.issue = issue_code(g, ln.product)
                    if ln.issue == "logistics":
                        ln.sub = "damaged" if r.random() < 0.6 else "nodoor"
                    elif ln.issue == "missing_wrong":
                        ln.sub = "wrong" if r.random() < 0.4 else "missing"
