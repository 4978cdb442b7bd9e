"""extortion_scores: buyer-side extortion / abuse reading (issue 17 §1, SPEC H2).

Inline examples were written for these tests (not copied from the evaluation sets); the accuracy floor reads
only the DEV split of benchmarks/data/malicious/buyer_texts.tsv.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
import reviewops
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops import extortion_scores
from reviewops.core.errors import ConfigError
from reviewops.grading import extortion as ext

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = ext._reader("buyer").threshold


# ------------------------------------------------------------------ examples
@pytest.mark.parametrize("text, kind", [
    ("老板，发个红包，我马上把差评删了", "money_for_review"),
    ("hb 到了我就改好评", "money_for_review"),
    ("ｈｂ到位，评价秒改", "money_for_review"),
    ("红 包 到 位 差 评 就 撤", "money_for_review"),
    ("红\u200b包到了就删评", "money_for_review"),
    ("🧧来了⭐⭐⭐⭐⭐就来了", "money_for_review"),
    ("转我50，追评我就不写了", "money_for_review"),
    ("你懂的，意思一下这条差评就没了", "money_for_review"),
    ("好处费给到位，删评没问题", "money_for_review"),
    ("返现翻倍我就不追差评", "money_for_review"),
    ("我有十几个小号，你自己看着办", "threat_bad_review"),
    ("不给个交代，我每天买一单给你一个差评", "threat_bad_review"),
    ("你们客服就是个脑残", "abuse"),
    ("祝你们全家不得好死", "abuse"),
    ("这家卖假货，大家去隔壁买吧", "competitor"),
])
def test_extortion_is_found_with_its_kind(text, kind):
    row = extortion_scores([text]).iloc[0]
    assert row["is_extortion"], (text, row.to_dict())
    assert row["kind"] == kind, (text, row.to_dict())
    assert row["reasons"] and any("\u4e00" <= ch <= "\u9fff" for ch in row["reasons"])


@pytest.mark.parametrize("text", [
    "东西坏了，我要退款",                                  # a refund the buyer is entitled to
    "我要求换货，不然就投诉到12315",                          # a lawful complaint
    "再不处理我就找消协，评价我也会如实写",
    "他妈的，这锅垃圾，一炒就粘，差评",                          # angry but genuine
    "客服说好评返现5元，这是违规的吧？",                         # reporting the seller's offer
    "包裹里有张好评返现卡，我没去领，东西一般",
    "我不要红包，只要正品",
    "我已经自己把差评改成好评了，不用给我任何东西",
    "这款小号和中号差多少？",                                 # 小号 = size S
    "红包封质量不错，图案喜庆",                                 # the product is red envelopes
    "有没有满200返20的活动？",
    "快递摔坏了显示器，按实际价格赔偿，评价我会如实写",
    "",
])
def test_lawful_and_honest_texts_are_not_flagged(text):
    row = extortion_scores([text]).iloc[0]
    assert not row["is_extortion"], (text, row.to_dict())
    assert row["kind"] == ""


def test_frame_columns_types_and_order():
    texts = ["发个红包我就删差评", None, float("nan"), "好评", "sb客服"]
    df = extortion_scores(texts, channel="chat")
    assert list(df.columns) == ["score", "is_extortion", "kind", "reasons"]
    assert len(df) == len(texts)
    assert df["score"].dtype == float and df["is_extortion"].dtype == bool
    assert df["is_extortion"].tolist() == [True, False, False, False, True]
    assert df.loc[1, "score"] == 0.0 and df.loc[1, "reasons"] == ""
    empty = extortion_scores([])
    assert list(empty.columns) == ["score", "is_extortion", "kind", "reasons"] and len(empty) == 0
    assert len(extortion_scores(pd.Series(["红包到位差评秒删"]), channel="review")) == 1


def test_bad_channel_is_a_config_error():
    with pytest.raises(ConfigError, match="chat"):
        extortion_scores(["x"], channel="email")


def test_exported_from_the_package():
    assert reviewops.extortion_scores is extortion_scores and "extortion_scores" in reviewops.__all__


def test_reasons_are_chinese_and_semicolon_joined():
    why = extortion_scores(["客服说好评返现，我没领"]).iloc[0]["reasons"]
    assert "；" in why and "转述" in why


def test_lexicon_is_data_with_known_roles():
    rows = ext._lexicon_rows()
    assert len(rows) > 300
    assert {r["side"] for r in rows} <= {"buyer", "seller", "both"}
    assert {r["role"] for r in rows} <= set(ext.ROLES) | {"setting"}
    assert all(0.0 <= r["weight"] <= 1.0 for r in rows)
    assert 0.0 < THRESHOLD < 1.0


# ------------------------------------------------------------------ properties
_FRAGMENTS = ["红包", "hb", "差评", "好评", "删", "改", "就", "我", "你", "的话", "小号", "你看着办", "12315", "投诉",
              "退款", "客服说", "返现", "转", "50", "元", "，", "。", "！", "?", "sb", "去买", "假货", "一星", "⭐",
              "🧧", "不要", "如实", "abc", "Hp", "V我50"]
_text = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(alphabet="的了是不在有这个人们东西质量很好", max_size=3)),
                 max_size=12).map("".join)
_FULLWIDTH = {c: chr(c - 0x21 + 0xFF01) for c in range(0x21, 0x7F)}


@settings(max_examples=150, deadline=None)
@given(st.lists(_text, max_size=20))
def test_property_order_range_and_threshold(texts):
    df = extortion_scores(texts)
    assert len(df) == len(texts)
    singles = [extortion_scores([t]).iloc[0]["score"] for t in texts]
    assert df["score"].tolist() == singles  # order preserved, row i is text i
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in df["score"])
    assert (df["is_extortion"] == (df["score"] >= THRESHOLD)).all()
    assert ((df["kind"] != "") == df["is_extortion"]).all()


@settings(max_examples=150, deadline=None)
@given(_text, st.lists(st.tuples(st.integers(0, 200), st.sampled_from([" ", "\u3000", "\u200b", "\u2060", "\ufeff",
                                                                     "\u00a0", "\u200d"])), max_size=6),
       st.booleans())
def test_property_stable_under_spaces_zero_width_and_full_width(text, inserts, full_width):
    variant = text
    for pos, ch in inserts:
        pos = pos % (len(variant) + 1)
        variant = variant[:pos] + ch + variant[pos:]
    if full_width:
        variant = variant.translate(_FULLWIDTH)
    a, b = extortion_scores([text]).iloc[0], extortion_scores([variant]).iloc[0]
    assert (a["score"], a["is_extortion"], a["kind"]) == (b["score"], b["is_extortion"], b["kind"]), (text, variant)


# ------------------------------------------------------------------ accuracy floor (DEV split only)
def _accuracy_module():
    spec = importlib.util.spec_from_file_location("accuracy_extortion", ROOT / "benchmarks" / "accuracy_extortion.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: measured on the DEV split when the lexicon was frozen (docs/accuracy.md); the floor is 0.03 below
DEV_PRECISION, DEV_RECALL = 1.0, 1.0
DEV_BLOCK_RATE, DEV_FALSE_BLOCK_RATE = 1.0, 0.0


def test_accuracy_floor_on_the_dev_split():
    mod = _accuracy_module()
    if not (mod.DATA / "buyer_texts.tsv").exists():
        pytest.skip("benchmarks/data/malicious is not in this checkout")
    b = mod.buyer_figures("dev")
    assert b["precision"] >= DEV_PRECISION - 0.03, b
    assert b["recall"] >= DEV_RECALL - 0.03, b
    s = mod.seller_figures("dev")
    assert s["block_rate"] >= DEV_BLOCK_RATE - 0.03, s
    assert s["false_block_rate"] <= DEV_FALSE_BLOCK_RATE + 0.03, s
