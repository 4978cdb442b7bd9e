"""Negative detection and complaint categories for review text.

``classify(texts, ratings=None, model=None)`` is the one entry point every
surface uses (Excel ``RO_CLASSIFY``, forms, triage, external checks). It returns
one row per text, in order:

==================  ======  =====================================================
column              type    meaning
==================  ======  =====================================================
is_negative         bool    bad rating (中评/差评, ≤ 3 stars by policy) **or** negative text
negative_score      float   the text's negativity, 0–1 (lexicon or fitted model)
primary_category    str     one SPEC code for a negative review; "" when not negative
categories          str     every category found, ``;``-joined, primary first; "" when not negative
==================  ======  =====================================================

Cold start (no model) scores text with the policy's editable lexicon
(:class:`Lexicon`): words are matched leftmost-longest in one Aho-Corasick pass;
a negation just before a sentiment word flips it, an intensifier strengthens
it, and what follows a contrast word (但是, 不过 …) weighs more than what came
before. Complaint phrases (物流太慢, 少发 …) name their category directly;
topic words (物流, 客服 …) count for their category only inside a clause that is
negative. Alarm words (投诉, 12315, 返现删评 …) always make a review negative.

With a fitted :class:`~reviewops.textmodel.TextModel` the negativity comes from
the model (a linear model over hashed character n-grams learned from the shop's
own rated reviews); alarm words still force a review negative, and categories
come from the model's category head when it has one, else from the lexicon.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .policy import CATEGORY_CODES, Policy, default_policy

if TYPE_CHECKING:
    from .textmodel import TextModel

__all__ = ["CLASSIFY_COLUMNS", "Lexicon", "TextResult", "classify", "classify_detail", "normalize_text",
           "rating_is_negative", "rating_label"]

CLASSIFY_COLUMNS = ("is_negative", "negative_score", "primary_category", "categories")

# clause and sentence breaks (matched in the same automaton pass)
_CLAUSE_BREAKS = "，,、；;：:~～…()（）[]【】\"“”'‘’ \t"
_SENTENCE_BREAKS = "。！？!?\n\r"
_BREAK, _SENT = "break", "sentence"

_RATING_WORDS = {
    "差评": 1, "bad": 1, "negative": 1, "差": 1, "中评": 3, "neutral": 3, "中": 3,
    "好评": 5, "good": 5, "positive": 5, "好": 5,
}


def normalize_text(text: Any) -> str:
    """NFKC (full-width → half-width) and lower case; None/NaN → ``""``."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    if not isinstance(text, str):
        text = str(text)
    return unicodedata.normalize("NFKC", text).lower()


def _rating_stars(value: Any) -> float | None:
    """Stars 1–5 from a star number, ``"4星"``, or the 好评/中评/差评 class (5/3/1); else None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return v if 0 < v <= 5 else None
    s = normalize_text(value).strip().rstrip("星分★☆").strip()
    if not s:
        return None
    if s in _RATING_WORDS:
        return float(_RATING_WORDS[s])
    try:
        v = float(s)
    except ValueError:
        return None
    return v if 0 < v <= 5 else None


def rating_is_negative(value: Any, max_stars: int = 3) -> bool:
    """True for 中评/差评 or ≤ ``max_stars`` stars (SPEC E1); False for good or unknown ratings."""
    stars = _rating_stars(value)
    return stars is not None and stars <= max_stars


def rating_label(value: Any) -> int | None:
    """Training label from a rating: 1 (negative: 1–2 stars, 差评), 0 (positive: 4–5 stars, 好评), else None."""
    stars = _rating_stars(value)
    if stars is None or stars == 3:
        return None
    return 1 if stars <= 2 else 0


# --------------------------------------------------------------------- lexicon
@dataclass(frozen=True)
class TextResult:
    """The lexicon's reading of one text (what :func:`classify_detail` returns per row)."""

    score: float
    alarm: tuple[str, ...]
    negative_hits: tuple[str, ...]
    positive_hits: tuple[str, ...]
    category_scores: dict[str, float]
    category_hits: dict[str, tuple[str, ...]]


