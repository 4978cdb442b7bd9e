"""Genuine exports the importer used to misread (issue 15 §1) and a rejected import's layout (§6).

* Comma-separated exports whose cells carry a leading tab without quotes (PDD, Douyin, ERP tools;
  exports.md §1 and §2.4) — every built-in layout written in that style, generated from the layout
  registry — and the neighbours: quoted leading tabs, trailing tabs, a real TSV, a one-column file,
  a user's mapped layout.
* Times in the future (every time column of every built-in layout) and texts longer than any
  platform allows (every text-like column), reported as bad values like any other, with
  ``--skip-bad-rows`` writing them to ``FILE.rejected.csv``.
* ``--map … --save-layout NAME`` saves the layout only with a successful import.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa

from reviewops import ImportRejected, UnknownLayout, import_file
from reviewops.intake import layouts, readers
from reviewops.core import store as st
from reviewops.cli import main
from reviewops.core.columns import FUTURE_TOLERANCE, PROMISE_HORIZON, REVIEW_TEXT_MAX_CHARS, TEXT_MAX_CHARS, fields_of

UTC = dt.timezone.utc
SH = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 16:00 Beijing time; every import below is made "now"
N_ROWS = 30  # enough rows that a sniffer weighing row widths alone took the tabs for the delimiter
KIND_TABLE = {"orders": st.orders, "reviews": st.reviews, "refunds": st.refunds, "chats": st.chat_messages,
              "shipments": st.shipments, "listings": st.listings}
ORDER_ID = {"douyin": "69179267688236437{:02d}", "pdd": "240305-1234567890123{:02d}",
            "taobao": "28412345678901234{:02d}", "jd": "2841234567{:02d}", "kuaishou": "24123456789012{:02d}",
            None: "28412345678901234{:02d}"}
BUILTIN = pytest.mark.parametrize("lay", layouts.BUILTIN, ids=lambda lay: lay.name)


def cell(lay: layouts.Layout, fname: str, i: int) -> str:
    """Row ``i``'s value of ``fname``: valid, without commas or tabs, distinct per row where keys need it."""
    ftype = fields_of(lay.kind)[fname].type
    if fname == "order_id":
        return ORDER_ID[lay.platform].format(i)
    if fname == "shop_name":
        return "导出测试店"
    if ftype == "id":
        return f"SF12345678{i:02d}" if "tracking" in fname else f"X{len(fname):02d}{i:03d}"
    return {"money": "12.50", "datetime": f"2024-03-05 14:{i:02d}:00", "int": "2", "score": "4", "rating": "差评",
            "phone": "13800138000", "name": "张三", "nick": f"tb_buyer_{i}", "address": "浙江省杭州市西湖区文三路1号",
            "bool": "是", "text": f"文本{i}", "hours": "48小时", "regions": "新疆、西藏", "tags": "7天无理由",
            "flag": "是"}[ftype]


def table(lay: layouts.Layout, n: int = N_ROWS) -> tuple[list[str], list[list[str]]]:
    header = [aliases[0] for aliases in lay.columns.values()]
    return header, [[cell(lay, f, i) for f in lay.columns] for i in range(n)]


def written(header: list[str], rows: list[list[str]], style: str) -> str:
    """The text of a file in one export ``style``."""
    if style == "unquoted-leading-tab":  # PDD/ERP: ,\tvalue, without quotes (values hold no comma)
        return "".join(",".join(r) + "\r\n" for r in [header, *(["\t" + c for c in r] for r in rows)])
    if style == "quoted-leading-tab":  # Douyin: "\tvalue"
        buf = io.StringIO()
        w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(["\t" + c for c in r] for r in rows)
        return buf.getvalue()
    if style == "semicolon-leading-tab":  # a European-locale Excel writes ; between the same padded cells
        return "".join(";".join(r) + "\r\n" for r in [header, *(["\t" + c for c in r] for r in rows)])
    if style == "trailing-tab":
        return "".join(",".join(r) + "\r\n" for r in [header, *([c + "\t" for c in r] for r in rows)])
    if style == "tsv-with-commas":  # a real TSV whose text cells hold commas
        return "".join("\t".join(r) + "\r\n" for r in [header, *([c + ",，" if not c[:1].isdigit() else c
                                                                  for c in r] for r in rows)])
    raise AssertionError(style)


