"""The demo shop: a deterministic, realistic shop written out as genuine-format platform exports.

:func:`generate_exports` writes what four back ends of one shop (禾木优选) would
hand an operator — Taobao/Tmall legacy order reports and refund export in GBK,
Douyin order and after-sales CSVs with tab-prefixed cells, Pinduoduo order and
review CSVs, a JD order CSV in GBK with a totals row, review workbooks, 千牛 and
飞鸽 chat logs and carrier tracking events — using the exact headers of
:mod:`reviewops.intake.layouts` (the first alias of each field) plus the unmapped
columns a real export carries (``reference/exports.md``), in their genuine
column order where it is known.

:func:`build_demo` writes the files and loads every one through the real
importer (:func:`reviewops.intake.ingest.import_paths`), so the demo is also an
end-to-end test of the import path.

Determinism: every random draw comes from one ``random.Random(seed)``, nothing
reads the wall clock (``today`` defaults to :data:`DEFAULT_TODAY`), nothing
iterates a ``set``, and the XLSX files carry a fixed creation time, so the same
seed and scale give byte-identical files.

The shop at ``scale=1.0`` (see :class:`DemoSpec`): 38 products in 7 categories
with SKUs and suppliers, 34,000 customers over 4 platforms, 56,000 orders over
150 days ending at ``today`` (with a 双11 peak), about 12,600 reviews of which
roughly 12 % are 中评/差评 in every category, complaints of every category code
(logistics, quality, size, missing_wrong, description, service, price,
malicious), complaints hidden under good ratings, default reviews, 追评, shop
replies, refunds and after-sales tied to orders, chats around complaints (some
with extortion: "不给我退50块我就给差评"), tracking events with late dispatch and
late delivery, and two same-IP bursts of bad reviews on one product.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..intake.clean import RATING_CLASS_ZH

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TODAY",
    "demo_as_of",
    "SHOPS",
    "CATEGORIES",
    "DemoSpec",
    "ExportFile",
    "DemoResult",
    "DemoRun",
    "run_demo",
    "demo_aftermath",
    "Product",
    "catalogue",
    "generate_demo",
    "generate_exports",
    "build_demo",
]

DEFAULT_SEED = 20261125
DEFAULT_TODAY = dt.date(2026, 11, 20)  # only a reference date for callers that pass ``today``
EXPORT_CLOCK = dt.time(9, 30, 0)  # ``today=`` (a date) means the exports were taken at 09:30 that day
SHANGHAI = ZoneInfo("Asia/Shanghai")
DETECT_EVERY_MINUTES = 15  # the demo shop imports every 15 minutes: a review is detected at the next import
H = 3600
DAY = 86400


# =============================================================================== spec
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


# =============================================================================== shops
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


# =============================================================================== catalogue
CATEGORIES = ("服装", "鞋", "食品", "美妆", "数码配件", "家居", "母婴")

_SUPPLIERS = {
    "衣尚": "广州市衣尚服饰有限公司", "织梦": "杭州织梦纺织品有限公司", "优步": "东莞市优步服饰有限公司",
    "步步高": "泉州市步步高鞋业有限公司", "足迹": "温州市足迹鞋业有限公司",
    "山里人家": "临安山里人家食品有限公司", "草原": "内蒙古草原牧歌食品有限公司", "螺香": "柳州市螺香食品有限公司",
    "果园": "阿克苏果园直供农民专业合作社", "稻香": "五常市稻香米业有限公司", "茶韵": "勐海县茶韵茶业有限公司",
    "肌源": "广州市肌源化妆品有限公司", "美研": "上海美研生物科技有限公司",
    "迅充": "深圳市迅充电子科技有限公司", "声海": "深圳市声海科技有限公司", "卡壳": "东莞市卡壳塑胶制品有限公司",
    "梦乡": "南通市梦乡家纺有限公司", "佳美": "台州市佳美塑料制品有限公司", "恒温": "永康市恒温杯业有限公司",
    "爱宝": "泉州市爱宝卫生用品有限公司", "小布丁": "杭州小布丁婴童服饰有限公司", "贝乐": "佛山市贝乐电器有限公司",
}

_CLOTH = ("S", "M", "L", "XL", "XXL")
# code, category, noun, title, price (yuan), supplier, spec dims, issue rate, popularity, size kind
_CATALOGUE: tuple[tuple[Any, ...], ...] = (
    ("FZ001", "服装", "T恤", "纯棉圆领短袖T恤男夏季宽松半袖打底衫", "39.90", "衣尚",
     (("颜色分类", ("白色", "黑色", "藏青", "浅灰")), ("尺码", _CLOTH)), 0.06, 10, "cloth"),
    ("FZ002", "服装", "牛仔裤", "高腰阔腿牛仔裤女显瘦垂感直筒拖地裤", "89.00", "优步",
     (("颜色分类", ("浅蓝", "深蓝", "黑色")), ("尺码", ("25", "26", "27", "28", "29", "30"))), 0.08, 7, "cloth"),
    ("FZ003", "服装", "卫衣", "加绒连帽卫衣男女同款秋冬宽松外套", "129.00", "织梦",
     (("颜色分类", ("灰色", "黑色", "燕麦色", "酒红")), ("尺码", _CLOTH)), 0.14, 9, "cloth"),
    ("FZ004", "服装", "连衣裙", "法式碎花连衣裙女收腰显瘦中长款", "159.00", "衣尚",
     (("颜色分类", ("蓝色碎花", "黄色碎花")), ("尺码", ("S", "M", "L", "XL"))), 0.08, 5, "cloth"),
    ("FZ005", "服装", "羽绒服", "轻薄羽绒服女短款白鸭绒立领外套", "299.00", "织梦",
     (("颜色分类", ("黑色", "米白", "雾蓝")), ("尺码", ("S", "M", "L", "XL"))), 0.07, 6, "cloth"),
    ("FZ006", "服装", "开衫", "针织开衫女宽松慵懒风毛衣外套", "119.00", "优步",
     (("颜色分类", ("米白", "燕麦色", "灰色")), ("尺码", ("均码",))), 0.07, 4, "cloth"),
    ("XZ001", "鞋", "小白鞋", "百搭厚底小白鞋女透气休闲板鞋", "129.00", "步步高",
     (("颜色分类", ("白色", "白粉", "白绿")), ("尺码", ("35", "36", "37", "38", "39", "40"))), 0.08, 7, "shoe"),
    ("XZ002", "鞋", "跑步鞋", "男士透气网面跑步鞋减震轻便运动鞋", "199.00", "足迹",
     (("颜色分类", ("黑白", "灰蓝", "全黑")), ("尺码", ("39", "40", "41", "42", "43", "44"))), 0.07, 6, "shoe"),
    ("XZ003", "鞋", "雪地靴", "加绒雪地靴女冬季保暖防滑短靴", "159.00", "步步高",
     (("颜色分类", ("栗色", "黑色", "灰色")), ("尺码", ("35", "36", "37", "38", "39", "40"))), 0.09, 4, "shoe"),
    ("XZ004", "鞋", "棉拖鞋", "居家棉拖鞋情侣款冬季防滑保暖", "29.90", "足迹",
     (("颜色分类", ("灰色", "粉色", "藏青")), ("尺码", ("36-37", "38-39", "40-41", "42-43"))), 0.05, 8, "shoe"),
    ("XZ005", "鞋", "皮鞋", "男士商务真皮皮鞋系带正装鞋", "269.00", "足迹",
     (("颜色分类", ("黑色", "棕色")), ("尺码", ("38", "39", "40", "41", "42", "43", "44"))), 0.08, 3, "shoe"),
    ("SP001", "食品", "坚果", "每日坚果混合果仁营养零食30包", "89.90", "山里人家",
     (("净含量", ("750g/30包", "375g/15包")),), 0.06, 9, None),
    ("SP002", "食品", "牛肉干", "手撕风干牛肉干内蒙古特产250g", "59.90", "草原",
     (("口味", ("原味", "香辣", "孜然")),), 0.05, 6, None),
    ("SP003", "食品", "螺蛳粉", "柳州螺蛳粉正宗原味330g*5袋", "39.90", "螺香",
     (("规格", ("5袋装", "10袋装")),), 0.05, 8, None),
    ("SP004", "食品", "苹果", "新疆阿克苏冰糖心苹果新鲜水果5斤装", "39.80", "果园",
     (("规格", ("5斤中果", "5斤大果", "10斤中果")),), 0.15, 7, None),
    ("SP005", "食品", "大米", "东北五常大米稻花香5kg", "69.90", "稻香", (("净含量", ("5kg",)),), 0.04, 4, None),
    ("SP006", "食品", "普洱茶", "云南勐海普洱熟茶饼357g", "128.00", "茶韵", (("净含量", ("357g",)),), 0.04, 2, None),
    ("MZ001", "美妆", "面膜", "玻尿酸补水保湿面膜25片", "79.00", "肌源", (("规格", ("25片",)),), 0.06, 8, None),
    ("MZ002", "美妆", "洗面奶", "氨基酸洗面奶温和清洁120g", "49.90", "肌源",
     (("规格", ("120g", "120g*2支")),), 0.05, 7, None),
    ("MZ003", "美妆", "口红", "哑光丝绒口红持久不易掉色", "89.00", "美研",
     (("色号", ("#01正红", "#02豆沙", "#03枫叶红", "#04烂番茄")),), 0.11, 5, None),
    ("MZ004", "美妆", "防晒霜", "清爽控油防晒霜SPF50+ 50ml", "99.00", "美研", (("规格", ("50ml",)),), 0.06, 5, None),
    ("MZ005", "美妆", "精华液", "烟酰胺精华液提亮肤色30ml", "139.00", "美研", (("规格", ("30ml",)),), 0.08, 4, None),
    ("SM001", "数码配件", "充电器", "20W PD快充充电器适用苹果Type-C", "39.90", "迅充",
     (("规格", ("单头", "头+线套装")),), 0.06, 8, None),
    ("SM002", "数码配件", "蓝牙耳机", "真无线蓝牙耳机降噪长续航入耳式", "159.00", "声海",
     (("颜色分类", ("白色", "黑色")),), 0.16, 7, None),
    ("SM003", "数码配件", "充电宝", "磁吸无线充电宝10000mAh轻薄便携", "129.00", "迅充",
     (("颜色分类", ("白色", "紫色", "黑色")),), 0.08, 5, None),
    ("SM004", "数码配件", "手机壳", "透明防摔手机壳硅胶软壳", "19.90", "卡壳",
     (("适用型号", ("iPhone 15", "iPhone 15 Pro", "iPhone 16", "iPhone 16 Pro")),), 0.05, 9, None),
    ("SM005", "数码配件", "数据线", "Type-C编织数据线快充", "15.90", "迅充", (("长度", ("1米", "2米")),), 0.05, 7, None),
    ("SM006", "数码配件", "机械键盘", "87键机械键盘有线办公游戏", "199.00", "声海",
     (("轴体", ("青轴", "红轴", "茶轴")),), 0.07, 3, None),
    ("JJ001", "家居", "四件套", "纯棉四件套全棉床单被套", "259.00", "梦乡",
     (("规格", ("1.5m床", "1.8m床")), ("花色", ("星空蓝", "奶油白", "灰格"))), 0.07, 5, None),
    ("JJ002", "家居", "枕头", "记忆棉枕头护颈椎枕", "89.00", "梦乡", (("款式", ("标准款", "加高款")),), 0.06, 5, None),
    ("JJ003", "家居", "毛毯", "加厚珊瑚绒毛毯沙发盖毯", "69.90", "梦乡",
     (("尺寸", ("100*150cm", "150*200cm")),), 0.07, 5, None),
    ("JJ004", "家居", "收纳箱", "大号塑料收纳箱衣物整理箱3只装", "59.90", "佳美",
     (("颜色分类", ("透明", "灰色")),), 0.06, 5, None),
    ("JJ005", "家居", "保温杯", "316不锈钢保温杯500ml大容量", "79.00", "恒温",
     (("颜色分类", ("白色", "黑色", "粉色")),), 0.07, 6, None),
    ("MY001", "母婴", "纸尿裤", "超薄透气婴儿纸尿裤", "129.00", "爱宝",
     (("尺码", ("NB", "S", "M", "L", "XL")),), 0.07, 7, "baby"),
    ("MY002", "母婴", "连体衣", "婴儿纯棉连体衣哈衣", "59.90", "小布丁",
     (("颜色分类", ("米白", "浅粉", "浅蓝")), ("尺码", ("59", "66", "73", "80", "90"))), 0.06, 5, "baby"),
    ("MY003", "母婴", "吸管杯", "儿童保温吸管杯上学专用", "69.00", "贝乐", (("颜色分类", ("粉色", "蓝色")),), 0.08, 4, None),
    ("MY004", "母婴", "湿巾", "婴儿手口湿巾80抽*10包", "39.90", "爱宝", (("规格", ("10包",)),), 0.05, 6, None),
    ("MY005", "母婴", "辅食机", "宝宝辅食机多功能料理机", "199.00", "贝乐", (("颜色分类", ("白色",)),), 0.09, 2, None),
)
_BRAND = "禾木"


def _texts(p: "Product") -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(quality complaints, praise, claim) written for this product (:data:`_PRODUCT_TEXTS`)."""
    return _PRODUCT_TEXTS[p.code]


