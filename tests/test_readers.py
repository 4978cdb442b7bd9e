"""reviewops.intake.readers: file type by bytes, text decoding, banner rows, archives and their limits.

exports.md §1 (the file-level facts the importer must survive) and reliability.md I-01/I-08/S-11.
"""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
from payloads.tables import xlsx_bytes
from payloads.legacy_formats import biff8_xls, zipcrypto_zip

from reviewops import ImportRejected, UnknownLayout, UnsupportedFile, import_file
from reviewops.intake import readers
from reviewops.core import store as st

HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容"]
ROWS = [
    ["2841234567890123456", "张三", "差评", "杯子漏水，𠮷野家也不这样 😀", "2024-03-05 14:22:00", "保温杯", ""],
    ["2841234567890123457", "李四", "好评", "很好，“引号”和,逗号", "2024-03-06 09:01:33", "保温杯", "追评：还行"],
]
TABLE = [HEADER, *ROWS]


def csv_text(rows, delim=","):
    import csv

    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def html_table(rows, encoding="utf-8") -> bytes:
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>\n" for r in rows)
    charset = "utf-8" if encoding == "utf-8" else "gbk"
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}"></head>'
            f"<body><table border=1>\n{cells}</table></body></html>").encode(encoding)


def normalised(rows):
    return [[(c or None) for c in r] for r in rows]


# ------------------------------------------------------------------------- sniffing
def test_sniff_by_bytes_not_extension():
    assert readers.sniff_type(xlsx_bytes({"s": TABLE})) == "xlsx"
    assert readers.sniff_type(zip_bytes({"a.csv": b"x"})) == "zip"
    assert readers.sniff_type(biff8_xls(TABLE)) == "xls"
    assert readers.sniff_type(csv_text(TABLE).encode()) == "text"
    assert readers.sniff_type(html_table(TABLE)) == "text"


@pytest.mark.parametrize("data", [b"PK\x03\x04garbage" + b"\0" * 50, b"PK\x05\x06" + b"\0" * 10])
def test_damaged_zip_is_unsupported(data):
    with pytest.raises(UnsupportedFile, match="damaged"):
        readers.read_bytes(data, "x.xlsx")


@pytest.mark.parametrize("name", ["reviews.xls", "reviews.csv", "reviews.txt", "reviews"])
def test_every_container_gives_the_same_rows_whatever_the_extension(tmp_path, name):
    variants = {
        "xlsx": xlsx_bytes({"评价": TABLE}),
        "xls": biff8_xls(TABLE, sheet="评价"),
        "html": html_table(TABLE, "gb18030"),
        "csv": csv_text(TABLE).encode("utf-8"),
        "tsv": csv_text(TABLE, "\t").encode("utf-8"),
        "unicode-text": b"\xff\xfe" + csv_text(TABLE, "\t").encode("utf-16-le"),
        "zip": zip_bytes({"评价.csv": csv_text(TABLE).encode("gb18030")}),
    }
    for ftype, data in variants.items():
        p = tmp_path / f"{ftype}-{name}"
        p.write_bytes(data)
        tables = readers.read_path(p)
        assert len(tables) == 1, ftype
        t = tables[0]
        assert normalised(t.rows) == normalised(TABLE), ftype
        assert not t.problems
        expected_type = {"unicode-text": "tsv", "zip": "csv"}.get(ftype, ftype)
        assert t.file_type == expected_type, ftype


def test_xls_and_xlsx_import_like_the_csv(sqlite_store, tmp_path):
    got = []
    for ftype, data in (("csv", csv_text(TABLE).encode("gb18030")), ("xlsx", xlsx_bytes({"评价": TABLE})), ("xls", biff8_xls(TABLE))):
        p = tmp_path / f"r.{ftype}"
        p.write_bytes(data)
        res = import_file(sqlite_store, p, shop=f"shop-{ftype}")
        assert res[0].file_type == ftype and res[0].rows_new == 2
        with sqlite_store.read() as conn:
            got.append(conn.execute(
                sa.select(st.reviews.c.order_id, st.reviews.c.content, st.reviews.c.created_at,
                          st.reviews.c.append_content, st.reviews.c.rating_class)
                .join(st.shops, st.shops.c.id == st.reviews.c.shop_id)
                .where(st.shops.c.name == f"shop-{ftype}").order_by(st.reviews.c.order_id)).all())
    assert got[0] == got[1] == got[2]
    assert got[0][0][1] == ROWS[0][3]


