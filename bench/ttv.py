"""Time the time-to-value snapshot against the bare SQL computing the same aggregates.

    .venv/bin/python bench/ttv.py [--database-url URL] [--repeat N]

On the large demo (`psa demo --scale large`; BENCH_DATABASE_URL or instance/bench-large.sqlite, or
--database-url), prints:

1. record_time_to_value over every project (the demo stores no TTV: the first run sets it from the first-value
   milestones; later runs change nothing): seconds, statements, projects changed;
2. take_ttv_snapshot for today, committed: on PostgreSQL one statement (`WITH fresh AS (<every cohort's figures,
   computed and rounded in SQL>), gone AS (DELETE emptied cohorts) , written AS (INSERT … SELECT … ON CONFLICT DO
   UPDATE) SELECT FROM fresh`), on SQLite the INSERT … SELECT … ON CONFLICT DO UPDATE … RETURNING and a count of
   the day's rows: seconds, statements, cohorts. Measured twice: the first run of the day (today's rows
   removed first: every row inserted, as the nightly job does) and a rerun over the same data (best of
   --repeat; on PostgreSQL it rewrites no row whose figures are unchanged);
3. the baseline: the bare SQL computing the same aggregates (per template, segment and kickoff quarter: count,
   sum, within-target count, median and 75th percentile — percentile_cont on PostgreSQL, rank windows on
   SQLite), fetched through the driver; and the ratio snapshot / baseline (target ≤ 2) — the fair one for the
   rerun, which writes no row, and for the aggregate alone;
4. the baseline of the first run of the day, which writes every cohort's row and commits: the same bare
   aggregates written by the database into a scratch table with ttv_snapshots' columns (bench_ttv_bare, created
   here if missing, no constraint or index, dropped at the end) — DELETE its rows, INSERT INTO bench_ttv_bare
   (…) SELECT <the bare aggregates, with the day, the quarter's label, the mean and the share>, COMMIT — and the
   ratio first run of the day / that baseline (target ≤ 2).

The rerun, 3 and 4 run --repeat times each, alternately; the fastest of each is kept (the first run of the day
is one run).

It writes: projects' ttv_days, today's ttv_snapshots rows, and a 90-day target on templates that have none
(the large demo sets no target; without one the within-target share would not be computed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import large_demo_url, make_app, require_large_demo  # noqa: E402

#: The target given to templates without one.
DEFAULT_TARGET = 90

COHORT_KEYS = """
    SELECT COALESCE(tv.template_id, 0) AS template_key, t.target_ttv_days AS target, a.segment AS segment,
           {year} AS year, ({month} + 2) / 3 AS quarter, p.ttv_days AS ttv
    FROM projects p JOIN accounts a ON a.id = p.account_id
    LEFT JOIN template_versions tv ON tv.id = p.template_version_id
    LEFT JOIN templates t ON t.id = tv.template_id
    WHERE p.ttv_days IS NOT NULL"""

BARE_POSTGRESQL = f"""
SELECT template_key, segment, year, quarter, count(*), sum(ttv), max(target),
       sum(CASE WHEN ttv <= target THEN 1 ELSE 0 END),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ttv), percentile_cont(0.75) WITHIN GROUP (ORDER BY ttv)
FROM ({COHORT_KEYS.format(year="CAST(EXTRACT(year FROM p.kickoff_date) AS INTEGER)",
                          month="CAST(EXTRACT(month FROM p.kickoff_date) AS INTEGER)")}) AS c
GROUP BY template_key, segment, year, quarter"""

BARE_SQLITE = f"""
WITH c AS ({COHORT_KEYS.format(year="CAST(strftime('%Y', p.kickoff_date) AS INTEGER)",
                                month="CAST(strftime('%m', p.kickoff_date) AS INTEGER)")}),
r AS (SELECT c.*, row_number() OVER w AS rn, count(*) OVER (PARTITION BY template_key, segment, year, quarter) AS n
      FROM c WINDOW w AS (PARTITION BY template_key, segment, year, quarter ORDER BY ttv))
SELECT template_key, segment, year, quarter, count(*), sum(ttv), max(target),
       sum(CASE WHEN ttv <= target THEN 1 ELSE 0 END),
       (4 * sum(CASE WHEN rn = (2 + 2 * n) / 4 THEN ttv ELSE 0 END)
        + max((2 + 2 * n) % 4) * (sum(CASE WHEN (2 + 2 * n) % 4 > 0 AND rn = (2 + 2 * n) / 4 + 1 THEN ttv ELSE 0 END)
                                 - sum(CASE WHEN rn = (2 + 2 * n) / 4 THEN ttv ELSE 0 END))) / 4.0,
       (4 * sum(CASE WHEN rn = (1 + 3 * n) / 4 THEN ttv ELSE 0 END)
        + max((1 + 3 * n) % 4) * (sum(CASE WHEN (1 + 3 * n) % 4 > 0 AND rn = (1 + 3 * n) / 4 + 1 THEN ttv ELSE 0 END)
                                 - sum(CASE WHEN rn = (1 + 3 * n) / 4 THEN ttv ELSE 0 END))) / 4.0
