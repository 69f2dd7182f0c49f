"""Time the account view of the largest account against the bare SQL reading the same rows and aggregates.

    .venv/bin/python bench/report_account.py [--database-url URL] [--repeat 5] [--requests 20] [--warmup 2]

On the large demo (`psa demo --scale large`; BENCH_DATABASE_URL or instance/bench-large.sqlite, or
--database-url), for the account with the most projects (then the most time entries), prints:

1. psa.customers.services.account_overview for the demo leader (every project, with money), in process, with
   the loads of the leader and the account the page does before it: seconds (best of --repeat) and the SQL
   statements it issued;
2. the baseline: the service's statements written by hand as SQL text (sa.text), same joins, filters and GROUP
   BY — the account's owner id; the owner's name; the account's projects (every column) with their template's
   target; their first-value milestones (row_number() per project, over those projects' milestones only); their
   success criteria; CSAT sums per project; open escalations with milestone and project names; approved and
   other minutes, Σ bill rate × approved billable minutes and Σ cost rate × approved minutes per project; done
   milestones' fee shares per project and percent; the account's contacts — every row fetched: seconds (best of
   --repeat, alternating with 1);
3. the figures both give (projects, approved and other hours, revenue and cost to date — the bare sums combined
   with the account view's rules, untimed —, criteria, ratings, escalations, contacts), which must be equal, and
   the ratio service / bare SQL, PASS or FAIL against 1.5x;
4. /accounts/<id> through gunicorn (README's production settings) as the demo leader: p50 and p95 of
   --requests requests after --warmup, PASS or FAIL against 300 ms.

Before timing, every periodic job runs once in-process (reports_common.settle: the steady state gunicorn would
otherwise reach while being timed). Exits non-zero when a figure differs, a check fails or the page does not
answer 200 (with --advisory, the timing checks are printed only).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from reports_common import LEADER, ReportBench, main  # noqa: E402

LARGEST = """
SELECT a.id, a.name, count(DISTINCT p.id) AS projects, count(te.id) AS entries
FROM accounts a JOIN projects p ON p.account_id = a.id LEFT JOIN time_entries te ON te.project_id = p.id
GROUP BY a.id, a.name ORDER BY projects DESC, entries DESC, a.id LIMIT 1"""

OWNER = "SELECT name FROM users WHERE id = :owner"

OF_ACCOUNT = "SELECT id FROM projects WHERE account_id = :account"

PROJECTS = """
SELECT p.*, t.target_ttv_days
FROM projects p
LEFT JOIN template_versions tv ON tv.id = p.template_version_id
LEFT JOIN templates t ON t.id = tv.template_id
WHERE p.account_id = :account
ORDER BY CASE WHEN p.status IN :open THEN 0 ELSE 1 END, p.kickoff_date DESC, p.id"""

FIRST_VALUE = """
SELECT p.id, coalesce(p.contract_signed_date, p.kickoff_date) AS start, fv.forecast_date
FROM projects p
LEFT JOIN (SELECT project_id, forecast_date
           FROM (SELECT m.project_id, m.status, m.completed_at, m.forecast_date,
                        row_number() OVER (PARTITION BY m.project_id ORDER BY m.position, m.id) AS rank
                 FROM milestones m WHERE m.is_first_value = {true} AND m.project_id IN :ids) AS ranked
           WHERE rank = 1) AS fv ON fv.project_id = p.id
WHERE p.ttv_days IS NULL AND p.status IN :open AND p.id IN :ids"""

CRITERIA = f"""
SELECT sc.*, p.name AS project_name
FROM success_criteria sc JOIN projects p ON p.id = sc.project_id
WHERE p.id IN ({OF_ACCOUNT})
ORDER BY p.name, p.id, sc.position, sc.id"""

CSAT = f"""
SELECT project_id, sum(score), count(*) FROM milestone_ratings
WHERE project_id IN (SELECT p.id FROM projects p WHERE p.id IN ({OF_ACCOUNT}))
GROUP BY project_id"""

ESCALATIONS = f"""
SELECT e.*, m.name AS milestone_name, p.name AS project_name
FROM escalations e JOIN milestones m ON m.id = e.milestone_id JOIN projects p ON p.id = e.project_id
WHERE e.resolved_at IS NULL AND p.id IN ({OF_ACCOUNT})
ORDER BY e.level DESC, e.slip_days DESC, e.id"""

SUMS = f"""
SELECT te.project_id,
       coalesce(sum(CASE WHEN ts.state = 'approved' THEN te.minutes ELSE 0 END), 0),
       coalesce(sum(CASE WHEN ts.state = 'approved' THEN 0 ELSE te.minutes END), 0),
       coalesce(sum(CASE WHEN ts.state = 'approved' AND {{billable}} THEN te.bill_rate * te.minutes ELSE 0 END), 0),
       coalesce(sum(CASE WHEN ts.state = 'approved' THEN te.cost_rate * te.minutes ELSE 0 END), 0)
