"""reviewops.classify: golden decisions on short shop reviews, input shapes, the shipped lexicon, properties.

Every review text here was written for this file (no corpus text). Golden rows pin
what a shop expects of the cold-start lexicon: a complaint is negative whatever the
rating, a negated complaint is not a complaint, what follows 但是 decides the
category, alarm words always count. Hypothesis checks the output contract on
arbitrary input and that the fast normalisation equals NFKC + lower case.
"""

from __future__ import annotations

import importlib
import json
import math
import threading
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from reviewops.grading.classify import CLASSIFY_COLUMNS, classify, classify_detail
from reviewops.grading.lexicon import Lexicon, TextResult, normalize_text, rating_is_negative, rating_label
from reviewops.core.errors import ConfigError
from reviewops.core.policy import CATEGORY_CODES, KEYWORD_KINDS, Policy, default_policy

classify_module = importlib.import_module("reviewops.grading.classify")  # the module (the package exports the function)


def one(text, rating=None, **kw):
    """The classify row of one text as a dict."""
    ratings = None if rating is None else [rating]
    return classify([text], ratings, **kw).iloc[0].to_dict()


# ------------------------------------------------------------------ golden
@pytest.mark.parametrize(("text", "category"), [
    ("质量太差了，穿了一次就起球", "quality"),
    ("物流太慢了，等了一个星期才到", "logistics"),
    ("尺码偏小，根本穿不上", "size"),
    ("少发了一件，只收到一条裤子", "missing_wrong"),
    ("颜色和图片差别很大，色差严重", "description"),
    ("客服态度恶劣，问什么都不回", "service"),
    ("买贵了，第二天就降价五十", "price"),
    ("鞋子挤脚，走路磨脚", "size"),
    ("发错货了，要的黑色发成白色", "missing_wrong"),
])
def test_complaints_are_negative_with_their_category(text, category):
    row = one(text)
    assert row["is_negative"] and row["negative_score"] >= 0.5
    assert row["primary_category"] == category


@pytest.mark.parametrize("text", [
    "挺好的，和描述一致", "包装完好，物流很快", "尺码合适，穿着舒服", "不错，下次还来", "孩子很喜欢",
    "价格实惠，性价比高", "宝贝收到了，没有破损", "收到了，还没用", "还没用，不知道效果怎么样", "第二次购买了",
])
def test_praise_and_neutral_reviews_are_not_negative(text):
    row = one(text)
    assert not row["is_negative"]
    assert row["negative_score"] < 0.5
    assert row["primary_category"] == "" and row["categories"] == ""


def test_complaint_under_a_five_star_rating_is_still_negative():
    row = one("质量太差了，完全不能用", rating=5)
    assert row["is_negative"] and row["primary_category"] == "quality"


def test_bad_rating_makes_praise_negative_but_the_score_stays_the_texts():
    row = one("很好，非常满意", rating=1)
    assert row["is_negative"]
    assert row["negative_score"] < 0.5  # the score is the text's negativity, not the rating's
    assert row["primary_category"] == "other"  # negative without a named complaint


def test_negated_complaint_is_not_a_complaint():
    plain, negated = one("包装破损"), one("没有破损")
    assert plain["is_negative"] and plain["primary_category"] == "logistics"
    assert not negated["is_negative"] and negated["categories"] == ""
    assert negated["negative_score"] < plain["negative_score"]
    _, (detail,) = classify_detail(["没有破损"])
    assert detail.negative_hits == () and detail.category_scores == {}


def test_negated_praise_is_negative():
    assert one("不满意")["is_negative"]
    assert one("一点都不好用")["is_negative"]
    assert not one("满意")["is_negative"]


def test_contrast_what_follows_decides():
    row = one("质量不错，但是物流太慢")
    assert row["is_negative"] and row["primary_category"] == "logistics"
    assert row["categories"] == "logistics"  # the praised quality is not a complaint
    assert one("质量不错，但是物流太慢")["negative_score"] > one("物流太慢，质量不错")["negative_score"]
    assert not one("物流太慢，但是质量不错")["is_negative"]  # turned the other way, the praise decides
    assert one("虽然物流太慢，但是质量不错")["negative_score"] < one("物流太慢，但是质量不错")["negative_score"]


