"""Every periodic job, declared in one list."""

from __future__ import annotations

#: (dotted job name, interval in seconds). The cron process enqueues each one at that interval.
SCHEDULE = [
    ("psa.jobs.tasks.deliver_outbox_job", 60),
    ("psa.projects.tasks.refresh_schedules_job", 15 * 60),
]
