"""The Redis connection and the RQ queue, when Redis is configured and answers."""

from __future__ import annotations

import logging

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

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


def enqueue(func, *args, **kwargs) -> bool:
    """Put a job on the queue; False (and nothing queued) when Redis is not there."""
    queue = get_queue()
    if queue is None:
        return False
    try:
        queue.enqueue(func, *args, **kwargs)
    except RedisError:
        log.warning("could not enqueue %s", getattr(func, "__name__", func), exc_info=True)
        return False
    return True
