"""Personal data: masking for display and keyed hashes for matching.

Buyers' phones, names, nicknames and addresses are never stored in clear by
the importer: the store keeps the masked form (``138****8000``, ``张*``,
``t***8``, ``浙江省 杭州市 ****``) and, where the platform gave the full
value, a keyed BLAKE2b hash so that the same buyer can be matched across
files. A value that arrives masked (``138****1234``, ``张**``), virtual
(``18877771111-123``) or encrypted (Douyin ``$$…``/``##…``) is kept masked and
gets **no** matching hash: two buyers who share a mask are never merged (I-07).

Masking works on whole columns (pandas string methods) so that a million-row
import stays fast; scalar helpers (:func:`mask_phone`, :func:`mask_name`,
:func:`mask_address`) wrap the same code. :func:`mask_text` masks personal
numbers inside free text (reviews, chats, notes): mobiles in every written form,
ID cards, landlines and QQ numbers, never order ids (P-02).

Each frame also carries a ``full`` column: the cleaned value when it arrived in
full (not masked, virtual or platform ciphertext), else ``None``. Only the
importer reads it, to encrypt the value into the vault (:mod:`reviewops.core.vault`);
it never reaches a table in clear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pandas as pd

# 11-digit mainland mobile, optionally +86 / 86 and spaces or hyphens, not inside a longer digit run (P-02).
# Asterisks around a number do not protect it: ``13800138000*`` is a full number with a star beside it.
MOBILE_RE = r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)"
_CIPHER = re.compile(r"^(\$\$|##|\$|#).*")
_LANDLINE_DIGITS = r"^(0[12]\d|0[3-9]\d{2})\d{3,4}(\d{4})$"  # area code 01x/02x is 3 digits, others 4
_OTHER_DIGITS = r"(?<!\d)\d{1,11}(\d{4})(?!\d)(?!\*{8}\d{3}[\dXx])"  # not the 6 digits of a masked ID card
CIPHER_SHOWN = "[密文]"  # what is shown for a value the platform delivered encrypted
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")

# "Already masked" is decided from the platforms' masking patterns (docs/privacy.md), never from the mere
# presence of an asterisk: ``13800138000*`` or a nickname ``@SUM(1+1)*cmd`` is a value in clear.
#: a masked phone: digits kept only around one run of 3+ stars, at most 4 each side (``138****1234``,
#: ``1**********``, ``010-****5678``), optionally +86 and a virtual number's extension (``-123``)
MASKED_PHONE = re.compile(r"^(?:\+?86)?\d{0,4}\*{3,}\d{0,4}(?:(?:-|转|ext\.?)\d{1,6})?$")
#: a masked name or nickname: one run of stars with at most 2 characters before and 2 after, at most 3
#: shown in all (``张*``, ``张**``, ``欧***``, ``*三``, ``张*明``, ``t***8``, ``t**5``, JD ``j***x``)
MASKED_NAME = re.compile(r"^(?:[^*\s]{0,2}\*+[^*\s]?|[^*\s]?\*+[^*\s]{0,2})$")
#: a masked address: the street part replaced by a run of 2+ stars (``浙江省 杭州市 ****``, ``… ***号``) and
#: no digit run long enough to be a phone or an ID card left in it
MASKED_ADDRESS = re.compile(r"^(?!.*\d{5}).*\*{2,}.*$", re.S)


def _phone_shape(text: pd.Series) -> pd.Series:
    """Phone text without spaces, brackets and the hyphens between groups (a final ``-123`` extension is
    kept): the form :data:`MASKED_PHONE` is tested on."""
    return text.str.replace(r"[\s()（）]", "", regex=True).str.replace(r"-(?!\d{1,6}$)", "", regex=True)


def is_masked_phone(value: str) -> bool:
    """True when ``value`` has a platform's masked-phone shape (``138****1234``; not ``13800138000*``)."""
    return bool(_phone_shape(pd.Series([str(value)], dtype=object)).str.fullmatch(MASKED_PHONE.pattern).iloc[0])


