"""Test fixtures: every database test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL.

Route tests use `client` and never hold an app context across requests (each request gets its own,
as in production). Service tests use `ctx`, which pushes one app context for the test.

Under pytest-xdist (`make test` runs `-n PYTEST_WORKERS`, 2 to 4) every worker has its own resources:
its own PostgreSQL database (TEST_DATABASE_URL's name + `_gw0`, `_gw1`…, created when missing), its own
Redis database index (REDIS_URL's for gw0, then the next ones up, or down past database 15), and its own
tmp_path tree for the SQLite files and upload folders. The environment is rewritten when the worker starts, so a
test reading os.environ["REDIS_URL"] or TEST_DATABASE_URL, and any subprocess it runs, sees the worker's.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from psa import create_app
from psa.admin.models import Settings
from psa.config import normalise_database_url
from psa.core import report_cache
from psa.extensions import db as _db
from psa.extensions import limiter
from tests.factories import PASSWORD, Factories

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
#: "gw0", "gw1"… in a pytest-xdist worker; None in a plain (single-process) run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
#: Redis's default number of databases (`databases 16` in redis.conf).
REDIS_DATABASES = 16


def _worker_redis_url(url: str, worker: str) -> str:
    """REDIS_URL for worker gwN: the given database index + N (base - N when that passes the last one)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    n = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    base = int(query.get("db") or parts.path.strip("/") or 0)
    index = base + n if base + n < REDIS_DATABASES else base - n
    if index < 0:
        raise pytest.UsageError(f"REDIS_URL {url}: no Redis database left for xdist worker {worker}")
    if parts.scheme == "unix":
        return f"unix://{parts.netloc}{parts.path}?{urlencode({**query, 'db': index})}"
    if "db" in query:
        return parts._replace(query=urlencode({**query, "db": index})).geturl()
    return parts._replace(path=f"/{index}").geturl()


def _worker_database_url(url: str, worker: str) -> str:
    """TEST_DATABASE_URL for worker gwN: the same server, the database `<name>_gwN`."""
    parsed = sa.engine.make_url(url)
    name = parsed.database or parsed.username or "postgres"  # libpq's default: the user's name
    return parsed.set(database=f"{name}_{worker}").render_as_string(hide_password=False)


def pytest_configure(config):
    """In an xdist worker, point REDIS_URL and TEST_DATABASE_URL at the worker's own databases."""
    if not WORKER:
        return
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _worker_redis_url(os.environ["REDIS_URL"], WORKER)
    if os.environ.get("TEST_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = _worker_database_url(os.environ["TEST_DATABASE_URL"], WORKER)


def _create_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it does not exist (from the server's `postgres` db)."""
    import psycopg
    from psycopg import errors, sql

    parsed = sa.engine.make_url(url)
    server = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
        except (errors.DuplicateDatabase, errors.UniqueViolation):  # another run made it meanwhile
            pass


def _database_url(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite'}"
    url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
    if WORKER:
        _create_database(url)
    return url


def _reset_schema(url: str) -> None:
    """Start from an empty database, so the migrations are what builds the schema."""
    if url.startswith("sqlite"):
        return
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def make_test_app(url: str, tmp_path, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "PSA_INLINE_JOBS": True,
        "PSA_BASE_URL": "http://localhost",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SMTP_HOST": "",
        # fast hashing keeps the suite quick; production uses scrypt
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory):
    """One application per database backend, its schema built by the migrations."""
    from flask_migrate import upgrade

    url = _database_url(request.param, tmp_path_factory)
    _reset_schema(url)
    application = make_test_app(url, tmp_path_factory.mktemp("files"))
    application.config["BACKEND"] = request.param
    with application.app_context():
        upgrade()
        _db.session.remove()
    yield application
    with application.app_context():
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean(request):
    """After every database test, empty every table and the rate limiter."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
            # back to the state the migrations leave: the settings row with its defaults
            conn.execute(Settings.__table__.insert().values(id=1))
        limiter.reset()
        report_cache.clear()  # emptied tables can bring a data version back


@pytest.fixture
def ctx(app):
    """An app context for the whole test: for service tests that do not use the client."""
    with app.app_context():
        yield app
        _db.session.rollback()
        _db.session.remove()


@pytest.fixture
def make(app):
    return Factories(app)


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/login") -> str:
    """The session's CSRF token, read from a page that carries a form."""
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {response.status_code})"
    return match.group(1)


def login_as(client, user, password: str = PASSWORD, **extra):
    """Sign in through the real form, CSRF token included; returns the response."""
    token = csrf_token(client, "/login")
    data = {"csrf_token": token, "email": user.email, "password": password, **extra}
    response = client.post("/login", data=data)
    assert response.status_code == 302, f"sign-in failed for {user.email}: {response.status_code}"
    return response


def post_form(client, path: str, data: dict | None = None, token_from: str = "/", **kwargs):
    """POST a form with a valid CSRF token taken from a page of the signed-in session."""
    payload = {"csrf_token": csrf_token(client, token_from), **(data or {})}
    return client.post(path, data=payload, **kwargs)


@pytest.fixture
def login(client):
    def _login(user, **extra):
        login_as(client, user, **extra)
        return client

    return _login


@contextmanager
def _count(app):
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = _db.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


@pytest.fixture
def count_queries(app):
    """`with count_queries() as statements:` collects every SQL statement run inside the block."""
    return lambda: _count(app)


class _SMTPServer:
    """A real SMTP server (aiosmtpd) on a free local port, keeping the messages it receives."""

    def __init__(self):
        import socket

        from aiosmtpd.controller import Controller

        self.messages = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(envelope)
                return "250 Message accepted for delivery"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.host = "127.0.0.1"
        self.controller = Controller(Handler(), hostname=self.host, port=self.port)


@pytest.fixture
def smtp_server():
    server = _SMTPServer()
    server.controller.start()
    yield server
    server.controller.stop()
