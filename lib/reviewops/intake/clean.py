"""Cell cleaning and typing, column at a time (exports.md §5, reliability.md §4).

Every function takes a pandas Series of raw strings (``None`` for a missing
cell) and returns the converted values plus a boolean Series ``bad`` marking
cells that could not be converted, with a reason. Nothing is ever silently
turned into an empty value: a non-empty cell either converts or is reported.

Order of cleaning (exports.md §5.1): NFKC and removal of zero-width
characters (not for free text), strip whitespace/tab/U+3000, unwrap ``="…"``, strip one leading ``'``,
strip surrounding quotes, map placeholder tokens to empty.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

SHANGHAI = ZoneInfo("Asia/Shanghai")

NULL_TOKENS = frozenset({"", "-", "--", "—", "NA", "N/A", "null", "NULL", "None", "nan", "NaN", "#NULL!", "#N/A"})
_FORMULA_ESCAPED = re.compile(r"^'(?=[=+\-@\t\r\0{])")


@dataclass
class Converted:
    """Result of converting one column: values, a mask of bad cells and one reason per bad cell."""

    values: pd.Series
    bad: pd.Series
    reason_zh: str = ""
    reason_en: str = ""
    reasons: pd.Series | None = None  # per-cell reason when they differ (zh \x1f en)


_ZW_TABLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_GUARDED = frozenset("=+-@\t\r\0{")


def clean_cell(v: object, free_text: bool = False) -> str | None:
    """Clean one raw cell (see the module docstring for the order); ``None`` when empty."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = v if isinstance(v, str) else str(v)
    if not free_text and not s.isascii():
        # identifiers, numbers, dates: full-width folded, zero-width characters removed (I-04);
        # free text keeps its characters as written
        s = unicodedata.normalize("NFKC", s).translate(_ZW_TABLE)
    s = s.strip()
    if len(s) >= 3 and s.startswith('="') and s.endswith('"'):
        s = s[2:-1]
    if free_text:
        # only our own formula-guard apostrophe is removed from free text (S-01 round trip)
        if len(s) > 1 and s[0] == "'" and s[1] in _GUARDED:
            s = s[1:]
        s = s.lstrip("\t")
    else:
        if s.startswith("'"):
            s = s[1:]
        if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
            s = s[1:-1].strip()
    return None if s in NULL_TOKENS else s


_NEEDS_RULE = frozenset("='\"")  # first characters that :func:`clean_cell` may unwrap or strip


def _clean_all(values: list[object], free_text: bool) -> list[str | None]:
    """:func:`clean_cell` of every value. A text cell that the rule would return unchanged — no space at
    either end, no quote, apostrophe or ``=`` first, not a placeholder, and (unless free text) ASCII, so
    NFKC changes nothing — is taken as it is without the call (most cells of an export)."""
    needs = _NEEDS_RULE
    nulls = NULL_TOKENS
    return [v if (v.__class__ is str and v and (free_text or v.isascii()) and not v[0].isspace()
                  and not v[-1].isspace() and v[0] not in needs and v not in nulls)
            else clean_cell(v, free_text) for v in values]


#: below this many cells a column is cleaned cell by cell (factorising costs more than it saves)
_FACTORIZE_MIN = 256


def _factorized(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, uniques) of a column whose present cells are all text, missing cells coded -1; None for a
    short column or one that holds other types (numbers from a workbook: ``1`` and ``1.0`` must not merge)."""
    if len(values) < _FACTORIZE_MIN:
        return None
    arr = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(arr, skipna=True) != "string":
        return None
    codes, uniques = pd.factorize(arr)
    return codes, uniques


def clean_cells(raw: pd.Series, *, free_text: bool = False) -> pd.Series:
    """Clean raw cells; returns an object Series with ``None`` for empty/placeholder cells.

    Exports repeat most of their cells (statuses, shop names, the times and ids of an order on each of its
    rows), so a long text column is cleaned once per distinct value (:func:`clean_cell`, the same rule)."""
    fact = _factorized(raw)
    if fact is None:
        return pd.Series(_clean_all(raw.astype(object).tolist(), free_text), index=raw.index, dtype=object)
    codes, uniques = fact
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = _clean_all(uniques.tolist(), free_text)
    table[-1] = None  # code -1: a missing cell
    out = table[codes]
    missing = np.flatnonzero(codes < 0)
    if len(missing):  # NaN and None clean to None; anything else missing (pd.NA, NaT) by the cell rule
        arr = raw.to_numpy(dtype=object)
        for i in missing.tolist():
            v = arr[i]
            if v is not None:
                out[i] = clean_cell(v, free_text)
    return pd.Series(out, index=raw.index, dtype=object)


def _ok(values: pd.Series) -> Converted:
    return Converted(values, pd.Series(False, index=values.index))


SCI_RE = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"

# Order-ID formats per platform (exports.md §5.2). Lengths of medium/low confidence are kept wide.
ORDER_ID_RE = {
    "douyin": (r"^\d{16,19}$", "抖店订单号应为16–19位数字", "Douyin order ids are 16–19 digits"),
    "pdd": (r"^\d{6}-\d{15}$", "拼多多订单号应为 YYMMDD-15位数字", "Pinduoduo order ids are YYMMDD- plus 15 digits"),
    "taobao": (r"^\d{12,20}$", "淘宝/天猫订单号应为12–20位数字", "Taobao/Tmall order ids are 12–20 digits"),
    "tmall": (r"^\d{12,20}$", "淘宝/天猫订单号应为12–20位数字", "Taobao/Tmall order ids are 12–20 digits"),
    "jd": (r"^\d{9,20}$", "京东订单号应为9–20位数字", "JD order ids are 9–20 digits"),
    "kuaishou": (r"^\d{14,20}$", "快手订单号应为14–20位数字", "Kuaishou order ids are 14–20 digits"),
}
GENERIC_ID_RE = r"^[0-9A-Za-z][0-9A-Za-z_\-#./:]{0,63}$"


def _spread(unique: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Per-distinct-value results back onto the rows (same dtype)."""
    return pd.Series(unique.array.take(codes), index=index, dtype=unique.dtype)


