"""The demo shop generator (reviewops.demo): determinism, genuine formats, realism, import.

The files are read back here with the csv module and python-calamine (not with
the importer), so these tests check what a real export looks like on disk; the
last tests then load everything through the real importer.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import defaultdict
from pathlib import Path

import pytest

from reviewops.intake import clean
from reviewops.intake.layouts import builtin, norm_header
from reviewops.demo import (
    CATEGORIES,
    DEFAULT_TODAY,
    SHOPS,
    DemoResult,
    DemoSpec,
    build_demo,
    generate_demo,
    generate_exports,
)

SCALE = 0.1  # 5,600 orders, 1,260 reviews: big enough for shares, about a second to write
NOW = dt.datetime.combine(DEFAULT_TODAY, dt.time(9, 30))
AS_OF = "2026-11-20T09:30"  # the history's end (Beijing time): fixed, so every check below is reproducible
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


# ------------------------------------------------------------------ reading helpers
def _cell(v: object) -> str:
    """A cell as the platform meant it: no tab prefix, no ="…" wrapper, no leading apostrophe."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip().strip("\t").strip()
    m = re.fullmatch(r'="(.*)"', s)
    if m:
        s = m.group(1)
    if s.startswith("'"):
        s = s[1:]
    return "" if s == "-" else s


def _rows(path: Path, header_key: str | tuple[str, ...], *, sheet: str | None = None) -> list[dict[str, str]]:
    """Rows of a CSV or XLSX export as dicts; the header is the first row holding every ``header_key``."""
    want = {norm_header(k) for k in ((header_key,) if isinstance(header_key, str) else header_key)}

    def is_header(r: list[object]) -> bool:
        return want <= {norm_header(c) for c in r}

    raw: list[list[object]] = []
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        for n in ([sheet] if sheet else wb.sheet_names):
            got = wb.get_sheet_by_name(n).to_python()
            if any(is_header(r) for r in got[:50]):
                raw = got
                break
    else:
        data = path.read_bytes()
        text = data[3:].decode("utf-8") if data.startswith(b"\xef\xbb\xbf") else data.decode("gbk")
        raw = list(csv.reader(io.StringIO(text, newline="")))
    hdr = next(i for i, r in enumerate(raw) if is_header(r))
    head = [str(c).strip() for c in raw[hdr]]
    out = []
    for r in raw[hdr + 1:]:
        cells = [_cell(c) for c in r]
        if not any(cells) or cells[0].startswith("合计"):
            continue
        out.append(dict(zip(head, cells)))
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return generate_demo(tmp_path_factory.mktemp("demo"), scale=SCALE, as_of=AS_OF)


def _file(demo: DemoResult, platform: str, kind: str, layout: str | None = None) -> Path:
    hits = [f.path for f in demo.files if f.platform == platform and f.kind == kind
            and (layout is None or f.layout == layout)]
    assert len(hits) == 1, (platform, kind, hits)
    return hits[0]


@pytest.fixture(scope="module")
def orders(demo: DemoResult) -> dict[str, dict[str, dict[str, str]]]:
    """platform → order id → first row of that order (with a ``_lines`` list of product ids/titles)."""
    spec = {
        "taobao": ("taobao_orders_legacy", "订单编号", "订单创建时间", "确认收货时间"),
        "douyin": ("douyin_orders", "主订单编号", "订单提交时间", "订单完成时间"),
        "pdd": ("pdd_orders", "订单号", "拼单成功时间", "确认收货时间"),
        "jd": ("jd_orders", "订单号", "下单时间", "订单完成时间"),
    }
    out: dict[str, dict[str, dict[str, str]]] = {}
    for platform, (layout, key, created, done) in spec.items():
        by_id: dict[str, dict[str, str]] = {}
        for row in _rows(_file(demo, platform, "orders", layout), key):
            o = by_id.setdefault(row[key], dict(row, _created=row[created] or row.get("支付时间", ""),
                                               _done=row[done], _lines=[]))
            o["_lines"].extend(x for x in (row.get("商品ID"), row.get("商品id"), row.get("宝贝标题"),
                                           row.get("选购商品"), row.get("商品"), row.get("商品名称")) if x)
        out[platform] = by_id
    return out


