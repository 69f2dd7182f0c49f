"""Time the heavy pages of the large demo under gunicorn, each next to /healthz in the same server.

    .venv/bin/python bench/pages.py [--database-url URL] [--requests 40] [--warmup 5] [--threads 2]

Serves the database (default: the large demo, BENCH_DATABASE_URL or instance/bench-large.sqlite; build it
with `make bench`) with gunicorn in the README's production settings (2 gthread workers), signs in as the
demo users and, for each page:

* `--warmup` requests, not timed;
* `--requests` requests one after the other from one client: p50 and p95 of the response time (what one
  user waits on an otherwise idle server);
* `--requests` requests again from `--threads` clients at once: requests per second;

and prints one line per page with its ratio p50 / p50 of /healthz (the server's floor: routing, the
session, one SELECT 1). Exits non-zero when any request does not answer 200.

Pages: the dashboard (default, filtered, sorted, its last page), the project page of a typical project and of
the largest one (the large demo's "Bench: 400-task ..." project), the timesheet grid of the heaviest week of
the heavy user (heavy@demo.psa), a manager's approvals, the export page counting all time, the audit log
(first page, a deep page, filtered by type), the admin accounts (and a search) and users lists, and the
customer portal's page of the largest project, seen by a contact of its account (full view) signed in at
/portal/login. On a demo without the large demo's special rows (the small demo) it falls back to the largest
project and the busiest week of a demo user.

Before timing, the cached schedules are brought to today (refresh_stale_schedules, as the daily job does),
so the figures are the steady state. The script signs in (sessions are rows) and, the first time, adds the
portal contact it signs in as (BENCH_CONTACT, through psa.portal.services; found again by its e-mail on later
runs): point it at a copy when the database must stay untouched.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from math import ceil
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from common import Gunicorn, large_demo_url, make_app, percentiles, require_large_demo  # noqa: E402

PASSWORDS = {"admin": "admin-demo-pass", "leader": "leader-demo-pass", "manager": "manager-demo-pass",
             "consultant": "consultant-demo-pass"}
HEAVY = "heavy@demo.psa"
BIG_PROJECT_PREFIX = "Bench: 400-task"
#: The portal contact the bench signs in as: (e-mail, name, password). Added to the largest project's account.
BENCH_CONTACT = ("bench.portal@customer.example", "Bench Portal Contact", "bench-contact-pass")


def backend_of(url: str) -> str:
    return "postgresql" if url.startswith(("postgres", "postgresql")) else "sqlite"


def find_targets(url: str) -> dict:
    """The ids the pages need, read from the database, and its row counts."""
    from psa.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            q = lambda sql, **params: conn.execute(sa.text(sql), params)  # noqa: E731
            counts = {table: q(f"SELECT count(*) FROM {table}").scalar_one()
                      for table in ("users", "accounts", "projects", "tasks", "time_entries", "timesheets",
                                    "audit_events")}
            per_project = q("SELECT p.id, p.name, count(t.id) AS n FROM projects p JOIN tasks t ON t.project_id = p.id "
                            "GROUP BY p.id, p.name ORDER BY n, p.id").all()
            big = q("SELECT p.id, p.name, (SELECT count(*) FROM tasks t WHERE t.project_id = p.id) AS n "
                    "FROM projects p WHERE p.name LIKE :prefix ORDER BY p.id LIMIT 1",
                    prefix=BIG_PROJECT_PREFIX + "%").first() or per_project[-1]
            typical = per_project[len(per_project) // 2]
            # the portal shows every status but cancelled: the 400-task project, else the largest shown one
            portal = q("SELECT p.id, p.name, count(t.id) AS n FROM projects p JOIN tasks t ON t.project_id = p.id "
                       "WHERE p.status <> 'cancelled' GROUP BY p.id, p.name "
                       "ORDER BY CASE WHEN p.name LIKE :prefix THEN 0 ELSE 1 END, n DESC, p.id LIMIT 1",
                       prefix=BIG_PROJECT_PREFIX + "%").first()
            # the heavy user's busiest week, else the busiest week of any demo user we can sign in as
            who = "u.email = :heavy" if q("SELECT 1 FROM users WHERE email = :heavy", heavy=HEAVY).first() \
                else "u.email LIKE '%@demo.psa'"
            # the week with the most grid rows (project, task), then the most entries
            week = q("SELECT u.email, u.role, s.week_start, r.grid_rows, r.entries, r.projects "
                     "FROM (SELECT w.timesheet_id, count(*) AS grid_rows, sum(w.n) AS entries, "
                     "      count(DISTINCT w.project_id) AS projects "
                     "      FROM (SELECT e.timesheet_id, e.project_id, e.task_id, count(*) AS n FROM time_entries e "
                     "            JOIN users u ON u.id = e.user_id "
                     f"            WHERE {who} AND u.is_active GROUP BY e.timesheet_id, e.project_id, e.task_id) AS w "
                     "      GROUP BY w.timesheet_id) AS r "
                     "JOIN timesheets s ON s.id = r.timesheet_id JOIN users u ON u.id = s.user_id "
                     "ORDER BY r.grid_rows DESC, r.entries DESC, s.id LIMIT 1", heavy=HEAVY).first()
            open_projects = q("SELECT count(*) FROM projects WHERE status IN ('planned', 'active', 'on_hold')"
                              ).scalar_one()
            audit_type = q("SELECT object_type FROM audit_events GROUP BY object_type "
                           "ORDER BY count(*) DESC LIMIT 1").scalar_one()
            # the type whose 50th newest event is the oldest: the longest walk back through the log for a page
            rare_type = q("SELECT object_type FROM (SELECT object_type, at, row_number() OVER "
                          "(PARTITION BY object_type ORDER BY at DESC) AS n FROM audit_events) AS ranked "
                          "WHERE n = 50 ORDER BY at, object_type LIMIT 1").scalar_one_or_none() or audit_type
    finally:
        engine.dispose()
    return {"counts": counts, "big": big, "typical": typical, "portal": portal, "week": week,
            "open_projects": open_projects, "audit_type": audit_type, "rare_type": rare_type}


def refresh_schedules(url: str) -> int:
    """Bring every open project's cached schedule to today, as the daily job does; how many were stale."""
    app = make_app(url)
    with app.app_context():
        from psa.extensions import db
        from psa.projects.services import refresh_stale_schedules

        refreshed = refresh_stale_schedules()
        db.session.commit()
        db.engine.dispose()
    return refreshed