def _by_distinct(values: pd.Series, convert: Callable[[pd.Series], Converted]) -> Converted:
    """``convert`` (a cell-by-cell converter) of a long column with many repeats, run once per distinct value."""
    fact = _worth_factorizing(values)
    if fact is None:
        return convert(values)
    codes, uniques = fact
    u = convert(pd.Series(uniques, dtype=object))
    return Converted(_spread(u.values, codes, values.index), _spread(u.bad, codes, values.index), u.reason_zh,
                     u.reason_en, None if u.reasons is None else _spread(u.reasons, codes, values.index))


def _worth_factorizing(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, distinct values) of a long text column with many repeats; missing cells are one more
    distinct value, ``None`` (a converter treats every missing cell alike). None when not worth it."""
    fact = _factorized(values)
    if fact is None or 2 * len(fact[1]) > len(values):  # mostly distinct: no saving
        return None
    codes, uniques = fact
    if (codes < 0).any():
        uniques = np.append(uniques.astype(object), None)
        codes = np.where(codes < 0, len(uniques) - 1, codes)
    return codes, uniques


def to_id(values: pd.Series, *, pattern: tuple[str, str, str] | None = None) -> Converted:
    """Identifiers as exact text. Rejects Excel-mangled numbers (I-03) and malformed ids.

    A column with many repeated ids is checked once per distinct id (the Excel test still counts rows)."""
    fact = _worth_factorizing(values)
    if fact is None:
        return _to_id(values, None, pattern)
    codes, uniques = fact
    weights = np.bincount(codes, minlength=len(uniques))
    u = _to_id(pd.Series(uniques, dtype=object), weights, pattern)
    return Converted(_spread(u.values, codes, values.index), _spread(u.bad, codes, values.index),
                     reasons=_spread(u.reasons, codes, values.index))


def _to_id(values: pd.Series, weights: np.ndarray | None, pattern: tuple[str, str, str] | None) -> Converted:
    """:func:`to_id` of ``values``, each cell standing for ``weights`` rows (None: one each)."""
    v = values
    present = v.notna()
    text = v.where(present, "").astype(str)
    sci = present & text.str.match(SCI_RE)
    dotzero = present & ~sci & text.str.fullmatch(r"\d{6,}\.0+")
    # Excel keeps 15 significant digits: a long id whose tail past digit 15 is all zeros
    long_zero_tail = present & text.str.fullmatch(r"\d{15}0{1,5}") & (text.str.len() >= 17)
    long_ids = present & text.str.fullmatch(r"\d{16,}")
    # The column went through Excel's number conversion when any cell shows E+ or .0, or when most long ids
    # end in zeros past digit 15 and genuine ids would do so by chance less than once in 1,000 (a 17-digit
    # id ends in "00" once in 100, a 19-digit one in "0000" once in 10,000).
    if weights is None:
        chance_decades = int((text.str.len() - 15)[long_zero_tail].sum())
        n_zero_tail, n_long = int(long_zero_tail.sum()), int(long_ids.sum())
    else:
        tail = long_zero_tail.to_numpy(dtype=bool)
        chance_decades = int(((text.str.len() - 15).to_numpy() * weights)[tail].sum())
        n_zero_tail, n_long = int(weights[tail].sum()), int(weights[long_ids.to_numpy(dtype=bool)].sum())
    through_excel = bool((sci | dotzero).any()) or (
        n_zero_tail >= max(1, int(0.5 * n_long)) and chance_decades >= 3)
    if long_ids.any() and through_excel:
        mangled = long_zero_tail
    else:
        mangled = pd.Series(False, index=v.index)
    reasons = pd.Series(None, index=v.index, dtype=object)
    reasons[sci] = "科学计数法的编号已被 Excel 损坏，无法恢复；请从平台重新导出原文件\x1f" \
                   "id in scientific notation was corrupted by Excel and cannot be recovered; re-export from the platform"
    reasons[dotzero] = "编号带小数点，已被当作数字处理；请从平台重新导出\x1fid was turned into a number (.0); re-export from the platform"
    reasons[mangled] = "长编号末尾被 Excel 补零（只保留15位有效数字），无法恢复；请重新导出\x1f" \
                       "long id lost its last digits to Excel's 15-digit limit; re-export from the platform"
    bad = sci | dotzero | mangled
    if pattern is not None:
        rx, zh, en = pattern
        wrong = present & ~bad & ~text.str.fullmatch(rx)
    else:
        rx, zh, en = GENERIC_ID_RE, "编号含有不允许的字符", "id contains characters that are not allowed"
        wrong = present & ~bad & ~text.str.fullmatch(rx)
    reasons[wrong] = f"{zh}\x1f{en}"
    bad = bad | wrong
    return Converted(v.where(present & ~bad, None).astype(object), bad, reasons=reasons)


_MONEY_STRIP = r"[￥¥元\s]|RMB|CNY"
#: thousands separators only where they belong (1,234.50 · 12,345 · 1，234); any other comma could be a
#: decimal comma (12,50 · 1,5) and is refused, as by the ledger's parser (reviewops.core.money.parse_yuan)
_THOUSANDS = r"\(?[+-]?[1-9]\d{0,2}(?:[,，]\d{3})+(?:\.\d*)?\)?"


def to_fen(values: pd.Series) -> Converted:
    """Yuan amounts (``￥1,234.50``, ``(3.00)``, ``28.9元``) → integer fen, exactly. A comma that is not a
    thousands separator in its place (``12,50``, ``1,5``, ``1,2345``) makes the cell bad, never 1,250 yuan."""
    return _by_distinct(values, _to_fen)


def _to_fen(values: pd.Series) -> Converted:
    present = values.notna()
    core = values.where(present, "").astype(str).str.replace(_MONEY_STRIP, "", regex=True)
    comma_bad = present & core.str.contains(r"[,，]") & ~core.str.fullmatch(_THOUSANDS).fillna(False)
    t = core.str.replace(r"[,，]", "", regex=True)
    neg_paren = t.str.fullmatch(r"\(.*\)")
    t = t.where(~neg_paren, "-" + t.str.slice(1, -1))
    m = t.str.extract(r"^([+-]?)(\d+)(?:\.(\d*?))?0*$")
    # at most 2 decimals; at most 15 yuan digits so that fen fit an int64 exactly (no silent overflow to 0)
    good = (present & m[1].notna() & (m[2].fillna("").str.len() <= 2) & (m[1].fillna("").str.len() <= 15)
            & ~comma_bad)
    bad = present & ~good
    sign = np.where(m[0].fillna("") == "-", -1, 1)
    yuan = pd.to_numeric(m[1].where(good, "0"), errors="coerce").fillna(0).astype("int64")
    frac = m[2].fillna("").where(good, "").str.ljust(2, "0").replace("", "00")
    fen_part = pd.to_numeric(frac, errors="coerce").fillna(0).astype("int64")
    fen = (yuan * 100 + fen_part) * sign
    out = pd.Series(fen, index=values.index).astype("Int64").where(good, pd.NA)
    return Converted(out, bad, "金额格式无法识别（应为元，最多两位小数；逗号只能作千位分隔，如 1,234.50）",
                     "amount not understood (yuan, at most 2 decimals; a comma only as a thousands separator, "
                     "e.g. 1,234.50)")


DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H时%M分%S秒", "%Y年%m月%d日",
    "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S.%f",
)
_SLASH = r"^\d{4}/\d{1,2}/\d{1,2}"
_AMBIGUOUS = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(\s|$)"
_SERIAL = r"^\d{5}(\.\d+)?$"
YEAR_RANGE = (1900, 2200)  # a platform time outside these years is a typing error (and beyond 2262 unstorable)


def to_utc(values: pd.Series, *, tz: ZoneInfo = SHANGHAI) -> tuple[Converted, int]:
    """Platform times (local ``tz``) → tz-aware UTC. Also returns how many were slash-style (re-saved by Excel).

    Known formats only; ``03/09/2024`` is ambiguous and rejected; Excel serials
    (``45361.5``) are converted deliberately. Never silently NaT (I-05). A column with many repeated times
    (an order's times on each of its rows, a shipment's on each event) is converted once per distinct text.
    """
    fact = _worth_factorizing(values)
    if fact is None:
        conv, slash = _to_utc(values, tz)
        return conv, int(slash.sum())
    codes, uniques = fact
    conv, slash = _to_utc(pd.Series(uniques, dtype=object), tz)
    utc = pd.Series(conv.values.array.take(codes), index=values.index)
    return Converted(utc, _spread(conv.bad, codes, values.index), reasons=_spread(conv.reasons, codes, values.index)), \
        int(slash.to_numpy(dtype=bool)[codes].sum())


def _to_utc(values: pd.Series, tz: ZoneInfo) -> tuple[Converted, pd.Series]:
    """:func:`to_utc` of ``values``, with the mask of slash-style cells instead of their count."""
    present = values.notna()
    text = values.where(present, "").astype(str).str.replace(r"\s+", " ", regex=True)
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    todo = present.copy()
    serial = todo & text.str.fullmatch(_SERIAL)
    if serial.any():
        num = pd.to_numeric(text[serial], errors="coerce")
        okr = (num > 20000) & (num < 80000)
        conv = pd.Timestamp("1899-12-30") + pd.to_timedelta(num[okr], unit="D")
        result[conv.index] = conv.dt.round("s")
        todo[conv.index] = False
    ambiguous = todo & text.str.match(_AMBIGUOUS)
    todo &= ~ambiguous
    out_of_range = pd.Series(False, index=values.index)
    for fmt in DATETIME_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        hit = parsed.notna()
        if hit.any():
            # years the store's nanosecond times cannot hold (2999-01-01) are reported, not a crash
            years = parsed[hit].dt.year
            outside = years.index[(years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])]
            out_of_range[outside] = True
            todo[outside] = False
            idx = parsed.index[hit].difference(outside)
            result[idx] = parsed[idx].astype("datetime64[ns]")
            todo[idx] = False
    bad = todo | ambiguous | out_of_range
    reasons = pd.Series(None, index=values.index, dtype=object)
    reasons[out_of_range] = (f"年份超出范围（{YEAR_RANGE[0]}–{YEAR_RANGE[1]}）\x1f"
                             f"year out of range ({YEAR_RANGE[0]}–{YEAR_RANGE[1]})")
    reasons[todo] = ("时间格式无法识别（支持 2026-03-05 14:22:00、2026/3/5 14:22、2026年3月5日、Excel 日期）"
                     "\x1ftime format not recognised (use 2026-03-05 14:22:00, 2026/3/5 14:22, 2026年3月5日 or an Excel date)")
    reasons[ambiguous] = ("日期有歧义（日/月还是月/日？），请改为 年-月-日\x1fambiguous date (day/month or month/day?); "
                          "write it as year-month-day")
    good = present & ~bad
    utc = result.where(good).dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    # a local time skipped or repeated by a clock change (China's 1986–1991 summer time) is reported, not emptied
    dst = good & utc.isna()
    if dst.any():
        reasons[dst] = ("该时间在当地时区不存在或有两个（夏令时切换）\x1f"
                        "this local time does not exist or is ambiguous (daylight-saving change)")
        bad = bad | dst
        good = good & ~dst
    slash = (good & text.str.match(_SLASH)).astype(bool)
    return Converted(utc, bad, reasons=reasons), slash


def _ahead_words(ahead: dt.timedelta) -> tuple[str, str]:
    days = ahead / dt.timedelta(days=1)
    if days == int(days):
        return f"{int(days)} 天", f"{int(days)} day{'s' if days != 1 else ''}"
    hours = ahead / dt.timedelta(hours=1)
    return f"{hours:g} 小时", f"{hours:g} hours"


def check_not_future(utc: pd.Series, now: dt.datetime, ahead: dt.timedelta) -> Converted:
    """Times (tz-aware UTC, as :func:`to_utc` returns them) later than ``now + ahead`` are bad.

    An export cannot hold a review, an order or a message from the future: such a time comes from a
    wrong column, a mistyped year or a wrong clock, and would put the case at the wrong place in every
    deadline and report. ``now`` must be timezone-aware (tests pass a fixed one).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    latest = pd.Timestamp(now).tz_convert("UTC") + pd.Timedelta(ahead)
    bad = (utc.notna() & (utc > latest)).astype(bool)
    shown = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    zh, en = _ahead_words(ahead)
    reasons = pd.Series(None, index=utc.index, dtype=object)
    reasons[bad] = (f"时间在未来：比现在（北京时间 {shown}）晚了 {zh} 以上，不可能已经发生；请检查该列是否选错、"
                    f"年份是否写错或导出电脑的时钟\x1f"
                    f"the time is in the future: more than {en} after now ({shown} Beijing time), so it cannot have "
                    f"happened yet; check the column, the year or the exporting computer's clock")
    return Converted(utc.where(~bad), bad, reasons=reasons)