@pytest.fixture(scope="module")
def reviews(demo: DemoResult) -> dict[str, list[dict[str, str]]]:
    return {
        "taobao": _rows(_file(demo, "taobao", "reviews"), "评价结果"),
        "douyin": _rows(_file(demo, "douyin", "reviews"), "商品评分"),
        "pdd": _rows(_file(demo, "pdd", "reviews"), "描述相符"),
        "jd": _rows(_file(demo, "jd", "reviews"), "评价星级"),
    }


def _is_bad(platform: str, row: dict[str, str]) -> bool:
    """中评/差评 as each platform writes it."""
    if platform == "taobao":
        return row["评价结果"] in ("中评", "差评")
    if platform == "douyin":
        return int(row["商品评分"]) <= 3
    if platform == "pdd":
        return int(row["描述相符"]) <= 3
    return int(row["评价星级"].removeprefix("star")) <= 3


def _product_id(platform: str, row: dict[str, str]) -> str:
    return row.get("宝贝ID") or row.get("商品ID") or row.get("商品id") or row.get("商品编号") or ""


# ------------------------------------------------------------------ spec and determinism
def test_full_scale_spec_meets_the_brief() -> None:
    spec = DemoSpec.for_scale(1.0)
    assert spec.customers >= 20_000 and spec.orders >= 50_000 and spec.reviews >= 10_000 and spec.days >= 120
    assert abs(sum(s for _, s in spec.platform_shares) - 1.0) < 1e-9
    assert sum(spec.customers_by_platform().values()) == spec.customers
    small = DemoSpec.for_scale(SCALE)
    # the small spec is the big one scaled: what holds for it in files holds at 1.0 by arithmetic
    assert small.orders * 10 == spec.orders and small.reviews * 10 == spec.reviews
    assert small.customers * 10 == spec.customers
    with pytest.raises(ValueError):
        DemoSpec.for_scale(0)


def _digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    a = generate_exports(tmp_path / "a", seed=7, scale=0.02, as_of=AS_OF)
    b = generate_exports(tmp_path / "b", seed=7, scale=0.02, as_of=AS_OF)
    c = generate_exports(tmp_path / "c", seed=8, scale=0.02, as_of=AS_OF)
    assert [p.name for p in a] == [p.name for p in b]
    assert _digest(a) == _digest(b)
    da, dc = _digest(a), _digest(c)
    assert set(da) == set(dc)
    assert all(da[n] != dc[n] for n in da), "every file should change with the seed"


def test_today_moves_the_whole_shop(tmp_path: Path) -> None:
    res = generate_demo(tmp_path, scale=0.02, today=dt.date(2027, 3, 1))
    assert res.stats["last_order_at"] < "2027-03-01 09:30:00"
    assert res.stats["first_order_at"] >= "2026-10-01"


def test_import_order_and_file_kinds(demo: DemoResult) -> None:
    kinds = [f.kind for f in demo.files]
    rank = {"orders": 0, "refunds": 1, "shipments": 1, "reviews": 2, "chats": 2, "listings": 3}
    assert [rank[k] for k in kinds] == sorted(rank[k] for k in kinds), kinds
    assert {f.platform for f in demo.files} == set(SHOPS)
    for kind in ("orders", "reviews", "refunds", "shipments", "chats"):
        assert kind in kinds
    assert all(f.path.exists() and f.rows > 0 for f in demo.files)


# ------------------------------------------------------------------ genuine formats
def test_encodings_are_what_we_claim(demo: DemoResult) -> None:
    seen = defaultdict(int)
    for f in demo.files:
        data = f.path.read_bytes()
        seen[f.encoding] += 1
        if f.encoding == "gbk":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            data.decode("gbk")
            assert not data.startswith(b"\xef\xbb\xbf")
        elif f.encoding == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf")
            data[3:].decode("utf-8")
        else:
            assert f.encoding == "xlsx" and data[:4] == b"PK\x03\x04"
    assert seen["gbk"] >= 4 and seen["utf-8-sig"] >= 4 and seen["xlsx"] >= 4


