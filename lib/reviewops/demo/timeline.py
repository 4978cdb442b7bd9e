"""The demo's clock: the as-of moment its history ends at, the export times, the import ticks.

Everything the demo writes is dated relative to one as-of moment (:func:`demo_as_of`), never the real
clock, so the same seed and as-of give the same files and the same store.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ..core.errors import ConfigError

DEFAULT_SEED = 20261125
DEFAULT_TODAY = dt.date(2026, 11, 20)  # only a reference date for callers that pass ``today``
EXPORT_CLOCK = dt.time(9, 30, 0)  # ``today=`` (a date) means the exports were taken at 09:30 that day
SHANGHAI = ZoneInfo("Asia/Shanghai")
DETECT_EVERY_MINUTES = 15  # the demo shop imports every 15 minutes: a review is detected at the next import
H = 3600
DAY = 86400


def _ts(t: dt.datetime | None) -> str:
    if t is None:
        return ""
    # the exports' "YYYY-MM-DD HH:MM:SS": isoformat is several times faster than strftime (394,000 tracking rows)
    return t.isoformat(" ", "seconds") if t.tzinfo is None else t.strftime("%Y-%m-%d %H:%M:%S")


def _sec(x: float) -> dt.timedelta:
    return dt.timedelta(seconds=int(x))



def demo_as_of(value: dt.datetime | dt.date | str | None = None, *, today: dt.date | None = None,
               allow_future: bool = False) -> dt.datetime:
    """The moment the demo's history ends, as an aware UTC datetime in whole seconds.

    ``value``: an aware datetime, a naive one (Beijing time), an ISO text (``2026-12-07T09:00``,
    ``2026-12-07 09:00:00+08:00``; Beijing time without an offset) or a date (09:30 Beijing that day);
    ``None``: ``today`` at 09:30 if given, else the current time. A moment in the future is refused
    (the history is written under a simulated clock that never runs ahead of the real one).
    """

    if value is None and today is not None:
        value = today
    if value is None:
        t = dt.datetime.now(dt.UTC)
    elif isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime.combine(value, EXPORT_CLOCK)
    else:
        text = str(value).strip()
        try:
            t = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"--as-of 应为 ISO 时间，如 2026-12-07T09:00（不带时区按北京时间），收到 {text!r} / "
                              f"--as-of must be an ISO time like 2026-12-07T09:00 (Beijing time without an "
                              f"offset), got {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=SHANGHAI)
    t = t.astimezone(dt.UTC).replace(microsecond=0)
    if not allow_future and t > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5):
        raise ConfigError(f"--as-of 不能晚于现在（{t.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 北京时间）；演示历史只写到现在为止 / "
                          f"--as-of cannot be in the future ({t.isoformat()}); the demo's history ends at the "
                          f"latest now")
    return t


def demo_now(as_of: dt.datetime | dt.date | str | None = None) -> dt.datetime:
    """The demo's "now" (aware UTC, whole seconds): ``as_of`` (see :func:`demo_as_of`) or the current time."""
    return demo_as_of(as_of)


def detection_time(posted: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When the demo shop first saw a review posted at ``posted``: the shop imports every
    :data:`DETECT_EVERY_MINUTES` minutes (ticks counted back from ``now``), and a review is in the
    first import at least a minute after it was posted; never after ``now``."""
    step = dt.timedelta(minutes=DETECT_EVERY_MINUTES)
    ready = posted + dt.timedelta(minutes=1)
    if ready >= now:
        return now
    return now - ((now - ready) // step) * step

