"""The psa command: create-user, demo, db upgrade."""

from __future__ import annotations

import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db


def test_create_user_with_password(app):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "New@Example.com", "--role", "leader",
                                                "--password", "long-enough-password"])
    assert result.exit_code == 0, result.output
    assert "Created leader new@example.com" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
        assert user.role == "leader" and user.check_password("long-enough-password")


def test_create_user_prompts_for_the_password_twice(app):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "prompt@example.com", "--role", "admin"],
                                          input="prompted-password\nprompted-password\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "prompt@example.com")).check_password(
            "prompted-password")


def test_create_user_refuses_bad_input_and_creates_nothing(app, make):
    make.user(email="taken@example.com")
    runner = app.test_cli_runner()
    cases = [
        (["--email", "taken@example.com", "--role", "admin", "--password", "long-enough-password"], "already exists"),
        (["--email", "x@example.com", "--role", "wizard", "--password", "long-enough-password"], "wizard"),
        (["--email", "y@example.com", "--role", "admin", "--password", "short"], "at least 10"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["create-user", *args])
        assert result.exit_code != 0
        assert message in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_demo_loads_every_role_and_prints_credentials(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    for role in ("admin", "leader", "manager", "consultant"):
        assert f"{role}@demo.psa" in result.output and f"{role}-demo-pass" in result.output
    with app.app_context():
        roles = set(db.session.scalars(sa.select(User.role)))
        assert roles == {"admin", "leader", "manager", "consultant"}
        assert db.session.get(User, db.session.scalar(sa.select(User.id).where(User.email == "admin@demo.psa")))\
            .check_password("admin-demo-pass")
    # `make run` calls this on every start: the sign-ins are printed again while the demo users exist
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "The demo is loaded. Sign in at /login with:" in again.output
    assert "manager@demo.psa" in again.output and "manager-demo-pass" in again.output
    # the portal's contacts after the users, on both paths
    for output in (result.output, again.output):
        users_at, contacts_at = output.index("/login with:"), output.index("portal at /portal/login with:")
        assert users_at < contacts_at and "contact-demo-pass" in output[contacts_at:]
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0
    with app.app_context():  # a deactivated demo user is not offered; with none left, nothing is
        from psa.demo import DEMO_USERS

        db.session.execute(sa.update(User).where(User.email == "manager@demo.psa").values(is_active_user=False))
        db.session.commit()
        assert "manager@demo.psa" not in runner.invoke(args=["demo", "--if-empty"]).output
        db.session.execute(sa.update(User).where(User.email.in_([u[1] for u in DEMO_USERS]))
                           .values(is_active_user=False))
        db.session.commit()
    assert "not loaded" in runner.invoke(args=["demo", "--if-empty"]).output


def test_the_demo_loads_its_countrys_public_holidays(app):
    from datetime import date

    from psa.admin.models import Holiday
    from psa.core.clock import org_today

    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        year = org_today().year
        days = dict(db.session.execute(sa.select(Holiday.day, Holiday.name)).all())
        assert days[date(year, 7, 4)].startswith("Independence Day")  # the demo organisation works in New York
        assert {d.year for d in days} == {year - 2, year - 1, year, year + 1}


def test_demo_users_can_sign_in(app, client):
    from tests.conftest import login_as

    app.test_cli_runner().invoke(args=["demo"])

    class Demo:
        email = "manager@demo.psa"

    login_as(client, Demo, password="manager-demo-pass")
    assert "Mia Manager" in client.get("/").get_data(as_text=True)


def test_psa_db_upgrade_from_empty_reaches_head_through_the_console_script(tmp_path):
    """`psa db upgrade` in a subprocess, as a person runs it. What it left is read in this process: its revision
    is the scripts' head (what `psa db current` shows as "(head)") and `psa db check`, through the same command
    group (psa.cli.cli), finds no difference between the models and the schema: a subprocess each would only
    start the app twice more."""
    import os
    import shutil
    import subprocess

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from psa.cli import cli
    from tests.conftest import make_test_app

    psa = shutil.which("psa") or os.path.join(os.path.dirname(os.sys.executable), "psa")
    database = tmp_path / "fresh.sqlite"
    env = {**os.environ, "SECRET_KEY": "cli-test", "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": ""}
    upgrade = subprocess.run([psa, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    app = make_test_app(f"sqlite:///{database}", tmp_path, REDIS_URL="")
    with app.app_context():
        heads = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_heads()
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
        db.engine.dispose()
    assert len(heads) == 1 and current == tuple(heads), (current, heads)
    check = app.test_cli_runner().invoke(cli, ["db", "check"])  # exits 1 on a difference (alembic's CommandError)
    assert check.exit_code == 0, check.output
    with app.app_context():
        db.engine.dispose()
