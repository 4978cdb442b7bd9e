"""Money typed by people: one parser for yuan amounts (→ integer fen) used by the ledger, the policy
workbook, imports and Excel. Thousands commas only in their place; a comma that could be a decimal comma
is refused; other currencies are refused.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from typing import Any

from .errors import ConfigError

__all__ = ["AmountError", "parse_yuan"]


# ----------------------------------------------------------------- amounts
class AmountError(ConfigError):
    """An amount that cannot be read as yuan: not a number, another currency, more than 2 decimals, or a
    comma that could be a decimal comma (``"12,50"``, ``"1,5"``, ``"1，5"``, ``"1,2345"``)."""


_PREFIXES = ("人民币", "RMB", "CNY", "¥")  # after NFKC: the full-width ￥ reads as ¥
_SUFFIXES = ("元人民币", "元", "人民币", "RMB", "CNY")
_FOREIGN = ("US$", "HK$", "$", "USD", "€", "EUR", "£", "GBP", "HKD", "JPY", "円", "美元", "欧元", "港币", "日元")
# digits with thousands commas only in their place (1,234 / 12,345.50), or plain digits; a decimal point
_AMOUNT_RE = re.compile(r"[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?\.\d+")  # no "0,000"
_PLAIN_RE = re.compile(r"\d{1,15}(?:\.\d{0,2})?")
_SEPARATED_RE = re.compile(r"[+-]?[\d.,\s]*\d[\d.,\s]*")


def parse_yuan(value: Any) -> int:
    """An amount in yuan as typed, sent or read from a cell → integer fen, sign kept (callers decide
    whether 0 or a negative amount is allowed). The one yuan parser of the kit: the ledger, the forms,
    the Excel functions and the policy workbook use it.

    Accepts ``12.5``, ``"¥12.50"``, ``"12.50元"``, ``"RMB 3"``, ``"人民币8.8"``, full-width digits and
    ``"１２.５"``, and thousands commas only where they belong (``"1,234.50"``, ``"12,345"``, full-width
    ``"1，234"``). Refuses, with :class:`AmountError` naming the value and how to write it: a comma that
    could be a decimal comma or is out of place (``"12,50"``, ``"1,5"``, ``"1，5"``, ``"1,2345"``,
    ``"1.234,50"``), spaces inside the number, another currency, NaN/∞, more than 2 decimals and anything
    that is not a number. Floats are taken through their shortest decimal text (``0.1`` → 10 fen).
    """
    if isinstance(value, bool) or value is None:
        raise AmountError(f"请输入金额（元），收到 {value!r} / enter an amount in yuan, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AmountError(f"金额无效：{value!r}；请输入数字金额（元）/ invalid amount {value!r}")
        d = Decimal(repr(value))
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
    else:
        d = _parse_yuan_text(str(value))
    if not d.is_finite():
        raise AmountError(f"金额无效：{value!r} / invalid amount {value!r}")
    fen = d * 100
    if fen != fen.to_integral_value():
        raise AmountError(f"金额最多两位小数（分），收到 {value!r} / at most 2 decimals (fen), got {value!r}")
    return int(fen)


def _parse_yuan_text(raw: str) -> Decimal:
    plain = raw.strip()
    if _PLAIN_RE.fullmatch(plain):  # the common case, fast: 129.50
        return Decimal(plain)
    text = unicodedata.normalize("NFKC", raw).strip()
    upper = text.upper()
    for foreign in _FOREIGN:
        if foreign in upper:
            raise AmountError(f"只接受人民币金额，收到 {raw!r}；请换算成元 / amounts are in CNY (yuan) only, got {raw!r}")
    t = text
    for p in _PREFIXES:
        if t.upper().startswith(p):
            t = t[len(p):].strip()
            break
    for sfx in _SUFFIXES:
        if t.upper().endswith(sfx):
            t = t[: -len(sfx)].strip()
            break
    if _AMOUNT_RE.fullmatch(t):
        return Decimal(t.replace(",", ""))
    if _SEPARATED_RE.fullmatch(t) and ("," in t or any(c.isspace() for c in t)):
        raise AmountError(
            f"金额 {raw!r} 中的逗号或空格有歧义（是小数点还是千位分隔？）：小数请用小数点，如 12.50；千位分隔须每三位一个，"
            f"如 1,234.50，或不写分隔直接写 1234.50 / the comma or space in {raw!r} is ambiguous (decimal or thousands?): "
            "write decimals with a point (12.50); a thousands comma must separate groups of three digits (1,234.50), "
            "or leave it out (1234.50)")
    raise AmountError(f"金额不是数字：{raw!r}；例如 12.5 表示 12.5 元 / amount is not a number: {raw!r} (12.5 = 12.5 yuan)")
