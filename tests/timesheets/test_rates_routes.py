"""The rates pages: each person's rate history and a form adding a rate from a date, the projects' rate cards,
and the recalculation of unapproved entries. Bad input is shown at its field and changes nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.models import ProjectRate, TimeEntry, UserRate
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY


def _rates(app, user_id):
    with app.app_context():
        return [(r.effective_from, r.cost_rate, r.bill_rate) for r in db.session.scalars(
            sa.select(UserRate).where(UserRate.user_id == user_id).order_by(UserRate.effective_from))]


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_manage_rates(client, make, staffed, role):
    _, _, project_id, _ = staffed
    login_as(client, make.user(role=role))
    for path in ("/timesheets/rates", f"/timesheets/rates/projects/{project_id}"):
        assert client.get(path).status_code == 403
    assert post_form(client, "/timesheets/rates/recalculate", {}, token_from="/").status_code == 403


def test_the_rates_page_shows_empty_states_and_labels_every_field(client, make):
    leader = make.user(role="leader", name="Lea Leader")
    login_as(client, leader)
    html = client.get("/timesheets/rates").get_data(as_text=True)
    assert "No rate yet: their time costs and bills 0." in html
    assert "No open projects" in html
    for name in ("user_id", "effective_from", "cost_rate", "bill_rate", "since"):
        assert f'for="{name}"' in html, name


def test_adding_rates_keeps_the_history(client, app, make, staffed):
    consultant, _, _, _ = staffed
    login_as(client, make.user(role="leader"))
    for day, cost, bill in (("2026-01-01", "60", "150"), ("2026-07-01", "70.5", "175")):
        response = post_form(client, "/timesheets/rates", {"user_id": consultant.id, "effective_from": day,
                                                            "cost_rate": cost, "bill_rate": bill},
                             token_from="/timesheets/rates")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/timesheets/rates#user-{consultant.id}")
    assert _rates(app, consultant.id) == [(date(2026, 1, 1), Decimal("60.00"), Decimal("150.00")),
                                          (date(2026, 7, 1), Decimal("70.50"), Decimal("175.00"))]
    html = client.get("/timesheets/rates").get_data(as_text=True)
    assert "until you recalculate" in html  # the flash
    section = html.split(f'id="user-{consultant.id}"')[1].split("</tbody>")[0]
    assert section.index("2026-07-01") < section.index("2026-01-01")  # newest first
    assert "70.50" in section and "150.00" in section
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "rate.user_set")) == 2
    # ?user= preselects the person in the form
    page = client.get(f"/timesheets/rates?user={consultant.id}").get_data(as_text=True)
    assert f'<option selected value="{consultant.id}">' in page or f'value="{consultant.id}" selected' in page


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"cost_rate": "-1"}, "cost_rate", "Enter an amount from 0 to 9,999,999,999.99."),
    ({"bill_rate": "ten"}, "bill_rate", "Enter an amount such as 120 or 95.50."),
    ({"bill_rate": ""}, "bill_rate", "Enter an amount such as 120 or 95.50."),
    ({"effective_from": "1/1/2026"}, "effective_from", "Enter a date as YYYY-MM-DD."),
    ({"effective_from": ""}, "effective_from", "Enter a date as YYYY-MM-DD."),
    ({"user_id": "0"}, "user_id", "Choose a person from the list."),
    ({"user_id": "999999"}, "user_id", "Choose a person from the list."),
])
def test_bad_rate_input_is_shown_at_its_field_and_changes_nothing(client, app, make, staffed, fields, field,
                                                                   message):
    consultant, _, _, _ = staffed
    login_as(client, make.user(role="admin"))
    data = {"user_id": consultant.id, "effective_from": "2026-01-01", "cost_rate": "60", "bill_rate": "150", **fields}
    response = post_form(client, "/timesheets/rates", data, token_from="/timesheets/rates")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    # the message sits under its own input
    assert html.index(message) > html.index(f'id="{field}"')
    assert _rates(app, consultant.id) == []


def test_a_project_rate_card_takes_role_and_person_lines(client, app, make, staffed):
    consultant, _, project_id, _ = staffed
    login_as(client, make.user(role="leader"))
    path = f"/timesheets/rates/projects/{project_id}"
    page = client.get(path).get_data(as_text=True)
    assert "No rate card lines" in page and 'for="applies_to"' in page and 'for="bill_rate"' in page
    for applies_to, rate in (("role:consultant", "160"), (f"user:{consultant.id}", "190"), ("role:consultant", "165")):
        response = post_form(client, path, {"applies_to": applies_to, "bill_rate": rate}, token_from=path)
        assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        lines = {(line.role, line.user_id): line.bill_rate for line in db.session.scalars(sa.select(ProjectRate))}
        assert lines == {("consultant", None): Decimal("165.00"), (None, consultant.id): Decimal("190.00")}
        user = db.session.get(User, consultant.id)
        assert ts.resolve_rates(user, project_id, MONDAY).bill == Decimal("190.00")
    html = client.get(path).get_data(as_text=True)
    assert "Role: Consultant" in html and "165.00" in html and "Cleo Consultant" in html
    # the rates page lists the project with its two lines
    rates = client.get("/timesheets/rates").get_data(as_text=True)
    assert f'href="/timesheets/rates/projects/{project_id}">Acme onboarding</a>' in rates


@pytest.mark.parametrize(("data", "message"), [
    ({"applies_to": "role:consultant", "bill_rate": "-5"}, "Enter an amount from 0 to 9,999,999,999.99."),
    ({"applies_to": "role:consultant", "bill_rate": "lots"}, "Enter an amount such as 120 or 95.50."),
    ({"applies_to": "", "bill_rate": "100"}, "Choose a role or a person from the list."),
    ({"applies_to": "role:customer", "bill_rate": "100"}, "Choose a role or a person from the list."),
    ({"applies_to": "user:999999", "bill_rate": "100"}, "Choose a role or a person from the list."),
])
def test_bad_rate_card_input_is_shown_at_its_field_and_changes_nothing(client, app, make, staffed, data, message):
    _, _, project_id, _ = staffed
    login_as(client, make.user(role="leader"))
    path = f"/timesheets/rates/projects/{project_id}"
    response = post_form(client, path, data, token_from=path)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ProjectRate.id))) == 0


def test_an_unknown_project_has_no_rate_card(client, make):
    login_as(client, make.user(role="leader"))
    assert client.get("/timesheets/rates/projects/999999").status_code == 404


def test_recalculation_changes_unapproved_entries_and_says_how_many(client, app, make, staffed):
    consultant, manager, project_id, _ = staffed
    with app.app_context():
        user, approver = db.session.get(User, consultant.id), db.session.get(User, manager.id)
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
        ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=project_id, cells={MONDAY: ts.GridCell("1")})])
        ts.submit_timesheet(user, ts.get_timesheet(user, MONDAY))
        ts.approve_timesheet(approver, ts.get_timesheet(user, MONDAY))
        later = MONDAY + timedelta(days=7)
        ts.save_week(user, user, later, [ts.GridRow(project_id=project_id, cells={
            later: ts.GridCell("1"), later + timedelta(days=1): ts.GridCell("2")})])
        db.session.commit()
    login_as(client, make.user(role="leader"))
    post_form(client, "/timesheets/rates", {"user_id": consultant.id, "effective_from": "2026-01-01", "cost_rate": "65",
                                            "bill_rate": "155"}, token_from="/timesheets/rates")
    response = post_form(client, "/timesheets/rates/recalculate", {}, token_from="/timesheets/rates")
    assert response.status_code == 302 and response.headers["Location"].endswith("/timesheets/rates#recalculate")
    assert "2 entries changed." in client.get("/timesheets/rates").get_data(as_text=True)
    with app.app_context():
        got = sorted((e.entry_date, e.bill_rate, e.cost_rate) for e in db.session.scalars(sa.select(TimeEntry)))
    assert got == [(MONDAY, Decimal("150.00"), Decimal("60.00")),
                   (later, Decimal("155.00"), Decimal("65.00")),
                   (later + timedelta(days=1), Decimal("155.00"), Decimal("65.00"))]
    # run again: nothing left to change
    post_form(client, "/timesheets/rates/recalculate", {}, token_from="/timesheets/rates")
    assert "0 entries changed." in client.get("/timesheets/rates").get_data(as_text=True)


def test_recalculation_from_a_date_and_a_bad_date_at_its_field(client, app, make, staffed):
    consultant, _, project_id, _ = staffed
    with app.app_context():
        user = db.session.get(User, consultant.id)
        ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=project_id, cells={
            MONDAY: ts.GridCell("1"), MONDAY + timedelta(days=2): ts.GridCell("1")})])
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="10", bill_rate="20")
        db.session.commit()
    login_as(client, make.user(role="admin"))
    response = post_form(client, "/timesheets/rates/recalculate", {"since": "someday"}, token_from="/timesheets/rates")
    assert response.status_code == 400 and "Enter a date as YYYY-MM-DD." in response.get_data(as_text=True)
    response = post_form(client, "/timesheets/rates/recalculate", {"since": (MONDAY + timedelta(days=1)).isoformat()},
                         token_from="/timesheets/rates")
    assert response.status_code == 302
    assert "1 entry changed." in client.get("/timesheets/rates").get_data(as_text=True)
    with app.app_context():
        assert sorted(e.bill_rate for e in db.session.scalars(sa.select(TimeEntry))) == [Decimal("0.00"),
                                                                                          Decimal("20.00")]


def test_the_time_data_pages_have_no_inline_script_or_style_and_work_without_data(client, make, staffed):
    _, _, project_id, _ = staffed
    login_as(client, make.user(role="admin"))
    for path in ("/timesheets/import", "/timesheets/export", "/timesheets/export?state=approved", "/timesheets/rates",
                 f"/timesheets/rates/projects/{project_id}"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert 'name="viewport"' in html, path


def test_a_rate_card_line_can_be_removed_and_the_default_applies_again(client, app, make, staffed):
    from datetime import date

    import sqlalchemy as sa

    from psa.auth.models import User
    from psa.extensions import db
    from psa.projects.models import Project
    from psa.timesheets import services as ts
    from psa.timesheets.models import ProjectRate
    from tests.conftest import login_as, post_form

    consultant, _, project_id, _ = staffed
    with app.app_context():
        user = db.session.get(User, consultant.id)
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate="60", bill_rate="150")
        line = ts.set_project_rate(None, db.session.get(Project, project_id), role="consultant", bill_rate="120")
        db.session.commit()
        line_id = line.id
    login_as(client, make.user(role="leader"))
    page = client.get(f"/timesheets/rates/projects/{project_id}").get_data(as_text=True)
    assert f"/timesheets/rates/projects/{project_id}/lines/{line_id}/delete" in page
    assert client.post(f"/timesheets/rates/projects/{project_id}/lines/{line_id}/delete").status_code == 400  # no CSRF
    wrong_project = post_form(client, f"/timesheets/rates/projects/{project_id + 999}/lines/{line_id}/delete")
    assert wrong_project.status_code == 404
    response = post_form(client, f"/timesheets/rates/projects/{project_id}/lines/{line_id}/delete")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ProjectRate.id))) == 0
        user = db.session.get(User, consultant.id)
        assert ts.resolve_rates(user, project_id, date(2026, 10, 5)).bill == 150
