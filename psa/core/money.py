"""Money at the service boundary and in sums (SPEC §2: money is Decimal in Numeric columns, never float;
§3: money is summed exactly and rounded once per shown figure, half-up to the cent).

Every service that takes an amount calls `to_money` (or `to_exact` for percentages and hours): a plain
number with at most two decimals, no exponent, inside the column's range, else a message at the field.
Computed amounts are rounded once with `round_money`. Sums in SQL go through `money_sum`, exact on both
databases (the columns are psa.core.db.ExactNumeric: integer cents on SQLite).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from psa.core.db import ExactNumeric
from psa.core.errors import ValidationError
from psa.core.validation import NUMBER_MESSAGE, parse_decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The largest rate (Numeric(12, 2)) and the largest fee or ARR (Numeric(14, 2)).
MAX_RATE = ExactNumeric(12, 2).largest
MAX_AMOUNT = ExactNumeric(14, 2).largest
AMOUNT_MESSAGE = "Enter an amount such as 120 or 95.50."


def to_exact(value, field: str, *, low: Decimal = Decimal(0), high: Decimal, places: int = 2,
             message: str = NUMBER_MESSAGE, range_message: str | None = None) -> Decimal:
    """A number typed by a person or passed by code, as stored: at most `places` decimals (never rounded),
    no exponent notation, NaN or infinity, no float, from `low` to `high`; returned with exactly `places`
    decimals, so what is audited is what is stored and read back. Raises ValidationError at `field`."""
    if isinstance(value, float | bool):
        raise ValidationError({field: message})
    try:
        number = parse_decimal(value, places=places, message=message)
    except ValueError as exc:
        raise ValidationError({field: str(exc)}) from None
    if not low <= number <= high:
        raise ValidationError({field: range_message or f"Enter a number from {low:,} to {high:,}."})
    return number.quantize(Decimal(1).scaleb(-places))


def to_money(value, field: str, *, low: Decimal = Decimal(0), high: Decimal = MAX_RATE) -> Decimal:
    """An amount of money (a rate, a fee, an ARR) as stored: see to_exact; the default range is a rate's."""
    return to_exact(value, field, low=low, high=high, message=AMOUNT_MESSAGE,
                    range_message=f"Enter an amount from {low:,} to {high:,}.")


def round_money(amount: Decimal | int) -> Decimal:
    """A computed amount rounded once, half-up to the cent (0.125 → 0.13, -0.125 → -0.13)."""
    if isinstance(amount, float | bool):
        raise TypeError(f"money is Decimal, not {type(amount).__name__}")
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def money_sum(column):
    """SUM(column) in SQL, 0 when there are no rows, read back as an exact Decimal on both databases (the
    sum is taken over integer cents on SQLite and NUMERIC on PostgreSQL)."""
    kind = column.type
    if not isinstance(kind, ExactNumeric):
        raise TypeError(f"money_sum needs an ExactNumeric column, not {kind!r}")
    return sa.func.coalesce(sa.func.sum(column), sa.literal(Decimal(0), type_=kind), type_=kind)