def test_topic_counts_only_in_a_negative_clause():
    assert one("客服态度很差")["primary_category"] == "service"
    # forced negative by the rating: the praised topic is not the complaint
    assert one("物流很快，客服态度很差", rating=1)["categories"] == "service"
    assert one("客服很耐心，物流太慢了", rating=1)["categories"] == "logistics"
    assert one("房间太小", rating=1)["primary_category"] == "size"  # the category word beats the topic (房间)
    # a neutral clause naming the topic lends it to the complaint right after it
    assert one("早餐品种少，一般", rating=1)["primary_category"] == "quality"


def test_first_complaint_wins_a_tie():
    # two complaints of equal weight: the one raised first is the primary (labelling guide)
    assert one("物流太慢，客服态度差", rating=1)["primary_category"] == "logistics"
    assert one("客服态度差，物流太慢", rating=1)["primary_category"] == "service"
    # a clearly heavier complaint still wins over the first one
    assert one("有点贵，质量太差，做工粗糙，一洗就掉色", rating=1)["primary_category"] == "quality"


def test_light_category_word_counts_for_less():
    # 冷 (weight 0.4) names quality only weakly: the service topic of the same text is not outweighed
    _, (d,) = classify_detail(["前台态度差，房间有点冷"])
    assert d.category_scores["quality"] < Lexicon.CATEGORY_WORD
    assert one("前台态度差，房间有点冷", rating=1)["primary_category"] == "service"


@pytest.mark.parametrize(("text", "category"), [
    ("客服冷冰冰的，问了也不理", "service"),  # attitude, not the product
    ("售后服务不到位，等了三天没人联系", "service"),
    ("卖完了也不说一声，直接取消订单", "service"),
    ("下单一周才收到，太慢", "logistics"),
    ("外包装皱巴巴的，很差", "logistics"),
    ("比较重，背着不方便", "other"),  # heavy is taste, not fit (categories.md: other)
    ("边框太宽，看着很别扭", "size"),
    ("摄像头不是号称的500万像素", "description"),
    ("要另收停车费，很不合理", "price"),
    ("这种房也就值一百块", "price"),
    ("说是四星级，设施跟招待所一样", "quality"),
    ("按键松松垮垮，接触不良", "quality"),
    ("绘本画得很一般，孩子不爱看", "quality"),
])
def test_shop_complaint_words_name_their_category(text, category):
    assert one(text, rating=1)["primary_category"] == category


def test_code_words_are_not_size():
    # 码 (size topic) inside 密码 / 二维码 names no size complaint
    assert one("密码总是提示不对，很烦", rating=1)["primary_category"] != "size"
    assert one("扫二维码扫不出来，差劲", rating=1)["primary_category"] != "size"


@pytest.mark.parametrize("text", ["挺好的，不过我要投诉", "打12315了", "再不退款就去消协", "非常满意，好评返现"])
def test_alarm_words_always_make_a_review_negative(text):
    _, (detail,) = classify_detail([text])
    assert detail.alarm, text
    assert one(text)["is_negative"]


def test_negated_alarm_is_no_alarm():
    _, (detail,) = classify_detail(["东西不错，不会投诉的"])
    assert detail.alarm == ()
    assert not one("东西不错，不会投诉的")["is_negative"]


def test_malicious_alarm_names_its_category():
    row = one("不给钱就给差评，同行恶意竞争")
    assert row["is_negative"] and row["primary_category"] == "malicious"


def test_guard_words_keep_shorter_words_out():
    assert not one("出差住了两晚，挺好")["is_negative"]  # 出差 is not 差
    assert not one("不仅便宜而且好用")["is_negative"]  # 不仅 does not negate 便宜


