"""reviewops.core.privacy: masking and keyed hashes (P-02 table, I-07 masked/virtual/cipher fields)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as hst

from reviewops.intake import clean
from reviewops import import_file
from reviewops.core import privacy
from reviewops.core import store as st

KEY = b"k" * 32


def S(values):  # noqa: N802
    return pd.Series(list(values), dtype=object)


def phone(values):
    """The phone column as the importer builds it: cleaned cells, then masked."""
    return privacy.phone_frame(clean.clean_cells(S(values)), KEY)


# ----------------------------------------------------------------- P-02 table
@pytest.mark.parametrize("raw", [
    "13800138000", "+86 138 0013 8000", "+86-138-0013-8000", "+8613800138000", "86 13800138000", "8613800138000",
    "138-0013-8000", "138 0013 8000", "１３８００１３８０００", "＋８６ １３８ ００１３ ８０００", "\u00a013800138000\t",
    "\u200b13800138000", "'13800138000", '="13800138000"',
])
def test_mobiles_are_masked_and_hashed_alike(raw):
    pf = phone([raw])
    assert pf["masked"].iloc[0] == "138****8000"
    assert pf["hash"].iloc[0] == phone(["13800138000"])["hash"].iloc[0]
    assert not pf["is_masked"].iloc[0] and not pf["is_encrypted"].iloc[0]


@pytest.mark.parametrize(("raw", "masked"), [
    ("138****8000", "138****8000"),
    ("18877771111-123", "188****1111-123"),
    ("13800138000转1234", "138****8000转1234"),
    ("13800138000-1234", "138****8000-1234"),
])
def test_masked_and_virtual_numbers_are_flagged_and_never_hashed(raw, masked):
    pf = phone([raw])
    assert pf["masked"].iloc[0] == masked
    assert pf["is_masked"].iloc[0]
    assert pd.isna(pf["hash"].iloc[0])


@pytest.mark.parametrize("raw", ["$$Zm9vYmFyMTIz$$", "##QUJDREVGRzEyMzQ=##", "#13800138000#", "$13800138000$"])
def test_douyin_ciphertext_is_flagged_never_hashed_never_shown(raw):
    pf = phone([raw])
    assert pf["masked"].iloc[0] == "[密文]"
    assert pf["is_encrypted"].iloc[0]
    assert pd.isna(pf["hash"].iloc[0])
    nf = privacy.name_frame(S([raw]), KEY)
    assert nf["masked"].iloc[0] == "[密文]" and nf["is_encrypted"].iloc[0] and pd.isna(nf["hash"].iloc[0])
    af = privacy.address_frame(S([raw]))
    assert af["masked"].iloc[0] == "[密文]" and pd.isna(af["province"].iloc[0])


@pytest.mark.parametrize(("raw", "masked"), [
    ("010-12345678", "010-****5678"),
    ("0571-88881234", "0571-****1234"),
    ("0571-8888-1234", "0571-****1234"),
    ("(0571) 8888 1234", "0571-****1234"),
    ("110101199001010017", "110101********0017"),
    ("11010119900101001X", "110101********001X"),
    ("QQ 123456789", "QQ ****6789"),
])
def test_landlines_id_cards_and_other_numbers_in_a_phone_column_are_not_kept_in_clear(raw, masked):
    pf = phone([raw])
    assert pf["masked"].iloc[0] == masked
    assert pd.isna(pf["hash"].iloc[0])


def test_order_ids_in_a_phone_column_are_not_phone_masked():
    assert phone(["2841234567890123456"])["masked"].iloc[0] == "2841234567890123456"


@pytest.mark.parametrize("raw", ["+86 138-0013-8000", "13800138000转1234", "18877771111-123", "010-12345678",
                                 "110101199001010017", "$$abc$$", "138****8000", "QQ 123456789"])
def test_phone_masking_is_idempotent(raw):
    once = privacy.mask_phone(raw)
    assert privacy.mask_phone(once) == once


def test_mask_text_masks_mobiles_and_id_cards_but_not_order_ids():
    text = "电话13800138000，订单2841234567890123456，身份证110101199001010017，另一个 +86 138-0013-8001。"
    out = privacy.mask_text(text)
    assert out == "电话138****8000，订单2841234567890123456，身份证110101********0017，另一个 138****8001。"
    assert privacy.mask_text(out) == out
    assert privacy.mask_text("订单号 28412345678901234567 和 12345678901234") == "订单号 28412345678901234567 和 12345678901234"


mobile_digits = hst.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(d=mobile_digits, plus=hst.sampled_from(["", "+86", "86", "+86 ", "86-"]), sep=hst.sampled_from(["", " ", "-"]),
       wide=hst.booleans())
def test_any_written_form_of_a_mobile_masks_to_first3_last4(d, plus, sep, wide):
    raw = plus + d[:3] + sep + d[3:7] + sep + d[7:]
    if wide:
        raw = raw.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789+-"})
    pf = phone([raw])
    assert pf["masked"].iloc[0] == f"{d[:3]}****{d[-4:]}"
    assert privacy.mask_phone(pf["masked"].iloc[0]) == pf["masked"].iloc[0]
    assert pf["hash"].iloc[0] == phone([d])["hash"].iloc[0]


@settings(max_examples=200, deadline=None)
@given(n=hst.sampled_from([12, 13, 14, 15, 16, 17, 19, 20]), data=hst.data())
def test_longer_digit_runs_are_never_phone_masked_in_text(n, data):
    """Order ids (12–20 digits, except the 18 of an ID card) contain mobile-like runs but are left alone.

    One shape is excluded on purpose: 13 digits that are ``86`` + a mobile (``8613800138000``) are read as
    the phone with its country code and masked — privacy wins over an order number of that exact shape
    (test_masking.py::test_no_mobile_survives_in_any_written_form).
    """
    digits = data.draw(hst.from_regex(rf"[1-9][0-9]{{{n - 1}}}", fullmatch=True)
                       .filter(lambda s: not re.fullmatch(r"861[3-9][0-9]{9}", s)))
    text = f"订单{digits}已发货"
    assert privacy.mask_text(text) == text


# ------------------------------------------------------------------- names
def test_names_are_masked_and_only_clear_names_hashed():
    nf = privacy.name_frame(S(["张三", "张**", "张***三", "欧阳娜娜", "李", None]), KEY)
    assert nf["masked"].tolist()[:5] == ["张*", "张**", "张***三", "欧***", "李*"]
    assert nf["is_masked"].tolist() == [False, True, True, False, False, False]
    assert nf["hash"].notna().tolist() == [True, False, False, True, True, False]


def test_nicks_are_masked():
    nf = privacy.name_frame(S(["tb12345678", "t***8", "ab"]), KEY, nick=True)
    assert nf["masked"].tolist() == ["t***8", "t***8", "a*"]
    assert nf["hash"].notna().tolist() == [True, False, True]


def test_keyed_hash_depends_on_the_key():
    a = privacy.keyed_hash(S(["13800138000"]), b"a" * 32).iloc[0]
    b = privacy.keyed_hash(S(["13800138000"]), b"b" * 32).iloc[0]
    assert a != b and len(a) == 32


def test_address_keeps_province_and_city_only():
    af = privacy.address_frame(S(["浙江省杭州市西湖区文三路1号", "广西壮族自治区南宁市青秀区民族大道8号", "北京市朝阳区建国路"]))
    assert af["masked"].tolist() == ["浙江省 杭州市 ****", "广西壮族自治区 南宁市 ****", "北京市 ****"]
    assert not any("文三路" in m or "民族大道" in m for m in af["masked"])


# ------------------------------------------------------------ I-07 in the store
def test_buyers_sharing_a_mask_are_never_merged(store, tmp_path):
    """Masked nicks/phones are stored as given, flagged, and never create or match a customer (I-07)."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "订单编号,买家会员名,买家应付货款,买家实际支付金额,宝贝标题,宝贝总数量,收货人姓名,联系手机,订单创建时间\n"
        "284123456789012301,张**,10.00,10.00,杯子,1,张**,138****8000,2024-03-05 10:00:00\n"
        "284123456789012302,张**,12.00,12.00,杯子,1,张***三,138****8000,2024-03-05 11:00:00\n"
        "284123456789012303,t***8,13.00,13.00,杯子,1,李四,18877771111-123,2024-03-05 12:00:00\n"
        "284123456789012304,tb_full_nick,14.00,14.00,杯子,1,王五,$$Y2lwaGVy$$,2024-03-05 13:00:00\n"
        "284123456789012305,tb_full_nick,15.00,15.00,杯子,1,王五,13800138000转1234,2024-03-05 14:00:00\n",
        encoding="utf-8",
    )
    import_file(store, path)
    with store.read() as conn:
        rows = conn.execute(sa.select(
            st.orders.c.order_id, st.orders.c.customer_id, st.orders.c.buyer_nick_masked,
            st.orders.c.receiver_name_masked, st.orders.c.receiver_name_hash, st.orders.c.receiver_phone_masked,
            st.orders.c.receiver_phone_hash, st.orders.c.receiver_phone_is_masked, st.orders.c.receiver_pii_encrypted,
        ).order_by(st.orders.c.order_id)).mappings().all()
        n_customers = conn.execute(sa.select(sa.func.count()).select_from(st.customers)).scalar_one()
    assert len(rows) == 5
    r1, r2, r3, r4, r5 = rows
    # same mask 张** / 138****8000 on two orders: no customer, no hash, nothing to join them on
    assert r1["customer_id"] is None and r2["customer_id"] is None
    assert r1["buyer_nick_masked"] == r2["buyer_nick_masked"] == "张**"
    assert r1["receiver_phone_masked"] == r2["receiver_phone_masked"] == "138****8000"
    assert r1["receiver_phone_hash"] is None and r2["receiver_phone_hash"] is None
    assert r1["receiver_name_hash"] is None and r2["receiver_name_masked"] == "张***三"
    assert r1["receiver_phone_is_masked"] and r2["receiver_phone_is_masked"]
    assert r3["receiver_phone_masked"] == "188****1111-123" and r3["receiver_phone_is_masked"]
    assert r3["receiver_phone_hash"] is None and r3["customer_id"] is None
    assert r4["receiver_phone_masked"] == "[密文]" and r4["receiver_pii_encrypted"]
    assert r4["receiver_phone_hash"] is None
    assert r5["receiver_phone_masked"] == "138****8000转1234" and r5["receiver_phone_hash"] is None
    # the only full nick makes the only customer, shared by its two orders
    assert r4["customer_id"] is not None and r4["customer_id"] == r5["customer_id"]
    assert n_customers == 1
    assert r4["receiver_name_masked"] == "王*" and r4["receiver_name_hash"] is not None


