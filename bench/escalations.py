"""Time the escalation sweep over every open project against the bare SQL selecting the same milestones.

    .venv/bin/python bench/escalations.py [--database-url URL] [--repeat N]

On the large demo (`psa demo --scale large`; BENCH_DATABASE_URL or instance/bench-large.sqlite, or
--database-url), prints for sweep_escalations() over every open project (SPEC §3 levels, the settings'
thresholds):

1. the first sweep (it opens an escalation for every slipping milestone, notifies each level's people in the
   app and by e-mail, audits it and refreshes the health of the projects concerned): seconds, statements, counts;
2. the hourly sweep after it (nothing changed: resolve, open, raise and claim find nothing): seconds, statements;
3. the baseline: the bare SQL selecting the same milestones (open milestones of open projects slipping at
   least the level 1 threshold, with the open escalation of each) through the driver, fetched; and the ratios
   sweep / bare SQL (target for the hourly sweep: ≤ 2).

Each repetition runs in one transaction rolled back at the end, so the demo is left as it was; the fastest of
--repeat runs is kept for each figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import large_demo_url, make_app, require_large_demo  # noqa: E402

BARE = """
SELECT m.id, m.project_id, m.slip_days, m.due_date, e.id, e.level, e.notified_level
FROM milestones m JOIN projects p ON p.id = m.project_id
LEFT JOIN escalations e ON e.milestone_id = m.id AND e.resolved_at IS NULL
WHERE m.status <> 'done' AND m.slip_days >= {level1} AND p.status IN ('planned', 'active', 'on_hold')
"""


class Statements:
    """Counts the statements an engine runs inside the block."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _listen(self, *args):
        self.count += 1

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._listen)


def bare(app, level1: int) -> tuple[float, int]:
    """(seconds, rows) of the bare SELECT of the milestones the sweep considers, fetched through the driver."""
    from psa.extensions import db

    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            started = time.perf_counter()
            cursor.execute(BARE.format(level1=int(level1)))
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            connection.rollback()
            return seconds, len(rows)
        finally:
            connection.close()


def sweeps(app) -> tuple[tuple[float, int, object], tuple[float, int, object]]:
    """((seconds, statements, result) of the first sweep, the same of the sweep after it), rolled back."""
    from psa.admin.services import get_settings
    from psa.escalations.services import sweep_escalations
    from psa.extensions import db

    with app.app_context():
        get_settings()  # read before counting: a job reads it once too
        measured = []
        try:
            for _ in range(2):
                with Statements(db.engine) as statements:
                    started = time.perf_counter()
                    result = sweep_escalations()
                    db.session.flush()
                    seconds = time.perf_counter() - started
                measured.append((seconds, statements.count, result))
        finally:
            db.session.rollback()
        return measured[0], measured[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = args.database_url or large_demo_url()
    require_large_demo(url)
    from psa.config import normalise_database_url

    app = make_app(normalise_database_url(url))
    from psa.admin.services import get_settings
    from psa.extensions import db
    from psa.projects.models import Escalation, Milestone, Project

    with app.app_context():
        backend = db.engine.dialect.name
        level1 = get_settings().escalation_level1_days
        counts = (db.session.scalar(sa.select(sa.func.count()).select_from(Project)),
                  db.session.scalar(sa.select(sa.func.count()).select_from(Milestone)),
                  db.session.scalar(sa.select(sa.func.count()).where(Escalation.resolved_at.is_(None))))
    print(f"{backend}: {counts[0]} projects, {counts[1]} milestones, {counts[2]} open escalations before")
    best_first = best_again = best_bare = None
    for _ in range(max(1, args.repeat)):
        first, again = sweeps(app)
        bare_seconds, rows = bare(app, level1)
        best_first = first if best_first is None or first[0] < best_first[0] else best_first
        best_again = again if best_again is None or again[0] < best_again[0] else best_again
        best_bare = bare_seconds if best_bare is None else min(best_bare, bare_seconds)
    seconds, statements, result = best_first
    print(f"{backend}: first sweep (opens, notifies, audits, refreshes health): {seconds:.4f} s, {statements} "
          f"statements; {result}; {len(result.projects)} projects' health refreshed")
    seconds, statements, result = best_again
    print(f"{backend}: hourly sweep after it (nothing changes): {seconds:.4f} s, {statements} statements; {result}")
    print(f"{backend}: bare SQL selecting the same milestones: {best_bare:.4f} s, {rows} rows")
    print(f"{backend}: ratio hourly sweep / bare SQL: {best_again[0] / best_bare:.2f} (target ≤ 2); "
          f"ratio first sweep / bare SQL: {best_first[0] / best_bare:.2f}")


if __name__ == "__main__":
    main()
