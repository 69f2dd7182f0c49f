"""Access rules and protections checked over the whole URL map, so a new route is covered automatically."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from psa.core.auth import PERMISSIONS
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.conftest import csrf_token, login_as

#: Endpoints served by libraries (static files), not by our views.
LIBRARY_ENDPOINTS = {"static", "bootstrap.static"}


def _routes(app):
    """(endpoint, path with sample arguments, methods, view) for every rule of ours."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in LIBRARY_ENDPOINTS:
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
        path = re.sub(r"<\w+:(\w+)>", "x", path)
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        yield rule.endpoint, path, methods, app.view_functions[rule.endpoint]


def _call(client, method, path, **kwargs):
    return client.open(path, method=method, **kwargs)


def test_every_route_is_public_or_names_a_permission(app):
    for endpoint, _path, _methods, view in _routes(app):
        permission = getattr(view, "permission", None)
        assert getattr(view, "is_public", False) or permission in PERMISSIONS, (
            f"{endpoint} has neither @public nor @permission_required")


def test_anonymous_visitors_are_sent_to_sign_in(client, app):
    for endpoint, path, methods, view in _routes(app):
        if getattr(view, "is_public", False):
            continue
        for method in methods:
            response = _call(client, method, path)
            if endpoint.startswith("api."):  # the JSON API: a token or 401 with the error body, never a page
                assert response.status_code == 401, (endpoint, method, response.status_code)
                assert response.get_json()["error"]["code"] == "unauthorized", endpoint
                continue
            if method == "GET":
                assert response.status_code == 302, (endpoint, method)
                assert response.headers["Location"].startswith("/login"), endpoint
            else:  # refused before anything else: no CSRF token
                assert response.status_code in (302, 400), (endpoint, method, response.status_code)


@pytest.mark.parametrize("role", ["consultant", "manager", "leader"])
def test_roles_get_403_on_every_route_they_lack(client, app, make, role):
    user = make.user(role=role)
    login_as(client, user)
    token = csrf_token(client, "/")
    checked = 0
    for endpoint, path, methods, view in _routes(app):
        permission = getattr(view, "permission", None)
        if permission is None or role in PERMISSIONS[permission] or endpoint.startswith("api."):
            continue  # the API's roles are walked with tokens in tests/api/test_security.py
        for method in methods:
            data = {"csrf_token": token} if method != "GET" else None
            response = _call(client, method, path, data=data)
            assert response.status_code == 403, (role, endpoint, method, response.status_code)
            checked += 1
    assert checked > 0 or role == "leader"


def test_consultant_gets_403_on_every_admin_page(client, app, make):
    login_as(client, make.user(role="consultant"))
    admin_paths = [path for endpoint, path, methods, _ in _routes(app)
                   if endpoint.startswith("admin.") and "GET" in methods]
    assert "/admin/users" in admin_paths and "/admin/settings" in admin_paths
    for path in admin_paths:
        assert client.get(path).status_code == 403, path


def test_every_form_post_without_csrf_token_is_refused_and_changes_nothing(client, app, make):
    admin = make.user(role="admin")
    login_as(client, admin)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    posted = 0
    for endpoint, path, methods, _view in _routes(app):
        for method in methods:
            if method == "GET":
                continue
            if endpoint.startswith("api."):  # token-only (or signed), no session form: a session is not enough
                response = _call(client, method, path, data={"name": "Changed"})
                expected = (503, 401) if endpoint == "api.deal_won" else (401,)  # 503: no hook secret set
                assert response.status_code in expected, (endpoint, response.status_code)
                continue
            response = _call(client, method, path, data={"email": admin.email, "password": "x", "name": "Changed"})
            assert response.status_code == 400, (endpoint, response.status_code)
            assert "security token" in response.get_data(as_text=True)
            posted += 1
    assert posted >= 10
    assert client.get("/").status_code == 200  # still signed in: the logout POST was refused too
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == before


def test_security_headers_on_every_page(client, make):
    for response in (client.get("/login"), client.get("/no-such-page")):
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(client, make):
    login_as(client, make.user(role="admin"))
    for path in ("/login", "/", "/admin/users", "/admin/settings", "/admin/accounts", "/admin/users/new"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html), path  # nothing from another host (no CDN)


def test_session_cookie_is_http_only_and_lax(client, make):
    response = login_as(client, make.user())
    session_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # served over plain HTTP here


def test_cookies_are_secure_when_served_over_https(app, make):
    user = make.user()
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"}, data={
        "csrf_token": token, "email": user.email, "password": "correct-horse-battery", "remember": "y"})
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c for c in cookies), cookies
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_500_page_holds_no_traceback(client, app, make, monkeypatch):
    def broken_view():
        raise RuntimeError("secret internal detail")

    login_as(client, make.user())
    monkeypatch.setitem(app.view_functions, "dashboard.index", broken_view)
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert "Traceback" not in html and "secret internal detail" not in html and "RuntimeError" not in html


def test_404_and_405_pages_are_ours(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Not found" in missing.get_data(as_text=True)
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405 and "Traceback" not in wrong_method.get_data(as_text=True)


def test_secret_key_is_required_outside_debug_and_tests(monkeypatch):
    from psa import create_app
    from psa.config import ConfigError

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
