"""RQ entry points of projects."""

from __future__ import annotations

from psa.extensions import db
from psa.projects.services import refresh_stale_schedules


def refresh_schedules_job() -> int:
    """Recompute forecasts, slips and health of open projects not yet refreshed today."""
    count = refresh_stale_schedules()
    db.session.commit()
    return count
