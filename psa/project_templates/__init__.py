"""Versioned project templates: milestones and tasks in working-day offsets."""

from flask import Blueprint

bp = Blueprint("project_templates", __name__, url_prefix="/templates")

from psa.project_templates import routes  # noqa: E402,F401