def is_masked_name(value: str) -> bool:
    """True when ``value`` has a platform's masked name/nickname shape (``张*``, ``t***8``, ``j***x``)."""
    return bool(MASKED_NAME.fullmatch(str(value).strip()))


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
    ``is_masked`` (arrived masked or virtual), ``is_encrypted`` (platform ciphertext) and
    ``full`` (the value as given when it arrived in full, for the vault; else ``None``).
    """
    s = values.astype(object)
    present = s.notna()
    text = s.where(present, "").astype(str)
    is_cipher = present & text.str.match(_CIPHER.pattern)
    arrived_masked = present & ~is_cipher & _phone_shape(text).str.fullmatch(MASKED_PHONE.pattern).fillna(False).astype(bool)
    digits = text.str.replace(r"[\s\-()]", "", regex=True).str.replace(r"^(\+?86)(?=1[3-9]\d{9}$)", "", regex=True)
    full_mobile = present & ~is_cipher & ~arrived_masked & digits.str.fullmatch(r"1[3-9]\d{9}")
    virtual = present & ~is_cipher & ~arrived_masked & text.str.fullmatch(r"1[3-9]\d{9}\s*(-|转|ext\.?)\s*\d{1,6}")
    masked = text.str.replace(MOBILE_RE, r"\1****\2", regex=True)
    landline = present & ~is_cipher & ~arrived_masked & digits.str.fullmatch(r"0\d{9,11}")
    masked = masked.where(~landline, digits.str.replace(_LANDLINE_DIGITS, r"\1-****\2", regex=True))
    # nothing phone-like is kept in clear: ID cards keep region and check digits, other runs of
    # 5–15 digits (QQ, extensions, foreign numbers) keep their last 4; 16+ digit order ids stay as they are
    # (other runs first: an ID card's masked form keeps 6 digits beside its stars, which must stay as they are)
    masked = masked.str.replace(_OTHER_DIGITS, r"****\1", regex=True)
    masked = masked.str.replace(_ID_CARD.pattern, r"\1********\2", regex=True)
    masked = masked.where(~is_cipher, CIPHER_SHOWN)
    out = pd.DataFrame(
        {
            "masked": masked.where(present, None).astype(object),
            "hash": keyed_hash(digits.where(full_mobile, None), key),
            "is_masked": (arrived_masked | virtual).astype(bool),
            "is_encrypted": is_cipher.astype(bool),
            "full": text.where(present & ~is_cipher & ~arrived_masked & ~virtual & (text != ""), None).astype(object),
        },
        index=values.index,
    )
    return out


def name_frame(values: pd.Series, key: bytes, *, nick: bool = False) -> pd.DataFrame:
    """Mask a column of person names (``张*``) or nicknames (``t***8``); hash only unmasked values.

    Names keep their first character and show one ``*`` per other character (``张三`` → ``张*``,
    ``欧阳娜娜`` → ``欧***``, ``李`` → ``李*``): the length of a compound surname is not guessed.
    Nicknames keep the first and last character around ``***`` (``tb12345678`` → ``t***8``).
    Columns: ``masked``, ``hash``, ``is_masked``, ``is_encrypted``, ``full`` (see :func:`phone_frame`).
    """
    s = values.astype(object)
    present = s.notna()
    text = s.where(present, "").astype(str)
    is_cipher = present & text.str.match(_CIPHER.pattern)
    arrived_masked = present & ~is_cipher & text.str.strip().str.fullmatch(MASKED_NAME.pattern).fillna(False).astype(bool)
    n = text.str.len()
    if nick:
        masked = text.str[:1] + "***" + text.str[-1:]
        masked = masked.where(n > 2, text.str[:1] + "*")
    else:
        masked = text.str[:1] + n.clip(lower=2).sub(1).map(lambda k: "*" * int(k))
    masked = masked.where(~arrived_masked, text).where(~is_cipher, CIPHER_SHOWN)
    clear = present & ~arrived_masked & ~is_cipher
    return pd.DataFrame(
        {
            "masked": masked.where(present, None).astype(object),
            "hash": keyed_hash(text.where(clear, None), key),
            "is_masked": arrived_masked.astype(bool),
            "is_encrypted": is_cipher.astype(bool),
            "full": text.where(clear & (text != ""), None).astype(object),
        },
        index=values.index,
    )


_REGION = re.compile(
    r"^\s*((?:[^\s省市区县]{2,8}(?:省|自治区|特别行政区)|北京|上海|天津|重庆)[市]?)?\s*"
    r"([^\s市]{1,10}(?:市|自治州|地区|盟))?"
)


def address_frame(values: pd.Series) -> pd.DataFrame:
    """Keep province and city of each address, mask the rest (``浙江省 杭州市 ****``).

    Columns: ``masked``, ``province``, ``city``, ``is_masked`` (arrived with ``*`` in it),
    ``is_encrypted`` (platform ciphertext) and ``full`` (the address as given when it arrived in full).
    """
    s = values.astype(object)
    present = s.notna()
    text = s.where(present, "").astype(str)
    is_cipher = present & text.str.match(_CIPHER.pattern)
    arrived_masked = present & ~is_cipher & text.str.match(MASKED_ADDRESS.pattern).fillna(False).astype(bool)
    parts = text.str.extract(_REGION)
    tokens = text.str.split()
    first = tokens.str[0].astype(object).fillna("")
    second = tokens.str[1].astype(object).fillna("")
    province = parts[0].fillna("").where(parts[0].notna(), first.where(tokens.str.len() > 1, ""))
    city = parts[1].fillna("").where(parts[1].notna(), second.where(tokens.str.len() > 2, ""))
    # a province or city never has digits: a first "word" such as 13800138000 is not shown
    province = province.where(~province.str.contains(r"\d", regex=True), "")
    city = city.where(~city.str.contains(r"\d", regex=True), "")
    masked = (province + " " + city).str.strip() + " ****"
    masked = masked.str.strip().where(~is_cipher, CIPHER_SHOWN)
    return pd.DataFrame(
        {
            "masked": masked.where(present, None).astype(object),
            "province": province.where(present & ~is_cipher & (province != ""), None).astype(object),
            "city": city.where(present & ~is_cipher & (city != ""), None).astype(object),
            "is_masked": arrived_masked.astype(bool),
            "is_encrypted": is_cipher.astype(bool),
            "full": text.where(present & ~is_cipher & ~arrived_masked & (text != ""), None).astype(object),
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


# ------------------------------------------------------------------ free text (P-02)
# Full-width forms (U+FF01–FF5E) and the ideographic space map one code point to one, so a match
# found in the half-width copy has the same span in the original text.
_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_TEXT_PII = re.compile(
    # an 18-character run shaped like an ID card (checked by is_id_card: a 18-digit order id stays)
    r"(?P<id>(?<![0-9])[0-9]{17}[0-9Xx](?![0-9]))"
    # a mobile: optional +86 / 86, 3-4-4 with optional spaces or hyphens, not inside a longer digit run
    r"|(?P<mobile>(?<![0-9])(?:\+?86[- ]?)?(?P<m3>1[3-9][0-9])[- ]?[0-9]{4}[- ]?(?P<m4>[0-9]{4})(?![0-9]))"
    # a landline with its area code (010, 02x, 0xxx) written apart from the local number
    r"|(?P<landline>(?<![0-9])(?P<area>0(?:[12][0-9]|[3-9][0-9]{2}))[- ](?P<local>[0-9]{3,4}[- ]?[0-9]{4})(?![0-9]))"
    # a QQ number after the word QQ / 扣扣
    r"|(?P<qq>(?P<qqword>(?<![A-Za-z])(?:[Qq]{2}|扣扣)(?:号码|号)?[ :]*)(?P<qqnum>[1-9][0-9]{4,10})(?![0-9]))"
)


def _mask_match(m: re.Match[str], text: str) -> str | None:
    """The masked form of one personal number found by ``_TEXT_PII`` in the half-width copy of
    ``text`` (``None``: leave it as it is). Words kept around the number come from ``text``."""
    if m.group("id") is not None:
        g = m.group("id")
        return f"{g[:6]}********{g[14:]}" if is_id_card(g) else None
    if m.group("mobile") is not None:
        return f"{m.group('m3')}****{m.group('m4')}"
    if m.group("landline") is not None:
        local = re.sub(r"[- ]", "", m.group("local"))
        return f"{m.group('area')}-{'*' * (len(local) - 4)}{local[-4:]}"
    num = m.group("qqnum")
    return f"{text[m.start('qqword'):m.end('qqword')]}{'*' * (len(num) - 4)}{num[-4:]}"


def mask_text(text: str | None) -> str | None:
    """Mask personal numbers inside free text; everything else is left as written (P-02).

    * 11-digit mainland mobiles in any written form — ``13800138000``, ``+86 138 0013 8000``,
      ``+86-138-0013-8000``, ``86 13800138000``, ``138-0013-8000``, full-width ``１３８００１３８０００``
      — become ``138****8000`` (prefix and separators dropped, digits half-width). A virtual number's
      extension stays: ``18877771111-123`` → ``188****1111-123``.
    * ID-card numbers (18 characters with a real birth date, :func:`is_id_card`) → ``110101********0017``.
    * Landlines written with their area code apart (``010-12345678``, ``0571-8888 6666``) keep the
      area code and the last four digits: ``010-****5678``, ``0571-****6666``.
    * QQ numbers after ``QQ``/``扣扣`` keep their last four digits: ``QQ *****6789``.

    Longer digit runs (order ids of 12–20 digits, tracking numbers) are never touched, and an
    18-digit order number is masked only when it has an ID card's shape. Masking is idempotent
    (``mask_text(mask_text(x)) == mask_text(x)``) and never makes the text longer.
    """
    if text is None:
        return None
    text = str(text)
    half = text.translate(_HALF)
    parts: list[str] = []
    last = 0
    for m in _TEXT_PII.finditer(half):
        masked = _mask_match(m, text)
        if masked is None:
            continue
        parts.append(text[last:m.start()])
        parts.append(masked)
        last = m.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def mask_name(text: str | None, *, nick: bool = False) -> str | None:
    """Display form of one person name (``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``) or, with ``nick``,
    nickname (``tb12345678`` → ``t***8``); the same rule the importer stores (:func:`name_frame`).
    A value that is already masked is returned as it is; platform ciphertext becomes ``[密文]``."""
    if text is None:
        return None
    if text == CIPHER_SHOWN:
        return text
    return str(name_frame(pd.Series([str(text)], dtype=object), b"mask-only", nick=nick)["masked"].iloc[0])


def mask_address(text: str | None) -> str | None:
    """Display form of one address: province and city kept, the rest hidden
    (``浙江省杭州市西湖区文三路1号`` → ``浙江省 杭州市 ****``); ciphertext becomes ``[密文]``."""
    if text is None:
        return None
    if text == CIPHER_SHOWN:
        return text
    return str(address_frame(pd.Series([str(text)], dtype=object))["masked"].iloc[0])