def check_length(values: pd.Series, limit: int) -> Converted:
    """Cells longer than ``limit`` characters are bad (no platform allows such a text).

    A text that long is not what the platform exported: most often a stray quote swallowed the rows
    after it, or a whole document was pasted into the cell.
    """
    return _by_distinct(values, lambda v: _check_length(v, limit))


def _check_length(values: pd.Series, limit: int) -> Converted:
    present = values.notna()
    if not present.any():
        return _ok(values)
    lengths = values.str.len()  # cleaned cells are text or None (NaN length)
    bad = (lengths > limit).fillna(False).astype(bool)
    reasons = pd.Series(None, index=values.index, dtype=object)
    for j in lengths.index[bad]:
        n = int(lengths[j])
        reasons[j] = (f"文本过长：{n} 个字符，上限 {limit}；平台不允许这么长的内容，可能是引号错位吞并了后面的行，"
                      f"或整段文件被粘贴进了这一格\x1f"
                      f"text too long: {n} characters, the limit is {limit}; no platform allows that much — a stray "
                      f"quote may have swallowed the rows after it, or a whole document was pasted into the cell")
    return Converted(values.where(~bad, None), bad, reasons=reasons)


_QTY_UNITS = "件个袋盒瓶包套只双条支张台箱份罐桶片本把块"


