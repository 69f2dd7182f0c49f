"""RQ entry points: thin wrappers over services. The worker runs them inside an app context."""

from __future__ import annotations

from psa.core.mail import deliver_outbox


def deliver_outbox_job() -> dict[str, int]:
    """Send what waits in the e-mail outbox."""
    return deliver_outbox()
