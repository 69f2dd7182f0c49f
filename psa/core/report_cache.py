"""Report results reused until their data changes.

A report over a year of a million entries takes a few hundred milliseconds to compute; a leader pages through it,
switches tables, comes back to it. `cached(name, key, compute)` keeps the last results (per process, the
RESULTS most recent) keyed by the report, its filters and the *version of the data*: a change to any table a report
reads gives a new version, so a result is never served after its data changed.

The version comes from triggers (migration 3b9d7e1f5a62) on every table in REPORT_TABLES:
- PostgreSQL: a statement that changes rows of one of them records its transaction in `report_changes` (one row a
  transaction, insert-only: writers never wait for one another). The version is (report_epoch.epoch,
  count(report_changes)). A transaction's row becomes visible together with its changes, and a later snapshot sees
  every row an earlier one saw, so the count moves as soon as a change is visible. `compact_report_changes` (daily,
  by the schedule) empties the table and raises the epoch in one transaction, so no count is ever seen twice with
  different data.
- SQLite (one writer at a time): row triggers add one to `report_version.n`.
The version is read *before* the report's statements, so a result is never older than the version it is filed
under (at worst newer, and then the next request finds a newer version and recomputes).

A result is shared by everyone allowed to open the report: the cached reports are organisation-wide (the route
checks the permission before asking). Callers must not change a result they get back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import sqlalchemy as sa
from flask import current_app

from psa.extensions import db

#: How many results a process keeps (the least recently used goes first).
RESULTS = 16

#: Every table a report reads; its triggers are migration 3b9d7e1f5a62's (tests/core/test_report_cache.py holds the
#: reports' statements to this list).
REPORT_TABLES = ("time_entries", "time_off", "timesheets", "milestones", "tasks", "projects", "project_members",
                 "accounts", "users", "user_rates", "project_rates", "settings", "holidays", "templates",
                 "template_versions", "ttv_snapshots")

report_changes = sa.Table("report_changes", db.metadata, sa.Column("txid", sa.BigInteger, primary_key=True))
report_epoch = sa.Table("report_epoch", db.metadata, sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("epoch", sa.BigInteger, nullable=False))
report_version = sa.Table("report_version", db.metadata, sa.Column("id", sa.Integer, primary_key=True),
                          sa.Column("n", sa.BigInteger, nullable=False))

_lock = threading.Lock()
_results: OrderedDict = OrderedDict()


def data_version() -> tuple[int, int]:
    """The version of the reports' data as the current transaction sees it."""
    if db.session.get_bind().dialect.name == "postgresql":
        row = db.session.execute(sa.text(
            "SELECT COALESCE((SELECT epoch FROM report_epoch WHERE id = 1), 0), (SELECT count(*) FROM report_changes)"
        )).one()
    else:
        row = db.session.execute(sa.text(
            "SELECT 0, COALESCE((SELECT n FROM report_version WHERE id = 1), 0)")).one()
    return int(row[0]), int(row[1])


def cached(name: str, key: Hashable, compute: Callable[[], object]):
    """compute()'s result for report `name` with filters `key`, reused while the data's version holds (computed
    each time when the app's REPORT_CACHE is false)."""
    if not current_app.config.get("REPORT_CACHE", True):
        return compute()
    full = (str(db.engine.url), name, key, data_version())
    with _lock:
        if full in _results:
            _results.move_to_end(full)
            return _results[full]
    result = compute()
    with _lock:
        _results[full] = result
        while len(_results) > current_app.config.get("REPORT_CACHE_RESULTS", RESULTS):
            _results.popitem(last=False)
    return result


def clear() -> None:
    """Forget every result (tests empty the database between them, which can bring a version back)."""
    with _lock:
        _results.clear()


def compact_report_changes() -> int:
    """PostgreSQL: empty report_changes and raise the epoch, in the caller's transaction; the rows removed."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0
    removed = db.session.execute(report_changes.delete()).rowcount
    db.session.execute(sa.text("INSERT INTO report_epoch (id, epoch) VALUES (1, 1)"
                               " ON CONFLICT (id) DO UPDATE SET epoch = report_epoch.epoch + 1"))
    return removed
