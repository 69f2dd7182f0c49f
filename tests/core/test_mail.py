"""The e-mail outbox: log delivery without SMTP, real SMTP delivery, retries, and no double sends."""

from __future__ import annotations

import logging
import smtplib
import threading

import sqlalchemy as sa

from psa.core import clock, mail
from psa.core.mail import MAX_ATTEMPTS, deliver_outbox, queue_email
from psa.core.models import OutboxEmail
from psa.extensions import db


def test_without_smtp_mail_goes_to_the_log(ctx, caplog):
    queue_email("someone@example.com", "Hello", "Body text")
    db.session.commit()
    with caplog.at_level(logging.INFO, logger="psa.mail"):
        result = deliver_outbox()
    assert result == {"sent": 1, "retry": 0, "failed": 0}
    assert "someone@example.com" in caplog.text and "Body text" in caplog.text
    email = db.session.scalar(sa.select(OutboxEmail))
    assert email.state == "sent" and email.attempts == 1 and email.sent_at is not None


def test_smtp_delivery_reaches_a_real_server(ctx, smtp_server, monkeypatch):
    monkeypatch.setitem(ctx.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(ctx.config, "SMTP_PORT", smtp_server.port)
    queue_email("a@example.com", "First", "one")
    queue_email("b@example.com", "Second", "two")
    db.session.commit()
    assert deliver_outbox()["sent"] == 2
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["a@example.com", "b@example.com"]
    assert b"Subject: First" in smtp_server.messages[0].content or b"Subject: First" in smtp_server.messages[1].content


def test_failures_are_retried_then_marked_failed(ctx, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("connection lost")

    monkeypatch.setattr(mail, "send_message", refuse)
    queue_email("c@example.com", "Retry", "body")
    db.session.commit()
    monkeypatch.setattr(clock, "_now_override", None)  # restored after the test
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = deliver_outbox()
        email = db.session.scalar(sa.select(OutboxEmail))
        assert email.attempts == attempt
        assert "connection lost" in email.last_error
        assert email.state == ("failed" if attempt == MAX_ATTEMPTS else "pending")
        if email.next_attempt_at is not None:  # the backoff (tests/core/test_outbox_retry.py): wait it out
            due = email.next_attempt_at
            clock.set_now(lambda due=due: due)
    assert result == {"sent": 0, "retry": 0, "failed": 1}
    assert deliver_outbox() == {"sent": 0, "retry": 0, "failed": 0}


def test_two_senders_at_once_send_each_message_once(app, monkeypatch):
    sent = []
    barrier = threading.Barrier(2)

    def record(to_address, subject, body):
        sent.append(to_address)

    monkeypatch.setattr(mail, "send_message", record)
    with app.app_context():
        for n in range(20):
            queue_email(f"user{n}@example.com", "Hi", "body")
        db.session.commit()

    def sender():
        with app.app_context():
            barrier.wait()
            deliver_outbox()
            db.session.remove()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(f"user{n}@example.com" for n in range(20))
    with app.app_context():
        states = db.session.scalars(sa.select(OutboxEmail.state)).all()
    assert set(states) == {"sent"}


def test_outbox_job_runs_on_a_real_rq_worker(app, monkeypatch):
    import os

    from redis import Redis
    from rq import Queue

    from psa.jobs.tasks import deliver_outbox_job
    from psa.jobs.worker import AppWorker

    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue(f"psa-test-{os.getpid()}", connection=connection)
    with app.app_context():
        queue_email("worker@example.com", "Via RQ", "body")
        db.session.commit()
        job = queue.enqueue(deliver_outbox_job)
        AppWorker(app, [queue], connection=connection).work(burst=True)  # the app's worker (no 60 s stop)
        assert job.get_status(refresh=True) == "finished"
        assert job.return_value() == {"sent": 1, "retry": 0, "failed": 0}
        assert db.session.scalar(sa.select(OutboxEmail.state)) == "sent"
    queue.delete(delete_jobs=True)
