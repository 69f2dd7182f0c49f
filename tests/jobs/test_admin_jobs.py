"""The admin jobs page on the real Redis with a burst AppWorker: queued and failed jobs, retry and delete of a
failed one (POST, CSRF, audited), the worker's and the scheduler's liveness; only admins."""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue

from psa.core.models import AuditEvent
from psa.extensions import db
from psa.jobs.cron import PeriodicScheduler
from psa.jobs.worker import AppWorker
from tests.conftest import csrf_token, login_as, post_form

JOBS = "tests.jobs.sample_jobs"


@pytest.fixture
def queue(app, monkeypatch, request):
    """An RQ queue of this test alone, set as the app's queue."""
    assert os.environ.get("REDIS_URL"), "the suite needs Redis (REDIS_URL), as make test and .ci/run give it"
    # no [ ] in the name: the keys are cleaned up by a glob pattern
    name = f"psa-test-admin-{re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)}-{os.getpid()}"
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
    for key in connection.scan_iter(f"psa:scheduler:{name}:*"):
        connection.delete(key)
    connection.close()


@pytest.fixture
def admin(client, make):
    user = make.user(role="admin")
    login_as(client, user)
    return user


def work(app, queue):
    AppWorker(app, [queue], connection=queue.connection).work(burst=True)


def section(page: str, key: str) -> str:
    match = re.search(rf'data-testid="jobs-{key}".*?</table>', page, re.S)
    return match.group(0) if match else ""


def test_the_page_lists_queued_and_failed_jobs_and_says_no_worker_or_scheduler_runs(app, client, admin, queue):
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert 'data-testid="empty-queued"' in page and 'data-testid="empty-failed"' in page
    assert "none alive" in page and "not running" in page
    queue.enqueue(f"{JOBS}.add_holiday_then_fail", "2030-05-01", "Fails")
    work(app, queue)
    queue.enqueue(f"{JOBS}.what_the_job_sees")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert f"{JOBS}.what_the_job_sees" in section(page, "queued")
    failed = section(page, "failed")
    assert f"{JOBS}.add_holiday_then_fail" in failed and "failed halfway" in failed
    assert re.search(r'data-testid="count-failed">1<', page)


def test_retry_requeues_a_failed_job_and_delete_removes_it_both_audited(app, client, admin, queue):
    job = queue.enqueue(f"{JOBS}.add_holiday_then_fail", "2030-05-01", "Fails")
    work(app, queue)
    assert job.id in queue.failed_job_registry
    response = post_form(client, f"/admin/jobs/failed/{job.id}/retry", token_from="/admin/jobs")
    assert response.status_code == 302
    assert job.id not in queue.failed_job_registry and queue.get_job_ids() == [job.id]
    work(app, queue)  # fails again
    assert job.id in queue.failed_job_registry
    response = post_form(client, f"/admin/jobs/failed/{job.id}/delete", token_from="/admin/jobs")
    assert response.status_code == 302
    assert job.id not in queue.failed_job_registry and queue.connection.exists(job.key) == 0
    with app.app_context():
        events = db.session.execute(sa.select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.after)
                                    .order_by(AuditEvent.id)).all()
    name = f"{JOBS}.add_holiday_then_fail"
    assert [tuple(e) for e in events] == [(admin.id, "job.requeued", {"job": job.id, "name": name}),
                                          (admin.id, "job.deleted", {"job": job.id, "name": name})]
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert f"queued the failed job {name} again" in audit and f"deleted the failed job {name}" in audit
    # a job that is not (or no longer) failed: 404, nothing done
    assert post_form(client, f"/admin/jobs/failed/{job.id}/retry", token_from="/admin/jobs").status_code == 404
    assert post_form(client, "/admin/jobs/failed/not.an.id/delete", token_from="/admin/jobs").status_code == 404


def test_retry_and_delete_need_a_csrf_token(app, client, admin, queue):
    job = queue.enqueue(f"{JOBS}.add_holiday_then_fail", "2030-05-01", "Fails")
    work(app, queue)
    assert client.post(f"/admin/jobs/failed/{job.id}/delete").status_code == 400
    assert job.id in queue.failed_job_registry


def test_a_running_worker_and_a_beating_scheduler_show_as_alive(app, client, admin, queue):
    PeriodicScheduler(queue.connection, queue.name, [(f"{JOBS}.what_the_job_sees", 3600)]).tick()
    worker = AppWorker(app, [queue], connection=queue.connection)
    worker.register_birth()
    worker.heartbeat()
    try:
        page = client.get("/admin/jobs").get_data(as_text=True)
    finally:
        worker.register_death()
    assert re.search(r'data-testid="workers">Workers:\s*<span class="badge text-bg-success">1 alive', page)
    assert re.search(r'data-testid="scheduler">Scheduler:\s*<span class="badge text-bg-success">alive', page)
    assert f"{JOBS}.what_the_job_sees" in section(page, "queued")  # what the scheduler enqueued


@pytest.mark.parametrize("role", ["leader", "manager", "consultant"])
def test_only_admins_see_the_page_or_change_a_job(app, client, make, queue, role):
    job = queue.enqueue(f"{JOBS}.add_holiday_then_fail", "2030-05-01", "Fails")
    work(app, queue)
    login_as(client, make.user(role=role))
    assert client.get("/admin/jobs").status_code == 403
    token = csrf_token(client, "/")
    for action in ("retry", "delete"):
        response = client.post(f"/admin/jobs/failed/{job.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert job.id in queue.failed_job_registry
    assert "/admin/jobs" not in client.get("/").get_data(as_text=True)


def test_admins_find_the_page_in_the_admin_menu(client, admin):
    assert 'href="/admin/jobs">Jobs</a>' in client.get("/").get_data(as_text=True)