FROM time_entries te JOIN timesheets ts ON ts.id = te.timesheet_id
WHERE te.project_id IN (SELECT p.id FROM projects p WHERE p.id IN ({OF_ACCOUNT}))
GROUP BY te.project_id"""

SHARES = f"""
SELECT m.project_id, m.fee_share_percent, count(*) FROM milestones m
WHERE m.status = 'done' AND m.project_id IN (SELECT p.id FROM projects p WHERE p.id IN ({OF_ACCOUNT}))
GROUP BY m.project_id, m.fee_share_percent"""

CONTACTS = "SELECT * FROM contacts WHERE account_id = :account ORDER BY is_active DESC, lower(name)"


def build(app, args) -> ReportBench:
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.core import clock
    from psa.core.money import round_money
    from psa.customers.services import account_overview, capped_time_and_materials, fee_share
    from psa.extensions import db
    from psa.projects.models import OPEN_PROJECT_STATUSES

    today = clock.org_today()
    largest = db.session.execute(sa.text(LARGEST)).one()
    account_id = largest.id
    opened = tuple(OPEN_PROJECT_STATUSES)

    def service():
        viewer = db.session.scalar(sa.select(User).where(User.email == LEADER[0]))
        account = db.session.get(Account, account_id)
        return account_overview(viewer, account, with_money=True, today=today)

    def bare(sql):
        owner = sql.rows("SELECT owner_id FROM accounts WHERE id = :account", account=account_id)[0][0]
        owner_name = sql.rows(OWNER, owner=owner) if owner is not None else []
        projects = sql.rows(PROJECTS, account=account_id, open=opened)
        ids = [row.id for row in projects]
        first_value = sql.rows(FIRST_VALUE.format(true="true" if sql.dialect == "postgresql" else "1"),
                               open=opened, ids=ids) if ids else []
        criteria = sql.rows(CRITERIA, account=account_id)
        csat = sql.rows(CSAT, account=account_id)
        escalations = sql.rows(ESCALATIONS, account=account_id)
        sums = sql.rows(SUMS.format(billable=sql.boolean("te.billable")), account=account_id)
        shares = sql.rows(SHARES, account=account_id)
        contacts = sql.rows(CONTACTS, account=account_id)
        return sql, owner_name, projects, first_value, criteria, csat, escalations, sums, shares, contacts

    def figures(overview) -> dict:
        money = overview.totals["money"]
        return {"projects": len(overview.projects), "approved_minutes": overview.totals["approved_minutes"],
                "unapproved_minutes": overview.totals["unapproved_minutes"], "revenue": money.revenue,
                "cost": money.cost, "open_ttv": sum(1 for r in overview.projects if r.open_ttv is not None),
                "criteria": len(overview.criteria), "ratings": overview.csat_count,
                "escalations": len(overview.escalations), "contacts": len(overview.contacts)}

    def bare_figures(read) -> dict:
        sql, _owner, projects, first_value, criteria, csat, escalations, sums, share_rows, contacts = read
        per_project = {row[0]: row for row in sums}
        shares: dict = {}
        for project_id, percent, count in share_rows:
            shares.setdefault(project_id, []).append((sql.exact(percent), int(count)))
        revenue = cost = Decimal(0)
        for p in projects:
            _pid, _approved, _other, billed, costed = per_project.get(p.id, (p.id, 0, 0, None, None))
            fee = None if p.fee_amount is None else sql.exact(p.fee_amount)
            cost += sql.exact(costed) / 60
            if p.billing_model == "time_and_materials":
                revenue += capped_time_and_materials(sql.exact(billed), fee)
            elif p.billing_model == "fixed_fee" and fee is not None:
                revenue += sum((fee_share(fee, pct) * n for pct, n in shares.get(p.id, [])), Decimal(0))
        return {"projects": len(projects), "approved_minutes": sum(int(r[1]) for r in sums),
                "unapproved_minutes": sum(int(r[2]) for r in sums), "revenue": round_money(revenue),
                "cost": round_money(cost), "open_ttv": len(first_value), "criteria": len(criteria),
                "ratings": sum(int(r[2]) for r in csat), "escalations": len(escalations), "contacts": len(contacts)}

    return ReportBench(
        name="account", what=f"account view of {largest.name} (id {account_id}: {largest.projects} projects, "
                             f"{largest.entries:,} entries) for the leader, with money, today {today}",
        service=service, bare=bare, figures=figures, bare_figures=bare_figures, page=f"/accounts/{account_id}",
        baseline="10 hand-written statements (owner, projects, first-value milestones, criteria, CSAT, "
                 "escalations, hours and money sums, fee shares, contacts; and the account's owner id)")


if __name__ == "__main__":
    main(build, __doc__.splitlines()[0])
