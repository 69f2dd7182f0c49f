"""Jobs the worker tests queue by dotted name ("tests.jobs.sample_jobs.<name>")."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from psa.admin.models import Holiday, Settings
from psa.admin.services import get_settings
from psa.core.calendar import get_calendar
from psa.extensions import db


def add_holiday(day: str, name: str) -> int:
    """Insert a holiday through the job's session; the worker commits it."""
    holiday = Holiday(day=date.fromisoformat(day), name=name)
    db.session.add(holiday)
    db.session.flush()
    return holiday.id


def add_holiday_and_commit(day: str, name: str) -> int:
    """Insert a holiday and commit it in the job, as jobs that work in batches do."""
    holiday_id = add_holiday(day, name)
    db.session.commit()
    return holiday_id


def add_holiday_then_fail(day: str, name: str) -> None:
    """Insert a holiday, flush it, then fail halfway."""
    add_holiday(day, name)
    raise RuntimeError("failed halfway")


def what_the_job_sees() -> dict:
    """The holidays of the job's calendar and the currency of its settings (both cached per app context)."""
    return {
        "holidays": sorted(day.isoformat() for day in get_calendar().holidays),
        "currency": get_settings().currency,
    }


def change_data_elsewhere(day: str, currency: str) -> None:
    """What an admin in another process does while the worker runs: add a holiday, change the currency."""
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Holiday).values(day=date.fromisoformat(day), name="Added meanwhile"))
        conn.execute(sa.update(Settings).where(Settings.id == 1).values(currency=currency))
