"""Unit tests of reviewops.intake.clean: cell cleaning and typing, a column at a time.

reliability.md §4 and I-03/I-04/I-05; exports.md §5 (value-normalisation rules).
Every converter must either convert a non-empty cell or report it: never a
silent empty value.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from reviewops.intake import clean

UTC = dt.timezone.utc


def S(values):  # noqa: N802 - short helper for a raw column
    return pd.Series(list(values), dtype=object)


def one(values, fn=None):
    cleaned = clean.clean_cells(S(values))
    return cleaned if fn is None else fn(cleaned)


# ------------------------------------------------------------------ cell cleaning
@pytest.mark.parametrize("raw", [
    '="2841234567890123456"',          # Excel formula wrapper
    "'2841234567890123456",            # leading apostrophe
    "\t2841234567890123456",           # Douyin's protective tab
    '"\t2841234567890123456"',         # tab inside surviving quotes
    "２８４１２３４５６７８９０１２３４５６",  # full-width digits (I-04)
    "2841234567890123456\u00a0",       # NBSP
    "\u200b2841234567890123456\u200d",  # zero-width space / joiner
    "\ufeff2841234567890123456",       # stray BOM
    "\u30002841234567890123456\u3000",  # ideographic space
    " 2841234567890123456\t",          # trailing tab (I-04)
])
def test_id_wrappers_and_widths_are_removed(raw):
    conv = clean.to_id(clean.clean_cells(S([raw])))
    assert not conv.bad.iloc[0]
    assert conv.values.iloc[0] == "2841234567890123456"


def test_id_variants_share_one_dedup_key():
    raws = ["2841234567890123456", "２８４１２３４５６７８９０１２３４５６", "\t2841234567890123456",
            "2841234567890123456 ", '="2841234567890123456"']
    conv = clean.to_id(clean.clean_cells(S(raws)))
    assert set(conv.values) == {"2841234567890123456"}


@pytest.mark.parametrize("token", ["", "-", "--", "NA", "null", "None", "nan", "#NULL!", "#N/A", "\t", "  ", "\u3000"])
def test_placeholder_tokens_become_empty(token):
    assert clean.clean_cells(S([token])).iloc[0] is None


def test_free_text_keeps_width_and_inner_content():
    raw = ["ＡＢＣ 好评", "  里面有\n换行和“引号”  ", "'=HYPERLINK(\"x\")", "'plain apostrophe", "😀 emoji"]
    out = clean.clean_cells(S(raw), free_text=True).tolist()
    assert out[0] == "ＡＢＣ 好评"              # free text is not NFKC-folded
    assert out[1] == "里面有\n换行和“引号”"
    assert out[2] == '=HYPERLINK("x")'        # our own formula guard is removed again (S-01 round trip)
    assert out[3] == "'plain apostrophe"      # any other apostrophe stays
    assert out[4] == "😀 emoji"


# ---------------------------------------------------------------------------- ids
@pytest.mark.parametrize("raw", ["2.84123E+18", "2.84123e+18", "6.91793E+18", "2841234567890123456.0", "1E+19"])
def test_scientific_and_float_ids_are_rejected_with_a_reason(raw):
    conv = clean.to_id(one([raw]))
    assert conv.bad.iloc[0]
    assert conv.values.iloc[0] is None
    zh, en = conv.reasons.iloc[0].split("\x1f")
    assert "Excel" in en or "number" in en
    assert zh and en


def test_excel_zero_padded_id_is_rejected():
    conv = clean.to_id(one(["2841234567890120000"]))
    assert conv.bad.iloc[0]
    assert "15" in conv.reasons.iloc[0]


@pytest.mark.parametrize("ids", [["11969146865803000"], ["1000000000000000", "11969146865803000"],
                                 ["2841234567890123400", "2841234567890123456"]])
def test_a_few_genuine_ids_ending_in_zeros_are_not_taken_for_excel_damage(ids):
    """A 17-digit id ends in "00" once in 100: alone it is no evidence of Excel (found by Hypothesis)."""
    conv = clean.to_id(one(ids))
    assert not conv.bad.any() and conv.values.tolist() == ids


@pytest.mark.parametrize("ids", [["284123456789012000"], ["28412345678901200", "28412345678901300"],
                                 ["2841234567890120000", "2841234567890123456"]])
def test_zero_tails_too_many_to_be_chance_are_rejected(ids):
    assert clean.to_id(one(ids)).bad.any()


def test_whole_column_mangled_by_excel_is_rejected_row_by_row():
    raws = ["2841234567890120000", "2841234567890130000", None, "2841234567890140000"]
    conv = clean.to_id(one(raws))
    assert conv.bad.tolist() == [True, True, False, True]


def test_zero_padded_id_next_to_scientific_notation_is_rejected():
    """A column that went through Excel (one cell shows E+) cannot be trusted for zero tails (I-03)."""
    raws = ["2841234567890123456", "2841234567890123457", "2841234567890123458", "2841234567890123459",
            "2.84123E+18", "2841234567890120000", None]
    conv = clean.to_id(one(raws))
    assert conv.bad.tolist() == [False, False, False, False, True, True, False]


def test_genuine_ids_that_happen_to_end_in_zeros_are_kept_in_a_clean_column():
    raws = [f"28412345678901234{i:02d}" for i in range(1, 10)] + ["2841234567890123400"]
    conv = clean.to_id(one(raws))
    assert not conv.bad.any()
    assert conv.values.tolist() == raws


@pytest.mark.parametrize("n", [16, 17, 18, 19, 20])
def test_long_ids_round_trip_exactly(n):
    value = ("9" + "8765432101234567890")[:n]
    conv = clean.to_id(one([value]))
    assert not conv.bad.iloc[0] and conv.values.iloc[0] == value


@pytest.mark.parametrize(("platform", "good", "bad"), [
    ("douyin", ["6917926768823643751", "4917926768823643"], ["691792676882364", "69179267688236437512", "6917926768823643751x"]),
    ("pdd", ["240305-123456789012345"], ["240305123456789012345", "240305-12345678901234", "24030-123456789012345"]),
    ("taobao", ["284123456789", "28412345678901234567"], ["28412345678", "284123456789012345678", "A284123456789"]),
    ("tmall", ["2841234567890123456"], ["2841-234567890123456"]),
    ("jd", ["123456789", "28412345678901234567"], ["12345678", "JD123456789"]),
    ("kuaishou", ["12345678901234", "2412345678901234"], ["1234567890123", "ks12345678901234"]),
])
def test_order_id_patterns_per_platform(platform, good, bad):
    pattern = clean.ORDER_ID_RE[platform]
    ok = clean.to_id(one(good), pattern=pattern)
    assert not ok.bad.any(), ok.values.tolist()
    assert ok.values.tolist() == good
    ko = clean.to_id(one(bad), pattern=pattern)
    assert ko.bad.all(), list(zip(bad, ko.bad))
    assert all(isinstance(r, str) and "\x1f" in r for r in ko.reasons)


def test_generic_id_rejects_spaces_and_symbols():
    conv = clean.to_id(one(["ab c", "x<y>", "SKU-12_a/b", "A"]))
    assert conv.bad.tolist() == [True, True, False, False]


# -------------------------------------------------------------------------- money
@pytest.mark.parametrize(("raw", "fen"), [
    ("￥1,234.50", 123450), ("¥0.5", 50), ("28.9元", 2890), ("(3.00)", -300), ("-3", -300), ("+5", 500),
    ("1,234", 123400), ("0.05", 5), ("3.10", 310), ("3.100", 310), ("12.", 1200), ("RMB5", 500),
    ("CNY 5.00", 500), ("１２.５", 1250), ("  7 ", 700), ("0", 0), ("123456789012.34", 12345678901234),
    ("12,345", 1234500), ("1，234", 123400), ("1,234,567.8", 123456780), ("(1,234.50)", -123450),
])
def test_money_to_fen_exactly(raw, fen):
    conv = clean.to_fen(one([raw]))
    assert not conv.bad.iloc[0]
    assert int(conv.values.iloc[0]) == fen


@pytest.mark.parametrize("raw", ["1.234", "abc", "1e3", "-(3)", "12.3.4", "￥", "1,23a", "99999999999999999999",
                                 "9223372036854775807", "92233720368547758.07",
                                 # a decimal comma or a misplaced one is refused, never read as 1,250 yuan
                                 "12,50", "1,5", "1，5", "1,2345", "1.234,50", "12,34.5", ",123", "0,000"])
def test_bad_money_is_rejected_never_zero(raw):
    conv = clean.to_fen(one([raw]))
    assert conv.bad.iloc[0], (raw, conv.values.iloc[0])
    assert conv.values.isna().iloc[0]
    assert conv.reason_zh and conv.reason_en


def test_empty_money_is_empty_not_bad():
    conv = clean.to_fen(one(["", None, "-"]))
    assert not conv.bad.any()
    assert conv.values.isna().all()


# -------------------------------------------------------------------------- dates
SH = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(("raw", "local"), [
    ("2024-03-06 09:01:33", dt.datetime(2024, 3, 6, 9, 1, 33)),
    ("2024-03-06 09:01", dt.datetime(2024, 3, 6, 9, 1)),
    ("2024-03-06", dt.datetime(2024, 3, 6)),
    ("2024/3/5 14:22", dt.datetime(2024, 3, 5, 14, 22)),
    ("2024/03/05 14:22:05", dt.datetime(2024, 3, 5, 14, 22, 5)),
    ("2024/3/5", dt.datetime(2024, 3, 5)),
    ("2024年3月7日", dt.datetime(2024, 3, 7)),
    ("2024年3月7日 14:22", dt.datetime(2024, 3, 7, 14, 22)),
    ("2024年3月7日 14:22:09", dt.datetime(2024, 3, 7, 14, 22, 9)),
    ("2024年3月7日 14时22分09秒", dt.datetime(2024, 3, 7, 14, 22, 9)),
    ("2024.03.08", dt.datetime(2024, 3, 8)),
    ("2024.03.08 10:00", dt.datetime(2024, 3, 8, 10, 0)),
    ("2024.03.08 10:00:01", dt.datetime(2024, 3, 8, 10, 0, 1)),
    ("2024-03-05T14:22:00", dt.datetime(2024, 3, 5, 14, 22)),
    ("20240305142200", dt.datetime(2024, 3, 5, 14, 22)),
    ("2024-03-05 14:22:00.250", dt.datetime(2024, 3, 5, 14, 22, 0, 250000)),
    ("2024-3-5 8:05:09", dt.datetime(2024, 3, 5, 8, 5, 9)),
    ("２０２４－０３－０５ １４:２２:００", dt.datetime(2024, 3, 5, 14, 22)),
    ('="2024-03-05 14:22:00"', dt.datetime(2024, 3, 5, 14, 22)),
    ("\t2024-03-05 14:22:00", dt.datetime(2024, 3, 5, 14, 22)),
    ("45361", dt.datetime(2024, 3, 10)),                 # Excel serial (1900 date system)
    ("45361.5", dt.datetime(2024, 3, 10, 12, 0)),
    ("45361.604166667", dt.datetime(2024, 3, 10, 14, 30)),
])
def test_known_date_formats_parse_to_utc(raw, local):
    conv, _ = clean.to_utc(one([raw]))
    assert not conv.bad.iloc[0], raw
    got = conv.values.iloc[0]
    assert got.tzinfo is not None
    assert got.to_pydatetime() == local.replace(tzinfo=SH)
    assert got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("raw", ["03/09/2024", "3/9/24", "09-03-2024", "03.09.2024"])
def test_ambiguous_day_month_is_rejected(raw):
    conv, _ = clean.to_utc(one([raw]))
    assert conv.bad.iloc[0]
    assert pd.isna(conv.values.iloc[0])
    zh, en = conv.reasons.iloc[0].split("\x1f")
    assert "歧义" in zh and "ambiguous" in en


@pytest.mark.parametrize("raw", ["garbage", "2024-13-01", "2024-02-30 10:00:00", "2024-03-05 25:00:00", "1.5",
                                 "99999", "12345", "昨天", "2024-03-05T14:22:00+08:00", "2024年13月1日"])
def test_unknown_dates_are_rejected_never_silently_empty(raw):
    conv, _ = clean.to_utc(one([raw]))
    assert conv.bad.iloc[0], raw
    assert isinstance(conv.reasons.iloc[0], str) and "\x1f" in conv.reasons.iloc[0]


def test_every_non_empty_date_is_either_parsed_or_reported():
    raws = ["2024/3/5 14:22", "2024-03-06 09:01:33", "2024年3月7日", "2024.03.08", "45361", "03/09/2024", "", None,
            "1990-09-16 00:30:00", "1988-04-10 02:30:00",
            "1991-04-14 02:30:00", "1989-09-17 01:30:00"]  # skipped / repeated by China's 1986–1991 summer time
    cleaned = one(raws)
    conv, slash = clean.to_utc(cleaned)
    present = cleaned.notna()
    assert ((conv.values.notna()) ^ conv.bad)[present].all()
    assert not conv.bad[~present].any()
    assert slash == 1


def test_slash_dates_are_counted_as_excel_resaves():
    _, slash = clean.to_utc(one(["2024/3/5 14:22", "2024/3/6", "2024-03-07 10:00:00"]))
    assert slash == 2


# ------------------------------------------------------------------ int / score / rating / bool
@pytest.mark.parametrize(("raw", "value"), [("3", 3), ("3.0", 3), ("3件", 3), ("12 袋", 12), ("0", 0), ("１０", 10)])
def test_int_accepts_quantities(raw, value):
    conv = clean.to_int(one([raw]))
    assert not conv.bad.iloc[0] and int(conv.values.iloc[0]) == value


@pytest.mark.parametrize("raw", ["-1", "3.5", "abc", "1234567890", "3kg"])
def test_int_rejects_the_rest(raw):
    assert clean.to_int(one([raw])).bad.iloc[0]


@pytest.mark.parametrize(("raw", "value"), [("4", 4), ("4.0", 4), ("4星", 4), ("4分", 4), ("star4", 4), ("5颗星", 5),
                                            ("STAR1", 1)])
def test_score_accepts_stars(raw, value):
    conv = clean.to_score(one([raw]))
    assert not conv.bad.iloc[0] and int(conv.values.iloc[0]) == value


@pytest.mark.parametrize("raw", ["0", "6", "4.5", "五星", "good"])
def test_score_rejects_out_of_range(raw):
    assert clean.to_score(one([raw])).bad.iloc[0]


@pytest.mark.parametrize(("raw", "cls", "score"), [
    ("好评", "positive", None), ("中评", "neutral", None), ("差评", "negative", None), ("good", "positive", None),
    ("BAD", "negative", None), ("star1", "negative", 1), ("3星", "neutral", 3), ("5", "positive", 5), ("4.0", "positive", 4),
    ("2分", "negative", 2),
])
def test_rating_classes(raw, cls, score):
    conv, sc = clean.to_rating(one([raw]))
    assert not conv.bad.iloc[0]
    assert conv.values.iloc[0] == cls
    assert (pd.isna(sc.iloc[0]) if score is None else int(sc.iloc[0]) == score)


def test_unknown_rating_is_reported():
    conv, _ = clean.to_rating(one(["还行吧", "0星"]))
    assert conv.bad.tolist() == [True, True]


@pytest.mark.parametrize(("raw", "value"), [("是", True), ("否", False), ("Y", True), ("n", False), ("TRUE", True),
                                            ("false", False), ("有", True), ("无", False), ("需要", True),
                                            ("不需要", False), ("1", True), ("0", False)])
def test_bool(raw, value):
    conv = clean.to_bool(one([raw]))
    assert not conv.bad.iloc[0] and conv.values.iloc[0] is value


def test_bool_rejects_other_text():
    assert clean.to_bool(one(["也许"])).bad.iloc[0]


def test_default_review_texts_are_recognised():
    out = clean.is_default_review(S(["评价方未及时做出评价,系统默认好评!", "评价方未及时做出评价，系统默认好评！",
                                     "此用户没有填写评价。", "真的很差", None]))
    assert out.tolist() == [True, True, True, False, False]


def test_default_reviews_are_the_platform_texts_only():
    texts = pd.Series(["评价方未及时做出评价,系统默认好评!", "评价方未及时做出评价，系统默认好评！", "此用户没有填写评价。",
                       "系统默认好评", None, "很好", "卖家说会给我系统默认好评，结果东西是坏的" * 4])
    assert clean.is_default_review(texts).tolist() == [True, True, True, True, False, False, False]


# ------------------------------------------------------------------ times in the future, long texts (issue 15)
def test_check_not_future_marks_times_past_now_plus_the_tolerance():
    import datetime as dt

    from reviewops.intake.clean import check_not_future, to_utc

    now = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.timezone.utc)  # 16:00 in Beijing
    conv, _ = to_utc(pd.Series(["2026-12-08 15:59:59", "2026-12-08 16:00:00", "2026-12-08 16:00:01", None],
                               dtype=object))
    got = check_not_future(conv.values, now, dt.timedelta(days=1))
    assert got.bad.tolist() == [False, False, True, False]
    assert got.values.isna().tolist() == [False, False, True, True]
    zh, en = got.reasons[2].split("\x1f")
    assert "2026-12-07 16:00" in zh and "1 天" in zh and "1 day after now" in en
    with pytest.raises(ValueError, match="timezone"):
        check_not_future(conv.values, dt.datetime(2026, 12, 7), dt.timedelta(days=1))


def test_check_length_counts_characters_not_bytes():
    from reviewops.intake.clean import check_length

    got = check_length(pd.Series(["😀" * 5, "😀" * 6, None, "abc"], dtype=object), 5)
    assert got.bad.tolist() == [False, True, False, False]
    assert got.values.tolist() == ["😀" * 5, None, None, "abc"]
    assert "6 个字符" in got.reasons[1] and "6 characters, the limit is 5" in got.reasons[1]


def test_years_no_platform_writes_are_reported_not_a_crash():
    from reviewops.intake.clean import to_utc

    conv, _ = to_utc(pd.Series(["2999-01-01 00:00:00", "1899-12-31", "2200-12-31 23:59:59"], dtype=object))
    assert conv.bad.tolist() == [True, True, False]
    assert "year out of range" in conv.reasons[0] and conv.values.isna().tolist() == [True, True, False]


# ------------------------------------------------------------------ long columns: once per distinct value
def _repeated(values: list, n: int = 1200, seed: int = 7) -> pd.Series:
    import random

    r = random.Random(seed)
    return pd.Series([r.choice(values) for _ in range(n)], dtype=object)


def test_long_columns_are_cleaned_per_distinct_value_with_the_cell_rule():
    raw = _repeated([None, float("nan"), pd.NA, "", " - ", '="00123"', "'0123", '"abc"', "\u3000x\u3000", "１２３",
                     "a\u200bb", "\t=1+1", "'=cmd", "好评", "2026-11-30 09:00:00"])
    assert len(raw) >= clean._FACTORIZE_MIN
    for free_text in (False, True):
        got = clean.clean_cells(raw, free_text=free_text)
        want = [clean.clean_cell(v, free_text) for v in raw.tolist()]
        assert got.tolist() == want
    # numbers from a workbook are not merged with equal text or each other (1, 1.0, True)
    mixed = _repeated([1, 1.0, True, "1", None])
    assert clean.clean_cells(mixed).tolist() == [clean.clean_cell(v) for v in mixed.tolist()]


def test_excel_mangling_is_judged_on_rows_not_on_distinct_ids():
    """One mangled id on 600 rows among 400 genuine ones: most rows end in zeros past digit 15 (Excel), although
    only one distinct id does."""
    genuine = [f"{123456789012345678 + 7919 * i}" for i in range(400)]
    genuine = [g if not g.endswith("0") else g[:-1] + "7" for g in genuine]
    values = pd.Series(["123456789012340000"] * 600 + genuine, dtype=object)
    got = clean.to_id(values)
    ref = clean._to_id(values, None, None)  # cell by cell, every row counted
    assert int(got.bad.sum()) == int(ref.bad.sum()) == 600
    assert got.values.tolist() == ref.values.tolist() and got.reasons.tolist() == ref.reasons.tolist()


def test_repeated_times_convert_like_single_ones_and_slashes_count_rows():
    values = _repeated(["2026-11-30 09:00:00", "2026/3/5 14:22", "03/09/2024", "45361.5", "2999-01-01", None,
                        "1988-04-10 02:30:00", "2026年3月5日"])
    conv, slash = clean.to_utc(values)
    ref, ref_slash = clean._to_utc(values, clean.SHANGHAI)
    assert slash == int(ref_slash.sum()) == int((values == "2026/3/5 14:22").sum())
    assert conv.values.dtype == ref.values.dtype
    assert conv.values.equals(ref.values) and conv.bad.equals(ref.bad)
    assert conv.reasons.tolist() == ref.reasons.tolist()
