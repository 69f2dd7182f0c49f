"""The rules of internal users: creating, inviting, changing, deactivating, signing in, resetting."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from psa.auth.models import ROLES, User, UserSession
from psa.core.audit import record_audit, snapshot
from psa.core.db import begin_write, unique_or_field_error, utcnow
from psa.core.emails import check_email, normalise_email
from psa.core.errors import ValidationError
from psa.core.mail import queue_email
from psa.core.money import to_exact
from psa.extensions import db

#: Password length bounds.
PASSWORD_MIN = 10
PASSWORD_MAX = 128
#: Token purposes and the config key holding each one's lifetime in seconds.
TOKEN_PURPOSES = {"reset": "PASSWORD_RESET_MAX_AGE", "invite": "INVITATION_MAX_AGE"}
#: A hash compared against when the e-mail is unknown, so timing does not reveal who has an account.
_DUMMY_HASH = "scrypt:32768:8:1$k1hbm2ZeCGNy9Bcr$" + "0" * 128

USER_FIELDS = ("email", "name", "role", "timezone", "weekly_capacity_hours", "is_active_user", "approver_id")
#: Roles whose holder may be someone's approver (approves their weeks; SPEC §2 Timesheet).
APPROVER_ROLES = ("admin", "leader", "manager")
APPROVER_MESSAGE = "Choose an active project manager, PS leader or admin, or none (the PS leaders approve)."
#: update_user's default for `approver`: leave the approver as it is.
KEEP = object()




def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < PASSWORD_MIN:
        raise ValidationError({field: f"Use at least {PASSWORD_MIN} characters."})
    if len(password) > PASSWORD_MAX:
        raise ValidationError({field: f"Use at most {PASSWORD_MAX} characters."})


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None."""
    user = find_user_by_email(email)
    if user is None or not user.password_hash:
        from werkzeug.security import check_password_hash

        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not user.check_password(password or "") or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def _unique_email(email: str, user: User | None = None) -> str:
    email = check_email(email)
    existing = find_user_by_email(email)
    if existing is not None and existing is not user:
        raise ValidationError({"email": "A user with this e-mail already exists."})
    return email


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(ROLES)}."})


def _hours(value: Decimal | int) -> Decimal:
    """Weekly hours as stored (two places, never rounded), so an unchanged value compares equal in the audit
    trail; more decimals, or outside 0 to 168, is a message at the field."""
    return to_exact(value, "weekly_capacity_hours", high=Decimal(168),
                    range_message="Enter the hours a week, 0 to 168.")


def can_be_approver(approver: User | None, user: User | None = None) -> bool:
    """Whether `approver` may approve `user`'s weeks: an active manager, leader or admin other than the user."""
    return (approver is not None and approver.is_active and approver.role in APPROVER_ROLES
            and (user is None or approver.id != user.id))


def _check_approver(approver: User | None, user: User | None = None) -> int | None:
    """The approver's id (None: the PS leaders approve), or a message at the approver field."""
    if approver is None:
        return None
    if user is not None and approver.id == user.id:
        raise ValidationError({"approver_id": "Nobody approves their own weeks; choose someone else, or none."})
    if not can_be_approver(approver, user):
        raise ValidationError({"approver_id": APPROVER_MESSAGE})
    return approver.id


def _active_admin_count() -> int:
    """Active admins, counted under a lock on their rows: two admins demoting or deactivating each other at
    once take turns, so the second sees the first's change and the last admin stays."""
    begin_write()
    return len(db.session.scalars(
        sa.select(User.id).where(User.role == "admin", User.is_active_user.is_(True)).with_for_update()).all())


def create_user(
    actor,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    timezone: str = "UTC",
    weekly_capacity_hours: Decimal | int = Decimal("40"),
    approver: User | None = None,
) -> User:
    """Create an internal user; without a password the user can sign in only after an invitation link.
    Without an approver the user's weeks go to the PS leaders."""
    _check_role(role)
    approver_id = _check_approver(approver)
    user = User(
        email=_unique_email(email),
        name=name.strip(),
        role=role,
        timezone=timezone,
        weekly_capacity_hours=_hours(weekly_capacity_hours),
        is_active_user=True,
        approver_id=approver_id,
    )
    if password is not None:
        check_password_rules(password)
        user.set_password(password)
    # the e-mail is unique: an address another request took meanwhile is a message at the field
    with unique_or_field_error({"uq_users_email": ("email", "A user with this e-mail already exists.")}):
        db.session.add(user)
    record_audit(actor, "user.created", user, after=snapshot(user, USER_FIELDS))
    return user


