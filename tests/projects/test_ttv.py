"""Time to value (SPEC §3): stored when the first-value milestone is completed, cleared when it is reopened,
counted from the contract signed date (else kickoff) to the completion date in the organisation's zone; the
nightly snapshot's figures per cohort worked out by hand; the snapshot idempotent, race-free and constant in
statements; open projects' days elapsed and forecast."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.core.clock import frozen
from psa.extensions import db
from tests.concurrency.helpers import no_errors, race
from tests.projects.helpers import ONBOARDING, build_template, create_project

Q1, Q2 = date(2026, 2, 10), date(2026, 4, 15)  # kickoff dates in 2026-Q1 and 2026-Q2

#: (template, segment, kickoff, TTV days). Template "A" has a 30-day target, "B" none, None is a blank project.
PROJECTS = [
    ("A", "mid", Q1, 40), ("A", "mid", Q1, 10), ("A", "mid", Q1, 100), ("A", "mid", Q1, 30), ("A", "mid", Q1, 20),
    ("A", "mid", Q2, 50), ("A", "mid", Q2, 12), ("A", "mid", Q2, 31), ("A", "mid", Q2, 25),
    ("A", "high", Q1, 45), ("A", "high", Q1, 7), ("A", "high", Q1, 29),
    ("B", "mid", Q1, 9), ("B", "mid", Q1, 5), ("B", "mid", Q1, 8),
    ("B", "high", Q2, 14), ("B", "high", Q2, 3),
    (None, "low", Q1, 20), (None, "low", Q1, 10),
    ("A", "mid", Q1, None), ("B", "high", Q2, None),  # not reached: in no cohort
]


def _load(projects=PROJECTS) -> dict:
    """Templates A (target 30 days) and B (none), an account per segment, and the projects with their TTV set
    directly (the snapshot reads Project.ttv_days only). Returns the template ids by letter."""
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.project_templates.models import Template, TemplateVersion
    from psa.projects.models import Milestone, Project

    manager = User(email="mia@example.com", name="Mia Manager", role="manager", timezone="UTC",
                   weekly_capacity_hours=Decimal("40"))
    templates = {"A": Template(name="Standard onboarding", target_ttv_days=30), "B": Template(name="Data migration")}
    versions = {k: TemplateVersion(template=t, number=1, state="published") for k, t in templates.items()}
    accounts = {s: Account(name=f"{s} account", segment=s, arr=Decimal("1000")) for s in ("high", "mid", "low")}
    db.session.add_all([manager, *versions.values(), *accounts.values()])
    db.session.flush()
    for n, (template, segment, kickoff, ttv) in enumerate(projects):
        project = Project(account_id=accounts[segment].id, name=f"P{n}", kickoff_date=kickoff,
                          manager_id=manager.id, ttv_days=ttv,
                          template_version_id=versions[template].id if template else None)
        if ttv is not None:  # behind each TTV, a first-value milestone completed that many days after kickoff
            done_on = kickoff + timedelta(days=ttv)
            project.milestones = [Milestone(position=1, name="Go-live", baseline_due_date=done_on, due_date=done_on,
                                            is_first_value=True, status="done",
                                            completed_at=datetime.combine(done_on, time(12), tzinfo=UTC))]
        db.session.add(project)
    db.session.flush()
    return {k: t.id for k, t in templates.items()}


def _rows(taken_on: date) -> list[tuple]:
    from psa.projects.models import TtvSnapshot as S

    return [tuple(r) for r in db.session.execute(
        sa.select(S.template_key, S.template_name, S.segment, S.kickoff_quarter, S.project_count, S.median_days,
                  S.p75_days, S.mean_days, S.within_target_share).where(S.taken_on == taken_on)
        .order_by(S.template_key, S.segment, S.kickoff_quarter))]


def test_snapshot_gives_the_figures_worked_out_by_hand_per_template_segment_and_quarter(ctx):
    """Percentile p of n sorted values: h = 1 + p·(n − 1), value = v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋]).

    A · mid · 2026-Q1: 10 20 30 40 100 (n 5). Median h = 3 → 30. P75 h = 4 → 40. Mean 200 / 5 = 40.
        Within 30: 10, 20, 30 → 3 / 5 = 0.6.
    A · mid · 2026-Q2: 12 25 31 50 (n 4). Median h = 2.5 → 25 + ½·6 = 28. P75 h = 3.25 → 31 + ¼·19 = 35.75.
        Mean 118 / 4 = 29.5. Within: 12, 25 → 2 / 4 = 0.5.
    A · high · 2026-Q1: 7 29 45 (n 3). Median h = 2 → 29. P75 h = 2.5 → 29 + ½·16 = 37. Mean 81 / 3 = 27.
        Within: 7, 29 → 2 / 3 = 0.6667 (half-up at four places).
    B · mid · 2026-Q1: 5 8 9 (n 3). Median 8. P75 h = 2.5 → 8 + ½·1 = 8.5. Mean 22 / 3 = 7.33. No target.
    B · high · 2026-Q2: 3 14 (n 2). Median h = 1.5 → 3 + ½·11 = 8.5. P75 h = 1.75 → 3 + ¾·11 = 11.25.
        Mean 8.5. No target.
    Blank · low · 2026-Q1: 10 20. Median 15. P75 h = 1.75 → 10 + ¾·10 = 17.5. Mean 15. No template: key 0.
    The two projects without a TTV are in no cohort."""
    from psa.projects.ttv import take_ttv_snapshot

    ids = _load()
    day = date(2026, 12, 4)
    cohorts = take_ttv_snapshot(day)
    db.session.commit()
    d = Decimal
    a, b = ids["A"], ids["B"]
    expected = sorted([
        (a, "Standard onboarding", "mid", "2026-Q1", 5, d("30.00"), d("40.00"), d("40.00"), d("0.6000")),
        (a, "Standard onboarding", "mid", "2026-Q2", 4, d("28.00"), d("35.75"), d("29.50"), d("0.5000")),
        (a, "Standard onboarding", "high", "2026-Q1", 3, d("29.00"), d("37.00"), d("27.00"), d("0.6667")),
        (b, "Data migration", "mid", "2026-Q1", 3, d("8.00"), d("8.50"), d("7.33"), None),
        (b, "Data migration", "high", "2026-Q2", 2, d("8.50"), d("11.25"), d("8.50"), None),
        (0, "", "low", "2026-Q1", 2, d("15.00"), d("17.50"), d("15.00"), None),
    ], key=lambda r: (r[0], r[2], r[3]))
    assert _rows(day) == expected
    assert len(cohorts) == 6


def test_snapshot_twice_the_same_day_gives_the_same_rows_and_drops_a_cohort_that_emptied(ctx):
    from psa.projects.models import Project
    from psa.projects.ttv import take_ttv_snapshot

    _load()
    day = date(2026, 12, 4)
    take_ttv_snapshot(day)
    db.session.commit()
    first = _rows(day)
    take_ttv_snapshot(day)
    db.session.commit()
    assert _rows(day) == first and len(first) == 6
    # the blank projects' TTV cleared (reopened) before a second run that day: their cohort's row goes
    db.session.execute(sa.update(Project).where(Project.template_version_id.is_(None)).values(ttv_days=None))
    take_ttv_snapshot(day)
    db.session.commit()
    assert _rows(day) == [r for r in first if r[0] != 0]
    take_ttv_snapshot(date(2026, 12, 5))  # another day: its own rows, the first day's kept
    db.session.commit()
    assert len(_rows(day)) == 5 and len(_rows(date(2026, 12, 5))) == 5


@pytest.mark.parametrize("projects", [5, 50])
def test_snapshot_runs_a_constant_number_of_statements(ctx, count_queries, projects):
    from psa.projects.ttv import take_ttv_snapshot

    _load([PROJECTS[i % 19] for i in range(projects)])
    db.session.commit()
    with count_queries() as statements:
        take_ttv_snapshot(date(2026, 12, 4))
    # PostgreSQL: one INSERT … SELECT … ON CONFLICT computing every cohort, with the DELETE of emptied cohorts
    # as a CTE of it; SQLite (no DELETE in a CTE): that INSERT and a count of the day's rows (a DELETE only
    # when the count shows an emptied cohort, tested above)
    expected = 1 if db.session.get_bind().dialect.name == "postgresql" else 2
    assert len(statements) == expected, statements


def test_two_snapshots_at_once_write_each_cohort_once(app):
    """Eight threads take the same day's snapshot at the same moment: the unique key and ON CONFLICT leave one
    row per cohort (on SQLite the writers queue; on PostgreSQL they really overlap)."""
    from psa.projects.models import TtvSnapshot
    from psa.projects.ttv import take_ttv_snapshot

    with app.app_context():
        _load()
        db.session.commit()
    day = date(2026, 12, 4)

    def snapshot(index, go):
        go()
        cohorts = take_ttv_snapshot(day)
        db.session.commit()
        return len(cohorts)

    outcomes = race(app, snapshot)
    no_errors(outcomes)
    assert {o.value for o in outcomes} == {6}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TtvSnapshot)) == 6
        assert len(_rows(day)) == 6


# --- storing TTV on completion ----------------------------------------------------------------------------------


@pytest.fixture
def onboarding(app, make):
    """A project from the ONBOARDING template (Go-live is the first-value milestone) kicked off 2026-03-02,
    contract signed 2026-02-20; returns the create_project dict plus the manager's id."""
    manager = make.user(role="manager", name="Mia Manager")
    account = make.account(name="Acme")
    version_id = build_template(app, ONBOARDING)
    project = create_project(app, version_id, manager.id, account.id, date(2026, 3, 2),
                             contract_signed_date=date(2026, 2, 20))
    return {**project, "manager": manager.id}


