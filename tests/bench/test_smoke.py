"""Every bench script runs and prints its figures (on a tiny SQLite data set): what they print is measured
by `make bench`, never here. Scripts that measure the large demo get the small demo instead ({demo} in
their arguments: a migrated SQLite file with `psa demo` loaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
PSA = Path(sys.executable).with_name("psa")
#: Small arguments for each script, so the smoke run takes seconds: one timed request (or run) where a script
#: takes a count, no warm-up where it takes one, and one client for pages.py's requests per second (with one
#: request a second client would get none of it: it only signed in).
SMALL = {"import_time.py": ["--rows", "200"], "refresh_schedule.py": ["--projects", "6", "--tasks", "5"],
         "pages.py": ["--database-url", "{demo}", "--requests", "1", "--warmup", "0", "--threads", "1"],
         "export_year.py": ["--database-url", "{demo}", "--repeat", "1"],
         "ttv.py": ["--database-url", "{demo}", "--repeat", "1"],
         "escalations.py": ["--database-url", "{demo}", "--repeat", "1"],
         **{f"report_{name}.py": ["--database-url", "{demo}", "--repeat", "1", "--requests", "1", "--warmup", "0",
                                  "--advisory"] for name in ("utilization", "margin", "forecast", "ttv", "account")}}
#: Modules the bench scripts import, not scripts.
SHARED = {"common.py", "reports_common.py"}


def _environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "BENCH_DATABASE_URL")}
    return {**env, "REDIS_URL": "", "SECRET_KEY": "bench-smoke", **extra}


def _copy(source: Path, target: Path) -> None:
    """A SQLite database copied through SQLite (its write-ahead log included, if one is left)."""
    import sqlite3

    source_db, target_db = sqlite3.connect(source), sqlite3.connect(target)
    try:
        source_db.backup(target_db)
    finally:
        source_db.close()
        target_db.close()


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> Path:
    """A SQLite file holding the small demo, built by the CLI as `make bench` builds the large one. Built once
    for the whole run: under pytest-xdist the first worker to need it builds it in the run's shared temporary
    folder while the others wait on the lock."""
    import fcntl

    folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = folder.parent  # the run's folder, above each worker's own
    built = folder / "bench-demo.sqlite"
    with open(folder / "bench-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            building = folder / "bench-demo.building.sqlite"
            building.unlink(missing_ok=True)
            url = f"sqlite:///{building}"
            for command in (["db", "upgrade"], ["demo"]):
                result = subprocess.run([str(PSA), *command], env=_environment(DATABASE_URL=url), capture_output=True,
                                        text=True, timeout=300)
                assert result.returncode == 0, result.stderr[-2000:]
            _copy(building, building.with_suffix(".done"))
            building.with_suffix(".done").rename(built)  # whole or not there
    return built


@pytest.fixture
def demo(demo_file, tmp_path) -> str:
    """A copy of the small demo for one script, as a database URL: the scripts write to it (sessions, a portal
    contact, what the periodic jobs they run first make), and two workers' scripts may run at once."""
    copy = tmp_path / "demo.sqlite"
    _copy(demo_file, copy)
    return f"sqlite:///{copy}"


def test_every_bench_script_has_small_arguments_here():
    scripts = {p.name for p in BENCH.glob("*.py") if p.name not in SHARED}
    assert scripts == set(SMALL), "give the new bench script small arguments in SMALL"


@pytest.mark.parametrize("script", sorted(SMALL))
def test_bench_script_runs_and_prints_ratios(script, request):
    arguments = SMALL[script]
    if any("{demo}" in a for a in arguments):
        url = request.getfixturevalue("demo")
        arguments = [a.replace("{demo}", url) for a in arguments]
    result = subprocess.run([sys.executable, str(BENCH / script), *arguments], env=_environment(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sqlite" in result.stdout and "ratio" in result.stdout, result.stdout
    if script == "pages.py":  # the customer portal's project page, seen by a contact signed in at /portal/login
        assert "portal project largest" in result.stdout, result.stdout
