"""Portal routes: thin (load, authorize through psa.portal.scope, call a service, respond)."""

from __future__ import annotations

from functools import wraps

from flask import redirect, request, url_for

from psa.core.auth import is_contact, public


def contact_required(view):
    """A portal page: a signed-in contact only. Anyone else (anonymous, or an internal user, whose session is
    not a contact's) is sent to the portal's sign-in."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not is_contact():
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    wrapped.contact_only = True
    return public(wrapped)  # no internal sign-in asked: the URL-map tests read contact_only instead


# The sign-in pages (portal.login, portal.logout, the invitation and sign-in links) are added here; the
# portal's pages (portal.home, portal.project, ...) live in psa/portal/pages.py.
