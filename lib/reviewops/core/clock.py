"""The shop's working clock: the SLA calendar a policy asks for (:func:`calendar_of`) and the one
warning every surface shows when holiday data is missing ahead (:func:`calendar_warning`).
Every deadline — triage, cases, workbench, sweep, alerts, Excel, demo — is counted on it.
"""

from __future__ import annotations

import datetime as dt

from .policy import Policy
from .sla import CalendarGap, SlaCalendar, calendar_gap
from .store import utcnow

__all__ = ["calendar_of", "calendar_warning"]


def calendar_of(policy: Policy) -> SlaCalendar:
    """The SLA clock the policy asks for: its clock settings and its 节假日 rows (which win over
    ``chinese_calendar``). Every deadline — triage, workbench, sweep, alerts, Excel, demo — is counted on it."""
    return SlaCalendar(
        mode=policy.setting("sla_clock"),
        day_start=policy.setting("business_day_start"),
        day_end=policy.setting("business_day_end"),
        holidays=bool(policy.setting("use_cn_holidays")),
        shop_days=policy.shop_days,
    )


def calendar_warning(policy: Policy, now: dt.datetime | None = None) -> CalendarGap | None:
    """Whether the next :data:`reviewops.core.sla.CALENDAR_LOOKAHEAD_DAYS` days from ``now`` (default: the
    current time) lack holiday data under ``policy`` — neither ``chinese_calendar`` nor the policy's 节假日
    rows cover them (:func:`reviewops.core.sla.calendar_gap`); ``None`` when nothing is missing or the clock
    needs no calendar. Every surface that computes deadlines shows this one message."""
    return calendar_gap(calendar_of(policy), now or utcnow())
