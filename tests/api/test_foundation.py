"""The API's shared pieces (psa.api.core): tokens, the error body, the document, the rate limit."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from psa.api.models import ApiToken
from psa.core import clock
from psa.extensions import db


def test_me_answers_with_the_tokens_user(api, make):
    user = make.user(role="consultant", name="Cleo")
    response = api(user).get("/api/v1/me")
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == user.email and body["role"] == "consultant" and "timesheets.approve" not in body["permissions"]
    assert "Set-Cookie" not in response.headers


def test_no_token_a_wrong_one_and_a_session_cookie_all_get_401(api, client, make):
    user = make.user(role="admin")
    assert api(None).get("/api/v1/me").get_json()["error"]["code"] == "unauthorized"
    wrong = api(None).get("/api/v1/me", headers={"Authorization": "Bearer psa_nope"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "unauthorized"
    from tests.conftest import login_as

    login_as(client, user)
    assert api(None).get("/api/v1/me").status_code == 401  # a session is not a token


def test_revoked_expired_and_deactivated_tokens_get_401(app, api, make):
    from psa.api.services import revoke_token

    user = make.user(role="manager")
    live, revoked = api(user), api(user, name="to revoke")
    with app.app_context():
        token = db.session.scalars(sa.select(ApiToken).where(ApiToken.name == "to revoke")).one()
        assert revoke_token(token.user, token) is True and revoke_token(token.user, token) is False
    assert revoked.get("/api/v1/me").status_code == 401
    expiring = api(user, name="soon", expires_at=clock.now() + timedelta(hours=1))
    assert expiring.get("/api/v1/me").status_code == 200
    with clock.frozen(clock.now() + timedelta(hours=2)):
        assert expiring.get("/api/v1/me").status_code == 401
    assert live.get("/api/v1/me").status_code == 200
    with app.app_context():
        from psa.auth.models import User

        db.session.get(User, user.id).is_active_user = False
        db.session.commit()
    assert live.get("/api/v1/me").status_code == 401


def test_unknown_paths_and_methods_answer_with_the_error_body(api, make):
    client = api(make.user())
    missing = client.client.get("/api/v1/no-such-thing", headers={"Authorization": f"Bearer {client.secret}"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.client.post("/api/v1/me", headers={"Authorization": f"Bearer {client.secret}"})
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"


def test_the_document_is_openapi_3_1_with_the_bearer_scheme(api):
    doc = api(None).client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/api/v1/me"]["get"]["security"] == [{"bearer": []}]


def test_the_reference_page_lists_the_operations(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "GET /api/v1/me" in page.get_data(as_text=True)


def test_the_rate_limit_answers_429_with_retry_after(app, api, make):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        client = api(make.user())
        statuses = [client.get("/api/v1/me").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        last = client.get("/api/v1/me")
        assert last.status_code == 429 and 1 <= int(last.headers["Retry-After"]) <= 61
        assert last.get_json()["error"]["code"] == "rate_limited"
        assert api(make.user()).get("/api/v1/me").status_code == 200  # per token
    finally:
        app.config["API_RATE_LIMIT"] = "600 per minute"