def _finish_go_live(project, at: datetime, status: str = "done"):
    from psa.auth.models import User
    from psa.projects import services
    from psa.projects.models import Task

    actor = db.session.get(User, project["manager"])
    with frozen(at):
        for name in ("Train users", "Go live"):
            services.update_task(actor, db.session.get(Task, project["tasks"][name]), status=status)
    db.session.commit()


def _ttv(project_id: int):
    from psa.projects.models import Project

    return db.session.scalar(sa.select(Project.ttv_days).where(Project.id == project_id))


def _set_zone(name: str):
    from psa.admin.services import get_settings

    get_settings().timezone = name
    db.session.commit()


def test_completing_the_first_value_milestone_stores_ttv_and_reopening_clears_it(ctx, onboarding):
    _set_zone("UTC")
    _finish_go_live(onboarding, datetime(2026, 3, 27, 15, 0, tzinfo=UTC))
    assert _ttv(onboarding["id"]) == 35  # 2026-02-20 → 2026-03-27
    from psa.auth.models import User
    from psa.projects import services
    from psa.projects.models import Task

    services.update_task(db.session.get(User, onboarding["manager"]),
                         db.session.get(Task, onboarding["tasks"]["Go live"]), status="in_progress")
    db.session.commit()
    assert _ttv(onboarding["id"]) is None


