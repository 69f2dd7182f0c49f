"""A published template version is frozen by the database's view of it: publishes and draft edits sent at
once apply one after the other, so a version is either published as it was judged (shares summing to
100 %, nothing added after) or still a draft; two "new draft" at once give one draft."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict

from psa.auth.models import User
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.project_templates import services as s
from psa.project_templates.models import (
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)
from tests.concurrency.helpers import ROUNDS, no_errors, race


def _draft(app, admin_id: int, name: str) -> tuple[int, int, int]:
    """A publishable draft (Kickoff 50 %, Go-live 50 %, one task): (version id, kickoff id, task id)."""
    with app.app_context():
        admin = db.session.get(User, admin_id)
        version = s.create_template(admin, name=name)
        kickoff = s.add_milestone(admin, version, name="Kickoff", fee_share_percent=Decimal("50"))
        s.add_milestone(admin, version, name="Go-live", offset_days=10, fee_share_percent=Decimal("50"))
        task = s.add_task(admin, kickoff, name="Kickoff call")
        db.session.commit()
        return version.id, kickoff.id, task.id


def _state(app, version_id: int) -> tuple[str, Decimal, int, int, int]:
    """(state, sum of fee shares, milestones, tasks, criteria) as committed."""
    with app.app_context():
        version = db.session.get(TemplateVersion, version_id)
        shares = db.session.scalars(sa.select(TemplateMilestone.fee_share_percent)
                                    .where(TemplateMilestone.version_id == version_id)).all()
        tasks = db.session.scalar(sa.select(sa.func.count()).select_from(TemplateTask).join(TemplateMilestone)
                                  .where(TemplateMilestone.version_id == version_id))
        criteria = db.session.scalar(sa.select(sa.func.count()).select_from(TemplateCriterion)
                                     .where(TemplateCriterion.version_id == version_id))
        return version.state, sum(shares, Decimal("0")), len(shares), tasks, criteria


def _published_events(app, template_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "template.published", AuditEvent.object_id == template_id))


def test_publishes_and_draft_edits_at_once_leave_a_consistent_version(app, make):
    admin = make.user(role="admin")
    for round_ in range(ROUNDS):
        version_id, kickoff_id, task_id = _draft(app, admin.id, f"Onboarding {round_}")
        log: list[tuple[int, str]] = []

        def act(i, go, version_id=version_id, kickoff_id=kickoff_id, task_id=task_id, log=log):
            actor = db.session.get(User, admin.id)
            version = db.session.get(TemplateVersion, version_id)
            kickoff = db.session.get(TemplateMilestone, kickoff_id)
            task = db.session.get(TemplateTask, task_id)
            go()
            kind = ("publish", "add_milestone", "publish", "update_milestone", "add_task", "add_criterion",
                    "move", "update_task")[i % 8]
            if kind == "publish":
                s.publish_version(actor, version)
            elif kind == "add_milestone":  # 50 + 50 + 50 = 150 %: publishable only before this lands
                s.add_milestone(actor, version, name="Hypercare", fee_share_percent=Decimal("50"))
            elif kind == "update_milestone":
                s.update_milestone(actor, kickoff, name="Kickoff", fee_share_percent=Decimal("30"))
            elif kind == "add_task":
                s.add_task(actor, kickoff, name="Configure")
            elif kind == "add_criterion":
                s.add_criterion(actor, version, outcome="Faster close")
            elif kind == "move":
                s.move(actor, kickoff, 1)
            else:
                s.update_task(actor, task, name="Kickoff call (90 min)")
            log.append((i, kind))  # still holding the version's lock: appended in commit order
            db.session.commit()
            return kind

        outcomes = race(app, act)
        no_errors(outcomes)
        state, total, milestones, tasks, criteria = _state(app, version_id)
        done = [kind for _, kind in log]
        with app.app_context():
            template_id = db.session.get(TemplateVersion, version_id).template_id
        if state == "published":
            assert total == Decimal("100")
            assert done.count("publish") == 1 and done[-1] == "publish", done  # nothing changed after it
            assert _published_events(app, template_id) == 1
            refused = [o for o in outcomes if o.kind != "ok"]
            assert all(isinstance(o.value, Conflict) or "publish" in getattr(o.value, "errors", {})
                       for o in refused)
        else:
            assert state == "draft" and "publish" not in done
            assert _published_events(app, template_id) == 0
        # every edit that answered ok is in the version, and no other
        assert milestones == 2 + done.count("add_milestone")
        assert tasks == 1 + done.count("add_task")
        assert criteria == done.count("add_criterion")


def test_two_new_drafts_at_once_give_one_draft_and_no_error(app, make):
    admin = make.user(role="admin")
    for round_ in range(ROUNDS):
        version_id, _, _ = _draft(app, admin.id, f"Rollout {round_}")
        with app.app_context():
            s.publish_version(db.session.get(User, admin.id), db.session.get(TemplateVersion, version_id))
            db.session.commit()
            template_id = db.session.get(TemplateVersion, version_id).template_id

        def draft(i, go, template_id=template_id):
            actor = db.session.get(User, admin.id)
            template = db.session.get(Template, template_id)
            go()
            new = s.new_draft(actor, template)
            db.session.commit()
            return new.id

        outcomes = race(app, draft)
        no_errors(outcomes)
        assert {o.kind for o in outcomes} == {"ok"}
        with app.app_context():
            drafts = db.session.scalars(sa.select(TemplateVersion.id).where(
                TemplateVersion.template_id == template_id, TemplateVersion.state == "draft")).all()
            created = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "template.draft_created", AuditEvent.object_id == template_id))
        assert len(drafts) == 1 and {o.value for o in outcomes} == {drafts[0]}
        assert created == 1


def test_two_new_drafts_through_the_page_both_land_on_the_one_draft(app, make):
    from tests.conftest import csrf_token, login_as

    admin = make.user(role="admin")
    version_id, _, _ = _draft(app, admin.id, "Through the page")
    with app.app_context():
        s.publish_version(db.session.get(User, admin.id), db.session.get(TemplateVersion, version_id))
        db.session.commit()
    clients = [app.test_client() for _ in range(2)]
    for client in clients:
        login_as(client, admin)
    responses = {}

    def post(i, go):
        token = csrf_token(clients[i], f"/templates/versions/{version_id}")
        go()
        response = clients[i].post(f"/templates/versions/{version_id}/new-draft", data={"csrf_token": token})
        responses[i] = (response.status_code, response.headers.get("Location"))

    no_errors(race(app, post, threads=2, app_context=False))
    assert [code for code, _ in responses.values()] == [302, 302]
    assert responses[0][1] == responses[1][1]  # both sent to the same draft


# --- the loser changes nothing (no threads: the row changes underneath) --------------------------------


def _publish_underneath(app, version_id: int) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.update(TemplateVersion).where(TemplateVersion.id == version_id).values(state="published"))


@pytest.mark.parametrize("operation", ["publish", "add_milestone", "update_milestone", "delete_milestone",
                                       "add_task", "update_task", "delete_task", "predecessors", "move",
                                       "add_criterion", "details"])
def test_a_write_to_a_version_published_underneath_is_a_conflict_and_changes_nothing(app, make, operation):
    admin = make.user(role="admin")
    version_id, kickoff_id, task_id = _draft(app, admin.id, "Frozen underneath")
    before = _state(app, version_id)
    with app.app_context():
        actor = db.session.get(User, admin.id)
        version = db.session.get(TemplateVersion, version_id)
        kickoff = db.session.get(TemplateMilestone, kickoff_id)
        task = db.session.get(TemplateTask, task_id)
        assert version.is_draft  # read as the builder showed it …
        _publish_underneath(app, version_id)  # … then another request published it
        call = {
            "publish": lambda: s.publish_version(actor, version),
            "add_milestone": lambda: s.add_milestone(actor, version, name="Late", fee_share_percent=Decimal("50")),
            "update_milestone": lambda: s.update_milestone(actor, kickoff, name="Renamed"),
            "delete_milestone": lambda: s.delete_milestone(actor, kickoff),
            "add_task": lambda: s.add_task(actor, kickoff, name="Late task"),
            "update_task": lambda: s.update_task(actor, task, name="Renamed"),
            "delete_task": lambda: s.delete_task(actor, task),
            "predecessors": lambda: s.set_predecessors(actor, task, []),
            "move": lambda: s.move(actor, kickoff, 1),
            "add_criterion": lambda: s.add_criterion(actor, version, outcome="Late"),
            "details": lambda: s.update_version_details(actor, version, name="Renamed", description="",
                                                        target_ttv_days=None, notes=""),
        }[operation]
        with pytest.raises(Conflict, match="published and frozen"):
            call()
        db.session.commit()
    assert _state(app, version_id) == ("published", *before[1:])
    with app.app_context():
        assert db.session.get(TemplateMilestone, kickoff_id).name == "Kickoff"
        assert db.session.get(TemplateTask, task_id).name == "Kickoff call"
        assert db.session.get(TemplateVersion, version_id).template.name == "Frozen underneath"


def test_new_draft_returns_the_draft_another_request_made_meanwhile(app, make):
    admin = make.user(role="admin")
    version_id, _, _ = _draft(app, admin.id, "Drafted underneath")
    with app.app_context():
        actor = db.session.get(User, admin.id)
        s.publish_version(actor, db.session.get(TemplateVersion, version_id))
        db.session.commit()
        template = db.session.get(TemplateVersion, version_id).template
        assert s.draft_of(template) is None  # read as the builder showed it …
        with app.app_context():  # … then another request made the draft
            other = s.new_draft(db.session.get(User, admin.id), db.session.get(Template, template.id))
            db.session.commit()
            other_id = other.id
        assert s.new_draft(actor, template).id == other_id
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion)
                                 .where(TemplateVersion.template_id == template.id)) == 2
