"""API tokens in the UI (/account/api-tokens), in the CLI (psa create-token) and on deactivation (issue 16)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from psa.api.models import ApiToken
from psa.auth.models import User
from psa.core import clock
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.conftest import csrf_token, login_as

PAGE = "/account/api-tokens/"
SECRET_RE = re.compile(r"psa_[A-Za-z0-9_-]{20,}")


def _create(client, name="CRM sync", expires_on=""):
    return client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), "name": name, "expires_on": expires_on})


def _tokens(app, user_id=None) -> list[ApiToken]:
    with app.app_context():
        stmt = sa.select(ApiToken).order_by(ApiToken.id)
        if user_id is not None:
            stmt = stmt.where(ApiToken.user_id == user_id)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


def _audit_types(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _me(client, secret):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})


# --- the pages ---------------------------------------------------------------------------------------------------


def test_the_empty_page_labels_its_fields_and_the_menu_links_to_it(client, make):
    login_as(client, make.user(role="consultant"))
    assert 'href="/account/api-tokens/"' in client.get("/").get_data(as_text=True)
    page = client.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'data-testid="empty-state"' in html and "No API tokens yet" in html
    for field in ("name", "expires_on"):
        assert re.search(rf'<label[^>]*for="{field}"', html), field
    assert "/api/v1/docs" in html and "/api/v1/openapi.json" in html


def test_create_shows_the_secret_once_and_the_list_never(app, client, make):
    user = make.user(role="consultant")
    login_as(client, user)
    created = _create(client, "CRM sync")
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in created.headers or "psa_" not in created.headers["Set-Cookie"]
    secrets_shown = set(SECRET_RE.findall(html))
    assert len(secrets_shown) == 1
    secret = secrets_shown.pop()
    assert "shown this once" in html
    (token,) = _tokens(app, user.id)
    assert token.name == "CRM sync" and secret.startswith(token.prefix) and token.token_hash != secret
    assert _me(client, secret).status_code == 200
    listed = client.get(PAGE).get_data(as_text=True)
    assert "CRM sync" in listed and token.prefix in listed and secret not in listed and not SECRET_RE.search(listed)
    assert "Last used" in listed and 'data-testid="new-secret"' not in listed
    with app.app_context():
        audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "api_token.created")).one()
        assert secret not in str(audit.after) and secret[4:] not in str(audit.after)


def test_expiry_is_validated_at_the_field(app, client, make):
    user = make.user(role="manager", timezone="Europe/Paris")
    login_as(client, user)
    today = clock.user_today(user)
    for value, message in [(today.isoformat(), "after today"), ((today - timedelta(days=3)).isoformat(), "after today"),
                           ("2100-01-01", "2000-01-01 to 2099-12-31"), ("1999-12-31", "2000-01-01 to 2099-12-31"),
                           ("31/12/2030", "YYYY-MM-DD"), ("2030-02-30", "YYYY-MM-DD")]:
        refused = _create(client, "bad expiry", value)
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400, value
        assert message in html and "is-invalid" in html, value
        assert not SECRET_RE.search(html), value
    blank = _create(client, "", "")
    assert blank.status_code == 400 and "This field is required." in blank.get_data(as_text=True)
    too_long = _create(client, "x" * 101)
    assert too_long.status_code == 400 and "at most 100" in too_long.get_data(as_text=True)
    assert _tokens(app) == []

    last_day = today + timedelta(days=30)
    assert _create(client, "a month", last_day.isoformat()).status_code == 200
    (token,) = _tokens(app)
    # the token works until the end of its last day in its owner's zone (Paris: 23:00 UTC in winter, 22:00 in summer)
    local_end = token.expires_at.astimezone(clock.zone("Europe/Paris"))
    assert local_end.date() == last_day + timedelta(days=1) and (local_end.hour, local_end.minute) == (0, 0)
    assert f"{last_day.isoformat()} 23:59" in client.get(PAGE).get_data(as_text=True)  # shown as its last minute


def test_revoke_is_conditional_and_audited(app, client, make):
    user = make.user(role="leader")
    login_as(client, user)
    secret = SECRET_RE.search(_create(client, "to revoke").get_data(as_text=True)).group(0)
    (token,) = _tokens(app)
    path = f"{PAGE}{token.id}/revoke"
    no_csrf = client.post(path)
    assert no_csrf.status_code == 400 and _tokens(app)[0].revoked_at is None
    first = client.post(path, data={"csrf_token": csrf_token(client, PAGE)}, follow_redirects=True)
    assert first.status_code == 200 and "revoked: it no longer works" in first.get_data(as_text=True)
    assert _tokens(app)[0].revoked_at is not None
    assert _me(client, secret).status_code == 401
    again = client.post(path, data={"csrf_token": csrf_token(client, PAGE)}, follow_redirects=True)
    assert again.status_code == 200 and "was already revoked" in again.get_data(as_text=True)
    assert _audit_types(app).count("api_token.revoked") == 1
    assert _audit_types(app).count("api_token.created") == 1
    listed = client.get(PAGE).get_data(as_text=True)
    assert "Revoked" in listed and f"{token.id}/revoke" not in listed


def test_a_consultant_cannot_see_or_revoke_another_users_tokens(app, client, make):
    from tests.api.conftest import token_for

    other = make.user(role="manager")
    secret = token_for(app, other, "theirs")
    (token,) = _tokens(app, other.id)
    login_as(client, make.user(role="consultant"))
    assert client.get(f"{PAGE}?user_id={other.id}").status_code == 404
    for bad in ("abc", "0", "-1", "99999999999999999999"):
        assert client.get(f"{PAGE}?user_id={bad}").status_code == 404, bad
    revoke = client.post(f"{PAGE}{token.id}/revoke", data={"csrf_token": csrf_token(client, PAGE)})
    assert revoke.status_code == 404
    assert _tokens(app, other.id)[0].revoked_at is None and _me(client, secret).status_code == 200
    assert "theirs" not in client.get(PAGE).get_data(as_text=True)


def test_an_admin_sees_and_revokes_any_users_tokens(app, client, make):
    from tests.api.conftest import token_for

    admin = make.user(role="admin")
    other = make.user(role="consultant", name="Cleo Consultant")
    secret = token_for(app, other, "Cleo's script")
    (token,) = _tokens(app, other.id)
    login_as(client, admin)
    assert f'href="/account/api-tokens/?user_id={other.id}"' in client.get(f"/admin/users/{other.id}").get_data(
        as_text=True)
    page = client.get(f"{PAGE}?user_id={other.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "API tokens of Cleo Consultant" in html and "Cleo&#39;s script" in html
    assert token.prefix in html and secret not in html
    assert 'name="expires_on"' not in html  # only the owner makes tokens (their secret is theirs)
    assert client.get(f"{PAGE}?user_id=987654").status_code == 404
    revoked = client.post(f"{PAGE}{token.id}/revoke", data={"csrf_token": csrf_token(client, PAGE)})
    assert revoked.status_code == 302 and revoked.headers["Location"].endswith(f"?user_id={other.id}")
    assert _me(client, secret).status_code == 401
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "api_token.revoked")).one()
        assert event.actor_id == admin.id
    audit_log = client.get("/admin/audit")
    assert audit_log.status_code == 200 and "Cleo&#39;s script" in audit_log.get_data(as_text=True)
    assert secret not in audit_log.get_data(as_text=True)


def test_a_contact_never_reaches_the_token_pages(app, client, make):
    from tests.portal.helpers import login_contact

    contact = make.contact()
    login_contact(app, client, contact)
    assert client.get("/portal/").status_code == 200  # signed in
    assert client.get(PAGE).status_code == 404
    assert client.get(f"{PAGE}?user_id=1").status_code == 404
    assert client.post(PAGE, data={"name": "mine"}).status_code in (400, 404)
    assert client.post(f"{PAGE}1/revoke").status_code in (400, 404)
    assert _tokens(app) == []


def test_tokens_belong_to_internal_users_only(ctx, make):
    from psa.accounts.models import Contact
    from psa.api.services import create_token
    from psa.core.errors import ValidationError

    contact = db.session.get(Contact, make.contact().id)
    admin = db.session.get(User, make.user(role="admin").id)
    with pytest.raises(ValidationError) as refused:
        create_token(admin, contact, "contact's token")
    assert "internal users only" in refused.value.errors["user"]
    db.session.rollback()
    inactive = db.session.get(User, make.user(role="consultant", is_active_user=False).id)
    with pytest.raises(ValidationError):
        create_token(admin, inactive, "inactive")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


# --- the CLI -------------------------------------------------------------------------------------------------------


def test_cli_create_token_prints_the_secret_once(app, client, make):
    user = make.user(role="manager", email="mia@example.com")
    result = app.test_cli_runner().invoke(args=["create-token", "--email", "Mia@Example.com", "--name", "ETL",
                                                "--expires", (clock.user_today(user) + timedelta(days=10)).isoformat()])
    assert result.exit_code == 0, result.output
    secrets_shown = SECRET_RE.findall(result.output)
    assert len(secrets_shown) == 1 and "shown this once" in result.output
    (token,) = _tokens(app, user.id)
    assert token.name == "ETL" and token.expires_at is not None and token.revoked_at is None
    assert _me(client, secrets_shown[0]).get_json()["token_name"] == "ETL"
    default = app.test_cli_runner().invoke(args=["create-token", "--email", "mia@example.com"])
    assert default.exit_code == 0 and "until revoked" in default.output
    assert _tokens(app, user.id)[1].expires_at is None
    assert _audit_types(app).count("api_token.created") == 2


def test_cli_refuses_unknown_inactive_and_contact_emails_and_bad_expiry(app, make):
    make.user(role="consultant", email="gone@example.com", is_active_user=False)
    make.user(role="consultant", email="ok@example.com")
    make.contact(email="buyer@customer.example")
    runner = app.test_cli_runner()
    cases = [
        (["--email", "nobody@example.com"], "No user has the e-mail"),
        (["--email", "gone@example.com"], "deactivated"),
        (["--email", "buyer@customer.example"], "internal users only"),
        (["--email", "ok@example.com", "--expires", "2020-01-01"], "after today"),
        (["--email", "ok@example.com", "--expires", "2100-01-01"], "2000-01-01 to 2099-12-31"),
        (["--email", "ok@example.com", "--expires", "tomorrow"], "YYYY-MM-DD"),
        (["--email", "ok@example.com", "--name", " "], "Name the token"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["create-token", *args])
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert not SECRET_RE.search(result.output), args
    assert _tokens(app) == []


# --- deactivation ---------------------------------------------------------------------------------------------


def test_deactivation_revokes_the_users_tokens_and_reactivation_does_not_restore_them(app, client, make):
    from psa.auth.services import set_user_active
    from tests.api.conftest import token_for

    admin = make.user(role="admin")
    user = make.user(role="consultant")
    secret = token_for(app, user)
    other_secret = token_for(app, make.user(role="consultant"))
    assert _me(client, secret).status_code == 200
    with app.app_context():
        set_user_active(db.session.get(User, admin.id), db.session.get(User, user.id), False)
        db.session.commit()
    assert all(token.revoked_at is not None for token in _tokens(app, user.id))
    assert _me(client, secret).status_code == 401
    assert _me(client, other_secret).status_code == 200  # only the deactivated user's
    with app.app_context():
        set_user_active(db.session.get(User, admin.id), db.session.get(User, user.id), True)
        db.session.commit()
    assert _tokens(app, user.id)[0].revoked_at is not None
    assert _me(client, secret).status_code == 401  # reactivation brings no token back


def test_deactivating_from_the_admin_page_revokes_the_tokens(app, client, make):
    from tests.api.conftest import token_for

    user = make.user(role="manager")
    secret = token_for(app, user)
    login_as(client, make.user(role="admin"))
    response = client.post(f"/admin/users/{user.id}/active",
                           data={"csrf_token": csrf_token(client, "/admin/users"), "active": "0"})
    assert response.status_code == 302
    assert _tokens(app, user.id)[0].revoked_at is not None
    assert _me(client, secret).status_code == 401


# --- the same form sent twice -------------------------------------------------------------------------------------


def _form_key(html: str) -> str:
    return re.search(r'<input[^>]*name="form_key"[^>]*value="([^"]+)"', html).group(1)


def test_a_refreshed_page_makes_no_second_token(app, client, make):
    """The form sent again (the browser's "resend" after a refresh, a double click) answers 409 with what the
    first sending made, shows no secret and makes nothing; the answer's fresh form has a new key, which makes a
    second token."""
    user = make.user(role="consultant")
    login_as(client, user)
    page = client.get(PAGE).get_data(as_text=True)
    key = _form_key(page)
    data = {"csrf_token": csrf_token(client, PAGE), "name": "CRM sync", "expires_on": "", "form_key": key}
    first = client.post(PAGE, data=data)
    first_html = first.get_data(as_text=True)
    assert first.status_code == 200 and SECRET_RE.search(first_html)
    made = _tokens(app, user.id)
    assert len(made) == 1 and made[0].form_key == key
    events = _audit_types(app)

    again = client.post(PAGE, data=data)
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert f"This form already made the token “CRM sync” ({made[0].prefix}…); nothing new was made." in html
    assert not SECRET_RE.search(html) and again.headers["Cache-Control"] == "no-store"
    assert [t.id for t in _tokens(app, user.id)] == [made[0].id] and _audit_types(app) == events

    fresh = _form_key(first_html)
    assert fresh != key and _form_key(html) not in (key, fresh)
    third = client.post(PAGE, data={**data, "form_key": fresh, "name": "Billing export"})
    assert third.status_code == 200 and len(_tokens(app, user.id)) == 2


def test_the_form_key_binds_one_user_and_the_command_line_has_none(app, make):
    from psa.api.services import TokenAlreadyMade, create_token

    ann, bob = make.user(role="consultant"), make.user(role="manager")
    with app.app_context():
        ann, bob = db.session.get(User, ann.id), db.session.get(User, bob.id)
        token, _ = create_token(ann, ann, "One", form_key="k1")
        with pytest.raises(TokenAlreadyMade) as refused:
            create_token(ann, ann, "Another name, same form", form_key="k1")
        assert refused.value.token.id == token.id
        db.session.rollback()
        create_token(bob, bob, "Bob's, same key", form_key="k1")  # the key binds the user's own tokens only
        create_token(ann, ann, "CLI 1")
        create_token(ann, ann, "CLI 2", form_key="")  # no key: never the same form
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 4
