"""Time to value (SPEC §3): calendar days from the contract signed date (the kickoff date when missing) to the
completion of the project's first-value milestone, as a date in the organisation's time zone.

- `record_time_to_value(project_ids)` stores Project.ttv_days (or clears it) from the milestones, in a fixed
  number of statements whatever the number of projects; the milestone status paths call it.
- `take_ttv_snapshot(today)` writes one row per cohort (template, segment, kickoff quarter) for the day: count,
  median and 75th percentile (interpolated between ranks like PostgreSQL's percentile_cont), mean and the
  share within the template's target, aggregated in SQL and upserted (two runs at once write one row).
- `open_time_to_value(project_ids)` gives the open projects' days elapsed and forecast TTV in one query;
  `ttv_fact` says the same for one project from rows a page already has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from psa.accounts.models import Account
from psa.admin.services import get_settings
from psa.core.clock import org_today
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from psa.projects.models import OPEN_PROJECT_STATUSES, Milestone, Project, TtvSnapshot

#: Projects per statement when ids are given (an IN list stays well inside SQLite's bound-parameter limit).
CHUNK = 5000


def _first_value_milestones(project_ids=None):
    """project_id -> the first-value milestone's status, completion and forecast (the lowest position if a plan
    has several), as a subquery; when project_ids is given (ids, or an expanding bind parameter), only those
    projects' milestones are ranked (read through ix_milestones_project_id, not every first-value milestone)."""
    ranked = (sa.select(Milestone.project_id, Milestone.status, Milestone.completed_at, Milestone.forecast_date,
                        sa.func.row_number().over(partition_by=Milestone.project_id,
                                                  order_by=(Milestone.position, Milestone.id)).label("rank"))
              .where(Milestone.is_first_value.is_(True)))
    if project_ids is not None:
        ranked = ranked.where(Milestone.project_id.in_(project_ids))
    ranked = ranked.subquery("ranked_first_value")
    return sa.select(ranked.c.project_id, ranked.c.status, ranked.c.completed_at, ranked.c.forecast_date) \
        .where(ranked.c.rank == 1).subquery("first_value")


def ttv_days_of(start: date | None, status: str | None, completed_at, zone: ZoneInfo) -> int | None:
    """The TTV rule on plain values: days from `start` to the completion date in `zone`; None while not done."""
    if start is None or status != "done" or completed_at is None:
        return None
    return (completed_at.astimezone(zone).date() - start).days


def record_time_to_value(project_ids: Iterable[int] | None = None) -> int:
    """Store Project.ttv_days for the given projects (None: every project) from their first-value milestone:
    set when it is done, cleared when it is not (reopened, or no such milestone). One read and one batched
    write per CHUNK projects; only changed rows are written. Loaded Project objects get the new value.
    Returns how many projects changed."""
    zone = ZoneInfo(get_settings().timezone)
    db.session.flush()
    if project_ids is None:
        chunks: list[list[int] | None] = [None]
    else:
        ids = sorted(set(project_ids))
        chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
    fv = _first_value_milestones()
    changes = []
    for chunk in chunks:
        if chunk == []:
            continue
        stmt = (sa.select(Project.id, Project.ttv_days, sa.func.coalesce(Project.contract_signed_date,
                                                                         Project.kickoff_date).label("start"),
                          fv.c.status, fv.c.completed_at)
                .outerjoin(fv, fv.c.project_id == Project.id))
        if chunk is not None:
            stmt = stmt.where(Project.id.in_(chunk))
        for row in db.session.execute(stmt):
            value = ttv_days_of(row.start, row.status, row.completed_at, zone)
            if value != row.ttv_days:
                changes.append({"b_id": row.id, "b_ttv": value})
    if changes:
        table = Project.__table__
        db.session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                           .values(ttv_days=sa.bindparam("b_ttv")), changes)
        for change in changes:
            loaded = db.session.identity_map.get(identity_key(Project, change["b_id"]))
            if loaded is not None:
                set_committed_value(loaded, "ttv_days", change["b_ttv"])
    return len(changes)


