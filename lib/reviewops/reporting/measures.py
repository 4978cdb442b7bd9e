"""Definitions every report shares, so the weekly report, the dashboard, the scorecard and customer value
count alike: the small-sample mark, which reviews count as revised, and the checks of a period and of
shop ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..core.errors import ConfigError

__all__ = ["SMALL_SAMPLE", "check_period", "check_shops", "revised_review_pks", "small_sample"]

#: The note a figure carries when it rests on fewer cases than the policy's ``min_sample``.
SMALL_SAMPLE = "样本不足"


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    """``ids`` in slices small enough for one ``IN (…)`` on every backend (SQLite's variable limit)."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def revised_review_pks(conn: sa.Connection, review_pks: list[int]) -> set[int]:
    """Reviews that were changed after import and are now positive (the weekly report's ``revised`` rule:
    a later version exists with a stored version 1, and the current rating class is positive).
    Used by every report: the dashboard, the weekly report, the scorecard and customer value."""
    from ..core.store import review_versions, reviews

    if not review_pks:
        return set()
    out: set[int] = set()
    for chunk in _chunks(sorted({int(p) for p in review_pks})):
        q = (sa.select(reviews.c.id)
             .select_from(reviews.join(review_versions, sa.and_(review_versions.c.review_pk == reviews.c.id,
                                                                review_versions.c.version == 1)))
             .where(reviews.c.id.in_(chunk), reviews.c.version > 1, reviews.c.rating_class == "positive",
                    review_versions.c.rating_raw.is_not(None)))
        out.update(int(r) for r in conn.execute(q).scalars())
    return out


def check_period(start: Any, end: Any) -> None:
    """Raise :class:`ConfigError` unless ``start < end`` are aware datetimes."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ConfigError(f"{name} 需要带时区的时间，收到 {value!r} / {name} must be a timezone-aware datetime")
    if end <= start:
        raise ConfigError(f"结束时间 {end} 不晚于开始时间 {start}；请调整日期 / the end {end} is not after the start {start}")


def check_shops(conn: sa.Connection, shop_ids: list[int] | None) -> list[int] | None:
    """The shop ids as ints; an id that is not a shop raises :class:`ConfigError` naming it."""
    from ..core.store import shops

    if shop_ids is None:
        return None
    known = set(conn.execute(sa.select(shops.c.id)).scalars())
    out = []
    for s in shop_ids:
        if isinstance(s, bool) or not str(s).strip().isdigit() or int(s) not in known:
            raise ConfigError(f"没有这个店铺：{s!r}；请从店铺列表中选择 / no such shop: {s!r}; pick one from the list")
        out.append(int(s))
    return out


def small_sample(*ns: int, min_sample: int) -> str:
    """:data:`SMALL_SAMPLE` when any count is below ``min_sample`` (the figure is shown but not trusted), else ""."""
    return SMALL_SAMPLE if any(n < min_sample for n in ns) else ""
