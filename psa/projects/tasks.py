"""RQ entry points of projects."""

from __future__ import annotations

from psa.extensions import db
from psa.projects.services import refresh_stale_schedules


def refresh_schedules_job() -> int:
    """Recompute forecasts, slips and health of open projects not yet refreshed today."""
    count = refresh_stale_schedules()
    db.session.commit()
    return count


def ttv_snapshot_job() -> int:
    """The nightly time-to-value snapshot (SPEC §3), scheduled hourly: the first run of the organisation's day
    recomputes every project's TTV (so a change of time zone or of dates is caught) and writes the day's
    cohorts; later runs that day find the snapshot and do nothing (one query). Returns the cohorts written."""
    from psa.core.clock import org_today
    from psa.projects.ttv import record_time_to_value, snapshot_taken, take_ttv_snapshot

    today = org_today()
    if snapshot_taken(today):
        return 0
    record_time_to_value()
    cohorts = take_ttv_snapshot(today)
    db.session.commit()
    return len(cohorts)
