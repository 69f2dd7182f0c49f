"""Double-submitted creates: the unique constraint decides, and the loser gets the field's message
("already exists"), never a 500 — through the services and through two browsers posting the form at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.accounts.services import create_account
from psa.auth.models import User
from psa.auth.services import create_user
from psa.extensions import db
from psa.project_templates.models import Template
from psa.project_templates.services import create_template
from tests.admin.helpers import field_errors, row_count
from tests.concurrency.helpers import ROUNDS, THREADS, kinds, no_errors, race
from tests.conftest import csrf_token, login_as

CREATES = {
    # what is created, the row counted, the field the loser's message is at, and the message
    "account": (lambda actor, n: create_account(actor, name=f"Globex {n}"), Account, "name",
                "An account with this name already exists."),
    "template": (lambda actor, n: create_template(actor, name=f"Onboarding {n}"), Template, "name",
                 "A template with this name already exists."),
    "user": (lambda actor, n: create_user(actor, email=f"nora{n}@example.com", name="Nora", role="consultant"),
             User, "email", "A user with this e-mail already exists."),
}


@pytest.mark.parametrize("what", list(CREATES))
def test_the_same_create_from_many_sessions_at_once_makes_one_row_and_field_messages(app, make, what):
    create, model, field, message = CREATES[what]
    admin = make.user(role="admin")
    for round_ in range(ROUNDS):
        before = row_count(app, model)

        def submit(i, go, round_=round_):
            actor = db.session.get(User, admin.id)
            go()
            create(actor, round_)
            db.session.commit()

        outcomes = race(app, submit)
        no_errors(outcomes)
        assert kinds(outcomes) == ["invalid"] * (THREADS - 1) + ["ok"]
        assert all(o.value.errors == {field: message} for o in outcomes if o.kind == "invalid")
        assert row_count(app, model) == before + 1


FORMS = {
    # path, the form posted, the row counted, the field of the loser's message
    "account": ("/admin/accounts/new", dict(name="Initech", segment="high", owner_id="0", arr="1000"),
                Account, "name", "An account with this name already exists."),
    "user": ("/admin/users/new", dict(name="Nora North", email="nora@example.com", role="consultant", timezone="UTC",
                                      weekly_capacity_hours="40", password="correct-horse-battery"),
             User, "email", "A user with this e-mail already exists."),
    "template": ("/templates/new", dict(name="Standard onboarding", description="", target_ttv_days="45"),
                 Template, "name", "A template with this name already exists."),
}


@pytest.mark.parametrize("what", list(FORMS))
def test_a_form_posted_twice_at_once_creates_once_and_shows_the_field_message(app, make, what):
    path, form, model, field, message = FORMS[what]
    admin = make.user(role="admin")
    clients = [app.test_client() for _ in range(2)]
    for client in clients:
        login_as(client, admin)
    before = row_count(app, model)
    responses = {}

    def post(i, go):
        token = csrf_token(clients[i], path)
        go()
        response = clients[i].post(path, data={"csrf_token": token, **form})
        responses[i] = (response.status_code, response.get_data(as_text=True))

    no_errors(race(app, post, threads=2, app_context=False))
    codes = sorted(code for code, _ in responses.values())
    assert codes in ([200, 302], [302, 400]), codes  # one created; the other form comes back with the message
    page = next(body for code, body in responses.values() if code != 302)
    assert message in field_errors(page, field)
    assert row_count(app, model) == before + 1


# --- the primitive, without threads ------------------------------------------------------------------


def test_a_unique_violation_in_the_block_becomes_the_field_message_and_the_session_goes_on(ctx, make):
    from psa.core.db import unique_or_field_error
    from psa.core.errors import ValidationError

    make.account(name="Umbrella")
    with pytest.raises(ValidationError) as refused:
        with unique_or_field_error({"uq_accounts_name": ("name", "Taken.")}):
            db.session.add(Account(name="Umbrella", segment="mid"))  # no check first: the constraint decides
    assert refused.value.errors == {"name": "Taken."}
    db.session.add(Account(name="Umbrella Two", segment="mid"))  # only the block was undone
    db.session.commit()
    assert sorted(db.session.scalars(sa.select(Account.name))) == ["Umbrella", "Umbrella Two"]


def test_a_violation_of_a_constraint_not_named_propagates(ctx, make):
    from sqlalchemy.exc import IntegrityError

    from psa.core.db import unique_or_field_error

    make.account(name="Umbrella")
    with pytest.raises(IntegrityError):
        with unique_or_field_error({"uq_users_email": ("email", "Taken.")}):
            db.session.add(Account(name="Umbrella", segment="mid"))


def test_a_create_rolled_back_afterwards_leaves_nothing(ctx, make):
    """The SAVEPOINT never opens the transaction (on SQLite releasing it would commit on the spot)."""
    create_account(None, name="Soylent")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 0


def test_the_same_token_form_sent_from_many_sessions_at_once_makes_one_token(app, make):
    """Eight sendings of one new-token form (one form key) at once: one token; every other sending is told which
    token the form made (psa.api.services.TokenAlreadyMade), none fails."""
    from psa.api.models import ApiToken
    from psa.api.services import TokenAlreadyMade, create_token

    owner = make.user(role="consultant")
    for round_ in range(ROUNDS):
        def submit(i, go, round_=round_):
            user = db.session.get(User, owner.id)
            go()
            try:
                token, _ = create_token(user, user, f"CRM sync {i}", form_key=f"form-{round_}")
            except TokenAlreadyMade as exc:
                db.session.rollback()
                return ("already", exc.token.id)
            return ("made", token.id)

        outcomes = race(app, submit)
        no_errors(outcomes)
        results = sorted(o.value for o in outcomes)
        made = [token_id for what, token_id in results if what == "made"]
        assert len(made) == 1 and [what for what, _ in results].count("already") == THREADS - 1
        assert {token_id for _, token_id in results} == set(made)
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)
                                     .where(ApiToken.form_key == f"form-{round_}")) == 1
