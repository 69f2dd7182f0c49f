"""Pagination of list pages: two statements (count and page) whatever the number of rows."""

from __future__ import annotations

from flask import request

from psa.extensions import db

PER_PAGE = 25


def paginate(statement, per_page: int = PER_PAGE):
    """Paginate a select() with the ?page= of the request; an out-of-range page shows the last one."""
    page = request.args.get("page", 1, type=int) or 1
    pagination = db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False, max_per_page=100)
    if pagination.pages and page > pagination.pages:
        pagination = db.paginate(statement, page=pagination.pages, per_page=per_page, error_out=False)
    return pagination
