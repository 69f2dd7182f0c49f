"""What the report benches (bench/report_*.py) share: the year, the statement counter, the hand-written SQL's
runner, the alternating best-of-N timing of a report service against its bare SQL, the page's p50/p95 through
gunicorn, and the PASS/FAIL checks (issue 15, acceptance 3: each report within 1.5x of the bare SQL doing the
same work on the large demo, each report page's p95 at most 300 ms).

A script describes its report as a ReportBench (the service call, the bare SQL, the figures both give, the
page) and hands it to main(); see bench/report_margin.py.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import Gunicorn, large_demo_url, make_app, percentiles, require_large_demo  # noqa: E402

#: Who signs in to the report pages: the demo leader (reports.view, accounts.view and rates.manage).
LEADER = ("leader@demo.psa", "leader-demo-pass")
RATIO_LIMIT = 1.5
P95_LIMIT_MS = 300.0


class Statements:
    """Counts the statements an engine runs inside the block (a before_cursor_execute listener)."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _listen(self, *args):
        self.count += 1

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._listen)


def year_period():
    """The last full 365 days: up to yesterday (the organisation's today), as the reports' Period."""
    from psa.projects.services import org_today
    from psa.reports.services import Period

    last = org_today() - timedelta(days=1)
    return Period(last - timedelta(days=364), last)


class Sql:
    """Hand-written SQL through one connection: each statement's rows fetched fully. Dates and aware datetimes
    are bound with the columns' types (an aware datetime as UTC: naive on SQLite), tuples expanded."""

    def __init__(self, connection):
        self.connection = connection
        self.dialect = connection.dialect.name

    def rows(self, sql: str, **params) -> list:
        from psa.core.db import UTCDateTime

        named = set(re.findall(r"(?<![:\w]):(\w+)", sql))
        params = {name: value for name, value in params.items() if name in named}
        binds = []
        for name, value in params.items():
            if isinstance(value, datetime):
                binds.append(sa.bindparam(name, type_=UTCDateTime()))
            elif isinstance(value, date):
                binds.append(sa.bindparam(name, type_=sa.Date()))
            elif isinstance(value, tuple | list):
                binds.append(sa.bindparam(name, expanding=True))
        return self.connection.execute(sa.text(sql).bindparams(*binds), params).all()

    def exact(self, value, scale: int = 2) -> Decimal:
        """An exact column's value (or a sum of it, or its product with a whole number) as a Decimal: NUMERIC on
        PostgreSQL, an integer of 10^-scale units on SQLite (psa.core.db.ExactNumeric)."""
        if value is None:
            return Decimal(0)
        if self.dialect == "sqlite":
            return Decimal(int(value)).scaleb(-scale)
        return Decimal(value)

    def boolean(self, column: str) -> str:
        """A boolean column as a condition (stored 0/1 on SQLite)."""
        return column if self.dialect == "postgresql" else f"{column} = 1"


@dataclass
class ReportBench:
    """One report: `service()` runs the report in an app context and returns it; `bare(sql)` runs the
    hand-written SQL (fetched fully) and returns what it read; `figures(report)` and `bare_figures(bare)` give the
    same named figures from each (they must be equal); `page` is the report page's path."""

    name: str
    what: str
    service: Callable[[], object]
    bare: Callable[[Sql], object]
    figures: Callable[[object], dict]
    bare_figures: Callable[[object], dict]
    page: str
    baseline: str


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", default=None, help="default: the large demo (BENCH_DATABASE_URL)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the service and of the bare SQL (best kept)")
    parser.add_argument("--requests", type=int, default=20, help="timed page requests (after --warmup)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--advisory", action="store_true",
                        help="print the timing checks without failing on them (a small data set: the smoke test); "
                             "the figures must still be equal")
    return parser.parse_args()


def time_service(app, bench: ReportBench) -> tuple[float, int, object]:
    """(seconds, statements, report) of one service call in a fresh app context (its own session)."""
    from psa.extensions import db

    with app.app_context():
        gc.collect()  # each side starts with the collector's young generations empty, as the other
        with Statements(db.engine) as statements:
            started = time.perf_counter()
            report = bench.service()
            seconds = time.perf_counter() - started
        db.session.rollback()
        return seconds, statements.count, report


def time_bare(app, bench: ReportBench) -> tuple[float, object]:
    """(seconds, what it read) of the hand-written SQL, through one connection of the same engine."""
    from psa.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        sql = Sql(connection)
        gc.collect()
        started = time.perf_counter()
        read = bench.bare(sql)
        seconds = time.perf_counter() - started
        connection.rollback()
        return seconds, read


def settle(app) -> None:
    """Run every periodic job once in-process (psa.jobs.schedule and the daily schedule refresh), as the worker
    would: gunicorn without Redis runs each at its start in every worker (psa.core.scheduler), and on a fresh
    large demo the first runs (schedules, escalations, the day's TTV snapshot, reminders) would be timed with
    the page. Each job does nothing more when run again, so the report and its page are timed in the steady state
(and the time-to-value report has today's snapshot)."""
    from psa.core.queue import run_job
    from psa.jobs.schedule import SCHEDULE

    for name in dict.fromkeys(["psa.projects.tasks.refresh_schedules_job", *(name for name, _ in SCHEDULE)]):
        run_job(app, name)