def test_completing_another_milestone_stores_nothing(ctx, onboarding):
    from psa.auth.models import User
    from psa.projects import services
    from psa.projects.models import Task

    actor = db.session.get(User, onboarding["manager"])
    for name in ("Kickoff call", "Configure"):
        services.update_task(actor, db.session.get(Task, onboarding["tasks"][name]), status="done")
    db.session.commit()
    assert _ttv(onboarding["id"]) is None


def test_without_a_contract_date_ttv_counts_from_kickoff_and_follows_an_edit_of_the_dates(ctx, onboarding):
    from psa.projects.models import Project
    from psa.projects.ttv import record_time_to_value

    _set_zone("UTC")
    db.session.execute(sa.update(Project).where(Project.id == onboarding["id"]).values(contract_signed_date=None))
    _finish_go_live(onboarding, datetime(2026, 3, 27, 15, 0, tzinfo=UTC))
    assert _ttv(onboarding["id"]) == 25  # kickoff 2026-03-02 → 2026-03-27
    db.session.execute(sa.update(Project).where(Project.id == onboarding["id"])
                       .values(contract_signed_date=date(2026, 1, 26)))
    assert record_time_to_value([onboarding["id"]]) == 1
    assert _ttv(onboarding["id"]) == 60


def test_the_completion_date_is_the_day_in_the_organisations_zone(ctx, onboarding):
    """03:00 UTC on 2026-03-27 is 23:00 on 2026-03-26 in New York: TTV 34 days, not 35."""
    _set_zone("America/New_York")
    _finish_go_live(onboarding, datetime(2026, 3, 27, 3, 0, tzinfo=UTC))
    assert _ttv(onboarding["id"]) == 34


def test_a_task_less_first_value_milestone_marked_done_stores_ttv_and_reopened_clears_it(ctx, make):
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.projects import services
    from psa.projects.models import Milestone

    _set_zone("UTC")
    manager = make.user(role="manager")
    account = make.account()
    version_id = build_template(ctx, [{"name": "Go-live", "offset_days": 5, "fee_share_percent": 100,
                                       "is_first_value": True, "tasks": []}])
    project = create_project(ctx, version_id, manager.id, account.id, date(2026, 3, 2))
    milestone = db.session.get(Milestone, project["milestones"]["Go-live"])
    actor = db.session.get(User, manager.id)
    with frozen(datetime(2026, 3, 12, 12, tzinfo=UTC)):
        services.update_milestone(actor, milestone, status="done")
    db.session.commit()
    assert _ttv(project["id"]) == 10
    services.update_milestone(actor, milestone, status="todo")
    db.session.commit()
    assert _ttv(project["id"]) is None
    assert db.session.get(Account, account.id) is not None


