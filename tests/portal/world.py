"""A portal test world: two customer accounts, each with a project holding one of everything a contact may and
may not see. Every internal text carries a marker (INTERNAL-...) that no portal page may ever show."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from psa.extensions import db

#: Text of internal rows and fields; none may appear on a portal page.
MARKERS = {
    "task": "INTERNAL-TASK-7f3a", "comment": "INTERNAL-COMMENT-2b9c", "file": "INTERNAL-FILE-91de.pdf",
    "milestone": "INTERNAL-MILESTONE-44aa", "hidden_task": "INTERNAL-HIDDEN-MS-TASK-5c1e",
    "blocked": "INTERNAL-BLOCKED-REASON-0d2f", "note": "INTERNAL-TIME-NOTE-8e7b", "health": "INTERNAL-HEALTH-3a6c",
    "other_project": "OTHER-ACCOUNT-PROJECT-6d0b", "other_task": "OTHER-ACCOUNT-TASK-1a2b",
    "other_comment": "OTHER-ACCOUNT-COMMENT-9f8e", "other_file": "OTHER-ACCOUNT-FILE-77cc.pdf",
    "other_criterion": "OTHER-ACCOUNT-CRITERION-3d4e", "other_milestone": "OTHER-ACCOUNT-MILESTONE-5e6f",
    "cancelled": "CANCELLED-PROJECT-2c3d",
}
#: Figures of internal money and rates (as they would be printed).
MONEY = ("987654.32", "987,654.32", "4321.09", "4,321.09", "1234.56", "1,234.56")
PDF = b"%PDF-1.4\n% test file\n"


def build_project(app, *, manager_id: int, account_id: int, prefix: str = "", name: str | None = None,
                  status: str = "active") -> dict:
    """A project with: a customer-visible milestone (done, requires sign-off) and an open one; a hidden
    milestone; shared, internal and customer tasks; shared and internal comments and files; a criterion."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects import services
    from psa.projects.models import Attachment, Comment, Milestone, Project, Task

    with app.app_context():
        actor = db.session.get(User, manager_id)
        today = services.org_today()
        project = services.create_project(actor, account=db.session.get(Account, account_id),
                                          name=name or f"{prefix}Rollout {account_id}", kickoff_date=today,
                                          manager=actor, fee_amount=Decimal("987654.32"), budget_minutes=6000)
        done = services.add_milestone_to_project(actor, project, name=f"{prefix}Kickoff",
                                                 due_date=today + timedelta(days=7))
        open_ = services.add_milestone_to_project(actor, project, name=f"{prefix}Go-live",
                                                  due_date=today + timedelta(days=30))
        hidden = services.add_milestone_to_project(actor, project, name=MARKERS["milestone"] if not prefix
                                                   else f"{prefix}hidden", due_date=today + timedelta(days=20))
        hidden.is_customer_visible = False
        done.requires_signoff = True
        open_.requires_signoff = True

        def task(milestone, task_name, **fields):
            row = services.add_task_to_milestone(actor, milestone, name=task_name, start_date=today,
                                                 visibility=fields.pop("visibility", "shared"),
                                                 assignee_role=fields.pop("assignee_role", "consultant"))
            for key, value in fields.items():
                setattr(row, key, value)
            return row

        kickoff_task = task(done, f"{prefix}Kickoff call")
        services.update_task(actor, kickoff_task, status="done")
        shared = task(open_, f"{prefix}Configure SSO")
        internal = task(open_, MARKERS["task"] if not prefix else f"{prefix}internal task", visibility="internal",
                        status="blocked", blocked_reason=MARKERS["blocked"])
        hidden_task = task(hidden, MARKERS["hidden_task"] if not prefix else f"{prefix}hidden task",
                           assignee_role="customer")
        customer_group = task(open_, f"{prefix}Send the user list", assignee_role="customer")
        customer_other = task(open_, f"{prefix}Approve the design", assignee_role="customer")
        customer_internal = task(open_, f"{prefix}customer draft INTERNAL-CUSTOMER-DRAFT-6b1a"
                                 if not prefix else f"{prefix}customer draft", assignee_role="customer",
                                 visibility="internal")
        criterion = services.save_criterion(actor, project, outcome=f"{prefix}Faster month-end close",
                                            metric="Days to close", baseline="10", target="5", status="on_track")
        shared_comment = services.add_comment(actor, project, body=f"{prefix}Welcome aboard", visibility="shared")
        internal_comment = services.add_comment(actor, project, body=MARKERS["comment"] if not prefix
                                                else f"{prefix}internal comment", visibility="internal")
        shared_file = services.add_attachment(actor, project, filename=f"{prefix}plan.pdf", data=PDF,
                                              visibility="shared")
        internal_file = services.add_attachment(actor, project, filename=MARKERS["file"] if not prefix
                                                else f"{prefix}internal.pdf", data=PDF)
        task_file = services.add_attachment(actor, project, filename=f"{prefix}internal-task.pdf", data=PDF,
                                            task=internal, visibility="shared")
        if not prefix:
            db.session.execute(sa.update(Project).where(Project.id == project.id)
                               .values(health_reason=MARKERS["health"]))
        db.session.flush()
        services.refresh_schedule([project.id])
        if status != "active":
            db.session.execute(sa.update(Project).where(Project.id == project.id).values(status=status))
        db.session.commit()
        for milestone in (done,):
            db.session.refresh(milestone)
        assert done.status == "done"
        return {
            "project": project.id, "milestone_done": done.id, "milestone_open": open_.id, "milestone_hidden": hidden.id,
            "task_shared": shared.id, "task_internal": internal.id, "task_hidden": hidden_task.id,
            "task_group": customer_group.id, "task_other": customer_other.id, "task_kickoff": kickoff_task.id,
            "task_customer_internal": customer_internal.id,
            "criterion": criterion.id, "comment_shared": shared_comment.id, "comment_internal": internal_comment.id,
            "file_shared": shared_file.id, "file_internal": internal_file.id, "file_on_internal_task": task_file.id,
            "Attachment": Attachment, "Comment": Comment, "Milestone": Milestone, "Task": Task,
        }


