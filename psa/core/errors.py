"""Error pages: every error answers with a page of ours, never a traceback."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from psa.extensions import db

log = logging.getLogger("psa.errors")

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your role does not give access to this page. Ask an admin if you need it."),
    404: ("Not found", "There is nothing here. It may have been moved or deleted."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    409: ("Conflict", "That change is not possible in the object's current state. Nothing was changed."),
    413: ("Too large", "The upload is larger than allowed."),
    429: ("Too many attempts", "Too many attempts. Wait a while and try again."),
    500: ("Something went wrong", "The error has been logged. Nothing was saved; please try again."),
}


#: The API's error codes (SPEC §4: {"error": {"code", "message", "fields"}}).
API_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
             422: "invalid", 429: "rate_limited", 500: "server_error"}


def api_error_body(code: int, message: str | None = None, fields: dict[str, str] | None = None) -> dict:
    """The API's error body (the one shape every /api/ error answers with)."""
    title, default = MESSAGES.get(code, ("Error", "The request could not be completed."))
    if code == 422 and message is None:
        default = "The request was refused: see fields."
    return {"error": {"code": API_CODES.get(code, "error"), "message": message or default,
                      "fields": dict(fields or {})}}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def render_error(code: int, message: str | None = None):
    if _is_api():
        return jsonify(api_error_body(code, message)), code
    title, default = MESSAGES.get(code, ("Error", "The request could not be completed."))
    return render_template("errors/error.html", code=code, title=title, message=message or default), code


def register_error_handlers(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, "The form was missing its security token or it had expired. "
                                 "Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.response is not None and _is_api():  # an answer already made (the API's 422 body)
            return exc.response
        description = exc.description if exc.code in (409, 429) and _custom(exc) else None
        return render_error(exc.code, description)

    @app.errorhandler(Exception)
    def unhandled(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        db.session.rollback()
        log.exception("unhandled error")
        return render_error(500)

    @app.errorhandler(InternalServerError)
    def internal(exc):
        db.session.rollback()
        return render_error(500)


def _custom(exc: HTTPException) -> bool:
    """Whether the description was set by our code rather than Werkzeug's default text."""
    return type(exc).description != exc.description


class ValidationError(ValueError):
    """A service refused its input; errors maps a field name to the message for that field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def apply_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError next to the form's fields (or at the top if no field matches)."""
    for field_name, message in exc.errors.items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors), message]
        else:
            form.form_errors.append(message)
