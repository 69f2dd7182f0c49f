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
