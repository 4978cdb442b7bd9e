"""A text model learned from the shop's own rated reviews.

:class:`TextModel` is a logistic regression over hashed character n-grams
(1–3 characters, including the start and end of the text). Characters beat
words for short, informal Chinese reviews: no segmenter to keep in step, and
negations such as 不好/不错 are bigrams the model sees directly.

* **Training labels** come from ratings: 1–2 stars or 差评 → negative, 4–5 stars
  or 好评 → positive; 3 stars and 中评 are left out (:func:`~reviewops.grading.lexicon.rating_label`).
  Optional category labels (operators' corrected categories) train a second,
  multi-class head that then names the primary category.
* **Features** are computed for a whole batch at once with numpy (no Python loop
  per character), so scoring runs at hundreds of thousands of reviews a second.
  Each review's n-gram counts are divided by the square root of its n-gram total.
* **The lexicon's opinion is one more feature**: the policy lexicon's score (as a logit)
  enters the regression next to the n-grams. A model learned from one shop's reviews then
  still knows complaint words its own data never showed — on real reviews this lifted F1
  from 0.78 to 0.86 when training and test reviews came from different kinds of shop
  (docs/accuracy.md), and slightly in-domain. The policy's SHA-256 is kept in ``meta``.
* **Storage** is plain arrays (``numpy.savez`` without pickles) in the store's
  ``text_models`` table, versioned; :meth:`TextModel.save` / :meth:`TextModel.load`.

:class:`CategoryModel` is the shipped default model (issue 18; :func:`default_model`): a negative head
and one-vs-rest category heads over the same hashed n-grams plus :func:`lexicon_features`, trained on
the hand-labelled corpus by ``benchmarks/train_default_model.py`` (scikit-learn there only) and scored
here with numpy. Its files are ``data/default_model.npz`` (arrays) + ``.json`` (version, features,
training-data sha256, DEV figures); ``data/trained_sha1.tsv`` lists every text it was trained or tuned on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..core.errors import ModelError
from ..intake.clean import RATING_CLASS_ZH
from .lexicon import _as_list, normalize_text, rating_label

__all__ = ["CategoryModel", "TextModel", "default_model", "hashed_ngrams", "lexicon_features"]

_P1 = np.uint32(0x9E3779B1)
_P2 = np.uint32(0x85EBCA77)
_P3 = np.uint32(0xC2B2AE3D)
_Q = np.uint32(0x27D4EB2F)
_CAT_BITS = 18
MIN_PER_CLASS = 20
MIN_PER_CATEGORY = 5


def _positions(norm_texts: Sequence[str], n_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Per character position of the joined batch: the hashed 1-, 2- and 3-gram starting there.

    Returns ``(f1, f2, f3, doc, counts)``. The batch is joined as ``␀t0␀t1␀…␀``;
    n-grams that are not features (a lone separator, two separators, a trigram
    spanning two texts) get the index ``2**n_bits`` — one past the last feature,
    whose weight is always 0. ``doc`` maps each position to its text (the
    trailing separator maps to ``len(norm_texts)``), and ``counts`` is the number
    of n-grams per text: ``3·len + 1`` (0 for an empty text).
    """
    joined = "\x00" + "\x00".join(t.replace("\x00", " ") for t in norm_texts) + "\x00"
    c = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    sep = c == 0
    doc = np.cumsum(sep, dtype=np.int32) - 1
    shift = np.uint32(32 - n_bits)
    none = np.uint32(1 << n_bits)
    with np.errstate(over="ignore"):
        h1 = c * _P1
        h2 = (h1[:-1] + c[1:] * _Q) * _P2
        h3 = (h2[:-1] + c[2:] * _Q) * _P3
    f1 = np.where(sep, none, h1 >> shift)
    f2 = np.where(sep[:-1] & sep[1:], none, h2 >> shift)
    f3 = np.where(sep[1:-1], none, h3 >> shift)
    lengths = np.fromiter(map(len, norm_texts), dtype=np.int64, count=len(norm_texts))
    counts = np.where(lengths > 0, 3 * lengths + 1, 0)
    return f1, f2, f3, doc, counts


