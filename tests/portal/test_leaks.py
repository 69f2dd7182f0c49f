"""Nothing internal reaches the portal (issue 13, acceptance 2): a project full of internal tasks, comments,
files, time with rates and costs, a fee, budget and a health reason, each carrying a marker, rendered on every
portal page at every view level and in "view as customer": none of the markers, amounts or the other account's
names appear."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from psa.extensions import db
from tests.conftest import login_as
from tests.portal.helpers import login_contact
from tests.portal.world import MARKERS, MONEY, world

FORBIDDEN = (*MARKERS.values(), *MONEY, "INTERNAL-CUSTOMER-DRAFT-6b1a", "OTHER-ACCOUNT", "OTHER-CONTACT",
             "cost", "Cost", "rate", "margin", "Margin")


def _add_time(app, w) -> None:
    from psa.projects.models import Project
    from psa.timesheets.models import TimeEntry, Timesheet

    with app.app_context():
        project = db.session.get(Project, w["a"]["project"])
        monday = project.kickoff_date - timedelta(days=project.kickoff_date.weekday())
        sheet = Timesheet(user_id=w["manager"].id, week_start=monday, state="approved")
        db.session.add(sheet)
        db.session.flush()
        db.session.add(TimeEntry(user_id=w["manager"].id, project_id=project.id, timesheet_id=sheet.id,
                                 entry_date=monday, minutes=150, note=MARKERS["note"], bill_rate=Decimal("4321.09"),
                                 cost_rate=Decimal("1234.56")))
        project.portal_shows_hours = True
        db.session.commit()


def _clean(html: str, where: str) -> None:
    found = [marker for marker in FORBIDDEN if marker in html]
    assert not found, f"{where} shows {found}"


@pytest.mark.parametrize("level", ["full", "mine", "overview"])
def test_no_internal_text_on_any_portal_page(app, client, make, level):
    w = world(app, make)
    _add_time(app, w)
    login_contact(app, client, w[level])
    for path in ("/portal/", f"/portal/projects/{w['a']['project']}"):
        response = client.get(path)
        assert response.status_code == 200, path
        _clean(response.get_data(as_text=True), f"{level} {path}")
    html = client.get(f"/portal/projects/{w['a']['project']}").get_data(as_text=True)
    assert "Used" in html and "2.5" in html  # the hours widget: 150 minutes, never the rates


def test_no_internal_text_in_view_as_customer(app, client, make):
    w = world(app, make)
    _add_time(app, w)
    login_as(client, w["manager"])
    for level in ("full", "mine", "overview"):
        contact = w[level]
        for path in (f"/portal/preview?contact={contact.id}",
                     f"/portal/preview/projects/{w['a']['project']}?contact={contact.id}"):
            response = client.get(path)
            assert response.status_code == 200, path
            html = response.get_data(as_text=True)
            _clean(html.replace("Mia Manager", ""), f"preview {level} {path}")


def test_hours_stay_hidden_unless_switched_on(app, client, make):
    w = world(app, make)
    login_contact(app, client, w["full"])
    html = client.get(f"/portal/projects/{w['a']['project']}").get_data(as_text=True)
    assert 'data-testid="hours"' not in html
