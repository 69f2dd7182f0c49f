"""`psa worker --burst` runs queued jobs on the real Redis."""

from __future__ import annotations

import os

import sqlalchemy as sa

from psa.core.mail import dispatch_outbox, queue_email
from psa.core.models import OutboxEmail
from psa.extensions import db


def test_dispatch_queues_a_job_that_the_worker_runs(app, monkeypatch):
    queue_name = f"psa-test-worker-{os.getpid()}"
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["REDIS_URL"])
    monkeypatch.setitem(app.config, "RQ_QUEUE", queue_name)
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    with app.app_context():
        queue_email("queued@example.com", "Queued", "body")
        db.session.commit()
        dispatch_outbox()  # enqueues: nothing is sent yet
        assert db.session.scalar(sa.select(OutboxEmail.state)) == "pending"
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(OutboxEmail.state)) == "sent"


def test_without_redis_mail_is_sent_inline(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    with app.app_context():
        queue_email("inline@example.com", "Inline", "body")
        db.session.commit()
        dispatch_outbox()
        assert db.session.scalar(sa.select(OutboxEmail.state)) == "sent"


def test_worker_refuses_to_start_without_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "Redis" in result.output
