"""`psa demo --scale large` (psa/demo_large.py) at a small scale: every generated row obeys the app's rules."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import sqlalchemy as sa

from psa.extensions import db
from psa.projects.models import Milestone, Project, Task, project_members, task_dependencies
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet

TABLES = ("users", "accounts", "projects", "milestones", "tasks", "timesheets", "time_entries", "audit_events")


def _schedule_state():
    return (
        db.session.execute(sa.select(Project.id, Project.health, Project.progress_percent, Project.max_slip_days,
                                     Project.schedule_refreshed_on).order_by(Project.id)).all(),
        db.session.execute(sa.select(Milestone.id, Milestone.forecast_date, Milestone.slip_days)
                           .order_by(Milestone.id)).all(),
        db.session.execute(sa.select(Task.id, Task.forecast_date).order_by(Task.id)).all(),
    )


def test_large_demo_rows_obey_the_rules(app):
    from psa.auth.models import User
    from psa.core.clock import org_today
    from psa.demo import load_demo
    from psa.demo_large import BENCH_PROJECT_PREFIX, HEAVY_EMAIL, SMALL
    from psa.projects.services import refresh_schedule
    from psa.timesheets.services import RateBook, week_start

    with app.app_context():
        load_demo("large", large_scale=SMALL)
        db.session.remove()
    with app.app_context():
        today = org_today()
        counts = {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}
        assert counts["time_entries"] > SMALL.entries and counts["projects"] > SMALL.projects

        users = {u.id: u for u in db.session.scalars(sa.select(User))}
        assert Counter(u.role for u in users.values())["consultant"] >= SMALL.consultants
        projects = {p.id: p for p in db.session.scalars(sa.select(Project))}
        assert {p.status for p in projects.values()} == {"active", "completed", "on_hold", "planned", "cancelled"}
        assert {p.billing_model for p in projects.values()} == {"fixed_fee", "time_and_materials", "non_billable"}
        members = defaultdict(set)
        for project_id, user_id in db.session.execute(sa.select(project_members.c.project_id,
                                                                project_members.c.user_id)):
            members[project_id].add(user_id)
        tasks = dict(db.session.execute(sa.select(Task.id, Task.project_id)).all())

        # timesheets: one per user and week, on a Monday; decided weeks say who and when, rejected ones why
        sheets = {s.id: s for s in db.session.scalars(sa.select(Timesheet))}
        assert len({(s.user_id, s.week_start) for s in sheets.values()}) == len(sheets)
        assert {s.state for s in sheets.values()} == {"draft", "submitted", "approved", "rejected"}
        for sheet in sheets.values():
            assert sheet.week_start == week_start(sheet.week_start)
            if sheet.state in ("approved", "rejected"):
                assert sheet.decided_at and sheet.decided_by_id and sheet.submitted_at
                if users[sheet.user_id].email.endswith(("@large.psa", HEAVY_EMAIL)):
                    assert sheet.decided_by_id != sheet.user_id
            if sheet.state == "rejected":
                assert sheet.rejection_reason
            if sheet.state == "draft":
                assert sheet.decided_at is None

        # entries: in their week, of its user, on a project of theirs (and a task of it), rates as resolved
        entries = db.session.scalars(sa.select(TimeEntry)).all()
        offs = db.session.scalars(sa.select(TimeOff)).all()
        book = RateBook(users, projects)
        per_day = Counter()
        for entry in entries:
            sheet = sheets[entry.timesheet_id]
            assert sheet.user_id == entry.user_id
            assert sheet.week_start <= entry.entry_date < sheet.week_start + timedelta(days=7)
            assert entry.entry_date.weekday() < 5 and entry.entry_date <= today + timedelta(days=1)
            project = projects[entry.project_id]
            assert entry.user_id in members[project.id] or project.manager_id == entry.user_id
            assert entry.task_id is None or tasks[entry.task_id] == project.id
            if project.billing_model == "non_billable":
                assert not entry.billable
            rates = book.resolve(entry.user_id, users[entry.user_id].role, project.id, entry.entry_date)
            assert (entry.bill_rate, entry.cost_rate) == (rates.bill, rates.cost)
            assert 0 < entry.minutes <= 1440
            per_day[entry.user_id, entry.entry_date] += entry.minutes
        for off in offs:
            sheet = sheets[off.timesheet_id]
            assert sheet.user_id == off.user_id
            assert sheet.week_start <= off.entry_date < sheet.week_start + timedelta(days=7)
            per_day[off.user_id, off.entry_date] += off.minutes
        assert max(per_day.values()) <= 1440
        # rates changed over time: some user has entries at two different cost rates
        assert any(len(v) > 1 for v in _rates_by_user(entries).values())

        # dependencies inside one project and acyclic
        edges = defaultdict(list)
        for task_id, predecessor_id in db.session.execute(sa.select(task_dependencies.c.task_id,
                                                                    task_dependencies.c.predecessor_id)):
            assert tasks[task_id] == tasks[predecessor_id]
            edges[task_id].append(predecessor_id)
        _assert_acyclic(edges)

        # a milestone is done exactly when all its tasks are
        statuses = defaultdict(list)
        for milestone_id, status in db.session.execute(sa.select(Task.milestone_id, Task.status)):
            statuses[milestone_id].append(status)
        for milestone in db.session.scalars(sa.select(Milestone)):
            if statuses[milestone.id]:
                assert (milestone.status == "done") == all(s == "done" for s in statuses[milestone.id]), milestone
            assert (milestone.status == "done") == (milestone.completed_at is not None)

        # the benchmark objects
        bench = db.session.scalar(sa.select(Project).where(Project.name.startswith(BENCH_PROJECT_PREFIX)))
        assert db.session.scalar(sa.select(sa.func.count(Task.id)).where(Task.project_id == bench.id)) \
            == SMALL.bench_tasks
        heavy = db.session.scalar(sa.select(User).where(User.email == HEAVY_EMAIL))
        heavy_sheets = [s for s in sheets.values() if s.user_id == heavy.id]
        newest = sorted(heavy_sheets, key=lambda s: s.week_start)[-2:]
        assert [s.state for s in newest] == ["submitted", "draft"]
        for sheet in newest:
            rows = {(e.project_id, e.task_id, e.billable) for e in entries if e.timesheet_id == sheet.id}
            if any(e.timesheet_id == sheet.id for e in entries):
                assert len(rows) == SMALL.heavy_rows
                assert len({r[0] for r in rows}) == SMALL.heavy_projects
                assert all(projects[r[0]].status in ("active", "on_hold") for r in rows)

        # audit events point at existing rows
        models = {mapper.class_.__name__.lower(): mapper.class_ for mapper in db.Model.registry.mappers}
        by_type = defaultdict(set)
        for object_type, object_id in db.session.execute(sa.select(sa.text("object_type, object_id"))
                                                         .select_from(sa.text("audit_events"))):
            if object_id is not None:
                by_type[object_type].add(object_id)
        assert {"project", "task", "milestone", "timesheet", "user", "account"} <= set(by_type)
        for object_type, object_ids in by_type.items():
            model = models[object_type]
            found = set(db.session.scalars(sa.select(model.id).where(model.id.in_(object_ids))))
            assert found == object_ids, object_type

        # the span totals (summed once after the bulk load on PostgreSQL, by the trigger on SQLite) are what a
        # rebuild from the entries gives, and hold every entry
        from psa.timesheets.models import time_span_totals
        from psa.timesheets.totals import rebuild_time_totals

        def totals():
            return set(db.session.execute(sa.select(time_span_totals)).all())

        loaded = totals()
        assert sum(row.entries for row in loaded) == counts["time_entries"]
        rebuild_time_totals()
        assert totals() == loaded

        # the cached schedules are what the app's refresh computes: refreshing again changes nothing
        assert all(p.schedule_refreshed_on == today for p in projects.values())
        before = _schedule_state()
        refresh_schedule(list(projects), today)
        db.session.flush()
        assert _schedule_state() == before
        completed = [p for p in projects.values() if p.status == "completed"]
        assert completed and all(p.progress_percent == 100 for p in completed)
        db.session.rollback()


def _rates_by_user(entries):
    found = defaultdict(set)
    for entry in entries:
        found[entry.user_id].add(entry.cost_rate)
    return found


def _assert_acyclic(edges):
    state = {}
    for start in list(edges):
        stack = [(start, iter(edges.get(start, ())))]
        if state.get(start) == "done":
            continue
        state[start] = "open"
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                assert state.get(nxt) != "open", f"cycle through task {nxt}"
                if state.get(nxt) is None:
                    state[nxt] = "open"
                    stack.append((nxt, iter(edges.get(nxt, ()))))
                    break
            else:
                state[node] = "done"
                stack.pop()
