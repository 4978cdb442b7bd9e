"""Header layouts of genuine platform exports: the alias registry.

A :class:`Layout` says, for one (platform, kind, version), which header text
(any alias, matched after NFKC and removing spaces) feeds which normalised
field of :mod:`reviewops.core.columns`. ``signature`` headers identify the layout;
``required`` fields must be present. ``confirmed`` tells whether the header
list comes from code that mirrors a real export (``reference/exports.md``
confidence High/Medium) or is provisional (review exports are confirmed for
no platform; Kuaishou is inferred): a shop that meets a different layout maps
it once (``reviewops import --map``) and saves it by name.

A listing export (kind ``listings``) is one row per listing or per SKU: Taobao's 淘宝助理 CSV is confirmed
(``reference/prevention.md`` §3, confidence H; it starts with a ``version 1.00`` line and a line of English
keys above the Chinese header, see :attr:`Layout.preamble`); the Douyin, Pinduoduo and JD listing layouts
are provisional (prevention.md: Douyin only a third-party template, PDD/JD headers unknown), Kuaishou has none.
Their ``category`` is the top-level one (一级类目: it tells apparel from the rest); deeper levels stay unmapped.

Detection (:func:`detect`) scores every layout against a header row and picks
the best one that has all its required fields; ties are broken by signature
matches and then by the platform the user gave.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

from ..core.columns import KINDS, PLATFORMS, fields_of
from ..core.errors import ConfigError


def norm_header(text: object) -> str:
    """Normalise a header cell for matching: NFKC, no spaces/tabs/BOM/quotes, lower case."""
    s = unicodedata.normalize("NFKC", "" if text is None else str(text))
    s = s.replace("\ufeff", "").replace("\u200b", "")
    if s.startswith('="') and s.endswith('"'):
        s = s[2:-1]
    return "".join(s.split()).strip("'\"").lower()


@dataclass(frozen=True)
class Layout:
    """One export layout: header aliases for each normalised field."""

    name: str
    platform: str | None  # None: any platform (e.g. tracking from an aggregator)
    kind: str
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    signature: tuple[str, ...] = ()
    version: str = ""
    confirmed: bool = True
    source: str = ""
    line_model: str = "line"  # 'line': one row per SKU line; 'order': one row per order
    builtin: bool = True
    #: cells of extra header lines above the header row (淘宝助理 CSV: its English keys line), normalised;
    #: a row above the header made of these is a header line, not data
    preamble: frozenset[str] = frozenset()
    _alias_index: dict[str, str] = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        known = fields_of(self.kind)
        index: dict[str, str] = {}
        for fname, aliases in self.columns.items():
            if fname not in known:
                raise ConfigError(
                    f"版式 {self.name} 的字段 {fname!r} 不属于 {self.kind} / layout {self.name}: "
                    f"unknown field {fname!r}; known: {sorted(known)}"
                )
            for a in aliases:
                index.setdefault(norm_header(a), fname)
        for r in self.required:
            if r not in self.columns:
                raise ConfigError(f"layout {self.name}: required field {r!r} has no header alias")
        object.__setattr__(self, "_alias_index", index)

    def field_for(self, header: str) -> str | None:
        return self._alias_index.get(norm_header(header))

    def match(self, headers: list[str]) -> dict[str, int]:
        """Map field → column index of its highest-priority alias present in ``headers``."""
        return {f: cols[0] for f, cols in self.match_all(headers).items()}

    def match_all(self, headers: list[str]) -> dict[str, list[int]]:
        """Map field → every column feeding it, in the layout's alias order.

        Aliases listed first win (``联系手机`` before ``联系电话``); the importer
        takes, per row, the first non-empty of these columns.
        """
        rank: dict[str, dict[str, int]] = {}
        for fname, aliases in self.columns.items():
            rank[fname] = {}
            for pos, a in enumerate(aliases):
                rank[fname].setdefault(norm_header(a), pos)
        found: dict[str, list[tuple[int, int]]] = {}
        for i, h in enumerate(headers):
            nh = norm_header(h)
            f = self._alias_index.get(nh)
            if f is not None:
                found.setdefault(f, []).append((rank[f].get(nh, len(rank[f])), i))
        return {f: [i for _, i in sorted(v)] for f, v in found.items()}

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name, "platform": self.platform, "kind": self.kind,
                "columns": {k: list(v) for k, v in self.columns.items()},
                "required": list(self.required), "signature": list(self.signature),
                "version": self.version, "confirmed": self.confirmed, "source": self.source,
                "line_model": self.line_model,
            },
            ensure_ascii=False, sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "Layout":
        d = json.loads(text)
        return cls(
            name=d["name"], platform=d.get("platform"), kind=d["kind"],
            columns={k: tuple(v) for k, v in d["columns"].items()},
            required=tuple(d.get("required", ())), signature=tuple(d.get("signature", ())),
            version=d.get("version", ""), confirmed=d.get("confirmed", False),
            source=d.get("source", "user"), line_model=d.get("line_model", "line"), builtin=False,
        )


def _cols(**kw: str) -> dict[str, tuple[str, ...]]:
    return {k: tuple(a for a in v.split("|") if a) for k, v in kw.items()}


#: 淘宝助理 CSV: the line of English keys above its Chinese header (prevention.md §3: "English keys, Chinese labels")
_TAOBAO_ASSISTANT_KEYS = (
    "title", "cid", "seller_cids", "stuff_status", "location_state", "location_city", "item_type", "price",
    "auction_increment", "num", "valid_thru", "freight_payer", "post_fee", "ems_fee", "express_fee",
    "has_invoice", "has_warranty", "approve_status", "has_showcase", "list_time", "description", "cateProps",
    "postage_id", "has_discount", "modified", "upload_fail_msg", "picture_status", "auction_point", "picture",
    "video", "skuProps", "inputPids", "inputValues", "outer_id", "propAlias", "auto_fill", "num_id",
    "local_cid", "navigation_type", "user_name", "syncStatus", "is_lighting_consigment", "is_xinpin",
    "foodparame", "features", "buyareatype", "global_stock_type", "global_stock_country", "sub_stock_type",
    "item_size", "item_weight", "sell_promise", "custom_design_flag", "wireless_desc", "barcode",
    "sku_barcode", "newprepay", "subtitle", "cpv_memo", "input_custom_cpv", "qualification",
    "add_qualification", "o2o_bind_service",
)


BUILTIN: tuple[Layout, ...] = (
    # ---------------------------------------------------------------- orders
    Layout(
        name="taobao_orders_legacy", platform="taobao", kind="orders", version="ExportOrderList",
        source="exports.md §2.1.1 (High)", line_model="order",
        signature=("买家会员名", "买家应付货款", "买家实际支付金额", "宝贝标题", "宝贝总数量"),
        required=("order_id", "created_at"),
        columns=_cols(
            order_id="订单编号", buyer_nick="买家会员名", goods_amount="买家应付货款",
            shipping_fee="买家应付邮费", paid_amount="买家实际支付金额", status_raw="订单状态",
            buyer_message="买家留言", receiver_name="收货人姓名", receiver_address="收货地址",
            receiver_phone="联系手机|联系电话", created_at="订单创建时间", paid_at="订单付款时间",
            title="宝贝标题", quantity="宝贝总数量", tracking_no="物流单号|运单号", carrier="物流公司",
            seller_memo="订单备注", shop_name="店铺名称", completed_at="确认收货时间",
        ),
    ),
    Layout(
        name="taobao_order_lines_legacy", platform="taobao", kind="orders", version="ExportOrderDetailList",
        source="exports.md §2.1.2 (High)", line_model="line",
        signature=("标题", "价格", "购买数量", "外部系统编号", "套餐信息"),
        required=("order_id", "title"),
        columns=_cols(
            order_id="订单编号", title="标题", unit_price="价格", quantity="购买数量",
            merchant_code="商家编码|外部系统编号", sku_spec="商品属性|规格名称|套餐信息",
            seller_memo="备注", status_raw="订单状态", created_at="创建时间",
        ),
    ),
    Layout(
        name="taobao_orders_qianniu", platform="taobao", kind="orders", version="千牛 主订单",
        source="exports.md §2.1.3 (Medium-High)", line_model="order",
        signature=("支付单号", "买家实付金额", "商品标题", "宝贝总数量", "确认收货打款金额"),
        required=("order_id", "created_at"),
        columns=_cols(
            order_id="订单编号", goods_amount="买家应付货款", shipping_fee="买家应付邮费",
            paid_amount="买家实付金额", status_raw="订单状态", created_at="订单创建时间|买家下单时间",
            paid_at="订单付款时间|买家付款时间", title="商品标题", quantity="宝贝总数量",
            refund_amount="退款金额", shipped_at="发货时间", completed_at="确认收货时间",
            merchant_code="商家编码", seller_memo="商家备注", receiver_address="收货地址",
            receiver_name="收货人姓名", receiver_phone="联系手机", shop_name="店铺名称",
            tracking_no="运单号|物流单号|快递单号", carrier="物流公司|快递公司", sku_spec="商品属性SKU",
        ),
    ),
    Layout(
        name="taobao_order_lines_qianniu", platform="taobao", kind="orders", version="千牛 子订单",
        source="exports.md §2.1.3 (Medium-High)", line_model="line",
        signature=("子订单编号", "主订单编号", "商品价格", "购买数量", "退款状态"),
        required=("order_id", "line_id"),
        columns=_cols(
            line_id="子订单编号", order_id="主订单编号", product_id="商品ID", title="商品标题",
            sku_spec="商品属性", unit_price="商品价格", quantity="购买数量", merchant_code="商家编码",
            goods_amount="买家应付货款", line_paid_amount="买家实付金额", status_raw="订单状态",
            refund_status_raw="退款状态", refund_amount="退款金额", shipped_at="发货时间",
            created_at="订单创建时间", paid_at="订单付款时间",
        ),
    ),
    Layout(
        name="douyin_orders", platform="douyin", kind="orders", version="订单管理 批量导出",
        source="exports.md §2.2.1 (High)", line_model="line",
        signature=("主订单编号", "子订单编号", "选购商品", "订单应付金额", "订单提交时间", "收件人手机号"),
        required=("order_id", "line_id", "created_at"),
        columns=_cols(
            order_id="主订单编号", line_id="子订单编号", title="选购商品", sku_spec="商品规格",
            quantity="商品数量", product_id="商品ID", merchant_code="商家编码|货号",
            unit_price="商品单价|商品金额", paid_amount="订单应付金额", shipping_fee="运费",
            discount_amount="优惠总金额", receiver_name="收件人", receiver_phone="收件人手机号",
            province="省", city="市", district="区", receiver_address="详细地址",
            buyer_message="买家留言", created_at="订单提交时间", seller_memo="商家备注",
            completed_at="订单完成时间", paid_at="支付完成时间", status_raw="订单状态",
            promised_ship_at="承诺发货时间", refund_status_raw="售后状态", shipped_at="发货时间",
            tracking_no="快递信息", influencer="达人昵称", shop_name="店铺名称",
        ),
    ),
    Layout(
        name="jd_orders", platform="jd", kind="orders", version="订单导出 (2017)",
        source="exports.md §2.3.1 (Medium)", line_model="line",
        signature=("订购数量", "京东价", "下单帐号", "客户姓名", "客户地址"),
        required=("order_id", "created_at"),
        columns=_cols(
            order_id="订单号", product_id="商品ID", title="商品名称", quantity="订购数量",
            created_at="下单时间", unit_price="京东价", goods_amount="订单金额",
            paid_amount="应付金额", status_raw="订单状态", buyer_nick="下单帐号|下单账号",
            receiver_name="客户姓名", receiver_address="客户地址", receiver_phone="联系电话",
            buyer_message="订单备注", seller_memo="商家备注", shipping_fee="运费金额",
            paid_at="付款确认时间", merchant_code="货号", completed_at="订单完成时间",
            shop_name="店铺名称",
        ),
    ),
    Layout(
        name="pdd_orders", platform="pdd", kind="orders", version="订单查询 导出",
        source="exports.md §2.4.1 (High)", line_model="order",
        signature=("商品总价(元)", "用户实付金额(元)", "商品数量(件)", "拼单成功时间", "样式ID"),
        required=("order_id",),
        columns=_cols(
            title="商品", order_id="订单号", status_raw="订单状态", goods_amount="商品总价(元)",
            discount_amount="店铺优惠折扣(元)", shipping_fee="邮费(元)",
            paid_amount="用户实付金额(元)", quantity="商品数量(件)", receiver_name="收货人",
            receiver_phone="手机|收货人手机", province="省", city="市", district="区",
            receiver_address="街道", paid_at="支付时间", created_at="拼单成功时间|订单成交时间",
            promised_ship_at="承诺发货时间", shipped_at="发货时间", completed_at="确认收货时间",
            product_id="商品id", sku_spec="商品规格", sku_id="样式ID",
            merchant_code="商家编码-SKU维度", tracking_no="快递单号", carrier="快递公司",
            seller_memo="商家备注", refund_status_raw="售后状态", buyer_message="买家留言",
            refund_amount="退款金额(元)", shop_name="店铺名称",
        ),
    ),
    Layout(
        name="kuaishou_orders", platform="kuaishou", kind="orders", version="inferred",
        source="exports.md §2.5 (Low, inferred)", confirmed=False, line_model="line",
        signature=("成交数量", "实付款", "订单编号", "收货人电话"),
        required=("order_id", "created_at"),
        columns=_cols(
            order_id="订单编号|订单号", title="商品名称", sku_spec="商品规格",
            quantity="成交数量|商品数量", paid_amount="实付款", receiver_name="收货人",
            receiver_phone="收货人电话", receiver_address="收货地址", tracking_no="快递单号",
            carrier="快递公司", status_raw="订单状态", created_at="下单时间|订单创建时间",
            paid_at="支付时间", shipped_at="发货时间", product_id="商品ID", shop_name="店铺名称",
        ),
    ),
    # --------------------------------------------------------------- refunds
    Layout(
        name="taobao_refunds", platform="taobao", kind="refunds", version="退款管理 导出",
        source="exports.md §2.1.4 (High)",
        signature=("退款编号", "买家退款金额", "退款的申请时间", "买家退款原因", "售中或售后"),
        required=("refund_id", "order_id"),
        columns=_cols(
            order_id="订单编号", refund_id="退款编号", paid_amount="买家实际支付金额",
            title="宝贝标题", refund_amount="买家退款金额", need_return="是否需要退货",
            applied_at="退款的申请时间", status_raw="退款状态", return_tracking_no="退货物流单号",
            return_carrier="退货物流公司", reason="买家退款原因", buyer_note="买家退款说明",
            responsible_party="责任方", phase="售中或售后", seller_note="商家备注",
            finished_at="退款完结时间|完结时间", operator="退款操作人|审核操作人",
            reason_tag="退款原因标签", kind_raw="业务类型", product_id="商品id|商品编码",
        ),
    ),
    Layout(
        name="douyin_aftersales", platform="douyin", kind="refunds", version="售后单导出",
        source="exports.md §2.2.2 (Medium-High)",
        signature=("售后单号", "商品单号", "售后类型", "售后申请时间", "退商品金额(元)"),
        required=("refund_id", "order_id"),
        columns=_cols(
            refund_id="售后单号", order_id="订单号", line_id="商品单号", title="商品名称",
            product_id="商品ID", paid_amount="应付金额(元)", kind_raw="售后类型",
            refund_amount="退商品金额(元)", refund_shipping_amount="退运费金额(元)",
            status_raw="售后状态", applied_at="售后申请时间", reason="售后原因",
            reason_tag="售后原因标签", return_tracking_no="退货物流单号",
            return_carrier="退货物流公司", agreed_at="同意售后申请时间", refunded_at="商家退款时间",
            closed_at="售后关闭时间", responsible_party="纠纷责任方", finished_at="售后完结时间",
            buyer_note="用户售后说明", seller_note="售后备注", operator="操作人", shop_name="门店名称|店铺名称",
        ),
    ),
    Layout(
        name="douyin_payouts", platform="douyin", kind="refunds", version="打款/仅退款",
        source="exports.md §2.2.3 (Medium)",
        signature=("支付流水号", "打款类型", "打款金额", "打款申请时间"),
        required=("refund_id", "order_id"),
        columns=_cols(
            shop_name="店铺名称", refund_id="支付流水号", order_id="订单编号", title="商品名称",
            product_id="商品ID", kind_raw="打款类型", refund_amount="打款金额", operator="打款申请人",
            applied_at="打款申请时间", refunded_at="打款到账时间", status_raw="打款状态",
            seller_note="打款备注",
        ),
    ),
    Layout(
        name="jd_compensation", platform="jd", kind="refunds", version="赔付单",
        source="exports.md §2.3.3 (Medium)",
        signature=("赔付单号", "关联订单号", "赔付金额", "赔付原因"),
        required=("refund_id", "order_id"),
        columns=_cols(
            shop_name="店铺名称", applied_at="申请时间", refund_id="赔付单号", order_id="关联订单号",
            line_id="关联服务单号", refund_amount="赔付金额", reason="赔付原因",
            status_raw="赔付状态", operator="申请人",
        ),
    ),
    Layout(
        name="pdd_deductions", platform="pdd", kind="refunds", version="仅退款/扣款",
        source="exports.md §2.4.2 (Medium)",
        signature=("扣款原因", "申请扣款金额", "打款状态"),
        required=("order_id", "applied_at"),
        columns=_cols(
            shop_name="店铺名称", order_id="订单号", product_id="商品ID", title="商品名称",
            reason="扣款原因", operator="申请人", applied_at="申请时间",
            refund_amount="申请扣款金额", status_raw="打款状态",
        ),
    ),
    # ------------------------------------------------------------- reviews
    # No platform's review export is confirmed (exports.md §2): these follow the
    # API field sets in Chinese and are provisional.
    Layout(
        name="taobao_reviews", platform="taobao", kind="reviews", version="provisional (TradeRate API fields)",
        source="exports.md §2.1.5 (API High, export Low)", confirmed=False,
        signature=("评价结果", "宝贝标题", "追评内容", "解释内容"),
        required=("created_at",),
        columns=_cols(
            review_id="评价ID|评价编号", order_id="订单编号|订单号", line_id="子订单编号",
            product_id="宝贝ID|商品ID", product_title="宝贝标题|商品标题", sku_text="商品属性|SKU",
            buyer_nick="买家昵称|买家会员名|评价人", rating_raw="评价结果|评价等级",
            score_logistics="物流服务评分", content="评价内容", created_at="评价时间",
            append_content="追评内容", append_created_at="追评时间",
            seller_reply="解释内容|商家回复", seller_reply_at="解释时间|回复时间",
            has_media="是否有图", media_urls="评价图片", tags="评价标签", ip="IP地址|评价IP",
            device_id="设备ID", shop_name="店铺名称",
        ),
    ),
    Layout(
        name="douyin_reviews", platform="douyin", kind="reviews", version="provisional (评价管理)",
        source="exports.md §2.2.4 (Low)", confirmed=False,
        signature=("商品评分", "物流评分", "服务评分", "子订单号", "用户昵称"),
        required=("created_at",),
        columns=_cols(
            review_id="评价ID", order_id="订单号|订单编号", line_id="子订单号", product_id="商品ID",
            product_title="商品名称", sku_text="商品规格", buyer_nick="用户昵称",
            score_product="商品评分", score_logistics="物流评分", score_service="服务评分",
            content="评价内容", created_at="评价时间", append_content="追评内容",
            append_created_at="追评时间", seller_reply="商家回复", seller_reply_at="回复时间",
            media_urls="评价图片", tags="评价标签", ip="IP地址", device_id="设备ID",
            shop_name="店铺名称",
        ),
    ),
    Layout(
        name="jd_reviews", platform="jd", kind="reviews", version="provisional",
        source="exports.md §2.3.4 (Low)", confirmed=False,
        signature=("评价星级", "商品编号", "会员名称", "订单号"),
        required=("created_at",),
        columns=_cols(
            review_id="评价ID", order_id="订单号", product_id="商品编号|商品ID",
            product_title="商品名称", sku_text="商品规格", buyer_nick="会员名称|用户昵称",
            rating_raw="评价星级", content="评价内容", created_at="评价时间",
            append_content="追评内容", append_created_at="追评时间", seller_reply="商家回复",
            seller_reply_at="回复时间", media_urls="评价图片", ip="IP地址", device_id="设备ID",
            shop_name="店铺名称",
        ),
    ),
    Layout(
        name="pdd_reviews", platform="pdd", kind="reviews", version="provisional",
        source="exports.md §2.4.3 (Low)", confirmed=False,
        signature=("描述相符", "物流服务", "服务态度", "商品id"),
        required=("created_at",),
        columns=_cols(
            review_id="评价ID", order_id="订单号", product_id="商品id|商品ID", product_title="商品名称",
            sku_text="商品规格", buyer_nick="买家昵称", score_product="描述相符",
            score_logistics="物流服务", score_service="服务态度", content="评价内容",
            created_at="评价时间", append_content="追评内容", append_created_at="追评时间",
            seller_reply="商家回复", media_urls="评价图片", ip="IP地址", device_id="设备ID",
            shop_name="店铺名称",
        ),
    ),
    Layout(
        name="kuaishou_reviews", platform="kuaishou", kind="reviews", version="provisional",
        source="exports.md §2.5 (Low)", confirmed=False,
        signature=("评价等级", "订单编号", "商品名称", "用户昵称"),
        required=("created_at",),
        columns=_cols(
            review_id="评价ID", order_id="订单编号", product_id="商品ID", product_title="商品名称",
            buyer_nick="用户昵称", rating_raw="评价等级", content="评价内容", created_at="评价时间",
            append_content="追评内容", append_created_at="追评时间", seller_reply="商家回复",
            ip="IP地址", device_id="设备ID", shop_name="店铺名称",
        ),
    ),
    # ---------------------------------------------------------------- chats
    Layout(
        name="taobao_chats_userscript", platform="taobao", kind="chats", version="聊天记录导出 (userscript xlsx)",
        source="exports.md §2.1.6 (Medium)",
        signature=("客户名", "消息序号", "发送时间", "发送内容", "账号类型"),
        required=("conversation", "sent_at", "content"),
        columns=_cols(
            conversation="客户名", message_seq="消息序号", sent_at="发送时间", content="发送内容",
            sender_name="发送账号", sender_role_raw="账号类型", order_id="订单编号",
            shop_name="店铺名称",
        ),
    ),
    Layout(
        name="douyin_chats_feige", platform="douyin", kind="chats", version="飞鸽历史会话 (provisional)",
        source="exports.md §2.2.5 (Low-Medium)", confirmed=False,
        signature=("消费者昵称", "客服昵称", "消息内容", "发送方"),
        required=("conversation", "sent_at", "content"),
        columns=_cols(
            conversation="消费者昵称|用户信息", sender_name="客服昵称", sent_at="发送时间|消息时间",
            sender_role_raw="发送方", content="消息内容", order_id="订单号", message_seq="序号",
            shop_name="店铺名称",
        ),
    ),
    # ------------------------------------------------------------ shipments
    Layout(
        name="tracking_events", platform=None, kind="shipments", version="物流轨迹 (Kuaidi100-style)",
        source="exports.md §2.7 (aggregator High, file Low)", confirmed=False,
        signature=("快递单号", "轨迹时间", "轨迹描述"),
        required=("tracking_no",),
        columns=_cols(
            tracking_no="快递单号|运单号|物流单号|快递运单号", carrier="快递公司|物流公司|承运公司",
            order_id="订单编号|订单号", direction_raw="物流方向|类型", shipped_at="发货时间",
            promised_at="承诺送达时间|预计送达时间", status_raw="物流状态|状态",
            event_at="轨迹时间|时间", location="轨迹地点|地点", description="轨迹描述|物流详情|描述",
            shop_name="店铺名称",
        ),
    ),
    # ------------------------------------------------------------ listings
    # Taobao 淘宝助理 CSV (prevention.md §3, H): the Chinese labels below are documented there, except 数字ID
    # (the item id, 0 for an item never uploaded), taken from the same 淘宝助理 header line. No 发货时效 and no
    # 不发货地区 column: both are read from 宝贝卖点 / 宝贝描述 text (ingest._write_listings).
    Layout(
        name="taobao_listings_assistant", platform="taobao", kind="listings", version="淘宝助理 CSV (version 1.00)",
        source="prevention.md §3 (H); 数字ID from the same 淘宝助理 header line",
        signature=("宝贝名称", "宝贝类目", "宝贝价格", "宝贝卖点", "尺码库", "7天退货"),
        required=("title",),
        columns=_cols(
            title="宝贝名称", category="宝贝类目", price="宝贝价格", description="宝贝描述|无线详情",
            merchant_code="商家编码", listing_id="数字ID|宝贝ID", status_raw="宝贝状态",
            promise_fast_dispatch="闪电发货", size_chart="尺码库", promise_7day="7天退货", selling_points="宝贝卖点",
            shop_name="店铺名称",
        ),
        preamble=frozenset(norm_header(k) for k in _TAOBAO_ASSISTANT_KEYS),
    ),
    Layout(
        name="douyin_listings", platform="douyin", kind="listings", version="商品列表 (provisional)",
        source="prevention.md §3 (L: a third-party template's 商品名称/类目/商家编码/货号/SKU列表/商品发货时间)",
        confirmed=False,
        signature=("一级类目", "商品发货时间", "SKU列表", "货号"),
        required=("title",),
        columns=_cols(
            listing_id="商品ID", title="商品名称", category="一级类目|类目",
            merchant_code="商家编码", sku_id="SKU ID", sku_spec="SKU列表|SKU规格", price="售价(元)|价格(元)",
            dispatch="商品发货时间|发货时效", excluded_regions="不发货地区|限售地区", size_chart="尺码表",
            colour_note="色差说明", commitments="服务承诺", promise_7day="7天无理由", promise_freight_insurance="运费险",
            status_raw="商品状态", description="商品详情", shop_name="店铺名称",
        ),
    ),
    Layout(
        name="pdd_listings", platform="pdd", kind="listings", version="商品列表 (provisional, API goods fields)",
        source="prevention.md §3 (headers unknown; shipment_limit_second, 不配送区域, is_refundable, quick_refund)",
        confirmed=False,
        signature=("发货时效", "不配送区域", "极速退款", "7天无理由", "拼单价(元)"),
        required=("title",),
        columns=_cols(
            listing_id="商品ID|商品id", title="商品名称", category="商品类目|类目", sku_id="SKU ID|规格ID",
            sku_spec="商品规格|规格", merchant_code="商家编码|SKU编码", price="拼单价(元)|价格(元)",
            dispatch="发货时效|承诺发货时间", excluded_regions="不配送区域|不发货地区", size_chart="尺码表",
            colour_note="色差说明", commitments="服务承诺", promise_7day="7天无理由",
            promise_quick_refund="极速退款", promise_freight_insurance="退货包运费|运费险", status_raw="商品状态",
            description="商品详情", shop_name="店铺名称",
        ),
    ),
    Layout(
        name="jd_listings", platform="jd", kind="listings", version="商品导出 (provisional)",
        source="prevention.md §3 (JD listing headers unknown)", confirmed=False,
        signature=("商品编号", "发货时效", "不发货地区", "尺码表", "色差说明"),
        required=("title",),
        columns=_cols(
            listing_id="商品编号|商品ID", title="商品名称", category="一级类目|类目",
            sku_spec="销售属性|规格", merchant_code="商家SKU|商家编码|货号", price="京东价|售价",
            dispatch="发货时效|承诺发货时间", excluded_regions="不发货地区|限售地区", size_chart="尺码表",
            colour_note="色差说明", commitments="服务承诺", promise_7day="7天无理由",
            promise_damage="破损包赔", status_raw="上下架状态|商品状态", description="商品介绍", shop_name="店铺名称",
        ),
    ),
)

_BY_NAME = {lay.name: lay for lay in BUILTIN}


def builtin(name: str) -> Layout:
    """A built-in layout by name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(
            f"没有名为 {name!r} 的版式 / no layout named {name!r}. Built-in: {', '.join(_BY_NAME)}"
        ) from None


