"""The customer portal (SPEC §1, §2 Contact): contacts of a customer account sign in at /portal/ and see their
own account's projects only, through one scoping function (psa.portal.scope) and per-entity views built from
allow-lists (psa.portal.views). A contact's session never reaches an internal page: every request of a
signed-in contact outside this blueprint answers 404 (guard below)."""

from flask import Blueprint, abort, request

from psa.core.auth import is_contact

bp = Blueprint("portal", __name__, url_prefix="/portal")

#: Endpoints outside the portal a contact's browser still needs (assets, the branding stylesheet, health).
CONTACT_REACHABLE = frozenset({"static", "bootstrap.static", "branding.stylesheet", "branding.logo", "core.healthz"})


@bp.before_app_request
def _contacts_stay_in_the_portal():
    """A contact asking for an internal page gets 404, as for a page that does not exist."""
    if is_contact() and request.blueprint != "portal" and request.endpoint not in CONTACT_REACHABLE:
        abort(404)


from psa.portal import optout, pages, routes  # noqa: E402,F401