@dataclass
class Product:
    """One catalogue product: its SKUs and per-platform listing ids and prices (fen)."""

    code: str
    category: str
    noun: str
    title: str
    price_fen: int
    supplier: str
    dims: tuple[tuple[str, tuple[str, ...]], ...]
    issue_rate: float
    weight: float
    size_kind: str | None
    skus: list[tuple[str, ...]] = field(default_factory=list)
    platform_id: dict[str, str] = field(default_factory=dict)
    platform_price: dict[str, int] = field(default_factory=dict)
    sku_ids: dict[tuple[str, ...], str] = field(default_factory=dict)  # PDD 样式ID

    def listing_title(self, platform: str) -> str:
        return f"{_BRAND} {self.title}" if platform != "pdd" else f"{self.title} {_BRAND}正品"

    def sku_code(self, sku: tuple[str, ...]) -> str:
        idx = self.skus.index(sku)
        return f"HM-{self.code}-{idx + 1:02d}"


def _fen(yuan: str) -> int:
    a, b = yuan.split(".")
    return int(a) * 100 + int(b.ljust(2, "0"))


def _money(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def catalogue(rng: random.Random | None = None) -> list[Product]:
    """The product catalogue; with ``rng`` also the per-platform listing ids and prices."""
    out: list[Product] = []
    for code, cat, noun, title, price, sup, dims, rate, weight, size_kind in _CATALOGUE:
        p = Product(code, cat, noun, title, _fen(price), _SUPPLIERS[sup], dims, rate, weight, size_kind)
        skus: list[tuple[str, ...]] = [()]
        for _, values in dims:
            skus = [s + (v,) for s in skus for v in values]
        p.skus = skus
        out.append(p)
    if rng is not None:
        used: set[str] = set()

        def uid(make: Callable[[], str]) -> str:
            while True:
                v = make()
                if v not in used:
                    used.add(v)
                    return v

        for p in out:
            p.platform_id["taobao"] = uid(lambda: str(rng.choice((6, 7))) + f"{rng.randrange(10**11):011d}")
            p.platform_id["douyin"] = uid(lambda: "36" + f"{rng.randrange(10**17):017d}")
            p.platform_id["pdd"] = uid(lambda: str(rng.randint(3, 6)) + f"{rng.randrange(10**10):010d}")
            p.platform_id["jd"] = uid(lambda: "1000" + f"{rng.randrange(10**8):08d}")
            for sku in p.skus:
                p.sku_ids[sku] = uid(lambda: "1" + f"{rng.randrange(10**11):011d}")
            base = p.price_fen
            p.platform_price["taobao"] = base
            p.platform_price["jd"] = base
            p.platform_price["douyin"] = base - (1000 if base >= 10000 and rng.random() < 0.5 else 0)
            pdd = (base * 88 // 100) // 100 * 100 + 90
            p.platform_price["pdd"] = min(pdd, base - 100)
    return out


# =============================================================================== geography
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
_NICK_ADJ = ("快乐的", "安静的", "爱笑的", "奔跑的", "迷糊的", "温柔的", "勇敢的", "会飞的", "慢吞吞的", "元气", "小小",
             "爱吃鱼的", "不吃香菜的", "早睡的", "追风的")
_NICK_NOUN = ("小鱼", "猫咪", "兔子", "向日葵", "橘子", "西瓜", "星星", "月亮", "小熊", "柠檬", "云朵", "奶茶", "饺子",
              "汤圆", "豆包", "小鹿", "企鹅", "土豆", "花卷", "果冻")
_PINYIN = ("xiao", "yu", "mei", "li", "hua", "tian", "yue", "ming", "feng", "yun", "xin", "le", "an", "qing",
           "lan", "chen", "zi", "mu", "nan", "bei", "jia", "hao", "wen", "jing")
_IP_FIRST = (36, 39, 42, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122,
             123, 124, 125, 171, 175, 180, 182, 183, 218, 219, 220, 221, 222, 223)


# =============================================================================== texts
# All written for this demo. Keep them GBK-encodable: they also land in GBK files.
# Per-product texts: what a buyer of *this* product praises and complains about (quality), and the
# claim of its detail page. Keyed by catalogue code; every product has its own so that a complaint
# never talks about another product (a 湿巾 complaint on a 辅食机 order).
_PRODUCT_TEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    # code: (quality complaints, praise, claim)
    "FZ001": (("穿了两次领口就松了，变成荷叶边", "洗了一次就起球，像穿了好几年", "缩水严重，洗完短了一截", "线头很多，袖口还开线了"),
              ("纯棉的很舒服，夏天穿很透气", "版型不错，领口不松垮", "洗了几次没有变形也没掉色"), "纯棉"),
    "FZ002": (("裤脚开线了，才穿了两次", "掉色太厉害，腿都染蓝了", "纽扣松了，一扣就掉", "洗了一次就缩水，裤长短了一截"),
              ("显瘦又显高，很好搭", "垂感很好，裤型很正", "面料有弹力，蹲下也不勒"), "不掉色"),
    "FZ003": (("加绒掉毛，粘得满身都是", "洗了一次就起球", "帽绳抽不出来了，做工粗糙", "袖口线头很多，还开线了"),
              ("加绒很厚实，冬天穿很暖和", "宽松的版型很好看，男女都能穿", "面料软乎乎的，不扎人"), "加厚加绒"),
    "FZ004": (("裙摆开线了，线头到处都是", "拉链用了三天就坏了", "洗了一次就皱得不成样子", "面料很薄，有点透"),
              ("碎花很温柔，收腰显瘦", "长度刚好到小腿，很仙", "面料垂顺，穿着很舒服"), "不透不起皱"),
    "FZ005": (("一直在钻绒，穿一天满身是毛", "拉链用了三天就坏了", "充绒量太少了，根本不保暖", "有一股很重的异味"),
              ("很轻薄但是很暖和", "没有钻绒，做工不错", "立领挡风，版型很好看"), "90白鸭绒"),
    "FZ006": (("掉毛严重，黑裤子上全是毛", "洗了一次就起球变形", "纽扣掉了两颗，线头很多", "针脚松了，勾丝了好几处"),
              ("软糯不扎人，很舒服", "慵懒风很好看，很百搭", "针织很细密，做工不错"), "不起球"),
    "XZ001": (("穿了不到一周鞋底就开胶了", "鞋面有褶皱，走路特别磨脚", "白色鞋面一刷就发黄", "胶水味很大，放阳台吹了三天还有"),
              ("鞋子很轻，走一天也不累", "厚底很显高，颜值很高", "做工不错，没有胶水味"), "真皮鞋面"),
    "XZ002": (("鞋底太硬，跑两公里脚就疼", "鞋面网布破了个洞", "中底塌了，一点减震都没有", "鞋带孔开线了"),
              ("减震很好，跑步很舒服", "网面很透气，不闷脚", "很轻便，跑了一周很满意"), "缓震回弹"),
    "XZ003": (("根本不防滑，下雪天摔了一跤", "鞋里的绒一直掉", "一沾水就渗进去了", "鞋底开胶了，才穿一周"),
              ("里面的绒很厚，脚一直暖乎乎的", "防滑效果不错，雪天也稳", "好穿好脱，很保暖"), "防水防滑"),
    "XZ004": (("鞋底一点都不防滑，拖地的时候差点滑倒", "穿了一周就塌了，很扁", "鞋面开线了", "掉毛很厉害"),
              ("很软很暖和，冬天在家离不开", "鞋底防滑，踩着很舒服", "情侣款颜色很好看"), "加厚防滑"),
    "XZ005": (("皮面有裂纹，穿了两次就起皱", "鞋跟那里开线了", "鞋底太硬，走半小时脚就疼", "掉色，白袜子都染黑了"),
              ("皮质很软，穿着不累", "很正式，上班穿很合适", "做工精细，鞋面很亮"), "头层牛皮"),
    "SP001": (("有好几颗是坏的，一股哈喇味", "好几包漏气了，坚果都受潮变软", "吃出了小石子，差点崩了牙", "里面好多碎渣，果仁很少"),
              ("坚果很新鲜，很香很脆", "每天吃一包很方便", "种类很多，搭配得好"), "无添加"),
    "SP002": (("很硬，咬都咬不动", "太咸了，一点肉味都没有", "有股怪味，不敢再吃", "一袋里面好多碎渣"),
              ("很有嚼劲，越嚼越香", "肉很实在，不是淀粉做的", "香辣味很过瘾"), "纯牛肉无淀粉"),
    "SP003": (("汤包漏了，整袋都是油", "粉泡了半天还是硬的", "少了酸笋包", "味道太淡了，一点都不正宗"),
              ("味道很正宗，酸笋很够味", "粉很劲道，汤很香", "料包很足，家里人都爱吃"), "正宗柳州"),
    "SP004": (("烂了好几个，还有虫眼", "一点都不甜，口感很面", "个头很小，跟图片差太多", "好几个都磕伤了"),
              ("冰糖心很甜很脆", "个头均匀，很新鲜", "汁水很多，很好吃"), "冰糖心"),
    "SP005": (("米里有虫子，还有小石子", "煮出来一点都不香", "碎米很多", "包装破了，洒了不少"),
              ("煮出来很香很软糯", "米粒饱满，很好吃", "一家人都爱吃"), "五常稻花香"),
    "SP006": (("一股霉味，不敢喝", "茶饼很松散，碎渣很多", "泡出来很浑，味道很杂", "受潮了，茶饼发软"),
              ("茶汤红浓，很顺滑", "陈香很足，耐泡", "茶饼压得很紧实"), "勐海古树"),
    "MZ001": (("敷上去刺痛，脸都红了", "精华太少了，敷上去干巴巴的", "面膜纸很粗糙，贴不住脸", "用了两天脸上过敏起红疹"),
              ("精华很多，敷完脸很润", "补水效果不错，第二天上妆很服帖", "面膜纸很薄很贴脸"), "敏感肌可用"),
    "MZ002": (("洗完脸很紧绷，起皮了", "泡沫很少，洗不干净", "用了两天长闭口了", "泵头坏了按不出来"),
              ("泡沫很细腻，洗完不紧绷", "很温和，敏感肌也能用", "洗得很干净，味道淡淡的"), "氨基酸温和"),
    "MZ003": (("口红断在管子里，根本没法用", "颜色跟色号图差太多", "很干，嘴巴起皮", "一点都不持久，喝口水就没了"),
              ("颜色很显白，很喜欢", "哑光质地很高级，不拔干", "很持久，吃饭都不太掉"), "持久不掉色"),
    "MZ004": (("抹上去很油，还搓泥", "用了还是晒黑了", "涂完脸上冒痘", "味道很刺鼻，怀疑不是正品"),
              ("很清爽，不油不闷痘", "防晒效果不错，出去玩一天没晒黑", "成膜快，不搓泥"), "清爽不油腻"),
    "MZ005": (("用了两周一点效果都没有", "涂完脸刺痛发红", "滴管坏了，漏了一半", "质地很黏，吸收不了"),
              ("用完一瓶感觉皮肤亮了一些", "质地清爽，吸收很快", "很温和，没有刺痛"), "提亮肤色"),
    "SM001": (("用了三天就坏了，充不进电", "发烫特别厉害，不敢用", "插头松动，插上去就掉", "充电很慢，根本不是快充"),
              ("充电速度很快，不发烫", "体积很小，出门带着方便", "用了几天没出问题"), "快充不发烫"),
    "SM002": (("左耳没声音，连接老是断", "底噪很大，降噪跟没有一样", "充电仓充不进电", "戴一会儿耳朵就疼"),
              ("音质不错，连接很稳定", "降噪效果很好，地铁上也安静", "续航很长，一周充一次"), "主动降噪"),
    "SM003": (("磁吸吸不住，一走路就掉", "充一会儿就发烫，不敢用", "标称一万毫安，充一次手机就没电了", "用了一周就充不进电"),
              ("磁吸很稳，边充边用很方便", "很轻薄，放口袋也不鼓", "充电速度还可以，电量很足"), "10000mAh足容量"),
    "SM004": (("边缘发黄开裂了", "孔位对不上，按键很难按", "一摔就裂了，根本不防摔", "有一股很重的塑料味"),
              ("很透明，不影响颜值", "尺寸刚好，孔位很准", "手感很好，不滑手"), "防摔不发黄"),
    "SM005": (("接触不良，要扭着角度才能充电", "用了三天就断了", "充电很慢，不支持快充", "接口松动，插上就掉"),
              ("编织线很结实，不怕折", "充电速度很快", "长度刚好，躺着玩手机很方便"), "快充不断线"),
    "SM006": (("有两个键按了没反应", "按键连击，打字一个字母出来两个", "灯光有几个键不亮", "线材接口松动，老是断连"),
              ("手感很好，声音很清脆", "做工精细，键帽很厚实", "打字打游戏都很舒服"), "全键无冲"),
    "JJ001": (("洗了一次就起球掉毛", "掉色很严重，洗出来的水都是蓝的", "有一股很重的异味，洗了两遍还有", "被套尺寸偏小，塞不进被子"),
              ("面料柔软亲肤，很舒服", "颜色很好看，没有色差", "洗了几次不起球不掉色"), "全棉"),
    "JJ002": (("睡了一周就塌了，一点支撑都没有", "有一股很重的异味，散了一周还有", "太高了，睡完脖子更疼", "枕套拉链坏了"),
              ("睡着很舒服，颈椎轻松多了", "回弹很好，高度合适", "没有异味，枕套可以拆洗"), "慢回弹记忆棉"),
    "JJ003": (("掉毛严重，粘得满身都是", "洗了一次就起球掉毛", "很薄，根本不暖和", "有一股很重的异味"),
              ("很软很厚，盖着很暖和", "不掉毛，洗了也很软", "颜色好看，放沙发上很温馨"), "不掉毛不起球"),
    "JJ004": (("收到盖子就是裂的", "塑料很薄，一压就变形", "卡扣扣不上，合不严", "有一股很重的塑料味"),
              ("容量很大，收纳了好多东西", "很结实，叠起来放也不变形", "透明的找东西很方便"), "加厚耐压"),
    "JJ005": (("根本不保温，两个小时就凉了", "盖子漏水，包里全湿了", "杯身掉漆了", "有一股很重的铁锈味"),
              ("保温效果很好，一天都是热的", "不漏水，放包里很放心", "颜色很好看，容量也够"), "长效保温"),
    "MY001": (("漏尿，宝宝屁股都红了", "一点都不吸水，晚上漏了两次", "腰贴粘不住，一动就开", "有一股怪味，宝宝用了起红疹"),
              ("宝宝用着不红屁屁，很干爽", "很薄很透气，晚上不漏", "腰围很有弹性，不勒肚子"), "超薄透气"),
    "MY002": (("线头很多，宝宝穿着扎", "扣子掉了，还刮手", "洗了一次就缩水变形", "领口太紧，宝宝穿着不舒服"),
              ("纯棉很柔软，宝宝穿着舒服", "按扣设计换尿布很方便", "洗了几次不变形"), "A类纯棉"),
    "MY003": (("吸管杯漏水，书包都湿了", "根本不保温，中午水就凉了", "吸管咬一咬就破了", "有一股很重的塑料味"),
              ("不漏水，宝宝很喜欢", "保温效果不错，上学带着很方便", "吸管很软，宝宝好吸"), "防漏保温"),
    "MY004": (("湿巾很干，一擦就破", "有一股刺鼻的味道，不敢给宝宝用", "盖子粘不住，放两天就干了", "湿巾很薄，一抽就是好几张"),
              ("湿巾很厚实，不刺激", "没有香味，给宝宝擦手很放心", "很大张，一张就够用"), "无酒精无香精"),
    "MY005": (("用了两次就不转了", "刀头生锈了，不敢给宝宝用", "打出来颗粒很大，根本打不碎", "噪音很大，宝宝都被吓哭了"),
              ("打得很细腻，宝宝很爱吃", "用起来很方便，清洗也简单", "蒸煮搅拌一体，省了很多事"), "一键蒸煮搅拌"),
}
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
# complaint-code weights per category (size only where sizes exist)
_CODE_WEIGHTS = {
    "default": (("quality", 34), ("description", 15), ("missing_wrong", 10), ("service", 8), ("price", 6),
                ("logistics", 10)),
    "sized": (("quality", 24), ("size", 30), ("description", 12), ("missing_wrong", 8), ("service", 6),
              ("price", 5), ("logistics", 8)),
    "食品": (("quality", 44), ("description", 8), ("missing_wrong", 10), ("service", 6), ("price", 6),
            ("logistics", 16)),
}
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
_INFLUENCERS = {
    "服装": ("穿搭小能手阿May", "7295301846"), "鞋": ("鞋控老周", "6620183957"), "食品": ("吃货小分队", "8102935574"),
    "美妆": ("美妆博主可乐", "7731029466"), "数码配件": ("数码宅老王", "6938471025"), "家居": ("居家好物铺子", "7012384456"),
    "母婴": ("宝妈日记", "6829301744"),
}
#: The live queue's spread at as-of (share of the SLA budget used, low–high, share of the queue reviews).
QUEUE_BANDS: tuple[tuple[tuple[float, float], float], ...] = (
    ((0.05, 0.45), 0.45), ((0.55, 0.78), 0.2), ((0.82, 0.97), 0.15), ((1.1, 1.45), 0.2),
)
_DELAY_REASONS = ("天气原因", "运力不足", "分拣中心爆仓", "交通管制")


# =============================================================================== model
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


@dataclass
class DemoResult:
    spec: DemoSpec
    seed: int
    today: dt.date
    files: list[ExportFile]
    catalogue_path: Path
    stats: dict[str, Any]
    products: list[Product] = field(default_factory=list)
    as_of: dt.datetime | None = None  # aware UTC: the moment the history ends
    _gen: Any = field(default=None, repr=False, compare=False)  # the in-memory shop, for the later exports

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


# =============================================================================== helpers
def _ts(t: dt.datetime | None) -> str:
    if t is None:
        return ""
    # the exports' "YYYY-MM-DD HH:MM:SS": isoformat is several times faster than strftime (394,000 tracking rows)
    return t.isoformat(" ", "seconds") if t.tzinfo is None else t.strftime("%Y-%m-%d %H:%M:%S")


def _sec(x: float) -> dt.timedelta:
    return dt.timedelta(seconds=int(x))


def _cum(weights: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


class _Gen:
    """Builds the whole shop in memory, then writes the files."""

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

    # ------------------------------------------------------------------ customers
    def nick(self, platform: str, taken: set[str]) -> str:
        r = self.rng
        while True:
            style = r.random()
            if platform == "jd":
                v = "jd_" + "".join(r.choice("0123456789abcdef") for _ in range(12)) if style < 0.6 else \
                    r.choice(_PINYIN) + r.choice(_PINYIN) + str(r.randint(1970, 2008))
            elif platform == "douyin" and style < 0.35:
                v = "用户" + self.digits(10)
            elif platform == "taobao" and style < 0.3:
                v = "tb" + self.digits(r.randint(9, 10))
            elif style < 0.65:
                v = r.choice(_NICK_ADJ) + r.choice(_NICK_NOUN) + (str(r.randint(1, 2025)) if r.random() < 0.7 else "")
            else:
                v = r.choice(_PINYIN) + r.choice(("", "_", "")) + r.choice(_PINYIN) + str(r.randint(1, 9999))
            if v not in taken:
                taken.add(v)
                return v

    def make_customers(self) -> None:
        r = self.rng
        geo_cum = _cum([g[4] for g in _GEO])
        per = self.spec.customers_by_platform()
        risky_per = _split(self.spec.risky_customers, (("taobao", 0.5), ("douyin", 0.3), ("pdd", 0.1), ("jd", 0.1)))
        for platform in PLATFORMS:
            taken: set[str] = set()
            for i in range(per[platform]):
                c = _Customer()
                c.platform = platform
                c.nick = self.nick(platform, taken)
                c.name = r.choice(_SURNAMES) + ("*" if r.random() < 0.25 else "**")
                c.phone = r.choice(_PHONE_PREFIX) + "****" + self.digits(4)
                c.geo = r.choices(_GEO, cum_weights=geo_cum)[0]
                c.district = r.choice(c.geo[2])
                c.street = r.choice(_STREETS)
                c.risky = i < risky_per[platform]
                c.sock = False
                c.weight = r.paretovariate(1.6)
                self.customers[platform].append(c)
            self._taken = getattr(self, "_taken", {})
            self._taken[platform] = taken

    # ------------------------------------------------------------------ orders
    def order_times(self, n: int) -> list[dt.datetime]:
        r = self.rng
        days = self.spec.days
        weights = []
        for d in range(days + 1):
            day = self.start.date() + dt.timedelta(days=d)
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
                w *= max(0.02, (self.now.hour * 60 + self.now.minute) / (24 * 60))
            weights.append(w)
        day_cum = _cum(weights)
        hour_w = (0.6, 0.35, 0.2, 0.1, 0.08, 0.1, 0.25, 0.6, 1.0, 1.4, 1.7, 1.6, 1.3, 1.3, 1.4, 1.4, 1.3, 1.2, 1.3,
                  1.6, 2.0, 2.3, 2.0, 1.2)
        hour_cum = _cum(hour_w)
        out = []
        for _ in range(n):
            d = r.choices(range(days + 1), cum_weights=day_cum)[0]
            h = r.choices(range(24), cum_weights=hour_cum)[0]
            t = self.start + dt.timedelta(days=d, hours=h, seconds=r.randrange(3600))
            if t >= self.now - dt.timedelta(minutes=2):
                t = self.now - _sec(r.randint(120, 8 * H))
            out.append(t)
        return out

    def make_orders(self) -> None:
        r = self.rng
        spec = self.spec
        prod_cum = _cum([p.weight for p in self.products])
        # every customer orders once; risky accounts order serially; the rest follow a heavy tail
        plan: list[_Customer] = []
        for platform in PLATFORMS:
            for c in self.customers[platform]:
                plan.append(c)
                if c.risky:
                    plan.extend([c] * r.randint(5, 11))
        extra = max(0, spec.orders - len(plan) - spec.burst_taobao - spec.burst_douyin)
        everyone = [c for p in PLATFORMS for c in self.customers[p]]
        plan.extend(r.choices(everyone, cum_weights=_cum([c.weight for c in everyone]), k=extra))
        times = self.order_times(len(plan))
        for c, t in zip(plan, times):
            self.new_order(c, t, prod_cum)
        self.make_bursts(prod_cum)
        for platform in PLATFORMS:
            self.orders[platform].sort(key=lambda o: o.created)

    def new_order(self, c: _Customer, created: dt.datetime, prod_cum: list[float],
                  product: Product | None = None) -> _Order:
        r = self.rng
        o = _Order()
        o.platform = c.platform
        o.customer = c
        o.created = created
        o.order_id = self.order_id(c.platform, created)
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
            p = r.choices(self.products, cum_weights=prod_cum)[0]
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
                    ln.line_id = self.uid(lambda: "69" + self.digits(17))
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
        self.lifecycle(o)
        c.orders.append(o)
        self.orders[c.platform].append(o)
        return o

    def lifecycle(self, o: _Order) -> None:
        r = self.rng
        now = self.now
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
                rf = self.add_refund(o, None, "cancel", applied, full=True)
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
        o.tracking_no = self.waybill(o.carrier)
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

    def make_bursts(self, prod_cum: list[float]) -> None:
        """Sock-puppet accounts that all buy one product and post bad reviews from one IP within minutes."""
        r = self.rng
        for platform, n, code, ip in (("taobao", self.spec.burst_taobao, "SM002", "117.136.38.201"),
                                      ("douyin", self.spec.burst_douyin, "JJ001", "223.104.21.77")):
            if n <= 0:
                continue
            product = next(p for p in self.products if p.code == code)
            review_start = self.now - dt.timedelta(days=4, hours=r.randint(0, 10), minutes=r.randint(0, 59))
            orders = []
            for k in range(n):
                c = _Customer()
                c.platform = platform
                c.nick = self.nick(platform, self._taken[platform])
                c.name = r.choice(_SURNAMES) + "**"
                c.phone = r.choice(_PHONE_PREFIX) + "****" + self.digits(4)
                c.geo = r.choice(_GEO)
                c.district = r.choice(c.geo[2])
                c.street = r.choice(_STREETS)
                c.risky = False
                c.sock = True
                c.weight = 0.0
                self.customers[platform].append(c)
                for _attempt in range(500):
                    created = review_start - _sec(r.uniform(8 * DAY, 14 * DAY))
                    o = self.new_order(c, created, prod_cum, product=product)
                    if o.completed is not None and o.completed < review_start and not o.refunds:
                        break
                    # not received in time: drop it and draw again (deterministically)
                    self.orders[platform].remove(o)
                    c.orders.remove(o)
                else:  # pragma: no cover - 500 misses in a row cannot happen with these odds
                    raise RuntimeError("demo: could not place a burst order")
                o.burst = True
                orders.append(o)
            self.bursts.append({"platform": platform, "product": product, "orders": orders, "ip": ip,
                                "start": review_start})

    # ------------------------------------------------------------------ issues and refunds
    def issue_code(self, p: Product) -> str:
        key = p.category if p.category in _CODE_WEIGHTS else ("sized" if p.size_kind else "default")
        return _pick(self.rng, _CODE_WEIGHTS[key])

    def assign_issues(self) -> None:
        r = self.rng
        for platform in PLATFORMS:
            for o in self.orders[platform]:
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
                        ln.issue = self.issue_code(ln.product)
                        if ln.issue == "logistics":
                            ln.sub = "damaged" if r.random() < 0.6 else "nodoor"
                        elif ln.issue == "missing_wrong":
                            ln.sub = "wrong" if r.random() < 0.4 else "missing"

    def add_refund(self, o: _Order, ln: _Line | None, reason_key: str, applied: dt.datetime, *,
                   full: bool, kind: str | None = None) -> _Refund:
        r = self.rng
        now = self.now
        rf = _Refund()
        rf.order, rf.line, rf.reason_key, rf.applied, rf.full = o, ln, reason_key, applied, full
        rf.refund_id = self.uid(lambda: "2" + self.digits(17)) if o.platform == "taobao" else \
            self.uid(lambda: "7" + self.digits(18))
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
                rf.return_no = self.waybill(rf.return_carrier)
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

    def make_refunds(self) -> None:
        r = self.rng
        for platform in PLATFORMS:
            for o in self.orders[platform]:
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
                    if applied >= self.now:
                        continue
                    rf = self.add_refund(o, ln, key, applied, full=False)
                    # a whole-order refund before 确认收货 closes the trade
                    if (rf.phase == "售中" and rf.state == "success" and rf.full and len(o.lines) == 1
                            and o.platform == "taobao"):
                        o.completed = None
                        o.closed_at = rf.finished
                        o.close_reason = "买家申请退款"

    # ------------------------------------------------------------------ reviews
    def review_time(self, o: _Order, default: bool) -> dt.datetime:
        r = self.rng
        if default:
            return o.completed + dt.timedelta(days=15)
        return o.completed + _sec(min(14 * DAY, r.expovariate(1 / (1.4 * DAY)) + r.uniform(60, 3 * H)))

    def make_reviews(self) -> None:
        r = self.rng
        spec = self.spec
        cand: list[tuple[float, _Order, _Line]] = []
        for platform in PLATFORMS:
            for o in self.orders[platform]:
                if o.completed is None or o.burst:
                    continue
                for ln in o.lines:
                    w = 1.5 if ln.issue else 1.0
                    key = r.random() ** (1.0 / w)
                    cand.append((key, o, ln))
        cand.sort(key=lambda x: -x[0])
        n_normal = spec.reviews - sum(len(b["orders"]) for b in self.bursts) - spec.queue
        chosen = 0
        for _key, o, ln in cand:
            if chosen >= n_normal:
                break
            rv = self.review_for(o, ln)
            if rv is None:
                continue
            chosen += 1
        for b in self.bursts:
            self.burst_reviews(b)
        self.ensure_coverage()
        self.plant_queue(spec.queue)
        for platform in PLATFORMS:
            for rv in self.reviews[platform]:
                self.finish_review(rv)
            self.reviews[platform].sort(key=lambda x: x.created, reverse=True)

    def review_for(self, o: _Order, ln: _Line) -> _Review | None:
        r = self.rng
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
        rv.created = self.review_time(o, rv.default)
        if rv.created >= self.now and rv.default:
            rv.default = False
            rv.created = self.review_time(o, False)
        if rv.created >= self.now:
            return None
        ln.review = rv
        self.reviews[platform].append(rv)
        return rv

    def burst_reviews(self, b: dict[str, Any]) -> None:
        r = self.rng
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
            self.reviews[o.platform].append(rv)
        b["end"] = t

    def plant_queue(self, n: int) -> None:
        """The live queue: ``n`` bad reviews posted in the last hours before as-of, so that at as-of their
        cases have used a spread of their SLA budget (:data:`QUEUE_BANDS`: well within, warning at 50 % and
        80 %, breached). The budget and the clock (7×24 or business hours with holidays) are the policy's,
        counted back from as-of, so the mix holds whatever weekday or time the demo runs at. Each review is
        detected at an import tick (:func:`detection_time`), which the placement accounts for."""
        from ..core.sla import add_working_time, working_minutes_between
        from ..core.clock import calendar_of

        if n <= 0:
            return
        r = self.rng
        policy = self.policy
        if policy is None:
            from ..core.policy import default_policy

            policy = default_policy()
        cal = calendar_of(policy)
        budget = {c["code"]: float(c["sla_hours"]) * 60.0 for c in policy.tables["categories"]}
        lo_t = self.now - dt.timedelta(days=20)
        pool = [(o, ln) for p in PLATFORMS for o in self.orders[p]
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
            code = self.issue_code(ln.product)
            sub = None
            if code == "logistics":
                sub = "damaged" if r.random() < 0.6 else "nodoor"
            elif code == "missing_wrong":
                sub = "wrong" if r.random() < 0.4 else "missing"
            minutes = budget.get(code, budget.get("other", 480.0))
            want = r.uniform(lo, hi)
            target, _ = add_working_time(self.as_of, -want * minutes, cal)
            ticks = max(0, round((self.as_of - target) / step))
            detected = None
            for t in (ticks, ticks - 1, ticks + 1, ticks - 2, ticks + 2):  # the nearest tick inside the band
                if t < 0:
                    continue
                d = self.as_of - t * step
                used, _ = working_minutes_between(d, self.as_of, cal)
                if lo <= used / minutes <= hi:
                    detected = d
                    break
            if detected is None:
                detected = self.as_of - ticks * step
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
            self.reviews[o.platform].append(rv)

    def ensure_coverage(self) -> None:
        """Small scales still show every category, complaint code and review feature at least once."""
        all_rv = [rv for p in PLATFORMS for rv in self.reviews[p] if not rv.burst]

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
            if not any(rv.cls != "positive" for rv in self.reviews[platform]):
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

    def finish_review(self, rv: _Review) -> None:
        """Text, scores, follow-up, reply, IP and media of one review."""
        r = self.rng
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
            rv.content = self.positive_text(p)
        elif rv.codes == ["other"]:
            rv.content = r.choice(_OTHER_NEUTRAL)
        else:
            parts = [self.complaint(code, rv.sub if i == 0 else None, o, ln) for i, code in enumerate(rv.codes)]
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
                if at < self.now:
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
                if at < self.now:
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
            rv.ip = self.ip() if r.random() < 0.9 else ""
        rv.media = r.random() < (0.45 if rv.cls != "positive" else 0.15) and not rv.default
        if rv.cls != "positive" or rv.hidden:
            rv.tags = ",".join(dict.fromkeys(_NEG_TAGS[c] for c in rv.codes)) if r.random() < 0.5 else ""
        else:
            rv.tags = ",".join(r.sample(_POS_TAGS, 2)) if r.random() < 0.4 and not rv.default else ""
        rv.review_id = self.uid(lambda: {"taobao": "1" + self.digits(12), "douyin": "72" + self.digits(17),
                                         "jd": "2" + self.digits(10), "pdd": "P" + self.digits(14)}[platform])
        if platform == "jd":
            nick = o.customer.nick
            rv.nick_shown = nick[:1] + "***" + nick[-1:]
        elif platform == "taobao" and r.random() < 0.12:
            nick = o.customer.nick
            rv.nick_shown = nick[:1] + "**" + nick[-1:]
        else:
            rv.nick_shown = o.customer.nick

    def positive_text(self, p: Product) -> str:
        r = self.rng
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

    def complaint(self, code: str, sub: str | None, o: _Order, ln: _Line) -> str:
        r = self.rng
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

    # ------------------------------------------------------------------ chats
    def make_chats(self) -> None:
        r = self.rng
        target = self.spec.conversations
        must: list[tuple[_Customer, _Order, _Line, str, dt.datetime]] = []
        maybe: list[tuple[_Customer, _Order, _Line, str, dt.datetime]] = []
        for platform in ("taobao", "douyin"):
            extorted: set[int] = set()
            for o in self.orders[platform]:
                c = o.customer
                for ln in o.lines:
                    rv = ln.review
                    if ln.issue == "malicious" and o.delivered is not None and id(c) not in extorted:
                        start = (rv.created if rv is not None else o.delivered) - _sec(r.uniform(2 * H, 30 * H))
                        start = max(start, o.delivered + _sec(600))
                        if start < self.now - dt.timedelta(hours=1):
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
                    if t < self.now - dt.timedelta(hours=1):
                        maybe.append((c, o, o.lines[0], "logistics", t))
        pool = must + maybe
        if len(pool) > target:
            keep = max(0, target - len(must))
            picked = r.sample(range(len(maybe)), keep) if keep < len(maybe) else list(range(len(maybe)))
            pool = must + [maybe[i] for i in sorted(picked)]
        need = max(0, target - len(pool))
        tb = [o for o in self.orders["taobao"] if o.paid is not None]
        dy = [o for o in self.orders["douyin"] if o.paid is not None]
        for _ in range(need):
            o = r.choice(tb) if (r.random() < 0.6 or not dy) else r.choice(dy)
            pool.append((o.customer, o, o.lines[0], "presale", o.created - _sec(r.uniform(300, 3 * H))))
        for c, o, ln, kind, start in pool:
            msgs = self.conversation(c, o, ln, kind, start)
            msgs = [m for m in msgs if m[0] < self.now]
            if msgs:
                self.convs[c.platform].append((c, o, kind, msgs))

    def conversation(self, c: _Customer, o: _Order, ln: _Line, kind: str, start: dt.datetime
                     ) -> list[tuple[dt.datetime, str, str, str]]:
        r = self.rng
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

    # ------------------------------------------------------------------ tracking
    def events(self, o: _Order) -> list[tuple[dt.datetime, str, str, str]]:
        """Tracking events of an outbound shipment (oldest first): (time, status, place, text).

        Times are laid out inside the window from dispatch to the (planned) delivery, so they are
        strictly increasing; events after the export time are not yet known and are left out.
        """
        r = self.rng
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
            return [e for e in out if e[0] < self.now]
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
        return [e for e in out if e[0] < self.now]

    def return_events(self, rf: _Refund) -> list[tuple[dt.datetime, str, str, str]]:
        r = self.rng
        city = rf.order.customer.geo[1]
        t0 = rf.return_at
        out = [(t0, "揽收", city, f"【{city}】您的快件已由【{rf.return_carrier}{rf.order.customer.district}网点】揽收")]
        t1 = t0 + _sec(r.uniform(5 * H, 1.5 * DAY))
        out.append((t1, "在途", "金华市", "【金华市】快件已到达【金华转运中心】"))
        if rf.state == "success" and rf.finished is not None:
            sign = rf.finished - _sec(r.uniform(1 * H, 10 * H))
            if sign > t1:
                out.append((sign, "签收", "义乌市", "【义乌市】快件已签收，签收人：禾木优选售后仓。感谢使用"))
        return [e for e in out if e[0] < self.now]

    # ------------------------------------------------------------------ run
    def build(self) -> None:
        self.make_customers()
        self.make_orders()
        self.assign_issues()
        self.make_refunds()
        self.make_reviews()
        self.make_chats()


def _hub(city: str) -> str:
    return f"{city[:-1] if city.endswith('市') else city}转运中心"


# =============================================================================== writers
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
    def __init__(self, g: _Gen, out: Path, *, suffix: str = "", orders: dict[str, list[_Order]] | None = None,
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
        g = self.g
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
        g = self.g
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
        g = self.g
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
            evs = g.events(o)
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
                    revs = g.return_events(rf)
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


# =============================================================================== stats
def _collect_stats(g: _Gen, w: _Writer) -> dict[str, Any]:
    all_rv = [rv for p in PLATFORMS for rv in g.reviews[p]]
    by_cat: dict[str, dict[str, int]] = {c: {"reviews": 0, "neutral": 0, "negative": 0} for c in CATEGORIES}
    codes: dict[str, int] = {}
    for rv in all_rv:
        d = by_cat[rv.line.product.category]
        d["reviews"] += 1
        if rv.cls != "positive":
            d[rv.cls] += 1
        for c in rv.codes:
            codes[c] = codes.get(c, 0) + 1
    customers = {p: len({id(o.customer) for o in g.orders[p]}) for p in PLATFORMS}
    orders = {p: len(g.orders[p]) for p in PLATFORMS}
    first = min(o.created for p in PLATFORMS for o in g.orders[p])
    last = max(o.created for p in PLATFORMS for o in g.orders[p])
    extortion = sum(1 for p in ("taobao", "douyin") for conv in g.convs[p] if conv[2] == "extortion")
    bursts = [{"platform": b["platform"], "product_code": b["product"].code,
               "product_id": b["product"].platform_id[b["platform"]], "ip": b["ip"], "reviews": len(b["orders"]),
               "start": _ts(b["start"]), "minutes": round((b["end"] - b["start"]).total_seconds() / 60, 1)}
              for b in g.bursts]
    neg = sum(1 for rv in all_rv if rv.cls != "positive")
    return {
        "customers": sum(customers.values()), "customers_by_platform": customers,
        "orders": sum(orders.values()), "orders_by_platform": orders,
        "order_lines": sum(len(o.lines) for p in PLATFORMS for o in g.orders[p]),
        "first_order_at": _ts(first), "last_order_at": _ts(last), "days": (last.date() - first.date()).days + 1,
        "reviews": len(all_rv), "reviews_by_platform": {p: len(g.reviews[p]) for p in PLATFORMS},
        "neutral_negative": neg, "neutral_negative_share": round(neg / max(1, len(all_rv)), 4),
        "by_category": by_cat, "complaint_codes": codes,
        "hidden_complaints": sum(1 for rv in all_rv if rv.hidden),
        "default_reviews": sum(1 for rv in all_rv if rv.default),
        "follow_ups": sum(1 for rv in all_rv if rv.append),
        "seller_replies": sum(1 for rv in all_rv if rv.reply),
        "refunds": sum(len(o.refunds) for p in PLATFORMS for o in g.orders[p]),
        "conversations": sum(len(g.convs[p]) for p in g.convs),
        "messages": sum(len(c[3]) for p in g.convs for c in g.convs[p]),
        "extortion_conversations": extortion,
        "bursts": bursts,
        "shipments": g.stats.get("shipments", {}),
        "files": {f.name: f.rows for f in w.files},
    }


# =============================================================================== public API
def demo_as_of(value: dt.datetime | dt.date | str | None = None, *, today: dt.date | None = None,
               allow_future: bool = False) -> dt.datetime:
    """The moment the demo's history ends, as an aware UTC datetime in whole seconds.

    ``value``: an aware datetime, a naive one (Beijing time), an ISO text (``2026-12-07T09:00``,
    ``2026-12-07 09:00:00+08:00``; Beijing time without an offset) or a date (09:30 Beijing that day);
    ``None``: ``today`` at 09:30 if given, else the current time. A moment in the future is refused
    (the history is written under a simulated clock that never runs ahead of the real one).
    """
    from ..core.errors import ConfigError

    if value is None and today is not None:
        value = today
    if value is None:
        t = dt.datetime.now(dt.UTC)
    elif isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime.combine(value, EXPORT_CLOCK)
    else:
        text = str(value).strip()
        try:
            t = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"--as-of 应为 ISO 时间，如 2026-12-07T09:00（不带时区按北京时间），收到 {text!r} / "
                              f"--as-of must be an ISO time like 2026-12-07T09:00 (Beijing time without an "
                              f"offset), got {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)
    t = t.astimezone(dt.UTC).replace(microsecond=0)
    if not allow_future and t > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5):
        raise ConfigError(f"--as-of 不能晚于现在（{t.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 北京时间）；演示历史只写到现在为止 / "
                          f"--as-of cannot be in the future ({t.isoformat()}); the demo's history ends at the "
                          f"latest now")
    return t


def generate_demo(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED, scale: float = 1.0,
                  today: dt.date | None = None, spec: DemoSpec | None = None,
                  as_of: dt.datetime | str | None = None, policy: Any = None) -> DemoResult:
    """Build the demo shop and write its exports into ``out_dir``; returns files, catalogue and statistics.

    The shop's history ends at ``as_of`` (see :func:`demo_as_of`: default now, or ``today`` at 09:30).
    ``policy`` (default: the default policy) sets the SLA budgets and clock the live queue is placed
    against. Same seed, scale and as-of → identical bytes."""
    spec = spec or DemoSpec.for_scale(scale)
    at = demo_as_of(as_of, today=today, allow_future=True)  # files only; the store's history refuses the future
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g = _Gen(seed, spec, at, policy)
    g.build()
    w = _Writer(g, out)
    cat_path = w.write_all()
    res = DemoResult(spec=spec, seed=seed, today=g.today, files=w.files, catalogue_path=cat_path,
                     stats=_collect_stats(g, w), products=g.products, as_of=at)
    res._gen = g
    return res


def generate_exports(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED, scale: float = 1.0,
                     today: dt.date | None = None, as_of: dt.datetime | str | None = None) -> list[Path]:
    """Write the demo shop's platform exports into ``out_dir``; paths in import order
    (orders, then refunds, shipments, reviews and chats). Same seed, scale and as-of → identical bytes."""
    return generate_demo(out_dir, seed=seed, scale=scale, today=today, as_of=as_of).paths


def build_demo(db: Any = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0,
               out_dir: str | os.PathLike[str] | None = None, progress: bool = False,
               today: dt.date | None = None, as_of: dt.datetime | str | None = None) -> list[Any]:
    """Generate the demo exports (history ending at ``as_of``, default now) and load every file through
    the real importer (no triage, no worked history: :func:`run_demo` does the whole demo).

    ``db`` is what :meth:`reviewops.core.store.Store.open` takes (``None``: ``REVIEWOPS_DB`` or the default
    file). Without ``out_dir`` the files are written to a temporary folder that is removed afterwards.
    Returns the importer's :class:`~reviewops.intake.ingest.ImportResult` list, one per table. Running it
    again on the same database adds nothing. Product categories and suppliers (which no platform
    export carries) are filled into the store's ``products`` table from the catalogue.
    """
    from ..intake.ingest import import_paths
    from ..core.store import Store

    tmp: tempfile.TemporaryDirectory[str] | None = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="reviewops-demo-")
        out_dir = tmp.name
    try:
        demo = generate_demo(out_dir, seed=seed, scale=scale, today=today, as_of=as_of)
        results: list[Any] = []
        with Store.open(db) as store:
            for f in demo.files:
                results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                            progress=progress))
            _fill_products(store, demo)
        return results
    finally:
        if tmp is not None:
            tmp.cleanup()


