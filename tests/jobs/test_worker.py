"""The worker on the real Redis: jobs queued by dotted name, each in its own app context and session."""

from __future__ import annotations

import logging
import os

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue

from psa.admin.models import Holiday
from psa.core.calendar import get_calendar
from psa.core.mail import dispatch_outbox, queue_email
from psa.core.models import OutboxEmail
from psa.core.queue import dispatch, enqueue, run_job
from psa.extensions import db
from psa.jobs.worker import AppWorker

JOBS = "tests.jobs.sample_jobs"


@pytest.fixture
def queue(app, monkeypatch, request):
    """An RQ queue of this test alone on the REDIS_URL pytest was given, set as the app's queue."""
    name = f"psa-test-{request.node.name}-{os.getpid()}"
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["REDIS_URL"])
    monkeypatch.setitem(app.config, "RQ_QUEUE", name)
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    connection = Redis.from_url(os.environ["REDIS_URL"])
    rq_queue = Queue(name, connection=connection)
    yield rq_queue
    for registry in (rq_queue.finished_job_registry, rq_queue.failed_job_registry):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    rq_queue.delete(delete_jobs=True)
    connection.close()


def holidays(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(Holiday.day, Holiday.name).order_by(Holiday.day)).all()
        db.session.remove()
    return [(day.isoformat(), name) for day, name in rows]


def test_a_failed_job_leaves_nothing_and_the_next_jobs_are_committed_alone(app, queue):
    failing = queue.enqueue(f"{JOBS}.add_holiday_then_fail", "2030-05-01", "From the failed job")
    committing = queue.enqueue(f"{JOBS}.add_holiday_and_commit", "2030-05-02", "Committed by the job")
    plain = queue.enqueue(f"{JOBS}.add_holiday", "2030-05-03", "Committed by the worker")
    with app.app_context():  # as under `psa worker`: the command's own context, which no job may use
        AppWorker(app, [queue], connection=queue.connection).work(burst=True)
        db.session.remove()
    assert failing.get_status(refresh=True) == "failed"
    assert "failed halfway" in failing.latest_result().exc_string
    assert committing.get_status(refresh=True) == plain.get_status(refresh=True) == "finished"
    assert holidays(app) == [("2030-05-02", "Committed by the job"), ("2030-05-03", "Committed by the worker")]


def test_each_job_sees_what_changed_in_the_database_since_the_last_one(app, queue):
    first = queue.enqueue(f"{JOBS}.what_the_job_sees")
    queue.enqueue(f"{JOBS}.change_data_elsewhere", "2030-12-25", "EUR")
    second = queue.enqueue(f"{JOBS}.what_the_job_sees")
    with app.app_context():
        # the command's context has built and cached its calendar before any job ran
        assert get_calendar().holidays == frozenset()
        AppWorker(app, [queue], connection=queue.connection).work(burst=True)
        db.session.remove()
    assert first.return_value() == {"holidays": [], "currency": "USD"}
    assert second.return_value() == {"holidays": ["2030-12-25"], "currency": "EUR"}


def test_enqueue_takes_a_dotted_name_that_the_worker_runs(app, queue):
    with app.app_context():
        queue_email("named@example.com", "By name", "body")
        db.session.commit()
        assert enqueue("psa.jobs.tasks.deliver_outbox_job") is True
        db.session.remove()
    [job] = queue.get_jobs()
    assert job.func_name == "psa.jobs.tasks.deliver_outbox_job"
    AppWorker(app, [queue], connection=queue.connection).work(burst=True)
    assert job.return_value() == {"sent": 1, "retry": 0, "failed": 0}
    with app.app_context():
        assert db.session.scalar(sa.select(OutboxEmail.state)) == "sent"


def test_enqueue_refuses_a_function_or_an_unknown_name_and_queues_nothing(app, queue):
    from psa.jobs.tasks import deliver_outbox_job

    with app.app_context():
        with pytest.raises(TypeError):
            enqueue(deliver_outbox_job)
        with pytest.raises(AttributeError):
            enqueue("psa.jobs.tasks.no_such_job")
    assert queue.count == 0


def test_dispatch_queues_a_job_that_the_worker_command_runs(app, queue):
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


def test_an_inline_job_runs_in_its_own_session_and_a_failure_is_rolled_back(app, caplog):
    with app.app_context():
        assert get_calendar().holidays == frozenset()  # cached on the caller's context
        run_job(app, f"{JOBS}.change_data_elsewhere", "2030-12-25", "EUR")
        assert run_job(app, f"{JOBS}.what_the_job_sees") == {"holidays": ["2030-12-25"], "currency": "EUR"}
        with pytest.raises(RuntimeError):
            run_job(app, f"{JOBS}.add_holiday_then_fail", "2030-05-01", "From the failed job")
        with caplog.at_level(logging.ERROR, logger="psa.core.queue"):
            dispatch(f"{JOBS}.add_holiday_then_fail", "2030-05-02", "From the failed dispatch")  # PSA_INLINE_JOBS
        assert "inline job tests.jobs.sample_jobs.add_holiday_then_fail failed" in caplog.text
        dispatch(f"{JOBS}.add_holiday", "2030-05-03", "From the dispatch")
        db.session.remove()
    assert holidays(app) == [("2030-05-03", "From the dispatch"), ("2030-12-25", "Added meanwhile")]


def test_worker_refuses_to_start_without_redis(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "Redis" in result.output
