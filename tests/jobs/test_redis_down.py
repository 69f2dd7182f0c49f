"""With REDIS_URL pointing at a closed port the app never fails: a route that dispatches a job runs it in the
request (its effect is there after the response) and logs a warning; the jobs page says Redis does not answer and
its outbox part still works."""

from __future__ import annotations

import logging
import socket

import pytest
import sqlalchemy as sa

from psa.core.mail import MAX_ATTEMPTS, queue_email
from psa.core.models import OutboxEmail
from psa.core.queue import dispatch, enqueue, get_queue
from psa.extensions import db
from tests.conftest import login_as, post_form


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def redis_down(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{closed_port()}/14")
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)


def test_a_route_that_dispatches_a_job_runs_it_in_the_request_and_warns(app, client, make, redis_down, caplog):
    admin = make.user(role="admin")
    invited = make.user(email="newcomer@example.com")
    login_as(client, admin)
    with caplog.at_level(logging.WARNING, logger="psa.core.queue"):
        response = post_form(client, f"/admin/users/{invited.id}/invite", token_from=f"/admin/users/{invited.id}")
    assert response.status_code == 302
    with app.app_context():  # the outbox job ran in the request: the invitation is sent, not waiting
        assert db.session.execute(sa.select(OutboxEmail.to_address, OutboxEmail.state)).all() == [
            ("newcomer@example.com", "sent")]
    assert "does not answer" in caplog.text and "running job psa.jobs.tasks.deliver_outbox_job" in caplog.text


def test_enqueue_says_no_and_dispatch_runs_the_job_here(app, redis_down, caplog):
    with app.app_context():
        assert get_queue() is None
        assert enqueue("psa.jobs.tasks.deliver_outbox_job") is False
        queue_email("x@example.com", "Inline", "body")
        db.session.commit()
        with caplog.at_level(logging.WARNING, logger="psa.core.queue"):
            dispatch("psa.reminders.tasks.reminders_job")
            dispatch("psa.jobs.tasks.deliver_outbox_job")
        assert db.session.scalar(sa.select(OutboxEmail.state)) == "sent"
        db.session.remove()
    assert caplog.text.count("does not answer") == 2


def test_the_jobs_page_says_redis_does_not_answer_and_the_outbox_still_works(app, client, make, redis_down):
    with app.app_context():
        email = queue_email("down@example.com", "Stuck", "body")
        email.state, email.attempts, email.last_error = "failed", MAX_ATTEMPTS, "OSError: down"
        db.session.commit()
        email_id = email.id
    login_as(client, make.user(role="admin"))
    response = client.get("/admin/jobs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="redis-down"' in page and "Redis does not answer" in page
    assert "down@example.com" in page and f"/admin/jobs/outbox/{email_id}/retry" in page
    assert post_form(client, f"/admin/jobs/outbox/{email_id}/retry", token_from="/admin/jobs").status_code == 302
    with app.app_context():  # retried in the request (no SMTP configured in tests: written to the log)
        assert db.session.get(OutboxEmail, email_id).state == "sent"
    # a failed RQ job cannot be touched without Redis: a message, never a 500
    response = post_form(client, "/admin/jobs/failed/some-job/retry", token_from="/admin/jobs")
    assert response.status_code == 302
    assert "Redis does not answer" in client.get("/admin/jobs").get_data(as_text=True)
