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