def invite_user(actor, **fields) -> User:
    """Create a user without a password and e-mail them a link to choose one."""
    user = create_user(actor, password=None, **fields)
    send_invitation(actor, user)
    return user


def send_invitation(actor, user: User) -> None:
    link = external_url("auth.reset_password", token=make_token(user, "invite"))
    days = current_app.config["INVITATION_MAX_AGE"] // 86400
    inviter = getattr(actor, "name", None) or "An administrator"
    queue_email(
        user.email,
        "You are invited to PSA",
        f"Hello {user.name},\n\n{inviter} has invited you to PSA as {user.role_label}.\n"
        f"Choose your password here (the link works once, for {days} days):\n\n{link}\n",
    )
    record_audit(actor, "user.invited", user)


def update_user(actor, user: User, *, email: str, name: str, role: str, timezone: str,
                weekly_capacity_hours: Decimal, approver: User | None | object = KEEP) -> User:
    """Change a user's details, role and approver (None: the PS leaders approve; KEEP, the default: as it is);
    the last active admin keeps the admin role. An approver kept as it was is not checked again, so a user
    whose approver was deactivated can still be saved (their weeks go to the leaders meanwhile)."""
    _check_role(role)
    approver_id = user.approver_id
    if approver is not KEEP and getattr(approver, "id", None) != user.approver_id:
        approver_id = _check_approver(approver, user)
    before = snapshot(user, USER_FIELDS)
    if user.role == "admin" and role != "admin" and user.is_active and _active_admin_count() <= 1:
        raise ValidationError({"role": "This is the last active admin; make someone else admin first."})
    # an address another request took meanwhile is a message at the field
    with unique_or_field_error({"uq_users_email": ("email", "A user with this e-mail already exists.")}):
        user.email = _unique_email(email, user)
        user.name = name.strip()
        user.role = role
        user.timezone = timezone
        user.weekly_capacity_hours = _hours(weekly_capacity_hours)
        user.approver_id = approver_id
    after = snapshot(user, USER_FIELDS)
    if before != after:
        changed = {key for key in after if before[key] != after[key]}
        action = ("user.role_changed" if "role" in changed
                  else "user.approver_changed" if changed == {"approver_id"} else "user.updated")
        record_audit(actor, action, user, before, after)
    return user


#: What else a deactivation ends, by name: a higher package hands its function over (the API revokes the user's
#: tokens, psa.api.tokens), as auth may not import it (tests/core/test_imports.py). Each takes the user's id.
_deactivation_hooks: dict[str, Callable[[int], object]] = {}


def set_deactivation_hook(name: str, hook: Callable[[int], object] | None) -> None:
    """Register (or, with None, remove) what a deactivation also ends; called in its transaction."""
    if hook is None:
        _deactivation_hooks.pop(name, None)
    else:
        _deactivation_hooks[name] = hook


def set_user_active(actor, user: User, active: bool) -> User:
    """Deactivate (ending every sign-in of the user, and what the deactivation hooks end: their API tokens) or
    reactivate a user (who must sign in again; a revoked token stays revoked)."""
    if not active:
        if actor is not None and actor.id == user.id:
            raise ValidationError({"active": "You cannot deactivate yourself."})
        if user.role == "admin" and user.is_active and _active_admin_count() <= 1:
            raise ValidationError({"active": "This is the last active admin."})
    if user.is_active_user != active:
        before = snapshot(user, ("is_active_user",))
        user.is_active_user = active
        if not active:
            end_all_sessions(user)
            for hook in _deactivation_hooks.values():
                hook(user.id)
        record_audit(actor, "user.activated" if active else "user.deactivated", user, before,
                     snapshot(user, ("is_active_user",)))
    return user


# --- sign-ins (server-side sessions) ------------------------------------------------------------
# A sign-in is a UserSession row named by a random token that the session cookie and the remember-me cookie
# carry (User.get_id). Ending the row ends both cookies, wherever they were copied to.


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_lifetime() -> timedelta:
    """How long a sign-in lasts at most: the longer of the remember-me cookie and the session cookie."""
    def seconds(value) -> float:
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    config = current_app.config
    return timedelta(seconds=max(seconds(config["REMEMBER_COOKIE_DURATION"]),
                                 seconds(config["PERMANENT_SESSION_LIFETIME"])))