def test_headers_use_the_first_layout_alias(demo: DemoResult) -> None:
    for f in demo.files:
        lay = builtin(f.layout)
        first_aliases = {norm_header(aliases[0]) for aliases in lay.columns.values()}
        head = {norm_header(h) for h in _rows(f.path, lay.signature)[0]}
        assert all(norm_header(s) in head for s in lay.signature), (f.name, lay.signature)
        mapped = {h for h in head if lay.field_for(h)}
        # genuine export headers (exports.md) that happen to be a later alias of a field
        genuine = {norm_header(h) for h in ("联系电话", "外部系统编号", "套餐信息", "商品编码", "完结时间", "审核操作人")}
        assert mapped <= first_aliases | genuine, (f.name, mapped - first_aliases - genuine)
        for r in lay.required:
            assert norm_header(lay.columns[r][0]) in head, (f.name, r)


def test_platform_quirks_on_disk(demo: DemoResult) -> None:
    tb = _file(demo, "taobao", "orders", "taobao_orders_legacy").read_bytes().decode("gbk")
    assert re.search(r'"=""\d{19}"""', tb), "Taobao ids wrapped as =\"…\""
    assert re.search(r",'1[3-9]\d\*{4}\d{4},", tb), "masked mobiles with a leading apostrophe"
    assert re.search(r",[\u4e00-\u9fff]\*{1,2},", tb), "masked receiver names like 张**"
    dy = _file(demo, "douyin", "orders").read_bytes().decode("utf-8-sig")
    assert re.search(r'"\t69\d{17}","\t69\d{17}"', dy), "Douyin cells are tab-prefixed 19-digit ids"
    assert '"\t-"' in dy and '"\t##' in dy and '"\t$$' in dy, "'-' empties and ciphertext placeholders"
    pdd = _file(demo, "pdd", "orders").read_bytes().decode("utf-8-sig")
    assert "已发货，待签收" in pdd and re.search(r'"\t\d{6}-\d{15}"', pdd)
    refunds = _file(demo, "taobao", "refunds").read_bytes().decode("gbk").splitlines()
    assert "退款编号" not in refunds[0] and "退款编号" in refunds[2], "two banner lines before the header"
    jd = _file(demo, "jd", "orders").read_bytes().decode("gbk").splitlines()
    assert jd[-1].startswith("合计"), "JD order export ends with a totals row"


def test_ids_money_and_times_are_valid(demo: DemoResult, orders: dict) -> None:
    for platform, by_id in orders.items():
        rx = clean.ORDER_ID_RE[platform][0]
        assert by_id and all(re.fullmatch(rx, oid) for oid in by_id), platform
    money = re.compile(r"^\d+\.\d{2}元?$")
    for f in demo.files:
        for row in _rows(f.path, builtin(f.layout).signature):
            for h, v in row.items():
                if not v:
                    continue
                if TS_RE.match(v):
                    if not any(w in h for w in ("承诺", "预计", "超时", "截止")):  # deadlines may lie ahead
                        assert v < "2026-11-20 09:30:00", (f.name, h, v)
                elif any(w in h for w in ("金额", "价格", "京东价", "商品单价", "运费", "邮费", "货款")) \
                        and "时间" not in h and "状态" not in h:
                    assert money.match(v), (f.name, h, v)


