"""The SLA clock of a negative-review case (中差评响应时限).

A shop grades each negative review with a response budget (物流 2 h, 质量 4 h,
恶意 1 h, …). The budget is counted either round the clock (``mode="always"``,
7×24) or only inside business hours on Chinese working days
(``mode="business"``: 法定节假日 off, 调休 make-up weekend workdays on, using
``chinese_calendar`` and the shop's own 节假日 rows, which take precedence — :class:`ShopDay`).

* :func:`add_working_time` – deadline = start + N minutes of working time;
* :func:`working_minutes_between` – working minutes in ``[a, b)``;
* :func:`is_working_day` – one local date;
* :func:`calendar_gap` – whether the next 60 days lack holiday data (neither the package nor the
  shop's rows cover them), with the one message every surface shows ahead of time;
* :class:`SlaEvent` / :class:`SlaState` / :func:`replay` – a case's clock as a
  fold over its events (start, pause, resume, rebudget, stop). Replaying the
  events always gives exactly the state maintained incrementally (R-10).

All inputs must be timezone-aware datetimes (naive ones raise
:class:`~reviewops.core.errors.ConfigError`); all results are aware UTC datetimes.
Years without holiday data (neither ``chinese_calendar`` nor a shop row of that year) fall
back to Monday–Friday and yield a :class:`SlaWarning` instead of failing (R-11).

Walks jump a whole local day at a time (working days are tabulated once per
year and day windows are cached), so adding 10,000 hours takes a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from .errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALENDAR_LOOKAHEAD_DAYS",
    "CalendarGap",
    "MAX_MINUTES",
    "SLA_STATUSES",
    "SLA_STATUS_ZH",
    "UNANSWERED_STATUSES",
    "SlaCalendar",
    "SlaEvent",
    "SlaState",
    "SlaWarning",
    "ShopDay",
    "add_working_time",
    "calendar_gap",
    "fraction_used",
    "has_holiday_data",
    "is_working_day",
    "package_working_day",
    "replay",
    "sla_status",
    "sla_statuses",
    "state_from_json",
    "state_to_json",
    "warning_fraction",
    "working_minutes_between",
]

UTC = dt.UTC
MODES = ("always", "business")
EVENT_KINDS = ("start", "pause", "resume", "rebudget", "stop")
#: Largest budget (either sign) :func:`add_working_time` accepts: about ten years of clock time.
MAX_MINUTES = 10 * 366 * 24 * 60
_ONE_DAY = dt.timedelta(days=1)
_ONE_MINUTE = dt.timedelta(minutes=1)
_ZERO = dt.timedelta(0)


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class SlaWarning:
    """A year for which no holiday data exists; it was counted as Monday–Friday (R-11)."""

    year: int
    message_zh: str
    message_en: str

    @classmethod
    def missing_year(cls, year: int) -> SlaWarning:
        """The warning for ``year`` having no ``chinese_calendar`` data."""
        return cls(
            year=year,
            message_zh=f"缺少 {year} 年节假日数据，按周一至周五计算",
            message_en=f"calendar data missing for {year}; counted Monday to Friday as working days",
        )

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


@dataclass(frozen=True)
class ShopDay:
    """One day the shop entered itself (the policy's 节假日 sheet): ``working=False`` a holiday (假日),
    ``working=True`` a make-up workday (调休上班). It overrides ``chinese_calendar`` for that date."""

    day: dt.date
    working: bool
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.day, dt.datetime) or not isinstance(self.day, dt.date):
            raise _error(f"ShopDay.day 应为 datetime.date，收到 {self.day!r}",
                         f"ShopDay.day must be a datetime.date; got {self.day!r}")
        if not isinstance(self.working, bool):
            raise _error(f"ShopDay.working 应为 True 或 False，收到 {self.working!r}",
                         f"ShopDay.working must be True or False; got {self.working!r}")


@dataclass(frozen=True)
class SlaCalendar:
    """How working time is counted.

    ``mode="always"`` counts every instant (7×24). ``mode="business"`` counts only
    ``[day_start, day_end)`` local time (in ``tz``) on working days: with
    ``holidays=True`` the Chinese calendar (法定节假日 off, 调休 weekend
    workdays on), with ``holidays=False`` plain Monday–Friday. ``shop_days`` (the
    policy's 节假日 rows, :class:`ShopDay`) take precedence over both for their dates, and
    a year with at least one shop day counts as known even when ``chinese_calendar``
    has no data for it (its other days: Monday–Friday, without a warning).
    ``day_start``/``day_end`` are naive wall-clock times, ``day_end > day_start``.
    Invalid values (also a date twice in ``shop_days``) raise :class:`ConfigError`.
    """

    mode: str = "always"
    day_start: dt.time = dt.time(9, 0)
    day_end: dt.time = dt.time(22, 0)
    holidays: bool = True
    tz: str = "Asia/Shanghai"
    shop_days: tuple[ShopDay, ...] = ()
    # working days and "fallback used" per year, filled on first use (not part of the value)
    _years: dict[int, tuple[frozenset[dt.date], bool]] = field(default_factory=dict, init=False, repr=False,
                                                               compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise _error(f"未知的 SLA 计时模式：{self.mode!r}；可选 {' / '.join(MODES)}",
                         f"unknown SLA mode {self.mode!r}; choose one of {', '.join(MODES)}")
        for name in ("day_start", "day_end"):
            value = getattr(self, name)
            if not isinstance(value, dt.time) or value.tzinfo is not None:
                raise _error(f"{name} 应为不带时区的 datetime.time（当地时间），收到 {value!r}",
                             f"{name} must be a naive datetime.time (local wall-clock time); got {value!r}")
        if self.day_end <= self.day_start:
            raise _error(f"营业时间结束 day_end={self.day_end} 必须晚于开始 day_start={self.day_start}（同一天内）",
                         f"day_end={self.day_end} must be later than day_start={self.day_start} on the same day")
        if not isinstance(self.holidays, bool):
            raise _error(f"holidays 应为 True 或 False，收到 {self.holidays!r}",
                         f"holidays must be True or False; got {self.holidays!r}")
        _zone(self.tz)
        days = tuple(self.shop_days)
        seen: set[dt.date] = set()
        for d in days:
            if not isinstance(d, ShopDay):
                raise _error(f"shop_days 的每一项应为 ShopDay，收到 {d!r}",
                             f"every item of shop_days must be a ShopDay; got {d!r}")
            if d.day in seen:
                raise _error(f"shop_days 中日期 {d.day.isoformat()} 出现了两次", f"date {d.day.isoformat()} appears "
                             "twice in shop_days")
            seen.add(d.day)
        object.__setattr__(self, "shop_days", days)

    @property
    def zone(self) -> ZoneInfo:
        """The :class:`ZoneInfo` of :attr:`tz`."""
        return _zone(self.tz)

    def _year(self, year: int) -> tuple[frozenset[dt.date], bool]:
        """The working days of ``year`` in business mode and whether R-11's fallback was used for it."""
        hit = self._years.get(year)
        if hit is None:
            own = {d.day: d.working for d in self.shop_days if d.day.year == year}
            package = _cn_working_days(year) if self.holidays else None
            table = package if package is not None else _mon_fri(year)
            if own:  # the shop's entries win over the package
                table = frozenset((table - {d for d, w in own.items() if not w}) | {d for d, w in own.items() if w})
            hit = (table, bool(self.holidays and package is None and not own))
            self._years[year] = hit
        return hit

    def covers(self, year: int) -> bool:
        """Whether ``year``'s working days are known: always outside business mode and with
        ``holidays=False``; otherwise when ``chinese_calendar`` has the year or a shop day lies in it."""
        if self.mode == "always" or not self.holidays:
            return True
        return not self._year(int(year))[1]


def _zone(name: object) -> ZoneInfo:
    try:
        if not isinstance(name, str) or not name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _error(f"未知时区 tz={name!r}；请用 IANA 名称，例如 'Asia/Shanghai'",
                     f"unknown time zone tz={name!r}; use an IANA name such as 'Asia/Shanghai'") from None


def _error(zh: str, en: str) -> ConfigError:
    return ConfigError(f"{zh} / {en}")


@cache
def _cn_working_days(year: int) -> frozenset[dt.date] | None:
    """The working days of ``year`` per ``chinese_calendar``; ``None`` when it has no data for that year.

    ``chinese_calendar.is_workday`` decides which years are supported; the days
    themselves come from its ``holidays``/``workdays`` tables with the same rule
    as ``is_workday`` (a table entry wins, otherwise Monday–Friday), which is
    about 50× faster than calling it once per day.
    """
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return None
    off, on = chinese_calendar.holidays, chinese_calendar.workdays
    first = dt.date(year, 1, 1)
    days = (first + dt.timedelta(days=i) for i in range((dt.date(year, 12, 31) - first).days + 1))
    return frozenset(d for d in days if d in on or (d.weekday() < 5 and d not in off))


@cache
def _mon_fri(year: int) -> frozenset[dt.date]:
    """Monday–Friday of ``year`` (the calendar without holiday data, and ``holidays=False``)."""
    first = dt.date(year, 1, 1)
    days = (first + dt.timedelta(days=i) for i in range((dt.date(year, 12, 31) - first).days + 1))
    return frozenset(d for d in days if d.weekday() < 5)


def has_holiday_data(year: int) -> bool:
    """Whether ``chinese_calendar`` knows ``year``'s holidays and 调休 days (else R-11's Monday–Friday fallback,
    unless the shop entered that year itself: :meth:`SlaCalendar.covers`)."""
    return _cn_working_days(int(year)) is not None


def package_working_day(day: dt.date) -> bool | None:
    """What ``chinese_calendar`` says about ``day``: True = working day, False = day off, None = no data."""
    table = _cn_working_days(day.year)
    return None if table is None else day in table


def _day_verdict(day: dt.date, cal: SlaCalendar) -> tuple[bool, int | None]:
    """(is working day, year lacking data or None) in business mode."""
    table, missing = cal._year(day.year)
    return day in table, day.year if missing else None


@lru_cache(maxsize=1 << 16)
def _window(day: dt.date, start: dt.time, end: dt.time, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The business window of local ``day`` as UTC instants ``[open, close)``."""
    zone = ZoneInfo(tz)
    opens = dt.datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
    closes = dt.datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
    return opens, closes


def is_working_day(d: dt.date, cal: SlaCalendar) -> tuple[bool, SlaWarning | None]:
    """Whether local date ``d`` has working time under ``cal``.

    In ``always`` mode every day is a working day. In business mode a shop day
    (:class:`ShopDay`) decides its date; otherwise with ``holidays=True`` the Chinese
    calendar decides (2025-09-28, a Sunday 调休, is a working day; 2025-10-01 is not);
    for a year without data (and without shop days) the day counts Monday–Friday and
    the :class:`SlaWarning` for that year is returned. An aware ``datetime`` is first
    converted to its local date in ``cal.tz``.
    """
    if isinstance(d, dt.datetime):
        d = _aware(d, "d").astimezone(cal.zone).date()
    elif not isinstance(d, dt.date):
        raise _error(f"d 应为 datetime.date，收到 {d!r}", f"d must be a datetime.date; got {d!r}")
    if cal.mode == "always":
        return True, None
    working, missing = _day_verdict(d, cal)
    return working, None if missing is None else SlaWarning.missing_year(missing)


#: How far ahead every surface that computes deadlines looks for missing holiday data (days).
CALENDAR_LOOKAHEAD_DAYS = 60


@dataclass(frozen=True)
class CalendarGap:
    """Days ahead whose holidays nobody knows: neither ``chinese_calendar`` nor the shop's 节假日 rows cover
    ``years``; from ``first_day`` (local date) deadlines will count Monday–Friday (R-11).

    ``message_zh`` / ``message_en`` are the one text every surface shows (triage, dashboard,
    ``reviewops watch --status``, the daily sweep); ``str()`` gives both."""

    years: tuple[int, ...]
    first_day: dt.date
    days: int
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message_en}"

    def to_dict(self) -> dict[str, object]:
        return {"years": list(self.years), "first_day": self.first_day.isoformat(), "days": self.days,
                "message_zh": self.message_zh, "message_en": self.message_en}


def calendar_gap(cal: SlaCalendar, now: dt.datetime, *, days: int = CALENDAR_LOOKAHEAD_DAYS) -> CalendarGap | None:
    """The holiday data missing within ``days`` days from ``now`` (aware) under ``cal``, or ``None``.

    Only a business-hours clock with Chinese holidays (``mode="business"``, ``holidays=True``) needs
    the data; a year counts as covered when ``chinese_calendar`` knows it or ``cal.shop_days`` holds
    at least one day of it (:meth:`SlaCalendar.covers`). This is the one rule and the one message for
    every surface: say it *before* a deadline is counted Monday–Friday.
    """
    moment = _aware(now, "now")
    if cal.mode != "business" or not cal.holidays:
        return None
    first = moment.astimezone(cal.zone).date()
    last = first + dt.timedelta(days=int(days))
    years = tuple(y for y in range(first.year, last.year + 1) if not cal.covers(y))
    if not years:
        return None
    start = max(first, dt.date(years[0], 1, 1))
    ys = "、".join(str(y) for y in years)
    ys_en = ", ".join(str(y) for y in years)
    zh = (f"缺少 {ys} 年节假日数据：{start:%Y-%m-%d} 起（未来 {days} 天内）的响应截止时间将按周一至周五计算，"
          f"元旦、春节等法定假日会被算作工作日。请在策略工作簿的「节假日」表录入 {ys} 年的假日和调休上班日"
          f"（reviewops policy export → 编辑 → reviewops policy import），或升级 chinese_calendar"
          f"（pip install -U chinesecalendar）")
    en = (f"holiday data missing for {ys_en}: from {start:%Y-%m-%d} (within the next {days} days) deadlines will "
          f"count Monday to Friday, New Year's Day and Spring Festival as working days. Enter {ys_en}'s holidays "
          f"and make-up workdays in the 节假日 sheet of the policy workbook (reviewops policy export, edit, "
          f"reviewops policy import) or upgrade chinese_calendar (pip install -U chinesecalendar)")
    return CalendarGap(years=years, first_day=start, days=int(days), message_zh=zh, message_en=en)


# --------------------------------------------------------------------------- arithmetic


def _aware(value: object, name: str) -> dt.datetime:
    """``value`` as an aware UTC datetime, or :class:`ConfigError`."""
    if not isinstance(value, dt.datetime):
        raise _error(f"{name} 应为带时区的 datetime，收到 {value!r}",
                     f"{name} must be a timezone-aware datetime; got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _error(
            f"{name} 缺少时区：收到 {value.isoformat()}。请传入带时区的时间，"
            f"例如 datetime(..., tzinfo=ZoneInfo('Asia/Shanghai')) 或 datetime(..., tzinfo=timezone.utc)",
            f"{name} is a naive datetime: got {value.isoformat()}. Pass a timezone-aware datetime, "
            f"e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai')) or datetime(..., tzinfo=timezone.utc)",
        )
    return value.astimezone(UTC)


def _duration(minutes: object) -> dt.timedelta:
    """``minutes`` as a timedelta (microsecond resolution), or :class:`ConfigError`."""
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes):
        raise _error(f"分钟数应为有限的数字，收到 {minutes!r}", f"minutes must be a finite number; got {minutes!r}")
    if abs(minutes) > MAX_MINUTES:
        raise _error(f"分钟数 {minutes} 超出范围（最多 ±{MAX_MINUTES}，约十年）",
                     f"minutes={minutes} is out of range (at most ±{MAX_MINUTES}, about ten years)")
    return dt.timedelta(microseconds=round(minutes * 60_000_000))


def _warnings(years: Iterable[int]) -> list[SlaWarning]:
    return [SlaWarning.missing_year(y) for y in sorted(set(years))]


def _local_day(instant: dt.datetime, cal: SlaCalendar) -> dt.date:
    return instant.astimezone(cal.zone).date()


def _forward(start: dt.datetime, amount: dt.timedelta, cal: SlaCalendar, missing: set[int]) -> dt.datetime:
    """Earliest instant ≥ ``start`` at the end of ``amount`` of working time (``amount`` ≥ 0)."""
    day = _local_day(start, cal)
    while True:
        opens, closes = _window(day, cal.day_start, cal.day_end, cal.tz)
        if start < closes:
            working, year = _day_verdict(day, cal)
            if year is not None:
                missing.add(year)
            if working:
                begin = max(start, opens)
                available = closes - begin
                if amount <= available:
                    return begin + amount
                amount -= available
        day += _ONE_DAY


def _backward(end: dt.datetime, amount: dt.timedelta, cal: SlaCalendar, missing: set[int]) -> dt.datetime:
    """Latest instant ≤ ``end`` with exactly ``amount`` (> 0) of working time up to ``end``."""
    day = _local_day(end, cal)
    while True:
        opens, closes = _window(day, cal.day_start, cal.day_end, cal.tz)
        if end > opens:
            working, year = _day_verdict(day, cal)
            if year is not None:
                missing.add(year)
            if working:
                finish = min(end, closes)
                available = finish - opens
                if amount <= available:
                    return finish - amount
                amount -= available
        day -= _ONE_DAY


def add_working_time(start: dt.datetime, minutes: float,
                     cal: SlaCalendar) -> tuple[dt.datetime, list[SlaWarning]]:
    """Deadline = ``start`` + ``minutes`` of working time, as an aware UTC datetime.

    ``always`` mode is plain addition (``minutes=0`` returns ``start``). In
    business mode only time inside ``[day_start, day_end)`` on working days
    counts: a start outside hours begins at the next window opening, so
    ``minutes=0`` returns the next working instant (``start`` itself when it is
    inside a window), and a budget that runs out exactly at closing time returns
    ``day_end`` of that day (not the next opening). The result is the
    *earliest* instant with ``working_minutes_between(start, result) == minutes``.

    Negative ``minutes`` go backwards (used for an overdue case's deadline): the
    *latest* instant ``t ≤ start`` with ``working_minutes_between(t, start) == -minutes``
    (``start`` itself when ``-minutes`` rounds to zero microseconds).

    Also returns one :class:`SlaWarning` per year without holiday data whose
    days were consulted (sorted by year). ``|minutes|`` is limited to
    :data:`MAX_MINUTES`; naive ``start`` or a non-finite ``minutes`` raise
    :class:`ConfigError`.
    """
    begin = _aware(start, "start")
    amount = _duration(minutes)
    missing: set[int] = set()
    try:
        if cal.mode == "always":
            result = begin + amount
        elif minutes >= 0:
            result = _forward(begin, amount, cal, missing)
        elif amount:
            result = _backward(begin, -amount, cal, missing)
        else:  # negative but under half a microsecond
            result = begin
    except OverflowError:
        raise _error(f"截止时间超出可表示的日期范围：start={start.isoformat()}，minutes={minutes}",
                     f"the deadline is outside the representable dates: start={start.isoformat()}, "
                     f"minutes={minutes}") from None
    return result, _warnings(missing)


def _between(a: dt.datetime, b: dt.datetime, cal: SlaCalendar, missing: set[int]) -> dt.timedelta:
    """Working time in ``[a, b)`` (UTC instants, ``a < b``), business mode."""
    total = _ZERO
    day, last = _local_day(a, cal), _local_day(b, cal)
    while day <= last:
        opens, closes = _window(day, cal.day_start, cal.day_end, cal.tz)
        lo, hi = max(a, opens), min(b, closes)
        if hi > lo:
            working, year = _day_verdict(day, cal)
            if year is not None:
                missing.add(year)
            if working:
                total += hi - lo
        day += _ONE_DAY
    return total


def working_minutes_between(a: dt.datetime, b: dt.datetime,
                            cal: SlaCalendar) -> tuple[float, list[SlaWarning]]:
    """Working minutes in ``[a, b)`` under ``cal`` (0.0 when ``b <= a``).

    Also returns one :class:`SlaWarning` per year without holiday data that
    contributed a business window (sorted by year). Naive inputs raise
    :class:`ConfigError`.
    """
    lo, hi = _aware(a, "a"), _aware(b, "b")
    if hi <= lo:
        return 0.0, []
    if cal.mode == "always":
        return (hi - lo) / _ONE_MINUTE, []
    missing: set[int] = set()
    minutes = _between(lo, hi, cal, missing) / _ONE_MINUTE
    return minutes, _warnings(missing)


# --------------------------------------------------------------------------- case clock


@dataclass(frozen=True)
class SlaEvent:
    """One event of a case's SLA clock.

    ``kind`` is one of:

    * ``"start"`` – the clock starts with ``budget_minutes`` (required, > 0);
    * ``"pause"`` / ``"resume"`` – the clock stops / restarts (e.g. waiting for the buyer);
    * ``"rebudget"`` – the category changed: new ``budget_minutes`` (required,
      > 0); the working time already consumed still counts;
    * ``"stop"`` – the case was answered or closed; the clock stops for good.

    ``at`` must be timezone-aware. Invalid events raise :class:`ConfigError`.
    """

    kind: str
    at: dt.datetime
    budget_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise _error(f"未知的 SLA 事件类型：{self.kind!r}；可选 {' / '.join(EVENT_KINDS)}",
                         f"unknown SLA event kind {self.kind!r}; choose one of {', '.join(EVENT_KINDS)}")
        _aware(self.at, "at")
        if self.kind in ("start", "rebudget"):
            _check_budget(self.kind, self.budget_minutes)
        elif self.budget_minutes is not None:
            raise _error(f"事件 {self.kind!r} 不接受 budget_minutes（收到 {self.budget_minutes!r}）；只有 start/rebudget 需要",
                         f"event {self.kind!r} takes no budget_minutes (got {self.budget_minutes!r}); "
                         f"only start/rebudget do")


def _check_budget(kind: str, budget: object) -> None:
    ok = (isinstance(budget, (int, float)) and not isinstance(budget, bool)
          and math.isfinite(budget) and 0 < budget <= MAX_MINUTES)
    if not ok:
        raise _error(f"事件 {kind!r} 需要 0 < budget_minutes ≤ {MAX_MINUTES}，收到 {budget!r}",
                     f"event {kind!r} needs 0 < budget_minutes <= {MAX_MINUTES}; got {budget!r}")


def _merge(old: tuple[SlaWarning, ...], new: Iterable[SlaWarning]) -> tuple[SlaWarning, ...]:
    by_year = {w.year: w for w in old}
    for w in new:
        by_year.setdefault(w.year, w)
    return tuple(by_year[y] for y in sorted(by_year))


@dataclass(frozen=True)
class SlaState:
    """The SLA clock of one case, after some events (all datetimes in UTC).

    ``consumed_minutes`` is the working time used up to ``running_since`` (or
    to the last pause/stop); while the clock runs, more accrues from
    ``running_since``. ``consumed_minutes`` may exceed ``budget_minutes``
    (overdue). ``warnings`` lists every year without holiday data the clock has
    touched, including the year of the current deadline. ``last_event_at`` is the
    time of the last event applied, used to enforce time order.

    Build states with :meth:`initial` and :meth:`apply` or with :func:`replay`;
    both give equal states for the same events (R-10).
    """

    started_at: dt.datetime | None
    budget_minutes: float
    consumed_minutes: float
    running_since: dt.datetime | None
    paused: bool
    stopped: bool
    warnings: tuple[SlaWarning, ...] = ()
    last_event_at: dt.datetime | None = field(default=None)

    @classmethod
    def initial(cls) -> SlaState:
        """The state before any event: not started, no budget."""
        return cls(started_at=None, budget_minutes=0.0, consumed_minutes=0.0, running_since=None,
                   paused=False, stopped=False, warnings=(), last_event_at=None)

    @property
    def running(self) -> bool:
        """True while the clock is counting (started, not paused, not stopped)."""
        return self.running_since is not None

    def apply(self, event: SlaEvent, cal: SlaCalendar) -> SlaState:
        """The state after ``event``.

        Events must come in time order (equal times allowed) and the first one
        must be ``"start"``; a second ``"start"``, any event after ``"stop"`` or
        an event earlier than the previous one raise :class:`ConfigError`.
        ``"pause"`` while paused and ``"resume"`` while running change nothing
        but the recorded ``last_event_at``.
        """
        at = self._check_order(event)
        if event.kind == "start":
            return self._started(event, at, cal)
        if event.kind == "pause" and not self.paused:
            return self._halted(at, cal, paused=True, stopped=False)
        if event.kind == "resume" and self.paused:
            state = replace(self, running_since=at, paused=False, last_event_at=at)
            return state._with_due_warnings(cal)
        if event.kind == "rebudget":
            return self._rebudgeted(at, float(event.budget_minutes or 0), cal)
        if event.kind == "stop":
            return self._halted(at, cal, paused=False, stopped=True)
        return replace(self, last_event_at=at)

    def _check_order(self, event: SlaEvent) -> dt.datetime:
        at = _aware(event.at, "at")
        if self.stopped:
            raise _error(f"SLA 已停止，不能再接受事件 {event.kind!r}（{at.isoformat()}）",
                         f"the SLA clock is stopped; event {event.kind!r} at {at.isoformat()} is not allowed")
        if event.kind == "start" and self.started_at is not None:
            raise _error(f"SLA 已于 {self.started_at.isoformat()} 开始，不能再次 start",
                         f"the SLA clock already started at {self.started_at.isoformat()}; a second start is not allowed")
        if event.kind != "start" and self.started_at is None:
            raise _error(f"SLA 尚未开始，事件 {event.kind!r} 之前需要 start",
                         f"the SLA clock has not started; event {event.kind!r} needs a start first")
        if self.last_event_at is not None and at < self.last_event_at:
            raise _error(f"事件须按时间顺序：{event.kind!r} 在 {at.isoformat()}，早于上一事件 {self.last_event_at.isoformat()}",
                         f"events must be in time order: {event.kind!r} at {at.isoformat()} is earlier than "
                         f"the previous event at {self.last_event_at.isoformat()}")
        return at

    def _started(self, event: SlaEvent, at: dt.datetime, cal: SlaCalendar) -> SlaState:
        state = replace(self, started_at=at, budget_minutes=float(event.budget_minutes or 0),
                        consumed_minutes=0.0, running_since=at, paused=False, last_event_at=at)
        return state._with_due_warnings(cal)

    def _consumed_until(self, at: dt.datetime, cal: SlaCalendar) -> tuple[float, tuple[SlaWarning, ...]]:
        if self.running_since is None:
            return self.consumed_minutes, self.warnings
        used, warnings = working_minutes_between(self.running_since, at, cal)
        return self.consumed_minutes + used, _merge(self.warnings, warnings)

    def _halted(self, at: dt.datetime, cal: SlaCalendar, *, paused: bool, stopped: bool) -> SlaState:
        consumed, warnings = self._consumed_until(at, cal)
        return replace(self, consumed_minutes=consumed, running_since=None, paused=paused, stopped=stopped,
                       warnings=warnings, last_event_at=at)

    def _rebudgeted(self, at: dt.datetime, budget: float, cal: SlaCalendar) -> SlaState:
        consumed, warnings = self._consumed_until(at, cal)
        since = at if self.running_since is not None else None
        state = replace(self, budget_minutes=budget, consumed_minutes=consumed, running_since=since,
                        warnings=warnings, last_event_at=at)
        return state._with_due_warnings(cal)

    def _with_due_warnings(self, cal: SlaCalendar) -> SlaState:
        if self.running_since is None:
            return self
        _, warnings = add_working_time(self.running_since, self.budget_minutes - self.consumed_minutes, cal)
        return replace(self, warnings=_merge(self.warnings, warnings)) if warnings else self

    def due_at(self, cal: SlaCalendar) -> dt.datetime | None:
        """The deadline (aware UTC) while the clock runs; ``None`` when not started, paused or stopped.

        ``add_working_time(running_since, budget_minutes - consumed_minutes, cal)``;
        for an overdue case this lies in the past (before ``running_since``).
        """
        if self.running_since is None:
            return None
        due, _ = add_working_time(self.running_since, self.budget_minutes - self.consumed_minutes, cal)
        return due

    def used_minutes(self, now: dt.datetime, cal: SlaCalendar) -> float:
        """Working minutes consumed up to ``now``, including the running stretch (0 before ``running_since``)."""
        moment = _aware(now, "now")
        if self.running_since is None:
            return self.consumed_minutes
        running, _ = working_minutes_between(self.running_since, moment, cal)
        return self.consumed_minutes + running

    def remaining_minutes(self, now: dt.datetime, cal: SlaCalendar) -> float:
        """Budget minus working minutes used up to ``now``; negative when overdue, 0.0 before start.

        While paused or stopped the value is frozen. While running, for ``now`` at or
        after ``running_since``, it equals the working time from ``now`` to
        :meth:`due_at` (negated when ``now`` is past it).
        """
        return self.budget_minutes - self.used_minutes(now, cal)


def replay(events: Iterable[SlaEvent], cal: SlaCalendar) -> SlaState:
    """Fold ``events`` (in time order) from :meth:`SlaState.initial`; equal to applying them one by one (R-10)."""
    state = SlaState.initial()
    for event in events:
        state = state.apply(event, cal)
    return state


def fraction_used(state: SlaState, now: dt.datetime, cal: SlaCalendar) -> float:
    """Share of the budget used at ``now`` (consumed plus the running stretch) / budget.

    0.0 before the clock starts; above 1.0 when overdue. Used for the 50 % / 80 % reminders.
    """
    used = state.used_minutes(now, cal)
    if state.started_at is None or state.budget_minutes <= 0:
        return 0.0
    return used / state.budget_minutes


def state_to_json(state: SlaState) -> str:
    """``state`` as JSON (times as ISO-8601 UTC with microseconds, minutes as exact float reprs)."""
    import json

    def t(v: dt.datetime | None) -> str | None:
        return None if v is None else v.astimezone(UTC).isoformat()

    return json.dumps({
        "started_at": t(state.started_at), "budget_minutes": state.budget_minutes,
        "consumed_minutes": state.consumed_minutes, "running_since": t(state.running_since),
        "paused": state.paused, "stopped": state.stopped, "last_event_at": t(state.last_event_at),
        "warnings": [[w.year, w.message_zh, w.message_en] for w in state.warnings],
    }, ensure_ascii=False, sort_keys=True)


def state_from_json(text: str) -> SlaState:
    """The :class:`SlaState` written by :func:`state_to_json`."""
    import json

    d = json.loads(text)

    def t(v: str | None) -> dt.datetime | None:
        return None if v is None else dt.datetime.fromisoformat(v)

    return SlaState(
        started_at=t(d["started_at"]), budget_minutes=float(d["budget_minutes"]),
        consumed_minutes=float(d["consumed_minutes"]), running_since=t(d["running_since"]),
        paused=bool(d["paused"]), stopped=bool(d["stopped"]), last_event_at=t(d["last_event_at"]),
        warnings=tuple(SlaWarning(int(y), zh, en) for y, zh, en in d["warnings"]),
    )


# --------------------------------------------------------------------------- SLA status (one per case)

#: The SLA status of a case, in display order. Before the first contact the clock runs:
#: ``running`` (计时中), ``warning`` (即将超时: the policy's warning fraction of the budget is used,
#: :func:`warning_fraction`), ``breached`` (已超时: the deadline has passed, still no contact). The first
#: contact stops the clock for good: ``met`` (按时响应: contacted at or before the deadline) or ``late``
#: (逾期响应: contacted after it). A stopped clock is never overdue: ``met`` and ``late`` cases show no
#: countdown and count as answered everywhere.
SLA_STATUSES = ("running", "warning", "breached", "met", "late")
#: The statuses' Chinese names, for every surface (queue, forms, Excel, CLI, reports).
SLA_STATUS_ZH = {"running": "计时中", "warning": "即将超时", "breached": "已超时", "met": "按时响应",
                 "late": "逾期响应"}
#: The statuses of a case not yet contacted (its clock still runs).
UNANSWERED_STATUSES = ("running", "warning", "breached")
#: The warning fraction when a policy names none.
DEFAULT_WARNING_FRACTION = 0.8


def warning_fraction(fractions: Iterable[float] | None) -> float:
    """The share of the budget at which a case shows ``warning``: the largest of the policy's
    ``sla_warn_fractions`` (时效提醒比例, default 0.5;0.8 → 0.8). The smaller ones are reminders only
    (:mod:`reviewops.handling.sweep`, :mod:`reviewops.alerting.alerts`); they do not change the status."""
    values = [float(f) for f in (fractions or ())]
    return max(values) if values else DEFAULT_WARNING_FRACTION


def sla_status(first_contact_at: dt.datetime | None, due_at: dt.datetime | None, now: dt.datetime, *,
               budget_minutes: float | None = None, cal: SlaCalendar | None = None,
               warn: float | None = None) -> str:
    """The :data:`SLA_STATUSES` value of one case at ``now`` (the scalar form of :func:`sla_statuses`).

    ``met`` / ``late`` once ``first_contact_at`` is set (``met`` at or before ``due_at``, or when there is
    no deadline); otherwise ``breached`` at or after ``due_at``, ``warning`` once the working time used
    (``budget_minutes`` minus the working minutes from ``now`` to ``due_at`` under ``cal``) reaches
    ``warn`` of the budget, else ``running``. Without ``warn`` or a budget there is no ``warning``.
    """
    if first_contact_at is not None:
        return "met" if due_at is None or _aware(first_contact_at, "first_contact_at") <= _aware(due_at, "due_at") \
            else "late"
    if due_at is None:
        return "running"
    due, moment = _aware(due_at, "due_at"), _aware(now, "now")
    if due <= moment:
        return "breached"
    if warn is None or not budget_minutes or budget_minutes <= 0:
        return "running"
    left, _ = working_minutes_between(moment, due, cal or SlaCalendar())
    return "warning" if (budget_minutes - left) / budget_minutes >= warn else "running"


def sla_statuses(first_contact_at: object, due_at: object, now: dt.datetime, *, budget_minutes: object = None,
                 cal: SlaCalendar | None = None, warn: float | None = None) -> "pd.Series":
    """:func:`sla_status` for whole columns (pandas Series or sequences of aware datetimes / NaT / None).

    Returns a Series of :data:`SLA_STATUSES` codes (index of ``due_at`` when it is a Series). ``met``,
    ``late``, ``breached`` and, on a 24×7 clock, ``warning`` are computed column-wise; on a business-hours
    clock the working minutes left are counted per case, only for cases still running.
    """
    import numpy as np
    import pandas as pd

    def column(values: object) -> pd.Series:
        items = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else list(values)  # type: ignore[arg-type]
        return pd.Series(items, dtype=object)

    due = pd.to_datetime(column(due_at), utc=True)
    contact = pd.to_datetime(column(first_contact_at), utc=True)
    if len(contact) != len(due):
        raise _error(f"first_contact_at 与 due_at 行数不同（{len(contact)} / {len(due)}）",
                     f"first_contact_at and due_at differ in length ({len(contact)} / {len(due)})")
    moment = pd.Timestamp(_aware(now, "now"))
    has_contact, has_due = contact.notna().to_numpy(), due.notna().to_numpy()
    with np.errstate(invalid="ignore"):
        in_time = (contact <= due).to_numpy()
        passed = (due <= moment).to_numpy()
    out = np.select([has_contact & (~has_due | in_time), has_contact, has_due & passed],
                    ["met", "late", "breached"], "running").astype(object)
    if warn is not None and budget_minutes is not None and len(out):
        budget = pd.to_numeric(column(budget_minutes), errors="coerce").to_numpy(dtype=float)
        todo = (out == "running") & has_due & (budget > 0)
        if todo.any():
            calendar = cal or SlaCalendar()
            if calendar.mode == "always":
                left = ((due - moment).dt.total_seconds() / 60.0).to_numpy(dtype=float)
            else:
                left = np.full(len(out), np.nan)
                for i in np.flatnonzero(todo):
                    left[i], _ = working_minutes_between(moment.to_pydatetime(), due.iloc[i].to_pydatetime(),
                                                         calendar)
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = (budget - left) / budget
            out[todo & (frac >= warn)] = "warning"
    index = due_at.index if isinstance(due_at, pd.Series) else None
    return pd.Series(out, index=index, dtype=object)
