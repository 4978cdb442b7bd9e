"""The normalised columns of every import kind, declared once.

Each kind (reviews, orders, refunds, chats, shipments, listings) has a list of
:class:`Field` objects: the normalised name, its value type, a Chinese label
and a description. Layouts (:mod:`reviewops.intake.layouts`) map platform headers to
these names; :mod:`reviewops.intake.clean` converts raw cells by ``type``;
:func:`validate_frame` checks a DataFrame that claims to hold a kind.

Value types
-----------
``id``        identifier kept as text (NFKC, stripped, Excel wrappers removed; ``2.8E+18`` rejected)
``text``      free text (review, chat, memo): stripped, not NFKC-folded, wrappers removed
``money``     amount in yuan in the file → integer fen
``datetime``  platform time (Asia/Shanghai unless stated) → timezone-aware UTC
``int``       whole number (quantities)
``score``     1–5 star score
``rating``    rating as the platform writes it (好评/中评/差评, star3, 3星, 1–5) → class + score
``phone``     phone number → masked form + keyed hash (never stored in clear)
``name``      person name → masked form + keyed hash
``nick``      buyer nickname → masked form + keyed hash
``address``   address → province/city kept, the rest masked
``bool``      是/否, Y/N, true/false
``hours``     a promised dispatch time (发货时效: ``48小时``, ``2天``, ``当日发``, ``次日发``) → whole hours;
              a bare number (no unit) is refused as ambiguous
``regions``   a list of regions (不发货地区: ``新疆、西藏``) → province short names (or the text as written
              when it names a place inside a province, ``港澳台``/``海外``/``偏远地区`` kept as groups);
              a region no province list knows is refused
``tags``      a list of service commitments (``7天无理由, 运费险``) → known names normalised
              (:data:`reviewops.intake.clean.COMMITMENTS`), others kept as written
``flag``      something shown or not (尺码表, 色差说明, 7天退货): 是/否/有/无/1/0, any other content = present

Limits that make a value bad (reported like any other bad value)
-----------------------------------------------------------------
``datetime``  later than the import's "now" + 1 day (:data:`FUTURE_TOLERANCE`); promised
              times (承诺发货/承诺送达) may lie up to :data:`PROMISE_HORIZON` ahead
text-like     (``text``, ``name``, ``nick``, ``address``, ``phone``) longer than
              :data:`TEXT_MAX_CHARS`; review texts, 追评 and the shop's reply longer than
              :data:`REVIEW_TEXT_MAX_CHARS`
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .errors import ConfigError

VALUE_TYPES = (
    "id", "text", "money", "datetime", "int", "score", "rating",
    "phone", "name", "nick", "address", "bool", "hours", "regions", "tags", "flag",
)


#: Every platform caps a review, a 追评 and the shop's reply (解释) at about 500 characters: the policy
#: workbook's 平台 sheet ships ``reply_max_chars`` = 500 for all six platforms, and reference/anchors.md
#: gives Taobao's explanation ≤ 500 characters.
PLATFORM_TEXT_LIMIT = 500
#: A review text, 追评 or reply longer than this is no review (a file pasted into a cell, rows swallowed by
#: a stray quote): four times the platform cap, room for a platform that counts emoji or line breaks as
#: more than one character or allows somewhat more than we know.
REVIEW_TEXT_MAX_CHARS = 4 * PLATFORM_TEXT_LIMIT
#: Any other text-like cell (memo, buyer message, chat message, tracking text, title, name, address)
#: longer than this is refused; no platform field we import allows as much.
TEXT_MAX_CHARS = 10_000
#: A time later than the import's "now" plus this is refused (clock skew and time zones fit in a day).
FUTURE_TOLERANCE = dt.timedelta(days=1)
#: Promised dispatch/delivery times lie ahead by nature (presales promise weeks); beyond a year is refused.
PROMISE_HORIZON = dt.timedelta(days=366)
#: A listing's detail page (宝贝描述, HTML) is long by nature; beyond this it is no description.
DESCRIPTION_MAX_CHARS = 200_000
TEXT_LIKE_TYPES = frozenset({"text", "name", "nick", "address", "phone", "regions", "tags"})


@dataclass(frozen=True)
class Field:
    """One normalised column.

    ``max_chars`` (text-like types) and ``max_ahead`` (datetimes) override the type's limit
    (:data:`TEXT_MAX_CHARS`, :data:`FUTURE_TOLERANCE`); see :attr:`char_limit` and :attr:`ahead_limit`.
    """

    name: str
    type: str
    zh: str
    description: str
    max_chars: int | None = None
    max_ahead: dt.timedelta | None = None

    def __post_init__(self) -> None:
        if self.type not in VALUE_TYPES:  # pragma: no cover - programming error
            raise ValueError(f"unknown value type {self.type!r} for field {self.name}")

    @property
    def char_limit(self) -> int | None:
        """Longest value accepted (characters), ``None`` for types that are not text-like."""
        if self.type not in TEXT_LIKE_TYPES:
            return None
        return self.max_chars if self.max_chars is not None else TEXT_MAX_CHARS

    @property
    def ahead_limit(self) -> dt.timedelta | None:
        """How far past "now" a time may lie, ``None`` for types that are not times."""
        if self.type != "datetime":
            return None
        return self.max_ahead if self.max_ahead is not None else FUTURE_TOLERANCE


def _f(name: str, type_: str, zh: str, description: str, *, max_chars: int | None = None,
       max_ahead: dt.timedelta | None = None) -> Field:
    return Field(name, type_, zh, description, max_chars, max_ahead)


REVIEW_FIELDS = (
    _f("review_id", "id", "评价ID", "platform review id, when the export has one"),
    _f("order_id", "id", "订单编号", "main order id (text, never a number)"),
    _f("line_id", "id", "子订单编号", "sub-order / line id"),
    _f("product_id", "id", "商品ID", "platform product id"),
    _f("product_title", "text", "商品名称", "product title"),
    _f("sku_text", "text", "商品规格", "SKU / spec text"),
    _f("buyer_nick", "nick", "买家昵称", "buyer nickname (stored masked + keyed hash)"),
    _f("rating_raw", "rating", "评价结果", "rating as written: 好评/中评/差评, star1–5, 1–5"),
    _f("score_product", "score", "商品评分", "product score 1–5"),
    _f("score_logistics", "score", "物流评分", "logistics score 1–5"),
    _f("score_service", "score", "服务评分", "service score 1–5"),
    _f("content", "text", "评价内容", "first review text", max_chars=REVIEW_TEXT_MAX_CHARS),
    _f("created_at", "datetime", "评价时间", "time of the first review"),
    _f("append_content", "text", "追评内容", "follow-up review (追评) text",
       max_chars=REVIEW_TEXT_MAX_CHARS),
    _f("append_created_at", "datetime", "追评时间", "time of the follow-up review"),
    _f("seller_reply", "text", "商家回复", "shop's public reply / 解释", max_chars=REVIEW_TEXT_MAX_CHARS),
    _f("seller_reply_at", "datetime", "回复时间", "time of the shop's reply"),
    _f("has_media", "bool", "是否有图", "review carries pictures or video"),
    _f("media_urls", "text", "评价图片", "picture/video links"),
    _f("tags", "text", "评价标签", "platform tags"),
    _f("ip", "text", "IP地址", "reviewer IP as given by the back end (H2 burst detection)"),
    _f("device_id", "text", "设备ID", "reviewer device id as given by the back end"),
    _f("shop_name", "text", "店铺名称", "shop name"),
)

ORDER_FIELDS = (
    _f("order_id", "id", "订单编号", "main order id"),
    _f("line_id", "id", "子订单编号", "sub-order / line id; derived when the platform has none"),
    _f("status_raw", "text", "订单状态", "order status as written"),
    _f("created_at", "datetime", "下单时间", "order created"),
    _f("paid_at", "datetime", "付款时间", "order paid"),
    _f("promised_ship_at", "datetime", "承诺发货时间", "promised dispatch time", max_ahead=PROMISE_HORIZON),
    _f("shipped_at", "datetime", "发货时间", "dispatched"),
    _f("completed_at", "datetime", "完成时间", "received / completed"),
    _f("buyer_nick", "nick", "买家昵称", "buyer account (masked + hash)"),
    _f("receiver_name", "name", "收货人", "receiver name (masked + hash)"),
    _f("receiver_phone", "phone", "收货人手机", "receiver phone (masked + hash)"),
    _f("receiver_address", "address", "收货地址", "receiver address (province/city kept)"),
    _f("province", "text", "省", "province"),
    _f("city", "text", "市", "city"),
    _f("district", "text", "区", "district"),
    _f("buyer_message", "text", "买家留言", "buyer message"),
    _f("seller_memo", "text", "商家备注", "seller memo"),
    _f("goods_amount", "money", "商品金额", "goods amount before postage (fen)"),
    _f("shipping_fee", "money", "运费", "postage (fen)"),
    _f("discount_amount", "money", "优惠金额", "discounts (fen)"),
    _f("paid_amount", "money", "实付金额", "amount the buyer paid for the order (fen)"),
    _f("refund_amount", "money", "退款金额", "refunded (fen)"),
    _f("tracking_no", "id", "物流单号", "waybill number"),
    _f("carrier", "text", "物流公司", "carrier"),
    _f("product_id", "id", "商品ID", "product id"),
    _f("sku_id", "id", "SKU ID", "SKU / style id"),
    _f("merchant_code", "id", "商家编码", "merchant SKU code"),
    _f("title", "text", "商品标题", "product title"),
    _f("sku_spec", "text", "商品规格", "SKU spec"),
    _f("unit_price", "money", "商品单价", "unit price (fen)"),
    _f("quantity", "int", "数量", "quantity"),
    _f("line_paid_amount", "money", "行实付金额", "amount paid for this line (fen)"),
    _f("refund_status_raw", "text", "售后状态", "after-sales status as written"),
    _f("influencer", "text", "达人昵称", "influencer who sold it (Douyin)"),
    _f("shop_name", "text", "店铺名称", "shop name"),
)

REFUND_FIELDS = (
    _f("refund_id", "id", "退款编号", "refund / after-sales id; derived when missing"),
    _f("order_id", "id", "订单编号", "order id"),
    _f("line_id", "id", "子订单编号", "sub-order id"),
    _f("product_id", "id", "商品ID", "product id"),
    _f("title", "text", "商品名称", "product title"),
    _f("kind_raw", "text", "售后类型", "refund kind as written (仅退款/退货退款/换货/赔付…)"),
    _f("need_return", "bool", "是否需要退货", "goods must be returned"),
    _f("status_raw", "text", "退款状态", "refund status as written"),
    _f("paid_amount", "money", "实付金额", "amount the buyer paid (fen)"),
    _f("apply_amount", "money", "申请金额", "amount applied for (fen)"),
    _f("refund_amount", "money", "退款金额", "amount refunded (fen)"),
    _f("refund_shipping_amount", "money", "退运费金额", "postage refunded (fen)"),
    _f("reason", "text", "退款原因", "buyer's reason"),
    _f("reason_tag", "text", "原因标签", "reason tag"),
    _f("buyer_note", "text", "退款说明", "buyer's explanation"),
    _f("applied_at", "datetime", "申请时间", "applied"),
    _f("agreed_at", "datetime", "同意时间", "agreed by the shop"),
    _f("refunded_at", "datetime", "退款时间", "refunded"),
    _f("finished_at", "datetime", "完结时间", "finished"),
    _f("closed_at", "datetime", "关闭时间", "closed"),
    _f("return_tracking_no", "id", "退货物流单号", "return waybill"),
    _f("return_carrier", "text", "退货物流公司", "return carrier"),
    _f("responsible_party", "text", "责任方", "party held responsible"),
    _f("phase", "text", "售中或售后", "on-sale or after-sale"),
    _f("operator", "text", "操作人", "operator"),
    _f("seller_note", "text", "商家备注", "seller note"),
    _f("shop_name", "text", "店铺名称", "shop name"),
)

CHAT_FIELDS = (
    _f("conversation", "nick", "客户名", "the buyer the conversation is with (masked + hash)"),
    _f("message_seq", "int", "消息序号", "message number within the conversation"),
    _f("sent_at", "datetime", "发送时间", "time sent"),
    _f("sender_name", "text", "发送账号", "sender account"),
    _f("sender_role_raw", "text", "账号类型", "sender type as written (买家/客服/机器人/系统)"),
    _f("content", "text", "发送内容", "message text"),
    _f("order_id", "id", "订单编号", "order mentioned by the conversation"),
    _f("shop_name", "text", "店铺名称", "shop name"),
)

SHIPMENT_FIELDS = (
    _f("tracking_no", "id", "快递单号", "waybill number"),
    _f("carrier", "text", "快递公司", "carrier"),
    _f("order_id", "id", "订单编号", "order id"),
    _f("direction_raw", "text", "物流方向", "发货/退货/换货"),
    _f("shipped_at", "datetime", "发货时间", "dispatched"),
    _f("promised_at", "datetime", "承诺送达时间", "promised delivery time", max_ahead=PROMISE_HORIZON),
    _f("status_raw", "text", "物流状态", "tracking status as written or Kuaidi100 code"),
    _f("event_at", "datetime", "轨迹时间", "time of a tracking event"),
    _f("location", "text", "轨迹地点", "place of a tracking event"),
    _f("description", "text", "轨迹描述", "tracking event text"),
    _f("shop_name", "text", "店铺名称", "shop name"),
)

LISTING_FIELDS = (
    _f("listing_id", "id", "商品ID", "platform listing / item id (宝贝ID, 数字ID); '0' (never uploaded) counts as none"),
    _f("sku_id", "id", "SKU ID", "SKU id when the export has one row per SKU"),
    _f("sku_spec", "text", "SKU规格", "SKU spec text (颜色分类:白色;尺码:M)"),
    _f("merchant_code", "id", "商家编码", "merchant code (outer id)"),
    _f("title", "text", "商品标题", "listing title"),
    _f("category", "text", "类目", "category as the platform writes it (Taobao: the numeric 类目 id)"),
    _f("price", "money", "价格", "price shown (fen)"),
    _f("status_raw", "text", "商品状态", "listing status as written (出售中/仓库中 …)"),
    _f("dispatch", "hours", "发货时效", "promised dispatch time → hours"),
    _f("excluded_regions", "regions", "不发货地区", "regions the listing does not ship to"),
    _f("size_chart", "flag", "尺码表", "a size chart is shown (Taobao 尺码库)"),
    _f("colour_note", "flag", "色差说明", "a colour-difference (色差) note is shown"),
    _f("commitments", "tags", "服务承诺", "service commitments shown, as a list"),
    _f("promise_7day", "flag", "7天无理由", "7天无理由退货 offered (Taobao 7天退货)"),
    _f("promise_freight_insurance", "flag", "运费险", "return-shipping insurance (运费险) offered"),
    _f("promise_damage", "flag", "破损包赔", "破损包赔 / 坏损包退 offered"),
    _f("promise_quick_refund", "flag", "极速退款", "极速退款 offered"),
    _f("promise_fast_dispatch", "flag", "闪电发货", "闪电发货 / 极速发货 offered"),
    _f("selling_points", "text", "宝贝卖点", "selling points (searched for promises, not stored)"),
    _f("description", "text", "宝贝描述", "detail page text or HTML (searched for promises, not stored)",
       max_chars=DESCRIPTION_MAX_CHARS),
    _f("shop_name", "text", "店铺名称", "shop name"),
)

KINDS: dict[str, tuple[Field, ...]] = {
    "reviews": REVIEW_FIELDS,
    "orders": ORDER_FIELDS,
    "refunds": REFUND_FIELDS,
    "chats": CHAT_FIELDS,
    "shipments": SHIPMENT_FIELDS,
    "listings": LISTING_FIELDS,
}

KIND_ZH = {"reviews": "评价", "orders": "订单", "refunds": "退款/售后", "chats": "聊天记录", "shipments": "物流",
           "listings": "商品/宝贝"}

PLATFORMS = ("taobao", "tmall", "douyin", "jd", "pdd", "kuaishou")
PLATFORM_ZH = {
    "taobao": "淘宝", "tmall": "天猫", "douyin": "抖店", "jd": "京东", "pdd": "拼多多", "kuaishou": "快手",
}


def fields_of(kind: str) -> dict[str, Field]:
    """The fields of ``kind`` by name; raises :class:`ConfigError` for an unknown kind."""
    try:
        return {f.name: f for f in KINDS[kind]}
    except KeyError:
        raise ConfigError(
            f"未知的导入类型 unknown kind {kind!r}；可选 choose one of: {', '.join(KINDS)}"
        ) from None


# Output columns of the cleaned frames the importer hands to the store, by kind.
# Derived columns (masked/hashed PII, rating class) are declared here too, so the
# store, the tests and later stages refer to one list.
DERIVED = {
    "rating_class": ("str", "positive | neutral | negative | None, from rating_raw or scores"),
    "rating_score": ("Int64", "1–5 when the platform gives stars or a class maps to one"),
    "is_default_review": ("bool", "the platform wrote the text (系统默认好评 …)"),
}


def validate_frame(df: pd.DataFrame, kind: str, *, required: tuple[str, ...] = ()) -> None:
    """Check that ``df`` only has known columns of ``kind`` and the ``required`` ones.

    Raises :class:`ConfigError` naming the unknown or missing columns.
    """
    known = set(fields_of(kind)) | set(DERIVED)
    unknown = [c for c in df.columns if c not in known and not str(c).endswith(("_masked", "_hash", "_fen", "_hours", "_raw"))]
    missing = [c for c in required if c not in df.columns]
    if unknown or missing:
        raise ConfigError(
            f"{KIND_ZH[kind]}数据列不符 columns do not fit kind {kind!r}: "
            f"unknown={unknown} missing={missing}. Known: {sorted(known)}"
        )