def test_doc_example():
    out = classify(["物流太慢了，等了一周", "很好，下次还来"])
    assert out[["is_negative", "primary_category"]].values.tolist() == [[True, "logistics"], [False, ""]]


# ------------------------------------------------------------------ ratings
@pytest.mark.parametrize(("rating", "negative"), [
    (1, True), (2, True), (3, True), (4, False), (5, False), (1.0, True), (np.int64(2), True),
    ("1星", True), ("4星", False), ("5", False), ("差评", True), ("中评", True), ("好评", False),
    (None, False), (float("nan"), False), (pd.NA, False), ("", False), ("很好", False), (0, False), (6, False),
    (True, False),
])
def test_rating_forms(rating, negative):
    assert rating_is_negative(rating) is negative
    assert bool(classify(["收到了"], [rating])["is_negative"].iloc[0]) is negative


def test_rating_labels_for_training():
    assert [rating_label(r) for r in (1, 2, 3, 4, 5, "差评", "中评", "好评", None)] == [1, 1, None, 0, 0, 1, None, 0,
                                                                                     None]


def test_policy_star_limit_is_used():
    data = json.loads(default_policy().to_json())
    data["tables"]["settings"] = [r for r in data["tables"]["settings"] if r["key"] != "rating_negative_max_stars"]
    data["tables"]["settings"].append({"key": "rating_negative_max_stars", "value": "2", "note": None})
    strict = Policy.from_json(json.dumps(data))
    assert classify(["收到了"], [3])["is_negative"].iloc[0]
    assert not classify(["收到了"], [3], policy=strict)["is_negative"].iloc[0]


def test_mismatched_ratings_length_is_a_config_error():
    with pytest.raises(ConfigError, match="2 ratings for 3 texts"):
        classify(["a", "b", "c"], [1, 5])


# ------------------------------------------------------------------ input shapes
def test_order_is_preserved():
    texts = ["很好", "质量太差", "", "物流太慢", "满意"] * 3
    out = classify(texts)
    assert out["is_negative"].tolist() == [False, True, False, True, False] * 3
    assert out["primary_category"].tolist() == ["", "quality", "", "logistics", ""] * 3


def test_empty_and_missing_texts():
    out = classify(["", None, float("nan"), pd.NA, "   "])
    assert out["is_negative"].tolist() == [False] * 5
    assert out["negative_score"].tolist()[:4] == [0.0] * 4
    assert classify([]).shape == (0, 4)
    assert list(classify([]).columns) == list(CLASSIFY_COLUMNS)


def test_full_width_and_case_are_normalised():
    assert normalize_text("ＯＫ，ＸＰ　系统！") == "ok,xp 系统!"
    _, (detail,) = classify_detail(["性价比高！ＯＫ"])
    assert "ok" in detail.positive_hits
    assert one("Ｖｉｓｔａ系统太差！")["primary_category"] == "quality"


@pytest.mark.parametrize("make", [list, tuple, pd.Series, np.array, pd.Index, iter])
def test_sequence_types(make):
    texts = ["质量太差", "很好"]
    out = classify(make(texts))
    assert out["is_negative"].tolist() == [True, False]
    assert list(out.columns) == list(CLASSIFY_COLUMNS)
    assert out["is_negative"].dtype == bool


def test_one_string_is_one_text():
    out = classify("物流太慢")
    assert len(out) == 1 and out["primary_category"].iloc[0] == "logistics"


def test_non_string_values_are_text():
    out = classify([12315, 3.5])
    assert out["is_negative"].tolist() == [True, False]  # 12315 is an alarm word


def test_ratings_as_series_and_array():
    texts = ["收到了", "收到了"]
    assert classify(texts, pd.Series([1, 5]))["is_negative"].tolist() == [True, False]
    assert classify(texts, np.array(["差评", "好评"]))["is_negative"].tolist() == [True, False]


