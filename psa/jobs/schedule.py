"""Every periodic job, declared in one list."""

from __future__ import annotations

#: (dotted job name, interval in seconds). The cron process enqueues each one at that interval.
SCHEDULE = [
    ("psa.jobs.tasks.deliver_outbox_job", 60),
    ("psa.webhooks.tasks.deliver_due_job", 60),  # outgoing webhooks whose first try or backoff is due
    # every 15 minutes: the day rolls over within 15 minutes of the organisation's midnight, whatever its
    # time zone, and a run with nothing stale is one query (it refreshes only projects not refreshed today)
    ("psa.projects.tasks.refresh_schedules_job", 15 * 60),
    ("psa.escalations.tasks.sweep_all_job", 60 * 60),  # hourly: escalations open, rise and resolve (SPEC §3)
    ("psa.projects.tasks.ttv_snapshot_job", 60 * 60),  # hourly; the day's first run snapshots TTV, later ones find it
    # every 15 minutes: contacts' due-soon and overdue task e-mails, users' Friday 14:00 timesheet reminder (each
    # once: recorded in reminders_sent)
    ("psa.reminders.tasks.reminders_job", 15 * 60),
    ("psa.jobs.tasks.compact_report_changes_job", 24 * 60 * 60),  # daily: the report cache's change log
]