def _import(store, path, lay, **kw):
    if lay.kind == "shipments":  # a tracking file has no platform: name it, rather than importing orders first
        kw.setdefault("platform", "taobao")
        kw.setdefault("shop", "导出测试店")
    return import_file(store, path, now=NOW, **kw)


def _stored(store, lay):
    with store.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(KIND_TABLE[lay.kind])).scalar_one()
        lines = conn.execute(sa.select(sa.func.count()).select_from(st.order_lines)).scalar_one()
        oids = sorted(conn.execute(sa.select(KIND_TABLE[lay.kind].c.order_id)).scalars()) \
            if "order_id" in lay.columns and "order_id" in KIND_TABLE[lay.kind].c else []
    return n, lines, oids


# ------------------------------------------------------------------ unquoted leading tabs, every layout
@BUILTIN
def test_every_builtin_layout_with_unquoted_leading_tabs_imports(sqlite_store, tmp_path, lay):
    header, rows = table(lay)
    path = tmp_path / f"{lay.name}.csv"
    path.write_bytes(b"\xef\xbb\xbf" + written(header, rows, "unquoted-leading-tab").encode("utf-8"))
    (res,) = _import(sqlite_store, path, lay)
    assert (res.layout, res.file_type, res.status) == (lay.name, "csv", "done")
    assert (res.rows_read, res.rows_rejected) == (N_ROWS, 0)
    n, lines, oids = _stored(sqlite_store, lay)
    if lay.kind == "orders":  # a file of order lines without order times fills order_lines only
        assert n == N_ROWS or (n, lines) == (0, N_ROWS)
    else:
        assert n == N_ROWS
    if oids:  # the tabs are gone from the ids
        assert oids == sorted(cell(lay, "order_id", i) for i in range(N_ROWS))


STYLES = {"unquoted-leading-tab": ",", "quoted-leading-tab": ",", "trailing-tab": ",", "tsv-with-commas": "\t",
          "semicolon-leading-tab": ";"}


@BUILTIN
@pytest.mark.parametrize("style", list(STYLES))
def test_the_delimiter_follows_the_header_row_in_every_style(lay, style):
    header, rows = table(lay)
    (t,) = readers.read_bytes(written(header, rows, style).encode("utf-8"), f"{lay.name}.csv")
    assert t.file_type == ("tsv" if style.startswith("tsv") else "csv")
    assert [c.strip() for c in t.rows[0]] == header
    assert {len(r) for r in t.rows} == {len(header)}
    # the delimiter is chosen consistently even when no layout knows the headers (the error then lists them)
    assert readers.pick_delimiter(written(header, rows, style), set()) == STYLES[style]


def test_pdd_export_with_quoted_and_trailing_tabs_and_tab_for_empty_times_imports(sqlite_store, tmp_path):
    lay = layouts.builtin("pdd_orders")
    header, rows = table(lay)
    shipped = header.index("发货时间")
    text = written(header, rows, "quoted-leading-tab").splitlines()
    # PDD writes an unshipped order's time as a lone tab, some rows end with a tab
    for i in range(1, len(text), 2):
        cells = next(csv.reader([text[i]]))
        cells[shipped] = "\t"
        cells[-1] += "\t"
        text[i] = ",".join(f'"{c}"' for c in cells)
    path = tmp_path / "orders_export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(text).encode("utf-8"))
    (res,) = import_file(sqlite_store, path, now=NOW)
    assert (res.layout, res.rows_read, res.rows_rejected) == ("pdd_orders", N_ROWS, 0)
    with sqlite_store.read() as conn:
        shipped_at = conn.execute(sa.select(st.orders.c.shipped_at)).scalars().all()
    assert sum(v is None for v in shipped_at) == N_ROWS // 2


