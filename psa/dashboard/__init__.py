"""The signed-in home page and the notification inbox."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from psa.dashboard import routes  # noqa: E402,F401