def _fill_products(store: Any, demo: DemoResult) -> None:
    """Catalogue facts (category, supplier, title) into ``products``: insert missing, fill empty fields."""
    import sqlalchemy as sa

    from ..core import store as st

    products = demo.products
    with store.write() as conn:
        for platform in PLATFORMS:
            shop_id = store.shop_id(conn, platform, SHOPS[platform].name)
            existing = {row.product_id: row for row in conn.execute(
                sa.select(st.products.c.product_id, st.products.c.title, st.products.c.category,
                          st.products.c.supplier).where(st.products.c.shop_id == shop_id))}
            for p in products:
                pid = p.platform_id[platform]
                row = existing.get(pid)
                if row is None:
                    conn.execute(st.products.insert().values(shop_id=shop_id, product_id=pid,
                                                             title=p.listing_title(platform), category=p.category,
                                                             supplier=p.supplier))
                elif row.category is None or row.supplier is None or row.title is None:
                    conn.execute(st.products.update().where(
                        st.products.c.shop_id == shop_id, st.products.c.product_id == pid).values(
                        title=row.title or p.listing_title(platform), category=row.category or p.category,
                        supplier=row.supplier or p.supplier))


# ------------------------------------------------------------------ demo users (workbench)
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("xiaowang", "agent", "客服小王"),
    ("laoli", "supervisor", "主管老李"),
    ("zhaofa", "legal", "法务赵"),
    ("dianzhang", "admin", "店长"),
    ("xiaozhang", "agent", "客服小张"),
    ("xiaochen", "agent", "客服小陈"),
)
DEMO_PASSWORD_ENV = "REVIEWOPS_DEMO_PASSWORD"


