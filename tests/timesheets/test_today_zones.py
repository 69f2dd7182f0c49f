"""The grid's "today" is the user's: the week it opens on, the day it marks, the zone it names, and the last
day time may be logged on (with future time not allowed), for a user west of UTC late on a Sunday and one
east of UTC just after midnight on a Monday. The clock is frozen through psa.core.clock, never slept on."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa

from psa.core import clock
from psa.extensions import db
from psa.timesheets.models import TimeEntry
from tests.admin.helpers import field_errors
from tests.conftest import login_as, post_form

SUNDAY, MONDAY = date(2026, 12, 6), date(2026, 12, 7)
#: 23:30 on Sunday 6 December in Los Angeles: Monday 07:30 in UTC.
LA_SUNDAY_2330 = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
#: 00:30 on Monday 7 December in Berlin: Sunday 23:30 in UTC.
BERLIN_MONDAY_0030 = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)


def _in_zone(app, user_id: int, zone: str) -> None:
    from psa.auth.models import User

    with app.app_context():
        db.session.get(User, user_id).timezone = zone
        db.session.commit()


def _grid(client, week: str | None = None) -> str:
    response = client.get("/timesheets" + (f"?week={week}" if week else ""))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _today_label(html: str) -> str:
    match = re.search(r'data-testid="today-label">(.*?)</p>', html, re.S)
    assert match, "no today label"
    return re.sub(r"\s+", " ", match.group(1)).strip()


def _marked_today(html: str) -> set[str]:
    return set(re.findall(r'class="psa-cell[^"]*psa-today[^"]*" data-day="([0-9-]+)"', html))


def _entries(app, user_id: int) -> list[tuple]:
    with app.app_context():
        return db.session.execute(sa.select(TimeEntry.entry_date, TimeEntry.minutes)
                                  .where(TimeEntry.user_id == user_id).order_by(TimeEntry.entry_date)).all()


def _save(client, project_id: int, monday: date, day: date, hours: str = "2"):
    return post_form(client, "/timesheets", {"week": monday.isoformat(), "rows-0-project": str(project_id),
                                             "rows-0-billable": "y", f"rows-0-{day.isoformat()}": hours},
                     token_from="/timesheets")


def test_late_sunday_in_los_angeles_is_still_sunday_though_utc_is_monday(app, client, staffed):
    consultant, _, project_id, _ = staffed
    _in_zone(app, consultant.id, "America/Los_Angeles")
    with clock.frozen(LA_SUNDAY_2330):
        login_as(client, consultant)
        html = _grid(client)
        assert 'name="week" value="2026-11-30"' in html  # the LA week: Monday 30 November .. Sunday 6 December
        assert _today_label(html) == "Today is Sun 2026-12-06 (America/Los_Angeles)"
        assert _marked_today(html) == {SUNDAY.isoformat()}

        assert _save(client, project_id, date(2026, 11, 30), SUNDAY).status_code == 302
        refused = _save(client, project_id, MONDAY, MONDAY)  # today in UTC, tomorrow in Los Angeles
        assert refused.status_code == 400
        assert "ahead of today" in field_errors(refused.get_data(as_text=True), f"rows-0-{MONDAY.isoformat()}")[0]
    assert _entries(app, consultant.id) == [(SUNDAY, 120)]


def test_just_after_midnight_on_monday_in_berlin_is_monday_though_utc_is_sunday(app, client, staffed):
    consultant, _, project_id, _ = staffed
    _in_zone(app, consultant.id, "Europe/Berlin")
    with clock.frozen(BERLIN_MONDAY_0030):
        login_as(client, consultant)
        html = _grid(client)
        assert 'name="week" value="2026-12-07"' in html  # Berlin's new week, though UTC is still in the last
        assert _today_label(html) == "Today is Mon 2026-12-07 (Europe/Berlin)"
        assert _marked_today(html) == {MONDAY.isoformat()}

        assert _save(client, project_id, MONDAY, MONDAY, "1:30").status_code == 302
        assert "This week" not in _grid(client, MONDAY.isoformat()).split('data-testid="next-week"')[0]
    assert _entries(app, consultant.id) == [(MONDAY, 90)]


def test_a_user_without_a_known_zone_gets_the_organisations(app, client, staffed):
    from psa.admin.services import get_settings

    consultant, *_ = staffed
    _in_zone(app, consultant.id, "Nowhere/Atlantis")
    with app.app_context():
        get_settings().timezone = "America/Los_Angeles"
        db.session.commit()
    with clock.frozen(LA_SUNDAY_2330):
        login_as(client, consultant)
        assert _today_label(_grid(client)) == "Today is Sun 2026-12-06 (America/Los_Angeles)"


def test_times_of_day_name_their_zone(app, client, make):
    from psa.core.audit import record_audit

    admin = make.user(role="admin", timezone="America/Los_Angeles")
    with clock.frozen(LA_SUNDAY_2330), app.app_context():
        record_audit(None, "zone.checked", None, after={})
        db.session.commit()
    login_as(client, admin)
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "2026-12-06 23:30 PST" in html  # the viewer's wall clock, with the zone it is in
