"""The API's role walk (issue 16): every operation registered under /api/v1 when the test runs, called with a token
of each internal role, with no token, and with a session cookie but no token. A new operation is covered without
touching this file; one that neither is public nor names a permission fails here.

- A role lacking the operation's permission (its view's `permission`, psa.core.auth.PERMISSIONS) gets 403 with the
  error body (code "forbidden") before anything else: never 200, never a 422 about the body, never a 500.
- A role holding it is let through the permission check (never 401 or a 403 "forbidden" from it), and never gets
  a 500 for sample arguments (path ids 1, an empty JSON body).
- No token: 401 with the error body, and no cookie set; a signed-in browser's session cookie is no token.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from psa.core.auth import PERMISSIONS
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.api.conftest import ApiClient, check_against_document, token_for
from tests.conftest import login_as

ROLES = ("consultant", "manager", "leader", "admin")
SAFE = {"GET"}


def api_operations(app):
    """(endpoint, sample path, method, view) of every API operation registered now, public ones included."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?\w+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, path, method, app.view_functions[rule.endpoint]))
    return found


def protected_operations(app):
    return [op for op in api_operations(app) if not getattr(op[3], "api_public", False)]


def call(client, method, path, secret=None):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    body = {} if method not in SAFE else None
    return client.open(path, method=method, json=body, headers=headers)


def error_code(response) -> str | None:
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    assert isinstance(error.get("message"), str) and isinstance(error.get("fields", {}), dict), body
    return error.get("code")


def test_the_walk_sees_the_operations(app):
    endpoints = {endpoint for endpoint, *_ in api_operations(app)}
    assert {"api.me", "api.openapi", "api.reference"} <= endpoints
    assert protected_operations(app), "no protected API operation registered"


def test_every_api_view_is_public_or_names_a_permission(app):
    missing = [f"{method} {path} ({endpoint})" for endpoint, path, method, view in api_operations(app)
               if not getattr(view, "api_public", False) and getattr(view, "permission", None) not in PERMISSIONS]
    assert missing == [], "neither @public_api nor @permission(...): " + ", ".join(missing)


def test_public_operations_are_marked_public_for_the_page_walk_too(app):
    for endpoint, _path, _method, view in api_operations(app):
        if getattr(view, "api_public", False):
            assert getattr(view, "is_public", False), endpoint


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_403_on_every_operation_it_lacks_and_never_a_500(app, client, make, role):
    secret = token_for(app, make.user(role=role), f"walk {role}")
    refused = allowed = 0
    problems = []
    for endpoint, path, method, view in protected_operations(app):
        permission = view.permission
        response = call(client, method, path, secret)
        status, code = response.status_code, error_code(response)
        where = f"{role}: {method} {path} ({endpoint}, {permission}) -> {status} {code}"
        if role not in PERMISSIONS[permission]:
            refused += 1
            if status != 403 or code != "forbidden":
                problems.append(where)
        else:
            allowed += 1
            if status >= 500 or status == 401:
                problems.append(where)
            if status >= 400 and code is None:
                problems.append(where + " (no error body)")
        assert "Set-Cookie" not in response.headers, where
    assert problems == [], "\n".join(problems)
    assert allowed > 0
    if role == "admin":
        assert refused == 0
    if role == "consultant":  # the walk really exercises refusals (accounts, reports... are not theirs)
        assert refused > 0


def test_no_token_gets_401_with_the_error_body_and_no_cookie(app, client):
    for endpoint, path, method, _view in protected_operations(app):
        response = call(client, method, path)
        where = f"{method} {path} ({endpoint})"
        assert response.status_code == 401, (where, response.status_code)
        assert error_code(response) == "unauthorized", where
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), where
        assert "Set-Cookie" not in response.headers, where


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))


def test_a_session_cookie_is_no_token(app, client, make):
    """A signed-in browser (no CSRF token either: the API never reads the cookie) gets 401 and changes nothing."""
    login_as(client, make.user(role="admin"))
    assert client.get("/").status_code == 200  # the browser is signed in
    before = _audit_count(app)
    for endpoint, path, method, _view in protected_operations(app):
        response = call(client, method, path)
        where = f"{method} {path} ({endpoint})"
        assert response.status_code == 401, (where, response.status_code)
        assert error_code(response) == "unauthorized", where
        assert "Set-Cookie" not in response.headers, where
    assert _audit_count(app) == before


def test_a_wrong_or_malformed_authorization_gets_401_without_a_cookie(app, client, make):
    secret = token_for(app, make.user(role="admin"))
    for header in (f"Basic {secret}", "Bearer", "Bearer    ", f"Bearer {secret}x", f"Token {secret}",
                   "Bearer " + "x" * 5000):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        check_against_document(app, ApiClient(app, client, None).document, "GET", "/api/v1/me", response)
        assert response.status_code == 401, header[:20]
        assert error_code(response) == "unauthorized" and "Set-Cookie" not in response.headers
