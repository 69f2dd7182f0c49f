"""Projects: the milestone engine, the project page and the portfolio."""

from flask import Blueprint

bp = Blueprint("projects", __name__, url_prefix="/projects")

from psa.projects import routes  # noqa: E402,F401
