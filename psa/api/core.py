"""What every operation of the API shares: bearer-token authentication, permissions, the error body, cursor
pagination, Idempotency-Key replay and the per-token rate limit.

- Authentication: `Authorization: Bearer <secret>`; psa.api.services.authenticate finds the token by its hash and
  refuses a revoked or expired one, or one whose user is deactivated or not internal (401). The request then acts
  as that user (`current_user`), with exactly the permissions the pages give them (psa.core.auth.can). A session
  cookie is never looked at: the API is token-only.
- Errors: {"error": {"code", "message", "fields"}} with 400/401/403/404/405/409/413/422/429, never a page.
- Lists: `limit` (1–200, default 50) and `cursor` (the previous page's next_cursor): keyset on the id, so a page
  is one statement whatever the offset.
- Idempotency-Key on writes: the first answer is stored with the request's hash; the same key with the same request
  gets that answer again (header Idempotent-Replayed: true) and changes nothing; with another request, 422; while
  the first is still running, 409.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import Response, current_app, g, make_response, request
from pydantic import BaseModel, Field
from spectree import Response as Responses
from werkzeug.exceptions import HTTPException

from psa.api import bp, spec
from psa.core import clock
from psa.core.auth import can
from psa.core.errors import ValidationError, api_error_body
from psa.extensions import db, limiter

# --- the error body ------------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable machine-readable code: bad_request, unauthorized, forbidden, "
                                  "not_found, conflict, invalid, rate_limited, …")
    message: str = Field(description="What went wrong, for a person.")
    fields: dict[str, str] = Field(default_factory=dict,
                                   description="Per input field (body or query parameter), its message.")


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


spec.config.validation_error_model = ErrorBody


class ApiError(Exception):
    """Raised by an operation to answer with an error body."""

    def __init__(self, status: int, message: str | None = None, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message or "")
        self.status, self.message, self.fields, self.headers = status, message, fields or {}, headers or {}


def error_response(status: int, message: str | None = None, fields: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    response = make_response(api_error_body(status, message, fields), status)
    response.headers.update(headers or {})
    return response


#: The errors every operation may answer (declared in the document for each).
COMMON_ERRORS = (400, 401, 403, 404, 422, 429)


def responses(ok: dict[int, type[BaseModel] | None], *errors: int) -> Responses:
    """The document's responses of an operation: its success bodies (None for no body), the common errors and
    `errors` (e.g. 409)."""
    declared = {f"HTTP_{status}": model for status, model in ok.items()}
    for status in sorted({*COMMON_ERRORS, *errors}):
        declared[f"HTTP_{status}"] = ErrorBody
    return Responses(**declared)


# --- authentication and permissions ------------------------------------------------------------------------------


def public_api(view):
    """An operation reachable without a token (the document, its page, the signed CRM hook)."""
    view.api_public = True
    view.is_public = True
    return view


@bp.before_request
def authenticate():
    from psa.api.services import authenticate as find_token

    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "api_public", False):
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return error_response(401, "Send your API token as 'Authorization: Bearer <token>'.",
                              headers={"WWW-Authenticate": 'Bearer realm="psa"'})
    token = find_token(secret.strip())
    if token is None:
        return error_response(401, "This token is unknown, revoked or expired, or its user is deactivated.",
                              headers={"WWW-Authenticate": 'Bearer realm="psa", error="invalid_token"'})
    g.api_token = token
    g._login_user = token.user  # Flask-Login's current_user for this request: the token's user, never a cookie
    return None


def api_user():
    return g._login_user


def permission(name: str):
    """403 unless the token's user holds the permission (psa.core.auth.PERMISSIONS, as on the pages)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not can(name, api_user()):
                return error_response(403, "Your role does not allow this.")
            return view(*args, **kwargs)

        wrapped.permission = name
        return wrapped

    return decorator


# --- errors raised inside operations -----------------------------------------------------------------------------


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    db.session.rollback()
    return error_response(exc.status, exc.message, exc.fields, exc.headers)


@bp.errorhandler(ValidationError)
def _validation_error(exc: ValidationError):
    db.session.rollback()
    return error_response(422, "The request was refused: see fields.", dict(exc.errors))


@bp.errorhandler(429)
def _too_many(exc):
    limit = getattr(limiter, "current_limit", None)
    wait = 60
    if limit is not None:
        window = limit.limit.get_expiry()
        wait = min(window, max(1, math.ceil(limit.reset_at - clock.now().timestamp())))
    return error_response(429, "Too many requests for this token: wait and retry.",
                          headers={"Retry-After": str(wait)})


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.response is not None:  # spectree's 422 (already our body, see _request_refused)
        return exc.response
    return error_response(exc.code or 500, None if exc.description == type(exc).description else exc.description)