def start_session(user: User) -> str:
    """Record a new sign-in of the user and return its token (also set on user.session_token for get_id)."""
    now = utcnow()
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id,
                                                    UserSession.created_at < now - session_lifetime()))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_token_hash(token), created_at=now))
    db.session.flush()
    user.session_token = token
    return token


def session_user(user_id: int, token: str, now: datetime | None = None) -> User | None:
    """The active user whose sign-in this token names, if it has not ended or expired (one statement)."""
    if not token:
        return None
    now = now or utcnow()
    user = db.session.scalar(
        sa.select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_id, User.is_active_user.is_(True), UserSession.token_hash == _token_hash(token),
               UserSession.ended_at.is_(None), UserSession.created_at >= now - session_lifetime()))
    if user is not None:
        user.session_token = token
    return user


def end_session(user: User, token: str | None) -> None:
    """End one sign-in (sign-out): its session and its remember-me cookie stop working, even if replayed."""
    if token:
        db.session.execute(sa.update(UserSession).where(
            UserSession.user_id == user.id, UserSession.token_hash == _token_hash(token),
            UserSession.ended_at.is_(None)).values(ended_at=utcnow()))


def end_all_sessions(user: User) -> int:
    """End every sign-in of the user (password change or reset, deactivation); returns how many ended."""
    result = db.session.execute(sa.update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)).values(ended_at=utcnow()))
    return result.rowcount


# --- password reset ------------------------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"psa-password-{purpose}")


def _fingerprint(user: User) -> str:
    """Changes whenever the password does, which makes every token single-use."""
    return hashlib.sha256((user.password_hash or "unset").encode()).hexdigest()[:20]


def make_token(user: User, purpose: str = "reset") -> str:
    return _serializer(purpose).dumps({"id": user.id, "fp": _fingerprint(user)})


def load_token(token: str) -> tuple[User | None, str]:
    """The user a reset or invitation token is for, or None with the reason."""
    for purpose, max_age_key in TOKEN_PURPOSES.items():
        try:
            data = _serializer(purpose).loads(token, max_age=current_app.config[max_age_key])
        except SignatureExpired:
            return None, "This link has expired. Ask for a new one."
        except BadSignature:
            continue
        user = db.session.get(User, data.get("id"))
        if user is None or not user.is_active or data.get("fp") != _fingerprint(user):
            return None, "This link has already been used or is no longer valid. Ask for a new one."
        return user, purpose
    return None, "This link is not valid. Ask for a new one."


def request_password_reset(email: str) -> None:
    """E-mail a reset link to an active user with this address; do nothing (silently) otherwise."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    link = external_url("auth.reset_password", token=make_token(user, "reset"))
    queue_email(
        user.email,
        "Reset your PSA password",
        f"Hello {user.name},\n\nSomeone (we hope you) asked to reset your PSA password.\n"
        f"Choose a new one here; the link works once, for {minutes} minutes:\n\n{link}\n\n"
        "If you did not ask, ignore this e-mail: your password stays as it is.\n",
    )
    record_audit(None, "user.password_reset_requested", user)


def reset_password(user: User, password: str) -> User:
    """Set a new password (reset link or invitation); every sign-in of the user ends."""
    check_password_rules(password)
    user.set_password(password)
    end_all_sessions(user)
    record_audit(user, "user.password_reset", user)
    return user


def change_password(user: User, current_password: str, password: str) -> User:
    """The signed-in user's own change: the current password first; every sign-in of the user ends (the caller
    starts a new one for the device the change was made on)."""
    if not user.check_password(current_password or ""):
        raise ValidationError({"current_password": "That is not your current password."})
    check_password_rules(password)
    user.set_password(password)
    end_all_sessions(user)
    record_audit(user, "user.password_changed", user)
    return user


def external_url(endpoint: str, **values) -> str:
    """An absolute link for e-mails, built on PSA_BASE_URL rather than on the request's host."""
    return current_app.config["PSA_BASE_URL"] + url_for(endpoint, _external=False, **values)
