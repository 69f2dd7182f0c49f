"""Escalations: slipping milestones escalated to the people each level names (SPEC §2, §3), the hourly and
per-project sweeps, and the escalations page."""

from flask import Blueprint

bp = Blueprint("escalations", __name__, url_prefix="/escalations")

from psa.escalations import routes  # noqa: E402,F401
