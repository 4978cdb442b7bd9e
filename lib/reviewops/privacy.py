"""Personal data: masking for display and keyed hashes for matching.

Buyers' phones, names, nicknames and addresses are never stored in clear by
the importer: the store keeps the masked form (``138****8000``, ``张*``,
``t***8``, ``浙江省 杭州市 ****``) and, where the platform gave the full
value, a keyed BLAKE2b hash so that the same buyer can be matched across
files. A value that arrives masked (``138****1234``, ``张**``), virtual
(``18877771111-123``) or encrypted (Douyin ``$$…``/``##…``) is kept masked and
gets **no** matching hash: two buyers who share a mask are never merged (I-07).

Masking works on whole columns (pandas string methods) so that a million-row
import stays fast; scalar helpers wrap the same code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pandas as pd

# 11-digit mainland mobile, optionally +86 / 86 and spaces or hyphens, not inside a longer digit run (P-02).
MOBILE_RE = r"(?<![\d*])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?![\d*])"
_MOBILE = re.compile(MOBILE_RE)
_MASKED_MOBILE = re.compile(r"^1[3-9]\d\*{4}\d{4}")
_LANDLINE = re.compile(r"^(0\d{2,3})-?(\d{3,4})(\d{4})$")
_CIPHER = re.compile(r"^(\$\$|##|\$|#).*")
_LANDLINE_DIGITS = r"^(0[12]\d|0[3-9]\d{2})\d{3,4}(\d{4})$"  # area code 01x/02x is 3 digits, others 4
_OTHER_DIGITS = r"(?<![\d*])\d{1,11}(\d{4})(?![\d*])"
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")


def keyed_hash(values: pd.Series, key: bytes) -> pd.Series:
    """BLAKE2b-128 keyed hash of each non-null value (hex), for matching without storing PII."""
    def h(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            return None
        return hashlib.blake2b(str(v).encode("utf-8"), key=key, digest_size=16).hexdigest()
    return values.map(h).astype(object)


def phone_frame(values: pd.Series, key: bytes) -> pd.DataFrame:
    """Mask a column of phone numbers.

    Returns columns ``masked`` (display form), ``hash`` (only for full numbers),
    ``is_masked`` (arrived masked or virtual) and ``is_encrypted`` (platform ciphertext).
    """
    s = values.astype(object)
    present = s.notna()
    text = s.where(present, "").astype(str)
    is_cipher = present & text.str.match(_CIPHER.pattern)
    arrived_masked = present & ~is_cipher & text.str.contains("*", regex=False)
    digits = text.str.replace(r"[\s\-()]", "", regex=True).str.replace(r"^(\+?86)(?=1[3-9]\d{9}$)", "", regex=True)
    full_mobile = present & ~is_cipher & ~arrived_masked & digits.str.fullmatch(r"1[3-9]\d{9}")
    virtual = present & ~is_cipher & ~arrived_masked & text.str.fullmatch(r"1[3-9]\d{9}\s*(-|转|ext\.?)\s*\d{1,6}")
    masked = text.str.replace(MOBILE_RE, r"\1****\2", regex=True)
    landline = present & ~is_cipher & ~arrived_masked & digits.str.fullmatch(r"0\d{9,11}")
    masked = masked.where(~landline, digits.str.replace(_LANDLINE_DIGITS, r"\1-****\2", regex=True))
    # nothing phone-like is kept in clear: ID cards keep region and check digits, other runs of
    # 5–15 digits (QQ, extensions, foreign numbers) keep their last 4; 16+ digit order ids stay as they are
    masked = masked.str.replace(_ID_CARD.pattern, r"\1********\2", regex=True)
    masked = masked.str.replace(_OTHER_DIGITS, r"****\1", regex=True)
    masked = masked.where(~is_cipher, "[密文]")
    out = pd.DataFrame(
        {
            "masked": masked.where(present, None).astype(object),
            "hash": keyed_hash(digits.where(full_mobile, None), key),
            "is_masked": (arrived_masked | virtual).astype(bool),
            "is_encrypted": is_cipher.astype(bool),
        },
        index=values.index,
    )
    return out


def name_frame(values: pd.Series, key: bytes, *, nick: bool = False) -> pd.DataFrame:
    """Mask a column of person names (``张*``) or nicknames (``t***8``); hash only unmasked values."""
    s = values.astype(object)
    present = s.notna()
    text = s.where(present, "").astype(str)
    is_cipher = present & text.str.match(_CIPHER.pattern)
    arrived_masked = present & ~is_cipher & text.str.contains("*", regex=False)
    n = text.str.len()
    if nick:
        masked = text.str[:1] + "***" + text.str[-1:]
        masked = masked.where(n > 2, text.str[:1] + "*")
    else:
        masked = text.str[:1] + n.clip(lower=2).sub(1).map(lambda k: "*" * int(k))
    masked = masked.where(~arrived_masked, text).where(~is_cipher, "[密文]")
    clear = present & ~arrived_masked & ~is_cipher
    return pd.DataFrame(
        {
            "masked": masked.where(present, None).astype(object),
            "hash": keyed_hash(text.where(clear, None), key),
            "is_masked": arrived_masked.astype(bool),
            "is_encrypted": is_cipher.astype(bool),
        },
        index=values.index,
    )


_REGION = re.compile(
    r"^\s*((?:[^\s省市区县]{2,8}(?:省|自治区|特别行政区)|北京|上海|天津|重庆)[市]?)?\s*"
    r"([^\s市]{1,10}(?:市|自治州|地区|盟))?"
)


def address_frame(values: pd.Series) -> pd.DataFrame:
    """Keep province and city of each address, mask the rest (``浙江省 杭州市 ****``)."""
    s = values.astype(object)
    present = s.notna()
    text = s.where(present, "").astype(str)
    is_cipher = present & text.str.match(_CIPHER.pattern)
    parts = text.str.extract(_REGION)
    tokens = text.str.split()
    first = tokens.str[0].astype(object).fillna("")
    second = tokens.str[1].astype(object).fillna("")
    province = parts[0].fillna("").where(parts[0].notna(), first.where(tokens.str.len() > 1, ""))
    city = parts[1].fillna("").where(parts[1].notna(), second.where(tokens.str.len() > 2, ""))
    masked = (province + " " + city).str.strip() + " ****"
    masked = masked.str.strip().where(~is_cipher, "[密文]")
    return pd.DataFrame(
        {
            "masked": masked.where(present, None).astype(object),
            "province": province.where(present & ~is_cipher & (province != ""), None).astype(object),
            "city": city.where(present & ~is_cipher & (city != ""), None).astype(object),
        },
        index=values.index,
    )


def mask_phone(value: str | None) -> str | None:
    """Mask one phone number (``+86 138-0013-8000`` → ``138****8000``); order IDs are left alone."""
    if value is None:
        return None
    return str(phone_frame(pd.Series([value], dtype=object), b"x")["masked"].iloc[0])


def is_id_card(number: str) -> bool:
    """True when an 18-character run has the shape of a mainland ID-card number (GB 11643).

    Region code not starting with 0 and a real birth date (1900–2099) at positions 7–14; the
    check digit is deliberately not required, so a mistyped or made-up number is still
    treated as personal data.
    """
    if len(number) != 18 or not number[:17].isdigit() or number[0] == "0":
        return False
    if not (number[17].isdigit() or number[17] in "Xx"):
        return False
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return 1900 <= birth.year <= 2099


def mask_text(text: str | None) -> str | None:
    """Mask mobiles and ID-card numbers inside free text, leaving other digit runs (order IDs) alone.

    An 18-digit run is masked as an ID card only when it has an ID card's shape (a real
    birth date in the middle), so most 18-digit order numbers in a chat stay readable.
    """
    if text is None:
        return None
    out = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    return _ID_CARD.sub(
        lambda m: f"{m.group(1)}********{m.group(2)}" if is_id_card(m.group(0)) else m.group(0), out)
