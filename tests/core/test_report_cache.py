"""The report cache (psa/core/report_cache.py): the data's version moves with every committed change to a table a
report reads, and only then; a cached report is reused while it holds and recomputed after; the tables the reports
read are all watched; compaction never brings a version back."""

from __future__ import annotations

import importlib.util
import re
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from psa.core import clock
from psa.core.report_cache import REPORT_TABLES, cached, compact_report_changes, data_version
from psa.extensions import db

MIGRATION = Path(__file__).resolve().parents[2] / "migrations/versions/20261205_3b9d7e1f5a62_report_changes.py"


def test_the_migration_watches_the_tables_the_module_names():
    spec = importlib.util.spec_from_file_location("report_changes_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.REPORT_TABLES == REPORT_TABLES


@pytest.fixture
def demo(app):
    from psa.demo import load_demo

    with app.app_context():
        load_demo()
        db.session.commit()
        db.session.remove()


def test_every_table_a_report_reads_is_watched(app, demo):
    """Run each report on the demo and read the tables out of its statements: each is watched, or is one of the
    time totals (written only by the triggers of time_entries, which is watched)."""
    from psa.reports.forecast import revenue_forecast
    from psa.reports.margin import margin_report
    from psa.reports.services import period_for, utilization_report
    from psa.reports.ttv_report import Filters, ttv_report

    statements: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        period = period_for("last_quarter", clock.org_today())
        sa.event.listen(db.engine, "before_cursor_execute", listen)
        try:
            utilization_report(period, True)
            margin_report(period, True)
            revenue_forecast()
            ttv_report(Filters())
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listen)
    known = set(db.metadata.tables)
    read = {name for statement in statements
            for name in re.findall(r"\b(?:FROM|JOIN)\s+\"?(\w+)", statement, re.IGNORECASE) if name in known}
    assert {"time_span_totals", "projects", "timesheets", "milestones"} <= read  # the reading worked
    assert read - set(REPORT_TABLES) <= {"time_span_totals", "task_time_totals"}, read - set(REPORT_TABLES)


def _version(app):
    with app.app_context():
        try:
            return data_version()
        finally:
            db.session.remove()


def test_a_committed_change_to_each_watched_table_moves_the_version_and_others_do_not(app, make):
    user = make.user(role="consultant")
    account = make.account()
    with app.app_context():
        from psa.core.models import Notification

        before = data_version()
        db.session.add(Notification(user_id=user.id, message="hello"))  # not a report's table
        db.session.commit()
        assert data_version() == before
        # a statement changing no row of a watched table (a refused conditional update) changes nothing either
        db.session.execute(sa.text("UPDATE projects SET name = name WHERE id = -1"))
        db.session.commit()
        assert data_version() == before
        for table in REPORT_TABLES:  # an UPDATE that matches rows: every watched table with a row to touch
            column = {"settings": "org_name", "accounts": "name", "users": "name"}.get(table)
            if column is None:
                continue
            mark = data_version()
            db.session.execute(sa.text(f"UPDATE {table} SET {column} = {column}"))
            assert data_version() != mark  # this transaction sees its own change
            db.session.commit()
            assert data_version() != mark, table
        # an insert and a delete
        mark = data_version()
        db.session.execute(sa.text("INSERT INTO holidays (day, name) VALUES (:d, 'Test day')"),
                           {"d": date(2031, 1, 2)})
        db.session.commit()
        inserted = data_version()
        db.session.execute(sa.text("DELETE FROM holidays WHERE name = 'Test day'"))
        db.session.commit()
        deleted = data_version()
        assert len({mark, inserted, deleted}) == 3
        db.session.execute(sa.text("UPDATE accounts SET name = name WHERE id = :id"), {"id": account.id})
        db.session.rollback()  # a rolled-back change leaves no trace
        assert data_version() == deleted