def to_int(values: pd.Series) -> Converted:
    """Whole numbers; ``3``, ``3.0`` and ``3件`` are accepted."""
    present = values.notna()
    m = values.where(present, "").astype(str).str.extract(rf"^(\d{{1,9}})(?:\.0+)?\s*[{_QTY_UNITS}]?$")
    good = present & m[0].notna()
    out = pd.to_numeric(m[0].where(good), errors="coerce").astype("Int64")
    return Converted(out, present & ~good, "不是整数", "not a whole number")


def to_score(values: pd.Series) -> Converted:
    """1–5 star scores: ``4``, ``4.0``, ``4星``, ``4分``, ``star4``."""
    present = values.notna()
    m = values.where(present, "").astype(str).str.lower().str.extract(r"^(?:star)?([1-5])(?:\.0+)?\s*(?:星|分|颗星)?$")
    good = present & m[0].notna()
    out = pd.to_numeric(m[0].where(good), errors="coerce").astype("Int64")
    return Converted(out, present & ~good, "评分应为1–5", "score must be 1–5")


#: Rating words as platforms write them → rating class.
RATING_CLASS = {
    "好评": "positive", "good": "positive", "positive": "positive", "好": "positive",
    "中评": "neutral", "neutral": "neutral", "中": "neutral",
    "差评": "negative", "bad": "negative", "negative": "negative", "差": "negative",
}
#: Rating class → the platform's Chinese word.
RATING_CLASS_ZH = {"positive": "好评", "neutral": "中评", "negative": "差评"}


