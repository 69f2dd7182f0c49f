"""List pages count at most PSA_COUNT_LIMIT rows (or up to the page shown, when deeper): as many statements
with 60 rows as with 5, "of more than N" past the limit, exact totals below it, page numbers still working."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core.db import utcnow
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.conftest import login_as

_seq = itertools.count(1)


def _accounts(count: int) -> None:
    db.session.add_all([Account(name=f"Capped Account {next(_seq):04}", segment="mid", arr=Decimal("10"))
                        for _ in range(count)])


def _audit(count: int) -> None:
    now = utcnow()
    db.session.add_all([AuditEvent(actor_id=None, action="account.updated", object_type="capped",
                                   object_id=next(_seq), before={}, after={}, at=now - timedelta(seconds=i))
                        for i in range(count)])


def _users(count: int) -> None:
    db.session.add_all([User(email=f"capped{next(_seq)}@example.com", name=f"Capped User {next(_seq)}",
                             role="consultant", timezone="UTC", weekly_capacity_hours=Decimal("40"))
                        for _ in range(count)])


#: (path, seed, rows on page 1, the limit set in the test, what the page says with 60 rows)
LISTS = [
    pytest.param("/admin/accounts", _accounts, 25, 30, "1–25 of more than 30", id="accounts"),
    pytest.param("/admin/audit?type=capped", _audit, 50, 55, "1–50 of more than 55", id="audit-log"),
    pytest.param("/admin/users?role=consultant", _users, 25, 30, "1–25 of more than 30", id="users"),
]


def _list_counts(statements: list[str]) -> list[str]:
    """The count of the list (a count over the list's SELECT), not the layout's unread-notification count."""
    return [s for s in statements if "count(" in s.lower() and "from (select" in " ".join(s.lower().split())]


@pytest.mark.parametrize(("path", "seed", "per_page", "limit", "capped_text"), LISTS)
def test_the_count_stops_at_the_limit_and_the_page_says_more_than(app, client, make, count_queries, monkeypatch,
                                                                  path, seed, per_page, limit, capped_text):
    monkeypatch.setitem(app.config, "PSA_COUNT_LIMIT", limit)
    login_as(client, make.user(role="admin"))

    def add(count: int) -> None:
        with app.app_context():
            seed(count)
            db.session.commit()

    add(5)
    assert client.get(path).status_code == 200  # warm-up
    with count_queries() as few:
        small = client.get(path)
    assert small.status_code == 200
    assert "more than" not in small.get_data(as_text=True)

    add(55)
    with count_queries() as many:
        response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert capped_text in page
    assert len(many) == len(few), "\n".join(["with 5 rows:", *few, "", "with 60 rows:", *many])
    counts = _list_counts(many)
    assert len(counts) == 1 and "limit" in counts[0].lower(), counts

    # the next page is offered and answers; a page past the last shows the last one, with the exact total
    assert "page=2" in page
    second = client.get(f"{path}&page=2" if "?" in path else f"{path}?page=2")
    assert second.status_code == 200 and f"{per_page + 1}–" in second.get_data(as_text=True)
    last = client.get(f"{path}&page=999" if "?" in path else f"{path}?page=999").get_data(as_text=True)
    assert "more than" not in last and "51–60 of 60" in last


def test_below_the_limit_the_total_is_exact(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "PSA_COUNT_LIMIT", 1000)
    login_as(client, make.user(role="admin"))
    with app.app_context():
        _accounts(30)
        db.session.commit()
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert "1–25 of 30" in page and "more than" not in page
