"""The admin jobs page (/admin/jobs): RQ's queued, running, scheduled and failed jobs (retry and delete the
failed ones), whether a worker and the scheduler are alive, and the e-mail outbox with a Retry for failed
messages. Without Redis the page says so and the outbox part still works."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError

from psa.admin import bp
from psa.core import clock
from psa.core.audit import record_audit
from psa.core.auth import permission_required
from psa.core.forms import ConfirmForm
from psa.core.mail import MAX_ATTEMPTS, dispatch_outbox, retry_email
from psa.core.models import OUTBOX_STATES, OutboxEmail
from psa.core.pagination import paginate
from psa.core.queue import get_redis, redis_status
from psa.extensions import db

#: Jobs listed per RQ list (each list says how many it holds in all).
JOBS_SHOWN = 50
#: A worker whose last heartbeat is older than this is not counted as alive.
WORKER_STALE_SECONDS = 120


@dataclass
class JobList:
    """One of RQ's lists: its total and the first JOBS_SHOWN jobs."""

    title: str
    key: str
    total: int = 0
    jobs: list = field(default_factory=list)


@dataclass
class RedisView:
    """What the page shows of Redis: None fields when it does not answer."""

    ok: bool
    message: str
    lists: list[JobList] = field(default_factory=list)
    workers: list = field(default_factory=list)
    workers_alive: int = 0
    beat: object = None
    beat_alive: bool = False


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _job_list(title: str, key: str, ids: list[str], total: int, connection) -> JobList:
    from rq.job import Job

    jobs = [job for job in Job.fetch_many(ids[:JOBS_SHOWN], connection=connection) if job is not None]
    return JobList(title, key, total, jobs)


def _redis_view() -> RedisView:
    from rq import Queue, Worker
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    from psa.jobs.cron import read_beat

    ok, message = redis_status()
    if not ok:
        return RedisView(False, message)
    connection = get_redis()
    name = current_app.config["RQ_QUEUE"]
    try:
        queue = Queue(name, connection=connection)
        lists = [_job_list("Queued", "queued", queue.get_job_ids(0, JOBS_SHOWN - 1), queue.count, connection)]
        for title, key, registry in (("Running", "started", StartedJobRegistry(queue=queue)),
                                     ("Scheduled", "scheduled", ScheduledJobRegistry(queue=queue)),
                                     ("Failed", "failed", FailedJobRegistry(queue=queue))):
            lists.append(_job_list(title, key, registry.get_job_ids(0, JOBS_SHOWN - 1, desc=True), registry.count,
                                   connection))
        now = clock.now()
        workers = Worker.all(queue=queue)
        alive = sum(1 for worker in workers if worker.last_heartbeat is not None
                    and (now - _aware(worker.last_heartbeat)).total_seconds() <= WORKER_STALE_SECONDS)
        beat = read_beat(connection, name)
    except RedisError as exc:
        return RedisView(False, f"unreachable: {exc.__class__.__name__}")
    return RedisView(True, message, lists, workers, alive, beat, bool(beat and beat.is_alive(now)))


@bp.route("/jobs")
@permission_required("admin.jobs")
def jobs():
    state = request.args.get("state", "").strip()
    stmt = sa.select(OutboxEmail)
    if state in OUTBOX_STATES:
        stmt = stmt.where(OutboxEmail.state == state)
    else:
        state = ""
    page = paginate(stmt.order_by(OutboxEmail.id.desc()), per_page=25)
    counts = dict(db.session.execute(
        sa.select(OutboxEmail.state, sa.func.count()).group_by(OutboxEmail.state)).all())
    return render_template("admin/jobs.html", redis=_redis_view(), page=page, state=state, states=OUTBOX_STATES,
                           counts=counts, max_attempts=MAX_ATTEMPTS, confirm=ConfirmForm())


def _failed_job(job_id: str):
    """The failed job `job_id` of the app's queue (404 when there is none); None when Redis does not answer."""
    from rq.job import JOB_ID_PATTERN
    from rq.registry import FailedJobRegistry

    if not ConfirmForm().validate_on_submit():
        abort(400)
    if len(job_id) > 200 or not JOB_ID_PATTERN.fullmatch(job_id):
        abort(404)
    if not redis_status()[0]:
        flash("Redis does not answer: the job cannot be changed now.", "warning")
        return None, None
    registry = FailedJobRegistry(current_app.config["RQ_QUEUE"], connection=get_redis())
    if job_id not in registry:
        abort(404)
    return registry, job_id


@bp.route("/jobs/failed/<job_id>/retry", methods=["POST"])
@permission_required("admin.jobs")
def job_retry(job_id: str):
    registry, job_id = _failed_job(job_id)
    if registry is not None:
        job = registry.requeue(job_id)
        record_audit(current_user, "job.requeued", None, None, {"job": job_id, "name": job.func_name})
        db.session.commit()
        flash(f"Job {job.func_name} is queued again.", "success")
    return redirect(url_for("admin.jobs"))


@bp.route("/jobs/failed/<job_id>/delete", methods=["POST"])
@permission_required("admin.jobs")
def job_delete(job_id: str):
    from rq.job import Job

    registry, job_id = _failed_job(job_id)
    if registry is not None:
        name = Job.fetch(job_id, connection=registry.connection).func_name
        registry.remove(job_id, delete_job=True)
        record_audit(current_user, "job.deleted", None, None, {"job": job_id, "name": name})
        db.session.commit()
        flash(f"Failed job {name} deleted.", "success")
    return redirect(url_for("admin.jobs"))


@bp.route("/jobs/outbox/<int:email_id>/retry", methods=["POST"])
@permission_required("admin.jobs")
def outbox_retry(email_id: int):
    email = db.get_or_404(OutboxEmail, email_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if retry_email(current_user, email):
        db.session.commit()
        dispatch_outbox()
        flash(f"The e-mail to {email.to_address} is being sent again.", "success")
    else:
        db.session.rollback()
        flash(f"The e-mail to {email.to_address} is no longer failed; nothing changed.", "warning")
    return redirect(url_for("admin.jobs", state=request.args.get("state") or None))