FROM r GROUP BY template_key, segment, year, quarter"""


#: The scratch table of the write baseline: ttv_snapshots' columns and types, no constraint or index.
SCRATCH = "bench_ttv_bare"
SCRATCH_COLUMNS = ("taken_on, template_key, template_name, segment, kickoff_quarter, project_count, median_days, "
                   "p75_days, mean_days, within_target_share")
#: ExactNumeric is NUMERIC(p, s) on PostgreSQL, an INTEGER (value × 10^s) on SQLite.
SCRATCH_DDL = {
    "postgresql": f"""CREATE TABLE IF NOT EXISTS {SCRATCH} (id SERIAL PRIMARY KEY, taken_on DATE NOT NULL,
        template_key INTEGER NOT NULL, template_name VARCHAR(120) NOT NULL, segment VARCHAR(10) NOT NULL,
        kickoff_quarter VARCHAR(7) NOT NULL, project_count INTEGER NOT NULL, median_days NUMERIC(10, 2) NOT NULL,
        p75_days NUMERIC(10, 2) NOT NULL, mean_days NUMERIC(10, 2) NOT NULL, within_target_share NUMERIC(5, 4))""",
    "sqlite": f"""CREATE TABLE IF NOT EXISTS {SCRATCH} (id INTEGER PRIMARY KEY, taken_on DATE NOT NULL,
        template_key INTEGER NOT NULL, template_name VARCHAR(120) NOT NULL, segment VARCHAR(10) NOT NULL,
        kickoff_quarter VARCHAR(7) NOT NULL, project_count INTEGER NOT NULL, median_days INTEGER NOT NULL,
        p75_days INTEGER NOT NULL, mean_days INTEGER NOT NULL, within_target_share INTEGER)""",
}
#: The bare aggregates (columns: template_key, segment, year, quarter, count, sum, target, within, median, p75)
#: written as rows: the day, a blank name (the bare SQL joins no name), the quarter's label, mean and share.
BARE_WRITE = f"""
WITH b (template_key, segment, year, quarter, n, total, target, within, median, p75) AS ({{bare}})
INSERT INTO {SCRATCH} ({SCRATCH_COLUMNS})
SELECT CURRENT_DATE, b.template_key, '', b.segment, CAST(b.year AS TEXT) || '-Q' || CAST(b.quarter AS TEXT),
       b.n, b.median, b.p75, b.total * 1.0 / b.n, CASE WHEN b.target IS NULL THEN NULL ELSE b.within * 1.0 / b.n END
FROM b"""


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


def bare(app) -> tuple[float, int]:
    """(seconds, cohorts) of the bare aggregate, fetched through the driver."""
    from psa.extensions import db

    with app.app_context():
        sql = BARE_POSTGRESQL if db.engine.dialect.name == "postgresql" else BARE_SQLITE
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            started = time.perf_counter()
            cursor.execute(sql)
            rows = cursor.fetchall()
            seconds = time.perf_counter() - started
            connection.rollback()
            return seconds, len(rows)
        finally:
            connection.close()


def scratch(app, create: bool) -> None:
    """Create the write baseline's scratch table if missing (create), or drop it."""
    from psa.extensions import db

    with app.app_context():
        ddl = SCRATCH_DDL[db.engine.dialect.name] if create else f"DROP TABLE IF EXISTS {SCRATCH}"
        with db.engine.begin() as connection:
            connection.exec_driver_sql(ddl)


def bare_write(app) -> tuple[float, int]:
    """(seconds, rows written) of the bare aggregates written into the scratch table: DELETE its rows,
    INSERT … SELECT, COMMIT — through the driver."""
    from psa.extensions import db

    with app.app_context():
        sql = BARE_WRITE.format(bare=BARE_POSTGRESQL if db.engine.dialect.name == "postgresql" else BARE_SQLITE)
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            started = time.perf_counter()
            cursor.execute(f"DELETE FROM {SCRATCH}")
            cursor.execute(sql)
            connection.commit()
            seconds = time.perf_counter() - started
            cursor.execute(f"SELECT count(*) FROM {SCRATCH}")  # not timed (rowcount is -1 after WITH on SQLite)
            written = cursor.fetchone()[0]
            connection.rollback()
            return seconds, written
        finally:
            connection.close()


