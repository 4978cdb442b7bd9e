"""The platform export writers: the demo shop written as genuine-format files — Taobao/Tmall legacy order
reports and refund export in GBK, Douyin order and after-sales CSVs with tab-prefixed cells, Pinduoduo
order and review CSVs, a JD order CSV in GBK with a totals row, review workbooks, 千牛 and 飞鸽 chat logs,
carrier tracking events, the catalogue and the listing exports (淘宝助理 CSV, provisional Douyin/PDD/JD 商品列表,
:meth:`_Writer.listings`) — with the exact headers of :mod:`reviewops.intake.layouts`
(the first alias of each field) plus the unmapped columns a real export carries (``reference/exports.md``),
in their genuine column order where it is known. XLSX files carry a fixed creation time (as-of)."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..intake.clean import RATING_CLASS_ZH
from .catalogue import Product, _money
from .catalogue import _texts as _product_texts
from .shipments import _REFUND_REASON, events, return_events
from .shop import PLATFORMS, SHOPS, Shop, _Order, _Refund, _Review
from .timeline import _sec, _ts


@dataclass
class ExportFile:
    """One written export and how to import it."""

    path: Path
    platform: str
    kind: str
    layout: str
    encoding: str
    rows: int
    shop: str | None = None  # passed to the importer when the file has no 店铺名称 column

    @property
    def name(self) -> str:
        return self.path.name


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], *, encoding: str,
         quote_all: bool = False, banner: Sequence[Sequence[str]] = (), footer: Sequence[str] | None = None) -> int:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator="\r\n")
        for b in banner:
            w.writerow(b)
        w.writerow(header)
        w.writerows(rows)
        if footer is not None:
            w.writerow(footer)
    return len(rows)


def _xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]], created: dt.datetime,
          title: str) -> int:
    import xlsxwriter

    big = sum(len(s[2]) for s in sheets) > 2000
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": big, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": created, "title": title, "author": "", "company": ""})
    head = wb.add_format({"bold": True})
    total = 0
    for name, header, rows in sheets:
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, list(header), head)
        for i, row in enumerate(rows, start=1):
            for j, v in enumerate(row):
                if v is None or v == "":
                    continue
                if isinstance(v, int):
                    ws.write_number(i, j, v)
                else:
                    ws.write_string(i, j, str(v))
        total += len(rows)
    wb.close()
    return total


def _q(v: str) -> str:
    """Taobao/WDT style ``="…"`` wrapper that keeps Excel from turning an id into a number."""
    return f'="{v}"'


def _tab(v: Any) -> str:
    """Douyin/PDD style tab prefix (every cell), ``-`` for empty."""
    s = "" if v is None else str(v)
    return "\t" + (s if s != "" else "-")


def _spec_tb(p: Product, sku: tuple[str, ...], sep: str = "：", join: str = ";") -> str:
    return join.join(f"{name}{sep}{v}" for (name, _), v in zip(p.dims, sku))


class _Writer:
    def __init__(self, g: Shop, out: Path, *, suffix: str = "", orders: dict[str, list[_Order]] | None = None,
                 reviews: dict[str, list[_Review]] | None = None) -> None:
        self.g = g
        self.out = out
        self.now = g.now
        self.stamp = g.now.strftime("%Y%m%d%H%M")
        self.suffix = suffix  # a later export beside the first ones (demo_aftermath): same layout, own name
        self.only_orders = orders
        self.only_reviews = reviews
        self.files: list[ExportFile] = []

    def orders_of(self, platform: str) -> list[_Order]:
        return self.g.orders[platform] if self.only_orders is None else self.only_orders.get(platform, [])

    def reviews_of(self, platform: str) -> list[_Review]:
        return self.g.reviews[platform] if self.only_reviews is None else self.only_reviews.get(platform, [])

    def add(self, name: str, platform: str, kind: str, layout: str, encoding: str, rows: int,
            shop: str | None = None) -> None:
        self.files.append(ExportFile(self.out / name, platform, kind, layout, encoding, rows, shop))

    # --------------------------------------------------------------- status strings
    def tb_status(self, o: _Order) -> str:
        if o.closed_at is not None or o.cancelled:
            return "交易关闭"
        if o.paid is None:
            return "等待买家付款"
        if o.shipped is None:
            return "买家已付款，等待卖家发货"
        if o.completed is None:
            return "卖家已发货，等待买家确认"
        return "交易成功"

    def dy_status(self, o: _Order) -> str:
        if o.closed_at is not None or o.cancelled:
            return "已关闭"
        if o.paid is None:
            return "待支付"
        if o.shipped is None:
            return "待发货"
        return "已完成" if o.completed is not None else "已发货"

    def pdd_status(self, o: _Order) -> str:
        refunded = any(rf.state == "success" and rf.full for rf in o.refunds)
        if o.cancelled:
            return "未发货，退款成功"
        if o.shipped is None:
            return "待发货"
        if o.completed is not None:
            return "已签收，退款成功" if refunded else "已收货"
        if o.delivered is not None:
            return "已签收，退款成功" if refunded else "已签收"
        return "已发货，退款成功" if refunded else "已发货，待签收"

    def jd_status(self, o: _Order) -> str:
        if o.cancelled or o.closed_at is not None:
            return "已取消"
        if o.paid is None:
            return "等待付款"
        if o.shipped is None:
            return "等待出库"
        return "完成" if o.completed is not None else "等待确认收货"

    @staticmethod
    def dy_refund_state(rf: _Refund | None) -> str:
        if rf is None:
            return "-"
        return {"success": "退款成功", "closed": "售后关闭"}.get(rf.state, "售后处理中")

    # --------------------------------------------------------------- Taobao
    def taobao_orders(self) -> None:
        g = self.g
        shop = SHOPS["taobao"]
        head = ["订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "买家支付积分", "总金额",
                "返点积分", "买家实际支付金额", "买家实际支付积分", "订单状态", "买家留言", "收货人姓名", "收货地址",
                "运送方式", "联系电话", "联系手机", "订单创建时间", "订单付款时间", "宝贝标题", "宝贝种类", "物流单号",
                "物流公司", "订单备注", "宝贝总数量", "店铺Id", "店铺名称", "订单关闭原因", "卖家服务费", "买家服务费",
                "发票抬头", "是否手机订单", "分阶段订单信息", "特权订金订单id", "定金排名", "修改后的sku",
                "修改后的收货地址", "异常信息", "天猫卡券抵扣", "集分宝抵扣", "是否是O2O交易", "打款商家金额",
                "确认收货时间"]
        rows, lines = [], []
        orders = sorted(self.orders_of("taobao"), key=lambda o: o.created, reverse=True)
        r = random.Random(g.seed + 1)
        for o in orders:
            c = o.customer
            goods = o.goods_fen - o.discount_fen
            total = goods + o.fee_fen
            paid = total if o.paid is not None else 0
            refunded = sum(rf.amount_fen for rf in o.refunds if rf.state == "success")
            status = self.tb_status(o)
            titles = "，".join(ln.product.listing_title("taobao") for ln in o.lines)
            alipay = (c.phone if r.random() < 0.7 else c.nick[:2] + "***@163.com")
            rows.append([
                _q(o.order_id), c.nick, alipay, _money(goods), _money(o.fee_fen), "0", _money(total),
                str(total // 100 // 2 if o.completed else 0), _money(paid), "0", status, o.buyer_msg, c.name,
                f"{c.geo[0]} {c.geo[1]} {c.district} {c.street}***号", "快递", "", "'" + c.phone, _ts(o.created),
                _ts(o.paid), titles, str(len(o.lines)), o.tracking_no or "", o.carrier or "", o.memo,
                str(sum(ln.qty for ln in o.lines)), shop.numeric_id, shop.name,
                (o.close_reason or "订单未关闭") if status == "交易关闭" else "订单未关闭", "0.00", "0.00", "",
                "手机订单" if r.random() < 0.9 else "", "", "", "", "", "", "", "0.00", "0.00", "",
                (_money(max(0, paid - refunded)) + "元") if o.completed else "0.00元", _ts(o.completed),
            ])
            for ln in o.lines:
                p = ln.product
                lines.append([
                    _q(o.order_id), p.listing_title("taobao"), _money(ln.unit_fen), str(ln.qty), p.sku_code(ln.sku),
                    _spec_tb(p, ln.sku), "", "", status, p.code,
                ])
        name = f"ExportOrderList{self.stamp}{self.suffix}.csv"
        self.add(name, "taobao", "orders", "taobao_orders_legacy", "gbk",
                 _csv(self.out / name, head, rows, encoding="gbk"))
        head2 = ["订单编号", "标题", "价格", "购买数量", "外部系统编号", "商品属性", "套餐信息", "备注", "订单状态", "商家编码"]
        name = f"ExportOrderDetailList{self.stamp}{self.suffix}.csv"
        self.add(name, "taobao", "orders", "taobao_order_lines_legacy", "gbk",
                 _csv(self.out / name, head2, lines, encoding="gbk"), shop=shop.name)

    def taobao_refunds(self) -> None:
        g = self.g
        shop = SHOPS["taobao"]
        head = ["订单编号", "退款编号", "支付宝交易号", "订单付款时间", "商品编码", "退款完结时间", "买家实际支付金额",
                "宝贝标题", "买家退款金额", "手工退款/系统退款", "是否需要退货", "退款的申请时间", "超时时间", "退款状态",
                "货物状态", "退货物流信息", "发货物流信息", "客服介入状态", "卖家真实姓名", "卖家真实姓名新",
                "卖家退货地址", "卖家邮编", "卖家电话", "卖家手机", "退货物流单号", "退货物流公司", "买家退款原因",
                "买家退款说明", "买家退货时间", "责任方", "售中或售后", "商家备注", "完结时间", "部分退款/全部退款",
                "审核操作人", "举证超时", "是否零秒响应", "退款操作人", "退款原因标签", "业务类型", "是否帮他退款",
                "帮他退款操作账号"]
        states = {"success": "退款成功", "closed": "退款关闭", "wait_seller_agree": "买家已经申请退款，等待卖家同意",
                  "wait_buyer_return": "卖家已经同意退款，等待买家退货",
                  "wait_seller_confirm": "买家已经退货，等待卖家确认收货"}
        rows = []
        refunds = sorted((rf for o in g.orders["taobao"] for rf in o.refunds), key=lambda x: x.applied, reverse=True)
        r = random.Random(g.seed + 2)
        for rf in refunds:
            o = rf.order
            ln = rf.line or o.lines[0]
            p = ln.product
            reason, tag = _REFUND_REASON[rf.reason_key]
            note = "" if rf.reason_key == "cancel" else (
                _complaint_note(rf) if r.random() < 0.7 else "")
            done = rf.finished if rf.state in ("success", "closed") else None
            if rf.state == "success":
                goods_state = "买家已退货" if rf.need_return else ("买家未收到货" if o.delivered is None else "买家已收到货")
            else:
                goods_state = "买家未收到货" if o.delivered is None else "买家已收到货"
            rows.append([
                _q(o.order_id), _q(rf.refund_id), _q(o.paid.strftime("%Y%m%d") + "22001" + f"{r.randrange(10 ** 15):015d}"),
                _ts(o.paid), p.platform_id["taobao"], _ts(done), _money(o.paid_fen), p.listing_title("taobao"),
                _money(rf.amount_fen), "系统退款", "是" if rf.need_return else "否", _ts(rf.applied),
                _ts(rf.applied + dt.timedelta(days=2)) if rf.state.startswith("wait") else "", states[rf.state],
                goods_state, f"{rf.return_carrier},{rf.return_no}" if rf.return_no else "",
                f"{o.carrier},{o.tracking_no}" if o.tracking_no else "", "未介入" if r.random() < 0.93 else "客服已介入",
                "禾木优选", "禾木优选", "浙江省 金华市 义乌市 北苑街道 春晗路***号 禾木优选售后部", "322000", "",
                "'139****2266", rf.return_no or "", rf.return_carrier if rf.return_no else "", reason, note,
                _ts(rf.return_at), rf.responsible, rf.phase, "", _ts(done),
                "全部退款" if rf.full else "部分退款", rf.operator if rf.agreed else "", "否", "是" if r.random() < 0.3 else "否",
                rf.operator if rf.state == "success" else "", tag, rf.kind, "否", "",
            ])
        banner = [[f"店铺：{shop.name}", f"导出时间：{_ts(self.now)}"], ["退款管理-退款记录导出"]]
        name = f"淘宝退款管理导出_{self.stamp}{self.suffix}.csv"
        self.add(name, "taobao", "refunds", "taobao_refunds", "gbk",
                 _csv(self.out / name, head, rows, encoding="gbk", banner=banner), shop=shop.name)

    def taobao_reviews(self) -> None:
        shop = SHOPS["taobao"]
        head = ["评价ID", "订单编号", "宝贝ID", "宝贝标题", "商品属性", "买家昵称", "评价结果", "物流服务评分", "评价内容",
                "评价时间", "追评内容", "追评时间", "解释内容", "解释时间", "是否有图", "评价图片", "评价标签", "IP地址",
                "店铺名称"]
        cls = RATING_CLASS_ZH
        rows = []
        for rv in self.reviews_of("taobao"):
            o, ln, p = rv.order, rv.line, rv.line.product
            rows.append([
                rv.review_id, o.order_id, p.platform_id["taobao"], p.listing_title("taobao"),
                _spec_tb(p, ln.sku, ":"), rv.nick_shown, cls[rv.cls], rv.score_log, rv.content, _ts(rv.created),
                rv.append or "", _ts(rv.append_at), rv.reply or "", _ts(rv.reply_at), "是" if rv.media else "否",
                _media(rv) if rv.media else "", rv.tags, rv.ip, shop.name,
            ])
        name = f"淘宝评价导出_{self.stamp}{self.suffix}.xlsx"
        self.add(name, "taobao", "reviews", "taobao_reviews", "xlsx",
                 _xlsx(self.out / name, [("评价列表", head, rows)], self.now, "评价导出"))

    def taobao_chats(self) -> None:
        g = self.g
        shop = SHOPS["taobao"]
        head = ["客户名", "消息序号", "发送时间", "发送内容", "发送账号", "账号类型", "店铺名称"]
        convs = sorted(g.convs["taobao"], key=lambda x: (x[3][0][0], x[0].nick))
        by_customer: dict[str, list[tuple[dt.datetime, str, str, str]]] = {}
        for c, _o, _k, msgs in convs:
            by_customer.setdefault(c.nick, []).extend(msgs)
        rows, summary = [], []
        role_zh = {"buyer": "买家", "agent": "客服", "bot": "机器人"}
        for nick, msgs in by_customer.items():
            msgs.sort(key=lambda m: m[0])
            for i, (t, role, sender, text) in enumerate(msgs, start=1):
                account = nick if role == "buyer" else f"{shop.name}:{sender}"
                rows.append([nick, i, _ts(t), text, account, role_zh[role], shop.name])
            summary.append([nick, len(msgs), _ts(msgs[0][0]), _ts(msgs[-1][0])])
        name = f"千牛聊天记录导出_{self.stamp}{self.suffix}.xlsx"
        sheets = [("导出汇总", ["客户名", "消息条数", "首条消息时间", "末条消息时间"], summary), ("聊天记录", head, rows)]
        _xlsx(self.out / name, sheets, self.now, "聊天记录导出")
        self.add(name, "taobao", "chats", "taobao_chats_userscript", "xlsx", len(rows))

    # --------------------------------------------------------------- Douyin
    _DY_HEAD = ("主订单编号", "子订单编号", "选购商品", "商品规格", "商品数量", "商品ID", "商家编码", "商品单价", "订单应付金额",
                "运费", "优惠总金额", "平台优惠", "商家优惠", "达人优惠", "商家改价", "支付优惠", "红包抵扣", "支付方式",
                "手续费", "收件人", "收件人手机号", "省", "市", "区", "街道", "详细地址", "是否修改过地址", "地址修改时段",
                "买家留言", "订单提交时间", "旗帜颜色", "商家备注", "订单完成时间", "支付完成时间", "APP渠道", "流量来源",
                "订单状态", "承诺发货时间", "订单类型", "鲁班落地页ID", "达人ID", "达人昵称", "所属门店ID", "售后状态",
                "取消原因", "预约发货时间", "仓库ID", "仓库名称", "序列号", "是否安心购", "广告渠道", "流量类型", "流量体裁",
                "流量渠道", "发货主体", "发货主体明细", "发货时间", "降价类优惠", "平台实际承担优惠金额", "商家实际承担优惠金额",
                "达人实际承担优惠金额", "预计送达时间", "是否平台仓自流转", "车型", "商品69码", "发货SN码", "发货IMEI码1",
                "发货IMEI码2", "预约送达时间", "建议发货时间（起）", "建议发货时间（止）", "物流SN码", "物流IMEI码1",
                "物流IMEI码2", "快递信息", "店铺名称")

    def douyin_orders(self) -> None:
        g = self.g
        shop = SHOPS["douyin"]
        r = random.Random(g.seed + 3)
        rows = []
        for o in sorted(self.orders_of("douyin"), key=lambda o: o.created, reverse=True):
            c = o.customer
            for ln in o.lines:
                p = ln.product
                d = {h: "" for h in self._DY_HEAD}
                d.update({
                    "主订单编号": o.order_id, "子订单编号": ln.line_id, "选购商品": p.listing_title("douyin"),
                    "商品规格": ";".join(ln.sku), "商品数量": str(ln.qty), "商品ID": p.platform_id["douyin"],
                    "商家编码": p.sku_code(ln.sku), "商品单价": _money(ln.unit_fen),
                    "订单应付金额": _money(o.paid_fen), "运费": _money(o.fee_fen), "优惠总金额": _money(o.discount_fen),
                    "平台优惠": "0.00", "商家优惠": _money(o.discount_fen), "达人优惠": "0.00", "商家改价": "0.00",
                    "支付优惠": "0.00", "红包抵扣": "0.00",
                    "支付方式": r.choice(("抖音支付", "微信", "支付宝", "抖音月付")) if o.paid else "",
                    "手续费": "0.00",
                    "收件人": ("##" + _cipher(r, 24) + "##") if o.cipher else c.name,
                    "收件人手机号": ("$$" + _cipher(r, 28) + "$$") if o.cipher else c.phone,
                    "省": c.geo[0], "市": c.geo[1], "区": c.district, "街道": "",
                    "详细地址": ("##" + _cipher(r, 32) + "##") if o.cipher else f"{c.street}***号",
                    "是否修改过地址": "否", "买家留言": o.buyer_msg, "订单提交时间": _ts(o.created),
                    "商家备注": o.memo, "订单完成时间": _ts(o.completed), "支付完成时间": _ts(o.paid),
                    "APP渠道": r.choice(("抖音", "抖音", "抖音极速版", "抖音火山版")),
                    "流量来源": "直播" if o.influencer else r.choice(("商品卡", "短视频", "搜索")),
                    "订单状态": self.dy_status(o), "承诺发货时间": _ts(o.promised_ship), "订单类型": "普通订单",
                    "达人ID": o.influencer[1] if o.influencer else "", "达人昵称": o.influencer[0] if o.influencer else "",
                    "售后状态": self.dy_refund_state(ln.refund), "取消原因": "买家取消" if o.cancelled else "",
                    "是否安心购": "否", "发货主体": "商家", "发货时间": _ts(o.shipped),
                    "平台实际承担优惠金额": "0.00", "商家实际承担优惠金额": _money(o.discount_fen),
                    "达人实际承担优惠金额": "0.00", "预计送达时间": _ts(o.promised_arrive), "是否平台仓自流转": "否",
                    "快递信息": o.tracking_no or "", "店铺名称": shop.name,
                })
                rows.append([_tab(d[h]) for h in self._DY_HEAD])
        epoch = int(g.as_of.timestamp())
        name = f"{epoch}_抖店订单导出{self.suffix}.csv"
        self.add(name, "douyin", "orders", "douyin_orders", "utf-8-sig",
                 _csv(self.out / name, self._DY_HEAD, rows, encoding="utf-8-sig", quote_all=True))

    def douyin_aftersales(self) -> None:
        g = self.g
        shop = SHOPS["douyin"]
        head = ["售后单号", "订单号", "商品单号", "商品名称", "商品ID", "应付金额（元）", "商品运费（元）", "支付优惠（元）",
                "商品税费（元）", "商品发货状态", "售后类型", "退商品金额（元）", "退运费金额（元）", "退支付优惠（元）",
                "退税费金额（元）", "售后状态", "售后申请时间", "退款方式", "是否已上传退款凭证", "售后原因", "售后原因标签",
                "退货物流单号", "退货异常", "退货发货时间", "退货物流公司", "自动处理截止时间", "同意售后申请时间",
                "商家退款时间", "用户到账时间", "售后关闭时间", "商家退货地址", "商家退货联系人姓名", "商家退货联系人电话",
                "仲裁状态", "纠纷责任方", "是否极速退款", "是否拒签后退款", "发货物流单号", "发货物流状态", "换货物流单号",
                "退货物流状态", "售后完结时间", "订单备注", "用户售后说明", "售后备注", "操作人", "协商记录", "换货商品信息",
                "商家编码", "门店名称"]
        states = {"success": "退款成功", "closed": "售后关闭", "wait_seller_agree": "待商家处理",
                  "wait_buyer_return": "待买家退货", "wait_seller_confirm": "待商家收货"}
        r = random.Random(g.seed + 4)
        rows = []
        refunds = sorted((rf for o in g.orders["douyin"] for rf in o.refunds), key=lambda x: x.applied, reverse=True)
        for rf in refunds:
            o = rf.order
            ln = rf.line or o.lines[0]
            p = ln.product
            reason, tag = _REFUND_REASON[rf.reason_key]
            kind = {"仅退款": "仅退款", "退货退款": "退货退款"}[rf.kind]
            if rf.reason_key == "cancel":
                kind = "仅退款（未发货）"
            refunded = rf.state == "success"
            rows.append([_tab(v) for v in (
                rf.refund_id, o.order_id, ln.line_id, p.listing_title("douyin"), p.platform_id["douyin"],
                _money(ln.paid_fen), "0.00", "0.00", "0.00", "未发货" if o.shipped is None else "已发货", kind,
                _money(rf.amount_fen), "0.00", "0.00", "0.00", states[rf.state], _ts(rf.applied), "原路退回", "否",
                reason, tag, rf.return_no or "", "", _ts(rf.return_at), rf.return_carrier if rf.return_no else "",
                _ts(rf.applied + dt.timedelta(days=2)) if rf.state.startswith("wait") else "", _ts(rf.agreed),
                _ts(rf.finished) if refunded else "", _ts(rf.finished + _sec(r.uniform(60, 3600))) if refunded else "",
                _ts(rf.finished) if rf.state == "closed" else "",
                "浙江省金华市义乌市北苑街道春晗路***号" if rf.need_return else "", "禾木售后" if rf.need_return else "",
                "139****2266" if rf.need_return else "", "未仲裁", rf.responsible, "是" if r.random() < 0.2 else "否", "否",
                o.tracking_no or "", "已签收" if o.delivered else ("运输中" if o.shipped else ""), "",
                ("已签收" if rf.state == "success" else "运输中") if rf.return_no else "",
                _ts(rf.finished) if rf.state in ("success", "closed") else "", "",
                _complaint_note(rf) if rf.reason_key != "cancel" and r.random() < 0.6 else "", "", rf.operator,
                "", "", p.sku_code(ln.sku), shop.name,
            )])
        name = f"抖店售后单导出_{self.stamp}{self.suffix}.csv"
        self.add(name, "douyin", "refunds", "douyin_aftersales", "utf-8-sig",
                 _csv(self.out / name, head, rows, encoding="utf-8-sig", quote_all=True))

    def douyin_reviews(self) -> None:
        shop = SHOPS["douyin"]
        head = ["评价ID", "订单号", "子订单号", "商品ID", "商品名称", "商品规格", "用户昵称", "商品评分", "物流评分", "服务评分",
                "评价内容", "评价时间", "追评内容", "追评时间", "商家回复", "回复时间", "评价图片", "评价标签", "IP地址",
                "店铺名称"]
        rows = []
        for rv in self.reviews_of("douyin"):
            o, ln, p = rv.order, rv.line, rv.line.product
            rows.append([
                rv.review_id, o.order_id, ln.line_id, p.platform_id["douyin"], p.listing_title("douyin"),
                ";".join(ln.sku), rv.nick_shown, rv.score, rv.score_log, rv.score_srv, rv.content, _ts(rv.created),
                rv.append or "", _ts(rv.append_at), rv.reply or "", _ts(rv.reply_at), _media(rv) if rv.media else "",
                rv.tags, rv.ip, shop.name,
            ])
        name = f"抖店评价导出_{self.stamp}{self.suffix}.xlsx"
        self.add(name, "douyin", "reviews", "douyin_reviews", "xlsx",
                 _xlsx(self.out / name, [("评价管理", head, rows)], self.now, "评价导出"))

    def douyin_chats(self) -> None:
        g = self.g
        shop = SHOPS["douyin"]
        head = ["序号", "消费者昵称", "客服昵称", "发送方", "消息内容", "发送时间", "订单号", "店铺名称"]
        role_zh = {"buyer": "消费者", "agent": "客服", "bot": "智能客服"}
        rows = []
        convs = sorted(g.convs["douyin"], key=lambda x: (x[3][0][0], x[0].nick))
        for c, o, _k, msgs in convs:
            agent = next((m[2] for m in msgs if m[1] == "agent"), shop.agents[0])
            for i, (t, role, _sender, text) in enumerate(msgs, start=1):
                rows.append([i, c.nick, agent, role_zh[role], text, _ts(t), o.order_id if o else "", shop.name])
        name = f"飞鸽历史会话_{self.stamp}{self.suffix}.xlsx"
        self.add(name, "douyin", "chats", "douyin_chats_feige", "xlsx",
                 _xlsx(self.out / name, [("历史会话", head, rows)], self.now, "飞鸽历史会话"))

    # --------------------------------------------------------------- PDD
    _PDD_HEAD = ("商品", "订单号", "订单状态", "商品总价（元）", "店铺优惠折扣(元)", "平台优惠折扣(元)", "邮费(元)",
                 "上门安装费(元)", "送货入户费(元)", "送货入户并安装费(元)", "用户实付金额(元)", "商品数量(件)", "身份证姓名",
                 "身份证号码", "收货人", "手机", "是否异常", "省", "市", "区", "街道", "支付时间", "拼单成功时间",
                 "订单确认时间", "承诺发货时间", "发货时间", "确认收货时间", "商品id", "商品规格", "用户购买手机号",
                 "样式ID", "商家编码-SKU维度", "商家编码-商品维度", "快递单号", "快递公司", "海淘清关订单号", "支付ID",
                 "支付方式", "是否抽奖或0元试用", "是否顺丰加价", "商家备注", "售后状态", "买家留言", "关联货品编码",
                 "货品名称", "货品类型", "子货品", "仓库名称", "仓库所在地址", "退款金额(元)", "店铺名称")

    def pdd_orders(self) -> None:
        g = self.g
        shop = SHOPS["pdd"]
        r = random.Random(g.seed + 5)
        rows = []
        for o in sorted(self.orders_of("pdd"), key=lambda o: o.created, reverse=True):
            c = o.customer
            ln = o.lines[0]
            p = ln.product
            refunds = [rf for rf in o.refunds if rf.state == "success"]
            after = "无售后或售后取消"
            if o.refunds:
                st = o.refunds[-1].state
                after = "退款成功" if st == "success" else ("无售后或售后取消" if st == "closed" else "售后处理中")
            phone = (c.phone[:3] + g.digits(8) + "-" + g.digits(4)) if r.random() < 0.3 else c.phone
            d = {h: "" for h in self._PDD_HEAD}
            d.update({
                "商品": p.listing_title("pdd"), "订单号": o.order_id, "订单状态": self.pdd_status(o),
                "商品总价（元）": _money(o.goods_fen), "店铺优惠折扣(元)": _money(o.discount_fen), "平台优惠折扣(元)": "0.00",
                "邮费(元)": _money(o.fee_fen), "上门安装费(元)": "0.00", "送货入户费(元)": "0.00",
                "送货入户并安装费(元)": "0.00", "用户实付金额(元)": _money(o.paid_fen), "商品数量(件)": str(ln.qty),
                "收货人": c.name, "手机": phone, "是否异常": "否", "省": c.geo[0], "市": c.geo[1], "区": c.district,
                "街道": f"{c.street}***号", "支付时间": _ts(o.paid), "拼单成功时间": _ts(o.paid + _sec(r.uniform(1, 30))),
                "订单确认时间": _ts(o.paid + _sec(r.uniform(30, 120))), "承诺发货时间": _ts(o.promised_ship),
                "发货时间": _ts(o.shipped), "确认收货时间": _ts(o.completed), "商品id": p.platform_id["pdd"],
                "商品规格": ",".join(ln.sku), "样式ID": p.sku_ids[ln.sku], "商家编码-SKU维度": p.sku_code(ln.sku),
                "商家编码-商品维度": p.code, "快递单号": o.tracking_no or "", "快递公司": o.carrier or "",
                "支付ID": "4200" + g.digits(24), "支付方式": r.choice(("微信", "支付宝", "多多支付")),
                "是否抽奖或0元试用": "否", "是否顺丰加价": "否", "商家备注": o.memo, "售后状态": after,
                "买家留言": o.buyer_msg, "退款金额(元)": _money(sum(rf.amount_fen for rf in refunds)),
                "店铺名称": shop.name,
            })
            # PDD writes an empty time as a lone tab
            rows.append(["\t" + d[h] for h in self._PDD_HEAD])
        name = f"orders_export{self.now.strftime('%Y%m%d%H%M%S')}{self.suffix}.csv"
        self.add(name, "pdd", "orders", "pdd_orders", "utf-8-sig",
                 _csv(self.out / name, self._PDD_HEAD, rows, encoding="utf-8-sig", quote_all=True))

    def pdd_reviews(self) -> None:
        shop = SHOPS["pdd"]
        head = ["订单号", "商品id", "商品名称", "商品规格", "买家昵称", "描述相符", "物流服务", "服务态度", "评价内容", "评价时间",
                "追评内容", "追评时间", "商家回复", "评价图片", "IP地址", "店铺名称"]
        rows = []
        for rv in self.reviews_of("pdd"):
            o, ln, p = rv.order, rv.line, rv.line.product
            rows.append(["\t" + str(v) for v in (
                o.order_id, p.platform_id["pdd"], p.listing_title("pdd"), ",".join(ln.sku), rv.nick_shown, rv.score,
                rv.score_log, rv.score_srv, rv.content, _ts(rv.created), rv.append or "", _ts(rv.append_at),
                rv.reply or "", _media(rv) if rv.media else "", rv.ip, shop.name)])
        name = f"拼多多评价导出_{self.stamp}{self.suffix}.csv"
        self.add(name, "pdd", "reviews", "pdd_reviews", "utf-8-sig",
                 _csv(self.out / name, head, rows, encoding="utf-8-sig", quote_all=True))

    # --------------------------------------------------------------- JD
    def jd_orders(self) -> None:
        g = self.g
        shop = SHOPS["jd"]
        r = random.Random(g.seed + 6)
        head = ["店铺ID", "店铺名称", "订单号", "商品ID", "商品名称", "订购数量", "支付方式", "下单时间", "京东价", "订单金额",
                "结算金额", "余额支付", "应付金额", "订单状态", "订单类型", "下单帐号", "客户姓名", "客户地址", "联系电话",
                "订单备注", "发票类型", "发票抬头", "发票内容", "商家备注", "商家备注等级（等级1-5为由高到低）", "运费金额",
                "付款确认时间", "增值税发票", "货号", "订单完成时间", "订单来源", "订单渠道", "送装服务", "服务费", "仓库id",
                "仓库名称"]
        rows = []
        total_paid = 0
        for o in sorted(self.orders_of("jd"), key=lambda o: o.created, reverse=True):
            c = o.customer
            total_paid += o.paid_fen if o.paid else 0
            channel = r.choice(("APP", "APP", "微信", "PC"))
            invoice = r.random() < 0.3
            for ln in o.lines:
                p = ln.product
                rows.append([
                    shop.numeric_id, shop.name, o.order_id, p.platform_id["jd"], p.listing_title("jd"), str(ln.qty),
                    "在线支付", _ts(o.created), _money(ln.unit_fen), _money(o.goods_fen + o.fee_fen),
                    _money(o.paid_fen * 92 // 100) if o.completed else "0.00", "0.00",
                    _money(o.paid_fen) if o.paid else "0.00", self.jd_status(o), "普通订单", c.nick, c.name,
                    f"{c.geo[0].rstrip('省市')} {c.geo[1]} {c.district} {c.street}***号", c.phone, o.buyer_msg,
                    "电子普通发票" if invoice else "不开发票", "个人" if invoice else "", "商品明细" if invoice else "",
                    o.memo, "", _money(o.fee_fen), _ts(o.paid), "否", p.sku_code(ln.sku), _ts(o.completed), "京东商城",
                    channel, "否", "0.00", "", "",
                ])
        footer = ["合计", "", "", "", "", str(sum(int(x[5]) for x in rows)), "", "", "", "", "", "",
                  _money(total_paid)] + [""] * (len(head) - 13)
        name = f"京东订单导出_{self.now.strftime('%Y%m%d%H%M%S')}{self.suffix}.csv"
        self.add(name, "jd", "orders", "jd_orders", "gbk",
                 _csv(self.out / name, head, rows, encoding="gbk", footer=footer))

    def jd_reviews(self) -> None:
        g = self.g
        shop = SHOPS["jd"]
        head = ["评价ID", "订单号", "商品编号", "商品名称", "商品规格", "会员名称", "评价星级", "评价内容", "评价时间", "追评内容",
                "追评时间", "商家回复", "回复时间", "评价图片", "点赞数", "IP地址", "店铺名称"]
        r = random.Random(g.seed + 7)
        rows = []
        for rv in self.reviews_of("jd"):
            o, ln, p = rv.order, rv.line, rv.line.product
            rows.append([
                rv.review_id, o.order_id, p.platform_id["jd"], p.listing_title("jd"), " ".join(ln.sku), rv.nick_shown,
                f"star{rv.score}", rv.content, _ts(rv.created), rv.append or "", _ts(rv.append_at), rv.reply or "",
                _ts(rv.reply_at), _media(rv) if rv.media else "", r.choice((0, 0, 0, 1, 2, 5)), rv.ip, shop.name,
            ])
        name = f"京东评价导出_{self.stamp}{self.suffix}.xlsx"
        self.add(name, "jd", "reviews", "jd_reviews", "xlsx",
                 _xlsx(self.out / name, [("商品评价", head, rows)], self.now, "商品评价导出"))

    # --------------------------------------------------------------- tracking
    def tracking(self, platform: str) -> None:
        g = self.g
        shop = SHOPS[platform]
        head = ["快递单号", "快递公司", "订单编号", "物流方向", "发货时间", "承诺送达时间", "物流状态", "轨迹时间", "轨迹地点",
                "轨迹描述", "店铺名称"]
        rows = []
        delayed = 0
        shipments = 0
        for o in sorted(g.orders[platform], key=lambda o: o.shipped or o.created, reverse=True):
            if o.shipped is None:
                continue
            evs = events(g, o)
            if not evs:
                continue
            shipments += 1
            last = o.delivered or self.now
            if o.lost or last > o.promised_arrive:
                delayed += 1
            shipped, promised = _ts(o.shipped), _ts(o.promised_arrive)
            for t, status, place, text in reversed(evs):  # newest first, as Kuaidi100 lists them
                rows.append([o.tracking_no, o.carrier, o.order_id, "发货", shipped, promised, status, _ts(t), place,
                             text, shop.name])
            for rf in o.refunds:
                if rf.return_no and rf.return_at is not None and rf.return_at < self.now:
                    revs = return_events(g, rf)
                    shipments += 1
                    for t, status, place, text in reversed(revs):
                        rows.append([rf.return_no, rf.return_carrier, o.order_id, "退货", _ts(rf.return_at), "",
                                     status, _ts(t), place, text, shop.name])
        name = f"物流轨迹_{shop.name}_{self.stamp}{self.suffix}.csv"
        self.add(name, platform, "shipments", "tracking_events", "utf-8-sig",
                 _csv(self.out / name, head, rows, encoding="utf-8-sig"))
        g.stats.setdefault("shipments", {})[platform] = {"shipments": shipments, "late": delayed, "events": len(rows)}

    # --------------------------------------------------------------- catalogue
    def catalogue_file(self) -> Path:
        head = ["商家编码", "SKU编码", "类目", "商品名称", "规格", "价格", "供应商", "淘宝宝贝ID", "抖店商品ID", "拼多多商品ID",
                "拼多多样式ID", "京东商品编号"]
        rows = []
        for p in self.g.products:
            for sku in p.skus:
                rows.append([p.code, p.sku_code(sku), p.category, p.title, _spec_tb(p, sku, ":"), _money(p.price_fen),
                             p.supplier, p.platform_id["taobao"], p.platform_id["douyin"], p.platform_id["pdd"],
                             p.sku_ids[sku], p.platform_id["jd"]])
        path = self.out / "商品资料_禾木优选.csv"
        _csv(path, head, rows, encoding="utf-8-sig")
        return path

    # --------------------------------------------------------------- listings
    #: demo category ids (Taobao writes its 类目 as a number) and Douyin first-level categories, per shop category
    _TB_CID: ClassVar[dict[str, str]] = {"服装": "50000671", "鞋": "50012027", "食品": "50008075", "美妆": "50010788", "数码配件": "50008090",
               "家居": "50008163", "母婴": "50012412"}
    _DY_CAT: ClassVar[dict[str, str]] = {"服装": "服饰内衣", "鞋": "鞋靴箱包", "食品": "食品饮料", "美妆": "美妆", "数码配件": "3C数码配件",
               "家居": "家居家纺", "母婴": "母婴宠物"}
    _REMOTE = (("新疆", "西藏"), ("新疆", "西藏", "青海"), ("新疆", "西藏", "内蒙古", "港澳台"), ("海外", "港澳台"))
    _COLOUR = "图片均为实物拍摄，因显示器不同可能存在轻微色差，颜色请以实物为准"

    def _listing_facts(self) -> dict[tuple[str, str], dict[str, Any]]:
        """What each product's listing shows on each platform: dispatch promise (hours or None), regions not
        served, size chart, colour note and commitments. Drawn from a stream of its own (``listings-<seed>``),
        so the other exports are the same bytes with or without the listing files."""
        r = random.Random(f"listings-{self.g.seed}")
        facts: dict[tuple[str, str], dict[str, Any]] = {}
        for platform in PLATFORMS:
            for p in self.g.products:
                fresh = p.category == "食品"
                sized = p.size_kind is not None
                coloured = any(name in ("颜色分类", "色号", "花色") for name, _ in p.dims)
                hours = r.choice((24, 48, 48, 48, 72)) if r.random() < 0.82 else None
                excluded = r.choice(self._REMOTE) if r.random() < (0.5 if fresh else 0.2) else ()
                commitments = ["7天无理由"] if not fresh and r.random() < 0.9 else []
                if r.random() < 0.45:
                    commitments.append("运费险")
                if p.category in ("食品", "家居", "数码配件") and r.random() < 0.6:
                    commitments.append("破损包赔")
                if platform == "pdd" and r.random() < 0.5:
                    commitments.append("极速退款")
                facts[(platform, p.code)] = {
                    "hours": hours, "excluded": excluded, "size_chart": sized and r.random() < 0.7,
                    "colour": coloured and r.random() < 0.5, "commitments": commitments,
                }
        return facts

    @staticmethod
    def _hours_text(hours: int | None, platform: str) -> str:
        if hours is None:
            return ""
        if platform == "douyin":
            return {24: "当日发", 48: "48小时", 72: "72小时"}[hours]
        if platform == "jd":
            return f"{hours // 24}天"
        return f"{hours}小时"

    def listings(self) -> None:
        """One listing export per platform: Taobao as a 淘宝助理 CSV (GBK; ``version 1.00``, English keys and
        Chinese labels above the rows; promises written in 宝贝卖点/宝贝描述), Douyin (tab-prefixed UTF-8 CSV, one
        row per listing), Pinduoduo (UTF-8 CSV, one row per SKU) and JD (XLSX) in the provisional layouts."""
        facts = self._listing_facts()
        products = self.g.products

        def size_text(p: Product) -> str:
            sizes = next((v for name, v in p.dims if name == "尺码"), ())
            return "尺码表：" + "/".join(sizes) if sizes else "尺码表"

        # Taobao: 淘宝助理 CSV
        keys = ["title", "cid", "price", "num", "description", "outer_id", "num_id", "is_lighting_consigment", "features",
                "newprepay", "subtitle"]
        head = ["宝贝名称", "宝贝类目", "宝贝价格", "宝贝数量", "宝贝描述", "商家编码", "数字ID", "闪电发货", "尺码库", "7天退货",
                "宝贝卖点"]
        rows = []
        for p in products:
            f = facts[("taobao", p.code)]
            _, _, claim = _product_texts(p)
            points = [claim]
            if f["hours"] is not None:
                points.append(f"现货，付款后{f['hours']}小时内发货")
            desc = [f"<p>{p.listing_title('taobao')}</p>", f"<p>{claim}，品质保证</p>"]
            if f["size_chart"]:
                desc.append(f"<p>{size_text(p)}，请参考尺码表选购</p>")
            if f["colour"]:
                desc.append(f"<p>{self._COLOUR}</p>")
            if f["excluded"]:
                desc.append(f"<p>{'、'.join(f['excluded'])}地区不发货，敬请谅解</p>")
            extra = [c for c in f["commitments"] if c != "7天无理由"]
            if extra:
                desc.append(f"<p>本店承诺：{'、'.join(extra)}</p>")
            rows.append([p.listing_title("taobao"), self._TB_CID[p.category], _money(p.platform_price["taobao"]),
                         "999", "".join(desc), p.code, p.platform_id["taobao"],
                         "1" if f["hours"] == 24 else "0", size_text(p) if f["size_chart"] else "",
                         "1" if "7天无理由" in f["commitments"] else "0", "；".join(points)])
        name = f"淘宝助理宝贝导出_{self.stamp}.csv"
        self.add(name, "taobao", "listings", "taobao_listings_assistant", "gbk",
                 _csv(self.out / name, head, rows, encoding="gbk",
                      banner=(["version 1.00"] + [""] * (len(head) - 1), keys)),
                 shop=SHOPS["taobao"].name)

        # Douyin: 商品列表 (provisional), one row per listing
        head = ["商品ID", "商品名称", "一级类目", "二级类目", "三级类目", "四级类目", "商家编码", "货号", "SKU列表", "售价(元)",
                "商品发货时间", "不发货地区", "尺码表", "色差说明", "服务承诺", "商品状态"]
        rows = []
        for p in products:
            f = facts[("douyin", p.code)]
            rows.append([_tab(v) for v in (
                p.platform_id["douyin"], p.listing_title("douyin"), self._DY_CAT[p.category], p.noun, "", "", p.code,
                f"{p.code}-DY",
                "；".join(_spec_tb(p, sku, ":", ",") for sku in p.skus), _money(p.platform_price["douyin"]),
                self._hours_text(f["hours"], "douyin"), "、".join(f["excluded"]), "有" if f["size_chart"] else "",
                self._COLOUR if f["colour"] else "", "、".join(f["commitments"]), "在售")])
        name = f"抖店商品列表_{self.stamp}.csv"
        self.add(name, "douyin", "listings", "douyin_listings", "utf-8-sig",
                 _csv(self.out / name, head, rows, encoding="utf-8-sig", quote_all=True), shop=SHOPS["douyin"].name)

        # Pinduoduo: 商品列表 (provisional), one row per SKU
        head = ["商品ID", "商品名称", "商品类目", "SKU ID", "商品规格", "商家编码", "拼单价(元)", "发货时效", "不配送区域", "7天无理由",
                "极速退款", "服务承诺", "尺码表", "色差说明", "商品状态"]
        rows = []
        for p in products:
            f = facts[("pdd", p.code)]
            for sku in p.skus:
                rows.append([
                    p.platform_id["pdd"], p.listing_title("pdd"), f"{p.category}/{p.noun}", p.sku_ids[sku],
                    ",".join(sku) or "默认", p.sku_code(sku), _money(p.platform_price["pdd"]),
                    self._hours_text(f["hours"], "pdd"), "、".join(f["excluded"]),
                    "是" if "7天无理由" in f["commitments"] else "否", "是" if "极速退款" in f["commitments"] else "否",
                    "、".join(c for c in f["commitments"] if c not in ("7天无理由", "极速退款")),
                    "有" if f["size_chart"] else "无",
                    "有" if f["colour"] else "无", "在售中"])
        name = f"拼多多商品列表_{self.stamp}.csv"
        self.add(name, "pdd", "listings", "pdd_listings", "utf-8-sig",
                 _csv(self.out / name, head, rows, encoding="utf-8-sig"), shop=SHOPS["pdd"].name)

        # JD: 商品导出 (provisional), workbook
        head = ["商品编号", "商品名称", "一级类目", "三级类目", "京东价", "发货时效", "不发货地区", "尺码表", "色差说明", "服务承诺",
                "上下架状态"]
        rows = []
        for p in products:
            f = facts[("jd", p.code)]
            rows.append([p.platform_id["jd"], p.listing_title("jd"), self._DY_CAT[p.category], p.noun,
                         _money(p.platform_price["jd"]), self._hours_text(f["hours"], "jd"), "，".join(f["excluded"]),
                         "是" if f["size_chart"] else "否", self._COLOUR if f["colour"] else "",
                         "，".join(f["commitments"]), "上架"])
        name = f"京东商品导出_{self.stamp}.xlsx"
        self.add(name, "jd", "listings", "jd_listings", "xlsx",
                 _xlsx(self.out / name, [("商品列表", head, rows)], self.now, "商品导出"), shop=SHOPS["jd"].name)

    def write_all(self) -> Path:
        self.taobao_orders()
        self.douyin_orders()
        self.pdd_orders()
        self.jd_orders()
        self.taobao_refunds()
        self.douyin_aftersales()
        for platform in PLATFORMS:
            self.tracking(platform)
        self.taobao_reviews()
        self.douyin_reviews()
        self.pdd_reviews()
        self.jd_reviews()
        self.taobao_chats()
        self.douyin_chats()
        return self.catalogue_file()


def _cipher(r: random.Random, n: int) -> str:
    return "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(n))


def _media(rv: _Review) -> str:
    n = 1 + int(rv.review_id[-1]) % 3
    return ";".join(f"https://img.heymu-demo.cn/rate/{rv.review_id}_{k}.jpg" for k in range(1, n + 1))


def _complaint_note(rf: _Refund) -> str:
    ln = rf.line or rf.order.lines[0]
    p = ln.product
    return {
        "quality": f"收到的{p.noun}有质量问题，已拍照", "size": "尺码不合适，想退", "missing_wrong": "少发了一件",
        "wrong": "发错货了", "description": "实物和描述不一样", "logistics": "外包装破损，东西坏了",
        "lost": "一直没收到货", "price": "刚买就降价，申请退差价", "malicious": "质量太差", "other": "不喜欢，七天无理由",
        "service": "客服不处理",
    }.get(rf.reason_key, "")
