"""Every periodic job, declared in one list."""

from __future__ import annotations

from psa.jobs.tasks import deliver_outbox_job
from psa.projects.tasks import refresh_schedules_job

#: (function, interval in seconds). The cron process enqueues each one at that interval.
SCHEDULE = [
    (deliver_outbox_job, 60),
    (refresh_schedules_job, 15 * 60),
]
