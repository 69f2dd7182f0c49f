"""The pages where a signed-in internal user makes, lists and revokes their API tokens (issue 16); admins also see
and revoke anyone's (/account/api-tokens?user_id=N, linked from the admin user page).

- The secret is in the answer to the POST that made the token, and nowhere else: not in a flash message, the
  session, the audit trail or a log; that answer is `Cache-Control: no-store`. Lists show the prefix only.
- An expiry is a date: the token works until the end of that day in its owner's time zone.
- Revoking is a conditional update: a second revoke (another tab, a double click) says it already was.
- A contact never reaches these pages (the portal's guard answers 404 off-portal) and a contact never holds a
  token (psa.api.services.create_token refuses one).
- A token never outlives its user's deactivation: the API hands psa.auth.services its revoker (auth may not import
  the API: imports run one way, tests/core/test_imports.py), and authenticate refuses an inactive user anyway.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from psa.api.forms import NewTokenForm
from psa.api.models import ApiToken
from psa.api.services import TokenAlreadyMade, create_token, revoke_token, revoke_user_tokens, tokens_of
from psa.auth import services as auth_services
from psa.auth.models import User
from psa.core import clock
from psa.core.auth import can, permission_required
from psa.core.errors import ValidationError, apply_errors
from psa.core.forms import ConfirmForm
from psa.core.validation import db_id
from psa.extensions import db

tokens_bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")

auth_services.set_deactivation_hook("api_tokens", revoke_user_tokens)


def expiry_at_end_of(day: date | None, user: User) -> datetime | None:
    """The instant a token whose last day is `day` stops working: the next midnight in the user's zone (UTC)."""
    if day is None:
        return None
    zone = clock.zone(clock.user_zone_name(user))
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def last_moment(expires_at: datetime) -> datetime:
    """The last second a token works (an expiry at midnight reads as 23:59 of its last day)."""
    return expires_at - timedelta(seconds=1)


def token_state(token: ApiToken) -> str:
    """'revoked', 'expired' or 'active', as the list shows it."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= clock.now():
        return "expired"
    return "active"


def _owner_from_query() -> User:
    """Whose tokens the page shows: the signed-in user, or (admins only) ?user_id=N. Another user's tokens are
    404 for everyone else, as a page that does not exist."""
    raw = request.args.get("user_id")
    if raw is None or raw == str(current_user.id):
        return current_user._get_current_object()
    try:
        user_id = db_id(raw)
    except ValueError:
        abort(404)
    if not can("admin.users"):
        abort(404)
    return db.get_or_404(User, user_id)


def _page(owner: User, form: NewTokenForm | None = None, new_token: ApiToken | None = None,
          new_secret: str | None = None, status: int = 200):
    own = owner.id == current_user.id
    response = make_response(render_template(
        "api/tokens.html", owner=owner, own=own, tokens=tokens_of(owner.id), state=token_state, last_moment=last_moment,
        form=(form or NewTokenForm(formdata=None)) if own else None, confirm=ConfirmForm(formdata=None),
        new_token=new_token, new_secret=new_secret), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@tokens_bp.get("/")
@permission_required("app.use")
def index():
    """The user's tokens (or, for an admin, ?user_id=N's) and the form making a new one."""
    return _page(_owner_from_query())


@tokens_bp.post("/")
@permission_required("app.use")
def create():
    """Make a token of the signed-in user; the answer shows its secret, once."""
    owner = current_user._get_current_object()
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _page(owner, form, status=400)
    try:
        token, secret = create_token(owner, owner, form.name.data,
                                     expires_at=expiry_at_end_of(form.expires_on.data, owner),
                                     form_key=form.form_key.data)
    except TokenAlreadyMade as exc:
        db.session.rollback()
        made = exc.token
        fresh = NewTokenForm(formdata=None)
        fresh.form_errors.append(
            f"This form already made the token “{made.name}” ({made.prefix}…); nothing new was made. Its secret was "
            "shown once, when it was made, and is not kept: if you did not copy it, revoke that token and make "
            "another.")
        return _page(owner, fresh, status=409)
    except ValidationError as exc:
        db.session.rollback()
        errors = dict(exc.errors)
        if "expires_at" in errors:
            errors["expires_on"] = errors.pop("expires_at")
        apply_errors(form, ValidationError(errors))
        return _page(owner, form, status=400)
    return _page(owner, new_token=token, new_secret=secret)


@tokens_bp.post("/<int:token_id>/revoke")
@permission_required("app.use")
def revoke(token_id: int):
    """Revoke a token of the signed-in user (admins: anyone's); a second revoke says it already was."""
    token = db.get_or_404(ApiToken, token_id)
    if token.user_id != current_user.id and not can("admin.users"):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = url_for(".index") if token.user_id == current_user.id else url_for(".index", user_id=token.user_id)
    if revoke_token(current_user._get_current_object(), token):
        flash(f"Token “{token.name}” ({token.prefix}…) revoked: it no longer works.", "success")
    else:
        flash(f"Token “{token.name}” ({token.prefix}…) was already revoked.", "info")
    return redirect(back)
