"""P1 knowledge base (SPEC P1, issue 19): which 知识库 entries fit a case, ranked, with why.

The entries are the policy's 知识库 table (:meth:`reviewops.core.policy.Policy.knowledge`; the built-in
:data:`reviewops.core.policy.DEFAULT_KNOWLEDGE` when the table is empty), validated and compliance-checked when
the policy loads. This module only reads them:

* :func:`product_terms` — an entry's 商品 cell as terms (``T恤;卫衣`` → ``("T恤", "卫衣")``).
* :func:`product_matches` — the terms of an entry found in a case's product strings (product id, SKU, merchant
  code, category, title), case-insensitive and with full-width forms folded.
* :func:`suggest` — the entries that fit a case's categories, products and review text, best first, each with
  its score and its reasons in Chinese (:class:`Suggestion`). :func:`suggest_for_case` reads those from a
  :class:`reviewops.handling.workbench.CaseView` (or any object with ``primary_category``, ``categories``,
  ``review`` and ``items``).

**Ranking.** An entry for a product (its 商品 cell is not empty) fits only a case whose product strings contain one
of its terms; an entry for every product fits every case. Points: the product matched +3; the entry's category is
the case's primary category +2, another of its categories +1.5, 通用 +0.5; each of the entry's 关键词 in the
review text (and 追评) +1, at most 3. An entry whose category is none of the case's (and not 通用) fits only when
the review mentions one of its keywords, and then with half a point less. Ties keep the table's order, so the result
is the same for the same case and policy. Nothing is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..core.policy import KB_CATEGORY_ZH, KB_GENERAL, Policy, default_policy

__all__ = ["Suggestion", "case_products", "product_matches", "product_terms", "suggest", "suggest_for_case"]

PRODUCT_POINTS = 3.0
PRIMARY_POINTS = 2.0
CATEGORY_POINTS = 1.5
GENERAL_POINTS = 0.5
KEYWORD_POINTS = 1.0
MAX_KEYWORDS = 3
OFF_CATEGORY_PENALTY = 0.5
DEFAULT_LIMIT = 5

_SPLIT = re.compile(r"[;；,，、\n]+")


@dataclass(frozen=True)
class Suggestion:
    """One fitting 知识库 entry: ``index`` is its position in :meth:`Policy.knowledge` (stable for one policy)."""

    index: int
    category: str
    category_zh: str
    product: str
    question: str
    answer: str
    score: float
    reasons: tuple[str, ...]

    @property
    def why(self) -> str:
        """The reasons as one Chinese line."""
        return "；".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        d["why"] = self.why
        return d


def _fold(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).casefold()


def product_terms(cell: Any) -> tuple[str, ...]:
    """The 商品 cell of an entry as terms (``;``, ``；``, ``,``, ``、`` or new lines between them); () = every product."""
    return tuple(t.strip() for t in _SPLIT.split(str(cell or "")) if t.strip())


def keyword_terms(cell: Any) -> tuple[str, ...]:
    """The 关键词 cell as terms (same separators as :func:`product_terms`)."""
    return product_terms(cell)


def product_matches(entry: Mapping[str, Any], products: Iterable[Any]) -> list[str]:
    """The terms of ``entry``'s 商品 cell found in any of ``products`` (ids, SKUs, categories, titles)."""
    folded = [_fold(p) for p in products if str(p or "").strip()]
    return [t for t in product_terms(entry.get("product")) if any(_fold(t) in p for p in folded)]


def _keywords_in(entry: Mapping[str, Any], text: str) -> list[str]:
    folded = _fold(text)
    out: list[str] = []
    for k in keyword_terms(entry.get("keywords")):
        if _fold(k) in folded and k not in out:
            out.append(k)
    return out


def suggest(policy: Policy | None, *, categories: Sequence[str] = (), primary_category: str | None = None,
            products: Iterable[Any] = (), text: str = "", limit: int | None = DEFAULT_LIMIT) -> list[Suggestion]:
    """The 知识库 entries that fit, best first (see the module text for the points); at most ``limit`` (None: all).

    ``categories`` are the case's complaint categories (``primary_category`` counts as one of them),
    ``products`` its product strings (:func:`case_products`), ``text`` the review and 追评.
    """
    policy = policy or default_policy()
    cats = [c for c in (primary_category, *categories) if c]
    products = [p for p in products if str(p or "").strip()]
    scored: list[tuple[float, int, Suggestion]] = []
    for i, e in enumerate(policy.knowledge()):
        reasons: list[str] = []
        score = 0.0
        if product_terms(e.get("product")):
            hit = product_matches(e, products)
            if not hit:
                continue
            score += PRODUCT_POINTS
            reasons.append(f"商品匹配「{hit[0]}」")
        cat = e["category"]
        off_category = False
        if cat == KB_GENERAL:
            score += GENERAL_POINTS
            reasons.append("通用问答")
        elif primary_category and cat == primary_category:
            score += PRIMARY_POINTS
            reasons.append(f"主分类：{KB_CATEGORY_ZH.get(cat, cat)}")
        elif cat in cats:
            score += CATEGORY_POINTS
            reasons.append(f"分类：{KB_CATEGORY_ZH.get(cat, cat)}")
        else:
            off_category = True
        words = _keywords_in(e, text)[:MAX_KEYWORDS]
        if off_category:
            if not words:
                continue
            score -= OFF_CATEGORY_PENALTY
            reasons.append(f"分类不同（{KB_CATEGORY_ZH.get(cat, cat)}），但评价提到相关词")
        if words:
            score += KEYWORD_POINTS * len(words)
            reasons.append("评价提到「" + "」「".join(words) + "」")
        if score <= 0:
            continue
        scored.append((score, i, Suggestion(index=i, category=cat, category_zh=KB_CATEGORY_ZH.get(cat, cat),
                                            product=e.get("product") or "", question=e["question"],
                                            answer=e["answer"], score=round(score, 2), reasons=tuple(reasons))))
    scored.sort(key=lambda t: (-t[0], t[1]))
    out = [s for _score, _i, s in scored]
    return out if limit is None else out[:max(0, int(limit))]


def case_products(view: Any) -> list[str]:
    """The product strings of a case view: the review's product title and SKU, each order line's title and SKU."""
    review = getattr(view, "review", None) or {}
    out = [review.get("product_title"), review.get("sku")]
    for item in getattr(view, "items", None) or []:
        out += [item.get("title"), item.get("sku")]
    return [str(p) for p in out if str(p or "").strip()]


def suggest_for_case(view: Any, policy: Policy | None = None, *, limit: int | None = DEFAULT_LIMIT
                     ) -> list[Suggestion]:
    """:func:`suggest` for a :class:`~reviewops.handling.workbench.CaseView` (its categories, products, review)."""
    review = getattr(view, "review", None) or {}
    text = " ".join(str(review.get(k) or "") for k in ("content", "append_content"))
    return suggest(policy, categories=list(getattr(view, "categories", None) or []),
                   primary_category=getattr(view, "primary_category", None), products=case_products(view),
                   text=text, limit=limit)
