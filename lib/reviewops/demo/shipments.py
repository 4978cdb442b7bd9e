"""Logistics and after-sales of the demo shop: each order's life (payment, dispatch, transit with its
delays and losses, drop-off at a 驿站, delivery, 确认收货), refunds and returns tied to orders, and the
carrier tracking events of outbound parcels and returns."""

from __future__ import annotations

import datetime as dt
import math

from .shop import (
    _STREETS,
    _SURNAMES,
    PLATFORMS,
    SHOPS,
    Shop,
    _Line,
    _Order,
    _pick,
    _Refund,
)
from .timeline import DAY, H, _sec

_REFUND_REASON = {
    "quality": ("质量问题", "商品质量问题"), "size": ("尺码不合适", "尺码不合适"),
    "missing_wrong": ("少件/漏发", "少件/漏发"), "wrong": ("卖家发错货", "商家发错货"),
    "description": ("商品与页面描述不符", "商品与描述不符"), "logistics": ("包装/商品破损/污渍", "物流问题"),
    "lost": ("快递/物流一直未送到", "物流问题"), "price": ("价格变化", "价格问题"),
    "malicious": ("质量问题", "商品质量问题"), "other": ("7天无理由退换货", "七天无理由"),
    "cancel": ("多拍/拍错/不想要", "拍错/不想要"), "service": ("其他", "其他"),
}
_CARRIERS = (("中通快递", 30), ("圆通速递", 24), ("韵达快递", 18), ("申通快递", 12), ("顺丰速运", 8), ("极兔速递", 8))
_CARRIERS_JD = (("京东物流", 90), ("顺丰速运", 10))
_DELAY_REASONS = ("天气原因", "运力不足", "分拣中心爆仓", "交通管制")


def lifecycle(g: Shop, o: _Order) -> None:
    r = g.rng
    now = g.now
    if o.platform != "pdd" and r.random() < 0.015:
        if now - o.created > dt.timedelta(days=1):
            o.closed_at = o.created + dt.timedelta(days=1)
            o.close_reason = "买家未付款"
        return
    o.paid = o.created + _sec(r.randint(5, 900))
    o.promised_ship = o.paid + dt.timedelta(hours=48)
    peak = o.created.month == 11 and 9 <= o.created.day <= 12
    o.ship_late = r.random() < (0.16 if peak else 0.04)
    hours = r.uniform(49, 110) if o.ship_late else min(46.0, r.lognormvariate(math.log(14), 0.6))
    shipped = o.paid + _sec(hours * H)
    # a few buyers cancel before dispatch
    if r.random() < 0.022:
        applied = o.paid + _sec(r.uniform(600, min(hours * H - 60, 20 * H)))
        if applied < now:
            rf = add_refund(g, o, None, "cancel", applied, full=True)
            if rf.state == "success":
                o.cancelled = True
                o.closed_at = rf.finished
                o.close_reason = "买家申请全额退款"
            return
    if shipped >= now:
        o.ship_late = o.ship_late and now > o.promised_ship
        return
    o.shipped = shipped
    o.carrier = _pick(r, _CARRIERS_JD if o.platform == "jd" else _CARRIERS)
    o.tracking_no = g.waybill(o.carrier)
    base = o.customer.geo[3]
    fast = o.carrier in ("顺丰速运", "京东物流")
    transit = (base * (0.6 if fast else 1.0) + r.uniform(-0.3, 0.6)) * DAY
    o.promised_arrive = shipped + dt.timedelta(hours=24 * math.ceil(base * (0.6 if fast else 1.0)) + 48)
    surge = dt.datetime(o.shipped.year, 11, 10) <= o.shipped <= dt.datetime(o.shipped.year, 11, 15)
    if r.random() < (0.22 if surge else 0.07):
        o.transit_delay = r.uniform(2.0, 6.0)
        transit += o.transit_delay * DAY
        o.stall_hub = r.random()
    if r.random() < 0.004:
        o.lost = True
        o.stall_hub = 0.5
        return
    delivered = shipped + _sec(max(transit, 0.4 * DAY))
    o.eta = delivered
    o.dropoff = r.random() < 0.22
    if o.dropoff:
        o.dropoff_at = delivered
        delivered = delivered + _sec(r.uniform(1 * H, 36 * H))
        if o.dropoff_at >= now:
            return
    if delivered >= now:
        return
    o.delivered = delivered
    if r.random() < 0.55:
        done = delivered + _sec(r.uniform(0.5 * H, 72 * H))
    elif o.platform in ("taobao", "pdd"):
        done = max(shipped + dt.timedelta(days=10), delivered + dt.timedelta(hours=1))
    else:
        done = delivered + dt.timedelta(days=7)
    if done < now:
        o.completed = done