def create_demo_users(store: Any, password: str | None = None, *, actor: str = "demo") -> list[dict[str, Any]]:
    """Create the demo workbench users that are absent (every shop, one password for all).

    The password is ``password``, else ``$REVIEWOPS_DEMO_PASSWORD``, else a random one. Returns one
    dict per demo user: ``name, display_name, role, created`` and ``password`` (the password set
    now; ``None`` for a user that already existed and was left unchanged).
    """
    import secrets

    from ..core.users import add_user, user_row

    pw = password or os.environ.get(DEMO_PASSWORD_ENV) or secrets.token_urlsafe(9)
    out: list[dict[str, Any]] = []
    for name, role, display in DEMO_USERS:
        created = user_row(store, name) is None
        if created:
            add_user(store, name, role=role, password=pw, shops="*", display_name=display, actor=actor)
        out.append({"name": name, "display_name": display, "role": role, "created": created,
                    "password": pw if created else None})
    return out


# ------------------------------------------------------------------ worked history (issue 5)
#: The demo agents' working habits: share of cases taken, first-contact delay as a fraction of the
#: SLA budget (low, high), share answered after the deadline, share never contacted.
AGENT_HABITS: dict[str, dict[str, float]] = {
    "xiaowang": {"share": 0.40, "fast": 0.15, "slow": 0.80, "late": 0.08, "never": 0.03},
    "xiaozhang": {"share": 0.35, "fast": 0.05, "slow": 0.40, "late": 0.02, "never": 0.01},
    "xiaochen": {"share": 0.25, "fast": 0.30, "slow": 0.95, "late": 0.25, "never": 0.06},
}
#: Cases that at the demo's "now" have used less than this share of their SLA budget (working time, the
#: policy's clock) are left untouched: they are the live queue (within SLA, in warning, a few breached).
FRESH_FRACTION = 1.5
#: Cases never contacted are taken over and closed by the supervisor after this many days (a few days old
#: ones stay in the queue, breached).
NEVER_CLOSE_DAYS = (3.0, 4.5)
#: Call-recording pass rate and quiz score (mean) of each demo agent (O1 training records).
AGENT_TRAINING: dict[str, tuple[float, float]] = {"xiaowang": (0.80, 82.0), "xiaozhang": (0.92, 90.0),
                                                   "xiaochen": (0.62, 71.0)}