def rating_class_of_score(score: pd.Series) -> pd.Series:
    """1–2 → negative, 3 → neutral, 4–5 → positive (exports.md §5.8)."""
    out = pd.Series(None, index=score.index, dtype=object)
    s = score.astype("Float64")
    out[(s <= 2).fillna(False)] = "negative"
    out[(s == 3).fillna(False)] = "neutral"
    out[(s >= 4).fillna(False)] = "positive"
    return out


def to_rating(values: pd.Series) -> tuple[Converted, pd.Series]:
    """Ratings as written → (class Converted, 1–5 score or NA)."""
    present = values.notna()
    low = values.where(present, "").astype(str).str.strip().str.lower()
    cls = low.map(RATING_CLASS).astype(object)
    sc = to_score(values.where(cls.isna()))
    from_score = rating_class_of_score(sc.values)
    cls = cls.where(cls.notna(), from_score)
    good = present & cls.notna()
    return (
        Converted(cls.where(good, None), present & ~good,
                  "评价结果无法识别（好评/中评/差评、1–5星、star1–5）",
                  "rating not understood (好评/中评/差评, 1–5 stars, star1–5)"),
        sc.values,
    )


_BOOL = {"是": True, "否": False, "y": True, "n": False, "yes": True, "no": False, "true": True,
         "false": False, "1": True, "0": False, "有": True, "无": False, "需要": True, "不需要": False}


def to_bool(values: pd.Series) -> Converted:
    present = values.notna()
    low = values.where(present, "").astype(str).str.strip().str.lower()
    out = low.map(_BOOL).astype(object)
    good = present & out.notna()
    return Converted(out.where(good, None), present & ~good, "应为 是/否", "must be yes/no (是/否)")


DEFAULT_REVIEW_TEXTS = (
    "评价方未及时做出评价,系统默认好评!", "评价方未及时做出评价，系统默认好评！", "此用户没有填写评价。",
    "系统默认评论", "系统默认好评", "该用户觉得商品较好，未填写评价内容", "用户未填写评价内容",
    "此用户未填写评价内容", "该用户未及时主动评价，系统默认好评",
)