def test_customers_orders_and_days(demo: DemoResult, orders: dict) -> None:
    spec = demo.spec
    assert sum(len(v) for v in orders.values()) == spec.orders
    created = sorted(o["_created"] for v in orders.values() for o in v.values() if o["_created"])
    first, last = (dt.datetime.strptime(x, "%Y-%m-%d %H:%M:%S") for x in (created[0], created[-1]))
    assert (last.date() - first.date()).days + 1 >= 120
    assert last.date() <= DEFAULT_TODAY and (DEFAULT_TODAY - last.date()).days <= 1
    # every customer ordered at least once; Taobao and JD name the buyer in the order file
    assert demo.stats["customers"] >= spec.customers
    tb = {o["买家会员名"] for o in orders["taobao"].values()}
    jd = {o["下单帐号"] for o in orders["jd"].values()}
    assert len(tb) >= demo.stats["customers_by_platform"]["taobao"] - 1
    assert len(jd) >= demo.stats["customers_by_platform"]["jd"] - 1
    lines = _rows(_file(demo, "taobao", "orders", "taobao_order_lines_legacy"), "订单编号")
    assert {r["订单编号"] for r in lines} == set(orders["taobao"])
    assert len(lines) > len(orders["taobao"]), "some Taobao orders have several SKU lines"


def test_catalogue(demo: DemoResult) -> None:
    cats = {p.category for p in demo.products}
    assert cats == set(CATEGORIES)
    for p in demo.products:
        assert p.supplier.endswith("公司") or p.supplier.endswith("合作社")
        assert re.fullmatch(r"\d+", str(p.price_fen)) and p.skus and set(p.platform_id) == set(SHOPS)
    sized = [p for p in demo.products if p.category == "服装"]
    assert all(any(name == "尺码" for name, _ in p.dims) for p in sized)
    rows = _rows(demo.catalogue_path, "供应商")
    assert len(rows) == sum(len(p.skus) for p in demo.products)
    assert all(re.fullmatch(r"\d+\.\d{2}", r["价格"]) for r in rows)


# ------------------------------------------------------------------ reviews
def test_reviews_count_share_and_every_category(demo: DemoResult, reviews: dict) -> None:
    total = sum(len(v) for v in reviews.values())
    assert total == demo.spec.reviews
    cat_of = {}
    for p in demo.products:
        for platform, pid in p.platform_id.items():
            cat_of[(platform, pid)] = p.category
    bad_by_cat: dict[str, int] = defaultdict(int)
    bad = 0
    for platform, rows in reviews.items():
        assert rows, platform
        assert any(_is_bad(platform, r) for r in rows), f"{platform} has no 中差评"
        for r in rows:
            if _is_bad(platform, r):
                bad += 1
                bad_by_cat[cat_of[(platform, _product_id(platform, r))]] += 1
    assert set(bad_by_cat) == set(CATEGORIES), bad_by_cat
    assert 0.08 <= bad / total <= 0.15, bad / total


def test_reviews_reference_completed_orders(reviews: dict, orders: dict) -> None:
    key = {"taobao": "订单编号", "douyin": "订单号", "pdd": "订单号", "jd": "订单号"}
    for platform, rows in reviews.items():
        for r in rows:
            o = orders[platform].get(r[key[platform]])
            assert o is not None, (platform, r)
            assert o["_done"] and r["评价时间"] > o["_done"], (platform, r["评价时间"], o["_done"])
            if platform in ("douyin", "pdd", "jd"):
                assert _product_id(platform, r) in o["_lines"], (platform, r)
            else:
                assert r["宝贝标题"] in o["宝贝标题"]
            if r.get("追评时间"):
                assert r["追评时间"] > r["评价时间"] and r["追评内容"]
            for col in ("商品评分", "物流评分", "服务评分", "描述相符", "物流服务", "服务态度", "物流服务评分"):
                if r.get(col):
                    assert 1 <= int(r[col]) <= 5


def test_complaint_texts_cover_every_code(reviews: dict) -> None:
    texts = [r["评价内容"] for rows in reviews.values() for r in rows]
    joined = "\n".join(texts)
    patterns = {
        "logistics": r"物流太慢|快递盒子|不送货上门|驿站|物流信息|转运中心",
        "quality": r"开线|起球|坏了|开胶|漏尿|过敏|哈喇味|不保温",
        "size": r"尺码偏小|偏大|鞋码偏小|码偏小",
        "missing_wrong": r"漏发|发错|少发|赠品",
        "description": r"与描述不符|色差|详情页|图片看着",
        "service": r"客服态度|不回复|推来推去|机器人客服|没人处理",
        "price": r"降价|买贵了|便宜",
        "malicious": r"返现50不然差评|不给我退\d+块钱就一直差评|不赔钱就差评",
    }
    for code, rx in patterns.items():
        assert re.search(rx, joined), code
    assert "评价方未及时做出评价,系统默认好评!" in joined
    tb = reviews["taobao"]
    hidden = [r for r in tb if r["评价结果"] == "好评" and re.search(r"好评是给|五星给|但是|不过|就是|唯一的问题", r["评价内容"])]
    assert hidden, "complaints hidden under good ratings"
    assert sum(1 for rows in reviews.values() for r in rows if r.get("追评内容")) >= 10
    assert any(r.get("解释内容") for r in tb) and any(r.get("商家回复") for r in reviews["douyin"])


