"""The escalations page (open and resolved, filters, acknowledge with a note, who sees what), the project page's
open escalations, and a plan change swept in the request when Redis does not answer."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from psa.core.clock import frozen
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.projects.models import Escalation
from tests.conftest import csrf_token, login_as, post_form
from tests.escalations.conftest import at, build_project, escalation_rows, notified, refresh_and_sweep

DAY = date(2026, 11, 19)


def _two_projects(app, make, people):
    """Contoso rollout (Mia's, Cleo on it): Build due Fri 13 Nov, slip 16-19 = 4 → level 2. Globex pilot (Olga's):
    Launch due Wed 18, slip 1 → level 1. Swept on Thu 19 Nov."""
    a = build_project(app, people, make, milestones=[
        ("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1)])])
    b = build_project(app, people, make, name="Globex pilot", account_name="Globex", manager="olga", members=(),
                      milestones=[("Launch", date(2026, 11, 18), [("Switch on", date(2026, 11, 18), 1)])])
    refresh_and_sweep(app, DAY)
    return a, b


def _rows(page: str) -> list[tuple[str, str]]:
    """(level, milestone) of each row of the escalations page."""
    return re.findall(r'data-testid="escalation-row" data-escalation="\d+" data-level="(\d)">.*?<a href="[^"]+">([^<]+)</a>',
                      page, re.S)


def test_the_page_lists_filters_and_acknowledges(app, client, make, people):
    a, b = _two_projects(app, make, people)
    with frozen(at(date(2026, 11, 25))):
        login_as(client, people["lee"])
        page = client.get("/escalations/").get_data(as_text=True)
        assert _rows(page) == [("2", "Build"), ("1", "Launch")]
        assert f'href="/projects/{a["project"]}#milestone-{a["milestones"]["Build"]}"' in page
        assert _rows(client.get("/escalations/?level=1").get_data(as_text=True)) == [("1", "Launch")]
        assert _rows(client.get(f"/escalations/?manager={people['mia'].id}").get_data(as_text=True)) == [("2", "Build")]
        assert _rows(client.get(f"/escalations/?account={b['account']}").get_data(as_text=True)) == [("1", "Launch")]
        assert len(_rows(client.get("/escalations/?age=3").get_data(as_text=True))) == 2  # opened 6 days ago
        assert _rows(client.get("/escalations/?age=7").get_data(as_text=True)) == []
        assert _rows(client.get("/escalations/?state=resolved").get_data(as_text=True)) == []
        assert client.get("/escalations/?level=9&manager=x&age=-1&page=999999999999").status_code == 200

        with app.app_context():
            build = db.session.scalar(sa.select(Escalation.id).where(
                Escalation.milestone_id == a["milestones"]["Build"]))
        # without the CSRF token: refused, nothing changes
        refused = client.post("/escalations/acknowledge", data={"escalation_id": build, "note": "x"})
        assert refused.status_code == 400
        response = post_form(client, "/escalations/acknowledge", {"escalation_id": build, "note": "Chasing the vendor"},
                             token_from="/escalations/")
        assert response.status_code == 302
        page = client.get("/escalations/").get_data(as_text=True)
        assert "Lee Leader, 2026-11-25 12:00 UTC" in page and "Chasing the vendor" in page
        again = post_form(client, "/escalations/acknowledge", {"escalation_id": build, "note": "Twice"},
                          token_from="/escalations/")
        assert again.status_code == 409
        with app.app_context():
            events = db.session.execute(sa.select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.after)
                                        .where(AuditEvent.action == "escalation.acknowledged")).all()
            assert [(e.actor_id, e.after["note"]) for e in events] == [(people["lee"].id, "Chasing the vendor")]

        # the project page shows its open escalations, one line each
        project_page = client.get(f"/projects/{a['project']}").get_data(as_text=True)
        block = re.search(r'data-testid="project-escalations".*?</ul>', project_page, re.S).group(0)
        assert "Escalation level 2" in block and "Build" in block and "slip 4 working days" in block
        assert "acknowledged by Lee Leader" in block
        other = client.get(f"/projects/{b['project']}").get_data(as_text=True)
        assert 'href="/escalations/">Acknowledge</a>' in other
        assert "Escalation level 2 open on Build" in project_page  # health's reason


def test_a_consultant_sees_only_their_projects_escalations(app, client, make, people):
    a, b = _two_projects(app, make, people)
    with app.app_context():
        launch = db.session.scalar(sa.select(Escalation.id).where(Escalation.milestone_id == b["milestones"]["Launch"]))
    with frozen(at(DAY)):
        login_as(client, people["cleo"])
        assert _rows(client.get("/escalations/").get_data(as_text=True)) == [("2", "Build")]
        # another project's escalation: not found, and unchanged
        response = post_form(client, "/escalations/acknowledge", {"escalation_id": launch, "note": "Mine now"},
                             token_from="/escalations/")
        assert response.status_code == 404
        assert post_form(client, "/escalations/acknowledge", {"escalation_id": "9" * 30},
                         token_from="/escalations/").status_code == 404
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    with frozen(at(DAY)):
        login_as(client, people["zed"])
        assert _rows(client.get("/escalations/").get_data(as_text=True)) == []
    assert [row[-1] for row in escalation_rows(app)] == [False, False]


def test_with_redis_down_completing_a_task_sweeps_in_the_request(app, client, make, people, monkeypatch):
    # Build (due Fri 13 Nov) has two tasks; on Thu 19 Nov it slips 16, 17, 18, 19 = 4 working days: level 2
    ids = build_project(app, people, make, milestones=[
        ("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1), ("Review", date(2026, 11, 13), 1)])])
    assert escalation_rows(app) == []
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # a closed port
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    with frozen(at(DAY)):
        login_as(client, people["mia"])
        response = post_form(client, f"/projects/tasks/{ids['tasks']['Configure']}/quick", {"action": "done"},
                             token_from=f"/projects/{ids['project']}")
        assert response.status_code == 302
    assert escalation_rows(app) == [(ids["milestones"]["Build"], 2, "overdue", 4, 2, False, None, False)]
    assert [name for name, _ in notified(app)] == ["Mia Manager", "Lee Leader"]
    with frozen(at(DAY)):
        page = client.get(f"/projects/{ids['project']}").get_data(as_text=True)
    assert "Escalation level 2 open on Build" in page