def world(app, make) -> dict:
    """Account A (ours: contacts at each view level) and account B (another customer) with a project each."""
    from psa.projects.models import Task

    manager = make.user(role="manager", name="Mia Manager")
    ours, theirs = make.account(name="Acme Corp"), make.account(name="Globex OTHER-ACCOUNT-NAME-4f5a")
    full = make.contact(account=ours, view_level="full", name="Fran Full")
    mine = make.contact(account=ours, view_level="my_tasks", name="Mo Mine")
    overview = make.contact(account=ours, view_level="overview", name="Ollie Overview")
    other = make.contact(account=theirs, view_level="full", name="Olga OTHER-CONTACT-8a9b")
    a = build_project(app, manager_id=manager.id, account_id=ours.id)
    b = build_project(app, manager_id=manager.id, account_id=theirs.id, prefix="OTHER-ACCOUNT ",
                      name=MARKERS["other_project"])
    cancelled = build_project(app, manager_id=manager.id, account_id=ours.id, prefix="cancelled ",
                              name=MARKERS["cancelled"], status="cancelled")
    with app.app_context():
        # one customer task of the group's (no contact), one of Fran's; B's of Olga's
        db.session.execute(sa.update(Task).where(Task.id == a["task_other"]).values(assignee_contact_id=full.id))
        db.session.execute(sa.update(Task).where(Task.id == b["task_other"]).values(assignee_contact_id=other.id))
        db.session.commit()
    return {"manager": manager, "ours": ours, "theirs": theirs, "full": full, "mine": mine, "overview": overview,
            "other": other, "a": a, "b": b, "cancelled": cancelled}
