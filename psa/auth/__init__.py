"""Sign-in, sign-out and password reset for internal users."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from psa.auth import routes  # noqa: E402,F401