_CONTACT_NOTES = ("已致电客户致歉，了解具体情况", "在线联系客户，核实订单与问题", "客户已回复，确认问题经过",
                  "短信告知处理方案并致歉", "站内信联系客户，说明补救措施")


def demo_now(as_of: dt.datetime | dt.date | str | None = None) -> dt.datetime:
    """The demo's "now" (aware UTC, whole seconds): ``as_of`` (see :func:`demo_as_of`) or the current time."""
    return demo_as_of(as_of)


def detection_time(posted: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When the demo shop first saw a review posted at ``posted``: the shop imports every
    :data:`DETECT_EVERY_MINUTES` minutes (ticks counted back from ``now``), and a review is in the
    first import at least a minute after it was posted; never after ``now``."""
    step = dt.timedelta(minutes=DETECT_EVERY_MINUTES)
    ready = posted + dt.timedelta(minutes=1)
    if ready >= now:
        return now
    return now - ((now - ready) // step) * step


def date_demo_detection(store: Any, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None) -> int:
    """Set each review's detection time (``first_seen_at``) to the demo shop's next import after it was
    posted (:func:`detection_time`: imports every 15 minutes, so 1–16 minutes after posting), never after
    ``now``; reviews whose detection is already earlier are left alone. Run before triage. Returns rows
    changed. (``seed`` is accepted for compatibility; the rule has no randomness.)"""
    import sqlalchemy as sa

    from ..core.store import reviews

    now = now or demo_now()
    with store.write() as conn:
        rows = conn.execute(sa.select(reviews.c.id, reviews.c.created_at, reviews.c.first_seen_at)
                            .order_by(reviews.c.id)).all()
        updates = []
        for r in rows:
            if r.created_at is None:
                continue
            seen = detection_time(r.created_at, now)
            if r.first_seen_at is None or seen < r.first_seen_at:
                updates.append({"pk": r.id, "seen": seen})
        if updates:
            conn.execute(reviews.update().where(reviews.c.id == sa.bindparam("pk"))
                         .values(first_seen_at=sa.bindparam("seen")), updates)
    return len(updates)


class _Sim:
    """One case's timeline: actions run under the simulated clock in ascending time, none after ``end``."""

    def __init__(self, end: dt.datetime, start: dt.datetime):
        self.end = end
        self.t = start

    def at(self, t: dt.datetime) -> bool:
        """Advance to ``t`` (never backwards); False when that is after the end of the history."""
        self.t = max(self.t, t)
        return self.t <= self.end

    def after(self, rng: random.Random, lo_min: float, hi_min: float) -> bool:
        return self.at(self.t + dt.timedelta(minutes=rng.uniform(lo_min, hi_min)))


def work_demo_history(store: Any, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None,
                      fresh_fraction: float = FRESH_FRACTION) -> dict[str, int]:
    """Work the demo's older cases through the real workbench, under the simulated clock.

    Every ``new`` case that at ``now`` (default :func:`demo_now`) has used at least ``fresh_fraction`` of its
    SLA budget (working time on the policy's clock; younger ones stay ``new``: the live queue) is handled
    by one of the demo agents (:data:`AGENT_HABITS`; seeded per case): first contact within or after
    the SLA (a few never), diagnosis, the 3S reply, the suggested H1 remedy (approved by 主管老李 when
    it needs approval), delivery, resolution (mostly satisfied), due follow-ups; a few are escalated;
    malicious ones go to 法务赵 for a platform appeal. Then CSAT/NPS answers and O1 training records
    (:mod:`reviewops.intake.surveys`). Needs the demo users (:func:`create_demo_users`). Cases already worked
    are skipped, so running it again changes nothing. Returns counts of what was done.
    """
    import sqlalchemy as sa

    from ..core.policy import current_policy
    from ..core.sla import working_minutes_between
    from ..core.store import cases, clock, reviews
    from ..core.clock import calendar_of
    from ..core.users import get_actor
    from ..handling.workbench import Workbench, one_transaction

    now = now or demo_now()
    policy = current_policy(store)
    cal = calendar_of(policy)
    actors = {n: get_actor(store, n) for n in (*AGENT_HABITS, "laoli", "zhaofa", "dianzhang")}
    with store.read() as conn:
        rows = conn.execute(sa.select(cases.c.id, cases.c.created_at, cases.c.sla_due_at, cases.c.sla_hours,
                                      cases.c.primary_category, cases.c.categories, reviews.c.customer_id)
                            .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.state == "new", cases.c.version == 1, cases.c.created_at < now)
                            .order_by(cases.c.created_at, cases.c.id)).all()
    recent = now - dt.timedelta(days=14)  # older cases are past any budget × fresh_fraction, even over 国庆

    def fresh(c: Any) -> bool:
        if c.created_at < recent:
            return False
        used, _ = working_minutes_between(c.created_at, now, cal)
        return used < fresh_fraction * float(c.sla_hours or 24.0) * 60.0

    todo = [c for c in rows if not fresh(c)]
    stats = {"cases": len(todo), "contacted": 0, "late": 0, "never": 0, "proposed": 0, "approved": 0,
             "delivered": 0, "resolved": 0, "escalated": 0, "appealed": 0, "closed": 0, "followups": 0}
    names = list(AGENT_HABITS)
    weights = [AGENT_HABITS[n]["share"] for n in names]
    for c in todo:
        rng = random.Random(f"{seed}:case:{c.id}")
        agent = rng.choices(names, weights)[0]
        with one_transaction(store) as tx:  # one case, one transaction; every step still the workbench's own
            wb = {n: Workbench(tx, a, via="demo", policy=policy) for n, a in actors.items()}
            _work_case(wb, agent, c, rng, now, stats, clock)
    from ..intake.surveys import demo_surveys, demo_training

    stats.update(demo_surveys(store, seed=seed, now=now))
    stats.update(demo_training(store, agents=names, seed=seed, now=now, habits=AGENT_TRAINING))
    return stats


