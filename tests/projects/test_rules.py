"""SPEC §3 rules — progress, forecast, slip, health, and dates from a template — with numbers worked by hand.

Calendar: Monday–Friday. November 2026: Mon 2, Mon 9, Mon 16, Mon 23, Mon 30.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from psa.core.calendar import WorkCalendar
from psa.projects.services import (
    MilestoneState,
    PlanTask,
    forecast_tasks,
    health,
    milestone_forecast,
    progress,
    slip,
)

CAL = WorkCalendar()
D = date


def task(id, due, duration=1, status="todo", estimate=0, preds=(), completed=None, milestone=1):
    return PlanTask(id=id, milestone_id=milestone, status=status, due_date=due, duration_days=duration,
                    estimated_minutes=estimate, completed_on=completed, predecessor_ids=tuple(preds))


# --- progress ------------------------------------------------------------------------------------


def test_progress_weights_by_estimated_hours():
    # 2 h done of 2 + 4 + 0 h = 1/3
    tasks = [task(1, D(2026, 11, 3), status="done", estimate=120), task(2, D(2026, 11, 4), estimate=240),
             task(3, D(2026, 11, 5), estimate=0)]
    assert progress(tasks) == Fraction(1, 3)


def test_progress_counts_tasks_when_no_task_has_an_estimate():
    tasks = [task(1, D(2026, 11, 3), status="done"), task(2, D(2026, 11, 4), status="done"),
             task(3, D(2026, 11, 5)), task(4, D(2026, 11, 6))]
    assert progress(tasks) == Fraction(2, 4)


def test_progress_of_a_milestone_without_tasks_follows_its_done_mark():
    assert progress([], done_without_tasks=True) == 1
    assert progress([]) == 0


# --- forecast and slip ---------------------------------------------------------------------------


def test_a_late_first_task_slips_a_chain_of_three_and_the_milestone():
    # A (due Tue 3, 2 days) -> B (due Thu 5, 2 days) -> C (due Tue 10, 3 days); milestone due Fri 13.
    # Today is Mon 9: A is overdue.
    today = D(2026, 11, 9)
    a = task(1, D(2026, 11, 3), duration=2)
    b = task(2, D(2026, 11, 5), duration=2, preds=[1])
    c = task(3, D(2026, 11, 10), duration=3, preds=[2])
    forecasts = forecast_tasks([a, b, c], today, CAL)
    # A: latest of due (Tue 3) and today (Mon 9) = Mon 9
    assert forecasts[1] == D(2026, 11, 9)
    # B: overdue, so today (Mon 9); predecessors' end Mon 9 + 2 working days = Wed 11 -> Wed 11
    assert forecasts[2] == D(2026, 11, 11)
    # C: due Tue 10 (not overdue); Wed 11 + 3 working days = Mon 16 -> Mon 16
    assert forecasts[3] == D(2026, 11, 16)
    milestone_due = D(2026, 11, 13)
    forecast = milestone_forecast(milestone_due, [a, b, c], forecasts)
    assert forecast == D(2026, 11, 16)
    # slip: working days x with Fri 13 < x <= Mon 16 = just Mon 16 = 1
    assert slip(milestone_due, forecast, CAL) == 1


def test_a_done_task_forecasts_its_completion_date_and_frees_its_successor():
    today = D(2026, 11, 9)
    a = task(1, D(2026, 11, 3), duration=2, status="done", completed=D(2026, 11, 6))
    b = task(2, D(2026, 11, 12), duration=2, preds=[1])
    forecasts = forecast_tasks([a, b], today, CAL)
    assert forecasts[1] == D(2026, 11, 6)  # completed Friday 6, late but done
    # B: due Thu 12; Fri 6 + 2 working days = Tue 10, earlier than its due date -> Thu 12
    assert forecasts[2] == D(2026, 11, 12)
    assert slip(D(2026, 11, 13), milestone_forecast(D(2026, 11, 13), [a, b], forecasts), CAL) == 0


def test_a_milestone_without_open_tasks_forecasts_its_due_date():
    done = task(1, D(2026, 11, 3), status="done", completed=D(2026, 11, 20))
    assert milestone_forecast(D(2026, 11, 13), [done], {1: D(2026, 11, 20)}) == D(2026, 11, 13)


def test_slip_is_zero_when_the_forecast_is_not_later():
    assert slip(D(2026, 11, 13), D(2026, 11, 12), CAL) == 0
    assert slip(D(2026, 11, 13), D(2026, 11, 13), CAL) == 0
    # Fri 13 -> Fri 20: Mon 16 .. Fri 20 = 5
    assert slip(D(2026, 11, 13), D(2026, 11, 20), CAL) == 5


def test_slip_skips_holidays():
    # Thanksgiving Thu 26 Nov as a holiday: Wed 25 -> Fri 27 is 1 working day
    cal = WorkCalendar(holidays=frozenset({D(2026, 11, 26)}))
    assert slip(D(2026, 11, 25), D(2026, 11, 27), cal) == 1


@given(
    dues=st.lists(st.integers(0, 60), min_size=1, max_size=8),
    durations=st.lists(st.integers(1, 10), min_size=8, max_size=8),
    today_offset=st.integers(0, 90),
)
def test_forecast_is_never_before_the_due_date_nor_before_today_when_overdue(dues, durations, today_offset):
    start = D(2026, 11, 2)
    today = D.fromordinal(start.toordinal() + today_offset)
    tasks = [task(i + 1, D.fromordinal(start.toordinal() + due), duration=durations[i], preds=[i] if i else [])
             for i, due in enumerate(dues)]
    forecasts = forecast_tasks(tasks, today, CAL)
    for t in tasks:
        assert forecasts[t.id] >= t.due_date
        if t.due_date < today:
            assert forecasts[t.id] >= today
        for p in t.predecessor_ids:
            # finish-to-start: a successor ends at least its duration in working days after its predecessor
            assert CAL.working_days_between(forecasts[p], forecasts[t.id]) >= t.duration_days


# --- health --------------------------------------------------------------------------------------

TODAY = D(2026, 11, 23)  # Monday


def _health(milestones, **kwargs):
    args = dict(today=TODAY, calendar=CAL, progress_ratio=Fraction(0), burned_minutes=0, budget_minutes=None)
    args.update(kwargs)
    return health(milestones, **args)


def test_green_when_nothing_slips_and_burn_follows_progress():
    assert _health([MilestoneState(D(2026, 11, 30), False, 0)]) == "green"


def test_red_when_an_open_escalation_is_at_level_two():
    assert _health([MilestoneState(D(2026, 11, 30), False, 0)], open_escalation_level=2) == "red"
    assert _health([MilestoneState(D(2026, 11, 30), False, 0)], open_escalation_level=1) == "green"


def test_red_when_a_milestone_is_overdue_by_more_than_five_working_days():
    # due Fri 13: working days to Mon 23 = 16,17,18,19,20,23 = 6 > 5 -> red
    assert _health([MilestoneState(D(2026, 11, 13), False, 6)]) == "red"
    # due Mon 16: 17,18,19,20,23 = 5, not more than 5 -> amber (it slips), not red
    assert _health([MilestoneState(D(2026, 11, 16), False, 5)]) == "amber"
    # a done milestone is never overdue
    assert _health([MilestoneState(D(2026, 11, 2), True, 0)]) == "green"


def test_amber_when_a_milestone_slips():
    assert _health([MilestoneState(D(2026, 11, 30), False, 1)]) == "amber"


def test_amber_when_burn_exceeds_progress_by_more_than_fifteen_points():
    # budget 100 h, 60 h burned = 60 %, progress 40 % -> 20 points ahead -> amber
    assert _health([], budget_minutes=6000, burned_minutes=3600, progress_ratio=Fraction(2, 5)) == "amber"
    # 55 h burned = 55 %, 15 points ahead: not more than 15 -> green
    assert _health([], budget_minutes=6000, burned_minutes=3300, progress_ratio=Fraction(2, 5)) == "green"
    # no budget: the burn clause does not apply
    assert _health([], budget_minutes=None, burned_minutes=99999) == "green"


def test_thresholds_are_configurable():
    assert _health([MilestoneState(D(2026, 11, 16), False, 0)], red_overdue_days=4) == "red"
    assert _health([], budget_minutes=6000, burned_minutes=3300, progress_ratio=Fraction(2, 5),
                   amber_burn_points=10) == "amber"


# --- dates from a template, stored, and the schedule refreshed ------------------------------------


def _template(actor):
    from psa.project_templates import services as t

    version = t.create_template(actor, name="Rules template")
    m1 = t.add_milestone(actor, version, name="Set-up", offset_days=4, fee_share_percent=40, is_first_value=True)
    m2 = t.add_milestone(actor, version, name="Go-live", offset_days=9, fee_share_percent=60)
    a = t.add_task(actor, m1, name="A", offset_days=0, duration_days=2, estimated_minutes=120)
    b = t.add_task(actor, m1, name="B", offset_days=2, duration_days=2, estimated_minutes=240, assignee_role="customer")
    c = t.add_task(actor, m2, name="C", offset_days=4, duration_days=3, estimated_minutes=0)
    t.set_predecessors(actor, b, [a.id])
    t.set_predecessors(actor, c, [b.id])
    t.publish_version(actor, version)
    return version


def test_project_dates_come_from_working_day_offsets(ctx, make):
    import sqlalchemy as sa

    from psa.extensions import db
    from psa.projects.models import Milestone, Task
    from psa.projects.services import create_project

    manager = make.user(role="manager")
    version = _template(manager)
    # kickoff Saturday 7 Nov -> K = Monday 9 Nov
    project = create_project(manager, account=make.account(), name="P", kickoff_date=D(2026, 11, 7),
                             manager=manager, template_version=version, fee_amount=Decimal("10000"))
    db.session.commit()
    tasks = {t.name: t for t in db.session.scalars(sa.select(Task).where(Task.project_id == project.id))}
    milestones = {m.name: m for m in db.session.scalars(sa.select(Milestone).where(Milestone.project_id == project.id))}
    # A: start K + 0 = Mon 9, due start + 1 = Tue 10
    assert (tasks["A"].start_date, tasks["A"].due_date) == (D(2026, 11, 9), D(2026, 11, 10))
    # B: start K + 2 = Wed 11, due Thu 12
    assert (tasks["B"].start_date, tasks["B"].due_date) == (D(2026, 11, 11), D(2026, 11, 12))
    # C: start K + 4 = Fri 13, due + 2 = Tue 17
    assert (tasks["C"].start_date, tasks["C"].due_date) == (D(2026, 11, 13), D(2026, 11, 17))
    # milestones: K + 4 = Fri 13, K + 9 = Fri 20
    assert milestones["Set-up"].due_date == milestones["Set-up"].baseline_due_date == D(2026, 11, 13)
    assert milestones["Go-live"].due_date == D(2026, 11, 20)
    assert all(t.baseline_due_date == t.due_date and t.baseline_start_date == t.start_date for t in tasks.values())
    assert project.target_go_live_date == D(2026, 11, 20)
    assert project.budget_minutes == 360  # the template's estimates, when no budget is given


def test_project_dates_skip_holidays(ctx, make):
    import sqlalchemy as sa

    from psa.admin.services import add_holiday
    from psa.extensions import db
    from psa.projects.models import Task
    from psa.projects.services import create_project

    manager = make.user(role="manager")
    version = _template(manager)
    add_holiday(None, D(2026, 11, 11), "Veterans Day")  # Wednesday
    project = create_project(manager, account=make.account(), name="P", kickoff_date=D(2026, 11, 9),
                             manager=manager, template_version=version, fee_amount=Decimal("1"))
    b = db.session.scalar(sa.select(Task).where(Task.project_id == project.id, Task.name == "B"))
    # K = Mon 9; K + 2 working days skips Wed 11: Tue 10, Thu 12 -> start Thu 12, due Fri 13
    assert (b.start_date, b.due_date) == (D(2026, 11, 12), D(2026, 11, 13))


def test_refresh_stores_the_slip_of_a_late_chain_and_the_health(ctx, make):
    import sqlalchemy as sa

    from psa.extensions import db
    from psa.projects.models import Milestone, Project, Task
    from psa.projects.services import create_project, refresh_schedule

    manager = make.user(role="manager")
    version = _template(manager)
    project = create_project(manager, account=make.account(), name="P", kickoff_date=D(2026, 11, 9),
                             manager=manager, template_version=version, fee_amount=Decimal("1"))
    # Today Wed 18 Nov; nothing done. A due Tue 10 -> today, Wed 18.
    # B: overdue (Thu 12) -> today Wed 18; A's end Wed 18 + 2 = Fri 20 -> Fri 20.
    # C: overdue (Tue 17) -> Wed 18; B's end Fri 20 + 3 = Wed 25 -> Wed 25.
    refresh_schedule([project.id], today=D(2026, 11, 18))
    tasks = {t.name: t for t in db.session.scalars(sa.select(Task).where(Task.project_id == project.id))}
    assert [tasks[n].forecast_date for n in "ABC"] == [D(2026, 11, 18), D(2026, 11, 20), D(2026, 11, 25)]
    ms = {m.name: m for m in db.session.scalars(sa.select(Milestone).where(Milestone.project_id == project.id))}
    # Set-up due Fri 13, forecast = latest of A, B = Fri 20: slip = 16..20 = 5
    assert (ms["Set-up"].forecast_date, ms["Set-up"].slip_days) == (D(2026, 11, 20), 5)
    # Go-live due Fri 20, forecast Wed 25: slip = 23, 24, 25 = 3
    assert (ms["Go-live"].forecast_date, ms["Go-live"].slip_days) == (D(2026, 11, 25), 3)
    refreshed = db.session.get(Project, project.id)
    # Set-up overdue since Fri 13: 16, 17, 18 = 3 working days (not > 5) but it slips -> amber
    assert (refreshed.health, refreshed.max_slip_days, refreshed.progress_percent) == ("amber", 5, 0)
    # a week later, Wed 25: Set-up overdue 16..25 = 8 > 5 -> red
    refresh_schedule([project.id], today=D(2026, 11, 25))
    assert db.session.get(Project, project.id).health == "red"


def test_completing_tasks_moves_progress_and_closes_the_milestone(ctx, make):
    import sqlalchemy as sa

    from psa.extensions import db
    from psa.projects.models import Milestone, Project, Task
    from psa.projects.services import create_project, update_task

    manager = make.user(role="manager")
    version = _template(manager)
    project = create_project(manager, account=make.account(), name="P", kickoff_date=D(2026, 11, 9),
                             manager=manager, template_version=version, fee_amount=Decimal("1"))
    tasks = {t.name: t for t in db.session.scalars(sa.select(Task).where(Task.project_id == project.id))}
    update_task(manager, tasks["A"], status="done")
    # 120 of 360 estimated minutes done -> 33 %
    assert db.session.get(Project, project.id).progress_percent == 33
    update_task(manager, tasks["B"], status="done")
    setup = db.session.scalar(sa.select(Milestone).where(Milestone.project_id == project.id, Milestone.name == "Set-up"))
    assert setup.status == "done" and setup.completed_at is not None
    assert db.session.get(Project, project.id).progress_percent == 100  # C has no estimate: 360/360
    assert tasks["A"].completed_at.tzinfo is not None and tasks["A"].completed_at <= datetime.now(UTC)


def test_shifting_successors_moves_them_by_the_same_working_days(ctx, make):
    import sqlalchemy as sa

    from psa.extensions import db
    from psa.projects.models import Task
    from psa.projects.services import create_project, update_task

    manager = make.user(role="manager")
    version = _template(manager)
    project = create_project(manager, account=make.account(), name="P", kickoff_date=D(2026, 11, 9),
                             manager=manager, template_version=version, fee_amount=Decimal("1"))
    tasks = {t.name: t for t in db.session.scalars(sa.select(Task).where(Task.project_id == project.id))}
    # A due Tue 10 -> Fri 13: 3 working days later; B (Wed 11-Thu 12) -> Mon 16-Tue 17; C (Fri 13-Tue 17) -> Wed 18-Fri 20
    update_task(manager, tasks["A"], due_date=D(2026, 11, 13))
    assert (tasks["B"].start_date, tasks["B"].due_date) == (D(2026, 11, 16), D(2026, 11, 17))
    assert (tasks["C"].start_date, tasks["C"].due_date) == (D(2026, 11, 18), D(2026, 11, 20))
    assert tasks["C"].baseline_due_date == D(2026, 11, 17)
    # without shifting, the successors stay
    update_task(manager, tasks["A"], due_date=D(2026, 11, 16), shift_successors=False)
    assert tasks["B"].due_date == D(2026, 11, 17)


def test_the_schedule_job_refreshes_stale_projects_once_a_day(ctx, make):
    from psa.extensions import db
    from psa.projects.models import Project
    from psa.projects.services import create_project, org_today
    from psa.projects.tasks import refresh_schedules_job

    manager = make.user(role="manager")
    project = create_project(manager, account=make.account(), name="Blank", kickoff_date=D(2026, 11, 9),
                             manager=manager, billing_model="non_billable")
    db.session.commit()
    assert refresh_schedules_job() == 0  # refreshed today when it was created
    db.session.get(Project, project.id).schedule_refreshed_on = D(2020, 1, 1)
    db.session.commit()
    assert refresh_schedules_job() == 1
    assert db.session.get(Project, project.id).schedule_refreshed_on == org_today()
    assert refresh_schedules_job() == 0
