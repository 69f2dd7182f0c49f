"""Reports for PS leaders (SPEC §3): utilization so far."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from psa.reports import routes  # noqa: E402,F401