def portal_contact(url: str, project_id: int) -> tuple[str, str]:
    """(e-mail, password) of an active portal contact with the full view of the project's account: BENCH_CONTACT,
    made through psa.portal.services the first time (its password set as an accepted invitation leaves it),
    found by its e-mail on later runs (moved to this account, reactivated and given the password if needed)."""
    email, name, password = BENCH_CONTACT
    app = make_app(url)
    with app.app_context():
        from psa.accounts.models import Account
        from psa.extensions import db
        from psa.portal import services
        from psa.projects.models import Project

        account = db.session.get(Account, db.session.get(Project, project_id).account_id)
        contact = services.find_contact_by_email(email)
        if contact is None:
            contact = services.create_contact(None, account, name=name, email=email, title="Bench",
                                              stakeholder_role="project_lead", view_level="full")
        else:
            contact.account_id, contact.view_level = account.id, "full"
            services.set_contact_active(None, contact, True)
        if not contact.check_password(password):
            contact.set_password(password)
        db.session.commit()
        db.engine.dispose()
    return email, password


def pages(t: dict) -> list[tuple[str, str, str]]:
    """(label, who signs in, path) of every page timed."""
    week = t["week"]
    last_dashboard = max(1, ceil(t["open_projects"] / 25))
    audit_pages = ceil(t["counts"]["audit_events"] / 50)
    deep_audit = max(1, min(audit_pages, 200))
    return [
        ("dashboard", "leader", "/"),
        ("dashboard health=red", "leader", "/?health=red"),
        ("dashboard sort=name", "leader", "/?sort=name"),
        (f"dashboard page={last_dashboard} (last)", "leader", f"/?page={last_dashboard}"),
        ("dashboard (manager)", "manager", "/"),
        (f"project typical ({t['typical'].n} tasks)", "admin", f"/projects/{t['typical'].id}"),
        (f"project largest ({t['big'].n} tasks)", "admin", f"/projects/{t['big'].id}"),
        (f"grid {week.week_start} ({week.grid_rows} rows over {week.projects} projects, {week.entries} entries)",
         "week", f"/timesheets?week={week.week_start}"),
        ("approvals (manager)", "manager", "/timesheets/approvals"),
        ("export page all-time count", "admin",
         "/timesheets/export?date_from=&date_to=&user_id=0&account_id=0&project_id=0&state="),
        ("audit log", "admin", "/admin/audit"),
        (f"audit log page={deep_audit}", "admin", f"/admin/audit?page={deep_audit}"),
        (f"audit log type={t['audit_type']}", "admin", f"/admin/audit?type={t['audit_type']}"),
        (f"audit log type={t['rare_type']}", "admin", f"/admin/audit?type={t['rare_type']}"),
        ("accounts", "admin", "/admin/accounts"),
        ("accounts search", "admin", "/admin/accounts?q=a"),
        ("users", "admin", "/admin/users"),
        (f"portal project largest ({t['portal'].n} tasks), contact", "contact", f"/portal/projects/{t['portal'].id}"),
    ]


