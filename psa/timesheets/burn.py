"""The burn figure projects' health reads: minutes logged per project.

Projects cannot import timesheets (timesheets depends on projects), so create_app registers this function
with psa.projects.services.set_burn_source."""

from __future__ import annotations

import sqlalchemy as sa

from psa.extensions import db
from psa.timesheets.models import TimeEntry


def burned_minutes_by_project(project_ids: list[int]) -> dict[int, int]:
    """Minutes logged per project (every entry, whatever its week's state); projects with none are absent."""
    return {project_id: int(minutes) for project_id, minutes in db.session.execute(
        sa.select(TimeEntry.project_id, sa.func.sum(TimeEntry.minutes))
        .where(TimeEntry.project_id.in_(project_ids)).group_by(TimeEntry.project_id)
    ).all()}
