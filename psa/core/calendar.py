"""Working-day arithmetic (SPEC §3, Working days), honouring the configured weekdays and holidays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days: configured weekdays (0 = Monday) that are not holidays."""

    weekdays: frozenset[int] = frozenset(range(5))
    holidays: frozenset[date] = frozenset()

    def __post_init__(self):
        if not self.weekdays:
            raise ValueError("a calendar needs at least one working weekday")

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def add_working_days(self, day: date, n: int) -> date:
        """d + n working days: the n-th working day after d (d not counted); for n = 0, d itself when it
        is a working day, else the next working day. A negative n counts back the same way.

        The arithmetic never overflows: a result beyond the last (or before the first) date Python can
        hold stops at that date. Typed dates lie in 2000-2099 (SPEC §3), so only a stored date from
        before that rule can get there, and a page showing it must not fail."""
        if n == 0:
            while not self.is_working_day(day):
                if day == date.max:
                    return day
                day += ONE_DAY
            return day
        step = ONE_DAY if n > 0 else -ONE_DAY
        edge = date.max if n > 0 else date.min
        remaining = abs(n)
        while remaining:
            if day == edge:
                return day
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days x with start < x <= end (0 when end <= start)."""
        if end <= start:
            return 0
        span = (end - start).days
        full_weeks, rest = divmod(span, 7)
        count = full_weeks * len(self.weekdays)
        day = start + timedelta(days=full_weeks * 7)
        for _ in range(rest):
            day += ONE_DAY
            if day.weekday() in self.weekdays:
                count += 1
        count -= sum(1 for holiday in self.holidays if start < holiday <= end and holiday.weekday() in self.weekdays)
        return count


#: Builds the organisation's calendar (its working weekdays and holidays live with the settings, in a feature
#: psa/core may not import): registered by the app at start (create_app).
_calendar_source: Callable[[], WorkCalendar] | None = None


def set_calendar_source(source: Callable[[], WorkCalendar] | None) -> None:
    """Register the function building the organisation's calendar (None unregisters it)."""
    global _calendar_source
    _calendar_source = source


def get_calendar() -> WorkCalendar:
    """The organisation's calendar from the settings and the holiday table; built once per request."""
    from flask import g, has_app_context

    cached = g.get("psa_calendar") if has_app_context() else None
    if cached is not None:
        return cached
    if _calendar_source is None:
        raise RuntimeError("No calendar source registered: create_app registers the settings' calendar.")
    calendar = _calendar_source()
    if has_app_context():
        g.psa_calendar = calendar
    return calendar


def capacity_hours(working_days: int, weekly_hours: Decimal, off_hours: Decimal = Decimal(0)) -> Decimal:
    """A person's capacity over days holding `working_days` working days (SPEC §3, utilization): working days ×
    weekly capacity hours ÷ 5, less the time off logged in them, never below 0."""
    capacity = Decimal(working_days) * Decimal(weekly_hours) / 5 - off_hours
    return capacity if capacity > 0 else Decimal(0)