class Failures(list):
    def check(self, label: str, path: str, status: int) -> None:
        if status != 200:
            self.append(f"{label}: GET {path} answered {status}")


def get(client, path: str) -> int:
    """The status of GET path; a keep-alive connection the server closed while idle (gunicorn's keep-alive
    is seconds) is opened again once: that is not a failure of the page."""
    try:
        return client.get(path)[0]
    except (http.client.RemoteDisconnected, ConnectionError):
        client.connection.close()
        return client.get(path)[0]


def sequential(client, path: str, n: int, failures: Failures, label: str) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        status = get(client, path)
        samples.append(time.perf_counter() - started)
        failures.check(label, path, status)
    return samples


def concurrent(clients, path: str, n: int, failures: Failures, label: str) -> float:
    """Requests per second of n requests shared by the clients, each in its own thread."""
    shares = [n // len(clients) + (1 if i < n % len(clients) else 0) for i in range(len(clients))]
    threads = [threading.Thread(target=sequential, args=(c, path, k, failures, label))
               for c, k in zip(clients, shares, strict=True) if k]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return n / (time.perf_counter() - started)


def measure(clients, path, args, failures, label) -> tuple[float, float, float]:
    sequential(clients[0], path, args.warmup, failures, label)
    p50, p95 = percentiles(sequential(clients[0], path, args.requests, failures, label))
    rps = concurrent(clients, path, args.requests, failures, label)
    return p50 * 1000, p95 * 1000, rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="default: the large demo")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page (and again for rps)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="concurrent clients for requests per second")
    args = parser.parse_args()
    url = args.database_url or large_demo_url()
    require_large_demo(url)
    backend = backend_of(url)

    targets = find_targets(url)
    stale = refresh_schedules(url)
    counts = ", ".join(f"{table} {n:,}" for table, n in targets["counts"].items())
    print(f"{backend}: {counts}; {stale} stale schedules refreshed before timing")
    week = targets["week"]
    logins = {"admin": ("admin@demo.psa", PASSWORDS["admin"]), "leader": ("leader@demo.psa", PASSWORDS["leader"]),
              "manager": ("manager@demo.psa", PASSWORDS["manager"]),
              "week": (week.email, PASSWORDS.get(week.role, "consultant-demo-pass")),
              "contact": (*portal_contact(url, targets["portal"].id), "/portal/login")}
    failures = Failures()
    with Gunicorn(url) as server:
        sessions = {who: [server.client(*login) for _ in range(max(1, args.threads))] for who, login in logins.items()}
        anonymous = [server.client() for _ in range(max(1, args.threads))]
        h50, h95, hrps = measure(anonymous, "/healthz", args, failures, "healthz")
        width = 70
        print(f"{backend:10} {'/healthz':{width}} p50 {h50:7.1f} ms  p95 {h95:7.1f} ms  {hrps:7.1f} rps  ratio  1.0")
        for label, who, path in pages(targets):
            p50, p95, rps = measure(sessions[who], path, args, failures, label)
            flag = "  OVER 300 ms p95" if p95 > 300 else ""
            print(f"{backend:10} {label:{width}} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {rps:7.1f} rps  "
                  f"ratio {p50 / h50:5.1f}{flag}", flush=True)
    if failures:
        print("\n".join(sorted(set(failures))), file=sys.stderr)
        sys.exit(f"{len(failures)} requests did not answer 200")


if __name__ == "__main__":
    main()
