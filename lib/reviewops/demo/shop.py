"""The demo shop in memory: its size, its four platform shops, where its buyers live, the records it is
built from (customers, order lines, orders, refunds, reviews) and :class:`Shop`, the state every
generating step works on (one ``random.Random(seed)``, the ids already used, what was made so far).

The steps live in the files named after what they make (customers and orders, shipments and after-sales,
reviews, chats); ``generate.py`` runs them in order and hands the shop to the writers.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .catalogue import catalogue
from .timeline import SHANGHAI


@dataclass(frozen=True)
class DemoSpec:
    """How big the demo shop is. ``DemoSpec.for_scale(1.0)`` is the full shop."""

    scale: float = 1.0
    customers: int = 34_000
    orders: int = 56_000
    reviews: int = 12_600
    conversations: int = 1_500
    days: int = 150
    risky_customers: int = 24
    burst_taobao: int = 10  # same-IP bad reviews on one Taobao product within ~30 minutes
    burst_douyin: int = 8
    queue: int = 30  # bad reviews posted in the last hours before as-of, spread over the SLA (the live queue)
    platform_shares: tuple[tuple[str, float], ...] = (
        ("taobao", 0.48), ("douyin", 0.24), ("pdd", 0.16), ("jd", 0.12),
    )

    @classmethod
    def for_scale(cls, scale: float = 1.0) -> "DemoSpec":
        if not (isinstance(scale, (int, float)) and scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale must be a positive number, got {scale!r}")

        def n(base: int, floor: int) -> int:
            return max(floor, int(round(base * scale)))

        return cls(
            scale=float(scale), customers=n(34_000, 80), orders=n(56_000, 200), reviews=n(12_600, 60),
            conversations=n(1_500, 24), risky_customers=n(24, 4), queue=n(30, 12),
        )

    def customers_by_platform(self) -> dict[str, int]:
        return _split(self.customers, self.platform_shares)


def _split(total: int, shares: Sequence[tuple[str, float]]) -> dict[str, int]:
    """Largest-remainder split of ``total`` by ``shares`` (deterministic)."""
    raw = [(k, total * s) for k, s in shares]
    out = {k: int(v) for k, v in raw}
    rest = total - sum(out.values())
    for k, _ in sorted(raw, key=lambda kv: -(kv[1] - int(kv[1])))[:rest]:
        out[k] += 1
    return out


# --------------------------------------------------------------- shops
@dataclass(frozen=True)
class ShopInfo:
    platform: str
    name: str
    zh: str
    numeric_id: str
    agents: tuple[str, ...]
    bot: str


SHOPS: dict[str, ShopInfo] = {
    "taobao": ShopInfo("taobao", "禾木优选旗舰店", "淘宝/天猫", "163829471",
                       ("小禾", "阿木", "晴晴", "小满", "售后-一一"), "店小蜜"),
    "douyin": ShopInfo("douyin", "禾木优选抖音小店", "抖店", "88127364",
                       ("禾木-可可", "禾木-豆豆", "禾木售后-安安"), "智能客服"),
    "pdd": ShopInfo("pdd", "禾木优选百货", "拼多多", "602931847", ("禾木-小美",), "机器人"),
    "jd": ShopInfo("jd", "禾木优选京东旗舰店", "京东", "10283746", ("禾木-京京",), "机器人"),
}
PLATFORMS = ("taobao", "douyin", "pdd", "jd")


# --------------------------------------------------------------- geography and names
# province, city, districts, transit days from the 义乌 warehouse, weight
_GEO: tuple[tuple[str, str, tuple[str, ...], float, int], ...] = (
    ("浙江省", "杭州市", ("西湖区", "拱墅区", "余杭区", "滨江区"), 1.0, 8),
    ("浙江省", "宁波市", ("鄞州区", "海曙区"), 1.0, 4),
    ("浙江省", "金华市", ("婺城区", "义乌市"), 0.8, 3),
    ("江苏省", "南京市", ("鼓楼区", "江宁区"), 1.5, 5),
    ("江苏省", "苏州市", ("姑苏区", "吴中区", "昆山市"), 1.5, 6),
    ("上海市", "上海市", ("浦东新区", "闵行区", "徐汇区"), 1.5, 8),
    ("安徽省", "合肥市", ("蜀山区", "包河区"), 1.5, 4),
    ("北京市", "北京市", ("朝阳区", "海淀区", "丰台区"), 2.5, 7),
    ("天津市", "天津市", ("南开区", "河西区"), 2.5, 3),
    ("广东省", "广州市", ("天河区", "白云区", "番禺区"), 2.5, 7),
    ("广东省", "深圳市", ("南山区", "宝安区", "龙岗区"), 2.5, 7),
    ("福建省", "厦门市", ("思明区", "湖里区"), 2.0, 3),
    ("山东省", "济南市", ("历下区", "槐荫区"), 2.0, 4),
    ("山东省", "青岛市", ("市南区", "黄岛区"), 2.0, 4),
    ("河南省", "郑州市", ("金水区", "二七区"), 2.5, 5),
    ("湖北省", "武汉市", ("洪山区", "江汉区"), 2.0, 5),
    ("湖南省", "长沙市", ("岳麓区", "雨花区"), 2.0, 4),
    ("江西省", "南昌市", ("红谷滩区", "青山湖区"), 1.5, 3),
    ("河北省", "石家庄市", ("长安区", "裕华区"), 2.5, 3),
    ("四川省", "成都市", ("武侯区", "高新区", "锦江区"), 3.0, 6),
    ("重庆市", "重庆市", ("渝北区", "江北区"), 3.0, 4),
    ("陕西省", "西安市", ("雁塔区", "未央区"), 3.0, 4),
    ("辽宁省", "沈阳市", ("和平区", "浑南区"), 3.0, 3),
    ("黑龙江省", "哈尔滨市", ("南岗区", "道里区"), 3.5, 2),
    ("云南省", "昆明市", ("五华区", "盘龙区"), 3.5, 2),
    ("广西壮族自治区", "南宁市", ("青秀区", "西乡塘区"), 3.0, 2),
    ("甘肃省", "兰州市", ("城关区", "七里河区"), 3.5, 1),
    ("新疆维吾尔自治区", "乌鲁木齐市", ("天山区", "沙依巴克区"), 5.0, 1),
)
_STREETS = ("文三路", "人民路", "解放路", "中山路", "建设路", "新华路", "长江路", "和平路", "幸福路", "朝阳路",
            "学院路", "滨江大道", "东风路", "胜利街", "光明路")
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
             "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_PHONE_PREFIX = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
                 "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
                 "188", "189", "191", "198", "199")
_IP_FIRST = (36, 39, 42, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122,
             123, 124, 125, 171, 175, 180, 182, 183, 218, 219, 220, 221, 222, 223)


# --------------------------------------------------------------- records
class _Customer:
    __slots__ = ("platform", "nick", "name", "phone", "geo", "district", "street", "risky", "sock", "orders",
                 "weight")

    def __init__(self) -> None:
        self.orders: list[_Order] = []


class _Line:
    __slots__ = ("line_id", "product", "sku", "qty", "unit_fen", "paid_fen", "issue", "sub", "refund", "review")

    def __init__(self) -> None:
        self.issue: str | None = None
        self.sub: str | None = None
        self.refund: _Refund | None = None
        self.review: _Review | None = None


class _Order:
    __slots__ = ("platform", "order_id", "customer", "created", "paid", "promised_ship", "shipped", "delivered",
                 "dropoff_at", "completed", "closed_at", "close_reason", "cancelled", "lines", "fee_fen",
                 "discount_fen", "carrier", "tracking_no", "promised_arrive", "ship_late", "transit_delay", "lost",
                 "stall_hub", "dropoff", "influencer", "buyer_msg", "memo", "cipher", "eta", "refunds", "burst")

    def __init__(self) -> None:
        for s in self.__slots__:
            setattr(self, s, None)
        self.lines: list[_Line] = []
        self.refunds: list[_Refund] = []
        self.cancelled = False
        self.ship_late = False
        self.transit_delay = 0.0
        self.lost = False
        self.dropoff = False
        self.burst = False

    @property
    def goods_fen(self) -> int:
        return sum(ln.unit_fen * ln.qty for ln in self.lines)

    @property
    def paid_fen(self) -> int:
        return self.goods_fen - self.discount_fen + self.fee_fen

    @property
    def delayed(self) -> bool:
        if self.promised_arrive is None:
            return False
        end = self.delivered
        return self.lost or (end is not None and end > self.promised_arrive) or self.ship_late


class _Refund:
    __slots__ = ("refund_id", "order", "line", "kind", "need_return", "amount_fen", "reason_key", "note", "applied",
                 "agreed", "return_at", "return_carrier", "return_no", "finished", "state", "phase", "full",
                 "operator", "responsible")


class _Review:
    __slots__ = ("review_id", "order", "line", "created", "cls", "score", "score_log", "score_srv", "codes", "sub",
                 "hidden", "default", "malicious", "burst", "content", "append", "append_at", "reply", "reply_at",
                 "ip", "nick_shown", "media", "tags")

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.hidden = self.default = self.malicious = self.burst = False
        self.append = self.append_at = self.reply = self.reply_at = self.media = self.tags = self.sub = None
        self.ip = self.review_id = self.nick_shown = self.content = None


def _cum(weights: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


class Shop:
    """The shop being generated: built in memory by the steps, then written by the writers."""

    def __init__(self, seed: int, spec: DemoSpec, as_of: dt.datetime, policy: Any = None) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.spec = spec
        self.as_of = as_of  # aware UTC, whole seconds
        self.now = as_of.astimezone(SHANGHAI).replace(tzinfo=None)  # naive Beijing time, as the exports write it
        self.today = self.now.date()
        self.policy = policy
        self.start = dt.datetime.combine(self.today - dt.timedelta(days=spec.days), dt.time(0, 0))
        self.used_ids: set[str] = set()
        self.products = catalogue(self.rng)
        self.customers: dict[str, list[_Customer]] = {p: [] for p in PLATFORMS}
        self.orders: dict[str, list[_Order]] = {p: [] for p in PLATFORMS}
        self.reviews: dict[str, list[_Review]] = {p: [] for p in PLATFORMS}
        self.convs: dict[str, list[tuple[_Customer, _Order | None, str, list[tuple[dt.datetime, str, str, str]]]]] = {
            "taobao": [], "douyin": []}
        self.stats: dict[str, Any] = {}
        self.bursts: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ ids
    def uid(self, make: Callable[[], str]) -> str:
        while True:
            v = make()
            if v not in self.used_ids:
                self.used_ids.add(v)
                return v

    def digits(self, n: int) -> str:
        return f"{self.rng.randrange(10 ** n):0{n}d}"

    def order_id(self, platform: str, created: dt.datetime) -> str:
        r = self.rng
        if platform == "taobao":
            return self.uid(lambda: str(r.randint(2, 4)) + self.digits(18))
        if platform == "douyin":
            return self.uid(lambda: "69" + self.digits(17))
        if platform == "pdd":
            return self.uid(lambda: created.strftime("%y%m%d") + "-" + self.digits(15))
        return self.uid(lambda: str(r.randint(2, 3)) + self.digits(11))

    def waybill(self, carrier: str) -> str:
        make = {
            "中通快递": lambda: "78" + self.digits(12), "圆通速递": lambda: "YT" + self.digits(13),
            "韵达快递": lambda: "43" + self.digits(11), "申通快递": lambda: "77" + self.digits(13),
            "顺丰速运": lambda: "SF" + self.digits(13), "极兔速递": lambda: "JT" + self.digits(13),
            "京东物流": lambda: "JDVA" + self.digits(11),
        }[carrier]
        return self.uid(make)

    def ip(self) -> str:
        r = self.rng
        return f"{r.choice(_IP_FIRST)}.{r.randint(1, 254)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