def test_a_real_tsv_with_commas_in_its_texts_is_still_read_as_tsv(sqlite_store, tmp_path):
    lay = layouts.builtin("taobao_reviews")
    header, rows = table(lay)
    for r in rows:
        r[header.index("评价内容")] = "杯子漏水,客服不回,差评"
    path = tmp_path / "reviews.txt"
    path.write_bytes(b"\xff\xfe" + "".join("\t".join(r) + "\r\n" for r in [header, *rows]).encode("utf-16-le"))
    (res,) = import_file(sqlite_store, path, now=NOW)
    assert (res.layout, res.file_type, res.rows_new) == ("taobao_reviews", "tsv", N_ROWS)
    with sqlite_store.read() as conn:
        assert set(conn.execute(sa.select(st.reviews.c.content)).scalars()) == {"杯子漏水,客服不回,差评"}


def test_a_one_column_file_stays_one_column():
    text = "评价内容\r\n\t很好\r\n\t一般\r\n\t差\r\n"
    (t,) = readers.read_bytes(text.encode("utf-8"), "one.csv")
    assert t.rows == [["评价内容"], ["\t很好"], ["\t一般"], ["\t差"]]
    (t,) = readers.read_bytes("评价内容\r\n很好\r\n差\r\n".encode("utf-8"), "one.csv")
    assert t.file_type == "csv" and t.rows == [["评价内容"], ["很好"], ["差"]]


def test_unknown_headers_with_leading_tabs_are_listed_whole(sqlite_store, tmp_path):
    """A file no layout knows is refused with its headers as they are, not cut at the tabs."""
    header = ["单号", "顾客留言", "留言日期", "星级"]
    rows = [[f"28412345678901234{i:02d}", f"留言{i}", "2024-03-05 10:00", "1"] for i in range(N_ROWS)]
    path = tmp_path / "odd.csv"
    path.write_bytes(written(header, rows, "unquoted-leading-tab").encode("utf-8"))
    with pytest.raises(UnknownLayout) as e:
        import_file(sqlite_store, path, now=NOW)
    assert e.value.headers == header
    # mapped once, the same file imports: the delimiter follows the mapped layout's headers
    (res,) = import_file(sqlite_store, path, kind="reviews", platform="taobao", now=NOW,
                         mapping={"单号": "order_id", "顾客留言": "content", "留言日期": "created_at",
                                  "星级": "rating_raw"})
    assert (res.rows_new, res.rows_rejected) == (N_ROWS, 0)


# ------------------------------------------------------------------------------ times in the future
def _time_fields(lay):
    return [f for f in lay.columns if fields_of(lay.kind)[f].type == "datetime"]


@BUILTIN
def test_a_time_in_the_future_is_a_bad_value_in_every_time_column(sqlite_store, tmp_path, lay):
    """Row i+2 has time column i later than now + 1 day (promised times: later than a year)."""
    fields = _time_fields(lay)
    if lay.kind == "listings":  # a listing export has no time columns (its promise is a duration)
        assert not fields
        pytest.skip("listing layouts have no time columns")
    assert fields, lay.name
    header, rows = table(lay, len(fields) + 1)
    expected = set()
    for i, fname in enumerate(fields):
        ahead = PROMISE_HORIZON if fname.startswith("promised") else FUTURE_TOLERANCE
        when = (NOW + ahead + dt.timedelta(minutes=1)).astimezone(SH)
        col = list(lay.columns).index(fname)
        rows[i][col] = when.strftime("%Y-%m-%d %H:%M:%S")
        expected.add((i + 2, header[col], rows[i][col]))
    path = tmp_path / f"{lay.name}.csv"
    path.write_bytes(written(header, rows, "unquoted-leading-tab").encode("utf-8"))
    with pytest.raises(ImportRejected) as e:
        _import(sqlite_store, path, lay)
    got = {(p.row, p.column, p.value) for p in e.value.problems if p.code == "future_time"}
    assert got == expected
    assert {p.code for p in e.value.problems} == {"future_time"}
    p = e.value.problems[0]
    assert p.file == path.name and "未来" in p.reason_zh and "future" in p.reason_en
    assert "2026-12-07 16:00" in p.reason_zh  # now, in Beijing time
    assert _stored(sqlite_store, lay)[0] == 0


