"""`psa demo`: three published templates and a dozen projects at different stages, through the services,
and a dashboard worth looking at for every demo role."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.extensions import db
from psa.project_templates.models import (
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)
from psa.projects.models import Comment, Milestone, Project, SuccessCriterion, Task, task_dependencies
from tests.conftest import login_as


@pytest.fixture
def demo(app):
    """The demo loaded into the (empty) test database; returns the printed credentials."""
    from psa.demo import database_is_empty, load_demo

    with app.app_context():
        assert database_is_empty()
        credentials = load_demo()
        db.session.remove()
    return credentials


def test_demo_publishes_three_realistic_templates(app, demo):
    with app.app_context():
        versions = {v.template.name: v for v in db.session.scalars(sa.select(TemplateVersion))}
        assert set(versions) == {"Standard SaaS onboarding", "Enterprise implementation", "Integration add-on"}
        assert {v.state for v in versions.values()} == {"published"}
        expected = {"Standard SaaS onboarding": (5, 15, 45), "Enterprise implementation": (7, 30, 120),
                    "Integration add-on": (3, 8, 20)}
        for name, (milestone_count, task_count, ttv) in expected.items():
            version = versions[name]
            milestones = db.session.scalars(sa.select(TemplateMilestone)
                                            .where(TemplateMilestone.version_id == version.id)).all()
            tasks = db.session.scalars(sa.select(TemplateTask).where(
                TemplateTask.milestone_id.in_([m.id for m in milestones]))).all()
            assert len(milestones) == milestone_count, name
            assert abs(len(tasks) - task_count) <= 2, name
            assert version.target_ttv_days == ttv
            assert sum(m.fee_share_percent for m in milestones) == Decimal("100")
            assert sum(m.is_first_value for m in milestones) == 1
            assert {t.assignee_role for t in tasks} >= {"consultant", "customer"}
            assert {t.visibility for t in tasks} == {"internal", "shared"}
            dependencies = db.session.execute(sa.text(
                "SELECT count(*) FROM template_task_dependencies WHERE task_id IN "
                f"({','.join(str(t.id) for t in tasks)})")).scalar()
            assert dependencies >= len(tasks) // 2, name
            assert 2 <= db.session.scalar(sa.select(sa.func.count(TemplateCriterion.id))
                                          .where(TemplateCriterion.version_id == version.id)) <= 3
        assert db.session.scalar(sa.select(sa.func.count(Template.id))) == 3


def test_demo_projects_are_at_different_stages_with_mixed_health(app, demo):
    with app.app_context():
        projects = db.session.scalars(sa.select(Project)).all()
        assert len(projects) >= 12
        statuses = Counter(p.status for p in projects)
        assert statuses["active"] >= 5 and statuses["completed"] >= 2
        assert statuses["on_hold"] >= 1 and statuses["cancelled"] == 1
        open_health = Counter(p.health for p in projects if p.status in ("active", "on_hold"))
        assert open_health["green"] >= 1 and open_health["amber"] + open_health["red"] >= 2
        assert open_health["amber"] >= 1 and open_health["red"] >= 1
        assert len({p.account_id for p in projects}) == 6 and len({p.manager_id for p in projects}) >= 2
        assert all(p.template_version_id for p in projects)
        kickoffs = sorted(p.kickoff_date for p in projects)
        assert (kickoffs[-1] - kickoffs[0]).days >= 90  # spread over about four months
        completed = [p for p in projects if p.status == "completed"]
        assert all(p.progress_percent == 100 for p in completed)
        assert any(0 < p.progress_percent < 100 for p in projects if p.status == "active")
        assert any(p.max_slip_days > 0 for p in projects if p.status == "active")
        # done tasks are backdated to when they were due, so time-to-value reports have a history
        done = db.session.scalars(sa.select(Task).where(Task.status == "done")).all()
        assert len(done) > 50 and len({t.completed_at.date() for t in done}) > 20
        first_value = db.session.scalars(sa.select(Milestone).where(
            Milestone.is_first_value.is_(True), Milestone.status == "done")).all()
        assert len(first_value) >= 3 and all(m.completed_at for m in first_value)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(task_dependencies)) > 100
        assert db.session.scalar(sa.select(sa.func.count(Task.id)).where(Task.status == "blocked")) >= 1
        members = db.session.execute(sa.text("SELECT count(*) FROM project_members")).scalar()
        assert members >= 2 * len(projects)
        criteria = Counter(db.session.scalars(sa.select(SuccessCriterion.status)))
        assert {"achieved", "on_track", "at_risk"} <= set(criteria)
        assert set(db.session.scalars(sa.select(Comment.visibility))) == {"internal", "shared"}
        # everyone has work: open tasks assigned to each consultant in open projects
        assigned = set(db.session.scalars(
            sa.select(Task.assignee_id).join(Project, Project.id == Task.project_id)
            .where(Task.status != "done", Project.status.in_(("active", "planned", "on_hold")))))
        consultants = set(db.session.execute(sa.text("SELECT id FROM users WHERE role = 'consultant'")).scalars())
        assert consultants <= assigned


def test_dashboard_renders_for_every_demo_role(app, demo):
    from psa.demo import DEMO_USERS

    seen_rows = {}
    for name, email, role, _, _ in DEMO_USERS:
        client = app.test_client()

        class Demo:
            pass

        Demo.email = email
        login_as(client, Demo, password=f"{role}-demo-pass")
        response = client.get("/")
        assert response.status_code == 200, email
        html = response.get_data(as_text=True)
        assert f"Welcome, {name}" in html
        seen_rows[email] = html.count('data-testid="project-row"')
        assert seen_rows[email] >= 1, email
        if role != "admin":
            assert 'data-testid="my-task"' in html, email  # every demo user has open work
        assert 'data-testid="due-milestone"' in html, email
        assert client.get("/?status=all&sort=-slip").status_code == 200
    assert seen_rows["admin@demo.psa"] == seen_rows["leader@demo.psa"] > seen_rows["consultant2@demo.psa"]


def test_large_scale_adds_the_generated_history(app, monkeypatch):
    """`psa demo --scale large` loads the small demo, then psa.demo_large's history (here at its test scale),
    and prints the phases, the row counts and the heavy user's credentials (tests/test_demo_large.py checks the
    rows)."""
    import psa.demo
    import psa.demo_large

    monkeypatch.setattr(psa.demo_large, "FULL", psa.demo_large.SMALL)
    result = app.test_cli_runner().invoke(args=["demo", "--scale", "large"])
    assert result.exit_code == 0, result.output
    assert "time entries" in result.output and "audit events" in result.output
    assert psa.demo_large.HEAVY_EMAIL in result.output
    with app.app_context():
        small = len(psa.demo.DEMO_PROJECTS)
        scale = psa.demo_large.SMALL
        assert db.session.scalar(sa.select(sa.func.count(Project.id))) == small + scale.projects + 1
        names = [spec.name for spec in psa.demo.DEMO_PROJECTS]
        generated = db.session.scalars(sa.select(Project).where(Project.name.not_in(names))).all()
        assert len(generated) == scale.projects + 1
        assert all(p.schedule_refreshed_on for p in generated)
        assert any(p.progress_percent > 0 for p in generated)
        completed = [p for p in generated if p.status == "completed"]
        assert all(p.progress_percent == 100 for p in completed)


def test_demo_has_rates_and_time_in_every_state(app):
    import sqlalchemy as sa

    from psa.extensions import db
    from psa.timesheets.models import TimeEntry, TimeOff, Timesheet, UserRate

    app.test_cli_runner().invoke(args=["demo"])
    with app.app_context():
        states = set(db.session.scalars(sa.select(Timesheet.state)))
        assert states == {"draft", "submitted", "approved", "rejected"}
        assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) > 200
        assert db.session.scalar(sa.select(sa.func.count(TimeOff.id))) > 0
        # every entry carries rates resolved for its date: never both zero for consultants
        zero = db.session.scalar(sa.select(sa.func.count(TimeEntry.id)).where(TimeEntry.cost_rate == 0))
        assert zero == 0
        assert db.session.scalar(sa.select(sa.func.count(UserRate.id))) == 14  # two per user


def test_demo_has_portal_contacts_with_their_tasks_a_sign_off_and_ratings(app, demo):
    """Two or three active contacts per account who can sign in to the portal, the customer tasks of each
    project given to them (some left with the customer as a group), one signed-off milestone and a few ratings,
    all named on the internal pages; no e-mail queued for a demo address."""
    from psa.accounts.models import Account, Contact
    from psa.core.models import AuditEvent, OutboxEmail
    from psa.demo import CONTACT_PASSWORD, demo_contact_sign_ins
    from psa.projects.models import MilestoneRating

    with app.app_context():
        per_account = Counter(db.session.scalars(sa.select(Contact.account_id).where(
            Contact.is_active_contact.is_(True))).all())
        assert len(per_account) == db.session.scalar(sa.select(sa.func.count(Account.id))) == 6
        assert all(2 <= n <= 3 for n in per_account.values())
        contacts = db.session.scalars(sa.select(Contact)).all()
        assert all(c.check_password(CONTACT_PASSWORD) for c in contacts)
        sign_ins = demo_contact_sign_ins()
        assert len(sign_ins) == len(contacts) and ("dana@contoso.demo", "Contoso Health", CONTACT_PASSWORD) in sign_ins
        customer = db.session.execute(sa.select(Task.assignee_contact_id, Task.project_id, Contact.account_id)
                                      .outerjoin(Contact, Contact.id == Task.assignee_contact_id)
                                      .where(Task.assignee_role == "customer")).all()
        assigned = [row for row in customer if row.assignee_contact_id]
        assert len(assigned) >= len(customer) // 2 and len(assigned) < len(customer)
        project_accounts = dict(db.session.execute(sa.select(Project.id, Project.account_id)).all())
        assert all(row.account_id == project_accounts[row.project_id] for row in assigned)
        signed = db.session.scalars(sa.select(Milestone).where(Milestone.signed_off_at.is_not(None))).all()
        assert len(signed) == 1 and signed[0].requires_signoff and signed[0].status == "done"
        ratings = db.session.scalars(sa.select(MilestoneRating)).all()
        assert len(ratings) >= 3
        assert all(db.session.get(Milestone, r.milestone_id).status == "done" for r in ratings)
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.actor_contact_id.is_not(None))) == len(ratings) + 1
        assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id)).where(
            OutboxEmail.to_address.like("%.demo"))) == 0
        project_id = signed[0].project_id
        manager = db.session.scalar(sa.select(Project.manager_id).where(Project.id == project_id))
        from psa.auth.models import User

        manager = db.session.get(User, manager)
    client = app.test_client()
    login_as(client, manager, password="manager-demo-pass")
    page = client.get(f"/projects/{project_id}").get_data(as_text=True)
    assert "Signed off by Gina Globe on" in page and "Rated 5.0 / 5 by 1" in page
    assert "Gina Globe (customer)" in page  # the activity feed
    assert "No ratings yet" not in client.get("/projects/csat").get_data(as_text=True)
