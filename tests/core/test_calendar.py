"""Working-day arithmetic, SPEC §3 — examples worked by hand, then hypothesis properties."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from psa.core.calendar import WorkCalendar

MON_FRI = WorkCalendar()
# 2026-12-25 is a Friday, 2027-01-01 a Friday.
XMAS = WorkCalendar(holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}))


def test_plus_n_counts_working_days_after_the_date():
    # Thursday 2026-11-19 + 1 = Friday 20th; + 2 skips the weekend to Monday 23rd
    assert MON_FRI.add_working_days(date(2026, 11, 19), 1) == date(2026, 11, 20)
    assert MON_FRI.add_working_days(date(2026, 11, 19), 2) == date(2026, 11, 23)
    # Friday + 5 = next Friday
    assert MON_FRI.add_working_days(date(2026, 11, 20), 5) == date(2026, 11, 27)
    # from a Saturday, + 1 is the Monday
    assert MON_FRI.add_working_days(date(2026, 11, 21), 1) == date(2026, 11, 23)


def test_plus_zero_is_the_day_itself_or_the_next_working_day():
    assert MON_FRI.add_working_days(date(2026, 11, 23), 0) == date(2026, 11, 23)  # Monday
    assert MON_FRI.add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 23)  # Saturday -> Monday
    assert XMAS.add_working_days(date(2026, 12, 25), 0) == date(2026, 12, 28)  # holiday Friday -> Monday


def test_holidays_are_skipped():
    # Thursday 24 Dec + 1: Friday 25th is a holiday, weekend, so Monday 28th
    assert XMAS.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    # Thursday 24 Dec + 6: 28, 29, 30, 31 Dec, (1 Jan holiday), 4, 5 Jan
    assert XMAS.add_working_days(date(2026, 12, 24), 6) == date(2027, 1, 5)


def test_working_days_between_counts_a_exclusive_b_inclusive():
    # Friday 20 Nov to Monday 23 Nov: only the Monday counts
    assert MON_FRI.working_days_between(date(2026, 11, 20), date(2026, 11, 23)) == 1
    # Monday to next Monday: Tue, Wed, Thu, Fri, Mon = 5
    assert MON_FRI.working_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 5
    # across Christmas: 24 Dec -> 5 Jan = 6 (28, 29, 30, 31, 4, 5)
    assert XMAS.working_days_between(date(2026, 12, 24), date(2027, 1, 5)) == 6
    assert MON_FRI.working_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0
    assert MON_FRI.working_days_between(date(2026, 11, 30), date(2026, 11, 23)) == 0


def test_a_six_day_week_calendar():
    mon_sat = WorkCalendar(weekdays=frozenset(range(6)))
    assert mon_sat.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 21)  # Friday -> Saturday
    assert mon_sat.working_days_between(date(2026, 11, 16), date(2026, 11, 23)) == 6


def test_a_calendar_needs_a_working_day():
    import pytest

    with pytest.raises(ValueError):
        WorkCalendar(weekdays=frozenset())


days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
calendars = st.builds(
    WorkCalendar,
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    holidays=st.frozensets(st.dates(min_value=date(2019, 12, 1), max_value=date(2037, 12, 31)), max_size=40),
)


@given(calendar=calendars, day=days, n=st.integers(1, 400))
def test_adding_n_then_counting_back_gives_n(calendar, day, n):
    assert calendar.working_days_between(day, calendar.add_working_days(day, n)) == n


@given(calendar=calendars, day=days, n=st.integers(0, 400))
def test_the_result_is_always_a_working_day_after_or_on_the_date(calendar, day, n):
    result = calendar.add_working_days(day, n)
    assert calendar.is_working_day(result)
    assert result >= day if n == 0 else result > day


@given(calendar=calendars, a=days, b=days)
def test_counting_matches_a_day_by_day_walk(calendar, a, b):
    expected = sum(1 for k in range(1, (b - a).days + 1) if calendar.is_working_day(a + timedelta(days=k)))
    assert calendar.working_days_between(a, b) == max(expected, 0)


@given(calendar=calendars, day=days, n=st.integers(1, 200), m=st.integers(1, 200))
def test_adding_is_associative(calendar, day, n, m):
    assert calendar.add_working_days(calendar.add_working_days(day, n), m) == calendar.add_working_days(day, n + m)


@given(calendar=calendars, day=days, n=st.integers(1, 200))
def test_counting_back_inverts_adding_on_working_days(calendar, day, n):
    start = calendar.add_working_days(day, 0)
    assert calendar.add_working_days(calendar.add_working_days(start, n), -n) == start


def test_get_calendar_reads_settings_and_holidays(ctx, make):
    from psa.admin.services import add_holiday, update_settings
    from psa.core.calendar import get_calendar

    add_holiday(None, date(2026, 12, 25), "Christmas Day")
    update_settings(None, working_days="123456")
    calendar = get_calendar()
    assert calendar.weekdays == frozenset(range(6))
    assert calendar.holidays == frozenset({date(2026, 12, 25)})
