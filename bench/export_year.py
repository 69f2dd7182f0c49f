"""Time the time-entry CSV export of a year against the bare COPY (PostgreSQL) or SELECT (SQLite) of its rows.

    .venv/bin/python bench/export_year.py [--database-url URL]

On the large demo (`psa demo --scale large`: about a million entries over two years; BENCH_DATABASE_URL or
instance/bench-large.sqlite, or --database-url), as the demo admin (every entry, with rates), prints:

1. the year export (the last full 365 days: the year up to yesterday) written in-process by export_csv,
   seconds, MB and rows;
2. the same file through gunicorn with the README's production settings, over HTTP (same bytes checked);
3. the baseline: on PostgreSQL `COPY (the export's plain SELECT, same filter and order) TO STDOUT WITH CSV`
   through psycopg's copy, read fully; on SQLite (no COPY) that SELECT through the driver, every row fetched;
   and the ratios export / baseline;
4. two all-time exports started at once through gunicorn: status, rows (parsed as CSV) against the table's,
   seconds each;
5. the export page's count for an all-time filter (p50/p95 of 20 requests).

1 and 3 run --repeat times each, alternately, and the fastest of each is kept (other work on the machine
slows single runs).

Nothing is written to the database.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import Gunicorn, large_demo_url, make_app, percentiles, require_large_demo  # noqa: E402

ADMIN = ("admin@demo.psa", "admin-demo-pass")
MB = 1024 * 1024


class Digest:
    """A file-like sink keeping the size and SHA-256 of what is written to it (and, optionally, the bytes)."""

    def __init__(self, keep_to=None):
        self.size, self.hash, self.keep_to = 0, hashlib.sha256(), keep_to

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.hash.update(data)
        if self.keep_to is not None:
            self.keep_to.write(data)


def year_filters() -> tuple[date, date]:
    """The last full 365 days: up to yesterday (the organisation's today)."""
    from psa.projects.services import org_today

    last = org_today() - timedelta(days=1)
    return last - timedelta(days=364), last


def in_process(app, first: date, last: date) -> tuple[float, Digest]:
    """(seconds, digest of the file) of export_csv for the year, as the admin."""
    from psa.auth.models import User
    from psa.extensions import db
    from psa.timesheets.exports import ExportFilters, export_csv

    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == ADMIN[0]))
        filters = ExportFilters(date_from=first, date_to=last)
        db.session.rollback()
        digest = Digest()
        started = time.perf_counter()
        for piece in export_csv(filters, admin):
            digest.write(piece.encode())
        seconds = time.perf_counter() - started
        db.session.rollback()
        return seconds, digest


def baseline(app, first: date, last: date) -> tuple[float, int, str]:
    """(seconds, rows, what) of the bare query: COPY … TO STDOUT WITH CSV on PostgreSQL, read fully; the SELECT
    through the driver on SQLite, fetched."""
    from psa.auth.models import User
    from psa.extensions import db
    from psa.timesheets.exports import ExportFilters, export_statement

    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == ADMIN[0]))
        stmt = export_statement(ExportFilters(date_from=first, date_to=last), admin)
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
        db.session.rollback()
        connection = db.engine.raw_connection()
        try:
            started = time.perf_counter()
            rows = 0
            if db.engine.dialect.name == "postgresql":
                what = "COPY (plain SELECT) TO STDOUT WITH CSV"
                with connection.cursor() as cursor, cursor.copy(
                        f"COPY ({compiled.string}) TO STDOUT WITH CSV", compiled.params) as copy:
                    for _ in copy:
                        rows += 1
            else:
                what = "plain SELECT fetched through sqlite3"
                cursor = connection.cursor()
                params = [compiled.params[name] for name in compiled.positiontup]
                cursor.execute(compiled.string, [p.isoformat() if isinstance(p, date) else p for p in params])
                while batch := cursor.fetchmany(5000):
                    rows += len(batch)
            seconds = time.perf_counter() - started
            connection.rollback()
            return seconds, rows, what
        finally:
            connection.close()


