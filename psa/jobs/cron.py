"""The periodic-job scheduler of an installation (`psa cron`, started by `psa worker --cron`).

One scheduler per installation, by deterministic slots rather than a lock: time is cut, per job, into slots of
its interval (a slot starts at a multiple of the interval since the epoch, in UTC). The scheduler that first
claims a job's slot in Redis (`SET psa:scheduler:<queue>:slot:<job>:<slot start> NX EX`) enqueues the job, with
the job id `periodic-<job>-<slot start>`; any other scheduler finds the slot taken and enqueues nothing. So two
`psa worker --cron` started by mistake enqueue each job once per slot, and when one of them dies the other
goes on at once (no lock to wait out). A job missed by every scheduler (none running) is enqueued once in the
next slot, not once per missed slot.

Each scheduler writes its beat (the time, its host and process id) to Redis at every tick; the admin jobs page
reads it (`read_beat`) to say whether the scheduler is alive.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from psa.core import clock
from psa.core.queue import resolve_job

log = logging.getLogger(__name__)

#: Seconds between two ticks of a running scheduler.
TICK_SECONDS = 5
#: A scheduler whose last beat is older than this is reported as not running.
BEAT_STALE = timedelta(seconds=60)


def _prefix(queue_name: str) -> str:
    return f"psa:scheduler:{queue_name}"


def beat_key(queue_name: str) -> str:
    return f"{_prefix(queue_name)}:beat"


def slot_start(now: datetime, interval: int) -> int:
    """The start (seconds since the epoch) of the slot of `interval` seconds that holds `now`."""
    return int(now.timestamp()) // interval * interval


def job_id(name: str, slot: int) -> str:
    """The id of the periodic job `name` (a dotted path) for the slot starting at `slot` (RQ ids take no dots)."""
    return f"periodic-{name.replace('.', '_')}-{slot}"


@dataclass
class Beat:
    """The last sign of life of a scheduler."""

    at: datetime
    host: str
    pid: int

    def is_alive(self, now: datetime | None = None) -> bool:
        return (now or clock.now()) - self.at <= BEAT_STALE


def read_beat(connection: Redis, queue_name: str) -> Beat | None:
    """The last beat of the scheduler of this queue, or None when none has beaten (recently: the key expires)."""
    raw = connection.get(beat_key(queue_name))
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Beat(at=datetime.fromtimestamp(float(data["at"]), UTC), host=str(data["host"]), pid=int(data["pid"]))
    except (ValueError, KeyError, TypeError):
        return None


class PeriodicScheduler:
    """Enqueues the jobs of `schedule` ((dotted name, interval seconds) pairs) on the queue `queue_name`, each
    once per slot of its interval whatever the number of schedulers running (see the module's docstring)."""

    def __init__(self, connection: Redis, queue_name: str, schedule, name: str | None = None):
        for job_name, interval in schedule:
            resolve_job(job_name)  # a typo fails at start, not at the first slot
            if int(interval) < 1:
                raise ValueError(f"interval of {job_name} must be at least 1 second")
        self.connection, self.queue_name = connection, queue_name
        self.schedule = [(job_name, int(interval)) for job_name, interval in schedule]
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.queue = Queue(queue_name, connection=connection)
        self.stopping = threading.Event()

    def beat(self, now: datetime) -> None:
        value = json.dumps({"at": now.timestamp(), "host": socket.gethostname(), "pid": os.getpid(),
                            "name": self.name})
        self.connection.set(beat_key(self.queue_name), value, ex=int(BEAT_STALE.total_seconds()) * 10)

    def tick(self, now: datetime | None = None) -> list[str]:
        """Beat, then enqueue every job whose current slot no scheduler has claimed yet; the ids enqueued."""
        now = now or clock.now()
        self.beat(now)
        enqueued = []
        for job_name, interval in self.schedule:
            slot = slot_start(now, interval)
            key = f"{_prefix(self.queue_name)}:slot:{job_name}:{slot}"
            # the claim outlives its slot, so a scheduler whose clock lags a little cannot claim it again
            if not self.connection.set(key, self.name, nx=True, ex=2 * interval + 60):
                continue
            self.queue.enqueue(job_name, job_id=job_id(job_name, slot), result_ttl=max(interval, 600),
                               failure_ttl=7 * 24 * 3600)
            enqueued.append(job_id(job_name, slot))
        return enqueued

    def run(self) -> None:
        """Tick every TICK_SECONDS until stop(); a Redis error is logged and the next tick tries again."""
        log.info("scheduler %s: %d periodic jobs on queue %s", self.name, len(self.schedule), self.queue_name)
        while not self.stopping.is_set():
            try:
                for enqueued in self.tick():
                    log.info("enqueued %s", enqueued)
            except RedisError:
                log.warning("scheduler %s: Redis does not answer; trying again", self.name, exc_info=True)
            self.stopping.wait(TICK_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
