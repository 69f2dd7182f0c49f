"""The customer-facing project status report as a PDF (issue 15): /projects/<id>/status.pdf for whoever may see
the project page (drawn at view level "full project") and /portal/projects/<id>/status.pdf for a contact (at their
own view level), both from the portal's views. The text pypdf extracts holds the hand-known facts of the portal
test world (tests/portal/world.py, on a frozen Wednesday), and none of the internal markers, amounts or the other
account's names (tests/portal/test_leaks.py's FORBIDDEN), with time at rates logged as test_leaks does."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from psa.core import clock
from psa.extensions import db
from tests.conftest import login_as
from tests.portal.helpers import login_contact
from tests.portal.test_leaks import FORBIDDEN, _add_time
from tests.portal.world import world

#: A Wednesday: the world's kickoff, its "today" and the report's date.
AT = datetime(2030, 1, 9, 12, 0, tzinfo=UTC)
TODAY = "2030-01-09"
BRAND = "Northwind Onboarding"
#: The blocked reason of a shared task: written by the team for itself, never shared.
REASON = "SHARED-TASK-BLOCKED-REASON-77e1"
#: Besides FORBIDDEN: what an internal page shows of a project and a report must not.
NEVER = (*FORBIDDEN, REASON, "INTERNAL", "Globex", "Hours", "hours", "Budget", "budget", "Fee", "Health",
         "health", "Escalation", "escalation", "Mia Manager", "Welcome aboard", "plan.pdf")


@pytest.fixture
def w(app, make):
    """The portal world with time at rates (hours shown in the portal), the brand set, and a shared risk of each
    kind: "Configure SSO" (shared, the team's) due 2030-02-13, after Go-live's due date (Friday 2030-02-08), so
    Go-live forecasts 3 working days late; and blocked, with a reason."""
    from psa.admin.services import update_settings
    from psa.auth.models import User
    from psa.projects import services
    from psa.projects.models import Task

    with clock.frozen(AT):
        data = world(app, make)
        _add_time(app, data)
        with app.app_context():
            update_settings(None, brand_name=BRAND)
            actor = db.session.get(User, data["manager"].id)
            task = db.session.get(Task, data["a"]["task_shared"])
            services.update_task(actor, task, due_date=date(2030, 2, 13), shift_successors=False)
            services.update_task(actor, task, status="blocked", blocked_reason=REASON)
            services.refresh_schedule([data["a"]["project"]])
            db.session.commit()
        yield data


def _pdf(response) -> str:
    """The PDF's text, every run of whitespace made one space."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    assert data.startswith(b"%PDF-")
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def _section(text: str, title: str, following: str) -> str:
    start = text.index(title)
    return text[start:text.index(following, start)]


def _clean(text: str, where: str) -> None:
    found = [marker for marker in NEVER if marker in text]
    assert not found, f"{where} shows {found}"


def _internal(client, w) -> str:
    login_as(client, w["manager"])
    return _pdf(client.get(f"/projects/{w['a']['project']}/status.pdf"))


# --- what it holds ---------------------------------------------------------------------------------------------


def test_the_internal_download_holds_the_hand_known_facts(app, client, w):
    project_id = w["a"]["project"]
    login_as(client, w["manager"])
    response = client.get(f"/projects/{project_id}/status.pdf")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="status-rollout-{w["ours"].id}-{TODAY}.pdf"')
    text = _pdf(response)
    assert BRAND in text
    assert f"Rollout {w['ours'].id}" in text and "Acme Corp" in text and f"status on {TODAY}" in text
    assert "for Fran" not in text  # an internal download is drawn for no contact

    done = _section(text, "Milestones done", "Next milestones")
    assert f"Kickoff 2030-01-16 {TODAY} awaiting sign-off" in done and "Go-live" not in done
    upcoming = _section(text, "Next milestones", "Success criteria")
    assert "Go-live" in upcoming and "2030-02-08 2030-02-08 2030-02-13 3 working days late" in upcoming
    assert "Kickoff" not in upcoming

    criteria = _section(text, "Success criteria", "Open customer tasks")
    assert "Faster month-end close Days to close 10 5 — — On track" in criteria

    tasks = _section(text, "Open customer tasks", "Shared risks")
    assert f"Send the user list Your team To do {TODAY}" in tasks
    assert f"Approve the design Fran Full To do {TODAY}" in tasks
    assert "Configure SSO" not in tasks and "Kickoff call" not in tasks  # the team's tasks, a done one

    risks = text[text.index("Shared risks"):]
    assert ("Go-live forecasts 2030-02-13, 3 working days after its due date 2030-02-08 (planned 2030-02-08)."
            in risks)
    assert "Configure SSO (Go-live) is blocked · Our team · due 2030-02-13." in risks
    _clean(text, "internal download")


def test_progress_is_the_portals(app, client, w):
    login_contact(app, client, w["full"])
    html = client.get(f"/portal/projects/{w['a']['project']}").get_data(as_text=True)
    percent = re.search(r'data-testid="progress">(\d+)% complete', html).group(1)
    text = _pdf(client.get(f"/portal/projects/{w['a']['project']}/status.pdf"))
    assert (f"Progress {percent}% complete · kickoff {TODAY} · go-live planned {TODAY} · next: Go-live, forecast "
            "2030-02-13") in text
    assert f"Progress {percent}% complete" in _internal(app.test_client(), w)


@pytest.mark.parametrize("level, mine", [("full", ["Send the user list", "Approve the design"]),
                                         ("mine", ["Send the user list"]),
                                         ("overview", ["Send the user list"])])
def test_a_contact_gets_their_own_view_level(app, client, w, level, mine):
    contact = w[level]
    login_contact(app, client, contact)
    response = client.get(f"/portal/projects/{w['a']['project']}/status.pdf")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="status-rollout-{w["ours"].id}-{TODAY}.pdf"')
    text = _pdf(response)
    assert f"for {contact.name}" in text and BRAND in text and "Acme Corp" in text
    tasks = _section(text, "Open customer tasks", "Shared risks")
    for name in ("Send the user list", "Approve the design"):
        assert (name in tasks) == (name in mine), (level, name)
    if level == "full":
        assert f"Approve the design You To do {TODAY}" in tasks
    # the milestones and criteria are the project's at every level; a blocked task only where the level shows it
    assert "Kickoff 2030-01-16" in text and "Faster month-end close" in text
    assert "3 working days after its due date" in text
    assert ("Configure SSO" in text) == (level == "full")
    _clean(text, f"{level} download")


def test_nothing_internal_in_any_download(app, client, w, make):
    _clean(_internal(client, w), "manager's download")
    for role in ("admin", "leader"):
        other = app.test_client()
        login_as(other, make.user(role=role))
        _clean(_pdf(other.get(f"/projects/{w['a']['project']}/status.pdf")), f"{role}'s download")
    for level in ("full", "mine", "overview"):
        contact_client = app.test_client()
        login_contact(app, contact_client, w[level])
        _clean(_pdf(contact_client.get(f"/portal/projects/{w['a']['project']}/status.pdf")), level)


def test_the_report_draws_nothing_but_views(app, w):
    """render_portal's check: the report's context is portal views and plain values only."""
    from psa.portal import status_report
    from psa.portal.views import check_context
    from psa.projects.models import Project

    with app.app_context():
        project = db.session.get(Project, w["a"]["project"])
        report = status_report.status_report(status_report.internal_audience(project), project)
        check_context(report)
        with pytest.raises(TypeError, match="ORM object"):
            status_report.render_html({**report, "project": project})


# --- who may download it -----------------------------------------------------------------------------------------


def test_another_accounts_contact_gets_404(app, client, w):
    login_contact(app, client, w["other"])
    assert client.get(f"/portal/projects/{w['a']['project']}/status.pdf").status_code == 404
    assert client.get(f"/portal/projects/{w['b']['project']}/status.pdf").status_code == 200  # their own


def test_a_contact_gets_404_for_missing_cancelled_and_internal_routes(app, client, w):
    login_contact(app, client, w["full"])
    for project_id in (w["b"]["project"], w["cancelled"]["project"], 987654321):
        assert client.get(f"/portal/projects/{project_id}/status.pdf").status_code == 404, project_id
    assert client.get(f"/projects/{w['a']['project']}/status.pdf").status_code == 404  # contacts stay in the portal


def test_signed_out_requests_go_to_sign_in(client, w):
    response = client.get(f"/projects/{w['a']['project']}/status.pdf")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = client.get(f"/portal/projects/{w['a']['project']}/status.pdf")
    assert response.status_code == 302 and response.headers["Location"].startswith("/portal/login")


def test_an_internal_user_on_the_portal_route_goes_to_the_portal_sign_in(client, w):
    login_as(client, w["manager"])
    response = client.get(f"/portal/projects/{w['a']['project']}/status.pdf")
    assert response.status_code == 302 and response.headers["Location"].startswith("/portal/login")


def test_a_consultant_off_the_project_gets_what_the_project_page_gives(client, w, make):
    outsider = make.user(role="consultant")
    login_as(client, outsider)
    page = client.get(f"/projects/{w['a']['project']}").status_code
    assert page in (403, 404)
    assert client.get(f"/projects/{w['a']['project']}/status.pdf").status_code == page
    assert client.get("/projects/987654321/status.pdf").status_code == 404


def test_a_member_consultant_may_download_it(app, client, w, make):
    from psa.auth.models import User
    from psa.projects.models import project_members

    member = make.user(role="consultant")
    with app.app_context():
        db.session.execute(sa.insert(project_members).values(project_id=w["a"]["project"], user_id=member.id))
        db.session.commit()
        assert db.session.get(User, member.id) is not None
    login_as(client, member)
    assert client.get(f"/projects/{w['a']['project']}").status_code == 200
    _clean(_pdf(client.get(f"/projects/{w['a']['project']}/status.pdf")), "member's download")


def test_a_cancelled_project_has_no_status_report(client, w):
    login_as(client, w["manager"])
    assert client.get(f"/projects/{w['cancelled']['project']}").status_code == 200
    assert client.get(f"/projects/{w['cancelled']['project']}/status.pdf").status_code == 404


# --- the links -------------------------------------------------------------------------------------------------


def test_both_project_pages_link_to_it(app, client, w):
    project_id = w["a"]["project"]
    login_as(client, w["manager"])
    html = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert f'href="/projects/{project_id}/status.pdf" data-testid="status-pdf">Download status report (PDF)' in html
    preview = client.get(f"/portal/preview/projects/{project_id}?contact={w['full'].id}").get_data(as_text=True)
    assert 'data-testid="status-pdf"' not in preview  # the portal's link is the contact's, not the team's
    contact_client = app.test_client()
    login_contact(app, contact_client, w["full"])
    html = contact_client.get(f"/portal/projects/{project_id}").get_data(as_text=True)
    assert (f'href="/portal/projects/{project_id}/status.pdf" data-testid="status-pdf">Download status report (PDF)'
            in html)


def test_the_file_name():
    from types import SimpleNamespace

    from psa.portal.status_report import filename

    report = {"generated_on": TODAY}
    assert filename(SimpleNamespace(id=7, name="Überfall & Co / Phase 2"), report) == f"status-uberfall-co-phase-2-{TODAY}.pdf"
    assert filename(SimpleNamespace(id=7, name="日本"), report) == f"status-7-{TODAY}.pdf"
    assert filename(SimpleNamespace(id=7, name='a"b\r\nc'), report) == f"status-a-b-c-{TODAY}.pdf"