def test_no_clear_phone_or_name_reaches_the_store(store, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "订单编号,买家会员名,买家应付货款,买家实际支付金额,宝贝标题,宝贝总数量,收货人姓名,联系手机,收货地址,订单创建时间\n"
        "284123456789012301,canary_nick_77,10.00,10.00,杯子,1,金丝雀,19999990001,浙江省杭州市西湖区金丝雀路1号,2024-03-05 10:00:00\n"
        "284123456789012302,canary_nick_78,10.00,10.00,杯子,1,金丝雀,0571-8888-1234,浙江省杭州市西湖区金丝雀路1号,2024-03-05 10:00:00\n",
        encoding="utf-8",
    )
    import_file(store, path)
    with store.read() as conn:
        dump = []
        for table in (st.orders, st.order_lines, st.customers):
            for row in conn.execute(sa.select(table)):
                dump.extend(str(v) for v in row)
    text = "\n".join(dump)
    for canary in ("19999990001", "88881234", "8888-1234", "金丝雀路", "canary_nick_77"):
        assert canary not in text


@pytest.mark.parametrize("number, expected", [
    ("110101199001010017", True),    # the reliability plan's canary (check digit not required)
    ("11010119900101001X", True),
    ("440305200012319999", True),
    ("284123456789012345", False),   # an 18-digit order number: no birth date in the middle
    ("011010199001010017", False),   # region code cannot start with 0
    ("110101199013010017", False),   # month 13
    ("11010119900101001", False),    # 17 characters
])
def test_id_card_shape(number, expected):
    assert privacy.is_id_card(number) is expected


def test_an_18_digit_order_number_in_free_text_stays_readable():
    text = "订单284123456789012345还没发货，身份证110101199001010017"
    assert privacy.mask_text(text) == "订单284123456789012345还没发货，身份证110101********0017"
