"""The frames prevention reads and returns: declared columns, their check where data comes in, and the one
reading of a time a caller gives (naive = Beijing time). Shared by :mod:`~reviewops.prevention.risk`,
:mod:`~reviewops.prevention.listing_audit` and :mod:`~reviewops.prevention.commitments`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from ..core.errors import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc

__all__ = ["FrameColumn", "as_utc", "check_frame", "empty_frame", "frame_of"]


@dataclass(frozen=True)
class FrameColumn:
    """One column of a frame: name, pandas dtype (int64 | float64 | bool | object | datetime64[ns, UTC]), Chinese
    header and description. ``nullable``: a time column may hold empty times (NaT). ``as_text``: an object
    column's values become text (ids read as numbers: 28… → "28…"); False keeps them as they are (yes/no/None)."""

    name: str
    dtype: str
    zh: str
    description: str
    nullable: bool = False
    as_text: bool = True


def check_frame(df: pd.DataFrame, columns: Sequence[FrameColumn], what: str) -> pd.DataFrame:
    """``df`` with exactly the declared ``columns`` in their dtypes (extra columns dropped); naive times are
    Beijing time. Raises :class:`ConfigError` naming a missing column or a value that does not convert."""
    missing = [c.name for c in columns if c.name not in df.columns]
    if missing:
        raise ConfigError(f"{what} 缺少列：{'、'.join(missing)}；现有列：{list(df.columns)} / {what} lacks columns "
                          f"{missing}; got {list(df.columns)}")
    out = {}
    for c in columns:
        s = df[c.name]
        try:
            if c.dtype.startswith("datetime"):
                s = pd.to_datetime(s)
                s = s.dt.tz_localize(SHANGHAI).dt.tz_convert(UTC) if s.dt.tz is None else s.dt.tz_convert(UTC)
                if not c.nullable and s.isna().any():
                    raise ValueError(f"{int(s.isna().sum())} empty times")
                s = s.astype("datetime64[ns, UTC]")
            elif c.dtype == "object":
                s = s.astype(object).where(s.notna(), None)
                if c.as_text and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
                    s = s.map(lambda v: v if v is None or isinstance(v, str) else str(v))
            else:
                s = s.astype(c.dtype)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{what} 的列 {c.name}（{c.zh}）无法转换为 {c.dtype}：{e} / column {c.name} of {what} "
                              f"does not convert to {c.dtype}: {e}") from None
        out[c.name] = s.reset_index(drop=True)
    return pd.DataFrame(out, columns=[c.name for c in columns])


def empty_frame(columns: Sequence[FrameColumn]) -> pd.DataFrame:
    """An empty frame with the names and dtypes of ``columns``."""
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in columns})


def as_utc(value: Any, what: str, *, required: bool = False) -> dt.datetime | None:
    """A time a caller gave (datetime, date, ``pd.Timestamp`` or ISO text; naive = Beijing time) in UTC; None or
    blank gives None unless ``required``. Raises :class:`ConfigError` naming ``what`` and the value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(f"{what} 不能为空；请给出时间，如 2026-11-20T09:00:00+08:00 / {what} is required")
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(f"{what} 不是有效的时间：{value!r}；请用 ISO 格式，如 2026-11-20T09:00:00+08:00（不带时区按"
                              f"北京时间）/ {what} is not a valid time: {value!r}") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0, 0))
    if not isinstance(value, dt.datetime):
        raise ConfigError(f"{what} 应为时间，收到 {type(value).__name__} {value!r} / {what} must be a time")
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


def frame_of(rows: Sequence[Any], columns: list[str], *, times: bool = False) -> pd.DataFrame:
    """Query rows as a frame with ``columns``; ``times``: every ``*_at`` column as UTC times."""
    df = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    if times:
        for c in columns:
            if c.endswith("_at"):
                df[c] = pd.to_datetime(df[c], utc=True)
    return df
