"""What every bench script shares: an app on a scratch database, SQLite in a temporary folder and, when
TEST_DATABASE_URL is set, PostgreSQL in a scratch schema dropped at the end; each built by the migrations."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

#: The PostgreSQL schema a bench works in (dropped before and after).
SCHEMA = "psa_bench"


def make_app(url: str, engine_options: dict | None = None):
    """An app on `url` with the test suite's settings (no Redis, inline jobs, fast password hashing)."""
    from psa import create_app

    config = {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "",
              "RATELIMIT_STORAGE_URI": "memory://", "PSA_INLINE_JOBS": True, "SMTP_HOST": "",
              "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
    if engine_options:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    return create_app(config)


def each_database(run: Callable[[str, object], None]) -> None:
    """Call run(backend name, app) on a scratch SQLite database, then on scratch PostgreSQL when
    TEST_DATABASE_URL is set. `run` migrates and seeds what it needs."""
    with tempfile.TemporaryDirectory() as folder:
        run("sqlite", make_app(f"sqlite:///{Path(folder) / 'bench.sqlite'}"))
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return
    from psa.config import normalise_database_url

    url = normalise_database_url(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        app = make_app(url, {"connect_args": {"options": f"-csearch_path={SCHEMA}"}, "pool_pre_ping": True})
        run("postgresql", app)
        with app.app_context():
            from psa.extensions import db

            db.engine.dispose()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()


# --- the large demo and pages under gunicorn -----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: Where `make bench` keeps the large demo when BENCH_DATABASE_URL is not set.
DEFAULT_LARGE_DEMO = f"sqlite:///{ROOT / 'instance' / 'bench-large.sqlite'}"
HOW_TO_BUILD = ("Build it with: DATABASE_URL={url} .venv/bin/psa db upgrade && "
                "DATABASE_URL={url} .venv/bin/psa demo --scale large   (or simply `make bench`)")


def large_demo_url() -> str:
    """The database holding `psa demo --scale large`: BENCH_DATABASE_URL, else instance/bench-large.sqlite."""
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_LARGE_DEMO


def require_large_demo(url: str, minimum_entries: int = 1) -> None:
    """Exit with the command that builds the large demo when `url` does not hold one."""
    from psa.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            entries = conn.execute(sa.text("SELECT count(*) FROM time_entries")).scalar_one()
    except sa.exc.SQLAlchemyError:
        entries = 0
    finally:
        engine.dispose()
    if entries < minimum_entries:
        sys.exit(f"No large demo at {url} ({entries} time entries). " + HOW_TO_BUILD.format(url=url))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The production settings the README gives: threaded workers, so a long download neither blocks the
#: worker's heartbeat nor the other requests, and a timeout that kills only a worker that stopped answering.
GUNICORN_ARGS = ("--workers", "2", "--worker-class", "gthread", "--threads", "4", "--timeout", "120")


class Gunicorn:
    """`gunicorn 'psa:create_app()'` on a free loopback port, serving `url`, as a context manager:
    started and answering /healthz on entry, stopped on exit.

        with Gunicorn(url) as server:
            client = server.client("admin@demo.psa", "admin-demo-pass")
            status, body = client.get("/")
    """

    def __init__(self, url: str, args: tuple[str, ...] = GUNICORN_ARGS, env: dict | None = None):
        self.url, self.args, self.extra_env = url, args, env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self) -> Gunicorn:
        import subprocess
        import time
        import urllib.request

        env = {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": "bench", "REDIS_URL": "",
               "RATELIMIT_STORAGE_URI": "memory://", "PSA_BASE_URL": self.base,
               "PSA_IN_PROCESS_SCHEDULER": "0", **self.extra_env}
        env.pop("TEST_DATABASE_URL", None)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), *self.args, "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
             "psa:create_app()"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except Exception:
                self.process.kill()

    def client(self, email: str | None = None, password: str | None = None, login_path: str = "/login") -> Client:
        client = Client(self.base)
        if email:
            client.login(email, password, login_path)
        return client


class Client:
    """A cookie-keeping HTTP client on the standard library (one keep-alive connection)."""

    def __init__(self, base: str):
        import http.client
        from urllib.parse import urlsplit

        self.base = base
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                stream_to=None) -> tuple[int, bytes]:
        """(status, body); with stream_to, the body is read in chunks into stream_to.write and b"" returned."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if stream_to is None:
            return response.status, response.read()
        while chunk := response.read(1 << 16):
            stream_to.write(chunk)
        return response.status, b""

    def get(self, path: str, **kwargs) -> tuple[int, bytes]:
        return self.request("GET", path, **kwargs)

    def login(self, email: str, password: str, path: str = "/login") -> None:
        """Sign in through the form at `path` (/login, or the portal's /portal/login for a contact)."""
        import re
        from urllib.parse import urlencode

        status, page = self.get(path)
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"{path} answered {status} without a CSRF token")
        body = urlencode({"csrf_token": token.group(1).decode(), "email": email, "password": password}).encode()
        status, _ = self.request("POST", path, body=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"signing in as {email} answered {status}")


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of `samples` in the same unit, nearest-rank."""
    ordered = sorted(samples)
    rank = lambda q: ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * q // 100) - 1))]  # noqa: E731
    return rank(50), rank(95)