def all_header_aliases() -> set[str]:
    """Every normalised header any built-in layout knows (for header-row detection)."""
    out: set[str] = set()
    for lay in BUILTIN:
        out.update(lay._alias_index)
    return out


@dataclass(frozen=True)
class Detection:
    layout: Layout
    mapping: dict[str, int]
    score: float
    columns: dict[str, list[int]] = field(default_factory=dict)  # every column per field, by priority


def detect(
    headers: list[str],
    *,
    candidates: list[Layout] | tuple[Layout, ...] = BUILTIN,
    platform: str | None = None,
    kind: str | None = None,
) -> Detection | None:
    """The best layout for ``headers`` or ``None`` when none has its required fields.

    ``platform`` 'tmall' matches the Taobao layouts (the same back end).
    """
    if platform is not None and platform not in PLATFORMS:
        raise ConfigError(f"未知平台 unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}")
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"未知类型 unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    want_platform = "taobao" if platform == "tmall" else platform
    normed = {norm_header(h) for h in headers if h}
    best: Detection | None = None
    for lay in candidates:
        if kind is not None and lay.kind != kind:
            continue
        if want_platform is not None and lay.platform not in (None, want_platform):
            continue
        mapping = lay.match(headers)
        if any(r not in mapping for r in lay.required):
            continue
        sig = sum(1 for s in lay.signature if norm_header(s) in normed)
        # share of the layout's fields found, signature hits weigh most; user layouts win ties
        score = sig * 10 + len(mapping) + len(mapping) / max(len(lay.columns), 1) + (0.5 if not lay.builtin else 0)
        # without a signature header a built-in layout is only a guess; taken only when the user named both
        if sig == 0 and lay.signature and lay.builtin and not (want_platform and kind):
            continue
        if best is None or score > best.score:
            best = Detection(lay, mapping, score, lay.match_all(headers))
    return best