def test_detail_matches_classify():
    texts = ["物流太慢", "很好", "没有破损", "质量不错，但是客服不理人"]
    frame, details = classify_detail(texts)
    pd.testing.assert_frame_equal(frame, classify(texts))
    assert all(isinstance(d, TextResult) for d in details)
    assert [round(d.score, 4) for d in details] == frame["negative_score"].tolist()


# ------------------------------------------------------------------ lexicon
def test_shipped_lexicon_loads_and_is_valid():
    pol = default_policy()
    rows = pol.keywords()
    assert len(rows) > 500
    words = [r["word"] for r in rows]
    assert len(words) == len(set(words))
    for r in rows:
        assert r["word"].strip() == r["word"] and r["word"], r
        assert r["kind"] in KEYWORD_KINDS, r
        assert r["category"] is None or r["category"] in CATEGORY_CODES, r
        assert r["weight"] >= 0 and math.isfinite(r["weight"]), r
        if r["kind"] == "topic" and r["weight"] > 0:
            assert r["category"], r  # a topic without a category would do nothing
    kinds = {r["kind"] for r in rows}
    assert kinds == set(KEYWORD_KINDS)
    named = {r["category"] for r in rows if r["category"] and r["weight"] > 0}
    assert named == set(CATEGORY_CODES) - {"other"} | ({"other"} & named)
    for shop_word in ("物流", "尺码", "漏发", "色差", "客服", "发错", "起球", "退货"):
        assert shop_word in words, shop_word
    Lexicon(pol)  # compiles


def test_lexicon_file_is_normalised():
    # words are matched on normalised text: a word that normalisation changes would never match
    for r in default_policy().keywords():
        assert normalize_text(r["word"]) == r["word"], r["word"]


def test_edited_lexicon_is_used():
    data = json.loads(default_policy().to_json())
    data["tables"]["keywords"].append({"word": "跑路", "kind": "negative", "category": "service", "weight": 3.0})
    edited = Policy.from_json(json.dumps(data))
    # 店家跑路 (the shop has vanished) is a concrete complaint, so negative per categories.md; the default
    # model already says so (issue 18). The edit is what puts the word among the lexicon's hits and names
    # its category.
    _, (before,) = classify_detail(["店家跑路"])
    assert "跑路" not in before.negative_hits
    _, (after,) = classify_detail(["店家跑路"], policy=edited)
    assert "跑路" in after.negative_hits and after.category_hits.get("service") == ("跑路",)
    row = one("店家跑路", policy=edited)
    assert row["is_negative"] and row["primary_category"] == "service"
    assert Lexicon.for_policy(edited) is Lexicon.for_policy(edited)


# ------------------------------------------------------------------ processes
def test_parallel_batches_equal_one_process(monkeypatch):
    base = ["物流太慢", "很好，满意", "", None, "质量不错，但是客服不理人", "尺码偏小", "打12315", "还行吧"]
    texts = [f"{t}{i % 7}" if isinstance(t, str) else t for i in range(600) for t in base]
    ratings = [(i % 6) or None for i in range(len(texts))]
    monkeypatch.setenv("REVIEWOPS_CLASSIFY_PROCESSES", "1")
    single = classify(texts, ratings)
    monkeypatch.setattr(classify_module, "PARALLEL_MIN_TEXTS", 400)
    monkeypatch.setenv("REVIEWOPS_CLASSIFY_PROCESSES", "3")
    if threading.active_count() == 1:
        assert classify_module._processes(len(texts)) == 3
    pd.testing.assert_frame_equal(classify(texts, ratings), single)
    monkeypatch.setenv("REVIEWOPS_CLASSIFY_PROCESSES", "1")
    assert classify_module._processes(len(texts)) == 1


# ------------------------------------------------------------------ properties
_review_chars = hst.sampled_from(list("质量太差物流慢快好很不没有但是虽然客服尺码偏小大少发错色差贵投诉！？，。 ~…ＡａＯＫ12"))
_reviews = hst.one_of(hst.none(), hst.just(float("nan")), hst.text(_review_chars, max_size=30),
                      hst.text(max_size=20))


