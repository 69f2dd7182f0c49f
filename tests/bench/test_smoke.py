"""Every bench script runs and prints its figures (on a tiny SQLite data set): what they print is measured
by `make bench`, never here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
#: Small arguments for each script, so the smoke run takes seconds.
SMALL = {"import_time.py": ["--rows", "200"], "refresh_schedule.py": ["--projects", "6", "--tasks", "5"]}


def test_every_bench_script_has_small_arguments_here():
    scripts = {p.name for p in BENCH.glob("*.py") if p.name != "common.py"}
    assert scripts == set(SMALL), "give the new bench script small arguments in SMALL"


@pytest.mark.parametrize("script", sorted(SMALL))
def test_bench_script_runs_and_prints_ratios(script):
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    result = subprocess.run([sys.executable, str(BENCH / script), *SMALL[script]], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sqlite" in result.stdout and "ratio" in result.stdout, result.stdout
