"""Outgoing webhooks (issue 16): admin-registered endpoints, signed deliveries sent by a job with retries, the
delivery log and a test button."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")

from psa.webhooks import routes  # noqa: E402,F401
