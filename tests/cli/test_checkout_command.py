"""The `psa` console script as a person runs it in a checkout after `make run`: in a subprocess, with the
secret key only in instance/secret_key, configuration errors as one line, and the forms' e-mail rule."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from psa.cli import SECRET_KEY_FILE
from psa.extensions import db
from tests.conftest import csrf_token, login_as

PSA = shutil.which("psa") or os.path.join(os.path.dirname(sys.executable), "psa")


def _run(args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "SMTP_PORT")}
    env.update({"REDIS_URL": "", **env_overrides})
    return subprocess.run([PSA, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.fixture
def secret_key_file():
    """instance/secret_key as `make run` leaves it (created for the test when the checkout has none yet).

    The file is the checkout's, one for every pytest process (xdist workers included): the test holds an
    exclusive lock on instance/ meanwhile, so no other one removes the file it made while this one runs."""
    import fcntl

    SECRET_KEY_FILE.parent.mkdir(exist_ok=True)
    folder = os.open(SECRET_KEY_FILE.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        created = not SECRET_KEY_FILE.exists()
        if created:
            SECRET_KEY_FILE.write_text("test-secret-from-file\n")
        yield SECRET_KEY_FILE
        if created:
            SECRET_KEY_FILE.unlink()
    finally:
        os.close(folder)  # releases the lock


def test_create_user_reads_the_secret_key_file_when_none_is_exported(tmp_path, secret_key_file):
    from flask_migrate import upgrade

    from tests.conftest import make_test_app

    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'psa.sqlite'}"}
    with make_test_app(database["DATABASE_URL"], tmp_path, REDIS_URL="").app_context():
        upgrade()  # the schema, made here: the console script's own `db upgrade` is tests/cli/test_commands.py's
        db.engine.dispose()
    created = _run(["create-user", "--email", "Ops@Example.com", "--role", "admin", "--password",
                    "long-enough-password"], database, tmp_path)
    assert created.returncode == 0, created.stderr
    assert "Created admin ops@example.com" in created.stdout
    assert "Traceback" not in created.stderr


@pytest.mark.parametrize("variable, value, message", [
    ("SMTP_PORT", "not-a-port", "SMTP_PORT must be an integer"),
    ("PSA_PROXY_COUNT", "two", "PSA_PROXY_COUNT must be an integer"),
])
def test_a_configuration_error_is_one_line_without_traceback(tmp_path, secret_key_file, variable, value, message):
    result = _run(["create-user", "--email", "a@example.com", "--role", "admin", "--password", "long-enough-password"],
                  {variable: value, "DATABASE_URL": f"sqlite:///{tmp_path / 'psa.sqlite'}"}, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.parametrize("address", ["x@example.test", "someone@localhost", "no-at-sign", "a@b"])
def test_cli_refuses_what_the_sign_in_form_refuses(app, client, address):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", address, "--role", "consultant",
                                                "--password", "long-enough-password"])
    assert result.exit_code != 0
    assert "Enter a valid e-mail address" in result.output
    # the sign-in form refuses the same address with the same sentence
    page = client.post("/login", data={"csrf_token": csrf_token(client), "email": address,
                                       "password": "long-enough-password"})
    assert "Enter a valid e-mail address" in page.get_data(as_text=True)


def test_a_user_made_by_the_cli_signs_in_through_the_form(app, client):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "Mixed.Case+tag@Example.COM", "--role",
                                                "consultant", "--password", "long-enough-password"])
    assert result.exit_code == 0, result.output

    class Person:
        email = "Mixed.Case+tag@Example.COM"

    login_as(client, Person, password="long-enough-password")
    assert client.get("/").status_code == 200