def layout_from_mapping(name: str, kind: str, platform: str | None, mapping: dict[str, str]) -> Layout:
    """A user layout from ``{header: field}`` as given with ``--map``; validated."""
    fields = fields_of(kind)
    bad = {h: f for h, f in mapping.items() if f not in fields}
    if bad:
        raise ConfigError(
            f"映射中的字段不存在 unknown field(s) in mapping: {bad}. "
            f"{kind} 可用字段 fields: {', '.join(fields)}"
        )
    cols: dict[str, tuple[str, ...]] = {}
    for header, fname in mapping.items():
        cols[fname] = cols.get(fname, ()) + (header,)
    required = {
        "reviews": ("created_at",), "orders": ("order_id",), "refunds": ("order_id",),
        "chats": ("conversation", "sent_at", "content"), "shipments": ("tracking_no",), "listings": ("title",),
    }[kind]
    missing = [r for r in required if r not in cols]
    if missing:
        raise ConfigError(
            f"映射缺少必需字段 mapping lacks required field(s) {missing} for {kind}; "
            f"add them as 表头=字段 e.g. '评价时间=created_at'"
        )
    return Layout(
        name=name, platform=platform, kind=kind, columns=cols, required=required,
        signature=tuple(mapping), version="user", confirmed=False, source="user mapping",
        builtin=False,
    )


def parse_map_option(text: str) -> dict[str, str]:
    """Parse ``--map '评价内容=content,评价时间=created_at'`` into ``{header: field}``."""
    out: dict[str, str] = {}
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(
                f"--map 项格式应为 表头=字段 / each --map item must be header=field; got {part!r}"
            )
        header, fname = (x.strip() for x in part.split("=", 1))
        out[header] = fname
    if not out:
        raise ConfigError("--map 为空 / --map is empty; give e.g. '评价内容=content,评价时间=created_at'")
    return out
