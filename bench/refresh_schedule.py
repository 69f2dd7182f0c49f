"""Time refresh_schedule over every open project of a large portfolio against the bare SELECT of the same rows.

    .venv/bin/python bench/refresh_schedule.py [--projects 800] [--tasks 50]

Builds a scratch SQLite database in a temporary folder (and, when TEST_DATABASE_URL is set, a scratch
schema `psa_bench` in that PostgreSQL database, dropped at the end), migrates it, and creates 800 open
projects of 5 milestones and 50 tasks each (40,000 tasks, each after the one before it in its milestone),
kicked off over the last 90 days: past tasks are done, except that one project in five runs late (its
last two weeks of tasks are still open, overdue), and some time is logged on every project. Then, each
in its own app context as a request or a job gets one, times:

* the first refresh (no cached value yet: every task, milestone and project row is written);
* the same refresh again (nothing changed: nothing is written);
* the next day's refresh (the day rolls over: overdue forecasts and what follows them move), the daily job;
* the bare SQL: the same SELECTs of the same rows through the driver, fetched, nothing computed.

and prints the seconds and the ratios refresh / bare SELECT.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import each_database  # noqa: E402

MILESTONES, PEOPLE = 5, 20
TODAY = date(2026, 11, 18)  # a Wednesday; the data is laid out around it


def seed(projects: int, tasks_per_project: int) -> list[int]:
    """The portfolio, inserted in bulk; returns the project ids."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.extensions import db
    from psa.projects.models import Milestone, Project, Task, task_dependencies
    from psa.timesheets.models import TimeEntry, Timesheet

    db.session.execute(sa.insert(User), [
        {"email": f"person{i}@example.com", "name": f"Person {i}", "role": "consultant", "timezone": "UTC",
         "weekly_capacity_hours": Decimal("40"), "is_active_user": True} for i in range(PEOPLE)])
    users = db.session.scalars(sa.select(User.id).order_by(User.id)).all()
    db.session.execute(sa.insert(Account), [{"name": f"Customer {i}", "segment": "mid", "arr": Decimal("1000")}
                                            for i in range(projects // 4 or 1)])
    accounts = db.session.scalars(sa.select(Account.id).order_by(Account.id)).all()
    db.session.execute(sa.insert(Project), [
        {"account_id": accounts[i % len(accounts)], "name": f"Rollout {i}", "manager_id": users[i % PEOPLE],
         "kickoff_date": TODAY - timedelta(days=i % 100 - 10), "billing_model": "time_and_materials",
         "budget_minutes": 60 * (100 + i % 300), "status": "active"} for i in range(projects)])
    project_rows = db.session.execute(sa.select(Project.id, Project.kickoff_date).order_by(Project.id)).all()
    per_milestone = tasks_per_project // MILESTONES
    db.session.execute(sa.insert(Milestone), [
        {"project_id": p.id, "position": n, "name": f"Phase {n}",
         "baseline_due_date": p.kickoff_date + timedelta(days=21 * (n + 1)),
         "due_date": p.kickoff_date + timedelta(days=21 * (n + 1)), "status": "todo"}
        for p in project_rows for n in range(MILESTONES)])
    milestones = db.session.execute(sa.select(Milestone.id, Milestone.project_id, Milestone.position,
                                              Milestone.due_date).order_by(Milestone.id)).all()
    task_rows = []
    for m in milestones:
        done_until = TODAY - timedelta(days=14 if m.project_id % 5 == 0 else 0)  # one project in five is late
        for k in range(per_milestone):
            due = m.due_date - timedelta(days=2 * (per_milestone - 1 - k))
            done = due < done_until
            completed = datetime.combine(due, datetime.min.time(), tzinfo=UTC)
            task_rows.append({
                "project_id": m.project_id, "milestone_id": m.id, "position": m.position * 100 + k,
                "name": f"Task {k}", "baseline_start_date": due, "baseline_due_date": due, "start_date": due,
                "due_date": due, "duration_days": 1 + k % 3, "estimated_minutes": 60 * (k % 5),
                "status": "done" if done else "todo", "completed_at": completed if done else None})
    for start in range(0, len(task_rows), 5000):
        db.session.execute(sa.insert(Task), task_rows[start:start + 5000])
    tasks = db.session.execute(sa.select(Task.id, Task.milestone_id).order_by(Task.milestone_id, Task.id)).all()
    edges = [{"task_id": tasks[i].id, "predecessor_id": tasks[i - 1].id}
             for i in range(1, len(tasks)) if tasks[i].milestone_id == tasks[i - 1].milestone_id]
    for start in range(0, len(edges), 5000):
        db.session.execute(sa.insert(task_dependencies), edges[start:start + 5000])
    monday = TODAY - timedelta(days=TODAY.weekday())
    db.session.execute(sa.insert(Timesheet), [{"user_id": u, "week_start": monday, "state": "draft"} for u in users])
    sheets = dict(db.session.execute(sa.select(Timesheet.user_id, Timesheet.id)).all())
    now = datetime.now(UTC)
    db.session.execute(sa.insert(TimeEntry), [
        {"user_id": users[n % PEOPLE], "project_id": p.id, "task_id": None, "timesheet_id": sheets[users[n % PEOPLE]],
         "entry_date": monday + timedelta(days=n), "minutes": 60 * (1 + (p.id + n) % 8), "billable": True,
         "note": "", "bill_rate": Decimal("150"), "cost_rate": Decimal("60"), "created_at": now, "updated_at": now}
        for p in project_rows for n in range(3)])
    db.session.commit()
    return [p.id for p in project_rows]


def bare_select(project_ids: list[int]) -> tuple[float, int]:
    """The rows refresh_schedule reads, through the driver, fetched: (seconds, rows)."""
    from psa.extensions import db

    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    ids = ", ".join(str(i) for i in project_ids)  # integers from the database
    statements = [
        f"SELECT id, status, budget_minutes, progress_percent, max_slip_days, health, schedule_refreshed_on "
        f"FROM projects WHERE id IN ({ids})",
        f"SELECT id, project_id, status, due_date, completed_at, forecast_date, slip_days FROM milestones "
        f"WHERE project_id IN ({ids}) ORDER BY project_id, position",
        f"SELECT id, project_id, milestone_id, status, due_date, duration_days, estimated_minutes, completed_at, "
        f"forecast_date FROM tasks WHERE project_id IN ({ids})",
        f"SELECT d.task_id, d.predecessor_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        f"WHERE t.project_id IN ({ids})",
        f"SELECT project_id, sum(minutes) FROM time_entries WHERE project_id IN ({ids}) GROUP BY project_id",
        f"SELECT id FROM projects WHERE status IN ({marker}, {marker}, {marker})",
    ]
    connection = db.engine.raw_connection()
    try:
        started = time.perf_counter()
        cursor = connection.cursor()
        rows = 0
        for sql in statements:
            if marker in sql:
                cursor.execute(sql, ("planned", "active", "on_hold"))
            else:
                cursor.execute(sql)
            rows += len(cursor.fetchall())
        connection.rollback()
        return time.perf_counter() - started, rows
    finally:
        connection.close()


def timed_refresh(app, today: date) -> tuple[float, int, int]:
    """(seconds, projects refreshed, rows the UPDATEs wrote), refreshing every open project and committing."""
    from psa.extensions import db
    from psa.projects.services import refresh_open_schedules

    writes = []

    def count_writes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE"):
            writes.append(cursor.rowcount)

    with app.app_context():
        sa.event.listen(db.engine, "after_cursor_execute", count_writes)
        try:
            started = time.perf_counter()
            count = refresh_open_schedules(today)
            db.session.commit()
            return time.perf_counter() - started, count, sum(writes)
        finally:
            sa.event.remove(db.engine, "after_cursor_execute", count_writes)


def vacuum(app) -> None:
    from psa.extensions import db

    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM" if db.engine.dialect.name == "sqlite" else "VACUUM ANALYZE")


def written_rows(app) -> dict[str, int]:
    from psa.extensions import db

    with app.app_context():
        return {name: db.session.scalar(sa.text(f"SELECT count(*) FROM {name} WHERE {column} IS NOT NULL"))
                for name, column in (("tasks", "forecast_date"), ("milestones", "forecast_date"),
                                     ("projects", "schedule_refreshed_on"))}


def run(label: str, app, projects: int, tasks_per_project: int) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        project_ids = seed(projects, tasks_per_project)
    with app.app_context():
        from psa.admin.services import get_settings
        from psa.extensions import db

        get_settings()  # the settings row exists before the first timing
        db.session.commit()
    # warm the connection pool and the statement caches the same way for both sides
    with app.app_context():
        bare_select(project_ids)

    first, count, first_writes = timed_refresh(app, TODAY)
    assert count == projects
    written = written_rows(app)
    assert written == {"tasks": projects * tasks_per_project, "milestones": projects * MILESTONES,
                       "projects": projects}, written
    again, _, again_writes = timed_refresh(app, TODAY)
    vacuum(app)  # as autovacuum would between two days
    next_day, _, next_writes = timed_refresh(app, TODAY + timedelta(days=1))
    with app.app_context():
        bare, rows = bare_select(project_ids)
    print(f"{label:<10} projects {projects}  tasks {projects * tasks_per_project}  rows read {rows}  "
          f"bare SELECT of the same rows {bare:5.2f} s\n"
          f"           first refresh  {first:5.2f} s  ratio {first / bare:5.1f}x  rows written {first_writes}\n"
          f"           same day again {again:5.2f} s  ratio {again / bare:5.1f}x  rows written {again_writes}\n"
          f"           next day       {next_day:5.2f} s  ratio {next_day / bare:5.1f}x  rows written {next_writes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=800)
    parser.add_argument("--tasks", type=int, default=50, help="tasks per project (a multiple of 5)")
    args = parser.parse_args()
    each_database(lambda name, app: run(name, app, args.projects, args.tasks))


if __name__ == "__main__":
    main()
