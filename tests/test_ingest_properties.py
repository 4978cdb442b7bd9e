"""Property tests of the importer (Hypothesis): round trip, idempotence, nothing dropped or duplicated.

Generated review and order rows, including hostile free text (formula triggers, quotes,
commas, newlines, emoji, characters outside GBK), are written to CSV in one of the
encodings real exports use, imported, and read back from the store:

* ids come back as the exact strings, money as exact fen, times equal in UTC;
* importing the same file again changes nothing;
* the store holds exactly one row per unique natural key.

Each example imports into its own shop of one store, so the store is opened once per test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from reviewops import import_file
from reviewops.intake.clean import NULL_TOKENS
from reviewops.core import store as st

SH = dt.timedelta(hours=8)
# CI: 30 deterministic examples per test; a longer random run: REVIEWOPS_TEST_EXAMPLES=500
_EXAMPLES = int(os.environ.get("REVIEWOPS_TEST_EXAMPLES", "0") or 0)
PROFILE = settings(max_examples=_EXAMPLES or 30, deadline=None, derandomize=not _EXAMPLES,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_shop_numbers = itertools.count(1)

# ----------------------------------------------------------------------- strategies
ENCODINGS = [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gb18030", b""), ("utf-16-le", b"\xff\xfe")]

_inner = hst.characters(
    codec="utf-8",
    categories=("L", "N", "P", "S", "Zs"),
    exclude_characters="\u200b\u200c\u200d\u2060\ufeff\x00",
) | hst.sampled_from(["\n", "\r\n", '"', "'", ",", "，", "😀", "𠮷", "€", "\t", "<script>", "\u3000", '""', "\r"])
_edge = hst.characters(codec="utf-8", categories=("L", "N", "So"), exclude_characters="\ufeff")
TRIGGERS = ["", "", "", "=", "+", "-", "@", "=HYPERLINK(\"http://evil.example\",\"点我\")&", "=cmd|' /C calc'!A0",
            "@SUM(1,1)", "{=", "＝", "-1+"]


@hst.composite
def free_text(draw):
    """Text that survives an export/import unchanged (see clean.clean_cells for what is normalised away)."""
    prefix = draw(hst.sampled_from(TRIGGERS))
    body = "".join(draw(hst.lists(_inner, max_size=30)))
    last = draw(_edge)
    return prefix + body + last


def survives(text: str) -> bool:
    """Cells that the importer normalises on purpose are left to the unit tests of clean.clean_cells."""
    return (text == text.strip() and text not in NULL_TOKENS
            and not (text.startswith("'") and text[1:2] in "=+-@\t\r\0{"))


# Ids whose digits past the 15th are all zeros look exactly like Excel damage; how the importer decides
# between the two is a deliberate trade-off tested in test_clean.py, so the round trip leaves them out.
order_ids = hst.integers(min_value=10 ** 15, max_value=10 ** 20 - 1).map(str).filter(
    lambda s: len(s) < 17 or s[15:].strip("0") != "")
local_times = hst.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2030, 12, 31)).map(
    lambda d: d.replace(microsecond=0))
# the times run to 2030: the imports are made "now" = 2031, as a time in the future is a bad value
NOW = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)
TIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y年%m月%d日 %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y.%m.%d %H:%M:%S", "%Y%m%d%H%M%S"]


def fmt_time(d: dt.datetime, fmt: str) -> str:
    if fmt == "%Y/%m/%d %H:%M:%S":  # as Excel re-saves it: no zero padding
        return f"{d.year}/{d.month}/{d.day} {d.hour}:{d.minute:02d}:{d.second:02d}"
    return d.strftime(fmt)


def fmt_money(fen: int, style: int) -> str:
    sign, a = ("-" if fen < 0 else ""), abs(fen)
    yuan, cents = divmod(a, 100)
    if style == 0:
        return f"{sign}{yuan}.{cents:02d}"
    if style == 1:
        return f"{sign}￥{yuan:,}.{cents:02d}"
    if style == 2:
        return f"{sign}{yuan}.{cents:02d}元"
    if style == 3:
        return f"({yuan}.{cents:02d})" if sign else f"{yuan}.{cents:02d}"
    return f"{sign}{yuan}" + (f".{cents:02d}".rstrip("0").rstrip(".") if cents else "")


def write(path, rows, encoding, bom):
    buf = io.StringIO()
    delim = "\t" if encoding.startswith("utf-16") else ","
    csv.writer(buf, delimiter=delim, lineterminator="\r\n").writerows(rows)
    path.write_bytes(bom + buf.getvalue().encode(encoding))


def shop_rows(store, table, shop, cols, order_by):
    with store.read() as conn:
        sid = conn.execute(sa.select(st.shops.c.id).where(st.shops.c.name == shop)).scalar_one()
        return conn.execute(sa.select(*[table.c[c] for c in cols]).where(table.c.shop_id == sid)
                            .order_by(*[table.c[c] for c in order_by])).all()


def non_import_counts(store):
    return {k: v for k, v in store.counts().items() if k != "import_batches"}


# ----------------------------------------------------------------------- reviews
review_row = hst.fixed_dictionaries({
    "order_id": order_ids,
    "nick": hst.sampled_from(["张三", "tb_李四", "王**", "t***8", "😀buyer", "$$Y2lwaGVy$$"]),
    "rating": hst.sampled_from(["好评", "中评", "差评"]),
    "content": free_text().filter(survives),
    "created": local_times,
    "append": hst.none() | free_text().filter(survives),
    "reply": hst.none() | free_text().filter(survives),
})


@PROFILE
@given(rows=hst.lists(review_row, min_size=1, max_size=8), dup=hst.integers(0, 3),
       enc=hst.sampled_from(ENCODINGS), fmt=hst.sampled_from(TIME_FORMATS))
def test_reviews_round_trip_idempotent_and_one_row_per_key(store, tmp_path_factory, rows, dup, enc, fmt):
    rows = rows + [dict(r, content=r["content"] + "（重复）") for r in rows[:dup]]  # re-exported rows, text changed
    table = [["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "追评内容", "解释内容"]]
    for r in rows:
        table.append([r["order_id"], r["nick"], r["rating"], r["content"], fmt_time(r["created"], fmt),
                      r["append"] or "", r["reply"] or ""])
    shop = f"shop{next(_shop_numbers)}"
    path = tmp_path_factory.mktemp("rev") / "reviews.csv"
    write(path, table, *enc)

    (first,) = import_file(store, path, shop=shop, now=NOW)
    # the last row of a natural key wins; one stored review per key
    expected = {}
    for r in rows:
        expected[(r["order_id"], r["created"])] = r
    assert first.rows_read == len(rows) and first.rows_rejected == 0
    got = shop_rows(store, st.reviews, shop, ["order_id", "created_at", "content", "append_content",
                                              "seller_reply", "rating_raw", "buyer_nick_masked"],
                    ["order_id", "created_at"])
    assert len(got) == len(expected) == first.rows_new
    for order_id, created, content, append, reply, rating, nick in got:
        want = expected[(order_id, (created + SH).replace(tzinfo=None))]
        assert created.utcoffset() == dt.timedelta(0)
        assert (content, append, reply, rating) == (want["content"], want["append"], want["reply"], want["rating"])
        assert nick is not None and (nick == "[密文]") == want["nick"].startswith("$$")

    before = non_import_counts(store)
    (again,) = import_file(store, path, shop=shop, now=NOW)
    assert (again.rows_new, again.rows_updated) == (0, 0)
    assert non_import_counts(store) == before


# ------------------------------------------------------------------------ orders
order_row = hst.fixed_dictionaries({
    "order_id": order_ids,
    "goods": hst.integers(0, 10 ** 11),
    "post": hst.integers(-10 ** 4, 10 ** 4),
    "paid": hst.integers(0, 10 ** 11),
    "created": local_times,
    "memo": hst.none() | free_text().filter(survives),
    "qty": hst.integers(1, 999),
})


@PROFILE
@given(rows=hst.lists(order_row, min_size=1, max_size=8, unique_by=lambda r: r["order_id"]),
       repeat=hst.integers(0, 3), style=hst.integers(0, 4), enc=hst.sampled_from(ENCODINGS),
       fmt=hst.sampled_from(TIME_FORMATS))
def test_orders_round_trip_money_ids_and_times_exactly(store, tmp_path_factory, rows, repeat, style, enc, fmt):
    table = [["订单编号", "买家会员名", "买家应付货款", "买家应付邮费", "买家实际支付金额", "订单创建时间", "订单备注",
              "宝贝标题", "宝贝总数量"]]
    for r in rows + rows[:repeat]:  # a re-exported order appears twice in one file
        table.append([r["order_id"], "tb_buyer", fmt_money(r["goods"], style), fmt_money(r["post"], style),
                      fmt_money(r["paid"], style), fmt_time(r["created"], fmt), r["memo"] or "", "杯子", str(r["qty"])])
    shop = f"shop{next(_shop_numbers)}"
    path = tmp_path_factory.mktemp("ord") / "ExportOrderList.csv"
    write(path, table, *enc)

    (res,) = import_file(store, path, shop=shop, now=NOW)
    assert res.rows_rejected == 0 and res.rows_new == len(rows)
    got = shop_rows(store, st.orders, shop, ["order_id", "goods_fen", "shipping_fee_fen", "paid_fen", "created_at",
                                             "seller_memo", "item_count"], ["order_id"])
    want = sorted(rows, key=lambda r: r["order_id"])
    assert [g[0] for g in got] == [r["order_id"] for r in want]
    for g, r in zip(got, want):
        assert g[1:4] == (r["goods"], r["post"], r["paid"])
        assert g[4] == (r["created"] - SH).replace(tzinfo=dt.timezone.utc)
        assert g[5] == r["memo"] and g[6] == r["qty"]

    before = non_import_counts(store)
    (again,) = import_file(store, path, shop=shop, now=NOW)
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, len(rows))
    assert non_import_counts(store) == before
