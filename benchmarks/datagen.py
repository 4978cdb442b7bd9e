"""Deterministic synthetic Taobao review exports for the import benchmarks.

The files use the provisional ``taobao_reviews`` layout headers
(:data:`reviewops.intake.layouts.BUILTIN`, name ``taobao_reviews``) and are built so
that **every row is valid** for the importer:

* 订单编号 — 19-digit order ids (Taobao pattern ``^\\d{12,20}$``), unique per row;
* 宝贝ID / 宝贝标题 — 12-digit item ids from a catalogue of 400 products;
* 买家昵称 — Taobao-style nicks (``tb8817263540``, ``快乐的小鹿2019``), drawn from a
  buyer base of 0.6 × rows, so repeat buyers exist as in a real shop;
* 评价结果 — 好评 / 中评 / 差评 (88 / 6 / 6 %);
* 评价内容 — Chinese review text of 20–80 characters composed from phrases that
  match the rating;
* 评价时间 — ``yyyy-MM-dd HH:mm:ss`` in 2025;
* 追评内容 / 追评时间 — present on 15 % of rows (10–60 characters, 1–60 days later);
* 店铺名称 — three shops (60 / 30 / 10 %).

The same ``(rows, seed)`` always gives byte-identical files (``random.Random``
seeded once; no wall-clock input), so numbers from different machines or
commits are comparable.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

GENERATOR_VERSION = 1
DEFAULT_SEED = 20261125

HEADERS = ["订单编号", "宝贝ID", "宝贝标题", "买家昵称", "评价结果", "评价内容", "评价时间", "追评内容", "追评时间", "店铺名称"]

SHOPS = (("暖暖家居旗舰店", 0.6), ("小鹿服饰专营店", 0.3), ("山野零食铺", 0.1))
RATINGS = (("好评", 0.88), ("中评", 0.06), ("差评", 0.06))

POSITIVE = (
    "质量很好", "物流很快", "包装很仔细，没有任何破损", "和描述的一模一样", "性价比很高", "穿着很舒服",
    "颜色很正，没有色差", "客服态度很好，耐心解答问题", "已经回购好几次了", "做工精细，没有线头", "尺码标准",
    "面料柔软亲肤", "孩子很喜欢", "老公说不错", "味道很好吃，甜而不腻", "分量很足", "生产日期很新鲜",
    "推荐大家购买", "下次还会再来", "比实体店便宜多了", "发货速度快，第二天就到了", "超出预期",
    "细节处理得很好", "洗了两次也没有掉色", "送给妈妈的，她很满意", "上身效果很好看", "安装很简单",
    "用了一个星期再来评价", "一分钱一分货，值得", "卖家还送了小礼物", "快递小哥服务很好", "图片拍得很真实",
)
NEUTRAL = (
    "一般般吧", "还行", "凑合能用", "中规中矩", "价格有点贵", "物流一般，等了四天", "没有想象中好",
    "质量一般", "颜色和图片有一点差别", "尺码偏大半码", "包装比较简陋", "味道还可以，就是有点咸",
    "客服回复比较慢", "做工一般，有几个线头", "性价比不算高", "勉强可以接受",
)
NEGATIVE = (
    "质量太差了", "收到就是坏的", "和图片严重不符", "物流太慢，等了一个星期", "客服一直不理人", "色差很大",
    "尺码偏小，根本穿不上", "穿了一次就起球", "外包装破损，里面也压坏了", "少发了一件，联系客服没人管",
    "有一股很难闻的味道", "退货太麻烦了", "不推荐购买", "用了两天就坏了", "做工粗糙", "线头很多",
    "与描述不符", "感觉是二手的，有使用痕迹", "生产日期都快过期了", "申请退款一直不处理", "差评，再也不来了",
)
APPEND = (
    "用了一个月了，还是很好用", "洗了一次有点缩水", "追加一下，质量确实不错", "现在开线了，有点失望",
    "家里人都说好", "又买了一件送朋友", "客服后来主动联系解决了问题", "过了一周开始掉色", "回购第三次了",
    "味道越吃越香", "用久了发现做工还是可以的", "退换货之后满意了",
)
TITLE_A = ("2025新款", "春夏季", "秋冬加厚", "ins风", "日式", "北欧", "网红同款", "官方正品", "清仓特价", "加大码")
TITLE_B = ("纯棉", "真丝", "不锈钢", "实木", "硅胶", "羊毛", "亚麻", "竹纤维", "陶瓷", "玻璃")
TITLE_C = ("短袖T恤", "连衣裙", "保温杯", "四件套", "收纳盒", "坚果礼盒", "拖鞋", "睡衣套装", "毛巾", "餐具套装",
           "牛肉干", "双肩包", "围巾", "凉席", "抱枕")
TITLE_D = ("男女同款", "宽松显瘦", "家用大容量", "送礼佳品", "包邮", "学生宿舍", "儿童款", "办公室", "")
NICK_A = ("快乐的", "爱吃", "小小", "安静的", "追风", "晴天", "温柔", "糊涂", "元气", "慢慢")
NICK_B = ("小鹿", "猫咪", "兔子", "柠檬", "西瓜", "星星", "少年", "阿狸", "团子", "月亮")

_EPOCH_2025 = dt.datetime(2025, 1, 1)
_YEAR_SECONDS = 365 * 86400


def _weighted(rng: random.Random, items: tuple[tuple[str, float], ...]) -> str:
    x = rng.random()
    acc = 0.0
    for value, w in items:
        acc += w
        if x < acc:
            return value
    return items[-1][0]


def _text(rng: random.Random, phrases: tuple[str, ...], lo: int, hi: int) -> str:
    target = rng.randint(lo, hi)
    parts: list[str] = []
    length = 0
    while length < target:
        p = rng.choice(phrases)
        parts.append(p)
        length += len(p) + 1
    s = "，".join(parts)
    if len(s) + 1 > hi:
        s = s[: hi - 1]
    if len(s) + 1 < lo:  # cannot happen with these phrases, kept as a guard
        s = s + "。" * (lo - len(s) - 1)
    return s + rng.choice("。！")


def _products(rng: random.Random, n: int = 400) -> list[tuple[str, str]]:
    out = []
    ids: set[str] = set()
    while len(out) < n:
        pid = str(rng.randrange(520_000_000_000, 780_000_000_000))
        if pid in ids:
            continue
        ids.add(pid)
        title = "".join((rng.choice(TITLE_A), rng.choice(TITLE_B), rng.choice(TITLE_C), rng.choice(TITLE_D)))
        out.append((pid, title))
    return out


def _nick(i: int) -> str:
    h = int.from_bytes(hashlib.blake2b(i.to_bytes(8, "little"), digest_size=8).digest(), "little")
    if h % 5 < 2:
        return f"tb{h % 10_000_000_000:010d}"
    return f"{NICK_A[h % 10]}{NICK_B[(h // 10) % 10]}{(h // 100) % 10000}"


def rows(n: int, seed: int = DEFAULT_SEED) -> Iterator[list[str]]:
    """``n`` data rows (without the header), deterministic for ``(n, seed)``."""
    rng = random.Random(seed)
    products = _products(rng)
    buyers = max(1, int(n * 0.6))
    seen_orders: set[int] = set()
    fmt = "%Y-%m-%d %H:%M:%S"
    for _ in range(n):
        while True:
            oid = rng.randrange(10**18, 5 * 10**18)
            if oid not in seen_orders:
                seen_orders.add(oid)
                break
        pid, title = products[int(rng.random() ** 1.6 * len(products))]  # a few best sellers
        rating = _weighted(rng, RATINGS)
        phrases = POSITIVE if rating == "好评" else NEUTRAL if rating == "中评" else NEGATIVE
        created = _EPOCH_2025 + dt.timedelta(seconds=rng.randrange(_YEAR_SECONDS))
        if rng.random() < 0.15:
            append = _text(rng, APPEND, 10, 60)
            append_at = (created + dt.timedelta(seconds=rng.randrange(86400, 60 * 86400))).strftime(fmt)
        else:
            append = append_at = ""
        yield [
            str(oid), pid, title, _nick(rng.randrange(buyers)), rating, _text(rng, phrases, 20, 80),
            created.strftime(fmt), append, append_at, _weighted(rng, SHOPS),
        ]


def _fresh(path: Path, meta: dict) -> bool:
    mpath = path.with_suffix(path.suffix + ".meta.json")
    if not path.exists() or not mpath.exists():
        return False
    try:
        return json.loads(mpath.read_text()) == meta
    except (OSError, ValueError):
        return False


def _mark(path: Path, meta: dict) -> None:
    path.with_suffix(path.suffix + ".meta.json").write_text(json.dumps(meta))


def write_csv(path: Path, n: int, seed: int = DEFAULT_SEED) -> Path:
    """UTF-8 CSV (no BOM, ``\\r\\n`` line ends as Excel and the platforms write them). Reused when already made."""
    meta = {"kind": "csv", "rows": n, "seed": seed, "generator": GENERATOR_VERSION}
    if _fresh(path, meta):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerows(rows(n, seed))
    tmp.replace(path)
    _mark(path, meta)
    return path


def write_xlsx(path: Path, n: int, seed: int = DEFAULT_SEED) -> Path:
    """XLSX written by xlsxwriter in ``constant_memory`` mode; every cell is a string, as the platforms export ids."""
    import xlsxwriter

    meta = {"kind": "xlsx", "rows": n, "seed": seed, "generator": GENERATOR_VERSION}
    if _fresh(path, meta):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.xlsx")
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("评价")
    ws.write_row(0, 0, HEADERS)
    for i, row in enumerate(rows(n, seed), start=1):
        for j, v in enumerate(row):
            if v:
                ws.write_string(i, j, v)
    wb.close()
    tmp.replace(path)
    _mark(path, meta)
    return path