def test_the_version_moves_when_the_change_is_committed_not_before(app, make):
    account = make.account()
    seen = {}
    started, committed = threading.Event(), threading.Event()

    def writer():
        with app.app_context():
            db.session.execute(sa.text("UPDATE accounts SET name = name || '!' WHERE id = :id"), {"id": account.id})
            started.set()
            committed.wait(10)
            db.session.commit()
            db.session.remove()

    before = _version(app)
    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(10)
    if app.config["BACKEND"] == "postgresql":  # SQLite's writer holds the database: nobody reads meanwhile
        seen["during"] = _version(app)
    committed.set()
    thread.join(10)
    after = _version(app)
    assert seen.get("during", before) == before and after != before


def test_a_cached_report_is_reused_until_its_data_changes(app, make):
    calls = []

    def compute():
        calls.append(1)
        return object()

    account = make.account()
    with app.app_context():
        first = cached("test", ("key",), compute)
        assert cached("test", ("key",), compute) is first and len(calls) == 1
        other = cached("test", ("other key",), compute)
        assert other is not first and len(calls) == 2
        db.session.execute(sa.text("UPDATE accounts SET name = 'Renamed' WHERE id = :id"), {"id": account.id})
        db.session.commit()
        assert cached("test", ("key",), compute) is not first and len(calls) == 3


def test_compaction_empties_the_log_and_never_brings_a_version_back(app, make):
    account = make.account()
    with app.app_context():
        seen = {data_version()}
        for n in range(3):
            db.session.execute(sa.text("UPDATE accounts SET name = :n WHERE id = :id"),
                               {"n": f"A{n}", "id": account.id})
            db.session.commit()
            seen.add(data_version())
        removed = compact_report_changes()
        db.session.commit()
        after = data_version()
        if app.config["BACKEND"] == "postgresql":
            assert removed >= 3 and after[1] == 0 and after not in seen
            db.session.execute(sa.text("UPDATE accounts SET name = 'B' WHERE id = :id"), {"id": account.id})
            db.session.commit()
            assert data_version() not in seen | {after}
        else:
            assert removed == 0 and after == max(seen)  # SQLite keeps a counter, nothing to compact


def test_the_margin_page_shows_a_new_entry_at_once(app, client, make):
    """Through the page: the report is computed, reused, and recomputed when an entry is added."""
    from psa.projects.services import create_project
    from psa.timesheets.models import TimeEntry, Timesheet
    from tests.conftest import login_as

    leader = make.user(role="leader")
    consultant = make.user(role="consultant")
    with app.app_context():
        from psa.auth.models import User

        manager = db.session.get(User, leader.id)
        project = create_project(manager, account=make.account(name="Acme"), name="Cached project",
                                 kickoff_date=date(2026, 4, 1), manager=manager, members=[],
                                 billing_model="time_and_materials")
        sheet = Timesheet(user_id=consultant.id, week_start=date(2026, 5, 4), state="approved")
        db.session.add(sheet)
        db.session.flush()
        db.session.add(TimeEntry(user_id=consultant.id, project_id=project.id, timesheet_id=sheet.id,
                                 entry_date=date(2026, 5, 5), minutes=120, billable=True,
                                 bill_rate=Decimal("100.00"), cost_rate=Decimal("40.00")))
        db.session.commit()
        sheet_id, project_id = sheet.id, project.id
    login_as(client, leader)
    url = "/reports/margin?period=custom&date_from=2026-05-01&date_to=2026-05-31"
    with clock.frozen(clock.now().replace(year=2026, month=6, day=15)):
        assert "200.00" in client.get(url).get_data(as_text=True)
        assert "200.00" in client.get(url).get_data(as_text=True)
        with app.app_context():
            db.session.add(TimeEntry(user_id=consultant.id, project_id=project_id, timesheet_id=sheet_id,
                                     entry_date=date(2026, 5, 6), minutes=60, billable=True,
                                     bill_rate=Decimal("100.00"), cost_rate=Decimal("40.00")))
            db.session.commit()
        assert "300.00" in client.get(url).get_data(as_text=True)
