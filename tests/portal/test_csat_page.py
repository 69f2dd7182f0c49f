"""/projects/csat: the customers' milestone ratings averaged per project, per template and per project manager,
in SQL, over the projects the user may see; an empty state before any rating; the project page shows each done
milestone's ratings, its sign-off, and links here."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from psa.core.db import utcnow
from psa.extensions import db
from psa.projects.models import Milestone, MilestoneRating
from tests.conftest import login_as
from tests.projects.helpers import ONBOARDING, build_template, create_project


def _rate(app, project: dict, milestone: str, contact, score: int, comment: str = "") -> None:
    with app.app_context():
        db.session.add(MilestoneRating(milestone_id=project["milestones"][milestone], contact_id=contact.id,
                                       project_id=project["id"], score=score, comment=comment))
        db.session.commit()


def _cells(html: str, testid: str) -> list[tuple[str, str, str]]:
    section = html[html.index(f'data-testid="{testid}"'):]
    section = section[section.index("<tbody>"):section.index("</section>")]
    rows = re.findall(r"<tr><th[^>]*>(.*?)</th>\s*<td[^>]*>(.*?)</td><td[^>]*>(.*?)</td></tr>", section, re.S)
    return [(re.sub(r"<[^>]+>", "", name.split("<small")[0]).strip(), avg, count) for name, avg, count in rows]


def test_averages_per_project_template_and_manager_for_what_the_user_sees(app, client, make):
    leader = make.user(role="leader")
    mia, max_ = make.user(role="manager", name="Mia Manager"), make.user(role="manager", name="Max Manager")
    version = build_template(app, ONBOARDING)
    account = make.account(name="Contoso")
    dana, eli = make.contact(account=account, name="Dana Doe"), make.contact(account=account, name="Eli Roe")
    first = create_project(app, version, mia.id, account.id, date(2030, 1, 7))
    second = create_project(app, version, max_.id, account.id, date(2030, 1, 7))
    blank = create_project(app, None, mia.id, account.id, date(2030, 1, 7))
    with app.app_context():
        from psa.projects import services
        from psa.projects.models import Project

        milestone = services.add_milestone_to_project(None, db.session.get(Project, blank["id"]), name="Done",
                                                      due_date=date(2030, 1, 8))
        db.session.commit()
        blank["milestones"] = {"Done": milestone.id}
    _rate(app, first, "Kickoff", dana, 5, "Great kickoff")
    _rate(app, first, "Kickoff", eli, 4)
    _rate(app, first, "Go-live", dana, 4)       # first: 13 / 3 = 4.3
    _rate(app, second, "Kickoff", dana, 2)      # second: 2
    _rate(app, blank, "Done", dana, 3)          # blank: 3

    login_as(client, leader)
    html = client.get("/projects/csat").get_data(as_text=True)
    with app.app_context():
        names = dict(db.session.execute(sa.text("SELECT id, name FROM projects")).all())
    assert _cells(html, "csat-projects") == [(names[first["id"]], "4.3", "3"), (names[blank["id"]], "3.0", "1"),
                                             (names[second["id"]], "2.0", "1")]
    templates = _cells(html, "csat-templates")
    assert [(avg, count) for _, avg, count in templates] == [("3.8", "4"), ("3.0", "1")]  # 15 / 4 = 3.75
    assert templates[1][0] == "Blank projects"
    assert _cells(html, "csat-managers") == [("Mia Manager", "4.0", "4"), ("Max Manager", "2.0", "1")]
    assert "Overall 3.6 from 5 ratings" in html  # 18 / 5

    # a manager sees only their projects' ratings
    other = app.test_client()
    login_as(other, max_)
    html = other.get("/projects/csat").get_data(as_text=True)
    assert _cells(html, "csat-projects") == [(names[second["id"]], "2.0", "1")]
    assert "Mia Manager" not in html


def test_an_empty_state_before_any_rating(client, make):
    login_as(client, make.user(role="manager"))
    html = client.get("/projects/csat").get_data(as_text=True)
    assert "No ratings yet" in html and 'data-testid="csat-projects"' not in html


def test_the_project_page_shows_sign_off_and_ratings(app, client, make):
    mia = make.user(role="manager", name="Mia Manager")
    account = make.account(name="Contoso")
    dana = make.contact(account=account, name="Dana Doe")
    spec = [dict(m, requires_signoff=True) for m in ONBOARDING]
    project = create_project(app, build_template(app, spec), mia.id, account.id, date(2030, 1, 7))
    with app.app_context():
        kickoff = db.session.get(Milestone, project["milestones"]["Kickoff"])
        kickoff.status, kickoff.completed_at = "done", utcnow()
        kickoff.signed_off_at, kickoff.signed_off_by_contact_id = utcnow(), dana.id
        db.session.commit()
    _rate(app, project, "Kickoff", dana, 4, "Smooth start")
    login_as(client, mia)
    html = client.get(f"/projects/{project['id']}").get_data(as_text=True)
    assert re.search(r"Signed off by Dana Doe on \d{4}-\d\d-\d\d \d\d:\d\d [A-Z+\-0-9]+</span>", html)
    assert "Awaiting the customer's sign-off" in html  # Go-live
    assert "Rated 4.0 / 5 by 1" in html and "4 / 5 · Dana Doe: “Smooth start”" in html
    assert 'href="/projects/csat"' in html
