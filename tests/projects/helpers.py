"""Helpers the project tests share: a published template built through the template services, a
project made from it through the project services, and reading a page's messages and markers."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from psa.extensions import db

_seq = itertools.count(1)

#: Two milestones, four tasks in a finish-to-start chain; estimates 2 h, 10 h, 8 h and 4 h (24 h in all).
ONBOARDING = [
    {"name": "Kickoff", "offset_days": 3, "fee_share_percent": 50, "tasks": [
        {"name": "Kickoff call", "offset_days": 0, "duration_days": 1, "estimated_minutes": 120,
         "assignee_role": "manager"},
        {"name": "Configure", "offset_days": 1, "duration_days": 3, "estimated_minutes": 600,
         "predecessors": ["Kickoff call"]},
    ]},
    {"name": "Go-live", "offset_days": 10, "fee_share_percent": 50, "is_first_value": True, "tasks": [
        {"name": "Train users", "offset_days": 5, "duration_days": 3, "estimated_minutes": 480,
         "predecessors": ["Configure"]},
        {"name": "Go live", "offset_days": 10, "duration_days": 1, "estimated_minutes": 240,
         "predecessors": ["Train users"]},
    ]},
]


def grid(milestones: int, tasks: int) -> list[dict]:
    """A template of milestones × tasks, each task after the one before it, every first task the manager's."""
    spec, previous = [], None
    for m in range(milestones):
        rows = []
        for t in range(tasks):
            name = f"Task {m + 1}.{t + 1}"
            rows.append({"name": name, "offset_days": m * 5 + t, "duration_days": 1 + t % 3,
                         "estimated_minutes": 60 * (1 + t), "assignee_role": "manager" if t == 0 else "consultant",
                         "predecessors": [previous] if previous else []})
            previous = name
        spec.append({"name": f"Milestone {m + 1}", "offset_days": m * 5 + tasks,
                     "fee_share_percent": 100 if m == milestones - 1 else 0, "tasks": rows})
    return spec


def build_template(app, spec: list[dict], criteria: tuple[dict, ...] = ()) -> int:
    """Publish a template version made of `spec` through the template services; returns the version id."""
    from psa.project_templates import services as templates

    with app.app_context():
        version = templates.create_template(None, name=f"Template {next(_seq)}")
        by_name = {}
        for m in spec:
            milestone = templates.add_milestone(None, version, **{k: v for k, v in m.items() if k != "tasks"})
            for t in m["tasks"]:
                task = templates.add_task(None, milestone, **{k: v for k, v in t.items() if k != "predecessors"})
                by_name[t["name"]] = task
        for m in spec:
            for t in m["tasks"]:
                if t.get("predecessors"):
                    templates.set_predecessors(None, by_name[t["name"]], [by_name[p].id for p in t["predecessors"]])
        for c in criteria:
            templates.add_criterion(None, version, **c)
        templates.publish_version(None, version)
        db.session.commit()
        return version.id


def create_project(app, version_id: int | None, manager_id: int, account_id: int, kickoff: date,
                   member_ids: tuple[int, ...] = (), **fields) -> dict:
    """A project made through the service; returns its id and its milestones' and tasks' ids by name."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.project_templates.models import TemplateVersion
    from psa.projects import services
    from psa.projects.models import Milestone, Task

    with app.app_context():
        manager = db.session.get(User, manager_id)
        members = db.session.scalars(sa.select(User).where(User.id.in_(member_ids))).all()
        fields.setdefault("fee_amount", Decimal("10000"))
        project = services.create_project(
            manager, account=db.session.get(Account, account_id), name=f"Project {next(_seq)}", kickoff_date=kickoff,
            manager=manager, members=members,
            template_version=db.session.get(TemplateVersion, version_id) if version_id else None, **fields)
        db.session.commit()
        milestones = dict(db.session.execute(sa.select(Milestone.name, Milestone.id)
                                             .where(Milestone.project_id == project.id)).all())
        tasks = dict(db.session.execute(sa.select(Task.name, Task.id).where(Task.project_id == project.id)).all())
        return {"id": project.id, "milestones": milestones, "tasks": tasks}