def test_times_up_to_a_day_ahead_and_promises_up_to_a_year_are_accepted(sqlite_store, tmp_path):
    lay = layouts.builtin("douyin_orders")
    header, rows = table(lay, 2)
    within = (NOW + FUTURE_TOLERANCE - dt.timedelta(minutes=1)).astimezone(SH).strftime("%Y-%m-%d %H:%M:%S")
    promise = (NOW + dt.timedelta(days=45)).astimezone(SH).strftime("%Y-%m-%d %H:%M:%S")
    rows[0][header.index("订单提交时间")] = within
    rows[1][header.index("承诺发货时间")] = promise  # a presale promises weeks ahead
    path = tmp_path / "douyin.csv"
    path.write_bytes(written(header, rows, "quoted-leading-tab").encode("utf-8"))
    (res,) = import_file(sqlite_store, path, now=NOW)
    assert (res.rows_new, res.rows_rejected) == (2, 0)


def test_now_defaults_to_the_clock(sqlite_store, tmp_path):
    lay = layouts.builtin("taobao_reviews")
    header, rows = table(lay, 2)
    rows[1][header.index("评价时间")] = "2100-01-01 00:00:00"
    path = tmp_path / "r.csv"
    path.write_bytes(written(header, rows, "trailing-tab").encode("utf-8"))
    with pytest.raises(ImportRejected) as e:
        import_file(sqlite_store, path)
    assert [(p.row, p.column, p.code) for p in e.value.problems] == [(3, "评价时间", "future_time")]
    with pytest.raises(Exception, match="timezone"):
        import_file(sqlite_store, path, now=dt.datetime(2026, 12, 7))


def test_a_year_no_platform_writes_is_reported_not_a_crash(sqlite_store, tmp_path):
    """2999-01-01 lies beyond what a nanosecond time holds: it crashed the import (OutOfBoundsDatetime)."""
    lay = layouts.builtin("taobao_reviews")
    header, rows = table(lay, 3)
    rows[1][header.index("评价时间")] = "2999-01-01 00:00:00"
    rows[2][header.index("追评时间")] = "1899-12-31"
    path = tmp_path / "r.csv"
    path.write_bytes(written(header, rows, "unquoted-leading-tab").encode("utf-8"))
    with pytest.raises(ImportRejected) as e:
        import_file(sqlite_store, path, now=NOW)
    assert [(p.row, p.column, p.code) for p in e.value.problems] == [(3, "评价时间", "bad_datetime"),
                                                                       (4, "追评时间", "bad_datetime")]
    assert all("year out of range" in p.reason_en for p in e.value.problems)


def test_skip_bad_rows_writes_future_and_too_long_rows_to_the_rejected_file(sqlite_store, tmp_path):
    lay = layouts.builtin("taobao_reviews")
    header, rows = table(lay, 4)
    rows[1][header.index("追评时间")] = "2027-06-01 10:00:00"
    rows[2][header.index("评价内容")] = "长" * (REVIEW_TEXT_MAX_CHARS + 1)
    path = tmp_path / "reviews.csv"
    path.write_bytes(written(header, rows, "unquoted-leading-tab").encode("gb18030"))
    (res,) = import_file(sqlite_store, path, now=NOW, skip_bad_rows=True)
    assert (res.status, res.rows_new, res.rows_rejected) == ("partial", 2, 2)
    with open(res.rejected_file, encoding="utf-8-sig", newline="") as f:
        rejected = list(csv.reader(f))
    assert [r[0] for r in rejected[1:]] == ["3", "4"]
    assert "「追评时间」" in rejected[1][1] and "future" in rejected[1][1]
    assert "「评价内容」" in rejected[2][1] and str(REVIEW_TEXT_MAX_CHARS + 1) in rejected[2][1]
    assert "长" * (REVIEW_TEXT_MAX_CHARS + 1) in rejected[2][2 + header.index("评价内容")]  # the cell kept whole
    with sqlite_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(st.reviews)).scalar_one() == 2


# ------------------------------------------------------------------------------ texts too long
def _text_fields(lay):
    return [f for f in lay.columns if fields_of(lay.kind)[f].char_limit is not None]


