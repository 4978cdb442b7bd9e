"""Issue 15 §6 (medium): "already masked" is decided from the platforms' masking patterns, not from the
presence of an asterisk. Before the fix ``13800138000*`` was stored as a masked phone in full, any nickname
with a ``*`` (``@SUM(1+1)*cmd``) was kept as it was, and ``*13800138000*`` survived ``mask_text``.

Property: no unmasked 11-digit mobile and no 18-character ID card survives any masking function, whatever
asterisks (or other text) surround it; the platforms' own masks stay as they are.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops.core import privacy
from reviewops.core.privacy import (
    address_frame,
    mask_address,
    mask_name,
    mask_phone,
    mask_text,
    name_frame,
    phone_frame,
)

MOBILES = st.builds(lambda p, rest: f"1{p}{rest:09d}", st.sampled_from("3456789"), st.integers(0, 10**9 - 1))
ID_CARDS = st.builds(lambda region, y, m, d, seq, chk: f"{region}{y:04d}{m:02d}{d:02d}{seq:03d}{chk}",
                     st.sampled_from(["110101", "310104", "440305", "330106"]), st.integers(1950, 2010),
                     st.integers(1, 12), st.integers(1, 28), st.integers(0, 999), st.sampled_from("0123456789X"))
STARS = st.text(alphabet="*＊ ", max_size=4)
AROUND = st.one_of(STARS, st.text(alphabet="*abc张@()+- ", max_size=6))


def _all_masks(value: str) -> dict[str, str | None]:
    s = pd.Series([value], dtype=object)
    return {
        "mask_text": mask_text(value), "mask_phone": mask_phone(value), "mask_name": mask_name(value),
        "mask_nick": mask_name(value, nick=True), "mask_address": mask_address(value),
        "phone_frame": phone_frame(s, b"k")["masked"].iloc[0],
        "name_frame": name_frame(s, b"k")["masked"].iloc[0],
        "nick_frame": name_frame(s, b"k", nick=True)["masked"].iloc[0],
        "address_frame": address_frame(s)["masked"].iloc[0],
    }


@settings(max_examples=120, deadline=None)
@given(number=st.one_of(MOBILES, ID_CARDS), before=AROUND, after=AROUND)
def test_no_phone_or_id_card_survives_any_masking_whatever_surrounds_it(number, before, after):
    value = f"{before}{number}{after}"
    for name, out in _all_masks(value).items():
        assert number not in (out or ""), (name, value, out)
        assert number[:11] not in (out or "") or len(number) == 18 and not privacy.is_id_card(number), (name, out)


@pytest.mark.parametrize("value", ["13800138000*", "*13800138000", "*13800138000*", "138 0013 8000*",
                                   "+8613800138000**", "110101199003071234*", "**110101199003071234"])
def test_a_star_beside_a_number_does_not_make_it_masked(value):
    s = pd.Series([value], dtype=object)
    ph = phone_frame(s, b"k")
    assert not bool(ph["is_masked"].iloc[0])
    assert "13800138000" not in ph["masked"].iloc[0] and "110101199003071234" not in ph["masked"].iloc[0]
    assert "13800138000" not in mask_text(value) and "110101199003071234" not in mask_text(value)


@pytest.mark.parametrize("value", ["138****1234", "1**********", "010-****5678", "0571-****6666",
                                   "138****1234-123", "+86 138****1234"])
def test_platform_phone_masks_are_kept_and_never_hashed(value):
    ph = phone_frame(pd.Series([value], dtype=object), b"k")
    assert ph["masked"].iloc[0] == value and bool(ph["is_masked"].iloc[0])
    assert pd.isna(ph["hash"].iloc[0]) and pd.isna(ph["full"].iloc[0])


@pytest.mark.parametrize("value", ["张*", "张**", "欧***", "*三", "张*明", "t***8", "t**5", "j***x", "1**********"])
def test_platform_name_and_nick_masks_are_kept_and_never_hashed(value):
    for nick in (False, True):
        nf = name_frame(pd.Series([value], dtype=object), b"k", nick=nick)
        assert nf["masked"].iloc[0] == value and bool(nf["is_masked"].iloc[0])
        assert pd.isna(nf["hash"].iloc[0]) and pd.isna(nf["full"].iloc[0])


@pytest.mark.parametrize("value", ["@SUM(1+1)*cmd", "=HYPERLINK(\"x\")*", "tb12345*678", "张三丰*"])
def test_a_nickname_with_a_star_is_not_taken_as_masked(value):
    nf = name_frame(pd.Series([value], dtype=object), b"k", nick=True)
    assert not bool(nf["is_masked"].iloc[0])
    assert nf["masked"].iloc[0] != value and nf["masked"].iloc[0].count("*") >= 1
    assert len(nf["masked"].iloc[0].replace("*", "")) <= 2


def test_the_analysis_exports_masked_nickname_column(sqlite_store, tmp_path):
    """The nickname of the report finding reaches the 买家昵称(已打码) column masked, not as written."""
    from reviewops.reporting.analysis import export_analysis

    from wb_fixtures import make_case

    make_case(sqlite_store, tmp_path, nick="@SUM(1+1)*cmd")
    from reviewops.core.store import reviews

    with sqlite_store.read() as conn:
        stored = conn.execute(reviews.select()).mappings().one()["buyer_nick_masked"]
    assert stored != "@SUM(1+1)*cmd"  # the importer no longer keeps it as "already masked"
    out = export_analysis(sqlite_store, "2026-11", tmp_path / "a.xlsx")
    import openpyxl

    ws = openpyxl.load_workbook(out.path, read_only=True)["评价分级"]
    cells = [str(c) for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert cells and not any("SUM" in c or "cmd" in c for c in cells), cells
    assert "@***d" in cells or any(c.endswith("***d") for c in cells)
