"""The pages where a user makes, lists and revokes their API tokens (admins: anyone's) — being built, issue 16."""

from __future__ import annotations

from flask import Blueprint

tokens_bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")
