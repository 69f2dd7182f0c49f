"""A small in-process scheduler for installations without Redis (and so without the RQ cron process).

`make run` without Redis serves the app with no worker; periodic jobs that keep cached values fresh
(the schedule refresh rolls every project over to the new day) would then never run. The web process
starts one daemon thread that runs such a job at start, then at every hour and at the next midnight of
the organisation's time zone, each run as the worker runs it (psa.core.queue.run_job: its own app context,
session and transaction). The job itself decides what is due (run twice, it does nothing more), so an
extra run is harmless.

The other periodic jobs of the schedule (psa.jobs.schedule: the outbox's retries, the reminders) are passed as
`periodic`, (dotted name, interval seconds) pairs: each runs at start, then every interval. Without Redis there
is no lock between processes: each web process runs its own thread, which is harmless since every periodic job
is safe to run twice, or twice at once (the outbox claims each row, reminders are recorded once).

Features are passed in (psa/core imports none): `job` is the job's dotted name, and `zone_of` a callable
returning the organisation's time-zone name, called inside an app context.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from time import monotonic as time_monotonic
from zoneinfo import ZoneInfo

from psa.core import clock
from psa.core.queue import run_job

log = logging.getLogger(__name__)

#: The longest wait between two runs.
INTERVAL = timedelta(hours=1)


def next_run_at(now: datetime, zone: ZoneInfo, interval: timedelta = INTERVAL) -> datetime:
    """When to run next after `now` (aware): in `interval`, or at the next local midnight of `zone` when
    that comes first, so the day rolls over when it starts there."""
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return min(now + interval, midnight.astimezone(UTC))


class InProcessScheduler:
    """A daemon thread running the job `job` (a dotted name) at start, then at every next_run_at(); and each job
    of `periodic` ((dotted name, interval seconds) pairs) at start, then every interval."""

    def __init__(self, app, job: str, zone_of: Callable[[], str], periodic: Sequence[tuple[str, int]] = ()):
        self.app, self.job, self.zone_of = app, job, zone_of
        self.periodic = [(name, int(interval)) for name, interval in periodic if name != job]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="psa-scheduler", daemon=True)

    def start(self) -> InProcessScheduler:
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def wait_seconds(self, now: datetime | None = None) -> float:
        """Seconds from `now` to the next run, in the organisation's time zone of this moment."""
        now = now or clock.now()
        with self.app.app_context():
            zone = ZoneInfo(self.zone_of())
        return max(0.0, (next_run_at(now, zone) - now).total_seconds())

    def run_once(self, job: str | None = None) -> object:
        """Run the job (the main one by default) once, as the worker would; a failure is logged (its transaction
        rolled back), never raised, so the thread lives on to the next run."""
        job = job or self.job
        try:
            return run_job(self.app, job)
        except Exception:  # the thread's boundary: whatever went wrong, log it and keep the schedule
            log.exception("periodic job %s failed", job)
            return None

    def _loop(self) -> None:
        # seconds on a monotonic clock: the application's clock may be frozen (tests), the thread's waits never are
        due_main = 0.0
        due = {name: 0.0 for name, _ in self.periodic}
        while not self.stopping.is_set():
            if time_monotonic() >= due_main:
                self.run_once()
                try:
                    due_main = time_monotonic() + self.wait_seconds()
                except Exception:  # the thread's boundary, as above
                    log.exception("in-process scheduler: could not read the time zone; retrying in an hour")
                    due_main = time_monotonic() + INTERVAL.total_seconds()
            for name, interval in self.periodic:
                if time_monotonic() >= due[name]:
                    self.run_once(name)
                    due[name] = time_monotonic() + interval
            self.stopping.wait(max(0.5, min([due_main, *due.values()]) - time_monotonic()))


def should_start(app) -> bool:
    """The in-process scheduler runs when the app serves without Redis and is not under test; the
    PSA_IN_PROCESS_SCHEDULER setting, when given, decides instead."""
    configured = app.config.get("PSA_IN_PROCESS_SCHEDULER")
    if configured is not None:
        return bool(configured)
    return not app.testing and not app.config.get("REDIS_URL")


def start_on_first_request(app, job: str, zone_of: Callable[[], str],
                           periodic: Sequence[tuple[str, int]] = ()) -> None:
    """Start the scheduler when the app serves its first request (so `psa db upgrade`, `psa demo` and the
    other commands that build the app never start it), once per process."""
    lock = threading.Lock()

    @app.before_request
    def _start_in_process_scheduler():
        if "psa_scheduler" in app.extensions:
            return
        with lock:
            if "psa_scheduler" not in app.extensions:
                app.extensions["psa_scheduler"] = InProcessScheduler(app, job, zone_of, periodic).start()
                log.info("no Redis: periodic jobs run in this process")