def page_times(url: str, path: str, requests: int, warmup: int, reuse: bool = True) -> tuple[int, float, float]:
    """(status of the last request, p50 ms, p95 ms) of GET path as the leader through gunicorn; with reuse False
    the server computes the report at every request (PSA_REPORT_CACHE=0), as after every change of its data."""
    with Gunicorn(url, env={"PSA_REPORT_CACHE": "1" if reuse else "0"}) as server:
        client = server.client(*LEADER)
        samples, statuses = [], []
        for n in range(warmup + requests):
            started = time.perf_counter()
            status, _ = client.get(path)
            if n >= warmup:
                samples.append(time.perf_counter() - started)
            statuses.append(status)
    p50, p95 = percentiles(samples)
    bad = [s for s in statuses if s != 200]
    return (bad[0] if bad else 200), p50 * 1000, p95 * 1000


def main(build: Callable[[object, argparse.Namespace], ReportBench], description: str) -> None:
    """Parse the arguments, open the large demo, build the bench, time, compare, check; exit 1 on a failure."""
    args = arguments(description)
    from psa.config import normalise_database_url

    url = normalise_database_url(args.database_url or large_demo_url())
    require_large_demo(url)
    app = make_app(url)
    settle(app)
    with app.app_context():
        from psa.extensions import db

        backend = db.engine.dialect.name
        entries = db.session.scalar(sa.text("SELECT count(*) FROM time_entries"))
        bench = build(app, args)
    label = f"{backend:<10} {bench.name:<12}"
    print(f"{label} {bench.what} ({entries:,} time entries)", flush=True)

    time_service(app, bench)  # statements compiled and caches warmed the same way for both sides
    time_bare(app, bench)
    # what lives as long as the process out of the collector's reach, as gunicorn.conf.py does in production
    gc.collect()
    gc.freeze()
    runs, bares = [], []
    for _ in range(max(1, args.repeat)):  # alternated, the best of each kept: the machine may be busy
        runs.append(time_service(app, bench))
        bares.append(time_bare(app, bench))
    ours, statements, report = min(runs, key=lambda run: run[0])
    bare, read = min(bares, key=lambda run: run[0])
    ratio = ours / bare if bare else float("inf")

    failures: list[str] = []
    mine, theirs = bench.figures(report), bench.bare_figures(read)
    same = mine == theirs
    shown = ", ".join(f"{k} {v}" for k, v in mine.items())
    print(f"{label} figures: {shown}")
    if not same:
        differing = {k: (mine.get(k), theirs.get(k)) for k in sorted(set(mine) | set(theirs))
                     if mine.get(k) != theirs.get(k)}
        failures.append(f"the bare SQL's figures differ from the report's (report, bare): {differing}")
    print(f"{label} service        {ours:8.4f} s  {statements} statements (best of {len(runs)})")
    print(f"{label} bare SQL       {bare:8.4f} s  {bench.baseline}; figures {'equal' if same else 'DIFFER'}")
    verdict = "PASS" if ratio <= RATIO_LIMIT else "FAIL"
    print(f"{label} ratio service / bare SQL {ratio:5.2f}x  {verdict} (limit {RATIO_LIMIT}x)", flush=True)
    timing_failures = []
    if ratio > RATIO_LIMIT:
        timing_failures.append(f"the service took {ratio:.2f}x the bare SQL (limit {RATIO_LIMIT}x)")

    status, p50, p95 = page_times(url, bench.page, args.requests, args.warmup, reuse=False)
    print(f"{label} page {bench.page}, computed at every request (PSA_REPORT_CACHE=0, as the first view after a "
          f"change): p50 {p50:6.1f} ms  p95 {p95:6.1f} ms over {args.requests} requests after {args.warmup} "
          f"(status {status})  {'within' if p95 <= P95_LIMIT_MS else 'over'} {P95_LIMIT_MS:.0f} ms", flush=True)
    if status != 200:
        failures.append(f"GET {bench.page} answered {status} (computed)")
    status, p50, p95 = page_times(url, bench.page, args.requests, args.warmup)
    verdict = "PASS" if status == 200 and p95 <= P95_LIMIT_MS else "FAIL"
    print(f"{label} page {bench.page}, reused while its data is unchanged (psa.core.report_cache): p50 {p50:6.1f} ms"
          f"  p95 {p95:6.1f} ms over {args.requests} requests after {args.warmup} (status {status})  {verdict} "
          f"(p95 limit {P95_LIMIT_MS:.0f} ms)", flush=True)
    if status != 200:
        failures.append(f"GET {bench.page} answered {status}")
    if p95 > P95_LIMIT_MS:
        timing_failures.append(f"the page's p95 is {p95:.0f} ms (limit {P95_LIMIT_MS:.0f} ms)")

    if not args.advisory:
        failures += timing_failures
    if failures:
        sys.exit(f"{bench.name}: " + "; ".join(failures))
