"""Administration: users, customer accounts, settings and branding."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from psa.admin import jobs, routes  # noqa: E402,F401