def _work_case(wb: dict[str, Any], agent: str, c: Any, rng: random.Random, end: dt.datetime,
               stats: dict[str, int], clock: Callable[[dt.datetime], Any]) -> None:
    """One case's history (see :func:`work_demo_history`)."""
    from ..core.errors import AccessDenied, ComplianceBlocked
    from ..handling.ledger import ReasonRequired
    from ..handling.workbench import CHANNELS, PROBLEMS

    habit = AGENT_HABITS[agent]
    me = wb[agent]
    if rng.random() < habit["never"]:
        stats["never"] += 1
        sim = _Sim(end, c.created_at)
        if sim.at(c.created_at + dt.timedelta(days=rng.uniform(*NEVER_CLOSE_DAYS))):
            with clock(sim.t):
                v = wb["laoli"].escalate(c.id, 1, "超过时效仍未联系客户，主管接手复盘")
            stats["escalated"] += 1
            if sim.after(rng, 20, 180):
                with clock(sim.t):
                    wb["laoli"].close(c.id, v, "多次联系客户未果，评价已超出处理期，关闭并计入超时")
                stats["closed"] += 1
        return
    budget = (c.sla_due_at - c.created_at) if c.sla_due_at is not None else dt.timedelta(hours=24)
    late = rng.random() < habit["late"]
    frac = rng.uniform(1.05, 2.5) if late else rng.uniform(habit["fast"], habit["slow"])
    sim = _Sim(end, c.created_at)
    if not sim.at(c.created_at + budget * frac):
        return
    with clock(sim.t):
        v = me.record_contact(c.id, 1, channel=rng.choice(sorted(CHANNELS)), note=rng.choice(_CONTACT_NOTES))
    stats["contacted"] += 1
    stats["late"] += int(late)
    cat = c.primary_category or "other"
    problems = [p for p, k in PROBLEMS.items() if k == cat] or ["其他"]
    if not sim.after(rng, 3, 25):
        return
    with clock(sim.t):
        v = me.save_diagnosis(c.id, v, problems=[rng.choice(problems)], text="已与客户核实")
        view = me.suggestion(c.id)  # the draft and remedy the case form shows, without the rest of the view
        if view.draft.text and not view.draft.problems:
            try:
                v = me.save_reply(c.id, v, view.draft.text)
            except ComplianceBlocked:
                pass
    if cat == "malicious" or "malicious" in (c.categories or "").split(";"):
        if not sim.after(rng, 60, 24 * 60):
            return
        with clock(sim.t):
            v = wb["zhaofa"].appeal(c.id, v, "疑似恶意差评/勒索，提交平台申诉（附聊天记录）")
        stats["appealed"] += 1
        if rng.random() < 0.6 and sim.after(rng, 2 * 24 * 60, 5 * 24 * 60):
            with clock(sim.t):
                wb["zhaofa"].close(c.id, v, "平台申诉已受理，评价已处理")
            stats["closed"] += 1
        return
    proposer = me
    if rng.random() < 0.06:
        if not sim.after(rng, 10, 120):
            return
        with clock(sim.t):
            v = me.escalate(c.id, v, "客户情绪激动，要求主管处理")
        stats["escalated"] += 1
        proposer = wb["laoli"]
    items = view.suggested_items
    if items:
        if not sim.after(rng, 5, 60):
            return
        with clock(sim.t):
            try:
                prop = proposer.propose(c.id, v, items)
            except ReasonRequired:  # coupons and the VIP gift above a cheap order's value: say why (audited)
                prop = proposer.propose(c.id, v, items, note="按策略补偿：客户分层礼遇与补偿券")
        v = prop.version
        stats["proposed"] += 1
        if prop.pending:
            if not sim.after(rng, 30, 8 * 60):
                return
            approver = wb["laoli"] if proposer is not wb["laoli"] else wb["dianzhang"]
            with clock(sim.t):
                try:
                    v = approver.approve(c.id, v, "同意按策略补偿")
                except AccessDenied:  # above the supervisor's authority (refusal audited): the shop owner decides
                    v = wb["dianzhang"].approve(c.id, v, "同意按策略补偿")
            stats["approved"] += 1
        if not sim.after(rng, 60, 24 * 60):
            return
        with clock(sim.t):
            v = proposer.deliver(c.id, v, "已执行")
        stats["delivered"] += 1
    if not sim.after(rng, 60, 36 * 60):
        return
    with clock(sim.t):
        v = proposer.resolve(c.id, v, satisfied=rng.random() < 0.85)
    stats["resolved"] += 1
    _followups(proposer, c.id, rng, sim, stats, clock)


