"""save_or_errors, the end of every route that changes something: commit, flash and redirect when the service
accepts; roll back and show the messages (at the form's fields, through the route's own handler, or flashed
for a bare button) when it refuses."""

from __future__ import annotations

import sqlalchemy as sa
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from psa.accounts.models import Account
from psa.core.errors import ValidationError
from psa.core.views import save_or_errors
from psa.extensions import db


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name")


def _accounts() -> list[str]:
    return db.session.scalars(sa.select(Account.name).order_by(Account.name)).all()


def _add(name: str, refuse: dict | None = None) -> Account:
    account = Account(name=name, segment="mid")
    db.session.add(account)
    db.session.flush()
    if refuse:
        raise ValidationError(refuse)
    return account


def test_accepted_commits_flashes_and_redirects_with_what_the_action_returned(app):
    calls = []
    with app.test_request_context("/", method="POST"):
        response = save_or_errors(NameForm(), lambda: _add("Acme"), after_commit=lambda acc: calls.append(acc.name),
                                  success=lambda acc: f"{acc.name} added.", redirect_to=lambda acc: f"/a/{acc.id}")
        account_id = db.session.scalar(sa.select(Account.id))
        assert (response.status_code, response.location) == (302, f"/a/{account_id}")
        assert calls == ["Acme"]
        assert get_flashed_messages(with_categories=True) == [("success", "Acme added.")]
        db.session.rollback()  # nothing pending: it was committed
        assert _accounts() == ["Acme"]


def test_refused_rolls_back_and_puts_each_message_at_its_field(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm()
        response = save_or_errors(form, lambda: _add("Acme", {"name": "Taken.", "other": "Not a field."}),
                                  success="never", redirect_to="/never")
        assert response is None  # the route renders the form again
        assert form.name.errors == ["Taken."] and form.form_errors == ["Not a field."]
        assert get_flashed_messages() == [] and _accounts() == []


def test_refused_with_a_handler_returns_what_it_returns(app):
    seen = []
    with app.test_request_context("/", method="POST"):
        response = save_or_errors(NameForm(), lambda: _add("Acme", {"name": "Taken."}),
                                  on_error=lambda exc: seen.append(exc.errors) or ("refused", 400),
                                  success="never", redirect_to="/never")
        assert response == ("refused", 400) and seen == [{"name": "Taken."}]
        assert _accounts() == []


def test_a_bare_button_refused_flashes_the_message_and_goes_back(app):
    with app.test_request_context("/", method="POST"):
        response = save_or_errors(None, lambda: _add("Acme", {"active": "The last admin stays active."}),
                                  success="never", redirect_to="/users")
        assert (response.status_code, response.location) == (302, "/users")
        assert get_flashed_messages(with_categories=True) == [("danger", "The last admin stays active.")]
        assert _accounts() == []
