"""The text primitives of grading: normalisation, ratings read as stars or classes, and the policy's
editable lexicon (:class:`Lexicon`: one Aho-Corasick pass, negation, intensifiers, contrast, topics,
alarm words). :mod:`classify` and :mod:`textmodel` both build on it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..core.policy import Policy
from ..intake.clean import RATING_CLASS

__all__ = ["Lexicon", "RegexMatcher", "TextResult", "normalize_text", "rating_is_negative", "rating_label"]


# automaton entry codes (breaks first: ``code <= _K_SENT`` tests for a break)
_K_BREAK, _K_SENT, _K_NEG, _K_POS, _K_NEGATION, _K_INTENS, _K_TOPIC, _K_TURN, _K_CONCEDE, _K_ALARM, _K_GUARD = range(11)
# clause and sentence breaks (matched in the same automaton pass)
_CLAUSE_BREAKS = "，,、；;：:~～…()（）[]【】\"“”'‘’ \t"


_SENTENCE_BREAKS = "。！？!?\n\r"


_KIND_CODES = {"negative": _K_NEG, "positive": _K_POS, "negation": _K_NEGATION, "intensifier": _K_INTENS,
               "topic": _K_TOPIC, "alarm": _K_ALARM}


# the importer's rating words (好评/中评/差评, good/neutral/bad …) as stars: a class counts as 1, 3 or 5
_RATING_WORDS = {w: {"negative": 1, "neutral": 3, "positive": 5}[c] for w, c in RATING_CLASS.items()}


# NFKC images of the full-width marks Chinese text is full of: replacing them first leaves most texts
# already NFKC-normal, so the (slow) full normalisation runs only for the rest. Same result as NFKC.
_FULLWIDTH = tuple((chr(c), unicodedata.normalize("NFKC", chr(c))) for c in (
    0xFF0C, 0xFF01, 0xFF1F, 0xFF1A, 0xFF1B, 0xFF08, 0xFF09, 0xFF5E, 0x3000))


_is_nfkc = unicodedata.is_normalized


_nfkc = unicodedata.normalize


def normalize_text(text: Any) -> str:
    """NFKC (full-width → half-width) and lower case; None/NaN/NA → ``""``."""
    if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
        return ""
    if not isinstance(text, str):
        text = str(text)
    if text.isascii():
        return text.lower()
    if not _is_nfkc("NFKC", text):
        for fw, hw in _FULLWIDTH:
            if fw in text:
                text = text.replace(fw, hw)
        if not _is_nfkc("NFKC", text):
            text = _nfkc("NFKC", text)
    return text.lower()


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
def _add_topics(topics: list[tuple[str, float, str]], cat_scores: dict[str, float],
                cat_hits: dict[str, list[str]] | None, factor: float = 1.0) -> None:
    for cat, w, word in topics:
        cat_scores[cat] = cat_scores.get(cat, 0.0) + w * factor
        if cat_hits is not None:
            cat_hits.setdefault(cat, []).append(word)


@dataclass(frozen=True)
class TextResult:
    """The lexicon's reading of one text (what :func:`classify_detail` returns per row)."""

    score: float
    alarm: tuple[str, ...]
    negative_hits: tuple[str, ...]
    positive_hits: tuple[str, ...]
    category_scores: dict[str, float]
    category_hits: dict[str, tuple[str, ...]]


_END = "\x00"  # see Lexicon._read


class RegexMatcher:
    """A pure-Python stand-in for ``ahocorasick.Automaton`` with the two calls the lexicon uses.

    ``iter_long`` yields the leftmost-longest non-overlapping matches as ``(end index, value)``, as
    pyahocorasick's does: one regular expression of every word, longest first, scanned left to right.
    Used where the C extension cannot be installed (xlwings Lite / Pyodide, a Windows machine without a
    wheel); several times slower on big batches, identical results.
    """

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._re: re.Pattern[str] | None = None

    def add_word(self, word: str, value: Any) -> None:
        self._values[word] = value  # a word added again replaces its value, as in pyahocorasick

    def make_automaton(self) -> None:
        words = sorted(self._values, key=lambda w: (-len(w), w))
        self._re = re.compile("|".join(re.escape(w) for w in words)) if words else None

    def iter_long(self, text: str) -> Iterator[tuple[int, Any]]:
        if self._re is None:
            return
        for m in self._re.finditer(text):
            yield m.end() - 1, self._values[m.group()]


