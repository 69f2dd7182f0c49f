"""List pages run a fixed number of SQL statements: as many with 60 rows as with 5 (no query per row)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest

from psa.accounts.models import SEGMENTS, Account
from psa.auth.models import ROLES, User
from psa.core.db import utcnow
from psa.core.models import AuditEvent, Notification
from psa.extensions import db
from tests.admin.helpers import count_testid
from tests.conftest import login_as

_seq = itertools.count(1)


def _users(count: int) -> list[User]:
    """Users of every role; some invited (no password yet), some deactivated."""
    users = []
    for i in range(count):
        n = next(_seq)
        user = User(email=f"budget{n}@example.com", name=f"Budget User {n}", role=ROLES[i % len(ROLES)],
                    timezone="Europe/Paris", weekly_capacity_hours=Decimal("32.5"), is_active_user=i % 7 != 3)
        if i % 3:
            user.password_hash = "pbkdf2:sha256:1000$x$" + "0" * 64
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    return users


def _seed_users(admin, count: int) -> None:
    _users(count)


def _seed_accounts(admin, count: int) -> None:
    owners = _users(count)  # a different owner on every account
    db.session.add_all([
        Account(name=f"Budget Account {next(_seq)}", segment=SEGMENTS[i % 3], arr=Decimal("1000.50") * i,
                owner_id=owners[i].id if i % 4 else None)
        for i in range(count)
    ])


def _seed_audit(admin, count: int) -> None:
    actors = _users(count)  # a different actor on every event, and some system events
    now = utcnow()
    db.session.add_all([
        AuditEvent(actor_id=actors[i].id if i % 5 else None, action="user.updated", object_type="user",
                   object_id=actors[i].id, before={"name": "Old"}, after={"name": "New"},
                   at=now - timedelta(minutes=i))
        for i in range(count)
    ])


def _seed_dashboard(admin, count: int) -> None:
    now = utcnow()
    db.session.add_all([
        Notification(user_id=admin.id, message=f"Budget note {next(_seq)}", link="/" if i % 2 else None,
                     created_at=now - timedelta(minutes=i), read_at=now if i % 3 == 0 else None)
        for i in range(count)
    ])
    db.session.add_all([Account(name=f"Dash Account {next(_seq)}", segment="mid", arr=Decimal("1"))
                        for _ in range(count)])


PAGES = [
    pytest.param("/admin/users", _seed_users, "user-row", id="users"),
    pytest.param("/admin/accounts", _seed_accounts, "account-row", id="accounts"),
    pytest.param("/admin/audit", _seed_audit, None, id="audit-log"),
    pytest.param("/", _seed_dashboard, None, id="dashboard"),
]


@pytest.mark.parametrize(("path", "seed", "row_testid"), PAGES)
def test_page_runs_as_many_statements_for_60_rows_as_for_5(app, client, make, count_queries, path, seed, row_testid):
    admin = make.user(role="admin")
    login_as(client, admin)

    def add(count: int) -> None:
        with app.app_context():
            seed(db.session.get(User, admin.id), count)
            db.session.commit()

    add(5)
    assert client.get(path).status_code == 200  # warm-up: nothing first-request-only is counted
    with count_queries() as few:
        response = client.get(path)
    assert response.status_code == 200
    small_page = response.get_data(as_text=True)

    add(55)
    with count_queries() as many:
        response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    if row_testid:
        assert count_testid(small_page, row_testid) >= 5
        assert count_testid(page, row_testid) == 25
    if path == "/admin/audit":
        assert small_page.count("user.updated") == 5 and page.count("user.updated") == 50
    if path == "/":
        assert 'data-testid="account-count">120<' not in page
        assert 'data-testid="account-count">60<' in page
    assert len(few) > 0
    assert len(many) == len(few), "\n".join(["with 5 rows:", *few, "", "with 60 rows:", *many])
