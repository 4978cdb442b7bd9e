"""Reviews of the demo shop and their texts: which completed orders are reviewed, the rating, the text
(praise, complaints of every code, complaints hidden under good ratings, default reviews, the bursts), 追评,
shop replies, IPs, images and tags, a few coverage fixes at small scales, and the live queue planted
just before as-of. Every text is written for this demo (keep them GBK-encodable: they land in GBK files)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .catalogue import CATEGORIES, Product, _texts
from .customers import issue_code
from .shipments import _hub
from .shop import PLATFORMS, Shop, _Line, _Order, _Review
from .timeline import DAY, DETECT_EVERY_MINUTES, SHANGHAI, H, _sec

_POSITIVE_GENERIC = ("物流很快，第二天就到了", "包装很用心", "客服很耐心，有问必答", "性价比很高", "已经回购好几次了",
                     "值得购买", "非常满意", "跟描述的一样", "买给家人的，他们都说好", "东西不错，推荐")
_POSITIVE_SHORT = ("好评", "不错", "满意", "挺好的", "很好", "还可以，好评")

_SIZE = {
    "cloth": ("尺码偏小，平时穿{size}，这件穿着勒得慌", "偏大一码，按尺码表买的还是大", "尺码不标准，同样的{size}比别家小一圈"),
    "shoe": ("鞋码偏小，平时穿{size}码，这双顶脚", "偏大半码，走路掉跟", "鞋楦太窄了，脚宽的别买",
             "尺码偏小，脚趾顶得疼"),
    "baby": ("{size}码偏小，宝宝穿不进去", "尺码偏大，宝宝穿着松松垮垮的", "{size}码偏小，勒得腿上都是红印"),
}
_MISSING = ("买了{qty}件只收到一件，漏发了", "说好的赠品没有送", "少发了一件，包裹里就一个",
            "发错货了，收到的根本不是我买的东西", "发错了，我拍的是{spec}，到手完全不是")
_DESCRIPTION = ("与描述不符，实物和图片差距太大", "色差很大，实物比图片暗很多", "宣传写的{claim}根本不是真的",
                "图片看着很高级，收到很廉价", "详情页写的和实物不一样")
_LOGISTICS = {
    "slow": ("物流太慢了，下单{days}天才收到", "物流信息好几天都不更新，问了也没结果", "快递在{hub}停了三天不动"),
    "late_dispatch": ("说好48小时发货，结果第{ship_days}天才发", "拍了好几天都不发货，催了也没用"),
    "damaged": ("快递盒子都压扁了，{noun}也磕坏了", "外包装破得不成样子，里面的{noun}也压坏了", "快递暴力运输，收到就是破的"),
    "nodoor": ("{carrier}不送货上门，直接扔驿站也不打电话", "快递不送货上门，还要自己跑去驿站拿",
               "显示已签收但我根本没收到，放驿站也没通知"),
    "lost": ("等了半个月都没收到，物流一直不动", "快递丢了，商家也不管"),
}
_SERVICE = ("客服态度很差，问什么都爱答不理", "找客服一直不回复，等了一整天", "售后推来推去，就是不给解决",
            "机器人客服答非所问，找不到人工", "申请退货三天了都没人处理", "客服说话很冲，体验太差了")
_PRICE = ("刚买完就降价了{amt}块，找客服不给退差价", "买贵了，直播间比这便宜{amt}块", "双十一的价格还没平时便宜，感觉被套路了",
          "同样的东西别家便宜一半")
_MALICIOUS = ("给我返现50不然差评", "不给我退{amt}块钱就一直差评", "商家不给返现，差评！大家别买",
              "不赔钱就差评，说到做到", "垃圾店铺，骗子，千万别买")
_BURST = ("垃圾，千万别买", "假货！和描述完全不一样", "质量太差了，别上当", "差评，骗子店铺", "买了就后悔，垃圾产品",
          "刚用就坏了，垃圾", "千万别买，坑人", "差差差，退货都不给退", "一星都不想给", "又贵又差，别买",
          "劣质产品，别买", "垃圾质量，浪费钱")
_NEG_CLOSE = ("差评！", "不会再买了。", "大家慎拍。", "太失望了。", "希望商家重视一下。", "退货了。", "", "")
_NEU_OPEN = ("一般般吧，", "中规中矩，", "凑合能用，", "还行吧，", "说不上好，")
_OTHER_NEUTRAL = ("一般般，没有想象中好", "感觉一般，不值这个价", "还行吧，凑合用", "普普通通，没什么惊喜")
_HIDDEN = ("好评是给快递小哥的，{noun}质量真的一般", "五星给客服小姐姐，不过{issue}", "看在包装的份上给个好评吧，{issue}",
           "东西还行吧，就是{issue}", "给个好评鼓励一下，但是{issue}", "整体还可以，唯一的问题是{issue}")
_APPEND_POS = ("回购了，家里人都说好", "追评一下，质量经得住考验", "过了一段时间再来评价，没有任何问题",
               "第二次买了，一如既往的好")
_APPEND_TURN_BAD = ("追评提醒一下大家：{quality}", "后来发现有问题，找客服一直没人理", "过了几天再看，{quality}")
_APPEND_RESOLVED = ("客服主动联系我补发了，处理得挺及时的", "商家给退款了，态度还可以", "联系售后换了新的，这次没问题了",
                    "客服道歉了也给解决了，追评说明一下")
_APPEND_WORSE = ("找了客服也没解决，追评让大家看看", "换了一个还是一样的问题", "退货寄回去一周了还没退款")
_PROBLEM_ZH = {"logistics": "物流", "quality": "质量", "size": "尺码", "missing_wrong": "漏发错发",
               "description": "描述不符", "service": "服务", "price": "价格", "malicious": "评价", "other": "使用体验"}
_REMEDY = {"logistics": "已为您联系快递加急处理，并补偿一张优惠券", "quality": "已为您安排退款或补发",
           "size": "已为您安排免费换码", "missing_wrong": "已为您安排补发", "description": "已为您安排退货退款",
           "service": "已对相关客服进行培训", "price": "已为您申请价保退差价", "other": "已记录您的建议"}
_CHAT_CHANNEL = {"taobao": "旺旺", "douyin": "飞鸽", "pdd": "站内消息", "jd": "咚咚"}
_POS_TAGS = ("质量很好", "物流很快", "性价比高", "包装完好", "客服热情", "尺码标准")
_NEG_TAGS = {"logistics": "物流慢", "quality": "质量一般", "size": "尺码不准", "missing_wrong": "少件错件",
             "description": "与描述不符", "service": "服务差", "price": "价格偏高", "malicious": "质量差",
             "other": "一般"}
_DEFAULT_TEXT = {"taobao": "评价方未及时做出评价,系统默认好评!", "jd": "此用户未填写评价内容",
                 "douyin": "该用户觉得商品较好，未填写评价内容", "pdd": "此用户没有填写评价。"}
_DEFAULT_SHARE = {"taobao": 0.18, "jd": 0.12, "douyin": 0.08, "pdd": 0.06}
#: The live queue's spread at as-of (share of the SLA budget used, low–high, share of the queue reviews).
QUEUE_BANDS: tuple[tuple[tuple[float, float], float], ...] = (
    ((0.05, 0.45), 0.45), ((0.55, 0.78), 0.2), ((0.82, 0.97), 0.15), ((1.1, 1.45), 0.2),
)


# ------------------------------------------------------------------ reviews
def review_time(g: Shop, o: _Order, default: bool) -> dt.datetime:
    r = g.rng
    if default:
        return o.completed + dt.timedelta(days=15)
    return o.completed + _sec(min(14 * DAY, r.expovariate(1 / (1.4 * DAY)) + r.uniform(60, 3 * H)))

def make_reviews(g: Shop) -> None:
    r = g.rng
    spec = g.spec
    cand: list[tuple[float, _Order, _Line]] = []
    for platform in PLATFORMS:
        for o in g.orders[platform]:
            if o.completed is None or o.burst:
                continue
            for ln in o.lines:
                w = 1.5 if ln.issue else 1.0
                key = r.random() ** (1.0 / w)
                cand.append((key, o, ln))
    cand.sort(key=lambda x: -x[0])
    n_normal = spec.reviews - sum(len(b["orders"]) for b in g.bursts) - spec.queue
    chosen = 0
    for _key, o, ln in cand:
        if chosen >= n_normal:
            break
        rv = review_for(g, o, ln)
        if rv is None:
            continue
        chosen += 1
    for b in g.bursts:
        burst_reviews(g, b)
    ensure_coverage(g)
    plant_queue(g, spec.queue)
    for platform in PLATFORMS:
        for rv in g.reviews[platform]:
            finish_review(g, rv)
        g.reviews[platform].sort(key=lambda x: x.created, reverse=True)

def review_for(g: Shop, o: _Order, ln: _Line) -> _Review | None:
    r = g.rng
    platform = o.platform
    rv = _Review()
    rv.order, rv.line = o, ln
    complain = ln.issue is not None and r.random() < 0.85
    if complain:
        rv.codes = [ln.issue]
        rv.sub = ln.sub
        rv.malicious = ln.issue == "malicious"
        if not rv.malicious and r.random() < 0.15:
            rv.hidden = True
            rv.cls = "positive"
        else:
            rv.cls = "negative" if (rv.malicious or r.random() < 0.62) else "neutral"
        if not rv.malicious and r.random() < 0.15:
            extra = "service" if ln.issue != "service" else "logistics"
            rv.codes.append(extra)
    else:
        rv.cls = "positive"
        if r.random() < 0.008:
            rv.cls, rv.codes = "neutral", ["other"]
        elif r.random() < _DEFAULT_SHARE[platform]:
            rv.default = True
    rv.created = review_time(g, o, rv.default)
    if rv.created >= g.now and rv.default:
        rv.default = False
        rv.created = review_time(g, o, False)
    if rv.created >= g.now:
        return None
    ln.review = rv
    g.reviews[platform].append(rv)
    return rv

def burst_reviews(g: Shop, b: dict[str, Any]) -> None:
    r = g.rng
    t = b["start"]
    for o in b["orders"]:
        ln = o.lines[0]
        rv = _Review()
        rv.order, rv.line = o, ln
        rv.cls = "negative"
        rv.codes = ["malicious"]
        rv.malicious = rv.burst = True
        rv.created = t
        rv.ip = b["ip"]
        t = t + _sec(r.uniform(60, 200))
        ln.review = rv
        g.reviews[o.platform].append(rv)
    b["end"] = t

def plant_queue(g: Shop, n: int) -> None:
    """The live queue: ``n`` bad reviews posted in the last hours before as-of, so that at as-of their
    cases have used a spread of their SLA budget (:data:`QUEUE_BANDS`: well within, warning at 50 % and
    80 %, breached). The budget and the clock (7×24 or business hours with holidays) are the policy's,
    counted back from as-of, so the mix holds whatever weekday or time the demo runs at. Each review is
    detected at an import tick (:func:`detection_time`), which the placement accounts for."""
    from ..core.clock import calendar_of
    from ..core.sla import add_working_time, working_minutes_between

    if n <= 0:
        return
    r = g.rng
    policy = g.policy
    if policy is None:
        from ..core.policy import default_policy

        policy = default_policy()
    cal = calendar_of(policy)
    budget = {c["code"]: float(c["sla_hours"]) * 60.0 for c in policy.tables["categories"]}
    lo_t = g.now - dt.timedelta(days=20)
    pool = [(o, ln) for p in PLATFORMS for o in g.orders[p]
            if o.completed is not None and not o.burst and not o.customer.risky and o.completed > lo_t
            for ln in o.lines if ln.review is None]
    if not pool:
        return
    picks = sorted(r.sample(range(len(pool)), min(n, len(pool))))
    step = dt.timedelta(minutes=DETECT_EVERY_MINUTES)
    bands = [b for b, share in QUEUE_BANDS for _ in range(max(1, round(share * len(picks))))]
    for k, idx in enumerate(picks):
        o, ln = pool[idx]
        lo, hi = bands[k % len(bands)]
        code = issue_code(g, ln.product)
        sub = None
        if code == "logistics":
            sub = "damaged" if r.random() < 0.6 else "nodoor"
        elif code == "missing_wrong":
            sub = "wrong" if r.random() < 0.4 else "missing"
        minutes = budget.get(code, budget.get("other", 480.0))
        want = r.uniform(lo, hi)
        target, _ = add_working_time(g.as_of, -want * minutes, cal)
        ticks = max(0, round((g.as_of - target) / step))
        detected = None
        for t in (ticks, ticks - 1, ticks + 1, ticks - 2, ticks + 2):  # the nearest tick inside the band
            if t < 0:
                continue
            d = g.as_of - t * step
            used, _ = working_minutes_between(d, g.as_of, cal)
            if lo <= used / minutes <= hi:
                detected = d
                break
        if detected is None:
            detected = g.as_of - ticks * step
        created = detected.astimezone(SHANGHAI).replace(tzinfo=None) - _sec(r.uniform(90, 810))
        if created <= o.completed + dt.timedelta(minutes=30):
            continue
        rv = _Review()
        rv.order, rv.line = o, ln
        rv.codes, rv.sub = [code], sub
        rv.cls = "negative" if r.random() < 0.75 else "neutral"
        rv.created = created
        ln.issue, ln.sub = code, sub
        ln.review = rv
        g.reviews[o.platform].append(rv)

def ensure_coverage(g: Shop) -> None:
    """Small scales still show every category, complaint code and review feature at least once."""
    all_rv = [rv for p in PLATFORMS for rv in g.reviews[p] if not rv.burst]

    def convert(pred: Callable[[_Review], bool], apply: Callable[[_Review], None]) -> None:
        for rv in all_rv:
            if rv.cls == "positive" and not rv.codes and not rv.default and pred(rv):
                apply(rv)
                return

    def set_complaint(code: str, cls: str, sub: str | None = None) -> Callable[[_Review], None]:
        def f(rv: _Review) -> None:
            rv.codes, rv.cls, rv.sub = [code], cls, sub
            rv.malicious = code == "malicious"
            rv.line.issue, rv.line.sub = code, sub
        return f

    for cat in CATEGORIES:
        if not any(rv.cls != "positive" and rv.line.product.category == cat for rv in all_rv):
            convert(lambda rv, c=cat: rv.line.product.category == c, set_complaint("quality", "negative"))
    codes = ("logistics", "quality", "size", "missing_wrong", "description", "service", "price", "malicious")
    for code in codes:
        if not any(code in rv.codes and rv.cls != "positive" for rv in all_rv):
            sub = {"logistics": "damaged", "missing_wrong": "missing"}.get(code)
            cond = (lambda rv: rv.line.product.size_kind is not None) if code == "size" else (lambda rv: True)
            convert(cond, set_complaint(code, "negative", sub))
    for platform in PLATFORMS:
        if not any(rv.cls != "positive" for rv in g.reviews[platform]):
            convert(lambda rv, p=platform: rv.order.platform == p, set_complaint("quality", "negative"))
    if not any(rv.hidden for rv in all_rv):
        def hide(rv: _Review) -> None:
            set_complaint("quality", "positive")(rv)
            rv.hidden = True
        convert(lambda rv: rv.order.platform == "taobao", hide)
    if not any(rv.default for rv in all_rv):
        def deflt(rv: _Review) -> None:
            rv.default = True
        convert(lambda rv: rv.order.platform == "taobao", deflt)

def finish_review(g: Shop, rv: _Review) -> None:
    """Text, scores, follow-up, reply, IP and media of one review."""
    r = g.rng
    o, ln, p = rv.order, rv.line, rv.line.product
    platform = o.platform
    # scores
    if rv.cls == "positive":
        rv.score = 5 if r.random() < 0.82 else 4
    elif rv.cls == "neutral":
        rv.score = 3
    else:
        rv.score = 1 if r.random() < 0.7 else 2
    rv.score_log = (r.choice((1, 2)) if "logistics" in rv.codes and not rv.hidden else
                    (5 if r.random() < 0.85 else 4))
    rv.score_srv = (r.choice((1, 2)) if "service" in rv.codes or rv.malicious else (5 if r.random() < 0.85 else 4))
    if rv.default:
        rv.score = rv.score_log = rv.score_srv = 5
    # text
    if rv.burst:
        rv.content = r.choice(_BURST)
    elif rv.default:
        rv.content = _DEFAULT_TEXT[platform]
    elif rv.cls == "positive" and not rv.hidden:
        rv.content = positive_text(g, p)
    elif rv.codes == ["other"]:
        rv.content = r.choice(_OTHER_NEUTRAL)
    else:
        parts = [complaint(g, code, rv.sub if i == 0 else None, o, ln) for i, code in enumerate(rv.codes)]
        if rv.hidden:
            tpl = r.choice(_HIDDEN)
            if "{noun}" in tpl and rv.codes[0] != "quality":
                tpl = _HIDDEN[3]
            rv.content = tpl.format(noun=p.noun, issue=parts[0])
        elif rv.cls == "neutral":
            rv.content = r.choice(_NEU_OPEN) + "，".join(parts) + "。"
        else:
            close = r.choice(_NEG_CLOSE) if not rv.malicious else ""
            rv.content = "，".join(parts) + ("。" if not rv.malicious else "") + close
    # 追评 (a complaint's follow-up depends on how the case was handled: see demo_aftermath)
    if not rv.default and not rv.burst and (rv.cls == "positive" and not rv.hidden or rv.malicious):
        p_append = 0.08 if not rv.malicious else 0.3
        if r.random() < p_append:
            at = rv.created + _sec(r.uniform(2 * DAY, 40 * DAY))
            if at < g.now:
                rv.append_at = at
                if rv.malicious:
                    rv.append = "商家到现在都不给说法，大家自己看着办"
                elif r.random() < 0.15:
                    rv.append = r.choice(_APPEND_TURN_BAD).format(quality=r.choice(_texts(p)[0]))
                else:
                    rv.append = r.choice(_APPEND_POS)
    # shop reply
    if not rv.default:
        p_reply = 0.6 if (rv.cls != "positive" or rv.hidden) else 0.05
        if rv.burst:
            p_reply = 0.0
        if r.random() < p_reply:
            at = rv.created + _sec(r.uniform(0.5 * H, 30 * H))
            if at < g.now:
                rv.reply_at = at
                if rv.malicious:
                    rv.reply = ("经核实，该买家在评价前以差评为要挟索要返现，我们已向平台提交申诉，"
                                "请各位顾客理性参考。")
                elif rv.cls == "positive" and not rv.hidden:
                    rv.reply = "感谢亲的认可，期待您的再次光临~"
                else:
                    code = rv.codes[0] if rv.codes else "other"
                    rv.reply = (f"亲，非常抱歉给您带来不好的购物体验！关于您反馈的{_PROBLEM_ZH.get(code, '')}问题，"
                                f"{_REMEDY.get(code, _REMEDY['other'])}，专属客服已通过{_CHAT_CHANNEL[platform]}"
                                "联系您，请留意消息。我们会持续改进，期待您再次光临~")
    if rv.ip is None:
        rv.ip = g.ip() if r.random() < 0.9 else ""
    rv.media = r.random() < (0.45 if rv.cls != "positive" else 0.15) and not rv.default
    if rv.cls != "positive" or rv.hidden:
        rv.tags = ",".join(dict.fromkeys(_NEG_TAGS[c] for c in rv.codes)) if r.random() < 0.5 else ""
    else:
        rv.tags = ",".join(r.sample(_POS_TAGS, 2)) if r.random() < 0.4 and not rv.default else ""
    rv.review_id = g.uid(lambda: {"taobao": "1" + g.digits(12), "douyin": "72" + g.digits(17),
                                     "jd": "2" + g.digits(10), "pdd": "P" + g.digits(14)}[platform])
    if platform == "jd":
        nick = o.customer.nick
        rv.nick_shown = nick[:1] + "***" + nick[-1:]
    elif platform == "taobao" and r.random() < 0.12:
        nick = o.customer.nick
        rv.nick_shown = nick[:1] + "**" + nick[-1:]
    else:
        rv.nick_shown = o.customer.nick

def positive_text(g: Shop, p: Product) -> str:
    r = g.rng
    x = r.random()
    if x < 0.12:
        return r.choice(_POSITIVE_SHORT)
    parts = [r.choice(_texts(p)[1])]
    if x < 0.7:
        parts.append(r.choice(_POSITIVE_GENERIC))
    if x > 0.9:
        parts.append(r.choice(_POSITIVE_GENERIC))
    parts = list(dict.fromkeys(parts))
    return "，".join(parts) + r.choice(("。", "！", "", "~"))

def complaint(g: Shop, code: str, sub: str | None, o: _Order, ln: _Line) -> str:
    r = g.rng
    p = ln.product
    spec_text = "".join(ln.sku) if ln.sku else p.noun
    size = ln.sku[-1] if p.size_kind and ln.sku else "M"
    if code == "quality":
        t = r.choice(_texts(p)[0])
    elif code == "size":
        t = r.choice(_SIZE[p.size_kind or "cloth"])
    elif code == "missing_wrong":
        t = r.choice(_MISSING[3:] if sub == "wrong" else _MISSING[:3])
        if "{qty}" in t and ln.qty < 2:
            t = _MISSING[1]
    elif code == "description":
        t = r.choice(_DESCRIPTION + (("跟直播间主播说的完全不一样",) if o.platform == "douyin" else ()))
    elif code == "logistics":
        sub = sub or ("slow" if o.delayed else r.choice(("damaged", "nodoor")))
        if sub == "slow" and o.ship_late and r.random() < 0.6:
            sub = "late_dispatch"
        t = r.choice(_LOGISTICS.get(sub, _LOGISTICS["damaged"]))
    elif code == "service":
        t = r.choice(_SERVICE)
    elif code == "price":
        t = r.choice(_PRICE)
    elif code == "malicious":
        t = r.choice(_MALICIOUS)
    else:
        t = r.choice(_OTHER_NEUTRAL)
    days, ship_days = 3, 3
    if o.delivered is not None and o.paid is not None:
        days = max(3, (o.delivered - o.paid).days + 1)
    if o.shipped is not None and o.paid is not None:
        ship_days = max(3, (o.shipped - o.paid).days + 1)
    hub = _hub(o.customer.geo[1])
    return t.format(size=size, qty=ln.qty, spec=spec_text, claim=_texts(p)[2], noun=p.noun, days=days,
                    hub=hub, carrier=o.carrier or "快递", amt=r.choice((10, 20, 30, 50)), ship_days=ship_days)


# ------------------------------------------------------------------ read-only views (tests, accuracy figures)
def _shop_of(demo: Any) -> Shop:
    """The in-memory shop of a :class:`~reviewops.demo.generate.DemoResult` (or the shop itself)."""
    g = getattr(demo, "_gen", demo)
    if not isinstance(g, Shop):
        raise TypeError(f"expected a DemoResult or the demo Shop, got {type(demo).__name__}")
    return g


def _ref(rv: _Review) -> dict[str, Any]:
    """How a review is found in the store: the platform's review id where its export carries it, else the order
    and the product's platform id (PDD's review export has no review id column)."""
    o = rv.order
    return {"platform": o.platform, "review_id": rv.review_id, "order_id": o.order_id,
            "product_id": rv.line.product.platform_id[o.platform], "rating_class": rv.cls}


def planted_bursts(demo: Any) -> list[dict[str, Any]]:
    """The same-IP bursts the demo planted, read-only: per burst its ``platform``, ``ip``, ``product_code`` and
    its bad ``reviews`` in posting order (each ``platform``, ``review_id``, ``order_id``, ``product_id``,
    ``rating_class``)."""
    g = _shop_of(demo)
    return [{"platform": b["platform"], "ip": b["ip"], "product_code": b["product"].code,
             "reviews": [_ref(ln.review) for o in b["orders"] for ln in o.lines
                         if ln.review is not None and ln.review.burst]}
            for b in g.bursts]


def planted_malicious(demo: Any) -> list[dict[str, Any]]:
    """Every review the demo wrote as malicious (risky buyers' extortion, the bursts, the malicious complaints),
    read-only, each ``platform``, ``review_id``, ``order_id``, ``product_id``, ``rating_class``: a detection outside
    them is a false positive. (Reviews whose extra code is malicious without the line being so are not among them.)"""
    g = _shop_of(demo)
    return [_ref(rv) for p in PLATFORMS for rv in g.reviews[p] if rv.malicious]
