"""The webhook admin pages: admins only (a consultant gets 403, the anonymous the sign-in page), CSRF on every
POST, a bad URL or no event refused at its field, the secret shown once (at creation and after a rotation), the
endpoint list with its last delivery and its empty state, Send test creating a webhook.test delivery sent to the
receiver, Retry on a failed delivery, the log paginated, delete. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from psa.core.models import AuditEvent
from psa.extensions import db
from psa.webhooks import services as webhooks
from psa.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.admin.helpers import field_errors
from tests.conftest import csrf_token, login_as, post_form
from tests.webhooks.conftest import closed_port_url, make_endpoint

NEW = "/admin/webhooks/new"


def _endpoints(app) -> list[WebhookEndpoint]:
    with app.app_context():
        rows = db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _deliveries(app) -> list[tuple[str, str, int]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            sa.select(WebhookDelivery.event, WebhookDelivery.state, WebhookDelivery.endpoint_id)
            .order_by(WebhookDelivery.id)).all()]


def _create(client, **overrides):
    data = {"url": "https://hooks.example.com/psa", "description": "Warehouse",
            "events": ["timesheet.approved", "project.created"], "active": "y"}
    data.update(overrides)
    return post_form(client, NEW, data, token_from=NEW)


@pytest.fixture
def admin_client(client, make):
    login_as(client, make.user(role="admin"))
    return client


@pytest.mark.parametrize("path", ["/admin/webhooks/", NEW])
def test_consultants_and_the_anonymous_are_kept_out(app, client, make, path):
    assert client.get(path).status_code == 302  # to the sign-in page
    login_as(client, make.user(role="consultant"))
    assert client.get(path).status_code == 403


def test_a_consultant_cannot_post_either(app, client, make):
    with app.app_context():
        endpoint_id, _ = make_endpoint("https://hooks.example.com/psa")
    login_as(client, make.user(role="manager"))
    token = csrf_token(client, "/")
    for path in (NEW, f"/admin/webhooks/{endpoint_id}", f"/admin/webhooks/{endpoint_id}/test",
                 f"/admin/webhooks/{endpoint_id}/rotate", f"/admin/webhooks/{endpoint_id}/delete"):
        assert client.post(path, data={"csrf_token": token, "url": "https://x.example"}).status_code == 403, path
    assert _deliveries(app) == [] and len(_endpoints(app)) == 1


def test_empty_state_then_create_shows_the_secret_once(app, admin_client):
    page = admin_client.get("/admin/webhooks/").get_data(as_text=True)
    assert 'data-testid="empty-state"' in page and "No webhook endpoints yet" in page
    form = admin_client.get(NEW).get_data(as_text=True)
    assert re.search(r'type="checkbox" name="events"\s+value="timesheet.approved"', form)
    assert 'value="webhook.test"' not in form  # not subscribable
    assert '<label class="form-label" for="url">URL</label>' in form

    response = _create(admin_client)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    (endpoint,) = _endpoints(app)
    assert endpoint.url == "https://hooks.example.com/psa" and endpoint.events == "project.created timesheet.approved"
    shown = re.search(r'id="webhook-secret" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    assert shown == endpoint.secret and len(shown) > 30
    # shown once: neither the list nor the edit page holds it
    assert shown not in admin_client.get("/admin/webhooks/").get_data(as_text=True)
    assert shown not in admin_client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    with app.app_context():
        audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "webhook.created")).one()
        assert shown not in json.dumps(audit.after)


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://hooks.example.com/psa", "Use an https:// (or http://) URL."),
    ("https://user:secret@hooks.example.com/psa", "Leave credentials out of the URL"),
    ("https://", "Enter a valid URL"),
    ("hooks.example.com/psa", "Use an https:// (or http://) URL."),
    ("https://hooks.example.com/a b", "A URL has no spaces or control characters."),
    ("", "Enter the URL that receives the events."),
])
def test_a_bad_url_is_refused_at_its_field(app, admin_client, url, message):
    response = _create(admin_client, url=url)
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True), "url")
    assert errors and errors[0].startswith(message), errors
    assert _endpoints(app) == []


def test_events_are_required_and_known(app, admin_client):
    response = _create(admin_client, events=[])
    assert response.status_code == 400 and "Choose at least one event." in response.get_data(as_text=True)
    response = _create(admin_client, events=["project.deleted"])
    assert response.status_code == 400 and "Unknown event: project.deleted." in response.get_data(as_text=True)
    assert _endpoints(app) == []


def test_every_post_needs_the_csrf_token(app, admin_client):
    with app.app_context():
        endpoint_id, _ = make_endpoint("https://hooks.example.com/psa")
    assert admin_client.post(NEW, data={"url": "https://a.example", "events": ["project.created"]}).status_code == 400
    for action in ("", "/test", "/rotate", "/delete"):
        assert admin_client.post(f"/admin/webhooks/{endpoint_id}{action}", data={}).status_code == 400, action
    assert len(_endpoints(app)) == 1 and _deliveries(app) == []


def test_edit_rotate_and_delete(app, admin_client):
    with app.app_context():
        endpoint_id, secret = make_endpoint("https://hooks.example.com/psa")
    path = f"/admin/webhooks/{endpoint_id}"
    page = admin_client.get(path).get_data(as_text=True)
    assert 'value="timesheet.approved" id="events-' in page and "checked" in page
    response = post_form(admin_client, path, {"url": "https://other.example/in", "description": "New",
                                              "events": ["escalation.opened"]}, token_from=path)
    assert response.status_code == 302
    (endpoint,) = _endpoints(app)
    assert (endpoint.url, endpoint.events, endpoint.active) == ("https://other.example/in", "escalation.opened", False)
    bad = post_form(admin_client, path, {"url": "javascript:alert(1)", "events": ["escalation.opened"]},
                    token_from=path)
    assert bad.status_code == 400 and field_errors(bad.get_data(as_text=True), "url")

    rotated = post_form(admin_client, f"{path}/rotate", token_from=path)
    new_secret = re.search(r'id="webhook-secret" value="([^"]+)"', rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret and _endpoints(app)[0].secret == new_secret

    assert post_form(admin_client, f"{path}/delete", token_from=path).status_code == 302
    assert _endpoints(app) == []
    assert admin_client.get(path).status_code == 404


def test_send_test_creates_a_webhook_test_delivery_and_sends_it(app, admin_client, receiver):
    with app.app_context():
        endpoint_id, secret = make_endpoint(receiver.url)
    path = f"/admin/webhooks/{endpoint_id}"
    response = post_form(admin_client, f"{path}/test", token_from=path)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{path}/deliveries")
    assert _deliveries(app) == [("webhook.test", "delivered", endpoint_id)]  # PSA_INLINE_JOBS: sent at once
    (request,) = receiver.requests
    assert request.headers["X-PSA-Event"] == "webhook.test"
    assert webhooks.verify(secret, request.body, request.headers["X-PSA-Signature"])
    log = admin_client.get(f"{path}/deliveries").get_data(as_text=True)
    assert "Test delivery" in log and "HTTP 200" in log and 'data-state="delivered"' in log
    index = admin_client.get("/admin/webhooks/").get_data(as_text=True)
    assert "Delivered" in index and "Test delivery" in index


def test_retry_a_failed_delivery_from_the_log(app, admin_client, receiver):
    with app.app_context():
        endpoint_id, _ = make_endpoint(receiver.url)
        delivery = webhooks.send_test(None, db.session.get(WebhookEndpoint, endpoint_id))
        delivery.state, delivery.attempts, delivery.error = "failed", 5, "ConnectionRefusedError: refused"
        db.session.commit()
        delivery_id = delivery.id
    log_path = f"/admin/webhooks/{endpoint_id}/deliveries"
    log = admin_client.get(log_path).get_data(as_text=True)
    assert f"/admin/webhooks/deliveries/{delivery_id}/retry" in log and "ConnectionRefusedError" in log
    response = post_form(admin_client, f"/admin/webhooks/deliveries/{delivery_id}/retry", token_from=log_path)
    assert response.status_code == 302
    assert _deliveries(app) == [("webhook.test", "delivered", endpoint_id)] and len(receiver.requests) == 1
    again = post_form(admin_client, f"/admin/webhooks/deliveries/{delivery_id}/retry", token_from=log_path,
                      follow_redirects=True)
    assert "no longer failed" in again.get_data(as_text=True)


def test_the_log_is_newest_first_and_paginated(app, admin_client, monkeypatch):
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with app.app_context():
        endpoint_id, _ = make_endpoint(closed_port_url())
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        ids = [webhooks.send_test(None, endpoint).id for _ in range(27)]
        db.session.commit()
    path = f"/admin/webhooks/{endpoint_id}/deliveries"
    first = admin_client.get(path).get_data(as_text=True)
    shown = [int(n) for n in re.findall(r'data-delivery-id="(\d+)"', first)]
    assert shown == sorted(ids, reverse=True)[:25]
    assert f'href="{path}?page=2"' in first  # the pager keeps the endpoint
    second = admin_client.get(f"{path}?page=2").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'data-delivery-id="(\d+)"', second)] == sorted(ids, reverse=True)[25:]
    empty = make_endpoint_page(app, admin_client)
    assert "No deliveries yet" in empty


def make_endpoint_page(app, client) -> str:
    with app.app_context():
        endpoint_id, _ = make_endpoint("https://quiet.example/in")
    return client.get(f"/admin/webhooks/{endpoint_id}/deliveries").get_data(as_text=True)
