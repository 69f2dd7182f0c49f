"""The Redis connection, the RQ queue, and how a job runs: always in its own app context and session.

Jobs are named by their dotted path ("psa.jobs.tasks.deliver_outbox_job"), so core imports no feature to queue one.
"""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError

from psa.extensions import db

log = logging.getLogger(__name__)


def get_redis() -> Redis | None:
    """A Redis client for REDIS_URL, or None when none is configured."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    cached = current_app.extensions.get("psa_redis")
    if cached is None or cached[0] != url:
        cached = (url, Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2))
        current_app.extensions["psa_redis"] = cached
    return cached[1]


def redis_status() -> tuple[bool, str]:
    """(answers, message) for the Redis at REDIS_URL."""
    client = get_redis()
    if client is None:
        return False, "not configured"
    try:
        client.ping()
    except RedisError as exc:
        return False, f"unreachable: {exc.__class__.__name__}"
    return True, "ok"


def get_queue():
    """The RQ queue jobs go to, or None when Redis does not answer."""
    from rq import Queue

    client = get_redis()
    if client is None or not redis_status()[0]:
        return None
    return Queue(current_app.config["RQ_QUEUE"], connection=client)


def resolve_job(name: str):
    """The function a dotted job name points at; ImportError or AttributeError when there is none."""
    if not isinstance(name, str):
        raise TypeError(f"jobs are queued by dotted name, not {name!r}")
    return pkgutil.resolve_name(name)


def enqueue(name: str, *args, **kwargs) -> bool:
    """Put the job `name` (a dotted path) on the queue; False (and nothing queued) when Redis is not there.

    The name is resolved first, so a typo fails here rather than in the worker."""
    resolve_job(name)
    queue = get_queue()
    if queue is None:
        return False
    try:
        queue.enqueue(name, *args, **kwargs)
    except RedisError:
        log.warning("could not enqueue %s", name, exc_info=True)
        return False
    return True


@contextmanager
def job_transaction() -> Iterator[None]:
    """One job's unit of work in the current app context: committed when the job returns, rolled back when it
    raises, and the session removed either way, so nothing of it reaches the next job."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def run_job(app: Flask, name: str, *args, **kwargs):
    """Run the job `name` now, in a fresh app context of `app` (its own session, its own `g` caches: settings,
    calendar) and its own transaction. The worker gives every job the same (psa.jobs.worker.AppWorker)."""
    func = resolve_job(name)
    with app.app_context(), job_transaction():
        return func(*args, **kwargs)


def dispatch(name: str, *args, **kwargs) -> None:
    """Have the job `name` run: by the worker when Redis answers (and PSA_INLINE_JOBS is off), otherwise right now
    through `run_job`, in its own app context and session.

    Called after the caller's commit: the job reads what the caller wrote from the database, never from the
    caller's session. When Redis is configured but does not answer, a warning is logged and the job runs here:
    the app never fails because Redis is down. Inline, a job that fails is logged and rolled back, as the worker
    would; the caller's work is already committed and stands."""
    if not current_app.config.get("PSA_INLINE_JOBS"):
        if enqueue(name, *args, **kwargs):
            return
        if current_app.config.get("REDIS_URL"):
            # Redis is configured but does not answer: the app goes on without it, the job runs here
            log.warning("Redis at REDIS_URL does not answer (%s): running job %s in this process",
                        redis_status()[1], name)
    try:
        run_job(current_app._get_current_object(), name, *args, **kwargs)
    except Exception:
        log.exception("inline job %s failed", name)
