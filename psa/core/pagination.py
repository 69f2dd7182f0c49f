"""Pagination of list pages: two statements (a capped count and the page) whatever the number of rows.

The count never reads more than a bounded number of rows: `SELECT count(*) FROM (<list> LIMIT limit + 1)`,
where `limit` is the configured PSA_COUNT_LIMIT (1,000 by default) or, on a page deeper than that, the rows
up to the end of the page shown. Past the limit the page says "of more than <limit>" and offers the pages the
count found (the one after the limit included); further pages are reached by Next or by ?page=N, and a page
past the last shows the last one as before. So a list of 285,000 audit events costs what a list of 1,001 costs, and a
deep page costs its OFFSET (which the page itself pays anyway), not the whole table.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as sa_orm
from flask import current_app, request
from flask_sqlalchemy.pagination import SelectPagination

from psa.core.validation import MAX_DB_INT
from psa.extensions import db

PER_PAGE = 25
#: Rows a list page counts at most (beyond them it says "more than N"); PSA_COUNT_LIMIT overrides it.
COUNT_LIMIT = 1000


def requested_page(value: str | None) -> int:
    """The page asked for by ?page=: 1 when it is not a positive number; at most MAX_DB_INT, so the OFFSET
    stays within what the database takes (a page past the last shows the last one anyway)."""
    raw = (value or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 64:
        return 1
    return max(1, min(int(raw), MAX_DB_INT))


def count_limit() -> int:
    return max(1, int(current_app.config.get("PSA_COUNT_LIMIT") or COUNT_LIMIT))


class CappedPagination(SelectPagination):
    """db.paginate's pagination with a count that stops after `count_limit` rows.

    `total` is the number of rows counted (at most the limit + 1, so `pages` includes the page holding the
    first row past the limit); `more` says the list has more rows than `limit`; `total_label` is what the
    pager prints ("1,234" or "more than 1,000")."""

    more: bool = False
    limit: int | None = None

    def _query_count(self) -> int:
        # counting one row past the page shown is enough to know there is a next page
        self.limit = max(self._query_args.get("count_limit") or COUNT_LIMIT, self.page * self.per_page)
        statement = self._query_args["select"]
        capped = statement.options(sa_orm.lazyload("*")).order_by(None).limit(self.limit + 1).subquery()
        counted = self._query_args["session"].execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
        self.more = counted > self.limit
        return counted

    @property
    def total_label(self) -> str:
        if self.more:
            return f"more than {self.limit:,}"
        return f"{self.total or 0:,}"


def _paginate(statement, page: int, per_page: int, count: bool = True) -> CappedPagination:
    return CappedPagination(select=statement, session=db.session, page=page, per_page=per_page, max_per_page=100,
                            error_out=False, count=count, count_limit=count_limit())


def paginate(statement, per_page: int = PER_PAGE) -> CappedPagination:
    """Paginate a select() with the ?page= of the request; an out-of-range page shows the last one."""
    page = requested_page(request.args.get("page"))
    pagination = _paginate(statement, page, per_page)
    if pagination.pages and page > pagination.pages:
        # past the end: the count covered every row (its limit reaches beyond the page asked for)
        last = _paginate(statement, pagination.pages, per_page, count=False)
        last.total, last.more, last.limit = pagination.total, pagination.more, pagination.limit
        pagination = last
    return pagination
