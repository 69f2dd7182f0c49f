"""/healthz reports the database and Redis."""

from __future__ import annotations

import os

import pytest


def test_healthz_reports_database_and_redis(client, app, monkeypatch):
    if not os.environ.get("REDIS_URL"):
        pytest.fail("REDIS_URL must point at the local Redis (make test and .ci/run set it)")
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["REDIS_URL"])
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"status": "ok", "database": {"ok": True, "message": "ok"}, "redis": {"ok": True, "message": "ok"}}


def test_redis_down_is_reported_not_fatal(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False and body["redis"]["message"].startswith("unreachable")


def test_database_down_answers_503(tmp_path):
    from tests.conftest import make_test_app

    broken = make_test_app("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path, REDIS_URL="")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"]["ok"] is False
