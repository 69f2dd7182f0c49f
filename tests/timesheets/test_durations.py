"""Duration parsing and formatting: every accepted format round-trips (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psa.timesheets.durations import DurationError, format_hours, format_minutes, parse_duration


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("1:30", 90), ("0:05", 5), ("1.5", 90), ("1,5", 90), ("90m", 90), ("90 min", 90), ("1h30m", 90),
     ("1h 30m", 90), ("2h", 120), ("2", 120), (" 0.25 ", 15), ("1.75h", 105), ("0.1", 6), ("24", 1440),
     ("1H30M", 90)],
)
def test_accepted_formats(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["abc", "1:75", "-1", "1h-5m", "h", "m", "1:3", "1..5", "3 hours and change"])
def test_refused_formats_say_why(text):
    with pytest.raises(DurationError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0:00", "0m", "0.001"])
def test_zero_is_refused(text):
    with pytest.raises(DurationError, match="above 0"):
        parse_duration(text)


def test_blank_is_no_entry():
    assert parse_duration("") is None and parse_duration("   ") is None and parse_duration(None) is None


def test_formats():
    assert format_minutes(90) == "1:30" and format_minutes(5) == "0:05" and format_minutes(0) == ""
    assert format_hours(90) == "1.50" and format_hours(20) == "0.33"


minutes = st.integers(min_value=1, max_value=1440)


@given(minutes)
def test_colon_format_round_trips(m):
    assert parse_duration(format_minutes(m)) == m


@given(minutes)
def test_decimal_hours_round_trip(m):
    assert parse_duration(format_hours(m, places=4)) == m
    assert parse_duration(format_hours(m, places=4).replace(".", ",")) == m


@given(minutes)
def test_minutes_suffix_round_trips(m):
    assert parse_duration(f"{m}m") == m


@given(minutes)
def test_hours_and_minutes_round_trip(m):
    hours, rest = divmod(m, 60)
    text = (f"{hours}h" if hours else "") + (f"{rest}m" if rest else "")
    assert parse_duration(text) == m
    assert parse_duration(text.replace("h", "h ")) == m
