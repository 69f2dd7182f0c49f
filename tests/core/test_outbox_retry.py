"""The outbox against a real SMTP server on loopback (aiosmtpd): an e-mail reaches it; with the server down the
message is retried with backoff (1, 5, 15, 60 minutes) and then marked failed; the admin jobs page shows it with a
Retry button that works once the server is up."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from psa.core import clock
from psa.core.mail import BACKOFF, MAX_ATTEMPTS, deliver_outbox, queue_email
from psa.core.models import AuditEvent, OutboxEmail
from psa.extensions import db
from tests.conftest import login_as, post_form

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    """The app's SMTP settings pointing at a loopback port; `start()` serves it with aiosmtpd."""
    port = free_port()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", port)
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", "auto")
    monkeypatch.setitem(app.config, "MAIL_FROM", "psa@example.com")

    class Server:
        inbox = Inbox()
        controller = None

        def start(self):
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)
            self.controller.start()

    server = Server()
    yield server
    if server.controller is not None:
        server.controller.stop()


@pytest.fixture
def moving_clock():
    """The application's clock at T0; `moving_clock[0] = ...` moves it."""
    now = [T0]
    clock.set_now(lambda: now[0])
    yield now
    clock.set_now(None)


def state(app, email_id):
    with app.app_context():
        email = db.session.get(OutboxEmail, email_id)
        db.session.expunge(email)
        db.session.remove()
    return email


def queued(app, to="dana@customer.example", subject="Hello from PSA") -> int:
    with app.app_context():
        email = queue_email(to, subject, "The body.")
        db.session.commit()
        return email.id


def deliver(app) -> dict[str, int]:
    with app.app_context():
        result = deliver_outbox()
        db.session.remove()
    return result


def test_an_email_reaches_a_real_smtp_server(app, smtp, moving_clock):
    smtp.start()
    email_id = queued(app)
    assert deliver(app) == {"sent": 1, "retry": 0, "failed": 0}
    [(sender, recipients, content)] = smtp.inbox.messages
    assert sender == "psa@example.com" and recipients == ["dana@customer.example"]
    assert "Subject: Hello from PSA" in content and "The body." in content
    sent = state(app, email_id)
    assert (sent.state, sent.attempts, sent.sent_at, sent.next_attempt_at) == ("sent", 1, T0, None)
    assert deliver(app) == {"sent": 0, "retry": 0, "failed": 0}  # never twice


def test_server_down_backs_off_then_fails_and_the_admin_page_retries_it(app, client, make, smtp, moving_clock):
    email_id = queued(app)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = deliver(app)
        email = state(app, email_id)
        assert email.attempts == attempt and "ConnectionRefusedError" in email.last_error
        if attempt < MAX_ATTEMPTS:
            assert result == {"sent": 0, "retry": 1, "failed": 0}
            assert email.state == "pending"
            waits.append(email.next_attempt_at - moving_clock[0])
            # not due before its time: a run a second early attempts nothing
            moving_clock[0] = email.next_attempt_at - timedelta(seconds=1)
            assert deliver(app) == {"sent": 0, "retry": 0, "failed": 0}
            assert state(app, email_id).attempts == attempt
            moving_clock[0] = email.next_attempt_at
        else:
            assert result == {"sent": 0, "retry": 0, "failed": 1}
            assert (email.state, email.next_attempt_at) == ("failed", None)
    assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60)]
    assert list(BACKOFF) == waits
    moving_clock[0] += timedelta(days=1)
    assert deliver(app) == {"sent": 0, "retry": 0, "failed": 0}  # failed stays failed

    admin = make.user(role="admin")
    login_as(client, admin)
    page = client.get("/admin/jobs?state=failed").get_data(as_text=True)
    row = re.search(rf'<tr data-testid="outbox-row" data-email-id="{email_id}" data-state="failed">.*?</tr>', page,
                    re.S).group(0)
    assert "dana@customer.example" in row and f"{MAX_ATTEMPTS} of {MAX_ATTEMPTS}" in row
    assert "ConnectionRefusedError" in row and f"/admin/jobs/outbox/{email_id}/retry" in row

    smtp.start()
    response = post_form(client, f"/admin/jobs/outbox/{email_id}/retry", token_from="/admin/jobs")
    assert response.status_code == 302
    email = state(app, email_id)
    assert (email.state, email.attempts, email.last_error) == ("sent", 1, None)
    assert len(smtp.inbox.messages) == 1
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "outbox.retried")).one()
        assert (event.actor_id, event.object_id, event.before, event.after) == (
            admin.id, email_id, {"state": "failed", "attempts": MAX_ATTEMPTS}, {"state": "pending", "attempts": 0})
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert f"sent the failed e-mail #{email_id} again (it had failed {MAX_ATTEMPTS} attempts)" in audit
    # a second press finds nothing failed: no change, no second e-mail
    post_form(client, f"/admin/jobs/outbox/{email_id}/retry", token_from="/admin/jobs")
    assert state(app, email_id).state == "sent" and len(smtp.inbox.messages) == 1


def test_the_outbox_retry_needs_the_permission_and_a_csrf_token(app, client, make):
    email_id = queued(app)
    with app.app_context():
        db.session.execute(sa.update(OutboxEmail).values(state="failed", attempts=MAX_ATTEMPTS))
        db.session.commit()
    login_as(client, make.user(role="leader"))
    assert client.get("/admin/jobs").status_code == 403
    assert post_form(client, f"/admin/jobs/outbox/{email_id}/retry").status_code == 403
    client.post("/logout", data={})
    admin_client = app.test_client()
    login_as(admin_client, make.user(role="admin"))
    assert admin_client.post(f"/admin/jobs/outbox/{email_id}/retry").status_code == 400  # no CSRF token
    assert state(app, email_id).state == "failed"
