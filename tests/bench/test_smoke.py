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
#: Small arguments for each script, so the smoke run takes seconds.
SMALL = {"import_time.py": ["--rows", "200"], "refresh_schedule.py": ["--projects", "6", "--tasks", "5"],
         "pages.py": ["--database-url", "{demo}", "--requests", "1", "--warmup", "1"], "export_year.py": ["--database-url", "{demo}", "--repeat", "1"],
         "ttv.py": ["--database-url", "{demo}", "--repeat", "1"],
         "escalations.py": ["--database-url", "{demo}", "--repeat", "1"],
         **{f"report_{name}.py": ["--database-url", "{demo}", "--repeat", "1", "--requests", "2", "--warmup", "1",
                                  "--advisory"] for name in ("utilization", "margin", "forecast", "ttv", "account")}}
#: Modules the bench scripts import, not scripts.
SHARED = {"common.py", "reports_common.py"}


def _environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "BENCH_DATABASE_URL")}
    return {**env, "REDIS_URL": "", "SECRET_KEY": "bench-smoke", **extra}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> str:
    """A SQLite database holding the small demo, built by the CLI as `make bench` builds the large one."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'demo.sqlite'}"
    for command in (["db", "upgrade"], ["demo"]):
        result = subprocess.run([str(PSA), *command], env=_environment(DATABASE_URL=url), capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    return url


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