def _followups(me: Any, case_id: int, rng: random.Random, sim: _Sim, stats: dict[str, int],
               clock: Callable[[dt.datetime], Any]) -> None:
    """Complete the case's follow-ups as they fall due (a few skipped), until the end of the history: the open
    tasks in due order, each at its own time, as one batch (``Workbench.complete_followups``); a done 复购券 task
    adds its expiry reminder (due weeks after every other task), which the next round takes."""
    import sqlalchemy as sa

    from ..core.store import followups

    while True:  # every task exists once due (delivery + resolution)
        with me.store.read() as conn:
            open_tasks = conn.execute(sa.select(followups.c.id, followups.c.due_at).where(
                followups.c.case_id == case_id, followups.c.state == "open")
                .order_by(followups.c.due_at, followups.c.id)).all()
        batch: list[dict[str, Any]] = []
        for t in open_tasks:
            if not sim.at(t.due_at + dt.timedelta(minutes=rng.uniform(5, 6 * 60))):
                break
            if rng.random() < 0.05:
                batch.append({"followup_id": t.id, "done": False, "reason": "客户未接听，按规定跳过", "at": sim.t})
            else:
                batch.append({"followup_id": t.id, "at": sim.t})
        if batch:
            with clock(batch[-1]["at"]):  # each task carries its own time; sim.t may already be past the end
                me.complete_followups(batch)
            stats["followups"] += len(batch)
        if len(batch) < len(open_tasks) or not batch:
            return