@BUILTIN
def test_a_text_beyond_its_limit_is_a_bad_value_in_every_text_column(sqlite_store, tmp_path, lay):
    """Row i+2 has text column i one character over its limit; a last row holds every text at its limit."""
    fields = _text_fields(lay)
    assert fields, lay.name
    header, rows = table(lay, len(fields) + 1)
    expected = set()
    for i, fname in enumerate(fields):
        limit = fields_of(lay.kind)[fname].char_limit
        col = list(lay.columns).index(fname)
        rows[i][col] = "长" * (limit + 1)
        expected.add((i + 2, header[col]))
        rows[-1][col] = "满" * limit if fields_of(lay.kind)[fname].type == "text" else rows[-1][col]
    path = tmp_path / f"{lay.name}.csv"
    path.write_bytes(written(header, rows, "quoted-leading-tab").encode("utf-8"))
    with pytest.raises(ImportRejected) as e:
        _import(sqlite_store, path, lay)
    assert {(p.row, p.column) for p in e.value.problems if p.code == "too_long"} == expected
    assert {p.code for p in e.value.problems} == {"too_long"}
    for p in e.value.problems:
        assert len(p.value) < 250 and "文本过长" in p.reason_zh and "too long" in p.reason_en
    # the rows over the limit skipped, the row at the limit goes in
    (res,) = _import(sqlite_store, path, lay, skip_bad_rows=True)
    assert (res.rows_rejected, res.rows_read - res.rows_rejected) == (len(fields), 1)


def test_review_texts_are_held_to_the_platform_limit_others_to_the_general_one():
    f = fields_of("reviews")
    assert {n for n in f if f[n].char_limit == REVIEW_TEXT_MAX_CHARS} == {"content", "append_content", "seller_reply"}
    assert REVIEW_TEXT_MAX_CHARS == 2_000 and TEXT_MAX_CHARS == 10_000
    assert fields_of("chats")["content"].char_limit == TEXT_MAX_CHARS


# ------------------------------------------------------------------------------ --save-layout
MAP = {"单号": "order_id", "顾客留言": "content", "留言日期": "created_at", "星级": "rating_raw"}


def _layout_names(store):
    with store.read() as conn:
        return conn.execute(sa.select(st.layouts.c.name)).scalars().all()


def test_a_rejected_import_leaves_no_saved_layout(sqlite_store, tmp_path):
    header = list(MAP)
    bad = tmp_path / "bad.csv"
    bad.write_text("\r\n".join([",".join(header), "2841234567890123456,太差了,2024-03-05 10:00,1",
                                "2841234567890123457,还行,昨天,3"]), encoding="utf-8")
    with pytest.raises(ImportRejected):
        import_file(sqlite_store, bad, kind="reviews", platform="jd", mapping=MAP, save_as="我的京东评价", now=NOW)
    assert _layout_names(sqlite_store) == []
    good = tmp_path / "good.csv"
    good.write_text("\r\n".join([",".join(header), "2841234567890123456,太差了,2024-03-05 10:00,1"]), encoding="utf-8")
    (res,) = import_file(sqlite_store, good, kind="reviews", platform="jd", mapping=MAP, save_as="我的京东评价",
                         now=NOW)
    assert res.rows_new == 1 and any("我的京东评价" in n and "saved" in n for n in res.notes)
    assert _layout_names(sqlite_store) == ["我的京东评价"]


def test_cli_save_layout_with_a_rejected_file_saves_nothing(sqlite_store, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("单号,顾客留言,留言日期,星级\r\n2841234567890123456,太差了,2099-03-05 10:00,1\r\n", encoding="utf-8")
    code = main(["import", str(bad), "--db", sqlite_store.url, "--platform", "jd", "--kind", "reviews",
                 "--map", ",".join(f"{h}={f}" for h, f in MAP.items()), "--save-layout", "我的京东评价", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code != 0 and out["results"][0]["status"] == "rejected"
    assert [p["code"] for p in out["results"][0]["problems"]] == ["future_time"]
    assert main(["layouts", "--db", sqlite_store.url, "--json"]) == 0
    assert not any(r["name"] == "我的京东评价" for r in json.loads(capsys.readouterr().out))