@settings(max_examples=150, deadline=None)
@given(texts=hst.lists(_reviews, max_size=25),
       stars=hst.lists(hst.one_of(hst.none(), hst.integers(1, 5), hst.sampled_from(["差评", "好评", "中评"])),
                       max_size=25))
def test_output_contract(texts, stars):
    ratings = (stars * (len(texts) // max(len(stars), 1) + 1))[:len(texts)] if stars else None
    out = classify(texts, ratings)
    assert list(out.columns) == list(CLASSIFY_COLUMNS)
    assert len(out) == len(texts)
    scores = out["negative_score"].to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all()
    for neg, primary, cats in out[["is_negative", "primary_category", "categories"]].itertuples(index=False):
        assert primary in CATEGORY_CODES or primary == ""
        if neg:
            assert primary and cats.split(";")[0] == primary
            assert set(cats.split(";")) <= set(CATEGORY_CODES)
            assert len(set(cats.split(";"))) == len(cats.split(";"))
        else:
            assert primary == "" and cats == ""
    if ratings is not None:
        for r, neg in zip(ratings, out["is_negative"]):
            if r in (1, 2, 3, "差评", "中评"):
                assert neg


@settings(max_examples=300, deadline=None)
@given(hst.text(max_size=40))
def test_normalize_text_is_nfkc_lower(text):
    assert normalize_text(text) == unicodedata.normalize("NFKC", text).lower()


@settings(max_examples=100, deadline=None)
@given(hst.text(_review_chars, max_size=30))
def test_order_and_batching_do_not_change_a_row(text):
    alone = classify([text]).iloc[0].tolist()
    among = classify(["很好", text, "物流太慢"]).iloc[1].tolist()
    assert alone == among


# ----------------------------------------------------------- the pure-Python matcher (xlwings Lite, no C extension)
_LEX_WORDS = [r["word"] for r in default_policy().tables["keywords"]]


@settings(max_examples=300, deadline=None)
@given(parts=hst.lists(hst.one_of(hst.sampled_from(_LEX_WORDS), hst.sampled_from(list("，。！？的了不很就是但 ab1")),
                                  hst.text(max_size=3)), max_size=14))
def test_regex_matcher_finds_what_pyahocorasick_finds(parts):
    from reviewops.grading.lexicon import Lexicon

    policy = default_policy()
    text = "".join(parts)
    fast, pure = Lexicon(policy, matcher="ahocorasick"), Lexicon(policy, matcher="regex")
    assert list(pure._iter_long(text)) == list(fast._iter_long(text))


def test_classify_works_without_pyahocorasick(monkeypatch):
    import sys

    from reviewops.grading.lexicon import Lexicon, RegexMatcher

    texts = ["物流太慢了，等了十天", "质量很好，下次还来", "客服态度差，不给退款就差评", "", "尺码偏小"]
    want = classify(texts, [1, 5, 2, None, 3])
    monkeypatch.setitem(sys.modules, "ahocorasick", None)  # as in Pyodide: the import fails
    monkeypatch.setattr(Lexicon, "_cache", {})
    lex = Lexicon.for_policy(default_policy())
    assert isinstance(lex._automaton, RegexMatcher)
    pd.testing.assert_frame_equal(classify(texts, [1, 5, 2, None, 3]), want)
    with pytest.raises(ImportError):
        Lexicon(default_policy(), matcher="ahocorasick")


def test_a_short_word_that_ends_the_text_is_read():
    """pyahocorasick's iter_long drops a short word ending the text while a longer word is partly matched
    (就好 of 干净就好 with longer 就好… words in the lexicon): the reader appends a sentinel, so the
    C matcher and the pure-Python one read the final 好 alike."""
    from reviewops.core.policy import default_policy
    from reviewops.grading.lexicon import Lexicon, normalize_text

    text = normalize_text("房间还行,干净就好")
    for matcher in ("ahocorasick", "regex"):
        hits = Lexicon(default_policy(), matcher=matcher).read(text).positive_hits
        assert hits[-1] == "好", (matcher, hits)
