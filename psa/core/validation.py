"""Checks every path applies to typed values, whether they come from a form, an import or a service call.

SPEC §3 Valid dates: every date a person types lies between 2000-01-01 and 2099-12-31. Numbers are read
without exponent notation, NaN or infinity, and ids fit the database's integer column.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from psa.core.errors import ValidationError

#: The window of dates a person may type (SPEC §3).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
DATE_WINDOW_MESSAGE = (f"Enter a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}.")
DATE_FORMAT_MESSAGE = "Enter a date as YYYY-MM-DD."
#: The largest id (and integer) a column of the database holds (PostgreSQL's integer).
MAX_DB_INT = 2**31 - 1

NUMBER_MESSAGE = "Enter a number, like 12.5."
WHOLE_NUMBER_MESSAGE = "Enter a whole number."
TOO_LARGE_MESSAGE = "That number is too large."
#: A plain decimal: digits, optionally a point and more digits; no exponent, no NaN, no infinity.
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
#: Integer digits a decimal may have: enough for any amount we store (Numeric(12, 2) and the like).
MAX_INTEGER_DIGITS = 15


def in_window(day: date) -> bool:
    """Whether a date lies in the window people may type (2000-01-01 to 2099-12-31)."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def check_date(value, field: str, *, required: bool = True) -> date | None:
    """The date, checked: a date inside the window, or None when not required and missing.
    Raises ValidationError({field: message}) otherwise."""
    if value is None or value == "":
        if required:
            raise ValidationError({field: DATE_FORMAT_MESSAGE})
        return None
    if not isinstance(value, date):
        raise ValidationError({field: DATE_FORMAT_MESSAGE})
    if not in_window(value):
        raise ValidationError({field: DATE_WINDOW_MESSAGE})
    return value


def date_errors(**fields) -> dict[str, str]:
    """The messages for every given date (None allowed) that is not a date or lies outside the window."""
    errors = {}
    for field, value in fields.items():
        if value is None:
            continue
        try:
            check_date(value, field)
        except ValidationError as exc:
            errors.update(exc.errors)
    return errors


def parse_iso_date(text: str | None) -> date | None:
    """A YYYY-MM-DD date inside the window, or None for anything else (query parameters)."""
    text = (text or "").strip()
    if len(text) != 10:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if in_window(day) else None


def parse_decimal(text, *, places: int | None = 2, message: str = NUMBER_MESSAGE) -> Decimal:
    """A finite decimal typed by a person: plain digits with an optional point, at most `places` decimals
    and MAX_INTEGER_DIGITS integer digits. Raises ValueError with a message for the person."""
    if isinstance(text, Decimal):
        raw = format(text, "f") if text.is_finite() else "x"
    else:
        raw = str(text if text is not None else "").strip()
    if len(raw) > 64 or not _DECIMAL.match(raw):
        raise ValueError(message)
    whole, _, fraction = raw.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise ValueError(TOO_LARGE_MESSAGE)
    if places is not None and len(fraction.rstrip("0")) > places:
        raise ValueError(("Use at most 2 decimals, like 1.25." if places == 2 else f"Use at most {places} decimals.")
                         if places else WHOLE_NUMBER_MESSAGE)
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern lets only numbers through
        raise ValueError(message) from None
    return value.copy_abs() if value.is_zero() else value  # -0 is 0


def parse_int(text, *, low: int = -MAX_DB_INT, high: int = MAX_DB_INT, message: str = WHOLE_NUMBER_MESSAGE) -> int:
    """A whole number typed by a person, within the database's integer range (or the given one).
    Raises ValueError with a message for the person."""
    if isinstance(text, bool):
        raise ValueError(message)
    if isinstance(text, int):
        number = text
    else:
        raw = str(text if text is not None else "").strip()
        if len(raw) > 64 or not _INTEGER.match(raw):
            raise ValueError(message)
        if len(raw.lstrip("+-").lstrip("0")) > 12:
            raise ValueError(TOO_LARGE_MESSAGE)
        number = int(raw)
    if abs(number) > MAX_DB_INT:
        raise ValueError(TOO_LARGE_MESSAGE)
    if not low <= number <= high:
        raise ValueError(f"Enter a number from {low:,} to {high:,}.")
    return number


def db_id(value) -> int:
    """An id from a query parameter or a select: a positive integer a database column holds.
    Raises ValueError otherwise (MultiDict.get(..., type=db_id) then gives the default)."""
    return parse_int(value, low=1, high=MAX_DB_INT, message="Not an id.")


def select_id(value) -> int:
    """An id (or the 0 of a "none" option) from a select, for SelectField(coerce=...): raises ValueError
    for what is not a whole number a database column holds, so WTForms refuses the choice."""
    return parse_int(value, low=0, high=MAX_DB_INT, message="Not an id.")


def id_or_zero(value) -> int:
    """An id from a select; 0 when it is not one (blank, not a number, beyond the database's range),
    so the service (which finds no such object) says what is wrong at the field."""
    try:
        return db_id(value)
    except ValueError:
        return 0
