"""The one clock: now() can be frozen for every thread, "today" depends on the zone, the organisation's zone
drives schedule rules (an overdue milestone turns the project red at the organisation's midnight, not UTC's),
and the user's zone (else the organisation's) drives the timesheet grid (see tests/timesheets/test_today_zones.py)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from psa.core import clock
from psa.core.db import utcnow

# Thursday 3 December 2026; Sunday the 6th, Monday the 7th.
SUNDAY, MONDAY = date(2026, 12, 6), date(2026, 12, 7)
#: 23:30 on Sunday in Los Angeles (UTC-8): already Monday 07:30 in UTC.
LA_SUNDAY_2330 = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
#: 00:30 on Monday in Berlin (UTC+1): still Sunday 23:30 in UTC.
BERLIN_MONDAY_0030 = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)


def test_now_is_aware_utc_and_utcnow_is_the_same_clock():
    with clock.frozen(datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=2)))):
        assert clock.now() == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
        assert clock.now().tzinfo is UTC
        assert utcnow() == clock.now()
    real = clock.now()
    assert real.tzinfo is UTC and abs(real - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_frozen_clock_is_seen_by_every_thread_and_restored_afterwards():
    seen = []
    with clock.frozen(LA_SUNDAY_2330):
        thread = threading.Thread(target=lambda: seen.append(clock.now()))
        thread.start()
        thread.join()
        with clock.frozen(BERLIN_MONDAY_0030):  # nests: the outer freeze comes back after the inner one
            assert clock.now() == BERLIN_MONDAY_0030
        assert clock.now() == LA_SUNDAY_2330
    assert seen == [LA_SUNDAY_2330]
    assert clock.now() != LA_SUNDAY_2330


def test_set_now_takes_a_function_and_none_restores_the_real_clock():
    ticks = iter([LA_SUNDAY_2330, LA_SUNDAY_2330 + timedelta(minutes=1)])
    clock.set_now(lambda: next(ticks))
    try:
        assert clock.now() == LA_SUNDAY_2330
        assert clock.now() == LA_SUNDAY_2330 + timedelta(minutes=1)
    finally:
        clock.set_now(None)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_naive_time_cannot_freeze_the_clock():
    with pytest.raises(ValueError), clock.frozen(datetime(2026, 12, 3, 10, 0)):
        pass


def test_today_depends_on_the_zone():
    with clock.frozen(LA_SUNDAY_2330):
        assert clock.today_in("America/Los_Angeles") == SUNDAY
        assert clock.today_in("UTC") == MONDAY
        assert clock.today_in("Europe/Berlin") == MONDAY
    with clock.frozen(BERLIN_MONDAY_0030):
        assert clock.today_in("Europe/Berlin") == MONDAY
        assert clock.today_in("UTC") == SUNDAY
        assert clock.today_in("America/Los_Angeles") == SUNDAY


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "../etc/passwd", "Europe/"])
def test_an_unknown_zone_falls_back(name):
    with clock.frozen(LA_SUNDAY_2330):
        assert clock.today_in(name) == MONDAY  # UTC
        assert clock.today_in(name, fallback="America/Los_Angeles") == SUNDAY


def test_user_today_is_the_users_zone_else_the_organisations(ctx):
    from psa.admin.services import get_settings

    get_settings().timezone = "America/Los_Angeles"
    with clock.frozen(LA_SUNDAY_2330):
        assert clock.org_today() == SUNDAY
        assert clock.user_today(SimpleNamespace(timezone="Europe/Berlin")) == MONDAY
        assert clock.user_today(SimpleNamespace(timezone="UTC")) == MONDAY
        for unset in (None, "", "Nowhere/Atlantis"):
            assert clock.user_today(SimpleNamespace(timezone=unset)) == SUNDAY, unset
        assert clock.user_zone_name(SimpleNamespace(timezone=None)) == "America/Los_Angeles"
        assert clock.user_zone_name(SimpleNamespace(timezone="Europe/Berlin")) == "Europe/Berlin"


def test_the_organisations_zone_is_utc_outside_an_app_context(app):
    with clock.frozen(LA_SUNDAY_2330):
        assert clock.org_zone_name() == "UTC"
        assert clock.org_today() == MONDAY


# --- the organisation's zone in a schedule rule ----------------------------------------------------


def _project_due(make, due: date):
    """An active project with one open milestone due on `due`, judged red after 0 overdue working days."""
    from psa.admin.services import get_settings
    from psa.extensions import db
    from psa.projects.services import add_milestone_to_project, create_project

    manager = make.user(role="manager")
    settings = get_settings()
    settings.timezone = "America/Los_Angeles"
    settings.health_red_overdue_days = 0
    project = create_project(manager, account=make.account(), name="Zone project",
                             kickoff_date=date(2026, 11, 2), manager=manager,
                             billing_model="time_and_materials")
    add_milestone_to_project(manager, project, name="Go live", due_date=due)
    db.session.commit()
    return project


@pytest.mark.parametrize(("at", "red"), [
    (datetime(2026, 12, 8, 0, 30, tzinfo=UTC), False),  # Tuesday in UTC, Monday 16:30 in Los Angeles
    (datetime(2026, 12, 8, 7, 59, tzinfo=UTC), False),  # Monday 23:59 in Los Angeles: still due today
    (datetime(2026, 12, 8, 8, 0, tzinfo=UTC), True),    # Tuesday 00:00 in Los Angeles: a working day late
])
def test_a_milestone_is_overdue_from_the_organisations_midnight_not_utcs(ctx, make, at, red):
    from psa.extensions import db
    from psa.projects.models import Project
    from psa.projects.services import refresh_schedule

    project = _project_due(make, MONDAY)
    with clock.frozen(at):
        refresh_schedule([project.id])  # no `today` given: the organisation's today
        db.session.commit()
        stored = db.session.get(Project, project.id)
        assert stored.schedule_refreshed_on == (date(2026, 12, 8) if red else MONDAY)
        assert (stored.health == "red") is red
