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
    # background jobs, the scheduler and the e-mail outbox (/admin/jobs): see, retry, delete
    "admin.jobs": frozenset({"admin"}),
    # reports for PS leaders (utilization)
    "reports.view": frozenset({"admin", "leader"}),
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
    """Session ids carry their kind and the sign-in's token ("user:12:<token>", "contact:7:<token>"), so
    internal users and portal contacts share the mechanism, a sign-in ended on the server (sign-out, password
    reset, deactivation) stays ended, and one kind's id never loads the other kind's person."""
    kind, _, rest = identity.partition(":")
    raw_id, _, token = rest.partition(":")
    loader = _session_loaders.get(kind)
    if loader is None or not raw_id.isdigit() or not token:
        return None
    return loader(int(raw_id), token)


#: kind -> (id, sign-in token) -> the signed-in person or None. The auth feature owns users' sign-ins and the
#: portal contacts'; psa/core imports no feature, so the app registers them at start (create_app).
_session_loaders: dict[str, Callable[[int, str], object]] = {}


def set_session_loader(loader: Callable[[int, str], object] | None, kind: str = "user") -> None:
    """Register how a session id's person and token become the signed-in user (None unregisters it)."""
    if loader is None:
        _session_loaders.pop(kind, None)
    else:
        _session_loaders[kind] = loader


def is_contact(user=None) -> bool:
    """A signed-in portal contact (SPEC §1: never an internal user, never on an internal page)."""
    user = current_user if user is None else user
    return bool(getattr(user, "is_authenticated", False)) and bool(getattr(user, "is_contact", False))
