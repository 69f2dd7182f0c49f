"""Endpoints every installation has: health, branding stylesheet and logo."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, jsonify, send_from_directory
from sqlalchemy.exc import SQLAlchemyError

from psa.admin.services import get_settings, logo_folder
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


@bp.route("/branding.css")
@public
def branding_css():
    """The accent colour as CSS custom properties (a stylesheet, since the CSP forbids inline styles)."""
    colour = get_settings().brand_accent_color
    css = (f":root {{ --psa-accent: {colour}; --bs-primary: {colour}; --bs-link-color: {colour}; }}\n"
           f".btn-primary {{ --bs-btn-bg: {colour}; --bs-btn-border-color: {colour}; "
           f"--bs-btn-hover-bg: {colour}; --bs-btn-hover-border-color: {colour}; "
           f"--bs-btn-active-bg: {colour}; --bs-btn-active-border-color: {colour}; }}\n"
           f".navbar.psa-navbar {{ border-bottom: 3px solid {colour}; }}\n")
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/branding/logo")
@public
def branding_logo():
    filename = get_settings().brand_logo_filename
    if not filename:
        abort(404)
    return send_from_directory(logo_folder(), filename, max_age=300)