# --- snapshots -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """One cohort's figures, as written to ttv_snapshots."""

    template_key: int
    template_name: str
    segment: str
    kickoff_quarter: str
    project_count: int
    median_days: Decimal
    p75_days: Decimal
    mean_days: Decimal
    within_target_share: Decimal | None

    def values(self, taken_on: date) -> dict:
        return {"taken_on": taken_on, **self.__dict__}


def _projects_with_ttv():
    """One row per project with a TTV: its cohort's key parts, the template's target and the TTV."""
    return (sa.select(sa.func.coalesce(TemplateVersion.template_id, 0).label("template_key"),
                      sa.func.coalesce(Template.name, "").label("template_name"),
                      Template.target_ttv_days.label("target"),
                      Account.segment.label("segment"),
                      sa.cast(sa.extract("year", Project.kickoff_date), sa.Integer).label("year"),
                      sa.cast(sa.extract("month", Project.kickoff_date), sa.Integer).label("month"),
                      Project.ttv_days.label("ttv"))
            .join(Account, Account.id == Project.account_id)
            .outerjoin(TemplateVersion, TemplateVersion.id == Project.template_version_id)
            .outerjoin(Template, Template.id == TemplateVersion.template_id)
            .where(Project.ttv_days.is_not(None)))


def cohort_statement(dialect_name: str) -> sa.Select:
    """The SELECT computing every cohort's figures in SQL (one row per cohort): count, sum (mean = sum / count,
    divided exactly afterwards), the count within target, and the median and 75th percentile: percentile_cont
    on PostgreSQL; on SQLite the same interpolation from each row's rank (row_number and count windows),
    returned in quarter days (h = 1 + p·(n − 1) is a multiple of ¼ for p = ½ and ¾, so the figure is exact)."""
    base = _projects_with_ttv().subquery("with_ttv")
    quarter = (base.c.month + 2) // 3
    keys = (base.c.template_key, base.c.segment, base.c.year, quarter)
    common = (sa.func.count().label("n"), sa.func.sum(base.c.ttv).label("total"),
              sa.func.max(base.c.template_name).label("template_name"), sa.func.max(base.c.target).label("target"),
              sa.func.sum(sa.case((base.c.ttv <= base.c.target, 1), else_=0)).label("within"))
    if dialect_name == "postgresql":
        return (sa.select(*(k.label(n) for k, n in zip(keys, ("template_key", "segment", "year", "quarter"),
                                                        strict=True)), *common,
                          sa.cast(sa.func.percentile_cont(0.5).within_group(base.c.ttv), sa.Numeric(12, 2)).label("median"),
                          sa.cast(sa.func.percentile_cont(0.75).within_group(base.c.ttv), sa.Numeric(12, 2)).label("p75"),
                          sa.literal(1).label("scale"))
                .group_by(*keys))
    partition = list(keys)
    ranked = sa.select(base.c.template_key, base.c.template_name, base.c.target, base.c.segment, base.c.year,
                       quarter.label("quarter"), base.c.ttv,
                       sa.func.row_number().over(partition_by=partition, order_by=base.c.ttv).label("rn"),
                       sa.func.count().over(partition_by=partition).label("cnt")).subquery("ranked")
    r = ranked.c

    def quarters(p4: int):
        """4 × the p-th percentile (p = p4 / 4): 4·v[lo] + f·(v[lo+1] − v[lo]), h4 = 4 + p4·(n − 1),
        lo = h4 div 4, f = h4 mod 4 (v[lo+1] is only read when f > 0, so lo + 1 ≤ n)."""
        h4 = 4 + p4 * (r.cnt - 1)
        low = sa.func.sum(sa.case((r.rn == h4 // 4, r.ttv), else_=0))
        high = sa.func.sum(sa.case((sa.and_(h4 % 4 > 0, r.rn == h4 // 4 + 1), r.ttv), else_=0))
        frac = sa.func.max(h4 % 4)
        return 4 * low + frac * sa.case((frac > 0, high - low), else_=0)

    rkeys = (r.template_key, r.segment, r.year, r.quarter)
    return (sa.select(r.template_key, r.segment, r.year, r.quarter, sa.func.count().label("n"),
                      sa.func.sum(r.ttv).label("total"), sa.func.max(r.template_name).label("template_name"),
                      sa.func.max(r.target).label("target"),
                      sa.func.sum(sa.case((r.ttv <= r.target, 1), else_=0)).label("within"),
                      quarters(2).label("median"), quarters(3).label("p75"), sa.literal(4).label("scale"))
            .group_by(*rkeys))


#: The columns a snapshot row is written with, in order (the cohort's key and figures).
_FIGURES = ("template_name", "project_count", "median_days", "p75_days", "mean_days", "within_target_share")
_COLUMNS = ("taken_on", "template_key", "segment", "kickoff_quarter", *_FIGURES)


def _half_up(numerator, denominator, units: int):
    """numerator / denominator in 1/units, rounded half away from zero (Decimal's ROUND_HALF_UP) in integer
    arithmetic on both databases (their integer division truncates toward zero):
    (2·units·num ± den) div (2·den), with − when num < 0."""
    sign = sa.case((numerator < 0, -denominator), else_=denominator)
    return (2 * units * numerator + sign) // (2 * denominator)


def figures_statement(dialect_name: str) -> sa.Select:
    """The SELECT giving every cohort's ttv_snapshots row for the day bound as `taken_on`, every figure worked
    out in SQL in the units the column stores (ExactNumeric: whole cents on SQLite, NUMERIC on PostgreSQL) and
    typed as the column, so it can be inserted as it is or read back as Decimals: the mean and the share rounded
    half-up to the column's scale; the percentiles exact (in quarter days)."""
    agg = cohort_statement(dialect_name).subquery("cohorts")
    table = TtvSnapshot.__table__
    mean = _half_up(agg.c.total, agg.c.n, 100)  # cents
    share = _half_up(agg.c.within, agg.c.n, 10000)  # ten-thousandths
    if dialect_name == "postgresql":
        def cents(expr):
            return sa.cast(expr * sa.literal_column("0.01"), sa.Numeric(12, 2))

        median = sa.cast(agg.c.median, sa.Numeric(12, 2))
        p75 = sa.cast(agg.c.p75, sa.Numeric(12, 2))
        share = sa.cast(share * sa.literal_column("0.0001"), sa.Numeric(7, 4))
        mean = cents(mean)
    else:  # whole quarter days -> cents; integers are what ExactNumeric stores on SQLite
        median, p75 = agg.c.median * 25, agg.c.p75 * 25
    quarter = sa.cast(agg.c.year, sa.String) + "-Q" + sa.cast(agg.c.quarter, sa.String)
    values = {
        "taken_on": sa.bindparam("taken_on", type_=sa.Date),
        "template_key": agg.c.template_key,
        "segment": agg.c.segment,
        "kickoff_quarter": quarter,
        "template_name": sa.func.coalesce(agg.c.template_name, ""),
        "project_count": agg.c.n,
        "median_days": median,
        "p75_days": p75,
        "mean_days": mean,
        "within_target_share": sa.case((agg.c.target.is_(None), sa.null()), else_=share),
    }
    # typed as the columns: read back, ExactNumeric turns the stored units into Decimals
    return sa.select(*(sa.type_coerce(values[name], table.c[name].type).label(name) for name in _COLUMNS)) \
        .where(sa.true())  # SQLite: an INSERT … SELECT followed by ON CONFLICT needs the WHERE to parse


def _cohort(row) -> Cohort:
    return Cohort(template_key=row.template_key, template_name=row.template_name or "", segment=row.segment,
                  kickoff_quarter=row.kickoff_quarter, project_count=row.project_count,
                  median_days=row.median_days, p75_days=row.p75_days, mean_days=row.mean_days,
                  within_target_share=row.within_target_share)


def _ordered(cohorts: Iterable[Cohort]) -> list[Cohort]:
    return sorted(cohorts, key=lambda c: (c.template_name.lower(), c.template_key, c.segment, c.kickoff_quarter))


#: (kind, dialect) -> the statement, built once: a new one would be traversed again for its cache key at each
#: run, which costs about what the database takes to run it on the large demo.
_STATEMENTS: dict[tuple[str, str], sa.Executable] = {}


def _statement(kind: str, dialect_name: str) -> sa.Executable:
    key = (kind, dialect_name)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = (figures_statement if kind == "figures" else _snapshot_statement)(dialect_name)
    return _STATEMENTS[key]


def compute_cohorts(today: date | None = None) -> list[Cohort]:
    """Every cohort's figures, from one SELECT (the one the snapshot inserts), ordered by template name, segment
    and quarter; nothing is written."""
    stmt = _statement("figures", db.session.get_bind().dialect.name)
    return _ordered(_cohort(row) for row in db.session.execute(stmt, {"taken_on": today or org_today()}))


def _snapshot_statement(dialect_name: str) -> sa.Executable:
    """The day's snapshot in one statement returning every cohort's row:
    INSERT INTO ttv_snapshots … SELECT <figures> … ON CONFLICT (cohort) DO UPDATE … On PostgreSQL it is
    `WITH fresh AS (<figures>), gone AS (DELETE the day's rows of cohorts not in fresh), written AS (INSERT …
    SELECT FROM fresh WHERE its row is not there as it is ON CONFLICT DO UPDATE … WHERE a figure changed)
    SELECT FROM fresh`: a cohort whose row already holds its figures is neither locked nor rewritten, so a
    second run the same day over the same data writes nothing (and its commit flushes nothing); a row another
    run writes at the same time conflicts and is updated only if its figures differ. On SQLite (no DML in a
    CTE) the INSERT … ON CONFLICT DO UPDATE … RETURNING."""
    table = TtvSnapshot.__table__
    figures = figures_statement(dialect_name)
    cohort = ["taken_on", "template_key", "segment", "kickoff_quarter"]
    if dialect_name != "postgresql":
        stmt = sqlite.insert(table).from_select(_COLUMNS, figures)
        stmt = stmt.on_conflict_do_update(index_elements=cohort,
                                          set_={name: stmt.excluded[name] for name in _FIGURES})
        return stmt.returning(*(table.c[name] for name in _COLUMNS[1:]), table.c.id)
    fresh = figures.cte("fresh")
    gone = sa.delete(table).where(
        table.c.taken_on == sa.bindparam("taken_on", type_=sa.Date),
        ~sa.exists().where(fresh.c.template_key == table.c.template_key, fresh.c.segment == table.c.segment,
                           fresh.c.kickoff_quarter == table.c.kickoff_quarter)).cte("gone")
    kept = table.alias("kept")
    unchanged = sa.exists().where(kept.c.taken_on == fresh.c.taken_on, *(
        kept.c[name].is_not_distinct_from(fresh.c[name]) if name == "within_target_share"
        else kept.c[name] == fresh.c[name] for name in _COLUMNS[1:]))
    insert = postgresql.insert(table).from_select(
        _COLUMNS, sa.select(*(fresh.c[name] for name in _COLUMNS)).where(~unchanged))
    insert = insert.on_conflict_do_update(
        index_elements=cohort, set_={name: insert.excluded[name] for name in _FIGURES},
        where=sa.or_(*(table.c[name].is_distinct_from(insert.excluded[name]) for name in _FIGURES)))
    return sa.select(*(fresh.c[name] for name in _COLUMNS[1:])).add_cte(gone).add_cte(insert.cte("written"))


def take_ttv_snapshot(today: date | None = None) -> list[Cohort]:
    """Write the day's snapshot: one row per cohort, inserted or, when the day already has it, updated in place
    (INSERT … SELECT … ON CONFLICT on the cohort's unique key, so runs at the same time never duplicate a row),
    the figures computed and rounded by the database in that statement and returned by it; the day's rows of
    cohorts that no longer have a project are removed. Returns the cohorts written.

    On PostgreSQL that is one statement: the cohorts a CTE, the removal a data-modifying CTE beside the INSERT.
    On SQLite (no DELETE in a CTE) the INSERT, then a count of the day's rows (an index range), and a DELETE
    only when that count says a row was not written now."""
    today = today or org_today()
    dialect_name = db.session.get_bind().dialect.name
    table = TtvSnapshot.__table__
    rows = db.session.execute(_statement("snapshot", dialect_name), {"taken_on": today}).all()
    if dialect_name != "postgresql":
        on_day = db.session.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.taken_on == today))
        if on_day > len(rows):
            stale = sa.delete(table).where(table.c.taken_on == today)
            if rows:
                stale = stale.where(table.c.id.not_in([row.id for row in rows]))
            db.session.execute(stale.execution_options(synchronize_session=False))
    return _ordered(_cohort(row) for row in rows)


def snapshot_taken(today: date) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(TtvSnapshot.taken_on == today)))


# --- open projects ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenTtv:
    """An open project's time to value so far: days elapsed since its start, and the forecast TTV (the first-value
    milestone's forecast date − start; None without one)."""

    elapsed_days: int
    forecast_days: int | None


def open_ttv_days(start: date, forecast_date: date | None, today: date) -> tuple[int, int | None]:
    """(days elapsed, forecast TTV) of an open project from its start and its first-value milestone's forecast."""
    return (today - start).days, (forecast_date - start).days if forecast_date else None


#: by ids -> the open projects' statement, built once (a new one would be traversed again for its cache key).
_OPEN_STATEMENTS: dict[bool, sa.Select] = {}


def open_projects_statement(by_ids: bool = False) -> sa.Select:
    """The open projects without a TTV yet joined to their first-value milestone: a SELECT of Project.id, the
    start (contract signed, else kickoff) and the milestone's forecast_date, to add columns and joins to. With
    by_ids, both the projects and the ranked milestones are limited to the expanding parameter project_ids."""
    cached = _OPEN_STATEMENTS.get(by_ids)
    if cached is not None:
        return cached
    ids = sa.bindparam("project_ids", expanding=True) if by_ids else None
    fv = _first_value_milestones(ids)
    start = sa.func.coalesce(Project.contract_signed_date, Project.kickoff_date)
    stmt = (sa.select(Project.id, start.label("start"), fv.c.forecast_date)
            .outerjoin(fv, fv.c.project_id == Project.id)
            .where(Project.ttv_days.is_(None), Project.status.in_(OPEN_PROJECT_STATUSES)))
    if by_ids:
        stmt = stmt.where(Project.id.in_(ids))
    _OPEN_STATEMENTS[by_ids] = stmt
    return stmt


def open_time_to_value(project_ids: Iterable[int] | None = None, today: date | None = None) -> dict[int, OpenTtv]:
    """project id -> OpenTtv for open projects without a TTV yet (None: all of them), in one query."""
    today = today or org_today()
    if project_ids is None:
        rows = db.session.execute(open_projects_statement())
    else:
        rows = db.session.execute(open_projects_statement(by_ids=True), {"project_ids": sorted(set(project_ids))})
    return {project_id: OpenTtv(*open_ttv_days(start, forecast_date, today))
            for project_id, start, forecast_date in rows.all()}


def project_target_ttv(project: Project) -> int | None:
    """The target TTV of the project's template (None for a blank project or a template without one)."""
    if project.template_version_id is None:
        return None
    return db.session.scalar(sa.select(Template.target_ttv_days).join(
        TemplateVersion, TemplateVersion.template_id == Template.id)
        .where(TemplateVersion.id == project.template_version_id))


def ttv_fact(project: Project, milestones: Iterable[Milestone], target: int | None, today: date) -> str:
    """The project page's "Time to value" in words, from rows the page has loaded: "34 days (target 45)" when
    reached; "12 days so far · forecast 40 days" while open; "—" for a closed project that never reached it."""
    suffix = f" (target {target})" if target else ""
    if project.ttv_days is not None:
        return f"{_days(project.ttv_days)}{suffix}"
    if project.status not in OPEN_PROJECT_STATUSES:
        return "—"
    start = project.contract_signed_date or project.kickoff_date
    first = next((m for m in milestones if m.is_first_value), None)
    text = f"{_days((today - start).days)} so far"
    if first is not None and first.forecast_date is not None:
        text += f" · forecast {_days((first.forecast_date - start).days)}"
    return text


def _days(n: int) -> str:
    return f"{n} day{'' if n in (1, -1) else 's'}"
