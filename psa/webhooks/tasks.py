"""RQ entry points of the outgoing webhooks (queued by dotted name; each safe to run twice, or twice at once: a
delivery is claimed by a conditional update before it is sent)."""

from __future__ import annotations

from psa.webhooks.services import deliver, deliver_due


def deliver_job(delivery_id: int) -> str:
    """One attempt at one delivery, if it is still due (queued after the commit that made it)."""
    return deliver(int(delivery_id))


def deliver_due_job() -> dict[str, int]:
    """The sweep (every minute, psa.jobs.schedule): attempt every delivery whose first try or backoff is due."""
    return deliver_due()
