"""API tokens (issue 16): made for an internal user (shown once, stored as its SHA-256), named, with an optional
expiry, revocable; a token acts with its user's permissions and never outlives the user's deactivation (checked on
every request, and the user's tokens are revoked when they are deactivated)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from psa.api.models import ApiToken
from psa.auth.models import ROLES, User
from psa.core import audit, clock
from psa.core.errors import ValidationError
from psa.extensions import db

#: Every secret starts with this, so a leaked one is recognisable (secret scanners) and never taken for a password.
SECRET_PREFIX = "psa_"
#: How often last_used_at is written at most (one conditional UPDATE a minute per token, not one per request).
LAST_USED_EVERY = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenAlreadyMade(Exception):
    """The form with this key already made a token (a refreshed page sending its POST again, a double click): the
    token it made, whose secret was shown once and is not kept."""

    def __init__(self, token: ApiToken):
        super().__init__(f"token {token.id} was already made by this form")
        self.token = token


def _made_by_form(user: User, form_key: str) -> ApiToken | None:
    return db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.form_key == form_key))


def create_token(actor: User, user: User, name: str, expires_at: datetime | None = None,
                 form_key: str | None = None) -> tuple[ApiToken, str]:
    """A new token of `user` (an active internal user: a contact never has one), named; (token, its secret shown
    this once). `actor` is the user themself, or an admin (the CLI passes the user). `form_key`, the random key of
    the form sent, makes a second sending of that form raise TokenAlreadyMade instead of making a second token
    (the database's unique (user, form_key) decides between two sendings at once)."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Name the token (what uses it, e.g. 'CRM sync')."
    elif len(name) > 100:
        errors["name"] = "Use at most 100 characters."
    if expires_at is not None and expires_at <= clock.now():
        errors["expires_at"] = "The expiry must be in the future."
    if not isinstance(user, User) or user.role not in ROLES or not user.is_active_user:
        errors["user"] = "Tokens belong to active internal users only."
    if errors:
        raise ValidationError(errors)
    form_key = form_key or None
    if form_key is not None:
        made = _made_by_form(user, form_key)
        if made is not None:
            raise TokenAlreadyMade(made)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_secret(secret), prefix=secret[:12],
                     expires_at=expires_at, form_key=form_key)
    try:
        with db.session.begin_nested():  # the token added inside it: begin_nested flushes what is pending first
            db.session.add(token)
            db.session.flush()
    except IntegrityError:
        made = _made_by_form(user, form_key) if form_key is not None else None
        if made is None:
            raise
        raise TokenAlreadyMade(made) from None
    audit.record_audit(actor, "api_token.created", token, after={"name": name, "user_id": user.id})
    db.session.commit()
    return token, secret


def authenticate(secret: str) -> ApiToken | None:
    """The live token with this secret (not revoked, not expired, its user active and internal), else None.
    Marks its last use (at most once a minute, a conditional UPDATE)."""
    if not secret or len(secret) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    now = clock.now()
    if (token is None or token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now)
            or not token.user.is_active_user or token.user.role not in ROLES):
        return None
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_EVERY:
        db.session.execute(sa.update(ApiToken).where(
            ApiToken.id == token.id,
            sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY))
            .values(last_used_at=now))
        db.session.commit()
    return token


def revoke_token(actor: User, token: ApiToken) -> bool:
    """Revoke (a conditional update: True the first time, False when it already was)."""
    done = db.session.execute(sa.update(ApiToken).where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None))
                              .values(revoked_at=clock.now())).rowcount
    if done:
        audit.record_audit(actor, "api_token.revoked", token, after={"name": token.name})
    db.session.commit()
    return bool(done)


def revoke_user_tokens(user_id: int) -> int:
    """Revoke every live token of a user (on deactivation); the caller commits."""
    return db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                              .values(revoked_at=clock.now())).rowcount


def tokens_of(user_id: int) -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user_id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))
