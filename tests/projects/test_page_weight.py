"""The project page stays light at size: a 400-task project is a read-only plan (no form per task) under
300 KB of HTML, in as many SQL statements as a 4-task one; and the activity feed, one UNION ALL branch per
object type, lists the same events in the same order as the single OR'd query it replaced."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from psa.core.models import AuditEvent
from psa.extensions import db
from psa.projects import services
from psa.projects.models import Attachment, Milestone, SuccessCriterion, Task
from tests.conftest import login_as
from tests.projects.helpers import build_template, create_project, grid

MAX_PAGE_BYTES = 300_000


def _plan(milestones: int, tasks: int) -> list[dict]:
    """helpers.grid with names of a realistic length (about 30 characters), each task after the one before."""
    spec = grid(milestones, tasks)
    renamed = {}
    for m in spec:
        m["name"] = f"{m['name']} — configuration and rollout"
        for t in m["tasks"]:
            renamed[t["name"]] = t["name"] = f"{t['name']} Configure SSO (SAML)"
            t["predecessors"] = [renamed[p] for p in t["predecessors"]]
    return spec


def _add_activity(app, project: dict, actor_id: int, count: int) -> None:
    """`count` task changes in the audit log, as update_task records them (before → after)."""
    with app.app_context():
        task_ids = list(project["tasks"].values())
        db.session.add_all(AuditEvent(actor_id=actor_id, action="task.updated", object_type="task",
                                      object_id=task_ids[n % len(task_ids)],
                                      before={"status": "todo", "due_date": "2030-01-10"},
                                      after={"status": "in_progress", "due_date": "2030-01-14"})
                           for n in range(count))
        db.session.commit()


def test_a_400_task_project_page_is_under_300_kb_in_as_many_statements_as_a_4_task_one(
        app, client, make, count_queries):
    manager, consultant = make.user(role="manager"), make.user(role="consultant")
    account = make.account()
    with app.app_context():
        kickoff = services.org_today()
    small = create_project(app, build_template(app, _plan(2, 2), criteria=({"outcome": "Adoption"},)),
                           manager.id, account.id, kickoff, member_ids=(consultant.id,))
    large = create_project(app, build_template(app, _plan(20, 20), criteria=({"outcome": "Adoption"},)),
                           manager.id, account.id, kickoff,
                           member_ids=(consultant.id, *[make.user().id for _ in range(8)]))
    _add_activity(app, small, consultant.id, 3)
    _add_activity(app, large, consultant.id, 80)

    login_as(client, consultant)
    assert client.get(f"/projects/{small['id']}").status_code == 200  # warm-up
    with count_queries() as few:
        small_page = client.get(f"/projects/{small['id']}")
    with count_queries() as many:
        large_page = client.get(f"/projects/{large['id']}")
    assert small_page.status_code == large_page.status_code == 200
    html = large_page.get_data(as_text=True)
    assert html.count('data-testid="task-row"') == 400 and html.count('data-testid="milestone"') == 20
    assert html.count('data-testid="activity"') == 50
    assert len(re.findall(rf'href="/projects/{large["id"]}/tasks/\d+/edit"', html)) == 400  # an Edit link each
    # a form per milestone; add a task, a milestone, a criterion; comment; upload (a criterion's form only once
    # its Edit link is followed; the quick-actions panel is one <template> for the whole plan)
    assert len(re.findall(r'<form[^>]*action="/projects/', html)) == 20 + 5
    assert html.count('id="psa-quick-panel"') == 1
    size = len(large_page.get_data())
    print(f"\n400-task project page ({app.config['BACKEND']}): {size} bytes, {len(many)} statements")
    assert size < MAX_PAGE_BYTES, size
    assert len(few) == len(many), "\n".join(["4 tasks:", *few, "", "400 tasks:", *many])


# --- the activity feed --------------------------------------------------------------------------------


def _old_activity(project_id: int, limit: int) -> list[AuditEvent]:
    """The feed's query before issue 11: one OR of IN subqueries, newest first."""
    def ids(model):
        return sa.select(model.id).where(model.project_id == project_id)

    return db.session.scalars(
        sa.select(AuditEvent).options(joinedload(AuditEvent.actor)).where(sa.or_(
            sa.and_(AuditEvent.object_type == "project", AuditEvent.object_id == project_id),
            sa.and_(AuditEvent.object_type == "milestone", AuditEvent.object_id.in_(ids(Milestone))),
            sa.and_(AuditEvent.object_type == "task", AuditEvent.object_id.in_(ids(Task))),
            sa.and_(AuditEvent.object_type == "successcriterion", AuditEvent.object_id.in_(ids(SuccessCriterion))),
            sa.and_(AuditEvent.object_type == "attachment", AuditEvent.object_id.in_(ids(Attachment))),
        )).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    ).all()


def test_the_union_all_feed_lists_the_same_events_in_the_same_order_as_the_or_query(app, make):
    manager = make.user(role="manager", name="Mia Manager")
    account = make.account()
    version = build_template(app, grid(2, 3), criteria=({"outcome": "Adoption"}, {"outcome": "Speed"}))
    ours = create_project(app, version, manager.id, account.id, datetime(2030, 1, 7).date())
    other = create_project(app, version, manager.id, account.id, datetime(2030, 1, 7).date())

    with app.app_context():
        def objects(project):
            criteria = db.session.scalars(sa.select(SuccessCriterion.id)
                                          .where(SuccessCriterion.project_id == project["id"])).all()
            return ([("project", project["id"])] + [("milestone", i) for i in project["milestones"].values()]
                    + [("task", i) for i in project["tasks"].values()]
                    + [("successcriterion", i) for i in criteria])

        db.session.execute(sa.delete(AuditEvent))
        mine, theirs = objects(ours), objects(other)
        # an attachment row, so the attachment branch has an id to match (no file is needed for the feed)
        attachment = Attachment(project_id=ours["id"], original_name="sow.pdf", stored_name="x", size_bytes=1,
                                content_type="application/pdf")
        db.session.add(attachment)
        db.session.flush()
        mine.append(("attachment", attachment.id))
        start = datetime(2030, 1, 1, 9, tzinfo=UTC)
        events = []
        for n in range(180):
            # every object of both projects in turn, several events sharing one instant (ties break by id),
            # plus events of other kinds whose ids collide with ours ("user" #id) that must not show
            object_type, object_id = (mine + theirs)[n % len(mine + theirs)]
            at = start + timedelta(minutes=(n * 7) % 60 // 3)
            events.append(AuditEvent(actor_id=manager.id if n % 2 else None, action=f"{object_type}.updated",
                                     object_type=object_type, object_id=object_id, at=at))
            events.append(AuditEvent(action="user.updated", object_type="user", object_id=object_id, at=at))
        db.session.add_all(events)
        db.session.commit()

        total = len(_old_activity(ours["id"], 1000))
        assert total == sum(1 for e in events if (e.object_type, e.object_id) in set(mine)) > 50
        for limit in (1, 7, 50, 1000):
            old = [(e.id, e.at, e.actor.name if e.actor else None) for e in _old_activity(ours["id"], limit)]
            new = [(e.id, e.at, e.actor.name if e.actor else None)
                   for e in services.project_activity(ours["id"], limit)]
            assert new == old, limit
            assert len(new) == min(limit, total)
        # the page's feed is the newest 50, and it names who acted
        feed = services.project_activity(ours["id"])
        assert len(feed) == 50 and {e.actor.name for e in feed if e.actor} == {"Mia Manager"}
        assert all(e.object_type != "user" for e in feed)
