"""Sending webhook deliveries (psa.webhooks.services.deliver, psa.webhooks.tasks): acceptance — a delivery reaches a
real HTTP server started on loopback with a valid signature; with the server down it is retried with backoff and
then marked failed, visible in the delivery log. Also: non-2xx answers and redirects are failures, a claim is a
conditional update (two workers at once send once, PostgreSQL), an abandoned claim is retried after its lease, the
sweep sends only what is due. SQLite and PostgreSQL; the worker runs on the real Redis."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from psa.core import clock
from psa.extensions import db
from psa.jobs.worker import AppWorker
from psa.webhooks import services as webhooks
from psa.webhooks.models import WebhookDelivery
from tests.conftest import login_as
from tests.webhooks.conftest import approve_a_week, make_endpoint, start_receiver

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def held(app, monkeypatch):
    """Deliveries are not sent after the commit (no Redis, not inline): a test runs each attempt itself."""
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    monkeypatch.setitem(app.config, "REDIS_URL", "")


def _delivery(delivery_id: int) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


def _only_delivery_id() -> int:
    return db.session.scalars(sa.select(WebhookDelivery.id)).one()


def test_a_delivery_reaches_a_real_server_signed_by_the_worker(app, ctx, make, receiver, queue):
    endpoint_id, secret = make_endpoint(receiver.url)
    sheet_id = approve_a_week(make, app)  # the real event, committed: the delivery is queued after the commit
    delivery_id = _only_delivery_id()
    assert queue.count == 1 and receiver.requests == []
    assert queue.jobs[0].func_name == "psa.webhooks.tasks.deliver_job" and queue.jobs[0].args == (delivery_id,)

    AppWorker(app, [queue], connection=queue.connection).work(burst=True)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/psa"
    assert request.headers["X-PSA-Event"] == "timesheet.approved"
    assert request.headers["X-PSA-Delivery"] == str(delivery_id)
    assert request.headers["Content-Type"] == "application/json"
    assert webhooks.verify(secret, request.body, request.headers["X-PSA-Signature"])
    assert request.headers["X-PSA-Signature"].startswith("sha256=")
    assert not webhooks.verify("another-secret", request.body, request.headers["X-PSA-Signature"])
    body = json.loads(request.body)
    assert body["id"] == delivery_id and body["event"] == "timesheet.approved"
    assert isinstance(body["timestamp"], int) and abs(body["timestamp"] - clock.now().timestamp()) < 60
    data = body["data"]
    assert data["timesheet_id"] == sheet_id and data["state"] == "approved"
    assert data["user_name"] == "Cleo Consultant" and data["approved_by_name"] == "Mia Manager"
    assert datetime.fromisoformat(data["occurred_at"]).tzinfo is not None
    assert not {"cost_rate", "bill_rate", "rate", "cost", "amount"} & set(data)

    delivery = _delivery(delivery_id)
    assert (delivery.state, delivery.attempts, delivery.response_code, delivery.error) == ("delivered", 1, 200, "")
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert delivery.payload.encode() == request.body  # the log keeps the body exactly as signed and sent
    assert delivery.endpoint_id == endpoint_id


def test_server_down_retried_with_backoff_then_failed_and_shown_in_the_log(app, ctx, make, held, client):
    receiver = start_receiver()
    endpoint_id, secret = make_endpoint(receiver.url)
    with clock.frozen(T0):
        approve_a_week(make, app)
    delivery_id = _only_delivery_id()
    receiver.stop()  # the server goes down before the first attempt

    at = T0
    waits = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60)]
    for attempt in range(1, 6):
        with clock.frozen(at):
            assert webhooks.deliver(delivery_id) == ("retry" if attempt < 5 else "failed")
        delivery = _delivery(delivery_id)
        assert delivery.attempts == attempt and delivery.response_code is None
        assert "refused" in delivery.error.lower()
        assert delivery.last_attempt_at == at
        if attempt < 5:
            assert delivery.state == "pending"
            assert delivery.next_attempt_at == at + waits[attempt - 1]  # 1, 5, 15, 60 minutes
            with clock.frozen(delivery.next_attempt_at - timedelta(seconds=1)):  # not due a second early
                assert webhooks.deliver(delivery_id) == "skipped"
                assert webhooks.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
            at = delivery.next_attempt_at
    delivery = _delivery(delivery_id)
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 5, None)
    with clock.frozen(at + timedelta(days=1)):  # failed is final: the sweep leaves it
        assert webhooks.deliver_due()["failed"] == 0 and _delivery(delivery_id).attempts == 5
    error = delivery.error
    db.session.remove()

    admin = make.user(role="admin")
    login_as(client, admin)
    page = client.get(f"/admin/webhooks/{endpoint_id}/deliveries").get_data(as_text=True)
    assert f'data-delivery-id="{delivery_id}" data-state="failed"' in page
    assert "5 of 5" in page and "Timesheet approved" in page
    assert 'data-testid="delivery-error"' in page and error[:40] in page.replace("&#39;", "'")
    assert "Retry" in page
    index = client.get("/admin/webhooks/").get_data(as_text=True)
    assert "Failed" in index


def test_a_non_2xx_answer_is_retried_with_its_code_and_a_redirect_is_not_followed(app, ctx, make, receiver, held):
    make_endpoint(receiver.url)
    with clock.frozen(T0):
        approve_a_week(make, app)
    delivery_id = _only_delivery_id()
    receiver.status = 500
    with clock.frozen(T0):
        assert webhooks.deliver(delivery_id) == "retry"
    delivery = _delivery(delivery_id)
    assert (delivery.state, delivery.response_code) == ("pending", 500) and "HTTP 500" in delivery.error
    receiver.status = 302
    with clock.frozen(T0 + timedelta(minutes=1)):
        assert webhooks.deliver(delivery_id) == "retry"
    assert _delivery(delivery_id).response_code == 302
    assert len(receiver.requests) == 2  # the redirect's Location was never asked
    receiver.status = 204
    with clock.frozen(T0 + timedelta(minutes=6)):
        assert webhooks.deliver_due() == {"delivered": 1, "retry": 0, "failed": 0, "skipped": 0}
    delivery = _delivery(delivery_id)
    assert (delivery.state, delivery.attempts, delivery.response_code, delivery.error) == ("delivered", 3, 204, "")
    # each attempt is signed again with its own timestamp
    stamps = [json.loads(r.body)["timestamp"] for r in receiver.requests]
    assert stamps == [int(T0.timestamp()), int((T0 + timedelta(minutes=1)).timestamp()),
                      int((T0 + timedelta(minutes=6)).timestamp())]


def test_an_abandoned_claim_is_tried_again_after_its_lease(app, ctx, make, receiver, held):
    make_endpoint(receiver.url)
    with clock.frozen(T0):
        approve_a_week(make, app)
        delivery_id = _only_delivery_id()
        # a sender claimed it and died before recording anything
        db.session.execute(sa.update(WebhookDelivery).values(attempts=1, last_attempt_at=T0,
                                                              next_attempt_at=T0 + webhooks.CLAIM_LEASE))
        db.session.commit()
    with clock.frozen(T0 + timedelta(seconds=30)):
        assert webhooks.deliver_due()["skipped"] == 0 and receiver.requests == []
    with clock.frozen(T0 + webhooks.CLAIM_LEASE):
        assert webhooks.deliver_due()["delivered"] == 1
    assert _delivery(delivery_id).attempts == 2 and len(receiver.requests) == 1


def test_the_sweep_job_sends_what_is_due(app, ctx, make, receiver, held):
    from psa.jobs.schedule import SCHEDULE
    from psa.webhooks.tasks import deliver_due_job

    assert ("psa.webhooks.tasks.deliver_due_job", 60) in SCHEDULE
    make_endpoint(receiver.url)
    approve_a_week(make, app)
    assert receiver.requests == []  # held: nothing sent at the commit
    assert deliver_due_job() == {"delivered": 1, "retry": 0, "failed": 0, "skipped": 0}
    assert deliver_due_job() == {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
    assert len(receiver.requests) == 1


def test_retry_gives_a_failed_delivery_a_new_round(app, ctx, make, receiver, held):
    make_endpoint(receiver.url)
    approve_a_week(make, app)
    delivery_id = _only_delivery_id()
    db.session.execute(sa.update(WebhookDelivery).values(state="failed", attempts=5, next_attempt_at=None,
                                                          error="ConnectionRefusedError"))
    db.session.commit()
    delivery = _delivery(delivery_id)
    assert webhooks.retry_delivery(None, delivery) is True
    db.session.commit()
    assert webhooks.retry_delivery(None, _delivery(delivery_id)) is False  # no longer failed
    assert webhooks.deliver(delivery_id) == "delivered"
    assert (_delivery(delivery_id).state, _delivery(delivery_id).attempts) == ("delivered", 1)


def test_a_paused_endpoint_gets_nothing_sent(app, ctx, make, receiver, held):
    endpoint_id, _ = make_endpoint(receiver.url)
    approve_a_week(make, app)
    delivery_id = _only_delivery_id()
    endpoint = db.session.get(webhooks.WebhookEndpoint, endpoint_id)
    webhooks.update_endpoint(None, endpoint, url=endpoint.url, events=endpoint.event_list, active=False)
    db.session.commit()
    assert webhooks.deliver(delivery_id) == "failed"
    assert receiver.requests == [] and "paused" in _delivery(delivery_id).error


def test_two_workers_claiming_at_once_send_once(app, make, receiver, held):
    with app.app_context():
        make_endpoint(receiver.url)
        approve_a_week(make, app)
        delivery_id = _only_delivery_id()
        db.session.remove()
    threads, barrier = 6, threading.Barrier(6)
    outcomes: list[str | Exception] = []

    def work():
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                outcomes.append(webhooks.deliver(delivery_id))
            except Exception as exc:  # reported below
                outcomes.append(exc)
            finally:
                db.session.remove()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    assert sorted(map(str, outcomes)) == ["delivered"] + ["skipped"] * (threads - 1)
    assert len(receiver.requests) == 1
    with app.app_context():
        assert _delivery(delivery_id).attempts == 1
        db.session.remove()
