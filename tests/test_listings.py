"""Product listings as data (issue 19): the ``listings`` import kind, on SQLite and PostgreSQL.

Every error path of the other kinds (bad price, bad dispatch time, bad region, unknown headers, a missing
required column or value, conflicting duplicate rows, formula cells, encodings, XLSX), ``--skip-bad-rows``,
idempotent re-imports, a changed listing updating its row, the link to ``products``, the 淘宝助理 CSV with
its three header lines, and the demo's listing exports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from payloads.tables import xlsx_bytes
from reviewops import ImportRejected, UnknownLayout, import_file
from reviewops.cli import main
from reviewops.core import store as st
from reviewops.core.columns import KINDS
from reviewops.core.errors import ConfigError
from reviewops.intake import clean, layouts

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

PDD_HEADER = ["商品ID", "商品名称", "商品类目", "SKU ID", "商品规格", "商家编码", "拼单价(元)", "发货时效", "不配送区域",
              "7天无理由", "极速退款", "退货包运费", "尺码表", "色差说明", "服务承诺"]


def pdd_rows() -> list[list[str]]:
    return [
        PDD_HEADER,
        ["523456789", "纯棉T恤 禾木正品", "服装/T恤", "100000001", "白色,M", "HM-FZ001-02", "35.90", "48小时",
         "新疆、西藏", "是", "否", "是", "有", "图片颜色以实物为准", "破损包赔"],
        ["523456789", "纯棉T恤 禾木正品", "服装/T恤", "100000002", "白色,L", "HM-FZ001-03", "1,235.50", "2天",
         "新疆维吾尔自治区,西藏自治区", "是", "否", "是", "有", "", ""],
        ["623456789", "冰糖心苹果 禾木正品", "食品/苹果", "100000003", "5斤", "HM-SP004-01", "29.9", "", "",
         "否", "是", "否", "", "", ""],
        ["723456789", "牛仔裤 禾木正品", "服装/牛仔裤", "100000004", "浅蓝,27", "HM-FZ002-03", "79.00", "当日发",
         "港澳台 海外", "是", "否", "否", "无", "无", "七天无理由退货、上门取件"],
    ]


COLS = ("listing_key", "sku", "listing_id", "sku_spec", "merchant_code", "title", "category", "price_fen",
        "dispatch_hours", "dispatch_raw", "excluded_regions", "size_chart", "colour_note", "commitments")


def write_csv(path, rows, encoding="utf-8", bom=b"", delim=","):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator="\r\n").writerows(rows)
    path.write_bytes(bom + buf.getvalue().encode(encoding))
    return path


def listings(store, *cols, shop=None):
    cols = cols or COLS
    q = sa.select(*[st.listings.c[c] for c in cols]).order_by(st.listings.c.listing_key, st.listings.c.sku)
    if shop is not None:
        q = q.where(st.listings.c.shop_id == sa.select(st.shops.c.id).where(st.shops.c.name == shop).scalar_subquery())
    with store.read() as conn:
        return [tuple(r) for r in conn.execute(q)]


def count(store, table):
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --------------------------------------------------------------------------- the kind itself
def test_listings_is_a_kind_and_the_cli_offers_it():
    assert "listings" in KINDS
    assert {lay.name for lay in layouts.BUILTIN if lay.kind == "listings"} == {
        "taobao_listings_assistant", "douyin_listings", "pdd_listings", "jd_listings"}
    confirmed = {lay.name for lay in layouts.BUILTIN if lay.kind == "listings" and lay.confirmed}
    assert confirmed == {"taobao_listings_assistant"}  # the only listing headers prevention.md documents (H)


def test_pdd_listing_export_is_stored_with_every_fact(store, tmp_path):
    (res,) = import_file(store, write_csv(tmp_path / "pdd.csv", pdd_rows(), bom=b"\xef\xbb\xbf"), platform="pdd",
                         now=NOW)
    assert (res.kind, res.layout, res.status, res.rows_new, res.rows_rejected) == ("listings", "pdd_listings", "done", 4, 0)
    assert any("provisional" in n for n in res.notes)
    got = {(r[0], r[1]): r for r in listings(store)}
    t1 = got[("523456789", "100000001")]
    assert t1[2:10] == ("523456789", "白色,M", "HM-FZ001-02", "纯棉T恤 禾木正品", "服装/T恤", 3590, 48, "48小时")
    assert json.loads(t1[10]) == ["西藏", "新疆"]
    assert (t1[11], t1[12]) == (True, True)
    assert json.loads(t1[13]) == ["7天无理由", "运费险", "破损包赔", "48小时发货"]
    t2 = got[("523456789", "100000002")]
    assert (t2[7], t2[8], json.loads(t2[10]), t2[12]) == (123550, 48, ["西藏", "新疆"], False)  # exact fen, 2天 = 48 h
    apple = got[("623456789", "100000003")]
    assert (apple[7], apple[8], apple[9], json.loads(apple[10])) == (2990, None, None, [])  # no promise shown
    assert json.loads(apple[13]) == ["极速退款"]
    jeans = got[("723456789", "100000004")]
    assert (jeans[8], json.loads(jeans[10]), jeans[11], jeans[12]) == (24, ["港澳台", "海外"], False, False)
    assert json.loads(jeans[13]) == ["7天无理由", "24小时发货", "上门取件"]
    # every listing is linked to its product (added to products when the shop had none with that id)
    with store.read() as conn:
        linked = conn.execute(sa.select(st.listings.c.listing_id, st.products.c.product_id, st.products.c.title)
                              .join(st.products, st.products.c.id == st.listings.c.product_pk)).all()
    assert len(linked) == 4 and all(lid == pid for lid, pid, _ in linked)
    assert count(store, st.products) == 3


def test_a_listing_links_to_the_product_its_orders_made(store, tmp_path):
    orders = [["订单号", "商品", "商品id", "商品总价(元)", "用户实付金额(元)", "商品数量(件)", "拼单成功时间", "样式ID"],
              ["240305-123456789012345", "T恤", "523456789", "35.90", "35.90", "1", "2024-03-05 14:22:00", "S1"]]
    import_file(store, write_csv(tmp_path / "orders.csv", orders), shop="拼多多店铺", now=NOW)
    with store.read() as conn:
        pk = conn.execute(sa.select(st.products.c.id).where(st.products.c.product_id == "523456789")).scalar_one()
    import_file(store, write_csv(tmp_path / "pdd.csv", pdd_rows()), platform="pdd", now=NOW)
    with store.read() as conn:
        pks = set(conn.execute(sa.select(st.listings.c.product_pk)
                               .where(st.listings.c.listing_id == "523456789")).scalars())
        title = conn.execute(sa.select(st.products.c.title).where(st.products.c.id == pk)).scalar_one()
    assert pks == {pk} and title == "T恤"  # linked; the product's own title left alone


# ------------------------------------------------------------------------- idempotence, updates
def test_reimport_is_a_no_op(store, tmp_path):
    path = write_csv(tmp_path / "pdd.csv", pdd_rows())
    (first,) = import_file(store, path, platform="pdd", now=NOW)
    before = listings(store, *COLS, "updated_at", "first_batch_id", "product_pk")
    products = count(store, st.products)
    (again,) = import_file(store, path, platform="pdd", now=NOW)
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 4)
    assert listings(store, *COLS, "updated_at", "first_batch_id", "product_pk") == before
    assert count(store, st.products) == products and count(store, st.listings) == 4
    # only the bookkeeping moved on: the listing was seen by the second import
    assert {r[0] for r in listings(store, "last_batch_id")} == {again.batch_id}
    assert again.batch_id != first.batch_id


def test_a_changed_listing_updates_and_the_rest_stays(store, tmp_path):
    (first,) = import_file(store, write_csv(tmp_path / "a.csv", pdd_rows()), platform="pdd", now=NOW)
    before = {(r[0], r[1]): r for r in listings(store, "listing_key", "sku", "updated_at", "id")}
    changed = pdd_rows()
    changed[1][6] = "32.90"  # price cut
    changed[1][7] = ""  # the dispatch promise removed
    changed[1][8] = "新疆、西藏、青海"
    (res,) = import_file(store, write_csv(tmp_path / "b.csv", changed), platform="pdd", now=NOW)
    assert (res.rows_new, res.rows_updated, res.rows_unchanged) == (0, 1, 3)
    rows = {(r[0], r[1]): r for r in listings(store, "listing_key", "sku", "price_fen", "dispatch_hours",
                                              "excluded_regions", "commitments", "first_batch_id", "id")}
    row = rows[("523456789", "100000001")]
    assert (row[2], row[3], json.loads(row[4])) == (3290, None, ["青海", "西藏", "新疆"])
    assert "48小时发货" not in json.loads(row[5])
    assert row[6] == first.batch_id and row[7] == before[("523456789", "100000001")][3]  # the same row, updated
    assert count(store, st.listings) == 4


def test_an_export_without_a_column_keeps_what_the_store_knows(store, tmp_path):
    import_file(store, write_csv(tmp_path / "a.csv", pdd_rows()), platform="pdd", now=NOW)
    slim = [[r[0], r[1], r[3], r[6]] for r in pdd_rows()]  # 商品ID, 商品名称, SKU ID, 拼单价(元) only
    (res,) = import_file(store, write_csv(tmp_path / "slim.csv", slim), platform="pdd", kind="listings", now=NOW)
    assert (res.rows_new, res.rows_updated) == (0, 0)
    row = {(r[0], r[1]): r for r in listings(store)}[("523456789", "100000001")]
    assert row[8] == 48 and json.loads(row[10]) == ["西藏", "新疆"]


# ------------------------------------------------------------------------------- bad values
def test_bad_price_dispatch_and_region_are_reported_by_row_and_nothing_written(store, tmp_path):
    rows = pdd_rows()
    rows[1][6] = "12,50"  # a decimal comma is never 1,250 yuan
    rows[2][7] = "48"  # hours or days?
    rows[3][7] = "很快"
    rows[4][8] = "新疆、火星"
    rows[4][6] = "￥abc"
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ImportRejected) as e:
        import_file(store, path, platform="pdd", now=NOW)
    got = sorted((p.row, p.column, p.code) for p in e.value.problems)
    assert got == [(2, "拼单价(元)", "bad_money"), (3, "发货时效", "bad_dispatch"), (4, "发货时效", "bad_dispatch"),
                   (5, "不配送区域", "bad_region"), (5, "拼单价(元)", "bad_money")]
    by = {(p.row, p.code): p for p in e.value.problems}
    assert "单位" in by[(3, "bad_dispatch")].reason_zh and "unit" in by[(3, "bad_dispatch")].reason_en
    assert "火星" in by[(5, "bad_region")].reason_zh and by[(5, "bad_region")].value == "新疆、火星"
    assert count(store, st.listings) == 0 and count(store, st.import_batches) == 0
    # --skip-bad-rows: nothing of row 2–5 but the problems listed in FILE.rejected.csv
    rows.append(["823456789", "枕头 禾木正品", "家居/枕头", "100000009", "标准款", "HM-JJ002-01", "89.00", "72h", "",
                 "是", "否", "否", "", "", ""])
    (res,) = import_file(store, write_csv(tmp_path / "bad.csv", rows), platform="pdd", now=NOW, skip_bad_rows=True)
    assert (res.status, res.rows_new, res.rows_rejected) == ("partial", 1, 4)
    assert listings(store, "listing_key", "dispatch_hours", "price_fen") == [("823456789", 72, 8900)]
    with open(res.rejected_file, encoding="utf-8-sig", newline="") as f:
        rejected = list(csv.reader(f))
    assert [r[0] for r in rejected[1:]] == ["2", "3", "4", "5"]


def test_a_required_value_empty_and_a_required_column_missing(store, tmp_path):
    rows = pdd_rows()
    rows[2][1] = ""
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "empty.csv", rows), platform="pdd", now=NOW)
    assert [(p.row, p.column, p.code) for p in e.value.problems] == [(3, "商品名称", "required_empty")]
    # without 商品名称 no listing layout fits: the headers are listed, nothing is written
    no_title = [[c for i, c in enumerate(r) if i != 1] for r in pdd_rows()]
    with pytest.raises(UnknownLayout) as e2:
        import_file(store, write_csv(tmp_path / "no_title.csv", no_title), platform="pdd", kind="listings", now=NOW)
    assert "发货时效" in e2.value.headers and "商品名称" not in e2.value.headers
    assert count(store, st.listings) == 0


def test_unknown_headers_then_map_and_save_layout(store, tmp_path, capsys):
    rows = [["货品编码", "货品名称", "售卖价", "几天发货", "偏远不发"],
            ["G001", "保温杯", "79.00", "3天", "新疆 西藏"]]
    path = write_csv(tmp_path / "erp.csv", rows)
    with pytest.raises(UnknownLayout) as e:
        import_file(store, path, now=NOW)
    assert e.value.headers == rows[0] and "--map" in str(e.value)
    mapping = {"货品编码": "merchant_code", "货品名称": "title", "售卖价": "price", "几天发货": "dispatch",
               "偏远不发": "excluded_regions"}
    with pytest.raises(ConfigError, match="title"):
        import_file(store, path, kind="listings", platform="jd", now=NOW,
                    mapping={k: v for k, v in mapping.items() if v != "title"})
    code = main(["import", str(path), "--db", store.url, "--platform", "jd", "--kind", "listings", "--map",
                 ",".join(f"{h}={f}" for h, f in mapping.items()), "--save-layout", "我的商品表", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["results"][0]["layout"] == "我的商品表" and out["results"][0]["kind"] == "listings"
    assert listings(store, "listing_key", "merchant_code", "price_fen", "dispatch_hours", "excluded_regions") == [
        ("商家编码:G001", "G001", 7900, 72, '["西藏", "新疆"]')]


def test_duplicate_rows_exact_repeats_are_one_listing_conflicts_are_refused(store, tmp_path):
    rows = pdd_rows()
    (res,) = import_file(store, write_csv(tmp_path / "dup.csv", [*rows, rows[1]]), platform="pdd", now=NOW)
    assert (res.rows_read, res.rows_new, res.rows_rejected) == (5, 4, 0)
    other = list(rows[1])
    other[6] = "30.00"
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "conflict.csv", [*rows, other]), platform="pdd", now=NOW)
    got = sorted((p.row, p.code) for p in e.value.problems)
    assert got == [(2, "duplicate_row"), (6, "duplicate_row")]
    assert "6" in e.value.problems[0].reason_zh or "6" in e.value.problems[1].reason_zh
    assert all("523456789" in p.reason_zh and "100000001" in p.reason_zh for p in e.value.problems)
    assert listings(store, "price_fen")[0] == (3590,)  # the stored row untouched


def test_formula_cells_are_kept_as_text_and_defused_in_the_rejected_file(store, tmp_path):
    rows = pdd_rows()
    rows[1][1] = '=HYPERLINK("http://evil.example/","点我")'
    rows[2][1] = "@SUM(1,1)"
    rows[2][6] = "abc"  # makes row 3 a rejected row
    (res,) = import_file(store, write_csv(tmp_path / "f.csv", rows), platform="pdd", now=NOW, skip_bad_rows=True)
    assert res.rows_rejected == 1
    titles = {r[0] for r in listings(store, "title")}
    assert '=HYPERLINK("http://evil.example/","点我")' in titles  # stored as the text it is, never evaluated
    with open(res.rejected_file, encoding="utf-8-sig", newline="") as f:
        rejected = list(csv.reader(f))
    assert rejected[1][2 + 1] == "'@SUM(1,1)"
    assert not any(c and c[0] in "=+-@" for line in rejected[1:] for c in line)


# ------------------------------------------------------------------------------ files and encodings
@pytest.mark.parametrize(("name", "codec", "bom", "delim"), [
    ("gbk", "gbk", b"", ","), ("utf-8-bom", "utf-8", b"\xef\xbb\xbf", ","), ("utf-8", "utf-8", b"", ","),
    ("utf-16", "utf-16-le", b"\xff\xfe", "\t"),
])
def test_encodings_give_the_same_rows(store, tmp_path, name, codec, bom, delim):
    import_file(store, write_csv(tmp_path / "ref.csv", pdd_rows()), platform="pdd", shop="参照", now=NOW)
    (res,) = import_file(store, write_csv(tmp_path / f"{name}.csv", pdd_rows(), codec, bom, delim), platform="pdd",
                         shop=name, now=NOW)
    assert (res.rows_new, res.rows_rejected) == (4, 0)
    assert listings(store, shop=name) == listings(store, shop="参照")


def test_xlsx_gives_the_same_rows(store, tmp_path):
    import_file(store, write_csv(tmp_path / "ref.csv", pdd_rows()), platform="pdd", shop="参照", now=NOW)
    path = tmp_path / "商品列表.xlsx"
    path.write_bytes(xlsx_bytes({"商品列表": pdd_rows(), "说明": [["本表由系统导出"]]}))
    (res,) = import_file(store, path, platform="pdd", shop="xlsx", now=NOW)
    assert (res.member, res.rows_new, res.rows_rejected) == ("商品列表", 4, 0)
    assert listings(store, shop="xlsx") == listings(store, shop="参照")


TAOBAO_KEYS = ["title", "cid", "price", "num", "description", "outer_id", "num_id", "is_lighting_consigment", "features",
               "newprepay", "subtitle"]
TAOBAO_HEAD = ["宝贝名称", "宝贝类目", "宝贝价格", "宝贝数量", "宝贝描述", "商家编码", "数字ID", "闪电发货", "尺码库", "7天退货",
               "宝贝卖点"]


def taobao_rows() -> list[list[str]]:
    return [
        ["version 1.00"] + [""] * (len(TAOBAO_HEAD) - 1), TAOBAO_KEYS, TAOBAO_HEAD,
        ["禾木 纯棉T恤", "50000671", "39.90", "999",
         "<p>纯棉</p><p>尺码表：S/M/L</p><p>新疆、西藏等偏远地区不发货</p><p>因显示器不同可能存在轻微色差</p>", "FZ001",
         "661482683647", "0", "尺码表：S/M/L", "1", "纯棉；现货，付款后48小时内发货；部分颜色24小时内发货"],
        ["禾木 牛仔裤", "50000671", "89.00", "999", "<p>显瘦</p>", "FZ002", "0", "1", "", "0", "显瘦"],
    ]


def test_taobao_assistant_csv_with_its_three_header_lines(store, tmp_path):
    path = write_csv(tmp_path / "宝贝.csv", taobao_rows(), "gbk")
    (res,) = import_file(store, path, shop="淘宝店", now=NOW)  # detected from the headers alone
    assert (res.layout, res.platform, res.header_row, res.rows_new, res.status) == (
        "taobao_listings_assistant", "taobao", 3, 2, "done")
    assert not any("provisional" in n for n in res.notes)  # the confirmed layout
    rows = {r[0]: r for r in listings(store)}
    tee = rows["661482683647"]
    assert (tee[4], tee[6], tee[7], tee[8], tee[9]) == ("FZ001", "50000671", 3990, 24, "24小时内发货")  # shortest binds
    assert json.loads(tee[10]) == ["西藏", "新疆", "偏远地区"] and (tee[11], tee[12]) == (True, True)
    assert json.loads(tee[13]) == ["7天无理由", "24小时发货", "48小时发货"]
    jeans = rows["商家编码:FZ002"]  # 数字ID 0: never uploaded, keyed by its merchant code
    assert (jeans[2], jeans[8], jeans[11], jeans[12]) == (None, None, False, False)
    assert json.loads(jeans[13]) == ["闪电发货"]
    # the English keys line is a header line; a data row above the header is still refused
    bad = taobao_rows()
    bad[1] = bad[3]
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "bad.csv", bad, "gbk"), shop="淘宝店", now=NOW)
    assert [p.code for p in e.value.problems] == ["rows_above_header"]


# ------------------------------------------------------------------------------ cell conversions
@pytest.mark.parametrize(("text", "hours"), [
    ("48小时", 48), ("72h", 72), ("24H", 24), ("2天", 48), ("3日", 72), ("付款后48小时内发货", 48), ("现货，48小时内发货", 48),
    ("当日发", 24), ("次日发货", 48), ("预售15天", 360), ("1.5天", 36), ("48 小时", 48),
    ("48", None), ("很快", None), ("0小时", None), ("400天", None), ("1.5小时", None),
])
def test_dispatch_times_to_hours(text, hours):
    conv = clean.to_hours(pd.Series([text], dtype=object))
    if hours is None:
        assert bool(conv.bad.iloc[0]) and "\x1f" in conv.reasons.iloc[0]
    else:
        assert not conv.bad.iloc[0] and conv.values.iloc[0] == hours


def test_regions_commitments_and_flags():
    conv = clean.to_regions(pd.Series(["新疆、西藏", "西藏自治区,新疆维吾尔自治区", "港澳台 海外 偏远地区", "海南三沙市", "火星",
                                       None], dtype=object))
    assert list(conv.bad) == [False, False, False, False, True, False]
    assert conv.values.iloc[0] == conv.values.iloc[1] == '["西藏", "新疆"]'
    assert json.loads(conv.values.iloc[2]) == ["港澳台", "海外", "偏远地区"]
    assert json.loads(conv.values.iloc[3]) == ["海南三沙市"]
    tags = clean.to_tags(pd.Series(["七天无理由退货、赠运费险,坏损包退；假一赔十 极速退款 专属客服"], dtype=object))
    assert json.loads(tags.values.iloc[0]) == ["7天无理由", "运费险", "破损包赔", "极速退款", "假一赔十", "专属客服"]
    flags = clean.to_flag(pd.Series(["是", "否", "有", "无", "1", "0", "mz:12345", None], dtype=object))
    assert [None if pd.isna(v) else v for v in flags.values] == [True, False, True, False, True, False, True, None]
    assert clean.dispatch_in_text("付款后72小时内发货，部分地区次日发") == (48, "次日发")
    assert clean.regions_in_text("港澳台及新疆地区暂不发货。西藏正常发货") == ["新疆", "港澳台"]


# ------------------------------------------------------------------------------ the demo
def test_the_demo_ships_listing_exports_that_import_cleanly(sqlite_store, tmp_path):
    from reviewops.demo.generate import generate_demo

    demo = generate_demo(tmp_path / "a", scale=0.02, as_of="2026-11-20T09:30")
    files = [f for f in demo.files if f.kind == "listings"]
    assert sorted(f.platform for f in files) == ["douyin", "jd", "pdd", "taobao"]
    assert {f.layout for f in files} == {lay.name for lay in layouts.BUILTIN if lay.kind == "listings"}
    for f in files:
        (res,) = import_file(sqlite_store, f.path, platform=f.platform, kind=f.kind, shop=f.shop)
        assert (res.layout, res.status, res.rows_rejected) == (f.layout, "done", 0), res.problems[:3]
        assert res.rows_new == f.rows
    for f in files:  # a second import changes nothing
        (res,) = import_file(sqlite_store, f.path, platform=f.platform, kind=f.kind, shop=f.shop)
        assert (res.rows_new, res.rows_updated, res.rows_unchanged) == (0, 0, f.rows)
    with sqlite_store.read() as conn:
        rows = conn.execute(sa.select(st.listings.c.shop_id, st.listings.c.listing_id, st.listings.c.dispatch_hours,
                                      st.listings.c.excluded_regions, st.listings.c.size_chart,
                                      st.listings.c.colour_note, st.listings.c.product_pk)).all()
    assert any(r.dispatch_hours is None for r in rows) and any(r.dispatch_hours for r in rows)
    assert any("新疆" in json.loads(r.excluded_regions) for r in rows)
    assert any(r.colour_note for r in rows) and any(r.size_chart is False for r in rows)
    assert all(r.product_pk is not None for r in rows)
    # each platform's listings carry the catalogue's listing ids for that platform
    ids = {p.platform_id[platform] for p in demo.products for platform in ("taobao", "douyin", "pdd", "jd")}
    assert {r.listing_id for r in rows} == ids
    # apparel without a size chart exists (the listing audit needs one to find)
    apparel = {p.platform_id[pl] for p in demo.products if p.size_kind for pl in ("taobao", "douyin", "pdd", "jd")}
    assert any(r.listing_id in apparel and r.size_chart is False for r in rows)
    # same seed and as-of: the same listing bytes
    again = generate_demo(tmp_path / "b", scale=0.02, as_of="2026-11-20T09:30")
    for f, g in zip(files, [f for f in again.files if f.kind == "listings"]):
        assert f.path.read_bytes() == g.path.read_bytes(), f.name