def download(server, path: str, sink) -> tuple[int, float]:
    client = server.client(*ADMIN)
    started = time.perf_counter()
    status, _ = client.get(path, stream_to=sink)
    return status, time.perf_counter() - started


def csv_records(path: Path) -> tuple[list[str], int]:
    """(header, data rows) of a CSV file (records, so a note's line breaks stay inside its row)."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        return header, sum(1 for _ in reader)


def two_at_once(server, folder: Path) -> list[tuple[int, float, Path]]:
    """Two all-time exports started together: (status, seconds, file) each."""
    results: list = [None, None]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        path = folder / f"all-{i}.csv"
        client = server.client(*ADMIN)
        with path.open("wb") as sink:
            start.wait()
            started = time.perf_counter()
            status, _ = client.get("/timesheets/export.csv", stream_to=sink)
            results[i] = (status, time.perf_counter() - started, path)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=large_demo_url())
    parser.add_argument("--repeat", type=int, default=3, help="runs of the export and of the baseline (the best kept)")
    args = parser.parse_args()
    from psa.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    require_large_demo(url)
    app = make_app(url)
    with app.app_context():
        from psa.extensions import db

        backend = db.engine.dialect.name
        total = db.session.scalar(sa.text("SELECT count(*) FROM time_entries"))
        first, last = year_filters()
    label = f"{backend:<10}"

    baseline(app, first, last)  # warm the caches the same way for every side
    runs, bares = [], []
    for _ in range(args.repeat):  # alternated, the best of each kept: the machine may be busy with other work
        runs.append(in_process(app, first, last))
        bares.append(baseline(app, first, last))
    ours, digest = min(runs, key=lambda run: run[0])
    bare, entries, what = min(bares)
    print(f"{label} year {first} to {last}: {entries} of {total} entries\n"
          f"{label} in-process export_csv  {ours:6.2f} s  {digest.size / MB:7.1f} MB  ratio {ours / bare:4.2f}x")

    with Gunicorn(url) as server, tempfile.TemporaryDirectory() as folder:
        year_file = Path(folder) / "year.csv"
        query = urlencode({"date_from": first.isoformat(), "date_to": last.isoformat()})
        with year_file.open("wb") as sink:
            http = Digest(keep_to=sink)
            status, seconds = download(server, f"/timesheets/export.csv?{query}", http)
        same = "same bytes" if http.hash.digest() == digest.hash.digest() else "DIFFERENT BYTES"
        rows = csv_records(year_file)[1]
        print(f"{label} HTTP (gunicorn)          {seconds:6.2f} s  {http.size / MB:7.1f} MB  ratio {seconds / bare:4.2f}x"
              f"  status {status}, {same} as in-process, rows {rows}"
              f"{'' if rows == entries else ' (MISSING ROWS)'}")
        print(f"{label} baseline {what}  {bare:6.2f} s  rows {entries}")

        results = two_at_once(server, Path(folder))
        for i, (status, seconds, path) in enumerate(results, 1):
            header, rows = csv_records(path)
            complete = "complete" if status == 200 and rows == total else "INCOMPLETE"
            print(f"{label} all-time export {i} of 2 at once: status {status}  {seconds:6.2f} s  "
                  f"{path.stat().st_size / MB:7.1f} MB  rows {rows} of {total} ({complete})  ratio to the year's "
                  f"baseline {seconds / bare:4.1f}x")

        client = server.client(*ADMIN)
        samples = []
        for _ in range(21):
            started = time.perf_counter()
            status, page = client.get("/timesheets/export?date_from=")
            samples.append(time.perf_counter() - started)
            assert status == 200 and b"export-summary" in page, status
        p50, p95 = percentiles(samples[1:])
        print(f"{label} export page, all-time count: p50 {p50 * 1000:5.0f} ms  p95 {p95 * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
