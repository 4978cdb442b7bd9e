"""Customer-service chats of the demo shop (千牛 and 飞鸽): conversations around complaints, refunds and late
parcels, pre-sale questions, and the extortion chats of the risky buyers ("不给我退50块我就给差评")."""

from __future__ import annotations

import datetime as dt

from .catalogue import _money, _texts
from .reviews import _SIZE
from .shipments import _REFUND_REASON
from .shop import SHOPS, Shop, _Customer, _Line, _Order
from .timeline import H, _sec


# ------------------------------------------------------------------ chats
def make_chats(g: Shop) -> None:
    r = g.rng
    target = g.spec.conversations
    must: list[tuple[_Customer, _Order, _Line, str, dt.datetime]] = []
    maybe: list[tuple[_Customer, _Order, _Line, str, dt.datetime]] = []
    for platform in ("taobao", "douyin"):
        extorted: set[int] = set()
        for o in g.orders[platform]:
            c = o.customer
            for ln in o.lines:
                rv = ln.review
                if ln.issue == "malicious" and o.delivered is not None and id(c) not in extorted:
                    start = (rv.created if rv is not None else o.delivered) - _sec(r.uniform(2 * H, 30 * H))
                    start = max(start, o.delivered + _sec(600))
                    if start < g.now - dt.timedelta(hours=1):
                        must.append((c, o, ln, "extortion", start))
                        extorted.add(id(c))
                elif rv is not None and (rv.cls != "positive" or rv.hidden) and not rv.burst and rv.codes:
                    code = rv.codes[0]
                    if code in ("other", "malicious"):
                        continue
                    if r.random() < 0.5:
                        start = rv.created - _sec(r.uniform(1 * H, 40 * H))
                        start = max(start, (o.delivered or o.shipped) + _sec(600))
                        maybe.append((c, o, ln, code, start))
                elif ln.refund is not None and r.random() < 0.25 and ln.refund.reason_key != "cancel":
                    maybe.append((c, o, ln, "refund", ln.refund.applied - _sec(r.uniform(300, 3 * H))))
            if o.shipped is not None and o.delivered is None and o.delayed and r.random() < 0.3:
                t = o.promised_arrive + _sec(r.uniform(1 * H, 20 * H))
                if t < g.now - dt.timedelta(hours=1):
                    maybe.append((c, o, o.lines[0], "logistics", t))
    pool = must + maybe
    if len(pool) > target:
        keep = max(0, target - len(must))
        picked = r.sample(range(len(maybe)), keep) if keep < len(maybe) else list(range(len(maybe)))
        pool = must + [maybe[i] for i in sorted(picked)]
    need = max(0, target - len(pool))
    tb = [o for o in g.orders["taobao"] if o.paid is not None]
    dy = [o for o in g.orders["douyin"] if o.paid is not None]
    for _ in range(need):
        o = r.choice(tb) if (r.random() < 0.6 or not dy) else r.choice(dy)
        pool.append((o.customer, o, o.lines[0], "presale", o.created - _sec(r.uniform(300, 3 * H))))
    for c, o, ln, kind, start in pool:
        msgs = conversation(g, c, o, ln, kind, start)
        msgs = [m for m in msgs if m[0] < g.now]
        if msgs:
            g.convs[c.platform].append((c, o, kind, msgs))

