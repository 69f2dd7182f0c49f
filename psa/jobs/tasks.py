"""RQ entry points: thin wrappers over services, queued by dotted name ("psa.jobs.tasks.deliver_outbox_job").

The worker runs each in its own app context and commits it when it returns (psa.jobs.worker); each must be
safe to run twice."""

from __future__ import annotations

from psa.core.mail import deliver_outbox


def deliver_outbox_job() -> dict[str, int]:
    """Send what waits in the e-mail outbox."""
    return deliver_outbox()


def compact_report_changes_job() -> int:
    """Empty the report change log and raise its epoch (psa.core.report_cache): keeps reading the data's version a
    count of one day's writing transactions."""
    from psa.core.report_cache import compact_report_changes

    return compact_report_changes()