def test_same_ip_burst_of_bad_reviews(reviews: dict) -> None:
    found = []
    for platform, rows in reviews.items():
        groups: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
        for r in rows:
            if r.get("IP地址") and _is_bad(platform, r):
                groups[(_product_id(platform, r), r["IP地址"])].append(
                    dt.datetime.strptime(r["评价时间"], "%Y-%m-%d %H:%M:%S"))
        for (pid, ip), times in groups.items():
            times.sort()
            for i in range(len(times)):
                j = i
                while j + 1 < len(times) and times[j + 1] - times[i] <= dt.timedelta(minutes=30):
                    j += 1
                if j - i + 1 >= 8:
                    found.append((platform, pid, ip, j - i + 1))
                    break
    assert any(p == "taobao" for p, *_ in found), found


# ------------------------------------------------------------------ refunds, shipments, chats
def test_refunds_tie_to_orders(demo: DemoResult, orders: dict) -> None:
    tb = _rows(_file(demo, "taobao", "refunds"), "退款编号")
    dy = _rows(_file(demo, "douyin", "refunds"), "售后单号")
    assert tb and dy
    for r in tb:
        o = orders["taobao"][r["订单编号"]]
        assert r["宝贝标题"] in o["宝贝标题"] and r["退款的申请时间"] > o["订单付款时间"]
        assert float(r["买家退款金额"]) <= float(r["买家实际支付金额"]) + 1e-9
    for r in dy:
        assert r["订单号"] in orders["douyin"]
    states = {r["退款状态"] for r in tb}
    assert "退款成功" in states and len(states) >= 2
    assert len({r["退款编号"] for r in tb}) == len(tb)