def snapshot(app, first_of_day: bool = False) -> tuple[float, float, int, list]:
    """(seconds, seconds of its aggregate alone, statements, cohorts) of take_ttv_snapshot for today, committed;
    with first_of_day, today's rows are deleted (and committed) before, so every row is inserted."""
    from psa.admin.services import get_settings
    from psa.core.clock import org_today
    from psa.extensions import db
    from psa.projects.models import TtvSnapshot
    from psa.projects.ttv import compute_cohorts, take_ttv_snapshot

    with app.app_context():
        get_settings()
        today = org_today()
        if first_of_day:
            db.session.execute(sa.delete(TtvSnapshot).where(TtvSnapshot.taken_on == today))
            db.session.commit()
        started = time.perf_counter()
        compute_cohorts(today)
        aggregate = time.perf_counter() - started
        db.session.rollback()
        with Statements(db.engine) as statements:
            started = time.perf_counter()
            cohorts = take_ttv_snapshot(today)
            db.session.commit()
            seconds = time.perf_counter() - started
        return seconds, aggregate, statements.count, cohorts


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
    from psa.project_templates.models import Template
    from psa.projects.models import Project
    from psa.projects.ttv import record_time_to_value

    with app.app_context():
        backend = db.engine.dialect.name
        targets = db.session.execute(sa.update(Template).where(Template.target_ttv_days.is_(None))
                                     .values(target_ttv_days=DEFAULT_TARGET)).rowcount
        db.session.commit()
        projects = db.session.scalar(sa.select(sa.func.count()).select_from(Project))
        print(f"{backend}: {projects} projects; {targets} templates given a {DEFAULT_TARGET}-day target")
        for attempt in ("first", "again"):
            assert get_settings().timezone  # read before counting: a request has it already
            with Statements(db.engine) as statements:
                started = time.perf_counter()
                changed = record_time_to_value()
                db.session.commit()
                seconds = time.perf_counter() - started
            print(f"{backend}: record_time_to_value over every project ({attempt}): {seconds:.3f} s, "
                  f"{statements.count} statements, {changed} projects changed")
        reached = db.session.scalar(sa.select(sa.func.count()).where(Project.ttv_days.is_not(None)))
        print(f"{backend}: {reached} projects with a TTV")

    snapshot(app)  # statements built and compiled once, as in a worker that has run it before
    first_seconds, _, first_statements, _ = snapshot(app, first_of_day=True)
    best_snapshot = best_aggregate = best_bare = best_write = None
    scratch(app, create=True)
    try:
        for _ in range(max(1, args.repeat)):
            seconds, aggregate, statements, cohorts = snapshot(app)
            best_snapshot = seconds if best_snapshot is None else min(best_snapshot, seconds)
            best_aggregate = aggregate if best_aggregate is None else min(best_aggregate, aggregate)
            bare_seconds, bare_cohorts = bare(app)
            best_bare = bare_seconds if best_bare is None else min(best_bare, bare_seconds)
            write_seconds, written = bare_write(app)
            best_write = write_seconds if best_write is None else min(best_write, write_seconds)
    finally:
        scratch(app, create=False)
    assert bare_cohorts == len(cohorts) == written, (bare_cohorts, len(cohorts), written)
    print(f"{backend}: take_ttv_snapshot, first run of the day (every row inserted, commit): {first_seconds:.4f} s, "
          f"{first_statements} statements")
    print(f"{backend}: take_ttv_snapshot, rerun (aggregate, upsert, delete, commit): {best_snapshot:.4f} s, "
          f"{statements} statements, {len(cohorts)} cohorts; its aggregate alone (compute_cohorts): "
          f"{best_aggregate:.4f} s")
    print(f"{backend}: bare aggregate SQL: {best_bare:.4f} s, {bare_cohorts} cohorts")
    print(f"{backend}: ratio aggregate / bare SQL: {best_aggregate / best_bare:.2f}; ratio whole snapshot with its "
          f"writes / bare SQL: first run of the day {first_seconds / best_bare:.2f}, rerun "
          f"{best_snapshot / best_bare:.2f} (target ≤ 2)")
    print(f"{backend}: bare aggregate SQL written and committed (DELETE, INSERT INTO {SCRATCH} … SELECT, commit): "
          f"{best_write:.4f} s, {written} rows; ratio first run of the day / it: {first_seconds / best_write:.2f} "
          f"(target ≤ 2)")
    for c in cohorts[:3]:
        print(f"  {c.template_name or '(blank)'} · {c.segment} · {c.kickoff_quarter}: n {c.project_count}, "
              f"median {c.median_days}, p75 {c.p75_days}, mean {c.mean_days}, within {c.within_target_share}")


if __name__ == "__main__":
    main()