class Lexicon:
    """The policy's keyword table compiled into one Aho-Corasick automaton.

    Build once per policy (:meth:`for_policy` caches by policy content) and call
    :meth:`read` per text. Thread-safe for reading.
    """

    NEGATION_WINDOW = 3  # characters allowed between a negation and the word it flips

    def __init__(self, policy: Policy):
        import ahocorasick

        self.policy = policy
        self.priority = {r["code"]: r["priority"] for r in policy.tables["categories"]}
        a = ahocorasick.Automaton()
        for r in policy.tables["keywords"]:
            w = normalize_text(r["word"]).strip()
            if w:
                a.add_word(w, (r["kind"], float(r["weight"]), r["category"], w))
        for ch in _CLAUSE_BREAKS:
            if ch not in a:
                a.add_word(ch, (_BREAK, 0.0, None, ch))
        for ch in _SENTENCE_BREAKS:
            if ch not in a:
                a.add_word(ch, (_SENT, 0.0, None, ch))
        a.make_automaton()
        self._automaton = a

    _cache: dict[str, "Lexicon"] = {}

    @classmethod
    def for_policy(cls, policy: Policy) -> "Lexicon":
        key = policy.sha256
        lex = cls._cache.get(key)
        if lex is None:
            if len(cls._cache) > 8:
                cls._cache.clear()
            lex = cls._cache[key] = cls(policy)
        return lex

    def read(self, text: str) -> TextResult:
        """Score one normalised text (see :func:`normalize_text`)."""
        neg = pos = 0.0
        alarm: list[str] = []
        neg_hits: list[str] = []
        pos_hits: list[str] = []
        cat_scores: dict[str, float] = {}
        cat_hits: dict[str, list[str]] = {}
        # per-clause state
        clause_neg = clause_pos = 0.0
        clause_topics: list[tuple[str, float, str]] = []
        negation_end = -100
        boost = 1.0
        after_contrast = False
        before: list[tuple[str, float, bool]] = []  # (kind, weight, counted) within the sentence before a contrast

        def close_clause() -> None:
            nonlocal clause_neg, clause_pos, clause_topics
            if clause_topics and clause_neg > clause_pos:
                for cat, w, word in clause_topics:
                    cat_scores[cat] = cat_scores.get(cat, 0.0) + w
                    cat_hits.setdefault(cat, []).append(word)
            clause_neg = clause_pos = 0.0
            clause_topics = []

        for end, (kind, weight, category, word) in self._automaton.iter_long(text):
            start = end - len(word) + 1
            if kind == _BREAK or kind == _SENT:
                close_clause()
                negation_end = -100
                boost = 1.0
                if kind == _SENT:
                    after_contrast = False
                continue
            if kind == "negation":
                negation_end = end
                continue
            if kind == "intensifier":
                boost = max(boost, weight)
                continue
            if kind == "contrast":
                after_contrast = True
                # what was said before the contrast in this sentence counts for less
                neg *= 1.0  # negatives before a contrast still stand ("虽然便宜，但质量差" keeps both)
                pos *= 0.6
                continue
            negated = 0 <= start - negation_end - 1 <= self.NEGATION_WINDOW
            mult = boost * (1.3 if after_contrast else 1.0)
            boost = 1.0
            if kind == "topic":
                if category:
                    clause_topics.append((category, weight, word))
                continue
            if kind == "alarm":
                if negated:  # "不会给差评", "没有投诉" — a mild negative, not an alarm
                    neg += 0.5
                    continue
                alarm.append(word)
                neg += weight * mult
                clause_neg += weight
                if category:
                    cat_scores[category] = cat_scores.get(category, 0.0) + weight
                    cat_hits.setdefault(category, []).append(word)
                continue
            if kind == "negative":
                if negated:  # "不差", "没有破损": weak positive, names no complaint
                    pos += 0.4 * weight
                    clause_pos += 0.4 * weight
                    continue
                neg += weight * mult
                clause_neg += weight * mult
                neg_hits.append(word)
                if category:
                    cat_scores[category] = cat_scores.get(category, 0.0) + weight
                    cat_hits.setdefault(category, []).append(word)
                continue
            if kind == "positive":
                if negated:  # "不好", "不满意", "不方便"
                    neg += 0.9 * weight * mult
                    clause_neg += 0.9 * weight * mult
                    neg_hits.append(text[max(0, negation_end):end + 1] if negation_end >= 0 else word)
                    continue
                pos += weight * mult
                clause_pos += weight * mult
                pos_hits.append(word)
        close_clause()
        s = neg - pos
        score = 1.0 / (1.0 + math.exp(-1.5 * s)) if text else 0.0
        return TextResult(score, tuple(alarm), tuple(neg_hits), tuple(pos_hits), cat_scores,
                          {k: tuple(v) for k, v in cat_hits.items()})

    def rank(self, cat_scores: dict[str, float]) -> list[str]:
        """Categories by score (desc), ties by the policy's priority (asc)."""
        return sorted(cat_scores, key=lambda c: (-cat_scores[c], self.priority.get(c, 99)))


