"""Timesheets and rates: weekly time entry, approval, frozen rates, import and export."""

from flask import Blueprint

bp = Blueprint("timesheets", __name__, url_prefix="/timesheets")

from psa.timesheets import routes  # noqa: E402,F401
