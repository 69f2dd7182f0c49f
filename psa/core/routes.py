"""Endpoints every installation has: health. (The branding stylesheet and logo read the settings, a feature:
they are served by psa.admin.routes.branding.)"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from psa.core.auth import public
from psa.core.queue import redis_status
from psa.extensions import db

bp = Blueprint("core", __name__)


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers; Redis being down is reported, not fatal."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = {"ok": True, "message": "ok"}
    except SQLAlchemyError as exc:
        db.session.rollback()
        database = {"ok": False, "message": f"unreachable: {exc.__class__.__name__}"}
    redis_ok, redis_message = redis_status()
    body = {
        "status": "ok" if database["ok"] and redis_ok else ("degraded" if database["ok"] else "down"),
        "database": database,
        "redis": {"ok": redis_ok, "message": redis_message},
    }
    return jsonify(body), 200 if database["ok"] else 503