def add_refund(g: Shop, o: _Order, ln: _Line | None, reason_key: str, applied: dt.datetime, *,
               full: bool, kind: str | None = None) -> _Refund:
    r = g.rng
    now = g.now
    rf = _Refund()
    rf.order, rf.line, rf.reason_key, rf.applied, rf.full = o, ln, reason_key, applied, full
    rf.refund_id = g.uid(lambda: "2" + g.digits(17)) if o.platform == "taobao" else \
        g.uid(lambda: "7" + g.digits(18))
    target = ln if ln is not None else None
    paid = target.paid_fen if target is not None else (o.goods_fen - o.discount_fen + o.fee_fen)
    if reason_key == "cancel":
        rf.kind, rf.need_return = "仅退款", False
    elif kind is not None:
        rf.kind, rf.need_return = kind, kind != "仅退款"
    elif reason_key in ("size", "other", "description", "wrong"):
        rf.kind, rf.need_return = "退货退款", True
    elif reason_key in ("missing_wrong", "price", "logistics", "lost", "service"):
        rf.kind, rf.need_return = "仅退款", False
    else:
        rf.kind = r.choice(("退货退款", "仅退款"))
        rf.need_return = rf.kind == "退货退款"
    if full or rf.need_return or reason_key == "lost":
        rf.amount_fen = paid
        rf.full = True
    else:
        share = {"price": 0.12, "logistics": 0.15, "missing_wrong": 0.5}.get(reason_key, 0.3)
        rf.amount_fen = max(500, int(paid * share) // 100 * 100)
        rf.amount_fen = min(rf.amount_fen, paid)
        rf.full = rf.amount_fen == paid
    rf.note = ""
    rf.return_at = rf.return_carrier = rf.return_no = None
    rf.agreed = applied + _sec(r.uniform(300, 20 * H))
    closed = r.random() < 0.1 and reason_key != "cancel"
    rf.phase = "售后" if (o.completed is not None and applied > o.completed) else "售中"
    shop = SHOPS[o.platform]
    rf.operator = f"{shop.name}:{r.choice(shop.agents)}"
    rf.responsible = {"logistics": "物流", "lost": "物流", "other": "买家", "cancel": "买家", "size": "买家",
                      "price": "卖家"}.get(reason_key, "卖家")
    if closed:
        rf.finished = applied + _sec(r.uniform(1 * DAY, 3 * DAY))
        rf.state = "closed" if rf.finished < now else "wait_seller_agree"
        rf.agreed = None
    elif rf.need_return:
        rf.return_at = rf.agreed + _sec(r.uniform(4 * H, 48 * H))
        rf.return_carrier = _pick(r, _CARRIERS)
        received = rf.return_at + _sec(r.uniform(1 * DAY, 3.5 * DAY))
        rf.finished = received + _sec(r.uniform(0.5 * H, 20 * H))
        if rf.agreed >= now:
            rf.state, rf.agreed, rf.return_at, rf.finished = "wait_seller_agree", None, None, None
        elif rf.return_at >= now:
            rf.state, rf.return_at, rf.finished = "wait_buyer_return", None, None
        elif rf.finished >= now:
            rf.state, rf.finished = "wait_seller_confirm", None
        else:
            rf.state = "success"
        if rf.return_at is not None:
            rf.return_no = g.waybill(rf.return_carrier)
    else:
        rf.finished = rf.agreed + _sec(r.uniform(5, 600))
        if rf.agreed >= now:
            rf.state, rf.agreed, rf.finished = "wait_seller_agree", None, None
        elif rf.finished >= now:
            rf.state, rf.finished = "wait_seller_agree", None
        else:
            rf.state = "success"
    o.refunds.append(rf)
    if ln is not None:
        ln.refund = rf
    return rf

def make_refunds(g: Shop) -> None:
    r = g.rng
    for platform in PLATFORMS:
        for o in g.orders[platform]:
            if o.delivered is None or o.burst:
                continue
            for ln in o.lines:
                key = ln.issue
                if key is None:
                    if r.random() < 0.03:
                        key = "other"
                    else:
                        continue
                elif key == "logistics":
                    if r.random() >= (0.6 if ln.sub == "lost" else 0.15):
                        continue
                    key = "lost" if ln.sub == "lost" else "logistics"
                elif key == "missing_wrong":
                    if r.random() >= 0.55:
                        continue
                    key = "wrong" if ln.sub == "wrong" else "missing_wrong"
                elif r.random() >= {"malicious": 0.6, "price": 0.3, "service": 0.1}.get(key, 0.45):
                    continue
                if o.completed is not None and r.random() < 0.6:
                    applied = o.completed + _sec(r.uniform(1 * H, 6 * DAY))
                else:
                    applied = o.delivered + _sec(r.uniform(2 * H, 4 * DAY))
                    if o.completed is not None and applied > o.completed:
                        applied = o.completed - _sec(r.uniform(60, 6 * H))
                        if applied <= o.delivered:
                            applied = o.delivered + _sec(120)
                if applied >= g.now:
                    continue
                rf = add_refund(g, o, ln, key, applied, full=False)
                # a whole-order refund before 确认收货 closes the trade
                if (rf.phase == "售中" and rf.state == "success" and rf.full and len(o.lines) == 1
                        and o.platform == "taobao"):
                    o.completed = None
                    o.closed_at = rf.finished
                    o.close_reason = "买家申请退款"


# ------------------------------------------------------------------ tracking
def events(g: Shop, o: _Order) -> list[tuple[dt.datetime, str, str, str]]:
    """Tracking events of an outbound shipment (oldest first): (time, status, place, text).

    Times are laid out inside the window from dispatch to the (planned) delivery, so they are
    strictly increasing; events after the export time are not yet known and are left out.
    """
    r = g.rng
    c = o.customer
    city = c.geo[1]
    dist = c.district
    carrier = o.carrier
    origin = "义乌市"
    site = f"{carrier}义乌{r.choice(('北苑', '稠城', '后宅', '廿三里'))}网点"
    dest_hub = _hub(city)
    out: list[tuple[dt.datetime, str, str, str]] = []
    if o.lost:
        t0 = o.shipped + _sec(r.uniform(0.3 * H, 5 * H))
        t1 = t0 + _sec(r.uniform(2 * H, 7 * H))
        t2 = t1 + _sec(r.uniform(1 * H, 4 * H))
        t3 = t2 + _sec(r.uniform(1 * DAY, 2 * DAY))
        out += [(t0, "揽收", origin, f"【{origin}】您的快件已由【{site}】揽收"),
                (t1, "在途", "金华市", "【金华市】快件已到达【金华转运中心】"),
                (t2, "在途", "金华市", f"【金华市】快件已离开【金华转运中心】，发往【{dest_hub}】"),
                (t3, "在途", city, f"【{city}】快件已到达【{dest_hub}】"),
                (t3 + _sec(r.uniform(2 * H, 30 * H)), "疑难", city,
                 f"【{city}】快件在【{dest_hub}】出现异常，正在核实处理中，给您带来不便敬请谅解")]
        return [e for e in out if e[0] < g.now]
    deliver_at = o.dropoff_at or o.eta
    w = (deliver_at - o.shipped).total_seconds()
    t0 = o.shipped + _sec(min(r.uniform(0.3 * H, 5 * H), 0.1 * w))
    t1 = t0 + _sec(min(r.uniform(2 * H, 7 * H), 0.15 * w))
    t2 = t1 + _sec(min(r.uniform(1 * H, 4 * H), 0.1 * w))
    a = min(r.uniform(6 * H, 16 * H), 0.3 * w)
    arrive = deliver_at - _sec(a)
    leave = arrive + _sec(a * r.uniform(0.15, 0.35))
    to_door = deliver_at - _sec(a * r.uniform(0.05, 0.3))
    out.append((t0, "揽收", origin, f"【{origin}】您的快件已由【{site}】揽收"))
    out.append((t1, "在途", "金华市", "【金华市】快件已到达【金华转运中心】"))
    out.append((t2, "在途", "金华市", f"【金华市】快件已离开【金华转运中心】，发往【{dest_hub}】"))
    if o.transit_delay:
        stall = t2 + _sec((arrive - t2).total_seconds() * r.uniform(0.2, 0.6))
        at_dest = o.stall_hub > 0.5
        place, hub = (city, dest_hub) if at_dest else ("金华市", "金华转运中心")
        out.append((stall, "在途", place,
                     f"【{place}】快件在【{hub}】滞留，原因：{r.choice(_DELAY_REASONS)}，我们将尽快为您派送"))
    out.append((arrive, "在途", city, f"【{city}】快件已到达【{dest_hub}】"))
    out.append((leave, "在途", city, f"【{city}】快件已离开【{dest_hub}】，发往【{dist}营业部】"))
    out.append((to_door, "派件", city, f"【{city}】【{dist}营业部】派件员：{r.choice(_SURNAMES)}师傅 正在为您派件"))
    if o.dropoff_at is not None:
        out.append((o.dropoff_at, "派件", city,
                    f"【{city}】快件已放入【{dist}{r.choice(_STREETS)}驿站】，请凭取件码及时取件"))
        if o.delivered is not None:
            out.append((o.delivered, "签收", city, f"【{city}】已签收，签收人凭取件码签收。感谢使用{carrier}"))
    elif o.delivered is not None:
        who = r.choice(("本人", "本人", "家人", "门卫", "前台"))
        out.append((o.delivered, "签收", city,
                    f"【{city}】快件已签收，签收人：{who}。感谢使用{carrier}，期待再次为您服务"))
    return [e for e in out if e[0] < g.now]

def return_events(g: Shop, rf: _Refund) -> list[tuple[dt.datetime, str, str, str]]:
    r = g.rng
    city = rf.order.customer.geo[1]
    t0 = rf.return_at
    out = [(t0, "揽收", city, f"【{city}】您的快件已由【{rf.return_carrier}{rf.order.customer.district}网点】揽收")]
    t1 = t0 + _sec(r.uniform(5 * H, 1.5 * DAY))
    out.append((t1, "在途", "金华市", "【金华市】快件已到达【金华转运中心】"))
    if rf.state == "success" and rf.finished is not None:
        sign = rf.finished - _sec(r.uniform(1 * H, 10 * H))
        if sign > t1:
            out.append((sign, "签收", "义乌市", "【义乌市】快件已签收，签收人：禾木优选售后仓。感谢使用"))
    return [e for e in out if e[0] < g.now]


def _hub(city: str) -> str:
    return f"{city[:-1] if city.endswith('市') else city}转运中心"