_DEFAULT_TEXTS = frozenset(unicodedata.normalize("NFKC", t) for t in DEFAULT_REVIEW_TEXTS)
_DEFAULT_MARKERS = ("系统默认好评", "系统默认评论")
_DEFAULT_MAX_LEN = 60  # platform-written texts are short; longer texts are the buyer's own


def _is_default_text(v: object) -> bool:
    if not isinstance(v, str) or len(v) > _DEFAULT_MAX_LEN:
        return False
    t = unicodedata.normalize("NFKC", v).strip()
    return t in _DEFAULT_TEXTS or any(m in t for m in _DEFAULT_MARKERS)


def is_default_review(content: pd.Series) -> pd.Series:
    """True where the platform wrote the text itself (系统默认好评 …)."""
    return pd.Series([_is_default_text(v) for v in content.astype(object).tolist()], index=content.index, dtype=bool)


# ---------------------------------------------------------------------------------------- listings
#: Longest dispatch promise accepted: a presale promises up to 150 days (WeChat) or 30 (Douyin); beyond a
#: year it is a typing error.
DISPATCH_MAX_HOURS = 366 * 24
_HOUR_UNITS = r"(?:个)?(?:小时|钟头|h|hr|hrs|hour|hours)"
_DAY_UNITS = r"(?:个)?(?:天|日|工作日|d|day|days)"
_DISPATCH_WORDS = {
    # the shortest wording of each (the promise binds at its upper bound: 当日发 = by the day's end)
    "当日发": 24, "当天发": 24, "今日发": 24, "当日发货": 24, "当天发货": 24, "今日发货": 24,
    "次日发": 48, "次日发货": 48, "隔日发": 48, "隔日发货": 48, "隔天发": 48, "隔天发货": 48, "明日发": 48,
}
_DISPATCH_RE = re.compile(
    rf"^(?:现货[,，]?)?(?:付款后|下单后|支付后|拍下后)?(?:预售)?(\d{{1,5}}(?:\.\d+)?)\s*({_HOUR_UNITS}|{_DAY_UNITS})"
    rf"\s*(?:内|以内|之内)?\s*(?:发货|发出|发)?$", re.IGNORECASE)


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _dispatch_hours(text: str) -> tuple[int | None, str | None]:
    """(hours, None) or (None, reason zh\x1fen) for one cleaned dispatch cell."""
    t = re.sub(r"\s+", "", text)
    if t in _DISPATCH_WORDS:
        return _DISPATCH_WORDS[t], None
    m = _DISPATCH_RE.match(t)
    if m is None:
        if re.fullmatch(r"\d+(\.\d+)?", t):
            return None, ("发货时效缺少单位（写成 48小时、2天 或 当日发）\x1f"
                          "dispatch time has no unit (write 48小时, 2天 or 当日发)")
        return None, ("发货时效无法识别（应为 48小时、2天、当日发、次日发）\x1f"
                      "dispatch time not understood (use 48小时, 2天, 当日发 or 次日发)")
    n = float(m.group(1))
    hours = n if re.match(_HOUR_UNITS, m.group(2), re.IGNORECASE) else n * 24
    if hours != int(hours) or hours <= 0:
        return None, (f"发货时效应为正的整小时数，收到 {text}\x1fdispatch time must be a positive whole number of hours; "
                      f"got {text}")
    if hours > DISPATCH_MAX_HOURS:
        return None, (f"发货时效超过一年（{int(hours)} 小时）\x1fdispatch time beyond a year ({int(hours)} hours)")
    return int(hours), None


def to_hours(values: pd.Series) -> Converted:
    """Promised dispatch times (``48小时``, ``72h``, ``2天``, ``付款后48小时内发货``, ``当日发``, ``次日发``) → whole
    hours (Int64). A bare number is refused: ``48`` could be hours or days (Douyin counts days, PDD seconds)."""
    out = pd.Series(pd.NA, index=values.index, dtype="Int64")
    bad = pd.Series(False, index=values.index)
    reasons = pd.Series(None, index=values.index, dtype=object)
    for i, v in values.items():
        if _missing(v):
            continue
        hours, why = _dispatch_hours(str(v))
        if why is None:
            out[i] = hours
        else:
            bad[i] = True
            reasons[i] = why
    return Converted(out, bad, reasons=reasons)