def _new_matcher(kind: str) -> Any:
    if kind not in ("auto", "ahocorasick", "regex"):
        from ..core.errors import ConfigError

        raise ConfigError(f"未知的匹配器 {kind!r}；可用 auto、ahocorasick、regex / unknown matcher {kind!r}")
    if kind != "regex":
        try:
            import ahocorasick
        except ImportError:
            if kind == "ahocorasick":
                raise
        else:
            return ahocorasick.Automaton()
    return RegexMatcher()


class Lexicon:
    """The policy's keyword table compiled into one Aho-Corasick automaton.

    Build once per policy (:meth:`for_policy` caches by policy content) and call
    :meth:`read` per text. Thread-safe for reading.

    How a text is read (one leftmost-longest pass; punctuation splits clauses and
    sentences):

    * ``negative`` / ``positive`` words add their weight to the text's negative or
      positive side. A ``negation`` (不, 没有 …) ending at most
      :attr:`NEGATION_WINDOW` characters before a sentiment word in the same clause
      flips it: a negated positive (不满意) counts :attr:`NEGATED_POSITIVE` of its weight
      as negative, a negated negative (没有破损) :attr:`NEGATED_NEGATIVE` as positive.
      A negation that flips nothing before the clause ends (没有光驱) counts its own
      weight as negative.
    * ``intensifier``: its weight multiplies the next sentiment word of the clause
      (太 1.5; a weight below 1 softens: 稍微 0.7).
    * ``contrast`` with weight ≥ 1 (但是, 不过 …) turns the sentence: what came before
      it counts :attr:`BEFORE_TURN_POSITIVE` (positive side) / :attr:`BEFORE_TURN_NEGATIVE`
      (negative side), what follows is multiplied by the word's weight. A ``contrast`` with
      weight < 1 is a concession (虽然, 尽管): the clause it is in counts that fraction.
    * ``alarm`` words always make the review negative (unless negated: 不会投诉).
    * Any word with weight 0 is a guard: it only stops a shorter word from matching
      inside it (不仅 keeps 不 from negating; 出差 keeps 差 from counting).
    * Categories: a categorised negative or alarm word names its category directly
      (:attr:`CATEGORY_WORD` each). ``topic`` words (物流, 客服 …) add their weight to
      their category inside a clause that reads negative (more negative than positive)
      and names no category itself; a neutral clause's topics are lent to a negative
      clause right after it in the same sentence (早餐品种少，一般). When no clause
      named a category, every topic the text mentions counts at half weight.
      A category word lighter than :attr:`CATEGORY_FULL_WEIGHT` (冷 0.4) adds only
      that share of :attr:`CATEGORY_WORD`. The category raised first gets
      :attr:`FIRST_MENTION` extra, so it wins a tie and a near-tie (the labelling
      guide's "the first complaint when they weigh the same"); both chosen on the DEV
      category labels (docs/accuracy.md).

    The text's score is ``1 / (1 + exp(-SCORE_SCALE · (negative − positive − SCORE_BIAS)))``:
    a text with no sentiment at all scores just below 0.5. The scale and the default
    lexicon's weights were calibrated together on real reviews (docs/accuracy.md).
    """

    NEGATION_WINDOW = 3  # characters allowed between a negation and the word it flips
    NEGATED_POSITIVE = 0.9  # 不满意: share of the positive word's weight that counts as negative
    NEGATED_NEGATIVE = 0.4  # 没有破损: share of the negative word's weight that counts as positive
    BEFORE_TURN_POSITIVE = 0.8  # positive said before 但是 in the same sentence
    BEFORE_TURN_NEGATIVE = 1.0  # negative said before 但是 ("虽然便宜，但质量差" keeps both)
    CATEGORY_WORD = 2.0  # what a word that names its category (物流太慢) adds to it; topics add their weight
    FIRST_MENTION = 1.5  # added to the category named first: it wins a tie or near-tie (labelling guide)
    CATEGORY_FULL_WEIGHT = 1.0  # a category word lighter than this adds that share of CATEGORY_WORD (冷 0.4 → 0.8)
    SCORE_SCALE = 0.47  # calibrated with the lexicon's weights (docs/accuracy.md)
    SCORE_BIAS = 0.15  # a text with no sentiment at all scores just below 0.5

    def __init__(self, policy: Policy, *, matcher: str = "auto"):
        """``matcher``: ``auto`` (pyahocorasick when installed, else the pure-Python matcher), ``ahocorasick``
        or ``regex`` — the two give the same matches (tests/test_classify.py)."""
        self.policy = policy
        self.priority = {r["code"]: r["priority"] for r in policy.tables["categories"]}
        a = _new_matcher(matcher)
        breaks: dict[str, int] = {ch: _K_BREAK for ch in _CLAUSE_BREAKS}
        breaks.update({ch: _K_SENT for ch in _SENTENCE_BREAKS})
        for r in policy.tables["keywords"]:
            w = normalize_text(r["word"]).strip()
            if not w:
                continue
            kind, weight, category = r["kind"], float(r["weight"]), r["category"]
            if weight <= 0:
                code = _K_GUARD
            elif kind == "contrast":
                code = _K_TURN if weight >= 1.0 else _K_CONCEDE
            else:
                code = _KIND_CODES[kind]
            if w in breaks:  # a punctuation mark that is also a sentiment word ("?" as a mild negative)
                signed = weight if code == _K_NEG else -weight if code == _K_POS else 0.0
                a.add_word(w, (breaks.pop(w), signed, None, w, 1))
                continue
            a.add_word(w, (code, weight, category, w, len(w)))
        for ch, code in breaks.items():
            a.add_word(ch, (code, 0.0, None, ch, 1))
        a.make_automaton()
        self._automaton = a
        self._iter_long = a.iter_long

    _cache: ClassVar[dict[str, Lexicon]] = {}

    @classmethod
    def for_policy(cls, policy: Policy) -> Lexicon:
        key = policy.sha256  # cached on the policy object
        lex = cls._cache.get(key)
        if lex is None:
            if len(cls._cache) > 8:
                cls._cache.clear()
            lex = cls._cache[key] = cls(policy)
        return lex

    def read(self, text: str) -> TextResult:
        """Score one normalised text (see :func:`normalize_text`)."""
        return self._read(text, True)

    def _read(self, text: str, detail: bool) -> Any:
        """The reading of ``text``: a :class:`TextResult` when ``detail``, else ``(score, alarm, cat_scores)``."""
        if not text:
            return TextResult(0.0, (), (), (), {}, {}) if detail else (0.0, False, {})
        neg = pos = 0.0  # closed sentences
        s_neg = s_pos = 0.0  # closed clauses of the current sentence
        c_neg = c_pos = 0.0  # the current clause
        c_topics: list[tuple[str, float, str]] = []
        p_topics: list[tuple[str, float, str]] | None = None  # a neutral clause's topics, lent to the next clause
        all_topics: list[tuple[str, float, str]] = []
        c_cat = False  # the current clause named a category itself (物流太慢)
        cfac = 1.0  # the current clause's factor (concession)
        turn = 1.0  # multiplier after a turn (但是) in the current sentence
        boost = 1.0
        neg_end = -100
        neg_start = 0
        neg_w = 0.0
        window = self.NEGATION_WINDOW
        direct = self.CATEGORY_WORD
        full = self.CATEGORY_FULL_WEIGHT
        negated_neg, negated_pos = self.NEGATED_NEGATIVE, self.NEGATED_POSITIVE
        alarm: list[str] = []
        neg_hits: list[str] = []
        pos_hits: list[str] = []
        cat_scores: dict[str, float] = {}
        cat_hits: dict[str, list[str]] = {}
        # the sentinel: pyahocorasick's iter_long (2.3.1) drops a shorter word that ends the text while a longer
        # word is still partly matched (质量太差 with 太差了吧 in the lexicon gave no 差); a character in no word
        # makes it settle. Positions are unchanged.
        for end, (code, weight, category, word, n) in self._iter_long(text + _END):
            if code <= _K_SENT:  # clause or sentence break
                if weight:  # the mark itself carries sentiment
                    if weight > 0:
                        c_neg += weight * turn
                    else:
                        c_pos -= weight * turn
                if neg_end >= 0:  # a negation that flipped nothing (没有光驱): its own weight, as negative
                    c_neg += neg_w * turn
                if c_neg > c_pos:  # a negative clause without a category word: its topics (or those of the neutral clause before it) count
                    if not c_cat and (c_topics or p_topics):
                        _add_topics(c_topics or p_topics, cat_scores, cat_hits if detail else None)
                    p_topics = None
                else:
                    p_topics = c_topics if c_topics and not c_pos else None
                if c_topics:
                    c_topics = []
                c_cat = False
                s_neg += c_neg * cfac
                s_pos += c_pos * cfac
                c_neg = c_pos = 0.0
                cfac = 1.0
                boost = 1.0
                neg_end = -100
                if code == _K_SENT:
                    neg += s_neg
                    pos += s_pos
                    s_neg = s_pos = 0.0
                    turn = 1.0
                    p_topics = None
                continue
            if code == _K_NEG or code == _K_POS:
                start = end - n + 1
                m = boost * turn
                boost = 1.0
                if 0 <= start - neg_end - 1 <= window:  # negated
                    if code == _K_NEG:  # 不差, 没有破损: weak positive, names no complaint
                        c_pos += negated_neg * weight * m
                    else:  # 不好, 不满意
                        c_neg += negated_pos * weight * m
                        if detail:
                            neg_hits.append(text[neg_start:end + 1])
                    neg_end = -100
                    continue
                if code == _K_NEG:
                    c_neg += weight * m
                    if category:
                        c_cat = True
                        cat_scores[category] = cat_scores.get(category, 0.0) + (
                            direct if weight >= full else direct * weight / full)
                        if detail:
                            cat_hits.setdefault(category, []).append(word)
                    if detail:
                        neg_hits.append(word)
                else:
                    c_pos += weight * m
                    if detail:
                        pos_hits.append(word)
                continue
            if code == _K_NEGATION:
                if neg_end >= 0:
                    c_neg += neg_w * turn
                neg_start = end - n + 1
                neg_end = end
                neg_w = weight
                continue
            if code == _K_INTENS:
                boost = weight if boost == 1.0 else boost * weight
                continue
            if code == _K_TOPIC:
                if category:
                    c_topics.append((category, weight, word))
                    all_topics.append((category, weight, word))
                continue
            if code == _K_TURN:
                # close the part of the clause before the turn, then discount what came before it
                if neg_end >= 0:
                    c_neg += neg_w * turn
                if c_neg > c_pos and not c_cat and (c_topics or p_topics):
                    _add_topics(c_topics or p_topics, cat_scores, cat_hits if detail else None)
                p_topics = None
                if c_topics:
                    c_topics = []
                c_cat = False
                s_neg = (s_neg + c_neg * cfac) * self.BEFORE_TURN_NEGATIVE
                s_pos = (s_pos + c_pos * cfac) * self.BEFORE_TURN_POSITIVE
                c_neg = c_pos = 0.0
                cfac = 1.0
                turn = weight
                boost = 1.0
                neg_end = -100
                continue
            if code == _K_CONCEDE:
                cfac = weight
                continue
            if code == _K_ALARM:
                start = end - n + 1
                if 0 <= start - neg_end - 1 <= window:  # "不会给差评", "没有投诉": a mild negative, not an alarm
                    c_neg += 0.5
                    neg_end = -100
                    continue
                alarm.append(word)
                c_neg += weight * boost * turn
                boost = 1.0
                if category:
                    c_cat = True
                    cat_scores[category] = cat_scores.get(category, 0.0) + direct
                    if detail:
                        cat_hits.setdefault(category, []).append(word)
                continue
            # _K_GUARD: nothing
        if neg_end >= 0:
            c_neg += neg_w * turn
        if c_neg > c_pos and not c_cat and (c_topics or p_topics):
            _add_topics(c_topics or p_topics, cat_scores, cat_hits if detail else None)
        if not cat_scores and all_topics:  # no negative clause named a topic: every topic mentioned, at half weight
            _add_topics(all_topics, cat_scores, cat_hits if detail else None, 0.5)
        if len(cat_scores) > 1 and self.FIRST_MENTION:  # the complaint raised first wins a tie
            first = next(iter(cat_scores))
            cat_scores[first] += self.FIRST_MENTION
        neg += s_neg + c_neg * cfac
        pos += s_pos + c_pos * cfac
        x = self.SCORE_SCALE * (neg - pos - self.SCORE_BIAS)
        score = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
        if not detail:
            return score, bool(alarm), cat_scores
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
