"""Against the real Redis, with the worker in burst mode: a plan change queues the project's sweep, the worker
escalates to the hand-worked level with a holiday inside the slip, notifies once, raises on a later slip (un-
acknowledging), and resolves when done; the hourly job run twice changes nothing more."""

from __future__ import annotations

import os
from datetime import date

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue

from psa.auth.models import User
from psa.core.clock import frozen
from psa.escalations.services import acknowledge_escalation
from psa.extensions import db
from psa.jobs.worker import AppWorker
from psa.projects.models import Escalation
from psa.projects.services import refresh_open_schedules
from tests.conftest import login_as, post_form
from tests.escalations.conftest import HOLIDAY, at, build_project, escalation_rows, notified, on


@pytest.fixture
def queue(app, monkeypatch, request):
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


def work(app, queue) -> list[str]:
    """Run what is queued; the names of the jobs that ran (all must have finished)."""
    jobs = queue.get_jobs()
    with app.app_context():
        AppWorker(app, [queue], connection=queue.connection).work(burst=True)
        db.session.remove()
    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * len(jobs), \
        [job.latest_result().exc_string for job in jobs if job.get_status(refresh=True) == "failed"]
    return [job.func_name for job in jobs]


def test_the_worker_escalates_raises_and_resolves_once(app, client, make, people, queue):
    make.holiday(day=HOLIDAY, name="Founders day")
    ids = build_project(app, people, make, milestones=[
        ("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1), ("Review", date(2026, 11, 13), 1)])])
    build = ids["milestones"]["Build"]

    # Wed 18 Nov: Configure done through the page; Build still waits for Review: slip Tue 17, Wed 18 = 2 (Mon 16
    # is a holiday): level 1. The request queued the sweep; nothing is escalated until the worker runs it
    with frozen(at(date(2026, 11, 18))):
        login_as(client, people["mia"])
        assert post_form(client, f"/projects/tasks/{ids['tasks']['Configure']}/quick", {"action": "done"},
                         token_from=f"/projects/{ids['project']}").status_code == 302
        assert escalation_rows(app) == []
        assert work(app, queue)[-1] == "psa.escalations.tasks.sweep_project_job"
    assert escalation_rows(app) == [(build, 1, "overdue", 2, 1, False, None, False)]
    assert [name for name, _ in notified(app)] == ["Mia Manager"]

    # the hourly job, twice: the same escalation, nobody told again
    with frozen(at(date(2026, 11, 18))):
        queue.enqueue("psa.escalations.tasks.sweep_all_job")
        queue.enqueue("psa.escalations.tasks.sweep_all_job")
        work(app, queue)
        with on(app, date(2026, 11, 18)):
            acknowledge_escalation(db.session.get(User, people["mia"].id), db.session.scalar(sa.select(Escalation)),
                                   "On it")
            db.session.commit()
    assert escalation_rows(app) == [(build, 1, "overdue", 2, 1, False, None, True)]
    assert len(notified(app)) == 1

    # Thu 19: the day's refresh moves the forecast (17, 18, 19 = 3: level 2); the hourly sweep raises it,
    # un-acknowledges it and tells Mia and Lee
    with on(app, date(2026, 11, 19)):
        refresh_open_schedules()
        db.session.commit()
    with frozen(at(date(2026, 11, 19))):
        queue.enqueue("psa.escalations.tasks.sweep_all_job")
        work(app, queue)
    assert escalation_rows(app) == [(build, 2, "overdue", 3, 2, False, None, False)]
    assert [name for name, _ in notified(app)] == ["Mia Manager", "Mia Manager", "Lee Leader"]

    # Review done on Fri 20: Build is done; the queued sweep resolves the escalation, telling nobody
    with frozen(at(date(2026, 11, 20))):
        assert post_form(client, f"/projects/tasks/{ids['tasks']['Review']}/quick", {"action": "done"},
                         token_from=f"/projects/{ids['project']}").status_code == 302
        work(app, queue)
    assert escalation_rows(app) == [(build, 2, "overdue", 3, 2, True, "done", False)]
    assert len(notified(app)) == 3
