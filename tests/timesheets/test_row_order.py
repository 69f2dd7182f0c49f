"""The grid's lines keep the order the person gave them: the order they were added in this week, stable
across saves (a line added at the bottom stays at the bottom, whatever its project's name); copied rows keep
the previous week's order; an import adds its new lines after the week's own, in the order of the file."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.timesheets.imports import import_time_entries
from psa.timesheets.models import TimeEntry
from tests.conftest import login_as, post_form
from tests.timesheets.conftest import MONDAY
from tests.timesheets.test_grid_routes import _line, _other_project, _page, _save
from tests.timesheets.test_imports import OURS, make_csv


def _order(page) -> list[tuple[str, str]]:
    """(project, task) of the page's project lines that name a project, top to bottom."""
    import re

    lines = sorted((int(m.group(1)), value) for name, value in page.values.items()
                   if (m := re.fullmatch(r"rows-(\d+)-project", name)) and value)
    return [(project, page.values.get(f"rows-{index}-task", "")) for index, project in lines]


def test_a_line_added_under_the_others_stays_there_after_saving(app, client, make, staffed):
    consultant, manager, acme, configure = staffed
    globex, migrate = _other_project(app, make, manager.id, members=[consultant.id])  # "Globex…" sorts after "Acme"
    login_as(client, consultant)
    # Globex first, then Acme: the grid shows them so after the save, not by name
    assert _save(client, _line(0, globex, migrate, mon="1"), _line(1, acme, configure, tue="2")).status_code == 302
    _, page = _page(client)
    assert _order(page) == [(str(globex), str(migrate)), (str(acme), str(configure))]

    # a line typed into the first blank line (under the saved ones) stays last; the page posted as shown
    # keeps every line where it was
    blank = page.blank_rows()[0]
    data = page.form(**{f"rows-{blank}-project": str(acme), f"rows-{blank}-task": "",
                        f"rows-{blank}-{MONDAY.isoformat()}": "0:30"})
    assert post_form(client, "/timesheets", data).status_code == 302
    _, page = _page(client)
    expected = [(str(globex), str(migrate)), (str(acme), str(configure)), (str(acme), "")]
    assert _order(page) == expected
    assert post_form(client, "/timesheets", page.form()).status_code == 302
    assert _order(_page(client)[1]) == expected


def test_emptying_a_line_keeps_the_order_of_the_others(app, client, make, staffed):
    consultant, manager, acme, configure = staffed
    globex, migrate = _other_project(app, make, manager.id, members=[consultant.id])
    login_as(client, consultant)
    _save(client, _line(0, globex, migrate, mon="1"), _line(1, acme, configure, tue="2"), _line(2, acme, wed="1"))
    _, page = _page(client)
    first = page.row_of(globex, migrate)
    data = page.form(**{f"rows-{first}-{MONDAY.isoformat()}": ""})
    assert post_form(client, "/timesheets", data).status_code == 302
    assert _order(_page(client)[1]) == [(str(acme), str(configure)), (str(acme), "")]


def test_copied_rows_keep_last_weeks_order_after_this_weeks_own(app, client, make, staffed):
    consultant, manager, acme, configure = staffed
    globex, migrate = _other_project(app, make, manager.id, members=[consultant.id])
    login_as(client, consultant)
    previous = MONDAY - timedelta(days=7)
    _save(client, _line(0, globex, migrate, monday=previous, mon="1"), _line(1, acme, configure, monday=previous,
                                                                              mon="1"),
          _line(2, acme, monday=previous, mon="1"), week=previous.isoformat())
    _save(client, _line(0, acme, wed="3"))  # this week already has the last of them
    _, page = _page(client, copy="last")
    assert _order(page) == [(str(acme), ""), (str(globex), str(migrate)), (str(acme), str(configure))]
    # hours typed into a copied line: saved, the order stays
    row = page.row_of(acme, configure)
    assert post_form(client, "/timesheets", page.form(**{f"rows-{row}-{MONDAY.isoformat()}": "1"})).status_code == 302
    assert _order(_page(client)[1]) == [(str(acme), ""), (str(acme), str(configure))]


def test_an_import_adds_its_lines_after_the_weeks_own_in_the_files_order(app, client, make, staffed):
    consultant, manager, acme, configure = staffed
    globex, migrate = _other_project(app, make, manager.id, members=[consultant.id])
    login_as(client, consultant)
    _save(client, _line(0, globex, migrate, mon="1"))
    with app.app_context():
        email = db.session.get(User, consultant.id).email
        admin = make.user(role="admin")
        rows = [{"date": (MONDAY + timedelta(days=1)).isoformat(), "email": email, "project": "Acme onboarding",
                 "task": "Configure", "hours": "1", "billable": "yes", "note": ""},
                {"date": (MONDAY + timedelta(days=2)).isoformat(), "email": email, "project": "Globex rollout",
                 "task": "Migrate", "hours": "1", "billable": "yes", "note": ""},
                {"date": MONDAY.isoformat(), "email": email, "project": "Acme onboarding",
                 "task": "", "hours": "1", "billable": "yes", "note": ""}]
        report = import_time_entries(db.session.get(User, admin.id), make_csv(OURS, rows), dry_run=False)
        assert report.ok and report.entries == 3, report.errors
        db.session.commit()
    assert _order(_page(client)[1]) == [(str(globex), str(migrate)), (str(acme), str(configure)), (str(acme), "")]


def test_lines_saved_before_they_had_an_order_come_first_by_name_and_a_save_keeps_that(app, client, make, staffed):
    consultant, manager, acme, configure = staffed
    globex, migrate = _other_project(app, make, manager.id, members=[consultant.id])
    login_as(client, consultant)
    _save(client, _line(0, globex, migrate, mon="1"), _line(1, acme, configure, tue="2"))
    with app.app_context():  # as the demo loads them, or as they were before the order was kept
        db.session.execute(sa.update(TimeEntry).values(row_position=None))
        db.session.commit()
    _, page = _page(client)
    assert _order(page) == [(str(acme), str(configure)), (str(globex), str(migrate))]
    blank = page.blank_rows()[0]
    data = page.form(**{f"rows-{blank}-project": str(acme), f"rows-{blank}-{MONDAY.isoformat()}": "0:30"})
    assert post_form(client, "/timesheets", data).status_code == 302
    assert _order(_page(client)[1]) == [(str(acme), str(configure)), (str(globex), str(migrate)), (str(acme), "")]