# ------------------------------------------------------------------ after good handling (issue 14)
#: What buyers do after their case was resolved, by whether they said they were satisfied: change the
#: rating to a good one (with a 追评 most of the time), only append a 追评, buy again (within 45 days).
AFTERMATH: dict[bool, dict[str, float]] = {
    True: {"revise": 0.45, "append": 0.2, "repurchase": 0.32},
    False: {"revise": 0.04, "append": 0.3, "repurchase": 0.08},
}
AFTERMATH_SUFFIX = "_追评改评"


def demo_aftermath(store: Any, demo: DemoResult, *, seed: int = DEFAULT_SEED, now: dt.datetime | None = None,
                   progress: bool = False) -> tuple[dict[str, int], list[Any]]:
    """What happens after the worked history: for each resolved case (seeded per case, rates
    :data:`AFTERMATH`), the buyer may change the rating to a good one (a 追评 explaining it most of the
    time), only append a 追评, and/or buy again — a new order, often reviewed. Everything before ``now``
    is written as the platforms' later exports (the same layouts, files named ``…_追评改评``: the
    reviews as they now read, the new orders and their reviews) and loaded through the real importer,
    which records the changed reviews as new versions — what the reports count as 改评. Returns counts and
    the import results. ``demo`` is the :func:`generate_demo` result of the first exports."""
    import sqlalchemy as sa

    from ..intake.ingest import import_paths
    from ..core.store import cases, clock, reviews, shops

    g: _Gen = demo._gen
    now = now or demo.as_of or demo_now()
    end_local = now.astimezone(SHANGHAI).replace(tzinfo=None)
    by_key: dict[tuple[str, str, str], _Review] = {}
    for platform in PLATFORMS:
        for rv in g.reviews[platform]:
            by_key[(platform, rv.order.order_id, rv.line.product.platform_id[platform])] = rv
    with store.read() as conn:
        rows = conn.execute(sa.select(cases.c.id, cases.c.resolved_at, cases.c.satisfied, shops.c.platform,
                                      reviews.c.order_id, reviews.c.product_id)
                            .select_from(cases.join(shops, shops.c.id == cases.c.shop_id)
                                         .join(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.resolved_at.is_not(None))
                            .order_by(cases.c.id)).all()
    g.rng = random.Random(f"{seed}:aftermath")
    prod_cum = _cum([p.weight for p in g.products])
    changed: dict[str, list[_Review]] = {p: [] for p in PLATFORMS}
    new_orders: dict[str, list[_Order]] = {p: [] for p in PLATFORMS}
    stats = {"resolved": len(rows), "revised": 0, "appended": 0, "repurchased": 0, "repurchase_reviews": 0}
    for c in rows:
        rv = by_key.get((c.platform, c.order_id, c.product_id))
        if rv is None or rv.burst or rv.malicious:
            continue
        rng = random.Random(f"{seed}:after:{c.id}")
        odds = AFTERMATH[bool(c.satisfied)]
        resolved = c.resolved_at.astimezone(SHANGHAI).replace(tzinfo=None)
        at = resolved + _sec(rng.uniform(2 * H, 5 * DAY))
        x = rng.random()
        if at < end_local and x < odds["revise"] + odds["append"]:
            if x < odds["revise"]:
                rv.cls = "positive"
                rv.score = 5 if rng.random() < 0.8 else 4
                rv.score_srv = 5
                stats["revised"] += 1
                if rng.random() < 0.7:
                    rv.append, rv.append_at = rng.choice(_APPEND_RESOLVED), at
            else:
                rv.append, rv.append_at = rng.choice(_APPEND_RESOLVED if c.satisfied else _APPEND_WORSE), at
                stats["appended"] += 1
            changed[c.platform].append(rv)
        if rng.random() < odds["repurchase"]:
            buy = resolved + _sec(rng.uniform(1 * DAY, 45 * DAY))
            if buy < end_local - dt.timedelta(hours=2):
                o = g.new_order(rv.order.customer, buy, prod_cum)
                new_orders[c.platform].append(o)
                stats["repurchased"] += 1
                if o.completed is not None and rng.random() < 0.7:
                    ln = o.lines[0]
                    ln.issue = None
                    nr = g.review_for(o, ln)
                    if nr is not None:
                        g.finish_review(nr)
                        changed[c.platform].append(nr)
                        stats["repurchase_reviews"] += 1
    out = Path(demo.files[0].path).parent
    w = _Writer(g, out, suffix=AFTERMATH_SUFFIX, orders=new_orders, reviews=changed)
    writers = {"taobao": (w.taobao_orders, w.taobao_reviews), "douyin": (w.douyin_orders, w.douyin_reviews),
               "pdd": (w.pdd_orders, w.pdd_reviews), "jd": (w.jd_orders, w.jd_reviews)}
    for platform in PLATFORMS:
        if new_orders[platform]:
            writers[platform][0]()
    for platform in PLATFORMS:
        if changed[platform]:
            changed[platform].sort(key=lambda x: x.created, reverse=True)
            writers[platform][1]()
    results: list[Any] = []
    with clock(now):
        for f in w.files:
            results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                        progress=progress))
    demo.files.extend(w.files)
    return stats, results


@dataclass
class DemoRun:
    """What :func:`run_demo` did: import results (first and later exports), the triage, the demo users,
    the worked history's counts (with the aftermath's), the as-of moment and the generated shop."""

    results: list[Any]
    triage: Any
    users: list[dict[str, Any]]
    history: dict[str, int]
    as_of: dt.datetime
    demo: DemoResult
    #: wall seconds per phase: generate, import, triage (with detection dates and users), history, aftermath
    timings: dict[str, float] = field(default_factory=dict)


def run_demo(db: Any = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0, as_of: Any = None,
             out_dir: str | os.PathLike[str] | None = None, password: str | None = None, actor: str = "demo",
             progress: bool = False) -> DemoRun:
    """The whole demo (``reviewops demo``): generate the shop up to ``as_of`` (default now), import every
    export, date detection, triage, create the demo users, work the history, then the aftermath
    (revised reviews, 追评, repurchases, as later exports). Same seed, scale and as-of → the same exports
    and the same store content (apart from the users' salted password hashes): the store is
    written under the simulated clock at ``as_of``, never the real one."""
    from ..intake.ingest import import_paths
    from ..core.policy import current_policy
    from ..core.store import Store, clock
    from ..handling.opening import triage_store

    at = demo_as_of(as_of)
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="reviewops-demo-")
        out_dir = tmp.name
    try:
        # the whole store is written as of ``at``: the store's own bookkeeping times (shops, customers, review
        # versions, import batches, the policy version, the users) come from the simulated clock, never from
        # the real one, so the same seed and as-of give the same store (the history's steps nest earlier clocks)
        timings: dict[str, float] = {}
        lap = [time.perf_counter()]

        def done(phase: str) -> None:
            now_ = time.perf_counter()
            timings[phase] = round(timings.get(phase, 0.0) + now_ - lap[0], 2)
            lap[0] = now_

        with Store.open(db) as store, clock(at):
            policy = current_policy(store, actor=actor)
            demo = generate_demo(out_dir, seed=seed, scale=scale, as_of=at, policy=policy)
            done("generate")
            results: list[Any] = []
            for f in demo.files:
                results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                            progress=progress))
            _fill_products(store, demo)
            done("import")
            date_demo_detection(store, seed=seed, now=at)
            triaged = triage_store(store, actor=actor, via="cli", dated_at_detection=True)
            users = create_demo_users(store, password, actor=actor)
            done("triage")
            history = work_demo_history(store, seed=seed, now=at)
            done("history")
            after, later = demo_aftermath(store, demo, seed=seed, now=at, progress=progress)
            results.extend(later)
            batches = [r.batch_id for r in later if getattr(r, "batch_id", None) is not None]
            if batches:
                date_demo_detection(store, seed=seed, now=at)
                more = triage_store(store, actor=actor, via="cli", dated_at_detection=True, batch_ids=batches)
                triaged.created += more.created
                triaged.case_ids.extend(more.case_ids)
            history.update({f"after_{k}": v for k, v in after.items()})
            done("aftermath")
        return DemoRun(results=results, triage=triaged, users=users, history=history, as_of=at, demo=demo,
                       timings=timings)
    finally:
        if tmp is not None:
            tmp.cleanup()
