"""Small factories: every field defaulted, unique fields from a sequence.

Each factory commits. Called inside an app context (service tests) it returns an attached object;
called outside one (route tests, where every request must get its own context) it pushes a short
context and returns the object detached, with its columns loaded.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from decimal import Decimal

from flask import current_app, has_app_context

from psa.extensions import db

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


class Factories:
    """Bound to one app; tests get it through the `make` fixture."""

    def __init__(self, app):
        self.app = app

    @contextmanager
    def _context(self):
        """The test's app context when one is pushed (service tests), else a short-lived one."""
        if has_app_context() and current_app._get_current_object() is self.app:
            yield False
        else:
            with self.app.app_context():
                yield True

    def _save(self, obj, password: str | None = None):
        with self._context() as temporary:
            if password is not None:
                obj.set_password(password)
            db.session.add(obj)
            db.session.commit()
            if temporary:
                db.session.refresh(obj)
                db.session.expunge(obj)
        return obj

    def user(self, **overrides):
        from psa.auth.models import User

        n = _next()
        password = overrides.pop("password", PASSWORD)
        fields = dict(email=f"user{n}@example.com", name=f"User {n}", role="consultant", timezone="UTC",
                      weekly_capacity_hours=Decimal("40"), is_active_user=True)
        fields.update(overrides)
        return self._save(User(**fields), password=password)

    def account(self, **overrides):
        from psa.accounts.models import Account

        n = _next()
        fields = dict(name=f"Account {n}", segment="mid", arr=Decimal("10000"))
        fields.update(overrides)
        return self._save(Account(**fields))

    def contact(self, account=None, **overrides):
        """A portal contact of `account` (a new account when None), with the test password set."""
        from psa.accounts.models import Contact

        n = _next()
        password = overrides.pop("password", PASSWORD)
        account_id = overrides.pop("account_id", None) or (account or self.account()).id
        fields = dict(account_id=account_id, email=f"contact{n}@customer.example", name=f"Contact {n}",
                      title="", stakeholder_role="daily_user", view_level="full", is_active_contact=True)
        fields.update(overrides)
        return self._save(Contact(**fields), password=password)

    def holiday(self, **overrides):
        from datetime import date

        from psa.admin.models import Holiday

        n = _next()
        fields = dict(day=date(2030, 1, 1 + n % 28), name=f"Holiday {n}")
        fields.update(overrides)
        return self._save(Holiday(**fields))

    def notification(self, user, **overrides):
        from psa.core.models import Notification

        fields = dict(user_id=user.id, message=f"Notification {_next()}")
        fields.update(overrides)
        return self._save(Notification(**fields))
