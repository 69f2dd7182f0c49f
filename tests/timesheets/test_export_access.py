"""Who exports which time, and with which columns: rates are for admins and leaders (rates.manage); a
manager exports the entries on projects they may open, their own, and those of the people whose weeks they
approve; a consultant their own. A filter value that is not one offered is refused, never read as "any"."""

from __future__ import annotations

import pytest

from psa.timesheets.exports import HEADER
from tests.conftest import login_as
from tests.timesheets.test_exports import _log, _rows, _second_project

BAD_FILTERS = ["user_id=abc", "project_id=abc", "account_id=abc", "user_id=1e3", "project_id=-1",
               "user_id=99999999999999999999", "project_id=99999", "account_id=99999", "user_id=%00",
               "date_from=2026-13-01", "date_to=yesterday", "date_from=1999-12-31", "state=lost"]


@pytest.fixture
def spread(app, make, staffed):
    """Acme (Mia manages; Cleo logs 1 h), Globex (Max manages; Gus logs 2 h, Rita — whose weeks Mia approves —
    logs 3 h), Initech (Max manages; nobody logs)."""
    consultant, manager, acme_id, _ = staffed
    max_manager = make.user(role="manager", name="Max Manager")
    gus = make.user(role="consultant", name="Gus Globex")
    rita = make.user(role="consultant", name="Rita Report", approver_id=manager.id)
    globex_id = _second_project(app, make, max_manager.id, [gus.id, rita.id])
    initech_id = _second_project(app, make, max_manager.id, [], account="Initech", name="Initech pilot")
    _log(app, consultant.id, (acme_id, None, {"mon": "1"}))
    _log(app, gus.id, (globex_id, None, {"tue": "2"}))
    _log(app, rita.id, (globex_id, None, {"wed": "3"}))
    return {"consultant": consultant, "manager": manager, "max": max_manager, "gus": gus, "rita": rita,
            "acme": acme_id, "globex": globex_id, "initech": initech_id}


def _entries(client, query=""):
    response = client.get(f"/timesheets/export.csv?{query}")
    assert response.status_code == 200, (query, response.status_code)
    rows = _rows(response)
    return rows[0], sorted((row[1], row[2], row[5]) for row in rows[1:])


@pytest.mark.parametrize("role", ["admin", "leader"])
def test_admins_and_leaders_export_everything_with_rates(client, make, spread, role):
    login_as(client, make.user(role=role))
    header, entries = _entries(client)
    assert header == list(HEADER) and header[-2:] == ["bill_rate", "cost_rate"]
    assert sorted(e[2] for e in entries) == ["1.00", "2.00", "3.00"]


def test_a_manager_exports_visible_projects_own_and_approved_time_without_rates(client, spread):
    login_as(client, spread["manager"])
    header, entries = _entries(client)
    assert header == list(HEADER[:10]) and "bill_rate" not in header and "cost_rate" not in header
    assert entries == sorted([(spread["consultant"].email, "Acme onboarding", "1.00"),
                              (spread["rita"].email, "Globex rollout", "3.00")])  # not Gus's 2 h on Globex
    assert all(len(row) == 10 for row in _rows(client.get("/timesheets/export.csv"))[1:])
    # the filters offer only what may be exported: Globex (Rita's time), not Initech; Rita, not Gus
    page = client.get("/timesheets/export").get_data(as_text=True)
    assert "Globex rollout" in page and "Initech pilot" not in page
    assert "Rita Report" in page and "Gus Globex" not in page
    assert "the rates in force" not in page
    assert _entries(client, f"project_id={spread['globex']}")[1] == [(spread["rita"].email, "Globex rollout", "3.00")]
    for query in (f"project_id={spread['initech']}", f"user_id={spread['gus'].id}"):
        response = client.get(f"/timesheets/export.csv?{query}")
        assert response.status_code == 400 and response.mimetype == "text/html", query
    counted = client.get("/timesheets/export?state=draft").get_data(as_text=True)
    assert '<p class="psa-stat mb-0">2</p>' in counted and "4.00 hours" in counted


def test_the_other_manager_sees_globex_but_not_acme(client, spread):
    login_as(client, spread["max"])
    header, entries = _entries(client)
    assert "bill_rate" not in header
    # entries come sorted by e-mail, and the factory's e-mails ("user9@", "user10@") sort by text: compare as a set
    assert sorted((e[1], e[2]) for e in entries) == [("Globex rollout", "2.00"), ("Globex rollout", "3.00")]


def test_a_consultant_exports_their_own_time_without_rates(client, spread):
    login_as(client, spread["rita"])
    header, entries = _entries(client)
    assert header == list(HEADER[:10])
    assert entries == [(spread["rita"].email, "Globex rollout", "3.00")]


@pytest.mark.parametrize("role", ["admin", "manager", "consultant"])
@pytest.mark.parametrize("path", ["/timesheets/export.csv", "/timesheets/export"])
def test_bad_filter_values_are_refused_never_read_as_any(client, make, spread, role, path):
    login_as(client, make.user(role=role))
    for query in BAD_FILTERS:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (query, response.status_code)
        assert response.mimetype == "text/html", query
        if "%00" not in query:  # a NUL is refused before any view, by the app's input check
            assert "is-invalid" in response.get_data(as_text=True), query