# ------------------------------------------------------------------------- text
@pytest.mark.parametrize(("encoding", "bom", "label"), [
    ("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("gb18030", b"", "gb18030"),
    ("utf-16-le", b"\xff\xfe", "utf-16"), ("utf-16-be", b"\xfe\xff", "utf-16"),
])
def test_decode_cascade(encoding, bom, label):
    text = csv_text(TABLE)
    got, enc = readers.decode_text(bom + text.encode(encoding))
    assert got == text and enc == label


def test_short_gbk_is_not_read_as_korean():
    data = "评价内容,评分\n差评,1\n".encode("gbk")
    text, enc = readers.decode_text(data)
    assert text == "评价内容,评分\n差评,1\n" and enc == "gb18030"


def test_utf16_without_bom_is_detected():
    text = csv_text(TABLE, "\t")
    assert readers.decode_text(text.encode("utf-16-le"))[0] == text
    assert readers.decode_text(text.encode("utf-16-be"))[0] == text


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf\xff\xfe\xfa", b"\xff\xfe\x00\xd8", b"\x81\x30\xff\xff" * 10])
def test_undecodable_bytes_are_a_clear_error(data):
    with pytest.raises(UnsupportedFile) as e:
        readers.decode_text(data)
    assert "utf" in str(e.value).lower() and any("\u4e00" <= ch <= "\u9fff" for ch in str(e.value))


def test_delimiter_sniffing_handles_semicolon_and_pipes():
    for d in (";", "|", "\t", ","):
        t = readers.read_csv_text(csv_text(TABLE, d), "x", None, "utf-8")
        assert normalised(t.rows) == normalised(TABLE), d


@pytest.mark.parametrize("text", ['a,b\n1,"2\n3,4\nxxxx', 'a,b\n1,"2"x\n3,4\n'])
def test_unbalanced_quote_is_recorded_as_a_problem(text):
    t = readers.read_csv_text(text, "x", None, "utf-8")
    assert t.rows == [["a", "b"]]
    ((row, zh, en),) = t.problems
    assert row == 2 and "引号" in zh and "quote" in en


def test_nul_in_csv_does_not_crash(tmp_path, sqlite_store):
    p = tmp_path / "nul.csv"
    p.write_bytes(csv_text(TABLE).encode("utf-8").replace("差评".encode(), b"\x00\xe5\xb7\xae"))
    with pytest.raises((ImportRejected, UnsupportedFile, UnknownLayout)):
        import_file(sqlite_store, p)


# ------------------------------------------------------------------------- HTML "xls"
def test_html_table_with_entities_and_br():
    rows = [["订单编号", "评价内容"], ["2841234567890123456", "A &amp; B<br>第二行"]]
    data = html_table(rows)
    tables = readers.read_bytes(data, "export.xls")
    assert tables[0].file_type == "html"
    assert tables[0].rows[1] == ["2841234567890123456", "A & B\n第二行"]


def test_html_without_a_table_is_unsupported():
    with pytest.raises(UnsupportedFile, match="no table"):
        readers.read_bytes(b"<html><body><p>login expired</p></body></html>", "x.xls")


# ------------------------------------------------------------------------- workbook cells
def test_xlsx_numbers_keep_long_ids_recognisable_and_dates_as_text():
    import datetime as dt

    data = xlsx_bytes({"s": [["订单编号", "评价时间", "数量", "评分"],
                             [2841234567890123456, dt.datetime(2024, 3, 5, 14, 22), 3, 4.0],
                             ["2841234567890123456", "2024-03-05 14:22:00", "3", "4"]]})
    t = readers.read_bytes(data, "x.xlsx")[0]
    num_row, text_row = t.rows[1], t.rows[2]
    assert num_row[0] != "2841234567890123456" and "e+18" in num_row[0].lower()  # mangled stays visible
    assert num_row[1:] == ["2024-03-05 14:22:00", "3", "4"]
    assert text_row == ["2841234567890123456", "2024-03-05 14:22:00", "3", "4"]


def test_xlsx_with_several_sheets_reads_each(tmp_path):
    data = xlsx_bytes({"评价": TABLE, "说明": [["本表由系统导出"]]})
    tables = readers.read_bytes(data, "x.xlsx")
    assert [t.member for t in tables] == ["评价", "说明"]


def test_damaged_xlsx_is_unsupported():
    data = bytearray(xlsx_bytes({"s": TABLE}))
    i = data.index(b"xl/worksheets/sheet1.xml")
    # flip bytes in the compressed sheet data, keep the archive structure readable
    j = data.index(b"PK\x03\x04", i)
    for k in range(j - 40, j - 10):
        data[k] ^= 0x5A
    with pytest.raises(UnsupportedFile):
        readers.read_bytes(bytes(data), "x.xlsx")


def test_ole_file_that_is_not_a_workbook_is_unsupported():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600
    with pytest.raises(UnsupportedFile, match="XLS"):
        readers.read_bytes(data, "x.xls")


# ------------------------------------------------------------------------- archives
def gbk_named_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose names are GBK bytes without the UTF-8 flag, as Chinese Windows zip tools write them."""
    placeholders = {}
    plain = {}
    for i, (name, data) in enumerate(members.items()):
        raw = name.encode("gbk")
        ph = (f"{i:0{len(raw)}d}".encode())[: len(raw)]
        assert len(ph) == len(raw)
        placeholders[ph] = raw
        plain[ph.decode()] = data
    out = zip_bytes(plain)
    for ph, raw in placeholders.items():
        assert out.count(ph) == 2
        out = out.replace(ph, raw)
    return out


def test_zip_of_several_csvs_with_a_gbk_member_name():
    data = gbk_named_zip({
        "动账明细 - 聚合账户.csv": csv_text(TABLE).encode("gb18030"),
        "保费支出.csv": "\ufeff".encode() + csv_text([["a", "b"], ["1", "2"]]).encode("utf-8"),
    })
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert all(not (i.flag_bits & 0x800) for i in zf.infolist())
    tables = readers.read_bytes(data, "fund.zip")
    assert [t.member for t in tables] == ["动账明细 - 聚合账户.csv", "保费支出.csv"]
    assert [t.encoding for t in tables] == ["gb18030", "utf-8-sig"]
    assert tables[0].rows[0] == HEADER


def test_zip_members_import_together(sqlite_store, tmp_path):
    other = [HEADER, ["2841234567890123458", "王五", "中评", "一般", "2024-03-07 10:00:00", "保温杯", ""]]
    p = tmp_path / "export.zip"
    p.write_bytes(zip_bytes({"a.csv": csv_text(TABLE).encode("gb18030"), "b.csv": csv_text(other).encode("utf-8"),
                             "__MACOSX/._a.csv": b"\x00\x05\x16\x07junk"}))
    res = import_file(sqlite_store, p)
    assert sorted(r.member for r in res) == ["a.csv", "b.csv"]
    assert sum(r.rows_new for r in res) == 3


def test_zip_with_too_many_members_is_refused():
    data = zip_bytes({f"m{i}.csv": b"a,b\n1,2\n" for i in range(readers.MAX_ZIP_MEMBERS + 1)})
    with pytest.raises(UnsupportedFile, match=str(readers.MAX_ZIP_MEMBERS)):
        readers.read_bytes(data, "many.zip")


def test_zip_bomb_ratio_is_refused():
    data = zip_bytes({"big.csv": b"a,b\n" + b"0" * 3_000_000})
    assert len(data) < 20_000
    with pytest.raises(UnsupportedFile, match="zip bomb"):
        readers.read_bytes(data, "bomb.zip")


def test_password_protected_member_is_refused(tmp_path, sqlite_store):
    data = zipcrypto_zip("评价.csv", csv_text(TABLE).encode("utf-8"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # really encrypted: readable with the password only
        assert zf.read("评价.csv", pwd=b"secret").startswith("订单编号".encode())
    with pytest.raises(UnsupportedFile, match="password"):
        readers.read_bytes(data, "locked.zip")
    p = tmp_path / "locked.zip"
    p.write_bytes(data)
    with pytest.raises(UnsupportedFile, match="locked.zip"):
        import_file(sqlite_store, p)
    assert sqlite_store.counts()["import_batches"] == 0


def test_nested_zip_is_refused():
    inner = zip_bytes({"a.csv": csv_text(TABLE).encode()})
    with pytest.raises(UnsupportedFile, match="nested"):
        readers.read_bytes(zip_bytes({"inner.zip": inner}), "outer.zip")


def test_size_limit_is_stated(monkeypatch, tmp_path):
    monkeypatch.setattr(readers, "MAX_FILE_BYTES", 100)
    p = tmp_path / "big.csv"
    p.write_bytes(csv_text(TABLE * 5).encode())
    with pytest.raises(UnsupportedFile, match="100"):
        readers.read_path(p)


@pytest.mark.parametrize("make", ["missing", "dir", "empty", "blank"])
def test_unreadable_paths_are_clear_errors(tmp_path, make):
    p = tmp_path / "x.csv"
    if make == "dir":
        p.mkdir()
    elif make == "empty":
        p.write_bytes(b"")
    elif make == "blank":
        p.write_bytes(b" \r\n\t\n")
    with pytest.raises(UnsupportedFile) as e:
        readers.read_path(p)
    assert "x.csv" in str(e.value)


# ------------------------------------------------------------------------- banner rows
def test_banner_rows_before_the_header_keep_excel_row_numbers(sqlite_store, tmp_path):
    banner = [["店铺评价导出报表"], ["导出时间：2024-03-08 10:00:00", "", ""], [], ["说明：本表仅供内部使用"]]
    bad = [*ROWS, ["2841234567890123458", "王五", "差评", "太差", "2024-13-45 10:00:00", "保温杯", ""]]
    rows = [*banner, HEADER, *bad, ["合计：", "", "", "", "", "", ""]]
    p = tmp_path / "banner.csv"
    p.write_bytes(csv_text(rows).encode("gb18030"))
    with pytest.raises(ImportRejected) as e:
        import_file(sqlite_store, p)
    (problem,) = e.value.problems
    assert problem.row == 8 and problem.column == "评价时间" and problem.value == "2024-13-45 10:00:00"
    p.write_bytes(csv_text([*banner, HEADER, *ROWS, ["合计：", "", "", "", "", "", ""]]).encode("gb18030"))
    (res,) = import_file(sqlite_store, p)
    assert res.header_row == 5 and res.rows_read == 2 and res.rows_new == 2
    assert any("合计" in n for n in res.notes)
    with sqlite_store.read() as conn:
        assert sorted(conn.execute(sa.select(st.reviews.c.source_row)).scalars()) == [6, 7]