def hashed_ngrams(norm_texts: Sequence[str], n_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashed character 1–3-grams of a batch: ``(doc, feature, ngrams_per_doc)``.

    ``doc`` and ``feature`` are parallel int64 arrays (one entry per n-gram
    occurrence); ``ngrams_per_doc`` counts them per text. Text boundaries take
    part in bigrams and trigrams (``^a``, ``ab$``); no n-gram spans two texts.
    """
    n = len(norm_texts)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.zeros(0, np.int64)
    f1, f2, f3, doc, counts = _positions(norm_texts, n_bits)
    none = 1 << n_bits
    docs, feats = [], []
    for f, d in ((f1, doc), (f2, doc[:-1]), (f3, doc[:-2])):
        ok = f != none
        docs.append(d[ok])
        feats.append(f[ok])
    d_all = np.concatenate(docs).astype(np.int64)
    f_all = np.concatenate(feats).astype(np.int64)
    keep = d_all < n
    return d_all[keep], f_all[keep], counts


def _design(norm_texts: Sequence[str], n_bits: int) -> Any:
    from scipy import sparse

    doc, feat, counts = hashed_ngrams(norm_texts, n_bits)
    vals = 1.0 / np.sqrt(np.maximum(counts, 1))[doc]
    m = sparse.csr_matrix((vals, (doc, feat)), shape=(len(norm_texts), 1 << n_bits), dtype=np.float64)
    m.sum_duplicates()
    return m


def _linear_scores(norm_texts: Sequence[str], n_bits: int, weights: np.ndarray, bias: np.ndarray,
                   mask_bits: int | None = None) -> np.ndarray:
    """Decision values for k heads: weights (k, 2**bits) → (n, k), one gather per n-gram order."""
    n = len(norm_texts)
    out = np.empty((n, weights.shape[0]))
    if n == 0:
        return out
    f1, f2, f3, doc, counts = _positions(norm_texts, n_bits)
    if mask_bits is not None:  # the category head uses the top mask_bits bits; "none" maps past its end too
        drop = np.uint32(n_bits - mask_bits)
        f1, f2, f3 = f1 >> drop, f2 >> drop, f3 >> drop
    norm = 1.0 / np.sqrt(np.maximum(counts, 1))
    for k in range(weights.shape[0]):
        w = np.append(weights[k], np.float32(0))  # index 2**bits: "not a feature"
        s = w[f1]
        s[:-1] += w[f2]
        s[:-2] += w[f3]
        out[:, k] = np.bincount(doc, weights=s, minlength=n + 1)[:n] * norm + bias[k]
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class TextModel:
    """A fitted negative-text model (plus an optional category head). Build with :meth:`fit` or :meth:`load`."""

    weights: np.ndarray  # float32, 2**n_bits
    bias: float
    n_bits: int = 20
    cat_labels: tuple[str, ...] = ()
    cat_weights: np.ndarray | None = None  # float32, (k, 2**_CAT_BITS)
    cat_bias: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    lex_weight: float = 0.0  # coefficient of the lexicon-score feature (logit of the lexicon's 0–1 score)

    # ---------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, texts: Iterable[Any], ratings: Iterable[Any], *, categories: Iterable[Any] | None = None,
            policy: Any = None, use_lexicon: bool = True, C: float = 4.0, n_bits: int = 20, holdout: float = 0.2,
            seed: int = 0) -> "TextModel":
        """Learn from rated reviews.

        ``ratings``: one per text — stars (1–5) or 好评/中评/差评; 1–2 stars and 差评 are
        negative, 4–5 and 好评 positive, 3 stars / 中评 / unknown are not used.
        ``categories``: optional SPEC codes (operators' corrections); None/"" where unknown.
        ``policy``: whose lexicon gives the extra lexicon-score feature (default policy when
        None); ``use_lexicon=False`` leaves that feature out (n-grams only).
        A stratified ``holdout`` share is scored first and reported in ``meta["holdout"]``;
        the returned model is then refitted on everything. Raises :class:`ModelError`
        when fewer than 20 negative or 20 positive reviews are usable.
        """
        from sklearn.linear_model import LogisticRegression

        items = _as_list(texts)
        rating_list = _as_list(ratings)
        if len(items) != len(rating_list):
            raise ModelError(f"评价 {len(items)} 条，评分 {len(rating_list)} 个，数量不一致 / {len(items)} texts but "
                             f"{len(rating_list)} ratings; give one rating per text")
        labels = [rating_label(r) for r in rating_list]
        use = [i for i, (t, y) in enumerate(zip(items, labels)) if y is not None and normalize_text(t).strip()]
        y = np.array([labels[i] for i in use], dtype=np.int8)
        n_neg, n_pos = int((y == 1).sum()), int((y == 0).sum())
        if n_neg < MIN_PER_CLASS or n_pos < MIN_PER_CLASS:
            raise ModelError(
                f"可用于训练的评价不足：差评（1–2星）{n_neg} 条、好评（4–5星）{n_pos} 条，各至少需要 {MIN_PER_CLASS} 条。"
                f"请先导入更多带评分的评价。\nNot enough rated reviews to train: {n_neg} negative (1–2 stars) and "
                f"{n_pos} positive (4–5 stars); at least {MIN_PER_CLASS} of each are needed. Import more rated reviews."
            )
        norm = [normalize_text(items[i]) for i in use]
        X = _design(norm, n_bits)
        lex_col = None
        if use_lexicon:
            from scipy import sparse

            from ..core.policy import default_policy

            policy = policy or default_policy()
            lex_col = _lexicon_logit(_lexicon_scores(norm, policy))
            X = sparse.hstack([X, sparse.csr_matrix(lex_col[:, None])], format="csr")
        meta: dict[str, Any] = {"n_train": len(use), "n_negative": n_neg, "n_positive": n_pos, "C": C,
                                "ngrams": "char 1-3", "features": f"2^{n_bits}" + (" + lexicon" if use_lexicon else "")}
        if use_lexicon:
            meta["policy_sha256"] = policy.sha256
        rng = np.random.default_rng(seed)
        if holdout and len(use) >= 100:
            test_mask = np.zeros(len(use), dtype=bool)
            for cls_ in (0, 1):
                idx = np.flatnonzero(y == cls_)
                k = max(1, int(round(len(idx) * holdout)))
                test_mask[rng.choice(idx, size=k, replace=False)] = True
            lr = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=1000)
            lr.fit(X[~test_mask], y[~test_mask])
            pred = lr.predict(X[test_mask])
            meta["holdout"] = _binary_metrics(y[test_mask], pred)
        lr = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=1000)
        lr.fit(X, y)
        coef = lr.coef_[0]
        model = cls(weights=coef[:1 << n_bits].astype(np.float32), bias=float(lr.intercept_[0]), n_bits=n_bits,
                    meta=meta, lex_weight=float(coef[1 << n_bits]) if use_lexicon else 0.0)
        if categories is not None:
            model._fit_categories(items, _as_list(categories), C=C)
        meta["fitted_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return model

    def _fit_categories(self, items: list[Any], cats: list[Any], *, C: float) -> None:
        from sklearn.linear_model import LogisticRegression

        from ..core.policy import CATEGORY_CODES

        if len(cats) != len(items):
            raise ModelError(f"分类标签 {len(cats)} 个与评价 {len(items)} 条不一致 / {len(cats)} category labels for "
                             f"{len(items)} texts")
        bad = sorted({str(c) for c in cats if c not in (None, "") and c == c and c not in CATEGORY_CODES})
        if bad:
            raise ModelError(f"未知分类 {bad}；可用：{', '.join(CATEGORY_CODES)} / unknown category codes {bad}")
        rows = [(normalize_text(t), c) for t, c in zip(items, cats) if c not in (None, "") and c == c]
        counts: dict[str, int] = {}
        for _, c in rows:
            counts[c] = counts.get(c, 0) + 1
        labels = tuple(sorted(c for c, k in counts.items() if k >= MIN_PER_CATEGORY))
        self.meta["category_label_counts"] = counts
        if len(labels) < 2:
            return  # not enough corrected labels yet: categories stay with the lexicon
        rows = [(t, c) for t, c in rows if c in labels]
        X = _design([t for t, _ in rows], _CAT_BITS)
        y = np.array([labels.index(c) for _, c in rows])
        lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
        lr.fit(X, y)
        coef = lr.coef_ if len(labels) > 2 else np.vstack([-lr.coef_[0], lr.coef_[0]])
        inter = lr.intercept_ if len(labels) > 2 else np.array([-lr.intercept_[0], lr.intercept_[0]])
        self.cat_labels = labels
        self.cat_weights = coef.astype(np.float32)
        self.cat_bias = inter.astype(np.float64)

    # --------------------------------------------------------------- predict
    def predict_scores(self, texts: Iterable[Any] | str, *, normalized: bool = False,
                       lexicon_scores: np.ndarray | None = None, policy: Any = None) -> np.ndarray:
        """Probability that each text is negative (0–1), in order.

        ``lexicon_scores``: the lexicon's 0–1 scores of the same texts when the caller has
        them already (``classify`` does); otherwise they are computed with ``policy``
        (default: the default policy).
        """
        items = _as_list(texts)
        norm = items if normalized else [normalize_text(t) for t in items]
        dec = _linear_scores(norm, self.n_bits, self.weights[None, :], np.array([self.bias]))[:, 0]
        if self.lex_weight:
            if lexicon_scores is None:
                from ..core.policy import default_policy

                lexicon_scores = _lexicon_scores(norm, policy or default_policy())
            dec = dec + self.lex_weight * _lexicon_logit(np.asarray(lexicon_scores, dtype=float))
        empty = np.fromiter((not t.strip() for t in norm), dtype=bool, count=len(norm))
        out = _sigmoid(dec)
        out[empty] = 0.0
        return out

    def predict_categories(self, texts: Iterable[Any] | str, *, normalized: bool = False) -> list[str] | None:
        """The category head's primary category per text, or None when the model has no head."""
        if self.cat_weights is None or self.cat_bias is None:
            return None
        items = _as_list(texts)
        norm = items if normalized else [normalize_text(t) for t in items]
        dec = _linear_scores(norm, self.n_bits, self.cat_weights, self.cat_bias, mask_bits=_CAT_BITS)
        return [self.cat_labels[k] for k in dec.argmax(axis=1)]

    # ------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """The model as an ``.npz`` archive (sparse weights, JSON metadata; no pickles)."""
        nz = np.flatnonzero(self.weights)
        arrays: dict[str, np.ndarray] = {
            "w_idx": nz.astype(np.int32), "w_val": self.weights[nz].astype(np.float32),
            "bias": np.array([self.bias]), "n_bits": np.array([self.n_bits]), "lex_weight": np.array([self.lex_weight]),
            "meta": np.frombuffer(json.dumps(self.meta, ensure_ascii=False, default=str).encode("utf-8"),
                                  dtype=np.uint8),
        }
        if self.cat_weights is not None and self.cat_bias is not None:
            k_idx, f_idx = np.nonzero(self.cat_weights)
            arrays.update({"c_k": k_idx.astype(np.int16), "c_f": f_idx.astype(np.int32),
                           "c_val": self.cat_weights[k_idx, f_idx].astype(np.float32), "c_bias": self.cat_bias,
                           "c_labels": np.frombuffer(";".join(self.cat_labels).encode("utf-8"), dtype=np.uint8)})
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, *, version: int | None = None) -> "TextModel":
        try:
            z = np.load(io.BytesIO(blob), allow_pickle=False)
            n_bits = int(z["n_bits"][0])
            w = np.zeros(1 << n_bits, dtype=np.float32)
            w[z["w_idx"]] = z["w_val"]
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            lex_weight = float(z["lex_weight"][0]) if "lex_weight" in z else 0.0
            model = cls(weights=w, bias=float(z["bias"][0]), n_bits=n_bits, meta=meta, version=version,
                        lex_weight=lex_weight)
            if "c_k" in z:
                labels = tuple(bytes(z["c_labels"]).decode("utf-8").split(";"))
                cw = np.zeros((len(labels), 1 << _CAT_BITS), dtype=np.float32)
                cw[z["c_k"].astype(np.int64), z["c_f"]] = z["c_val"]
                model.cat_labels, model.cat_weights, model.cat_bias = labels, cw, np.asarray(z["c_bias"])
            return model
        except (ValueError, KeyError, OSError) as e:
            raise ModelError(f"模型数据无法读取（{e}）；请用 reviewops train 重新训练 / the stored model cannot be read "
                             f"({e}); retrain with `reviewops train`") from None

    def save(self, store: Any, *, actor: str, note: str | None = None) -> int:
        """Store the model as a new version; returns the version number."""
        from ..core.store import text_models, utcnow

        blob = self.to_bytes()
        with store.write() as conn:
            last = conn.execute(sa.select(sa.func.max(text_models.c.version))).scalar()
            version = 1 if last is None else int(last) + 1
            conn.execute(text_models.insert().values(
                version=version, created_at=utcnow(), created_by=actor, note=note,
                n_train=int(self.meta.get("n_train", 0)), metrics_json=json.dumps(self.meta, ensure_ascii=False,
                                                                                  default=str),
                sha256=hashlib.sha256(blob).hexdigest(), blob=blob,
            ))
        self.version = version
        return version

    @classmethod
    def load(cls, store: Any, version: int | None = None) -> "TextModel | None":
        """The stored model ``version`` (default: newest), or None when no model has been trained."""
        from ..core.errors import NotFound
        from ..core.store import text_models

        with store.read() as conn:
            q = sa.select(text_models.c.version, text_models.c.blob, text_models.c.sha256)
            q = q.where(text_models.c.version == version) if version is not None else \
                q.order_by(text_models.c.version.desc()).limit(1)
            row = conn.execute(q).first()
        if row is None:
            if version is not None:
                raise NotFound(f"模型版本 {version} 不存在 / model version {version} does not exist")
            return None
        blob = bytes(row.blob)
        if hashlib.sha256(blob).hexdigest() != row.sha256:
            raise ModelError(f"模型 v{row.version} 校验失败（数据损坏）；请重新训练 / model v{row.version} failed its "
                             "checksum; retrain with `reviewops train`")
        return cls.from_bytes(blob, version=int(row.version))


# ------------------------------------------------------------ default model
#: The lexicon features every :class:`CategoryModel` reads, in column order: the lexicon's score as a
#: logit (÷4), the alarm flag, each category's lexicon score (capped at 6, ÷3), and a one-hot of the
#: lexicon's top-ranked category.
LEXICON_FEATURES: tuple[str, ...] = ("lex_logit", "alarm") + tuple(f"lex_{c}" for c in (
    "logistics", "quality", "size", "missing_wrong", "description", "service", "price", "malicious", "other")) + \
    tuple(f"top_{c}" for c in ("logistics", "quality", "size", "missing_wrong", "description", "service", "price",
                               "malicious", "other"))
_CODES = ("logistics", "quality", "size", "missing_wrong", "description", "service", "price", "malicious", "other")
_CODE_INDEX = {c: k for k, c in enumerate(_CODES)}
DEFAULT_MODEL_NAME = "default_model"
MODEL_FORMAT = 1


def lexicon_features(readings: Sequence[tuple[float, Any, dict[str, float]]], rank: Any) -> np.ndarray:
    """The lexicon's readings ``(score, alarm, category_scores)`` of a batch as the model's dense features.

    ``rank``: the lexicon's :meth:`~reviewops.grading.lexicon.Lexicon.rank` (ties broken by the policy's
    category priority). Columns: :data:`LEXICON_FEATURES`.
    """
    n = len(readings)
    nc = len(_CODES)
    out = np.zeros((n, 2 + 2 * nc))
    scores = np.fromiter((r[0] for r in readings), dtype=float, count=n)
    out[:, 0] = _lexicon_logit(scores) / 4.0
    out[:, 1] = np.fromiter((bool(r[1]) for r in readings), dtype=float, count=n)
    index = _CODE_INDEX
    rows_i: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    tops_i: list[int] = []
    tops_k: list[int] = []
    for i, r in enumerate(readings):
        cs = r[2]
        if not cs:
            continue
        for c, v in cs.items():
            k = index.get(c)
            if k is not None:
                rows_i.append(i)
                cols.append(2 + k)
                vals.append(v if v < 6.0 else 6.0)
        top = rank(cs)[0] if len(cs) > 1 else next(iter(cs))
        k = index.get(top)
        if k is not None:
            tops_i.append(i)
            tops_k.append(2 + nc + k)
    if rows_i:
        out[rows_i, cols] = np.asarray(vals) / 3.0
    if tops_i:
        out[tops_i, tops_k] = 1.0
    return out


def _small_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a thin ``b`` (20 rows) without BLAS: BLAS threads in forked workers on a small machine
    oversubscribe the cores (classify's process pool) and cost more than this loop."""
    out = np.zeros((a.shape[0], b.shape[1]))
    for j in range(a.shape[1]):
        col = a[:, j]
        if col.any():
            out += col[:, None] * b[j]
    return out


def _sparse_ngram_scores(norm_texts: Sequence[str], n_bits: int, table: np.ndarray, columns: np.ndarray
                         ) -> np.ndarray:
    """Σ over each text's hashed 1–3-grams of the heads' weights, divided by √(n-grams): shape (n, heads).

    ``table`` (int32, ``2**n_bits + 1``) maps a feature to its column index in ``columns`` (heads, used + 1);
    features the model does not use (and the "not a feature" index) map to the last column, which is 0.
    One lookup in ``table`` per n-gram, then per head a gather from a small table and one ``bincount``.
    """
    n = len(norm_texts)
    k = columns.shape[0]
    if n == 0:
        return np.zeros((0, k))
    f1, f2, f3, doc, counts = _positions(norm_texts, n_bits)
    i1, i2, i3 = table[f1], table[f2], table[f3]
    out = np.empty((n, k))
    for j in range(k):
        w = columns[j]
        s = w.take(i1)
        s[:-1] += w.take(i2)
        s[:-2] += w.take(i3)
        out[:, j] = np.bincount(doc, weights=s, minlength=n + 1)[:n]
    return out / np.sqrt(np.maximum(counts, 1))[:, None]


@dataclass
class CategoryModel:
    """The shipped default model: negative detection plus one-vs-rest complaint categories.

    Linear heads over hashed character 1–3-grams of :func:`normalize_text` output (only the n-grams
    the training kept, see :func:`_sparse_ngram_scores`) plus the lexicon features
    (:data:`LEXICON_FEATURES`). Head 0 is "negative"; heads 1… are the categories ``cat_labels``.
    A category head with too few training rows (``size``, ``malicious``) is a pooled head over the
    lexicon features only. The primary category is the argmax of the category logits plus
    ``offsets`` (priors tuned on DEV); a further category is listed when its probability reaches
    ``secondary``. Stored as ``.npz`` arrays (no pickles) plus a JSON header
    (``lib/reviewops/grading/data/default_model.{npz,json}``); rebuilt by
    ``python benchmarks/train_default_model.py``.
    """

    n_bits: int
    cat_labels: tuple[str, ...]
    table: np.ndarray  # uint16/int32, 2**n_bits + 1: feature -> column of ``columns`` (unused -> the last, zero column)
    columns: np.ndarray  # float32, (heads, used features + 1)
    lex_weights: np.ndarray  # float64, (len(LEXICON_FEATURES), heads)
    bias: np.ndarray  # float64, (heads,)
    offsets: np.ndarray  # float64, (categories,)
    secondary: float = 0.5
    neg_shrink: float = 0.0  # the negative head's n-gram part is weighted len / (len + neg_shrink)
    cat_shrink: float = 0.0  # the category heads' n-gram part is weighted len / (len + cat_shrink)
    tie_margin: float = 0.0  # the lexicon's first-ranked category wins when within this of the model's best
    lexicon_below: int = 0  # in a text shorter than this (characters) the lexicon's named category is the primary
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.header.get("version", ""))

    def logits(self, norm_texts: Sequence[str], lex_feats: np.ndarray, heads: slice = slice(None)) -> np.ndarray:
        """Decision values (n, heads) for normalised texts and their :func:`lexicon_features`."""
        out = _sparse_ngram_scores(norm_texts, self.n_bits, self.table, self.columns[heads])
        out += _small_matmul(lex_feats, self.lex_weights[:, heads])
        out += self.bias[heads]
        return out

    def negative_logits(self, norm_texts: Sequence[str], lex_feats: np.ndarray) -> np.ndarray:
        """The negative head's decision values. Its n-gram part counts ``len / (len + neg_shrink)``: a short
        text says little, so the lexicon's reading of it (trained on the same rows) weighs more."""
        ngram = _sparse_ngram_scores(norm_texts, self.n_bits, self.table, self.columns[0:1])[:, 0]
        if self.neg_shrink:
            lengths = np.fromiter(map(len, norm_texts), dtype=float, count=len(norm_texts))
            ngram *= lengths / (lengths + self.neg_shrink)
        return ngram + _small_matmul(lex_feats, self.lex_weights[:, :1])[:, 0] + self.bias[0]

    def negative(self, norm_texts: Sequence[str], lex_feats: np.ndarray) -> np.ndarray:
        """Probability that each text is negative (0 for an empty text)."""
        p = _sigmoid(self.negative_logits(norm_texts, lex_feats))
        p[np.fromiter((not t.strip() for t in norm_texts), dtype=bool, count=len(norm_texts))] = 0.0
        return p

    def categories(self, norm_texts: Sequence[str], lex_feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(primary index (n,), category probabilities (n, categories))`` (index into ``cat_labels``).

        The n-gram part counts ``len / (len + cat_shrink)`` (short texts lean on the lexicon features).
        The primary is the argmax of logit + offset; when the lexicon's own first-ranked category (which
        follows the codebook's "first mentioned wins a tie") is within ``tie_margin`` of that, it is taken,
        and so it is in a text shorter than ``lexicon_below`` characters (one-line shop reviews, unlike the
        corpus the model learned from, where a named complaint phrase is the better guide); a one-liner in
        which the lexicon names no complaint (一般) is ``other`` (categories.md: content-free negativity).
        """
        heads = slice(1, None)
        z = _sparse_ngram_scores(norm_texts, self.n_bits, self.table, self.columns[heads])
        if self.cat_shrink:
            lengths = np.fromiter(map(len, norm_texts), dtype=float, count=len(norm_texts))
            z *= (lengths / (lengths + self.cat_shrink))[:, None]
        z += _small_matmul(lex_feats, self.lex_weights[:, heads])
        z += self.bias[heads]
        if not len(norm_texts):
            return np.zeros(0, dtype=np.int64), _sigmoid(z)
        adj = z + self.offsets
        primary = adj.argmax(axis=1)
        if self.tie_margin or self.lexicon_below:
            nc = len(self.cat_labels)
            top_lex = lex_feats[:, 2 + nc: 2 + 2 * nc]
            has = top_lex.any(axis=1)
            lex_k = top_lex.argmax(axis=1)
            rows = np.arange(len(primary))
            close = has & (adj[rows, primary] - adj[rows, lex_k] <= self.tie_margin)
            if self.lexicon_below:
                lengths = np.fromiter(map(len, norm_texts), dtype=float, count=len(norm_texts))
                short = lengths < self.lexicon_below
                close |= has & short
                if "other" in self.cat_labels:  # a one-liner naming no complaint (一般, 差评): content-free
                    lex_k = np.where(has, lex_k, self.cat_labels.index("other"))
                    close |= short
            primary = np.where(close, lex_k, primary)
        return primary, _sigmoid(z)

    def rank(self, primary: int, probs: np.ndarray, lexicon_named: Any = ()) -> list[str]:
        """The categories of one negative review, primary first (``other`` only ever alone). A further
        category is listed when its probability reaches ``secondary`` and the lexicon names it too
        (the lexicon reads negation and contrast: 质量不错，但是物流太慢 names logistics only)."""
        labels = self.cat_labels
        first = labels[primary]
        if first == "other":
            return ["other"]
        more = [(-probs[k], k) for k in range(len(labels))
                if k != primary and probs[k] >= self.secondary and labels[k] != "other" and labels[k] in lexicon_named]
        return [first] + [labels[k] for _, k in sorted(more)]

    def rank_batch(self, primary: np.ndarray, probs: np.ndarray, lexicon_named: Sequence[Any]) -> list[list[str]]:
        """:meth:`rank` for a batch (the common case, a primary alone, without a Python loop per label)."""
        labels = self.cat_labels
        extra = probs >= self.secondary
        if len(primary):
            extra[np.arange(len(primary)), primary] = False
        if "other" in labels:
            extra[:, labels.index("other")] = False
        any_extra = extra.any(axis=1)
        out: list[list[str]] = []
        for i, k in enumerate(primary.tolist()):
            first = labels[k]
            if first == "other" or not any_extra[i]:
                out.append([first])
            else:
                out.append(self.rank(k, probs[i], lexicon_named[i]))
        return out

    # ------------------------------------------------------------ storage
    def to_files(self, npz_path: Any, json_path: Any) -> None:
        unused = self.columns.shape[1] - 1
        used = np.flatnonzero(self.table[:-1] != unused)
        np.savez_compressed(npz_path, features=used.astype(np.int32),
                            weights=self.columns[:, self.table[used]].astype(np.float32),
                            lex_weights=self.lex_weights.astype(np.float64), bias=self.bias.astype(np.float64),
                            offsets=self.offsets.astype(np.float64))
        header = dict(self.header)
        header.update({"format": MODEL_FORMAT, "n_bits": self.n_bits, "heads": ["negative", *self.cat_labels],
                       "cat_labels": list(self.cat_labels), "secondary": self.secondary,
                       "neg_shrink": self.neg_shrink, "cat_shrink": self.cat_shrink,
                       "tie_margin": self.tie_margin, "lexicon_below": self.lexicon_below,
                       "lexicon_features": list(LEXICON_FEATURES)})
        with open(npz_path, "rb") as fh:
            header["npz_sha256"] = hashlib.sha256(fh.read()).hexdigest()
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(header, fh, ensure_ascii=False, indent=1, sort_keys=True)
            fh.write("\n")

    @classmethod
    def from_files(cls, npz_path: Any, json_path: Any) -> "CategoryModel":
        try:
            with open(json_path, encoding="utf-8") as fh:
                header = json.load(fh)
            with open(npz_path, "rb") as fh:
                blob = fh.read()
            if header.get("format") != MODEL_FORMAT:
                raise ValueError(f"format {header.get('format')!r}, expected {MODEL_FORMAT}")
            if hashlib.sha256(blob).hexdigest() != header.get("npz_sha256"):
                raise ValueError("the .npz does not match the sha256 in its header")
            if list(header.get("lexicon_features", [])) != list(LEXICON_FEATURES):
                raise ValueError("the model was trained on other lexicon features")
            z = np.load(io.BytesIO(blob), allow_pickle=False)
            n_bits = int(header["n_bits"])
            feats = z["features"].astype(np.int64)
            weights = np.asarray(z["weights"], dtype=np.float32)
            # a 16-bit table (512 KiB at 2**18) stays in cache: the per-n-gram lookup is the hot loop
            table = np.full((1 << n_bits) + 1, len(feats), dtype=np.uint16 if len(feats) < 65535 else np.int32)
            table[feats] = np.arange(len(feats), dtype=np.int32)
            columns = np.zeros((weights.shape[0], len(feats) + 1), dtype=np.float32)
            columns[:, :-1] = weights
            return cls(n_bits=n_bits, cat_labels=tuple(header["cat_labels"]), table=table, columns=columns,
                       lex_weights=np.asarray(z["lex_weights"], dtype=np.float64),
                       bias=np.asarray(z["bias"], dtype=np.float64), offsets=np.asarray(z["offsets"], dtype=np.float64),
                       secondary=float(header.get("secondary", 0.5)),
                       neg_shrink=float(header.get("neg_shrink", 0.0)),
                       cat_shrink=float(header.get("cat_shrink", 0.0)),
                       tie_margin=float(header.get("tie_margin", 0.0)),
                       lexicon_below=int(header.get("lexicon_below", 0)), header=header)
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"默认模型无法读取（{e}）；请重新安装 reviewops / the shipped default model cannot be read "
                             f"({e}); reinstall reviewops or run benchmarks/train_default_model.py") from None


_DEFAULT: list[CategoryModel | None] = []


def default_model() -> CategoryModel | None:
    """The shipped default model (loaded once), or None when the package carries none."""
    if not _DEFAULT:
        from pathlib import Path

        here = Path(__file__).resolve().parent / "data"
        npz, js = here / f"{DEFAULT_MODEL_NAME}.npz", here / f"{DEFAULT_MODEL_NAME}.json"
        _DEFAULT.append(CategoryModel.from_files(npz, js) if npz.exists() and js.exists() else None)
    return _DEFAULT[0]


def _lexicon_scores(norm_texts: Sequence[str], policy: Any) -> np.ndarray:
    from .lexicon import Lexicon

    read = Lexicon.for_policy(policy)._read
    return np.fromiter((read(t, False)[0] for t in norm_texts), dtype=float, count=len(norm_texts))


def _lexicon_logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(scores, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def _binary_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"n": int(len(y)), "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "accuracy": round(float((pred == y).mean()), 4)}


def train_from_store(store: Any, *, actor: str, min_reviews: int | None = None, note: str | None = None
                     ) -> dict[str, Any]:
    """Fit a :class:`TextModel` on the store's rated reviews and save it as a new version.

    Uses every review with text and a usable rating (stars, or the 好评/差评 class),
    content and 追评 read together; system default reviews (默认好评) are left out.
    Corrected categories from cases (``recategorize`` events, once operators make
    them) train the category head. ``min_reviews`` defaults to the policy's
    ``model_min_reviews``. Returns the model's metadata with its ``version``.
    """
    from ..core.policy import current_policy
    from ..core.store import case_events, cases, reviews

    policy = current_policy(store, actor=actor)
    need = int(min_reviews if min_reviews is not None else policy.setting("model_min_reviews"))
    corrected = sa.select(case_events.c.case_id).where(case_events.c.action == "recategorize").distinct().subquery()
    with store.read() as conn:
        rows = conn.execute(
            sa.select(reviews.c.content, reviews.c.append_content, reviews.c.rating_score, reviews.c.rating_class,
                      sa.case((corrected.c.case_id.is_not(None), cases.c.primary_category), else_=None)
                      .label("label"))
            .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id)
                         .outerjoin(corrected, corrected.c.case_id == cases.c.id))
            .where(reviews.c.is_default_review.is_(False))
        ).all()
    texts, ratings, cats = [], [], []
    for content, append, score, klass, label in rows:
        text = "\n".join(t for t in (content, append) if t)
        if not text.strip():
            continue
        rating = score if score is not None else RATING_CLASS_ZH.get(klass or "")
        if rating is None and label is None:
            continue
        texts.append(text)
        ratings.append(rating)
        cats.append(label)  # an operator's corrected category (recategorize event) is a training label
    usable = sum(1 for r in ratings if rating_label(r) is not None)
    if usable < need:
        raise ModelError(
            f"带评分的评价只有 {usable} 条可用于训练，至少需要 {need} 条（策略参数 model_min_reviews）。请先导入更多评价。\n"
            f"Only {usable} rated reviews are usable for training; {need} are needed (policy setting "
            "model_min_reviews). Import more reviews first."
        )
    model = TextModel.fit(texts, ratings, categories=cats, policy=policy)
    version = model.save(store, actor=actor, note=note)
    return {"version": version, **model.meta}
