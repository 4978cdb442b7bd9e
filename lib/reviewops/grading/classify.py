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

By default (issue 18) the shipped :class:`~reviewops.grading.textmodel.CategoryModel`
(``grading/data/default_model.*``, trained on hand-labelled real reviews by
``benchmarks/train_default_model.py``) names the complaint categories of the reviews found negative,
reading the lexicon's output as features; negativity stays the lexicon's (on product kinds left out of
training the lexicon detects negatives better than the model's negative head — docs/accuracy.md). The
lexicon's hits stay the reasons (:func:`classify_detail`), alarm words still force a review negative, and
a review negative only by its rating whose text names no complaint is ``other``.
``REVIEWOPS_DEFAULT_MODEL=full`` lets the model decide negativity too; ``=off`` is the lexicon alone.

With a fitted :class:`~reviewops.grading.textmodel.TextModel` the negativity comes from
the model (a linear model over hashed character n-grams learned from the shop's
own rated reviews); alarm words still force a review negative, and categories
come from the model's category head when it has one (its primary first), the rest from the default
model (or the lexicon when there is none).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..core.policy import CATEGORY_CODES, Policy, default_policy
from .lexicon import Lexicon, TextResult, _as_list, normalize_text, rating_is_negative
from .textmodel import default_model, lexicon_features

if TYPE_CHECKING:
    from .textmodel import TextModel

__all__ = ["CLASSIFY_COLUMNS", "PARALLEL_MIN_TEXTS", "classify", "classify_detail", "known_categories"]

CLASSIFY_COLUMNS = ("is_negative", "negative_score", "primary_category", "categories")



#: Batches at least this long are split over worker processes (see :func:`classify`).
PARALLEL_MIN_TEXTS = 20_000
_PROCESSES_ENV = "REVIEWOPS_CLASSIFY_PROCESSES"
#: How the shipped default model is used when no shop model is given (``REVIEWOPS_DEFAULT_MODEL``):
#: ``categories`` (the default) — the model names the complaint categories of the reviews found negative,
#: negativity stays the lexicon's; ``full`` — the model's negative head decides negativity too; ``off`` — the
#: lexicon alone, as before issue 18. Negativity stays with the lexicon by default because on a product kind
#: left out of training the lexicon detects negatives better than the model (docs/accuracy.md, held-out
#: kinds: hotel 0.896 vs 0.793, electronics 0.894 vs 0.880), and a shop's reviews are such a kind.
_DEFAULT_MODEL_ENV = "REVIEWOPS_DEFAULT_MODEL"
DEFAULT_MODEL_MODES = ("categories", "full", "off")


def _default_model_mode() -> str:
    import os

    raw = os.environ.get(_DEFAULT_MODEL_ENV, "").strip().lower()
    if raw in ("off", "0", "no", "false"):
        return "off"
    return "full" if raw == "full" else "categories"


_JOB: tuple[Any, ...] | None = None  # the batch a forked worker reads (inherited, never pickled)


def _rows(lex: Lexicon, items: list[Any], rated: list[bool] | None, threshold: float,
          model: TextModel | None, detail: bool, mode: str = "categories") -> tuple[Any, ...]:
    """One chunk: ``(scores, is_negative, primary, categories, details or None)``."""
    norm = [normalize_text(t) for t in items]
    n = len(norm)
    read = lex._read
    if detail:
        details = [read(t, True) for t in norm]
        res = [(d.score, bool(d.alarm), d.category_scores) for d in details]
    else:
        details = None
        res = [read(t, False) for t in norm]
    dm = default_model() if mode != "off" else None
    lex_feats = None
    if model is not None:
        lex_scores = np.fromiter((r[0] for r in res), dtype=float, count=n)
        scores = np.asarray(model.predict_scores(norm, normalized=True, lexicon_scores=lex_scores), dtype=float)
        cat_pred = model.predict_categories(norm, normalized=True)
    elif dm is not None and mode == "full":
        lex_feats = lexicon_features(res, lex.rank)
        scores = dm.negative(norm, lex_feats)
        cat_pred = None
    else:
        scores = np.fromiter((r[0] for r in res), dtype=float, count=n)
        cat_pred = None
    is_neg = (scores >= threshold) if n else np.zeros(0, dtype=bool)
    primary: list[str] = [""] * n
    cats: list[str] = [""] * n
    rank = lex.rank
    joined: dict[tuple[str, ...], str] = {}
    flagged = [i for i, r in enumerate(res) if is_neg[i] or r[1] or (rated is not None and rated[i])]
    if dm is not None and flagged:  # categories of the negative reviews only (the costly part of the model)
        feats = (lex_feats[flagged] if lex_feats is not None
                 else lexicon_features([res[i] for i in flagged], lex.rank))
        cat_idx, cat_probs = dm.categories([norm[i] for i in flagged], feats)
        dm_ranked = dm.rank_batch(cat_idx, cat_probs, [res[i][2] for i in flagged])
    for j, i in enumerate(flagged):
        cat_scores = res[i][2]
        is_neg[i] = True
        if dm is not None:
            if cat_pred is None and scores[i] < threshold and not cat_scores:
                ranked = ["other"]  # negative by rating or alarm only, and the text names no complaint
            else:
                ranked = dm_ranked[j]
        else:
            ranked = rank(cat_scores) if cat_scores else []
        if cat_pred is not None and cat_pred[i]:
            ranked = [cat_pred[i]] + [c for c in ranked if c != cat_pred[i]]
            if ranked[0] == "other":
                ranked = ["other"]
            elif "other" in ranked:
                ranked.remove("other")
        if not ranked:
            ranked = ["other"]
        key = tuple(ranked)
        text = joined.get(key)
        if text is None:
            text = joined[key] = ";".join(ranked)
        primary[i] = ranked[0]
        cats[i] = text
    return scores, is_neg, primary, cats, details


def _work(bounds: tuple[int, int]) -> tuple[Any, ...]:
    """A forked worker's chunk ``items[lo:hi]`` of the batch in :data:`_JOB`."""
    lex, items, rated, threshold, model, mode = _JOB  # type: ignore[misc]
    lo, hi = bounds
    return _rows(lex, items[lo:hi], None if rated is None else rated[lo:hi], threshold, model, False, mode)[:4]


def _processes(n: int) -> int:
    """How many processes to use for ``n`` texts: 1 unless the batch is large and forking is safe."""
    import os
    import threading

    raw = os.environ.get(_PROCESSES_ENV, "").strip()
    if raw:
        try:
            want = int(raw)
        except ValueError:
            want = 1
    else:
        try:
            want = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            want = os.cpu_count() or 1
        want = min(want, 8)
    if want <= 1 or n < PARALLEL_MIN_TEXTS:
        return 1
    import multiprocessing as mp

    if ("fork" not in mp.get_all_start_methods() or mp.current_process().daemon
            or threading.active_count() > 1):
        return 1  # forking a threaded process can deadlock; daemonic processes cannot have children
    return max(1, min(want, n // (PARALLEL_MIN_TEXTS // 4)))


def _classify(texts: Any, ratings: Any, model: TextModel | None, policy: Policy | None,
              detail: bool) -> tuple[pd.DataFrame, list[TextResult] | None]:
    global _JOB
    policy = policy or default_policy()
    items = _as_list(texts)
    n = len(items)
    rated: list[bool] | None = None
    max_stars = int(policy.setting("rating_negative_max_stars"))
    if ratings is not None:
        rating_list = _as_list(ratings)
        if len(rating_list) != n:
            from ..core.errors import ConfigError
            raise ConfigError(f"评分数量 {len(rating_list)} 与文本数量 {n} 不一致 / got {len(rating_list)} ratings for "
                              f"{n} texts; pass one rating (or None) per text")
        rated = [rating_is_negative(r, max_stars) for r in rating_list]
    lex = Lexicon.for_policy(policy)
    threshold = float(policy.setting("negative_threshold"))
    mode = _default_model_mode()
    if mode != "off":
        default_model()  # loaded before any fork, so workers share it
    procs = 1 if detail else _processes(n)
    if procs == 1:
        scores, is_neg, primary, cats, details = _rows(lex, items, rated, threshold, model, detail, mode)
    else:
        import multiprocessing as mp

        step = -(-n // procs)
        bounds = [(lo, min(n, lo + step)) for lo in range(0, n, step)]
        _JOB = (lex, items, rated, threshold, model, mode)
        try:
            with mp.get_context("fork").Pool(len(bounds) - 1) as pool:
                pending = pool.map_async(_work, bounds[1:], chunksize=1)
                parts = [_work(bounds[0])] + pending.get()  # this process does the first chunk meanwhile
        finally:
            _JOB = None
        scores = np.concatenate([p[0] for p in parts])
        is_neg = np.concatenate([p[1] for p in parts])
        primary = [x for p in parts for x in p[2]]
        cats = [x for p in parts for x in p[3]]
        details = None
    frame = pd.DataFrame({
        "is_negative": is_neg.astype(bool, copy=False),
        "negative_score": np.round(np.clip(scores, 0.0, 1.0), 4),
        "primary_category": primary,
        "categories": cats,
    })
    return frame, details


def classify_detail(texts: Iterable[Any] | str, ratings: Iterable[Any] | None = None,
                    model: TextModel | None = None, policy: Policy | None = None
                    ) -> tuple[pd.DataFrame, list[TextResult]]:
    """:func:`classify` plus the lexicon reading of each text (for decision reasons)."""
    frame, details = _classify(texts, ratings, model, policy, True)
    if details and (model is not None or _default_model_mode() == "full" and default_model() is not None):
        # the reading's score is the one classify used (the model's); the hits stay the lexicon's (reasons)
        import dataclasses

        details = [dataclasses.replace(d, score=float(s)) if d.score != s else d
                   for d, s in zip(details, frame["negative_score"].tolist())]
    return frame, details or []


def classify(texts: Iterable[Any] | str, ratings: Iterable[Any] | None = None,
             model: TextModel | None = None, *, policy: Policy | None = None) -> pd.DataFrame:
    """Classify review texts: one row per text, in order (columns :data:`CLASSIFY_COLUMNS`).

    ``texts``: a sequence (list, Series, array) or one string; None/NaN is empty text.
    ``ratings``: optional, one per text — stars (1–5, ``"4星"``) or the platform class
    (好评/中评/差评); a rating at or below the policy's ``rating_negative_max_stars``
    makes the review negative whatever the text says.
    ``model``: a fitted :class:`~reviewops.grading.textmodel.TextModel`; without one the shipped default
    model (with the policy's lexicon as its features) scores the text.
    ``policy``: defaults to :func:`~reviewops.core.policy.default_policy`.

    A batch of at least :data:`PARALLEL_MIN_TEXTS` texts is split over forked worker
    processes (one per CPU, at most 8; the environment variable
    ``REVIEWOPS_CLASSIFY_PROCESSES`` sets the number, 1 turns this off). It stays in one
    process where forking is not available or not safe (Windows, other threads running).
    The result is the same either way.

    >>> classify(["物流太慢了，等了一周", "很好，下次还来"])[["is_negative", "primary_category"]].values.tolist()
    [[True, 'logistics'], [False, '']]
    """
    return _classify(texts, ratings, model, policy, False)[0]


def known_categories() -> Sequence[str]:
    return CATEGORY_CODES
