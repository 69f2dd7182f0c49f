"""Pagination of list pages: two statements (count and page) whatever the number of rows."""

from __future__ import annotations

from flask import request

from psa.core.validation import MAX_DB_INT
from psa.extensions import db

PER_PAGE = 25


def requested_page(value: str | None) -> int:
    """The page asked for by ?page=: 1 when it is not a positive number; at most MAX_DB_INT, so the OFFSET
    stays within what the database takes (a page past the last shows the last one anyway)."""
    raw = (value or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 64:
        return 1
    return max(1, min(int(raw), MAX_DB_INT))


def paginate(statement, per_page: int = PER_PAGE):
    """Paginate a select() with the ?page= of the request; an out-of-range page shows the last one."""
    page = requested_page(request.args.get("page"))
    pagination = db.paginate(statement, page=page, per_page=per_page, error_out=False, max_per_page=100)
    if pagination.pages and page > pagination.pages:
        pagination = db.paginate(statement, page=pagination.pages, per_page=per_page, error_out=False)
    return pagination