#: Provinces (and the like) by short name, with the long forms and aliases that mean them.
PROVINCES: dict[str, tuple[str, ...]] = {
    "北京": ("北京市",), "天津": ("天津市",), "上海": ("上海市",), "重庆": ("重庆市",),
    "河北": ("河北省",), "山西": ("山西省",), "辽宁": ("辽宁省",), "吉林": ("吉林省",), "黑龙江": ("黑龙江省",),
    "江苏": ("江苏省",), "浙江": ("浙江省",), "安徽": ("安徽省",), "福建": ("福建省",), "江西": ("江西省",),
    "山东": ("山东省",), "河南": ("河南省",), "湖北": ("湖北省",), "湖南": ("湖南省",), "广东": ("广东省",),
    "海南": ("海南省",), "四川": ("四川省",), "贵州": ("贵州省",), "云南": ("云南省",), "陕西": ("陕西省",),
    "甘肃": ("甘肃省",), "青海": ("青海省",), "台湾": ("台湾省",),
    "内蒙古": ("内蒙古自治区",), "广西": ("广西壮族自治区",), "西藏": ("西藏自治区",), "宁夏": ("宁夏回族自治区",),
    "新疆": ("新疆维吾尔自治区",), "香港": ("香港特别行政区",), "澳门": ("澳门特别行政区",),
}
#: Groups shops write instead of provinces; kept as written (the audit decides what they cover).
REGION_GROUPS = ("港澳台", "海外", "偏远地区")
_PROVINCE_ORDER = {name: i for i, name in enumerate((*PROVINCES, *REGION_GROUPS))}
_LONG_TO_SHORT = {long: short for short, longs in PROVINCES.items() for long in longs}
_REGION_SPLIT = re.compile(r"[,，、;；/|\s]+")


def region_of(token: str) -> str | None:
    """The short province name of ``token`` (``新疆维吾尔自治区`` → ``新疆``), a group as written, the token as
    written when it names a place inside a province (``海南三沙市``), or ``None`` when it names no province."""
    t = token.strip().rstrip("等")
    if t in PROVINCES or t in REGION_GROUPS:
        return t
    if t in _LONG_TO_SHORT:
        return _LONG_TO_SHORT[t]
    if t in ("港澳", "港澳地区", "港澳台地区"):
        return "港澳台"
    if t in ("国外", "境外", "海外地区"):
        return "海外"
    if t in ("偏远", "偏远山区"):
        return "偏远地区"
    for short in PROVINCES:
        if t.startswith(short):
            return t
    return None


def _region_sort(names: list[str]) -> list[str]:
    return sorted(dict.fromkeys(names), key=lambda n: (_PROVINCE_ORDER.get(n, len(_PROVINCE_ORDER)), n))


def to_regions(values: pd.Series) -> Converted:
    """Lists of regions (``新疆、西藏``, ``新疆维吾尔自治区,西藏自治区``, ``港澳台 海外``) → JSON lists of short
    province names in a fixed order; a token that names no province or group makes the cell bad."""
    out = pd.Series(None, index=values.index, dtype=object)
    bad = pd.Series(False, index=values.index)
    reasons = pd.Series(None, index=values.index, dtype=object)
    for i, v in values.items():
        if _missing(v):
            continue
        tokens = [t for t in _REGION_SPLIT.split(str(v)) if t]
        found = [region_of(t) for t in tokens]
        unknown = [t for t, r in zip(tokens, found) if r is None]
        if unknown:
            bad[i] = True
            reasons[i] = (f"不认识的地区：{'、'.join(unknown)}（应为省份名，如 新疆、西藏，或 港澳台、海外、偏远地区；"
                          f"用顿号或逗号分隔）\x1funknown region(s): {', '.join(unknown)} (give provinces such as 新疆, "
                          f"西藏, or 港澳台/海外/偏远地区, separated by 、 or commas)")
            continue
        out[i] = json.dumps(_region_sort([r for r in found if r]), ensure_ascii=False)
    return Converted(out, bad, reasons=reasons)


#: Service commitments by their usual name, with the ways listings write them.
COMMITMENTS: dict[str, tuple[str, ...]] = {
    "7天无理由": ("7天无理由", "七天无理由", "7天无理由退货", "七天无理由退货", "7天无理由退换", "7天退货", "七天退换"),
    "运费险": ("运费险", "退货运费险", "赠运费险", "送运费险", "退货包运费", "运费保险"),
    "破损包赔": ("破损包赔", "坏损包退", "破损包退", "坏了包赔", "破损补寄", "坏损包赔"),
    "极速退款": ("极速退款", "闪电退款"),
    "假一赔十": ("假一赔十",),
    "假一赔三": ("假一赔三",),
    "闪电发货": ("闪电发货", "极速发货"),
    "24小时发货": ("24小时发货", "24小时内发货", "24h发货"),
    "48小时发货": ("48小时发货", "48小时内发货", "48h发货"),
    "24小时售后响应": ("24小时售后响应", "售后24小时响应", "24小时售后"),
    "先行赔付": ("先行赔付",),
    "上门取件": ("上门取件", "免费上门取件"),
}
_COMMIT_ORDER = {name: i for i, name in enumerate(COMMITMENTS)}
_COMMIT_ALIAS = {unicodedata.normalize("NFKC", a).lower(): name for name, aliases in COMMITMENTS.items() for a in aliases}


