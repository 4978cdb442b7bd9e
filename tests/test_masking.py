"""P-02 masking correctness of free text: mask_text table + Hypothesis properties; mask_name / mask_address.

reliability.md P-02 and §3: 11-digit mobiles in every written form (+86, spaces, hyphens, full width)
→ ``138****8000``; ID cards → ``110101********0017``; landlines keep area code and last four digits;
order ids (16–20 digit runs) are never touched; masking is idempotent and never lengthens the text.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as hst
from reviewops.core import privacy
from reviewops.core.privacy import is_id_card, mask_address, mask_name, mask_text

WIDE = {ord(c): ord(c) + 0xFEE0 for c in "0123456789+-"} | {ord(" "): 0x3000}

# --------------------------------------------------------------------------- table
TABLE = [
    # mobiles, alone
    ("13800138000", "138****8000"),
    ("+86 138 0013 8000", "138****8000"),
    ("+86-138-0013-8000", "138****8000"),
    ("+8613800138000", "138****8000"),
    ("86 13800138000", "138****8000"),
    ("86-13800138000", "138****8000"),
    ("138-0013-8000", "138****8000"),
    ("138 0013 8000", "138****8000"),
    ("１３８００１３８０００", "138****8000"),
    ("＋８６ １３８ ００１３ ８０００", "138****8000"),
    ("＋８６－１３８－００１３－８０００", "138****8000"),
    # mobiles inside text: the text around them stays as written (full-width punctuation too)
    ("我的电话13800138000，尽快联系", "我的电话138****8000，尽快联系"),
    ("电话：＋８６ １３８ ００１３ ８０００。谢谢", "电话：138****8000。谢谢"),
    ("call me at +86 138-0013-8000 ok", "call me at 138****8000 ok"),
    ("tel:13800138000/13900139000", "tel:138****8000/139****9000"),
    ("手机19999990001收货", "手机199****0001收货"),
    # virtual numbers keep their extension, as in a phone column
    ("联系18877771111-123", "联系188****1111-123"),
    ("13800138000转1234", "138****8000转1234"),
    # ID cards
    ("身份证110101199001010017", "身份证110101********0017"),
    ("身份证号：11010119900101001X。", "身份证号：110101********001X。"),
    ("ID110101199001010017", "ID110101********0017"),
    ("１１０１０１１９９００１０１００１７", "110101********0017"),
    # landlines
    ("座机010-12345678", "座机010-****5678"),
    ("0571-8888 6666", "0571-****6666"),
    ("0571-88886666", "0571-****6666"),
    ("0571 8888 6666", "0571-****6666"),
    ("021-1234-5678转8", "021-****5678转8"),
    ("0571-888 6666", "0571-***6666"),
    # QQ numbers after the word
    ("加我QQ 123456789", "加我QQ *****6789"),
    ("qq号：12345678", "qq号：****5678"),
    ("扣扣987654321", "扣扣*****4321"),
    # left alone: order ids, tracking numbers, money, dates, short numbers
    ("订单2841234567890123456已发货", "订单2841234567890123456已发货"),
    ("订单号 28412345678901234567 和 12345678901234", "订单号 28412345678901234567 和 12345678901234"),
    ("订单284123456789012345还没发货", "订单284123456789012345还没发货"),
    ("拼多多 250304-123456789012345", "拼多多 250304-123456789012345"),
    ("运单SF1234567890123 已签收", "运单SF1234567890123 已签收"),
    ("退款￥1380.00，2024-03-05 14:22 申请", "退款￥1380.00，2024-03-05 14:22 申请"),
    ("买了3件，每件138元", "买了3件，每件138元"),
    ("", ""),
    # already masked: unchanged
    ("138****8000", "138****8000"),
    ("张** 138****1234 浙江省 杭州市 ****", "张** 138****1234 浙江省 杭州市 ****"),
    ("110101********0017", "110101********0017"),
    ("010-****5678", "010-****5678"),
    ("QQ *****6789", "QQ *****6789"),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_mask_text_table(text, expected):
    out = mask_text(text)
    assert out == expected
    assert mask_text(out) == out
    assert len(out) <= len(text)


def test_mask_text_none_and_non_string():
    assert mask_text(None) is None
    assert mask_text(13800138000) == "138****8000"  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "masked"), [
    ("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李*"), ("王小明", "王**"),
    ("张**", "张**"), ("张***三", "张***三"), ("$$Y2lwaGVy$$", "[密文]"),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked
    assert mask_name(masked) == masked
    assert mask_name(None) is None


def test_mask_name_nick():
    assert mask_name("tb12345678", nick=True) == "t***8"
    assert mask_name("ab", nick=True) == "a*"


@pytest.mark.parametrize(("address", "masked"), [
    ("浙江省杭州市西湖区文三路1号", "浙江省 杭州市 ****"),
    ("广西壮族自治区南宁市青秀区民族大道8号", "广西壮族自治区 南宁市 ****"),
    ("北京市朝阳区建国路8号", "北京市 ****"),
    ("##QUJDREVG##", "[密文]"),
])
def test_mask_address(address, masked):
    assert mask_address(address) == masked
    assert mask_address(None) is None


# ------------------------------------------------------------------- properties
mobiles = hst.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
# text around a number: no digits, no '*', '+' or separators that could join it to the number
filler = hst.text(alphabet=hst.sampled_from(list("收货人电话请联系我谢谢，。：！abcXYZ张李王 \n")), max_size=12)


def _variant(d: str, plus: str, sep: str, wide: bool) -> str:
    raw = plus + d[:3] + sep + d[3:7] + sep + d[7:]
    return raw.translate(WIDE) if wide else raw


def _digits(s: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", s))


@settings(max_examples=300, deadline=None)
@given(d=mobiles, plus=hst.sampled_from(["", "+86", "86", "+86 ", "86 ", "+86-", "86-"]),
       sep=hst.sampled_from(["", " ", "-"]), wide=hst.booleans(), before=filler, after=filler)
def test_no_mobile_survives_in_any_written_form(d, plus, sep, wide, before, after):
    # "86" right before the number would read as part of it only when nothing separates them
    text = f"{before}，{_variant(d, plus, sep, wide)}。{after}"
    out = mask_text(text)
    assert f"{d[:3]}****{d[-4:]}" in out
    assert _digits(out) == d[:3] + d[-4:]  # the middle four digits (and the +86) are gone
    assert out.startswith(before) and out.endswith(after)
    assert mask_text(out) == out
    assert len(out) <= len(text)


@settings(max_examples=300, deadline=None)
@given(n=hst.integers(16, 20), data=hst.data(), before=filler, after=filler, wide=hst.booleans())
def test_order_ids_of_16_to_20_digits_are_untouched(n, data, before, after, wide):
    digits = data.draw(hst.from_regex(rf"[1-9][0-9]{{{n - 1}}}", fullmatch=True))
    assume(not is_id_card(digits))  # an 18-digit run with a real birth date is treated as an ID card
    oid = digits.translate(WIDE) if wide else digits
    text = f"{before}订单{oid}{after}"
    assert mask_text(text) == text


@settings(max_examples=200, deadline=None)
@given(region=hst.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
       birth=hst.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
       seq=hst.from_regex(r"[0-9]{3}[0-9X]", fullmatch=True), before=filler, after=filler)
def test_id_cards_keep_region_and_last_four(region, birth, seq, before, after):
    number = f"{region}{birth:%Y%m%d}{seq}"
    out = mask_text(f"{before}身份证{number}。{after}")
    assert out == f"{before}身份证{region}********{seq}。{after}"


@settings(max_examples=500, deadline=None)
@given(text=hst.text(alphabet=hst.sampled_from(list("0123456789０１３８+＋-－ *Xx，。QqK扣号:：转电话")), max_size=60))
def test_masking_is_idempotent_and_never_lengthens(text):
    once = mask_text(text)
    assert mask_text(once) == once
    assert len(once) <= len(text)


@settings(max_examples=200, deadline=None)
@given(text=hst.text(max_size=80))
def test_any_unicode_text_is_idempotent(text):
    once = mask_text(text)
    assert mask_text(once) == once
    assert len(once) <= len(text)


@settings(max_examples=200, deadline=None)
@given(d=mobiles)
def test_phone_column_and_free_text_agree(d):
    """The importer's phone column and free text give the same display form."""
    assert mask_text(d) == privacy.mask_phone(d) == f"{d[:3]}****{d[-4:]}"