# ------------------------------------------------------------------- classify
def _as_list(texts: Any) -> list[Any]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (pd.Series, pd.Index)):
        return texts.tolist()
    if isinstance(texts, np.ndarray):
        return texts.ravel().tolist()
    return list(texts)


def classify_detail(texts: Iterable[Any] | str, ratings: Iterable[Any] | None = None,
                    model: "TextModel | None" = None, policy: Policy | None = None
                    ) -> tuple[pd.DataFrame, list[TextResult]]:
    """:func:`classify` plus the lexicon reading of each text (for decision reasons)."""
    policy = policy or default_policy()
    items = _as_list(texts)
    norm = [normalize_text(t) for t in items]
    n = len(norm)
    rating_list = _as_list(ratings) if ratings is not None else [None] * n
    if len(rating_list) != n:
        from .errors import ConfigError
        raise ConfigError(f"评分数量 {len(rating_list)} 与文本数量 {n} 不一致 / got {len(rating_list)} ratings for "
                          f"{n} texts; pass one rating (or None) per text")
    lex = Lexicon.for_policy(policy)
    read = lex.read
    details = [read(t) for t in norm]
    threshold = float(policy.setting("negative_threshold"))
    max_stars = int(policy.setting("rating_negative_max_stars"))
    if model is not None:
        scores = model.predict_scores(norm, normalized=True)
        cat_pred = model.predict_categories(norm, normalized=True)
    else:
        scores = np.fromiter((d.score for d in details), dtype=float, count=n)
        cat_pred = None
    rated = [rating_is_negative(r, max_stars) for r in rating_list]
    is_neg = np.zeros(n, dtype=bool)
    primary: list[str] = [""] * n
    cats: list[str] = [""] * n
    for i, d in enumerate(details):
        neg = rated[i] or bool(d.alarm) or scores[i] >= threshold
        is_neg[i] = neg
        ranked = lex.rank(d.category_scores)
        if cat_pred is not None and cat_pred[i]:
            ranked = [cat_pred[i]] + [c for c in ranked if c != cat_pred[i]]
        if neg:
            if not ranked:
                ranked = ["other"]
            primary[i] = ranked[0]
            cats[i] = ";".join(ranked)
    frame = pd.DataFrame({
        "is_negative": is_neg,
        "negative_score": np.round(np.clip(scores, 0.0, 1.0), 4),
        "primary_category": primary,
        "categories": cats,
    })
    return frame, details


def classify(texts: Iterable[Any] | str, ratings: Iterable[Any] | None = None,
             model: "TextModel | None" = None, *, policy: Policy | None = None) -> pd.DataFrame:
    """Classify review texts: one row per text, in order (columns :data:`CLASSIFY_COLUMNS`).

    ``texts``: a sequence (list, Series, array) or one string; None/NaN is empty text.
    ``ratings``: optional, one per text — stars (1–5, ``"4星"``) or the platform class
    (好评/中评/差评); a rating at or below the policy's ``rating_negative_max_stars``
    makes the review negative whatever the text says.
    ``model``: a fitted :class:`~reviewops.textmodel.TextModel`; without one the policy's
    lexicon scores the text (cold start).
    ``policy``: defaults to :func:`~reviewops.policy.default_policy`.

    >>> classify(["物流太慢了，等了一周", "很好，下次还来"])[["is_negative", "primary_category"]].values.tolist()
    [[True, 'logistics'], [False, '']]
    """
    return classify_detail(texts, ratings, model, policy)[0]


def known_categories() -> Sequence[str]:
    return CATEGORY_CODES