def commitment_of(token: str) -> str:
    """The usual name of a commitment (``七天无理由退货`` → ``7天无理由``), else the token as written."""
    t = unicodedata.normalize("NFKC", token).strip()
    return _COMMIT_ALIAS.get(t.lower().replace(" ", ""), t)


def commitment_list(names: list[str]) -> list[str]:
    """Commitments without repeats, known ones in :data:`COMMITMENTS` order, then the rest by name."""
    return sorted(dict.fromkeys(n for n in names if n), key=lambda n: (_COMMIT_ORDER.get(n, len(_COMMIT_ORDER)), n))


def to_tags(values: pd.Series) -> Converted:
    """Lists of service commitments (``7天无理由, 运费险、破损包赔``) → JSON lists of names (known ones
    normalised, others kept as written). Never bad: a shop may show a commitment no list knows."""
    out = pd.Series(None, index=values.index, dtype=object)
    for i, v in values.items():
        if _missing(v):
            continue
        names = commitment_list([commitment_of(t) for t in _REGION_SPLIT.split(str(v)) if t])
        out[i] = json.dumps(names, ensure_ascii=False)
    return _ok(out)


_FLAG_FALSE = frozenset({"否", "无", "没有", "n", "no", "false", "0", "不支持", "未设置", "未上传", "不提供"})
_FLAG_TRUE = frozenset({"是", "有", "y", "yes", "true", "1", "支持", "已设置", "已上传", "提供"})


def to_flag(values: pd.Series) -> Converted:
    """Whether something is shown: 是/否, 有/无, 1/0, 支持/不支持; any other content (a 尺码库 id, a note's text)
    means it is there. Never bad."""
    out = pd.Series(None, index=values.index, dtype=object)
    for i, v in values.items():
        if _missing(v):
            continue
        t = str(v).strip().lower()
        out[i] = t not in _FLAG_FALSE
    return _ok(out)


# Promises written in a listing's title, selling points or detail page (the Taobao export has no 发货时效 column:
# prevention.md §3). The shortest dispatch promise shown binds.
_TEXT_DISPATCH = re.compile(
    rf"(\d{{1,3}})\s*({_HOUR_UNITS}|天|日)\s*(?:内|以内|之内)?\s*(?:发货|发出)|(当日发|当天发|次日发|隔日发|隔天发)", re.IGNORECASE)
_TEXT_EXCLUDED = re.compile(r"([^。；;！!？?\n<>]{1,40}?)(?:地区)?(?:均|暂|都)?(?:不发货|不配送|不支持配送|不包邮且不发|无法配送|不能发货)")
_SIZE_WORDS = re.compile(r"尺码表|尺码对照|尺寸表|尺码参考|尺码建议|尺码详情|尺码信息")
_COLOUR_WORDS = re.compile(r"色差|以实物为准|颜色以实物|颜色请以")


def dispatch_in_text(text: str | None) -> tuple[int | None, str | None]:
    """(hours, phrase) of the shortest dispatch promise written in ``text``, or (None, None)."""
    if not text:
        return None, None
    best: tuple[int, str] | None = None
    for m in _TEXT_DISPATCH.finditer(str(text)):
        if m.group(3):
            hours = _DISPATCH_WORDS[m.group(3)]
        else:
            n = int(m.group(1))
            hours = n if re.match(_HOUR_UNITS, m.group(2), re.IGNORECASE) else n * 24
        if 0 < hours <= DISPATCH_MAX_HOURS and (best is None or hours < best[0]):
            best = (hours, m.group(0))
    return best if best is not None else (None, None)


def regions_in_text(text: str | None) -> list[str]:
    """Provinces a text says are not served (``新疆、西藏等偏远地区不发货``)."""
    if not text:
        return []
    found: list[str] = []
    for m in _TEXT_EXCLUDED.finditer(str(text)):
        clause = m.group(1)
        for short, longs in PROVINCES.items():
            if short in clause or any(lg in clause for lg in longs):
                found.append(short)
        for g in REGION_GROUPS:
            if g in clause or (g == "偏远地区" and "偏远" in clause):
                found.append(g)
    return _region_sort(found)


def commitments_in_text(text: str | None) -> list[str]:
    """Known commitments written in ``text`` (any of their wordings)."""
    if not text:
        return []
    t = unicodedata.normalize("NFKC", str(text)).lower()
    return commitment_list([name for alias, name in _COMMIT_ALIAS.items() if alias in t])


def mentions_size_chart(text: str | None) -> bool:
    return bool(text) and _SIZE_WORDS.search(str(text)) is not None


def mentions_colour_note(text: str | None) -> bool:
    return bool(text) and _COLOUR_WORDS.search(str(text)) is not None
