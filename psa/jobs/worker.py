"""The RQ worker of PSA: every job in its own app context, session and transaction."""

from __future__ import annotations

from flask import Flask
from rq import SimpleWorker
from rq.job import Job

from psa.core.queue import job_transaction


class AppJob(Job):
    """A job whose work is committed when it returns and rolled back when it raises (a timeout included), before
    RQ records it as finished or failed: a job RQ calls finished has its rows in the database."""

    def perform(self):
        with job_transaction():
            return super().perform()


class AppWorker(SimpleWorker):
    """A SimpleWorker that pushes a fresh app context of `app` for each job, so no session, identity map or `g`
    cache (settings, calendar) outlives the job: a holiday added while the worker runs is seen by the next job.

    Jobs run in the worker's process (no fork): the app, its engine and its connection pool are built once."""

    def __init__(self, app: Flask, queues, **kwargs):
        kwargs.setdefault("job_class", AppJob)
        super().__init__(queues, **kwargs)
        self.app = app

    def perform_job(self, job, queue, execution) -> bool:
        with self.app.app_context():
            return super().perform_job(job, queue, execution)

    def subscribe(self):
        """As rq's, but the command channel's listener wakes every second instead of every 60: with rq 3.0 and
        redis-py 8.2, stopping the worker waits for that listener, so a burst run or a shutdown could hang for
        up to a minute (seen in the test suite)."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)
