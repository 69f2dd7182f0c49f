"""Time CSV time imports of 50,000 and 200,000 rows against the bare SQL doing the same inserts.

    .venv/bin/python bench/import_time.py [--rows 50000 200000]

For each size, builds a scratch SQLite database in a temporary folder (and, when TEST_DATABASE_URL is set, a
scratch schema `psa_bench` in that PostgreSQL database, dropped at the end), migrates it, creates the people
(50, or one per 2,000 rows: 100 for 200,000) and 20 projects of 5 tasks, and writes the file: the first size in
our format, every further size as Harvest's detailed export (21 columns, CRLF, people by first and last name,
half the rows naming an activity rather than a task; 200,000 rows are about 50 MB, a year of a 100-person
team). The file is handed to the import as a binary stream, as an upload is. Then it times:

* the import's dry run (read, match, check every rule; writes nothing);
* the real import (the same, plus the draft timesheets, the rate snapshots and the bulk insert, committed);
* the bare SQL: one DBAPI executemany of the very rows the import inserted, committed.

and prints the seconds and the ratios import / bare SQL.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import each_database  # noqa: E402

PROJECTS, TASKS = 20, 5
HARVEST_REPORT = ["Date", "Client", "Project", "Project Code", "Task", "Notes", "Hours", "Hours Rounded",
                  "Billable?", "Invoiced?", "Approved?", "First Name", "Last Name", "Roles", "Employee?",
                  "Billable Rate", "Billable Amount", "Cost Rate", "Cost Amount", "Currency",
                  "External Reference URL"]
ACTIVITIES = ("Design", "Project Management", "Meetings", "Development", "Testing")


def people_for(rows: int) -> int:
    return max(50, rows // 2000)


def seed(rows: int, shape: str = "ours") -> bytes:
    """People, projects, tasks, memberships and rates; returns the CSV of `rows` entries over the past year,
    in our format or as Harvest's detailed export."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.extensions import db
    from psa.projects.models import Milestone, Project, Task, project_members
    from psa.timesheets.models import UserRate

    people = people_for(rows)
    db.session.execute(sa.insert(User), [
        {"email": f"person{i}@example.com", "name": f"Person {i}", "role": "consultant", "timezone": "UTC",
         "weekly_capacity_hours": Decimal("40"), "is_active_user": True} for i in range(people)])
    users = db.session.execute(sa.select(User.id, User.email, User.name).order_by(User.id)).all()
    db.session.execute(sa.insert(UserRate), [
        {"user_id": u.id, "effective_from": date(2000, 1, 1), "cost_rate": Decimal("60"), "bill_rate": Decimal("150")}
        for u in users])
    db.session.execute(sa.insert(Account), [{"name": f"Customer {i}", "segment": "mid", "arr": Decimal("1000")}
                                            for i in range(PROJECTS // 2)])
    accounts = db.session.scalars(sa.select(Account.id).order_by(Account.id)).all()
    start = date.today() - timedelta(days=400)
    db.session.execute(sa.insert(Project), [
        {"account_id": accounts[i % len(accounts)], "name": f"Rollout {i // 2}", "kickoff_date": start,
         "manager_id": users[0].id, "billing_model": "time_and_materials", "status": "active"}
        for i in range(PROJECTS)])
    projects = db.session.execute(sa.select(Project.id, Project.name, Account.name.label("account"))
                                  .join(Account, Account.id == Project.account_id).order_by(Project.id)).all()
    db.session.execute(sa.insert(Milestone), [
        {"project_id": p.id, "position": 0, "name": "Build", "baseline_due_date": start, "due_date": start,
         "status": "todo"} for p in projects])
    milestones = dict(db.session.execute(sa.select(Milestone.project_id, Milestone.id)).all())
    db.session.execute(sa.insert(Task), [
        {"project_id": p.id, "milestone_id": milestones[p.id], "position": n, "name": f"Task {n}",
         "baseline_start_date": start, "baseline_due_date": start, "start_date": start, "due_date": start,
         "status": "todo"} for p in projects for n in range(TASKS)])
    db.session.execute(sa.insert(project_members), [{"project_id": p.id, "user_id": u.id}
                                                    for p in projects for u in users])
    db.session.commit()

    weekdays = [d for d in (date.today() - timedelta(days=n) for n in range(1, 366)) if d.weekday() < 5]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if shape == "harvest":
        writer.writerow(HARVEST_REPORT)
    else:
        writer.writerow(["date", "email", "project", "task", "hours", "billable", "note", "account"])
    for i in range(rows):
        user = users[i % people]
        day = weekdays[(i // people // 4) % len(weekdays)]  # four rows a person a day, twice a year at most: 16 h
        project = projects[(i // 7) % PROJECTS]
        hours = "1.75" if i % 3 else "2"
        if shape == "harvest":
            first, last = user.name.split(" ")
            task = f"Task {i % TASKS}" if i % 2 else ACTIVITIES[i % len(ACTIVITIES)]
            amount = "262.50" if i % 3 else "300.00"
            writer.writerow([day.isoformat(), project.account, project.name, f"P-{project.id:04d}", task,
                             f"Work item {i}: configuration, review and follow-up with the customer team", hours,
                             "2.00", "Yes" if i % 5 else "No", "No", "Yes", first, last, "Consultant", "Yes",
                             "150.00", amount, "60.00", "105.00", "United States Dollar - USD", ""])
        else:
            writer.writerow([day.isoformat(), user.email, project.name, f"Task {i % TASKS}", hours,
                             "yes" if i % 5 else "no", f"work item {i}", project.account])
    return buffer.getvalue().encode()


def bare_insert(rows: list[tuple]) -> float:
    """The same rows through the driver: one executemany and a commit."""
    from psa.extensions import db

    columns = ("user_id", "project_id", "task_id", "timesheet_id", "entry_date", "minutes", "billable", "note",
               "activity", "bill_rate", "cost_rate", "created_at", "updated_at")
    connection = db.engine.raw_connection()
    try:
        marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO time_entries ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
        started = time.perf_counter()
        cursor = connection.cursor()
        cursor.executemany(sql, rows)
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def run(label: str, app, rows: int, shape: str) -> None:
    from flask_migrate import upgrade

    from psa.extensions import db
    from psa.timesheets.imports import import_time_entries
    from psa.timesheets.models import TimeEntry

    with app.app_context():
        upgrade()
        body = seed(rows, shape)

    # each phase in its own app context, as each request gets one; the file comes as a stream, as an upload
    with app.app_context():
        started = time.perf_counter()
        report = import_time_entries(None, io.BytesIO(body), dry_run=True)
        dry = time.perf_counter() - started
        assert report.ok and report.entries == rows, report.errors[:5]
        db.session.rollback()

    with app.app_context():
        started = time.perf_counter()
        report = import_time_entries(None, io.BytesIO(body), dry_run=False)
        db.session.commit()
        real = time.perf_counter() - started
        assert report.created == rows
        assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) == rows
        inserted = [tuple(r) for r in db.session.execute(sa.text(
            "SELECT user_id, project_id, task_id, timesheet_id, entry_date, minutes, billable, note, activity, "
            "bill_rate, cost_rate, created_at, updated_at FROM time_entries ORDER BY id"))]
        db.session.execute(sa.delete(TimeEntry))
        db.session.commit()

    with app.app_context():
        bare = bare_insert(inserted)

    with app.app_context():
        started = time.perf_counter()
        again = import_time_entries(None, io.BytesIO(body), dry_run=True)
        rerun = time.perf_counter() - started
        assert len(again.duplicates) == rows
        db.session.rollback()
    print(f"{label:<10} {shape:<7} rows {rows:>6} ({len(body) / 2**20:4.1f} MB)  dry run {dry:6.2f} s  import {real:6.2f} s  "
          f"bare SQL insert {bare:5.2f} s  ratio import/bare {real / bare:5.1f}x  dry/bare {dry / bare:4.1f}x  "
          f"re-import (all duplicates, dry run) {rerun:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000],
                        help="file sizes: the first in our format, every further one as Harvest's detailed export")
    for index, rows in enumerate(parser.parse_args().rows):
        shape = "ours" if index == 0 else "harvest"
        each_database(lambda name, app, rows=rows, shape=shape: run(name, app, rows, shape))


if __name__ == "__main__":
    main()
