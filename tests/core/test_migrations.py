"""The migrations build the whole schema from empty, and the models agree with them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from psa.extensions import db, migrate


def _head(app) -> str:
    config = migrate.get_config(app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config).get_current_head()


def test_upgrade_from_empty_reaches_head(app):
    # the session's database was built from empty by `upgrade()` in the app fixture
    with app.app_context(), db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == _head(app)


def test_models_match_the_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_scratch_sqlite_upgrades_seeds_settings_and_downgrades_to_base(tmp_path):
    from tests.conftest import make_test_app

    scratch = make_test_app(f"sqlite:///{tmp_path / 'scratch.sqlite'}", tmp_path)
    with scratch.app_context():
        upgrade()
        org = db.session.execute(sa.text("SELECT org_name, working_days FROM settings WHERE id = 1")).one()
        assert tuple(org) == ("PSA", "12345")
        db.session.remove()
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert "users" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_upgrading_a_sqlite_database_with_data_keeps_it(tmp_path):
    """Batch mode rebuilds tables on SQLite; rows (and the rows referring to them) must survive."""
    from tests.conftest import make_test_app

    scratch = make_test_app(f"sqlite:///{tmp_path / 'data.sqlite'}", tmp_path)
    with scratch.app_context():
        upgrade(revision="a7e50c5af27a")  # the foundation only
        db.session.execute(sa.text(
            "INSERT INTO users (id, email, name, role, timezone, weekly_capacity_hours, is_active, created_at) "
            "VALUES (1, 'a@example.com', 'A', 'admin', 'UTC', 40, 1, '2026-01-01 00:00:00')"))
        db.session.execute(sa.text(
            "INSERT INTO accounts (id, name, segment, owner_id, arr, created_at) "
            "VALUES (1, 'Acme', 'mid', 1, 100, '2026-01-01 00:00:00')"))
        db.session.commit()
        db.session.remove()
        upgrade()
        assert db.session.execute(sa.text("SELECT owner_id FROM accounts")).scalar() == 1
        assert db.session.execute(sa.text("SELECT email FROM users")).scalar() == "a@example.com"
        assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
        db.session.remove()
        db.engine.dispose()


def test_upgrading_a_sqlite_database_holding_money_stores_it_exactly(tmp_path):
    """SQLite's NUMERIC kept floats; the exact-numbers migration turns every amount into integer cents
    (what was typed, half-up to the cent where it had more decimals) and the models read it back exactly."""
    from decimal import Decimal

    from psa.accounts.models import Account
    from psa.admin.models import Settings
    from psa.auth.models import User
    from psa.projects.models import Project
    from psa.timesheets.models import UserRate
    from tests.conftest import make_test_app

    scratch = make_test_app(f"sqlite:///{tmp_path / 'money.sqlite'}", tmp_path)
    with scratch.app_context():
        upgrade(revision="4c4589e9ec08")  # the head before exact numbers
        for sql in (
            "INSERT INTO users (id, email, name, role, timezone, weekly_capacity_hours, is_active, created_at) "
            "VALUES (1, 'a@example.com', 'A', 'manager', 'UTC', 37.5, 1, '2026-01-01 00:00:00')",
            "INSERT INTO accounts (id, name, segment, owner_id, arr, created_at) "
            "VALUES (1, 'Acme', 'mid', 1, 100.005, '2026-01-01 00:00:00'), "
            "(2, 'Globex', 'mid', 1, 999999999999.99, '2026-01-01 00:00:00'), "
            "(3, 'Initech', 'mid', 1, 0.1, '2026-01-01 00:00:00')",
            "INSERT INTO user_rates (id, user_id, effective_from, cost_rate, bill_rate, created_at) "
            "VALUES (1, 1, '2026-01-01', 0.01, 9999999999.99, '2026-01-01 00:00:00')",
            "INSERT INTO projects (id, account_id, name, kickoff_date, manager_id, billing_model, fee_amount, "
            "status, created_at, health, progress_percent, max_slip_days) VALUES "
            "(1, 1, 'Fee', '2026-09-01', 1, 'fixed_fee', 2500.5, 'active', '2026-01-01 00:00:00', 'green', 0, 0), "
            "(2, 1, 'No fee', '2026-09-01', 1, 'non_billable', NULL, 'active', '2026-01-01 00:00:00', "
            "'green', 0, 0)",
        ):
            db.session.execute(sa.text(sql))
        db.session.commit()
        db.session.remove()
        upgrade()

        def raw(sql):
            return db.session.execute(sa.text(sql)).all()

        assert raw("SELECT arr FROM accounts ORDER BY id") == [(10001,), (99999999999999,), (10,)]
        assert raw("SELECT cost_rate, bill_rate FROM user_rates") == [(1, 999999999999)]
        assert raw("SELECT fee_amount FROM projects ORDER BY id") == [(250050,), (None,)]
        assert raw("SELECT weekly_capacity_hours FROM users") == [(3750,)]
        assert raw("SELECT utilization_target_percent FROM settings") == [(7500,)]
        assert db.session.scalars(sa.select(Account.arr).order_by(Account.id)).all() == [
            Decimal("100.01"), Decimal("999999999999.99"), Decimal("0.10")]
        rate = db.session.scalars(sa.select(UserRate)).one()
        assert (rate.cost_rate, rate.bill_rate) == (Decimal("0.01"), Decimal("9999999999.99"))
        assert db.session.scalars(sa.select(Project.fee_amount).order_by(Project.id)).all() == [
            Decimal("2500.50"), None]
        assert db.session.get(User, 1).weekly_capacity_hours == Decimal("37.50")
        assert str(db.session.get(Settings, 1).utilization_target_percent) == "75.00"
        # the bounds of CHECK constraints moved with the units: 100 % and 168 hours still fit, more does not
        db.session.execute(sa.text("UPDATE users SET weekly_capacity_hours = 16800"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.text("UPDATE users SET weekly_capacity_hours = 16801"))
        db.session.rollback()
        assert raw("PRAGMA foreign_key_check") == []
        db.session.remove()

        downgrade(revision="4c4589e9ec08")
        assert raw("SELECT arr FROM accounts ORDER BY id") == [(100.01,), (999999999999.99,), (0.1,)]
        assert raw("SELECT weekly_capacity_hours FROM users") == [(37.5,)]
        db.session.remove()
        db.engine.dispose()


def test_notes_widen_to_5000_and_time_on_non_billable_projects_stops_being_billable(tmp_path):
    """The notes-and-billable migration: a 5,000-character note fits afterwards, and entries stored billable on
    a non-billable project (as the grid did before the one rule set) are corrected; others keep their flag."""
    from psa.timesheets.models import TimeEntry
    from tests.conftest import make_test_app

    scratch = make_test_app(f"sqlite:///{tmp_path / 'notes.sqlite'}", tmp_path)
    with scratch.app_context():
        upgrade(revision="dda1b248e893")  # the head before this migration
        for sql in (
            "INSERT INTO users (id, email, name, role, timezone, weekly_capacity_hours, is_active, created_at) "
            "VALUES (1, 'a@example.com', 'A', 'manager', 'UTC', 4000, 1, '2026-01-01 00:00:00')",
            "INSERT INTO accounts (id, name, segment, owner_id, arr, created_at) "
            "VALUES (1, 'Acme', 'mid', 1, 0, '2026-01-01 00:00:00')",
            "INSERT INTO projects (id, account_id, name, kickoff_date, manager_id, billing_model, fee_amount, "
            "status, created_at, health, progress_percent, max_slip_days) VALUES "
            "(1, 1, 'Billed', '2026-09-01', 1, 'time_and_materials', NULL, 'active', '2026-01-01 00:00:00', "
            "'green', 0, 0), "
            "(2, 1, 'Internal', '2026-09-01', 1, 'non_billable', NULL, 'active', '2026-01-01 00:00:00', "
            "'green', 0, 0)",
            "INSERT INTO timesheets (id, user_id, week_start, state) VALUES (1, 1, '2026-11-02', 'approved')",
            "INSERT INTO time_entries (id, user_id, project_id, timesheet_id, entry_date, minutes, billable, note, "
            "bill_rate, cost_rate, created_at, updated_at) VALUES "
            "(1, 1, 1, 1, '2026-11-02', 60, 1, 'billed', 0, 0, '2026-11-02 10:00:00', '2026-11-02 10:00:00'), "
            "(2, 1, 2, 1, '2026-11-02', 90, 1, 'internal', 0, 0, '2026-11-02 10:00:00', '2026-11-02 10:00:00'), "
            "(3, 1, 2, 1, '2026-11-03', 30, 0, '', 0, 0, '2026-11-03 10:00:00', '2026-11-03 10:00:00')",
        ):
            db.session.execute(sa.text(sql))
        db.session.commit()
        db.session.remove()
        upgrade()
        flags = dict(db.session.execute(sa.select(TimeEntry.id, TimeEntry.billable).order_by(TimeEntry.id)).all())
        assert flags == {1: True, 2: False, 3: False}
        long_note = "Go-live checklist\nreviewed. " + "x" * (5000 - 28)
        assert len(long_note) == 5000
        db.session.get(TimeEntry, 1).note = long_note
        db.session.commit()
        assert db.session.get(TimeEntry, 1).note == long_note
        db.session.remove()
        downgrade(revision="dda1b248e893")
        assert db.session.execute(sa.text("SELECT length(note) FROM time_entries WHERE id = 1")).scalar() == 500
        db.session.remove()


def test_templates_take_their_target_from_their_newest_version(tmp_path):
    """4c8e2a6f0b13: a template without a target takes the one of its newest published version that has one;
    a template with a target keeps it; one whose versions have none stays without."""
    from tests.conftest import make_test_app

    scratch = make_test_app(f"sqlite:///{tmp_path / 'ttv.sqlite'}", tmp_path)
    with scratch.app_context():
        upgrade(revision="3357bf0c794e")  # the head before this migration
        for sql in (
            "INSERT INTO templates (id, name, description, created_at, target_ttv_days) VALUES "
            "(1, 'Versions', '', '2026-01-01 00:00:00', NULL), (2, 'Own', '', '2026-01-01 00:00:00', 30), "
            "(3, 'None', '', '2026-01-01 00:00:00', NULL)",
            "INSERT INTO template_versions (id, template_id, number, state, target_ttv_days, notes, created_at) "
            "VALUES (1, 1, 1, 'published', 60, '', '2026-01-01 00:00:00'), "
            "(2, 1, 2, 'published', 45, '', '2026-02-01 00:00:00'), "
            "(3, 1, 3, 'draft', 20, '', '2026-03-01 00:00:00'), "
            "(4, 2, 1, 'published', 90, '', '2026-01-01 00:00:00'), "
            "(5, 3, 1, 'published', NULL, '', '2026-01-01 00:00:00')",
        ):
            db.session.execute(sa.text(sql))
        db.session.commit()
        db.session.remove()
        upgrade()
        targets = dict(db.session.execute(sa.text("SELECT id, target_ttv_days FROM templates ORDER BY id")).all())
        assert targets == {1: 45, 2: 30, 3: None}
        db.session.remove()
        db.engine.dispose()