def test_record_time_to_value_over_many_projects_runs_a_constant_number_of_statements(ctx, count_queries):
    from psa.projects.models import Milestone, Project
    from psa.projects.ttv import record_time_to_value

    _load([("A", "mid", Q1, None)] * 30)
    for i, project_id in enumerate(db.session.scalars(sa.select(Project.id)).all()):
        db.session.add(Milestone(project_id=project_id, position=1, name="Go-live", baseline_due_date=Q1,
                                 due_date=Q1, is_first_value=True, status="done" if i % 2 else "todo",
                                 completed_at=datetime(2026, 3, 1, 12, tzinfo=UTC) if i % 2 else None))
    db.session.commit()
    from psa.admin.services import get_settings

    get_settings()  # the zone, read once per request
    with count_queries() as statements:
        assert record_time_to_value() == 15
    assert len(statements) == 2, statements  # one read, one batched write
    assert set(db.session.scalars(sa.select(Project.ttv_days)).all()) == {None, 19}


# --- open projects ----------------------------------------------------------------------------------------------


def test_open_projects_carry_days_elapsed_and_a_forecast_from_the_first_value_milestone(ctx, onboarding):
    from psa.projects.models import Milestone, Project
    from psa.projects.ttv import OpenTtv, open_time_to_value, ttv_fact

    forecast = db.session.scalar(sa.select(Milestone.forecast_date).where(
        Milestone.id == onboarding["milestones"]["Go-live"]))
    today = date(2026, 3, 10)
    found = open_time_to_value(today=today)
    assert found == {onboarding["id"]: OpenTtv(18, (forecast - date(2026, 2, 20)).days)}
    project = db.session.get(Project, onboarding["id"])
    milestones = db.session.scalars(sa.select(Milestone).where(Milestone.project_id == project.id)
                                    .order_by(Milestone.position)).all()
    assert ttv_fact(project, milestones, 45, today) == \
        f"18 days so far · forecast {(forecast - date(2026, 2, 20)).days} days"
    project.ttv_days = 33
    assert ttv_fact(project, milestones, 45, today) == "33 days (target 45)"
    assert ttv_fact(project, milestones, None, today) == "33 days"
    db.session.flush()
    assert open_time_to_value(today=today) == {}  # reached: no longer open


def test_the_project_page_shows_time_to_value(app, make, login, onboarding):
    from psa.project_templates.models import Template

    with app.app_context():
        db.session.execute(sa.update(Template).values(target_ttv_days=45))
        db.session.commit()
        _set_zone("UTC")
        _finish_go_live(onboarding, datetime(2026, 3, 27, 15, 0, tzinfo=UTC))
    from psa.auth.models import User

    with app.app_context():
        manager = db.session.get(User, onboarding["manager"])
    client = login(manager)
    page = client.get(f"/projects/{onboarding['id']}").get_data(as_text=True)
    assert 'data-testid="time-to-value">35 days (target 45)<' in page


# --- the nightly job and `psa ttv` ------------------------------------------------------------------------------


def test_the_job_snapshots_once_a_day_and_is_on_the_schedule(ctx, count_queries):
    from psa.jobs.schedule import SCHEDULE
    from psa.projects.models import TtvSnapshot
    from psa.projects.tasks import ttv_snapshot_job

    assert "psa.projects.tasks.ttv_snapshot_job" in dict(SCHEDULE)
    _load()
    db.session.commit()
    with frozen(datetime(2026, 12, 4, 12, tzinfo=UTC)):
        assert ttv_snapshot_job() == 6
        with count_queries() as statements:
            assert ttv_snapshot_job() == 0  # today's snapshot exists: nothing more
    assert len(statements) == 2, statements  # the organisation's zone (for today), and whether today's exists
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TtvSnapshot)) == 6


def test_psa_ttv_recomputes_and_prints_each_cohort(app):
    with app.app_context():
        _load()
        db.session.commit()
    with frozen(datetime(2026, 12, 4, 12, tzinfo=UTC)):
        result = app.test_cli_runner().invoke(args=["ttv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Time to value: 0 projects changed; snapshot of 2026-12-04: 6 cohorts written."
    assert lines[1:] == [
        "  (blank projects) · low · 2026-Q1: 2 projects, median 15.00, p75 17.50, mean 15.00 days, no target",
        "  Data migration · high · 2026-Q2: 2 projects, median 8.50, p75 11.25, mean 8.50 days, no target",
        "  Data migration · mid · 2026-Q1: 3 projects, median 8.00, p75 8.50, mean 7.33 days, no target",
        "  Standard onboarding · high · 2026-Q1: 3 projects, median 29.00, p75 37.00, mean 27.00 days, "
        "within target 66.7 %",
        "  Standard onboarding · mid · 2026-Q1: 5 projects, median 30.00, p75 40.00, mean 40.00 days, "
        "within target 60.0 %",
        "  Standard onboarding · mid · 2026-Q2: 4 projects, median 28.00, p75 35.75, mean 29.50 days, "
        "within target 50.0 %",
    ]
