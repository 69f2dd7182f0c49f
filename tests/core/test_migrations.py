"""The migrations build the whole schema from empty, and the models agree with them."""

from __future__ import annotations

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