def test_tracking_events_cover_orders_with_some_late(demo: DemoResult, orders: dict) -> None:
    late = 0
    waybills = 0
    for platform in SHOPS:
        rows = _rows(_file(demo, platform, "shipments"), "快递单号")
        by_no: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in rows:
            by_no[r["快递单号"]].append(r)
            assert r["订单编号"] in orders[platform]
        shipped = {oid for oid, o in orders[platform].items() if o.get("发货时间") or o.get("物流单号")
                   or o.get("快递单号") or o.get("订单状态") in ("完成", "等待确认收货")}
        # a waybill printed minutes before the export has no events yet
        assert len(shipped - {r["订单编号"] for r in rows}) <= max(2, len(shipped) // 200)
        for no, evs in by_no.items():
            if evs[0]["物流方向"] != "发货":
                continue
            waybills += 1
            times = [e["轨迹时间"] for e in evs]
            assert times == sorted(times, reverse=True), "newest event first"
            signed = [e["轨迹时间"] for e in evs if e["物流状态"] == "签收"]
            promised = evs[0]["承诺送达时间"]
            if (signed and signed[0] > promised) or (not signed and promised < "2026-11-20 09:30:00"):
                late += 1
    assert waybills and 0.02 <= late / waybills <= 0.25, late / waybills
    assert demo.stats["shipments"]["taobao"]["late"] > 0


def test_chats_around_complaints_with_extortion(demo: DemoResult) -> None:
    tb = _rows(_file(demo, "taobao", "chats"), "消息序号", sheet="聊天记录")
    dy = _rows(_file(demo, "douyin", "chats"), "消费者昵称")
    assert tb and dy
    assert {r["账号类型"] for r in tb} >= {"买家", "客服"}
    assert {r["发送方"] for r in dy} >= {"消费者", "客服"}
    text = "\n".join(r["发送内容"] for r in tb) + "\n".join(r["消息内容"] for r in dy)
    assert re.search(r"不给我退\d+块我就给差评|给我返现\d+，不然差评|返现删评|我就删评", text)
    assert re.search(r"不能以返现的方式换取评价", text), "agents refuse extortion"
    # sequence numbers restart per customer and times run forward
    per: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in tb:
        per[r["客户名"]].append((int(r["消息序号"]), r["发送时间"]))
    for msgs in per.values():
        assert [s for s, _ in msgs] == list(range(1, len(msgs) + 1))
        assert [t for _, t in msgs] == sorted(t for _, t in msgs)


# ------------------------------------------------------------------ through the real importer
def test_build_demo_imports_everything_and_is_idempotent(tmp_path: Path) -> None:
    pytest.importorskip("reviewops.intake.ingest")
    from reviewops.core.store import Store

    db = tmp_path / "demo.db"
    out = tmp_path / "exports"
    first = build_demo(db, scale=0.02, out_dir=out, as_of=AS_OF)
    assert first, "no import results"
    bad = [(r.file, r.status, r.error, r.problems[:3]) for r in first
           if r.status != "done" or r.rows_rejected]
    assert not bad, bad
    assert {r.kind for r in first} == {"orders", "refunds", "shipments", "reviews", "chats", "listings"}
    with Store.open(db) as store:
        counts = store.counts()
    assert counts["shops"] == 4
    assert counts["orders"] == DemoSpec.for_scale(0.02).orders
    assert counts["reviews"] == DemoSpec.for_scale(0.02).reviews
    for table in ("order_lines", "refunds", "chat_messages", "shipments", "shipment_events", "customers"):
        assert counts[table] > 0, table

    again = build_demo(db, scale=0.02, out_dir=tmp_path / "exports2", as_of=AS_OF)
    assert all(r.status == "done" and r.rows_rejected == 0 for r in again)
    assert sum(r.rows_new for r in again) == 0
    assert sum(r.rows_updated for r in again) == 0
    with Store.open(db) as store:
        after = store.counts()
    assert {k: v for k, v in after.items() if k != "import_batches"} == \
        {k: v for k, v in counts.items() if k != "import_batches"}


def test_build_demo_fills_product_categories(tmp_path: Path) -> None:
    pytest.importorskip("reviewops.intake.ingest")
    import sqlalchemy as sa

    from reviewops.core import store as st

    db = tmp_path / "demo.db"
    build_demo(db, scale=0.02)  # no out_dir: a temporary folder, removed afterwards
    with st.Store.open(db) as store, store.read() as conn:
        rows = conn.execute(sa.select(st.products.c.category, st.products.c.supplier)).all()
    assert rows and all(c in CATEGORIES and s for c, s in rows)
    assert {c for c, _ in rows} == set(CATEGORIES)


# the demo package's files, from the top (the whole command) to the bottom (the clock); docs/demo.md
DEMO_FILES = ("run", "history", "generate", "writers", "chats", "reviews", "customers", "shipments", "shop",
              "catalogue", "timeline")


def test_demo_package_files_import_one_way() -> None:
    """Each file of ``reviewops.demo`` imports only files below it in :data:`DEMO_FILES` (imports inside
    functions included), and the package's ``__init__`` only re-exports."""
    grimp = pytest.importorskip("grimp")
    import reviewops.demo as pkg

    graph = grimp.build_graph("reviewops", cache_dir=None)
    present = sorted(p.stem for p in Path(pkg.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert present == sorted(DEMO_FILES)
    for i, name in enumerate(DEMO_FILES):
        deps = {m.rsplit(".", 1)[-1] for m in graph.find_modules_directly_imported_by(f"reviewops.demo.{name}")
                if m.startswith("reviewops.demo.")}
        assert deps <= set(DEMO_FILES[i + 1:]), (name, sorted(deps - set(DEMO_FILES[i + 1:])))
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
