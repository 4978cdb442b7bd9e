"""TextModel: the vectorised n-gram features, fitting from ratings, the category head, storage."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewops import ModelError, NotFound, TextModel, classify
from reviewops.grading.lexicon import rating_label
from reviewops.grading.textmodel import _design, _linear_scores, hashed_ngrams

NEG = ["质量太差了，用两天就坏", "物流慢得要死，等了十天", "完全不能用，垃圾", "客服态度恶劣，不理人", "颜色发错了，很失望",
       "尺码偏小根本穿不上", "垃圾产品千万别买", "做工粗糙，线头很多", "收到就是坏的，退货", "味道刺鼻，不敢用"]
POS = ["很好很满意，推荐", "物流很快，包装完好", "质量不错，值得购买", "客服耐心周到，点赞", "颜色正，尺码准",
       "物超所值，会回购", "非常喜欢，好评", "做工精致，手感好", "收到很惊喜，超棒", "味道清新，很好用"]


def _corpus(repeat: int = 4) -> tuple[list[str], list[object]]:
    texts, ratings = [], []
    for k in range(repeat):
        for t in NEG:
            texts.append(t + "！" * k)
            ratings.append([1, 2, "差评", "1星"][k % 4])
        for t in POS:
            texts.append(t + "～" * k)
            ratings.append([5, 4, "好评", "5星"][k % 4])
    return texts, ratings


@pytest.fixture(scope="module")
def model() -> TextModel:
    texts, ratings = _corpus()
    return TextModel.fit(texts, ratings, holdout=0)


# ------------------------------------------------------------------- features
@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=12), st.integers(6, 14))
def test_batch_features_equal_per_text_features(texts, bits):
    """No n-gram spans two texts: a batch gives exactly the features of each text alone."""
    doc, feat, counts = hashed_ngrams(texts, bits)
    for i, t in enumerate(texts):
        _d, f_alone, c_alone = hashed_ngrams([t], bits)
        assert sorted(feat[doc == i].tolist()) == sorted(f_alone.tolist())
        assert counts[i] == c_alone[0] == (3 * len(t) + 1 if t else 0)
        assert counts[i] == int((doc == i).sum())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=10), st.integers(0, 2**31 - 1))
def test_fast_scoring_equals_the_design_matrix(texts, seed):
    """The vectorised scorer computes exactly X·w + b of the training design matrix."""
    w = np.random.default_rng(seed).standard_normal(1 << 10).astype(np.float32)
    dense = _design(texts, 10) @ w.astype(np.float64) + 0.25
    fast = _linear_scores(texts, 10, w[None, :], np.array([0.25]))[:, 0]
    np.testing.assert_allclose(fast, dense, rtol=1e-6, atol=1e-6)


def test_features_distinguish_order_and_boundaries():
    _, a, _ = hashed_ngrams(["不好"], 20)
    _, b, _ = hashed_ngrams(["好不"], 20)
    assert sorted(a.tolist()) != sorted(b.tolist())


# --------------------------------------------------------------------- fitting
def test_rating_labels():
    assert [rating_label(r) for r in (1, 2, 3, 4, 5, "差评", "中评", "好评", "2星", None, "abc", 0, 6)] == \
        [1, 1, None, 0, 0, 1, None, 0, 1, None, None, None, None]


def test_fitted_model_separates_unseen_sentences(model):
    scores = model.predict_scores(["这个质量太差了", "物流很快，很满意", "", None])
    assert scores[0] > 0.5 > scores[1]
    assert scores[2] == scores[3] == 0.0
    assert model.meta["n_negative"] == model.meta["n_positive"] == 40


def test_fit_is_deterministic():
    texts, ratings = _corpus(6)  # ≥ 100 reviews: a holdout is scored
    a = TextModel.fit(texts, ratings)
    b = TextModel.fit(texts, ratings)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.meta["holdout"] == b.meta["holdout"]


def test_three_stars_and_neutral_are_not_training_labels():
    texts, ratings = _corpus()
    m = TextModel.fit(texts + ["中评随便写"] * 10 + ["三星"] * 10, ratings + ["中评"] * 10 + [3] * 10, holdout=0)
    assert m.meta["n_train"] == len(texts)


def test_too_few_reviews_is_a_clear_error():
    with pytest.raises(ModelError, match=r"差评（1–2星）3 条.*至少需要 20"):
        TextModel.fit(["差"] * 3 + ["好"] * 30, [1] * 3 + [5] * 30)
    with pytest.raises(ModelError, match="数量不一致"):
        TextModel.fit(["a", "b"], [1])


def test_classify_uses_the_model_and_alarm_words_still_count(model):
    out = classify(["质量太差了", "很满意，好评", "挺好的，不过我要投诉到12315"], model=model)
    assert list(out["is_negative"]) == [True, False, True]
    assert out["negative_score"].between(0, 1).all()


def test_category_head_learns_operator_labels():
    texts, ratings = _corpus(6)
    cats = []
    for t, r in zip(texts, ratings):
        cats.append("logistics" if "物流" in t and rating_label(r) == 1 else
                    "quality" if rating_label(r) == 1 else None)
    m = TextModel.fit(texts, ratings, categories=cats, holdout=0)
    assert m.cat_labels == ("logistics", "quality")
    assert m.predict_categories(["物流慢得要死，等了十天"]) == ["logistics"]
    out = classify(["物流慢得要死，等了十天"], model=m)
    assert out.loc[0, "primary_category"] == "logistics"
    with pytest.raises(ModelError, match="未知分类"):
        TextModel.fit(texts, ratings, categories=["shipping"] * len(texts))


def test_no_category_head_without_enough_labels(model):
    assert model.predict_categories(["任何文本"]) is None


# --------------------------------------------------------------------- storage
def test_bytes_round_trip_without_pickles(model):
    blob = model.to_bytes()
    again = TextModel.from_bytes(blob)
    texts = ["质量太差了", "很好", "物流慢"]
    np.testing.assert_array_equal(model.predict_scores(texts), again.predict_scores(texts))
    assert again.meta == model.meta
    with pytest.raises(ModelError, match="无法读取"):
        TextModel.from_bytes(b"not a model")


def test_store_versions_and_checksum(store, model):
    from reviewops.core.store import text_models

    assert TextModel.load(store) is None
    assert model.save(store, actor="t") == 1
    assert model.save(store, actor="t", note="again") == 2
    loaded = TextModel.load(store)
    assert loaded is not None and loaded.version == 2
    np.testing.assert_array_equal(loaded.predict_scores(["质量太差了"]), model.predict_scores(["质量太差了"]))
    assert TextModel.load(store, 1).version == 1
    with pytest.raises(NotFound):
        TextModel.load(store, 9)
    with store.write() as conn:
        conn.execute(sa.update(text_models).where(text_models.c.version == 2).values(blob=b"tampered"))
    with pytest.raises(ModelError, match="校验失败"):
        TextModel.load(store)


def test_lexicon_feature_carries_complaint_words_the_shop_data_never_showed():
    neg = ["物流太慢了", "快递慢死了", "发货太慢", "等了十天才到", "物流一直不更新"]
    pos = ["物流很快", "快递很给力", "发货神速", "第二天就到了", "物流速度快"]
    texts = [t + "!" * k for k in range(5) for t in neg + pos]
    ratings = [1 if i % 10 < 5 else 5 for i in range(len(texts))]
    with_lex = TextModel.fit(texts, ratings, holdout=0)
    plain = TextModel.fit(texts, ratings, holdout=0, use_lexicon=False)
    assert with_lex.lex_weight > 0 and plain.lex_weight == 0.0
    unseen = ["客服态度恶劣，质量太差，垃圾", "颜色正，做工精致，非常喜欢"]
    s_lex, s_plain = with_lex.predict_scores(unseen), plain.predict_scores(unseen)
    assert s_lex[0] > 0.5 > s_lex[1]
    assert s_lex[0] - s_lex[1] > s_plain[0] - s_plain[1]
    again = TextModel.from_bytes(with_lex.to_bytes())
    assert again.lex_weight == with_lex.lex_weight
    np.testing.assert_array_equal(again.predict_scores(unseen), s_lex)
