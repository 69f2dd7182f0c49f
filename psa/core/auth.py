"""Who may do what: every route's access check goes through this module.

Permissions are named capabilities granted to internal roles. Routes use
``@permission_required(name)``; templates use ``can(name)`` to draw navigation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from psa.extensions import login_manager

#: The one table of who may do what.
PERMISSIONS: dict[str, frozenset[str]] = {
    # any signed-in internal user
    "app.use": frozenset({"admin", "leader", "manager", "consultant"}),
    # customer accounts: view, create and edit
    "accounts.view": frozenset({"admin", "leader", "manager"}),
    "accounts.manage": frozenset({"admin", "leader", "manager"}),
    # templates: everyone reads and uses published ones; admins and leaders build them
    "templates.view": frozenset({"admin", "leader", "manager", "consultant"}),
    "templates.manage": frozenset({"admin", "leader"}),
    # projects: everyone sees the projects they belong to (object rule in projects.services.can_view_project)
    "projects.view": frozenset({"admin", "leader", "manager", "consultant"}),
    "projects.create": frozenset({"admin", "leader", "manager"}),
    "projects.edit": frozenset({"admin", "leader", "manager"}),
    # time: everyone fills in their own week; approvers decide; rates are seen and set by admins and leaders
    "timesheets.use": frozenset({"admin", "leader", "manager", "consultant"}),
    "timesheets.approve": frozenset({"admin", "leader", "manager"}),
    "timesheets.reopen": frozenset({"admin", "leader"}),
    "timesheets.export": frozenset({"admin", "leader", "manager"}),
    "timesheets.import": frozenset({"admin", "leader"}),
    "rates.manage": frozenset({"admin", "leader"}),
    # users, roles, settings, branding
    "admin.users": frozenset({"admin"}),
    "admin.settings": frozenset({"admin"}),
    "admin.audit": frozenset({"admin", "leader"}),
}


def is_internal(user) -> bool:
    """An internal user (not a portal contact, not anonymous)."""
    return bool(getattr(user, "is_authenticated", False)) and getattr(user, "role", None) in PERMISSIONS["app.use"]


def can(permission: str, user=None) -> bool:
    """Whether the user (the current one by default) holds the permission."""
    user = current_user if user is None else user
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return is_internal(user) and user.role in PERMISSIONS[permission]


def permission_required(permission: str):
    """Route decorator: sign-in required, then 403 unless the user holds the permission."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator


def public(view):
    """Mark a route as reachable without signing in (the URL-map tests read this)."""
    view.is_public = True
    return view


@login_manager.user_loader
def load_user(identity: str):
    """Session ids carry their kind and the sign-in's token ("user:12:<token>"), so portal contacts can share
    the mechanism and a sign-in ended on the server (sign-out, password reset, deactivation) stays ended."""
    kind, _, rest = identity.partition(":")
    raw_id, _, token = rest.partition(":")
    if kind != "user" or not raw_id.isdigit() or not token or _session_user is None:
        return None
    return _session_user(int(raw_id), token)


#: (user id, sign-in token) -> the signed-in user or None; the auth feature owns sign-ins, and psa/core imports
#: no feature, so the app registers psa.auth.services.session_user at start (create_app).
_session_user: Callable[[int, str], object] | None = None


def set_session_loader(loader: Callable[[int, str], object] | None) -> None:
    """Register how a session id's user and token become the signed-in user (None unregisters it)."""
    global _session_user
    _session_user = loader
