"""Field types the resource modules share (accounts, projects): ids that never overflow the database, text that
holds no character a column cannot store, money written as exact decimal strings."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from psa.api.core import ApiError
from psa.core.validation import MAX_DB_INT
from psa.extensions import db

#: C0 controls but tab, LF and CR, and lone surrogates: what the pages' boundary check (psa.core.input) refuses in a
#: form; a JSON body is refused at its field instead.
_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def _storable(text: str) -> str:
    if _REFUSED.search(text):
        raise ValueError("Remove control characters.")
    return text


def text(max_length: int):
    """A string of at most `max_length` characters without control characters."""
    return Annotated[str, Field(max_length=max_length), AfterValidator(_storable)]


#: An id in a body or a query: a positive 32-bit integer (a larger one is refused at its field, never an overflow).
Id = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


def get_or_404(model, object_id: int, what: str):
    """The row, or 404; an id beyond the 32-bit range is one that does not exist (no overflow reaches the
    database)."""
    found = db.session.get(model, object_id) if 0 < object_id <= MAX_DB_INT else None
    if found is None:
        raise ApiError(404, f"There is no {what} with this id.")
    return found


def money(value) -> str | None:
    """An exact amount as a string with its two decimals ("12500.00"), the same on both databases."""
    return None if value is None else f"{value:.2f}"


def refused(fields: dict[str, str]) -> ApiError:
    """422 with a message per field."""
    return ApiError(422, "The request was refused: see fields.", fields)
