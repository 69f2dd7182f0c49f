"""RQ entry points of the reminders (queued by dotted name: "psa.reminders.tasks.reminders_job")."""

from __future__ import annotations

from psa.reminders.services import send_due_reminders


def reminders_job() -> dict[str, int]:
    """Send the reminders that are due, each once (safe to run twice, or twice at once)."""
    return send_due_reminders()
