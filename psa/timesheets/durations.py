"""Durations typed by people: `1:30`, `1.5`, `1,5`, `90m`, `1h30m`, `1h 30m`, `2h`, `2` — all integer minutes."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_HM_COLON = re.compile(r"^(\d{1,2}):([0-5]\d)$")
_UNITS = re.compile(r"^(?:(\d+(?:[.,]\d+)?)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")
_DECIMAL = re.compile(r"^\d+(?:[.,]\d+)?$")
#: A whole number of more digits than any duration needs (28 of them overflow Decimal's arithmetic).
_LONG_NUMBER = re.compile(r"(?<![\d.,])\d{7}")
#: The longest text read as a duration ("1h 30min" and the like are far shorter).
MAX_TEXT = 40


class DurationError(ValueError):
    """The text is not a duration we understand."""


def half_up_minutes(minutes: Decimal | int) -> int:
    """Whole minutes, half a minute rounding up (SPEC §4): the one rounding of every duration read, typed or
    imported (1.5 min → 2, 29 s → 0, 30 s → 1)."""
    return int(Decimal(minutes).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def seconds_to_minutes(seconds: int) -> int:
    """A duration in seconds (Toggl's HH:MM:SS) as whole minutes, by half_up_minutes."""
    return half_up_minutes(Decimal(seconds) / 60)


def parse_duration(text: str | None, *, zero_ok: bool = False) -> int | None:
    """Minutes in the text, or None when it is blank. Raises DurationError with a message for a person.

    A duration that rounds to 0 minutes is refused, unless zero_ok (an import skips such rows), then 0."""
    raw = (text or "").strip().lower()
    if not raw:
        return None
    if len(raw) > MAX_TEXT or _LONG_NUMBER.search(raw):
        raise DurationError(f"“{_shown(text)}” is too long for a duration; a day has at most 24 hours.")
    minutes: Decimal | int
    if match := _HM_COLON.match(raw):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
    elif _DECIMAL.match(raw):
        minutes = _hours(raw) * 60
    elif (match := _UNITS.match(raw)) and (match.group(1) or match.group(2)):
        minutes = (_hours(match.group(1)) * 60 if match.group(1) else 0) + int(match.group(2) or 0)
    else:
        raise DurationError(f"“{_shown(text)}” is not a duration; write 1:30, 1.5, 90m or 1h30m.")
    minutes = half_up_minutes(minutes)
    if minutes <= 0 and not zero_ok:
        raise DurationError("Enter a duration above 0.")
    return minutes


def _shown(text: str) -> str:
    """The text as a message quotes it: trimmed, and cut short when long."""
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _hours(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the patterns only let numbers through
        raise DurationError(f"“{text}” is not a number of hours.") from None


def format_minutes(minutes: int | None) -> str:
    """`h:mm`, the form the grid shows."""
    if not minutes:
        return ""
    return f"{minutes // 60}:{minutes % 60:02d}"


def format_hours(minutes: int | None, places: int = 2) -> str:
    """Decimal hours (`1.50`), the form exports use."""
    return f"{Decimal(minutes or 0) / 60:.{places}f}"