def conversation(g: Shop, c: _Customer, o: _Order, ln: _Line, kind: str, start: dt.datetime
                 ) -> list[tuple[dt.datetime, str, str, str]]:
    r = g.rng
    shop = SHOPS[c.platform]
    agent = r.choice(shop.agents)
    p = ln.product
    rf = ln.refund
    script: list[tuple[str, str]] = []
    b = "buyer"
    a = "agent"
    if r.random() < 0.5:
        script.append(("bot", f"您好，我是{shop.bot}，很高兴为您服务，请问有什么可以帮您？"))
    if kind == "presale":
        q = r.choice((
            (f"在吗，这款{p.noun}有现货吗", "亲，有现货的哦，下午4点前付款当天发货~"),
            ("什么时候发货呀", "亲，付款后48小时内发货，一般当天就能发出~"),
            ("身高165体重110，选什么码", "亲，建议您选M码，穿着会比较合身哦~"),
            ("能便宜一点吗", "亲，现在下单领券立减10元，已经是活动价了哦~"),
            ("发什么快递", "亲，默认中通/圆通，偏远地区发邮政，可以备注哦~"),
            ("保质期到什么时候", "亲，都是本月新到的货，保质期还有10个月以上哦~"),
        ))
        script += [(b, q[0]), (a, q[1]), (b, r.choice(("好的", "好的谢谢", "那我拍了", "嗯嗯")))]
        if r.random() < 0.4:
            script.append((a, "不客气，有问题随时联系我们哦~"))
    elif kind == "extortion":
        amt = r.choice((30, 50, 50, 80, 100))
        script += [
            (b, f"你们这个{p.noun}有问题，{r.choice(_texts(p)[0])}"),
            (a, "亲，非常抱歉给您带来不便，麻烦您拍一下照片或视频，我们马上为您核实处理~"),
            (b, r.choice((f"不用那么麻烦，不给我退{amt}块我就给差评", f"给我返现{amt}，不然差评",
                          f"直接转我{amt}块钱红包，不然我每个号都给你们差评"))),
            (a, "亲，商品有问题我们一定按售后流程给您退换，但平台规定不能以返现的方式换取评价哦"),
            (b, r.choice(("那就等着差评吧", f"少废话，{amt}块钱，给了我就删评", "返现删评，你们自己看着办"))),
            (a, "亲，我们已经记录您反馈的问题，您可以申请退货退款，运费由我们承担"),
        ]
        if r.random() < 0.5:
            script.append((b, "不退钱的话我就投诉你们，再去别的平台发帖"))
    elif kind == "refund" and rf is not None:
        reason = _REFUND_REASON.get(rf.reason_key, _REFUND_REASON["other"])[0]
        script += [
            (b, f"你好，我申请了退款，原因是{reason}，麻烦处理一下"),
            (a, "亲，收到您的申请了，这边马上为您审核~"),
        ]
        if rf.need_return:
            script.append((a, "亲，已同意退货，请按退货地址寄回，运费险会自动理赔哦"))
        else:
            script.append((a, f"亲，已为您同意退款{_money(rf.amount_fen)}元，1-3个工作日原路返回"))
        script.append((b, r.choice(("好的", "谢谢", "行吧", "尽快哈"))))
    else:
        opener = {
            "logistics": (f"我的快递怎么还没到，都好几天了，单号{o.tracking_no or ''}".rstrip("，单号"),
                          "亲，非常抱歉让您久等了，这边马上帮您查询物流~",
                          "亲，查到包裹在中转站滞留了，已经联系快递加急处理，为表歉意给您发一张5元无门槛券"),
            "quality": (f"收到的{p.noun}{r.choice(_texts(p)[0])}",
                        "亲，非常抱歉！麻烦提供一下照片，我们这边核实一下",
                        "亲，核实是质量问题，给您安排退款或者补发，您看哪种更方便呢"),
            "size": (f"{p.noun}尺码不合适，{r.choice(_SIZE[p.size_kind or 'cloth']).format(size=ln.sku[-1] if ln.sku else 'M')}",
                     "亲，非常抱歉，您可以申请换码，来回运费由我们承担",
                     "亲，已为您登记换货，新尺码今天就安排发出"),
            "missing_wrong": ("少发了东西/发错了，你们怎么回事", "亲，非常抱歉，麻烦拍一下收到的商品和包装",
                              "亲，仓库核实确实是漏发错发了，马上为您补发，原商品不用寄回"),
            "description": ("收到的东西跟图片差太多了", "亲，非常抱歉，拍摄灯光可能有一些色差，麻烦发一下实物图",
                            "亲，理解您的感受，支持七天无理由退货，运费我们承担"),
            "service": ("怎么一直没人回复？", "亲，非常抱歉，咨询量比较大回复慢了，请问有什么可以帮您",
                        "亲，您的问题已经升级给售后主管处理，今天内一定给您答复"),
            "price": ("我刚买完就降价了，能退差价吗", "亲，请问您是哪天下单的呢，我帮您查一下价保",
                      "亲，在价保期内的，已为您申请退差价，1-3天到账"),
        }.get(kind, ("东西有点问题", "亲，请问具体是什么问题呢", "亲，已为您登记处理"))
        script += [(b, opener[0]), (a, opener[1])]
        if kind in ("quality", "description", "missing_wrong"):
            script.append((b, "[图片]"))
        if kind == "service":
            script.append((b, "我都问了三遍了，态度太差了"))
        script += [(a, opener[2]), (b, r.choice(("好吧", "行，尽快", "那你们快点", "嗯，谢谢", "这还差不多")))]
        if r.random() < 0.3:
            script.append((a, "感谢您的理解，祝您生活愉快~"))
    msgs: list[tuple[dt.datetime, str, str, str]] = []
    t = start
    for role, text in script:
        if role == "agent":
            slow = kind == "service" and not any(m[1] == "agent" for m in msgs)
            t = t + _sec(r.uniform(2 * H, 8 * H) if slow else r.uniform(10, 120))
        elif role == "bot":
            t = t + _sec(r.uniform(1, 4))
        else:
            t = t + _sec(r.uniform(15, 240))
        msgs.append((t, role, agent if role == "agent" else (shop.bot if role == "bot" else c.nick), text))
    return msgs


# ------------------------------------------------------------------ read-only view (tests, accuracy figures)
def planted_extortion(demo: object) -> list[dict[str, object]]:
    """The extortion conversations the demo planted, read-only: per conversation its ``platform``, ``order_id``,
    the ``reviews`` of that order's malicious lines (each ``platform``, ``review_id``, ``order_id``, ``product_id``,
    ``rating_class`` — a buyer may still post a good review after the chat; empty when the buyer posted none before
    as-of), the buyer messages written (``buyer_messages``) and when the chat starts and ends (``start``, ``end``)."""
    from .reviews import _ref, _shop_of

    g = _shop_of(demo)
    out: list[dict[str, object]] = []
    for platform in ("taobao", "douyin"):
        for _c, o, kind, msgs in g.convs[platform]:
            if kind != "extortion":
                continue
            out.append({"platform": platform, "order_id": o.order_id,
                        "reviews": [_ref(ln.review) for ln in o.lines
                                    if ln.issue == "malicious" and ln.review is not None],
                        "buyer_messages": [m[3] for m in msgs if m[1] == "buyer"],
                        "start": msgs[0][0], "end": msgs[-1][0]})
    return out
