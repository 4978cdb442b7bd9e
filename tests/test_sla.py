"""The SLA clock (reviewops.core.sla): working-time arithmetic, Chinese holidays, R-10 and R-11.

Unit tests pin hand-computed deadlines (business hours 09:00–22:00 Asia/Shanghai; the
2025 National Day holiday is Oct 1–8 and Sun 2025-09-28 / Sat 2025-10-11 are 调休
workdays). Hypothesis properties check the arithmetic against a minute-by-minute
oracle, its round trip and monotonicity, and that replaying a case's events equals
the incrementally maintained state (R-10).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time as clock
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as hst
from reviewops.core import sla
from reviewops.core.errors import ConfigError
from reviewops.core.sla import (
    SlaCalendar,
    SlaEvent,
    SlaState,
    SlaWarning,
    add_working_time,
    fraction_used,
    is_working_day,
    replay,
    working_minutes_between,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
ALWAYS = SlaCalendar()
BUSINESS = SlaCalendar(mode="business")
MON_FRI = SlaCalendar(mode="business", holidays=False)
OFFICE = SlaCalendar(mode="business", day_start=dt.time(8, 30), day_end=dt.time(18, 0))
LATE = SlaCalendar(mode="business", day_start=dt.time(0, 0), day_end=dt.time(23, 59, 59))
CALENDARS = [ALWAYS, BUSINESS, MON_FRI, OFFICE, LATE]
PROPS = settings(max_examples=200, deadline=None)


def sh(*args: int) -> dt.datetime:
    """An aware Asia/Shanghai datetime."""
    return dt.datetime(*args, tzinfo=SH)


def utc(*args: int) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime(*args, tzinfo=UTC)


def due(start: dt.datetime, minutes: float, cal: SlaCalendar) -> dt.datetime:
    result, warnings = add_working_time(start, minutes, cal)
    assert warnings == []
    assert result.utcoffset() == dt.timedelta(0)
    return result


def worked(a: dt.datetime, b: dt.datetime, cal: SlaCalendar) -> float:
    minutes, _ = working_minutes_between(a, b, cal)
    return minutes


def first_unsupported_year() -> int:
    """The first year after 2025 for which chinese_calendar has no data."""
    year = 2025
    while True:
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            return year
        year += 1


# ----------------------------------------------------------------------- always mode


def test_always_mode_is_plain_addition_across_midnight_and_year_end() -> None:
    assert due(sh(2025, 3, 1, 23, 30), 45, ALWAYS) == sh(2025, 3, 2, 0, 15)
    assert due(sh(2025, 3, 1, 23, 30), 45, ALWAYS) == utc(2025, 3, 1, 16, 15)
    assert due(utc(2025, 12, 31, 23, 59, 59), 1, ALWAYS) == utc(2026, 1, 1, 0, 0, 59)
    assert due(sh(2025, 10, 1, 12, 0), 120, ALWAYS) == sh(2025, 10, 1, 14, 0)  # holidays do not matter
    assert due(sh(2025, 3, 1, 12, 0), 1.5, ALWAYS) == sh(2025, 3, 1, 12, 1, 30)


def test_always_mode_zero_minutes_returns_start_in_utc() -> None:
    result = due(sh(2025, 3, 1, 23, 59, 59), 0, ALWAYS)
    assert result == sh(2025, 3, 1, 23, 59, 59)
    assert result.tzinfo is UTC


def test_always_mode_counts_every_minute() -> None:
    assert worked(sh(2025, 9, 30, 0, 0), sh(2025, 10, 9, 0, 0), ALWAYS) == 9 * 24 * 60
    assert worked(sh(2025, 10, 9), sh(2025, 9, 30), ALWAYS) == 0.0
    assert is_working_day(dt.date(2025, 10, 1), ALWAYS) == (True, None)


# ----------------------------------------------------------------------- business mode


def test_start_after_hours_moves_to_next_opening() -> None:
    # Tuesday 21:30 with 60 min: 30 min today, 30 min from Wednesday 09:00
    assert due(sh(2025, 3, 4, 21, 30), 60, BUSINESS) == sh(2025, 3, 5, 9, 30)
    # a start at night begins at the next opening
    assert due(sh(2025, 3, 4, 22, 30), 60, BUSINESS) == sh(2025, 3, 5, 10, 0)
    assert due(sh(2025, 3, 5, 3, 0), 60, BUSINESS) == sh(2025, 3, 5, 10, 0)


def test_friday_evening_rolls_to_monday_in_a_normal_week() -> None:
    assert due(sh(2025, 3, 7, 21, 0), 120, BUSINESS) == sh(2025, 3, 10, 10, 0)
    assert due(sh(2025, 3, 8, 15, 0), 60, BUSINESS) == sh(2025, 3, 10, 10, 0)  # Saturday start
    assert worked(sh(2025, 3, 7, 21, 0), sh(2025, 3, 10, 10, 0), BUSINESS) == 120


def test_chinese_working_days_2025_national_day() -> None:
    assert is_working_day(dt.date(2025, 9, 28), BUSINESS) == (True, None)  # Sunday, 调休 workday
    assert is_working_day(dt.date(2025, 9, 27), BUSINESS) == (False, None)  # ordinary Saturday
    assert is_working_day(dt.date(2025, 10, 11), BUSINESS) == (True, None)  # Saturday, 调休 workday
    for day in range(1, 9):
        assert is_working_day(dt.date(2025, 10, day), BUSINESS) == (False, None)
    assert is_working_day(dt.date(2025, 10, 9), BUSINESS) == (True, None)
    # without the holiday calendar: plain Monday–Friday
    assert is_working_day(dt.date(2025, 9, 28), MON_FRI) == (False, None)
    assert is_working_day(dt.date(2025, 10, 1), MON_FRI) == (True, None)


def test_is_working_day_takes_the_local_date_of_an_aware_datetime() -> None:
    # 2025-09-27 20:00 UTC is Sunday 2025-09-28 04:00 in Shanghai (调休 workday)
    assert is_working_day(utc(2025, 9, 27, 20, 0), BUSINESS) == (True, None)
    assert is_working_day(utc(2025, 9, 27, 10, 0), BUSINESS) == (False, None)


def test_table_agrees_with_chinese_calendar_for_every_supported_day() -> None:
    day, last = dt.date(2004, 1, 1), dt.date(first_unsupported_year() - 1, 12, 31)
    while day <= last:
        assert is_working_day(day, BUSINESS) == (chinese_calendar.is_workday(day), None), day
        day += dt.timedelta(days=1)


def test_weekend_workday_before_national_day_counts() -> None:
    # Friday 2025-09-26 21:30 + 60 min: 30 min Friday, 30 min on the 调休 Sunday
    assert due(sh(2025, 9, 26, 21, 30), 60, BUSINESS) == sh(2025, 9, 28, 9, 30)
    assert due(sh(2025, 9, 26, 21, 30), 60, MON_FRI) == sh(2025, 9, 29, 9, 30)


def test_deadline_across_national_day_lands_on_october_9() -> None:
    start = sh(2025, 9, 30, 21, 0)
    assert due(start, 120, BUSINESS) == sh(2025, 10, 9, 10, 0)
    assert worked(start, sh(2025, 10, 9, 10, 0), BUSINESS) == 120
    assert worked(sh(2025, 10, 1), sh(2025, 10, 9), BUSINESS) == 0
    assert due(start, 120, MON_FRI) == sh(2025, 10, 1, 10, 0)


def test_utc_and_shanghai_inputs_give_the_same_instant() -> None:
    assert utc(2025, 9, 30, 13, 0) == sh(2025, 9, 30, 21, 0)
    assert due(utc(2025, 9, 30, 13, 0), 120, BUSINESS) == due(sh(2025, 9, 30, 21, 0), 120, BUSINESS)
    # 2025-10-08 23:30 UTC is already 2025-10-09 07:30 in Shanghai: a working day
    assert due(utc(2025, 10, 8, 23, 30), 60, BUSINESS) == sh(2025, 10, 9, 10, 0)
    assert worked(utc(2025, 10, 8, 0, 0), utc(2025, 10, 9, 2, 0), BUSINESS) == 60


def test_midnight_and_last_second_edges() -> None:
    assert due(sh(2025, 3, 4, 23, 59, 59), 1, BUSINESS) == sh(2025, 3, 5, 9, 1)
    assert due(sh(2025, 3, 5, 0, 0), 1, BUSINESS) == sh(2025, 3, 5, 9, 1)
    assert due(sh(2025, 9, 27, 23, 59, 59), 1, BUSINESS) == sh(2025, 9, 28, 9, 1)  # into the 调休 Sunday
    assert due(sh(2025, 9, 30, 23, 59, 59), 1, BUSINESS) == sh(2025, 10, 9, 9, 1)
    assert worked(sh(2025, 3, 4, 23, 59, 59), sh(2025, 3, 5, 0, 0), BUSINESS) == 0
    assert worked(sh(2025, 3, 4, 21, 59, 59), sh(2025, 3, 5, 0, 0), BUSINESS) == pytest.approx(1 / 60)
    # a window that closes at 23:59:59: the last second of the day is off
    assert due(sh(2025, 3, 4, 23, 59, 58), 1 / 60, LATE) == sh(2025, 3, 4, 23, 59, 59)
    assert due(sh(2025, 3, 4, 23, 59, 59), 1 / 60, LATE) == sh(2025, 3, 5, 0, 0, 1)


def test_window_edges_and_zero_minutes() -> None:
    assert due(sh(2025, 3, 4, 21, 0), 60, BUSINESS) == sh(2025, 3, 4, 22, 0)  # ends at closing, not next morning
    assert due(sh(2025, 3, 4, 9, 0), 0, BUSINESS) == sh(2025, 3, 4, 9, 0)
    assert due(sh(2025, 3, 4, 21, 59, 59), 0, BUSINESS) == sh(2025, 3, 4, 21, 59, 59)
    assert due(sh(2025, 3, 4, 22, 0), 0, BUSINESS) == sh(2025, 3, 5, 9, 0)  # the window is [09:00, 22:00)
    assert due(sh(2025, 3, 4, 8, 59, 59), 0, BUSINESS) == sh(2025, 3, 4, 9, 0)
    assert due(sh(2025, 10, 1, 12, 0), 0, BUSINESS) == sh(2025, 10, 9, 9, 0)
    assert worked(sh(2025, 3, 3), sh(2025, 3, 10), BUSINESS) == 5 * 13 * 60


def test_negative_minutes_go_backwards() -> None:
    assert due(sh(2025, 10, 9, 10, 0), -120, BUSINESS) == sh(2025, 9, 30, 21, 0)
    assert due(sh(2025, 3, 5, 9, 0), -60, BUSINESS) == sh(2025, 3, 4, 21, 0)
    assert due(sh(2025, 3, 5, 9, 30), -30, BUSINESS) == sh(2025, 3, 5, 9, 0)  # latest instant: the opening
    assert due(sh(2025, 3, 5, 9, 30), -45, ALWAYS) == sh(2025, 3, 5, 8, 45)


def test_other_business_hours() -> None:
    assert due(sh(2025, 3, 7, 17, 0), 120, OFFICE) == sh(2025, 3, 10, 9, 30)
    assert worked(sh(2025, 3, 10), sh(2025, 3, 11), OFFICE) == 570


def test_adding_ten_thousand_hours_is_fast() -> None:
    sla._cn_working_days.cache_clear()
    sla._window.cache_clear()
    started = clock.perf_counter()
    result, _ = add_working_time(sh(2025, 1, 2, 9, 0), 10_000 * 60, BUSINESS)
    back, _ = working_minutes_between(sh(2025, 1, 2, 9, 0), result, BUSINESS)
    elapsed = clock.perf_counter() - started
    assert back == 10_000 * 60
    assert elapsed < 0.05, f"{elapsed * 1000:.1f} ms"


# ----------------------------------------------------------------------- errors


@pytest.mark.parametrize("call", [
    lambda: add_working_time(dt.datetime(2025, 3, 4, 21, 30), 60, BUSINESS),
    lambda: add_working_time(dt.datetime(2025, 3, 4, 21, 30), 60, ALWAYS),
    lambda: working_minutes_between(dt.datetime(2025, 3, 4), sh(2025, 3, 5), BUSINESS),
    lambda: working_minutes_between(sh(2025, 3, 4), dt.datetime(2025, 3, 5), ALWAYS),
    lambda: is_working_day(dt.datetime(2025, 3, 4, 21, 30), BUSINESS),
    lambda: SlaEvent("start", dt.datetime(2025, 3, 4, 21, 30), 60),
    lambda: replay([SlaEvent("start", sh(2025, 3, 4), 60)], BUSINESS).remaining_minutes(
        dt.datetime(2025, 3, 4, 21, 30), BUSINESS),
])
def test_naive_datetimes_are_rejected(call) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    text = str(info.value)
    assert "缺少时区" in text and "naive" in text and "2025-03-0" in text
    assert text.index("缺少时区") < text.index("naive")  # Chinese first
    assert "ZoneInfo('Asia/Shanghai')" in text  # says what to do


@pytest.mark.parametrize("kwargs", [
    {"mode": "business", "day_start": dt.time(22, 0), "day_end": dt.time(9, 0)},
    {"mode": "business", "day_start": dt.time(9, 0), "day_end": dt.time(9, 0)},
    {"day_start": dt.time(9, 0), "day_end": dt.time(8, 59, 59)},
    {"mode": "weekdays"},
    {"mode": "Business"},
    {"tz": "Mars/Olympus"},
    {"tz": ""},
    {"holidays": "yes"},
    {"day_start": "09:00"},
    {"day_end": dt.time(22, 0, tzinfo=UTC)},
])
def test_bad_calendar_config_is_rejected(kwargs) -> None:
    with pytest.raises(ConfigError):
        SlaCalendar(**kwargs)


@pytest.mark.parametrize("minutes", [math.nan, math.inf, -math.inf, True, "60", None, sla.MAX_MINUTES + 1])
def test_bad_minutes_are_rejected(minutes) -> None:
    with pytest.raises(ConfigError):
        add_working_time(sh(2025, 3, 4), minutes, BUSINESS)


# ----------------------------------------------------------------------- R-11 missing calendar year


def test_first_unsupported_year_falls_back_to_monday_to_friday_with_one_warning() -> None:
    year = first_unsupported_year()
    assert year >= 2026
    expected = [SlaWarning.missing_year(year)]
    # a long budget inside that year: many days consulted, exactly one warning, Mon–Fri result
    start = sh(year, 3, 1, 12, 0)
    result, warnings = add_working_time(start, 13 * 60 * 40, BUSINESS)
    assert warnings == expected
    assert len(warnings) == 1 and str(year) in warnings[0].message_zh and str(year) in warnings[0].message_en
    assert result == due(start, 13 * 60 * 40, MON_FRI)
    assert working_minutes_between(start, result, BUSINESS) == (13 * 60 * 40, expected)
    # New Year's Day is treated as an ordinary weekday, a Saturday is off
    jan1 = dt.date(year, 1, 1)
    assert is_working_day(jan1, BUSINESS) == (jan1.weekday() < 5, expected[0])
    saturday = next(jan1 + dt.timedelta(days=i) for i in range(7) if (jan1 + dt.timedelta(days=i)).weekday() == 5)
    assert is_working_day(saturday, BUSINESS) == (False, expected[0])


def test_deadline_running_into_the_missing_year_warns_once() -> None:
    year = first_unsupported_year()
    start = sh(year - 1, 12, 31, 21, 30)
    result, warnings = add_working_time(start, 60 * 13 * 3, BUSINESS)
    assert warnings == [SlaWarning.missing_year(year)]
    assert result == due(sh(year, 1, 1, 0, 0), 60 * 13 * 3 - (30 if is_working_day(start, BUSINESS)[0] else 0),
                         MON_FRI)
    # a clock that stays inside the data gets no warning
    assert add_working_time(sh(year - 1, 12, 1, 9, 0), 60, BUSINESS)[1] == []
    # two missing years: one warning each, sorted
    _, two = add_working_time(sh(year, 12, 30, 9, 0), 13 * 60 * 5, BUSINESS)
    assert [w.year for w in two] == [year, year + 1]
    # a case whose clock runs into the missing year carries the warning once
    state = replay([SlaEvent("start", start, 600), SlaEvent("pause", sh(year, 1, 4, 10, 0)),
                    SlaEvent("resume", sh(year, 1, 5, 10, 0)), SlaEvent("stop", sh(year, 1, 6, 10, 0))], BUSINESS)
    assert state.warnings == (SlaWarning.missing_year(year),)


def test_years_before_the_data_fall_back_too() -> None:
    assert is_working_day(dt.date(2003, 10, 1), BUSINESS) == (True, SlaWarning.missing_year(2003))


# ----------------------------------------------------------------------- case timeline


def test_pause_resume_stop_timeline() -> None:
    events = [SlaEvent("start", sh(2025, 3, 4, 10, 0), 120), SlaEvent("pause", sh(2025, 3, 4, 10, 30)),
              SlaEvent("resume", sh(2025, 3, 4, 21, 30))]
    state = replay(events, BUSINESS)
    assert state.consumed_minutes == 30 and state.running_since == sh(2025, 3, 4, 21, 30)
    assert state.due_at(BUSINESS) == sh(2025, 3, 5, 10, 0)
    assert state.remaining_minutes(sh(2025, 3, 4, 21, 45), BUSINESS) == 75
    assert fraction_used(state, sh(2025, 3, 4, 21, 45), BUSINESS) == pytest.approx(45 / 120)
    paused = state.apply(SlaEvent("pause", sh(2025, 3, 5, 9, 30)), BUSINESS)
    assert paused.paused and paused.due_at(BUSINESS) is None and paused.consumed_minutes == 90
    assert paused.remaining_minutes(sh(2025, 3, 9), BUSINESS) == 30  # frozen while paused
    stopped = paused.apply(SlaEvent("stop", sh(2025, 3, 5, 11, 0)), BUSINESS)
    assert stopped.stopped and stopped.due_at(BUSINESS) is None and stopped.consumed_minutes == 90
    with pytest.raises(ConfigError):
        stopped.apply(SlaEvent("resume", sh(2025, 3, 5, 12, 0)), BUSINESS)


def test_rebudget_keeps_consumed_time_and_can_make_a_case_overdue() -> None:
    start = SlaEvent("start", sh(2025, 3, 4, 10, 0), 240)
    state = replay([start, SlaEvent("rebudget", sh(2025, 3, 4, 11, 0), 120)], BUSINESS)
    assert state.consumed_minutes == 60 and state.budget_minutes == 120
    assert state.due_at(BUSINESS) == sh(2025, 3, 4, 12, 0)
    overdue = replay([start, SlaEvent("rebudget", sh(2025, 3, 4, 12, 0), 60)], BUSINESS)
    assert overdue.due_at(BUSINESS) == sh(2025, 3, 4, 11, 0)  # in the past
    assert overdue.remaining_minutes(sh(2025, 3, 4, 12, 30), BUSINESS) == -90
    assert fraction_used(overdue, sh(2025, 3, 4, 12, 0), BUSINESS) == 2.0
    paused = replay([start, SlaEvent("pause", sh(2025, 3, 4, 11, 0)),
                     SlaEvent("rebudget", sh(2025, 3, 4, 15, 0), 60)], BUSINESS)
    assert paused.paused and paused.consumed_minutes == 60 and paused.budget_minutes == 60
    assert paused.due_at(BUSINESS) is None


def test_initial_state() -> None:
    state = SlaState.initial()
    assert state.due_at(BUSINESS) is None
    assert state.remaining_minutes(sh(2025, 3, 4), BUSINESS) == 0.0
    assert fraction_used(state, sh(2025, 3, 4), BUSINESS) == 0.0
    assert replay([], BUSINESS) == state


def test_repeated_pause_and_resume_are_no_ops() -> None:
    base = replay([SlaEvent("start", sh(2025, 3, 4, 10, 0), 120)], BUSINESS)
    resumed = base.apply(SlaEvent("resume", sh(2025, 3, 4, 10, 30)), BUSINESS)
    assert (resumed.consumed_minutes, resumed.running_since, resumed.paused) == (0, base.running_since, False)
    paused = base.apply(SlaEvent("pause", sh(2025, 3, 4, 11, 0)), BUSINESS)
    again = paused.apply(SlaEvent("pause", sh(2025, 3, 4, 12, 0)), BUSINESS)
    assert (again.consumed_minutes, again.paused, again.running_since) == (60, True, None)


@pytest.mark.parametrize("events", [
    [SlaEvent("start", sh(2025, 3, 4, 10), 60), SlaEvent("start", sh(2025, 3, 4, 11), 60)],
    [SlaEvent("pause", sh(2025, 3, 4, 10))],
    [SlaEvent("stop", sh(2025, 3, 4, 10))],
    [SlaEvent("start", sh(2025, 3, 4, 10), 60), SlaEvent("pause", sh(2025, 3, 4, 9))],
    [SlaEvent("start", sh(2025, 3, 4, 10), 60), SlaEvent("pause", sh(2025, 3, 4, 12)),
     SlaEvent("pause", sh(2025, 3, 4, 13)), SlaEvent("resume", sh(2025, 3, 4, 12, 30))],
    [SlaEvent("start", sh(2025, 3, 4, 10), 60), SlaEvent("stop", sh(2025, 3, 4, 12)),
     SlaEvent("stop", sh(2025, 3, 4, 13))],
])
def test_invalid_timelines_are_rejected(events) -> None:
    with pytest.raises(ConfigError):
        replay(events, BUSINESS)


@pytest.mark.parametrize("kwargs", [
    {"kind": "start", "budget_minutes": None},
    {"kind": "start", "budget_minutes": 0},
    {"kind": "rebudget", "budget_minutes": -5},
    {"kind": "rebudget", "budget_minutes": math.nan},
    {"kind": "pause", "budget_minutes": 60},
    {"kind": "answer"},
])
def test_bad_events_are_rejected(kwargs) -> None:
    with pytest.raises(ConfigError):
        SlaEvent(at=sh(2025, 3, 4), **kwargs)


# ----------------------------------------------------------------------- properties

# Local dates around the 2025 National Day holiday and its 调休 weekends, an ordinary week,
# and the turn of the year into the first year without calendar data.
_DAYS = ([dt.date(2025, 9, 24) + dt.timedelta(days=i) for i in range(21)]
         + [dt.date(2025, 3, 5) + dt.timedelta(days=i) for i in range(7)]
         + [dt.date(2026, 12, 29) + dt.timedelta(days=i) for i in range(7)])
_EDGE_TIMES = [dt.time(0, 0), dt.time(23, 59, 59), dt.time(23, 59, 59, 999999), dt.time(9, 0),
               dt.time(8, 59, 59), dt.time(21, 59, 59), dt.time(22, 0), dt.time(18, 0), dt.time(12, 0)]
_as_utc = hst.booleans()


@hst.composite
def instants(draw) -> dt.datetime:
    """An instant near holidays/edges, given in Asia/Shanghai or in UTC."""
    day = draw(hst.sampled_from(_DAYS))
    wall = draw(hst.one_of(hst.sampled_from(_EDGE_TIMES), hst.times()))
    local = dt.datetime.combine(day, wall, tzinfo=SH)
    return local.astimezone(UTC) if draw(_as_utc) else local


budgets = hst.one_of(hst.sampled_from([0, 1, 59, 60, 120, 240, 780, 781, 1560]),
                     hst.integers(0, 20_000),
                     hst.floats(0, 20_000, allow_nan=False, allow_infinity=False))
gaps = hst.one_of(hst.sampled_from([0.0, 1 / 60, 1.0, 30.0, 60.0, 13 * 60.0, 24 * 60.0]),
                  hst.floats(0, 5 * 24 * 60, allow_nan=False, allow_infinity=False))
positive_budgets = budgets.filter(lambda b: b >= 1 / 60)  # at least one second
calendars = hst.sampled_from(CALENDARS)


@PROPS
@given(start=instants(), minutes=budgets, cal=calendars, backwards=hst.booleans())
@example(start=sh(2025, 9, 27, 23, 59, 59), minutes=1, cal=BUSINESS, backwards=False)
@example(start=utc(2025, 9, 30, 16, 0), minutes=781, cal=BUSINESS, backwards=False)
@example(start=sh(2025, 10, 9, 0, 0), minutes=120, cal=BUSINESS, backwards=True)
def test_round_trip(start, minutes, cal, backwards) -> None:
    """(2) working_minutes_between(start, add_working_time(start, m)) == m, both directions."""
    if backwards and minutes:
        earlier, _ = add_working_time(start, -minutes, cal)
        assert earlier <= start
        assert abs(worked(earlier, start, cal) - minutes) < 1e-6
    else:
        later, _ = add_working_time(start, minutes, cal)
        assert later >= start
        assert abs(worked(start, later, cal) - minutes) < 1e-6


@PROPS
@given(start=instants(), m1=budgets, m2=budgets, cal=calendars, negate=hst.booleans())
@example(start=sh(2025, 3, 4, 22, 0), m1=0, m2=1 / 60, cal=BUSINESS, negate=False)
def test_more_minutes_never_give_an_earlier_deadline(start, m1, m2, cal, negate) -> None:
    """(3) monotone in minutes (also across zero into negative minutes)."""
    low, high = sorted([-m1 if negate else m1, m2])
    assert add_working_time(start, low, cal)[0] <= add_working_time(start, high, cal)[0]


@functools.cache
def _cn_workday(day: dt.date) -> bool:
    return chinese_calendar.is_workday(day)


def _is_working_minute(local: dt.datetime, cal: SlaCalendar) -> bool:
    if cal.mode == "always":
        return True
    day = local.date()
    working = _cn_workday(day) if cal.holidays else day.weekday() < 5
    return working and cal.day_start <= local.time() < cal.day_end


@settings(max_examples=200, deadline=None)
@given(a=instants(), span=hst.integers(0, 36 * 60), cal=hst.sampled_from([BUSINESS, MON_FRI, OFFICE, ALWAYS]))
@example(a=sh(2025, 9, 30, 21, 59), span=36 * 60, cal=BUSINESS)
@example(a=utc(2025, 9, 27, 15, 0), span=36 * 60, cal=BUSINESS)
def test_working_minutes_match_a_minute_by_minute_count(a, span, cal) -> None:
    """Independent oracle: count whole minutes one by one with chinese_calendar.is_workday."""
    a = a.replace(second=0, microsecond=0)
    if a.date().year >= first_unsupported_year() - 1:
        a = a.replace(year=2025, month=10, day=a.day)
    local = a.astimezone(SH)
    expected = sum(_is_working_minute(local + dt.timedelta(minutes=i), cal) for i in range(span))
    assert worked(a, a + dt.timedelta(minutes=span), cal) == expected


@PROPS
@given(a=instants(), b=instants(), c=instants(), cal=calendars)
def test_working_minutes_are_additive(a, b, c, cal) -> None:
    a, b, c = sorted([a, b, c])
    assert abs(worked(a, b, cal) + worked(b, c, cal) - worked(a, c, cal)) < 1e-6
    assert worked(c, a, cal) == 0.0


@hst.composite
def timelines(draw) -> list[SlaEvent]:
    """A start, then pauses/resumes/rebudgets (repeats included) and maybe a stop, in time order."""
    at = draw(instants())
    events = [SlaEvent("start", at, draw(positive_budgets))]
    for kind in draw(hst.lists(hst.sampled_from(["pause", "resume", "rebudget"]), max_size=8)):
        at = _later(draw, at)
        budget = draw(positive_budgets) if kind == "rebudget" else None
        events.append(SlaEvent(kind, at, budget))
    if draw(hst.booleans()):
        events.append(SlaEvent("stop", _later(draw, at)))
    return events


def _later(draw, at: dt.datetime) -> dt.datetime:
    """``at`` plus a gap, sometimes snapped to an edge time, in Shanghai or UTC."""
    moment = at + dt.timedelta(minutes=draw(gaps))
    if draw(hst.booleans()):
        local = moment.astimezone(SH)
        snapped = dt.datetime.combine(local.date(), draw(hst.sampled_from(_EDGE_TIMES)), tzinfo=SH)
        moment = max(moment, snapped)
    return moment.astimezone(UTC) if draw(_as_utc) else moment.astimezone(SH)


def _running_intervals(events: list[SlaEvent]) -> tuple[list[tuple[dt.datetime, dt.datetime]], dt.datetime | None]:
    """Independent reading of a timeline: the stretches when the clock ran, and since when it still runs."""
    intervals, since, paused = [], None, False
    for event in events:
        if event.kind == "start":
            since = event.at
        elif event.kind == "resume" and paused:
            since, paused = event.at, False
        elif event.kind in ("pause", "stop") and since is not None:
            intervals.append((since, event.at))
            since, paused = None, event.kind == "pause"
    return intervals, since


@PROPS
@given(events=timelines(), cal=calendars, later=gaps)
@example(events=[SlaEvent("start", sh(2025, 9, 26, 21, 30), 120), SlaEvent("pause", utc(2025, 9, 27, 15, 59, 59)),
                 SlaEvent("resume", sh(2025, 9, 28, 0, 0)), SlaEvent("rebudget", sh(2025, 9, 30, 23, 59, 59), 60)],
         cal=BUSINESS, later=60.0)
def test_replay_equals_incremental_state(events, cal, later) -> None:
    """(1) R-10: replay(events) equals applying them one by one, deadlines included."""
    state = SlaState.initial()
    for i, event in enumerate(events):
        state = state.apply(event, cal)
        replayed = replay(events[: i + 1], cal)
        assert replayed == state
        assert replayed.due_at(cal) == state.due_at(cal)
    # the consumed time is the working time of the stretches the clock ran
    intervals, since = _running_intervals(events)
    assert (state.running_since is None) == (since is None)  # a rebudget re-anchors running_since
    assert state.stopped == (events[-1].kind == "stop")
    budget = next(e.budget_minutes for e in reversed(events) if e.budget_minutes is not None)
    assert state.budget_minutes == budget
    now = events[-1].at + dt.timedelta(minutes=later)
    used = sum(worked(a, b, cal) for a, b in intervals) + (worked(since, now, cal) if since else 0.0)
    assert abs(state.remaining_minutes(now, cal) - (budget - used)) < 1e-6
    assert math.isclose(fraction_used(state, now, cal), used / budget, rel_tol=1e-9, abs_tol=1e-9)
    if since is not None:  # remaining time is the working time from now to the deadline
        deadline = state.due_at(cal)
        signed = worked(now, deadline, cal) - worked(deadline, now, cal)
        assert abs(state.remaining_minutes(now, cal) - signed) < 1e-6


@PROPS
@given(start=instants(), budget=positive_budgets, pauses=hst.lists(hst.tuples(gaps, gaps), max_size=3),
       cal=calendars)
@example(start=sh(2025, 9, 30, 21, 0), budget=120, pauses=[(30.0, 24 * 60.0)], cal=BUSINESS)
def test_pausing_never_makes_the_deadline_earlier(start, budget, pauses, cal) -> None:
    """(4) a timeline with pauses is never due before the same timeline without them."""
    base = SlaEvent("start", start, budget)
    without = replay([base], cal).due_at(cal)
    events, at = [base], start
    for run, rest in pauses:
        at += dt.timedelta(minutes=run)
        events.append(SlaEvent("pause", at))
        at += dt.timedelta(minutes=rest)
        events.append(SlaEvent("resume", at))
    assert replay(events, cal).due_at(cal) >= without