def _request_refused(req, resp, error, instance, adapter=None):
    """spectree's `before` hook: a request whose query or body fails its model gets our 422 body, one message per
    field (dotted path)."""
    if error is None or resp is None:
        return
    fields: dict[str, str] = {}
    for item in error.errors():
        name = ".".join(str(part) for part in item.get("loc", ())) or "body"
        fields.setdefault(name, item.get("msg", "Invalid value."))
    resp.set_data(json.dumps(api_error_body(422, "The request was refused: see fields.", fields)))
    resp.mimetype = "application/json"


spec.before = _request_refused


# --- the rate limit ------------------------------------------------------------------------------------------------


def _rate_key() -> str:
    """Per token (the hash of the bearer secret, no database read); per address without one."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "api-token:" + hashlib.sha256(secret.strip().encode()).hexdigest()[:32]
    return "api-ip:" + (request.remote_addr or "unknown")


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_rate_key)(bp)


# --- pagination ------------------------------------------------------------------------------------------------------


class ListQuery(BaseModel):
    """The paging parameters every list accepts."""

    limit: int = Field(50, ge=1, le=200, description="Items per page (1–200).")
    cursor: str | None = Field(None, max_length=100, description="The next_cursor of the previous page.")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "id" or not number.isdigit() or len(number) > 18:
        raise ApiError(422, "The cursor is not one this API gave.", {"cursor": "Use the next_cursor of a page."})
    return int(number)


def paginate(stmt, id_column, query: ListQuery) -> tuple[list, str | None]:
    """(rows of this page, next_cursor or None): keyset on `id_column`, ascending."""
    after = decode_cursor(query.cursor)
    if after is not None:
        stmt = stmt.where(id_column > after)
    rows = db.session.execute(stmt.order_by(id_column).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, (encode_cursor(_row_id(rows[-1])) if more and rows else None)


def _row_id(row) -> int:
    first = row[0]
    return first.id if hasattr(first, "id") else int(first)


# --- Idempotency-Key -------------------------------------------------------------------------------------------------


class WriteHeaders(BaseModel):
    """Headers a write accepts."""

    idempotency_key: str | None = Field(None, alias="Idempotency-Key", min_length=1, max_length=255,
                                        description="Send the same key again to replay this write's answer "
                                                    "instead of writing twice.")

    model_config = {"populate_by_name": True, "extra": "ignore"}


def idempotent(view: Callable):
    """Replay the stored answer of a write sent again with the same Idempotency-Key (per token)."""
    from psa.api.models import IdempotencyRecord

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        token = getattr(g, "api_token", None)
        if not key or token is None:
            return view(*args, **kwargs)
        if len(key) > 255 or not key.isprintable():
            raise ApiError(422, "The Idempotency-Key is not valid.",
                           {"Idempotency-Key": "Use at most 255 printable characters."})
        digest = hashlib.sha256(b"\n".join([request.method.encode(), request.full_path.encode(),
                                            request.get_data(cache=True)])).hexdigest()
        try:
            with db.session.begin_nested():
                db.session.add(IdempotencyRecord(token_id=token.id, key=key, request_hash=digest))
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
            record = db.session.scalar(sa.select(IdempotencyRecord).where(
                IdempotencyRecord.token_id == token.id, IdempotencyRecord.key == key))
            if record is None:  # pragma: no cover - removed between the insert and the read
                raise ApiError(409, "A request with this Idempotency-Key is being handled; retry.") from None
            if record.request_hash != digest:
                raise ApiError(422, "This Idempotency-Key was used with another request.",
                               {"Idempotency-Key": "Use a new key for a new request."}) from None
            if record.status_code is None:
                raise ApiError(409, "A request with this Idempotency-Key is still being handled; retry.") from None
            replay = current_app.response_class(record.response_body or "", status=record.status_code,
                                                mimetype="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = make_response(view(*args, **kwargs))
        except Exception:
            db.session.rollback()
            db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.token_id == token.id,
                                                                  IdempotencyRecord.key == key))
            db.session.commit()
            raise
        db.session.rollback()
        db.session.execute(sa.update(IdempotencyRecord).where(
            IdempotencyRecord.token_id == token.id, IdempotencyRecord.key == key).values(
            status_code=response.status_code, response_body=response.get_data(as_text=True)))
        db.session.commit()
        return response

    return wrapped
