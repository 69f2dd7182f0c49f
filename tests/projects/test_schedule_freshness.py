"""The cached schedule (forecast, slip, progress, health on the rows) is never stale: every write that
changes an input of a SPEC §3 rule refreshes it in the same transaction, with no manual refresh.

Today is pinned to Wednesday 18 November 2026 (the organisation's day the rules see). Working days are
Mon–Fri unless a test changes them; every figure below is worked by hand in the comment beside it."""

from __future__ import annotations

import re
from datetime import date as D
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from psa.extensions import db
from psa.projects.models import Milestone, Project, Task
from tests.conftest import login_as

TODAY = D(2026, 11, 18)  # a Wednesday
ROW_RE = re.compile(r'<tr data-testid="project-row">(.*?)</tr>', re.S)


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    import psa.dashboard.routes
    import psa.projects.services

    monkeypatch.setattr(psa.projects.services, "org_today", lambda: TODAY)
    monkeypatch.setattr(psa.dashboard.routes, "org_today", lambda: TODAY)


def _project(make, *, due: D, budget_hours: int | None = 10, estimate_hours: int = 8, name: str = "Freshness"):
    """A running project with one milestone and one open task due on `due`; a consultant is a member."""
    from psa.projects.services import add_milestone_to_project, add_task_to_milestone, create_project

    manager = make.user(role="manager")
    consultant = make.user(role="consultant")
    project = create_project(manager, account=make.account(), name=name, kickoff_date=D(2026, 11, 2),
                             manager=manager, members=[consultant], billing_model="time_and_materials",
                             budget_minutes=budget_hours * 60 if budget_hours else None)
    milestone = add_milestone_to_project(manager, project, name="Build", due_date=due)
    task = add_task_to_milestone(manager, milestone, name="Configure", start_date=due, duration_days=1,
                                 estimated_minutes=estimate_hours * 60)
    db.session.commit()
    return project, milestone, task, manager, consultant


def _cached(project_id: int) -> tuple[str, int, int]:
    """(health, max slip, progress) as stored, read with plain SQL past the session."""
    row = db.session.execute(sa.select(Project.health, Project.max_slip_days, Project.progress_percent,
                                       Project.schedule_refreshed_on).where(Project.id == project_id)).one()
    assert row.schedule_refreshed_on == TODAY
    return row.health, row.max_slip_days, row.progress_percent


def _slip(milestone_id: int) -> tuple[D, int]:
    return tuple(db.session.execute(sa.select(Milestone.forecast_date, Milestone.slip_days)
                              .where(Milestone.id == milestone_id)).one())


def _save_grid(user, project, task, hours_by_day: dict[D, str]):
    from psa.timesheets.services import GridCell, GridRow, save_week

    row = GridRow(project_id=project.id, task_id=task.id, billable=True,
                  cells={day: GridCell(text=text) for day, text in hours_by_day.items()})
    save_week(user, user, D(2026, 11, 16), [row])
    db.session.commit()


# --- time: the burn clause of health ------------------------------------------------------------------


def test_saving_the_grid_refreshes_health_from_the_hours_burned(ctx, make):
    # due Mon 30 Nov: nothing slips; budget 10 h, 8 h estimated, nothing done: progress 0 %
    project, _, task, _, consultant = _project(make, due=D(2026, 11, 30))
    assert _cached(project.id) == ("green", 0, 0)
    # 16 h burned of 10 h = 160 % against 0 % progress: 160 > 15 points -> amber (the issue's case)
    _save_grid(consultant, project, task, {D(2026, 11, 16): "8:00", D(2026, 11, 17): "8:00"})
    assert _cached(project.id) == ("amber", 0, 0)
    # the same week saved with 1 h 30 m: 90 / 600 = 15 %, not more than 15 points -> green again
    _save_grid(consultant, project, task, {D(2026, 11, 16): "1:30"})
    assert _cached(project.id) == ("green", 0, 0)
    # 1 h 36 m: 96 / 600 = 16 % > 15 -> amber
    _save_grid(consultant, project, task, {D(2026, 11, 16): "1:36"})
    assert _cached(project.id) == ("amber", 0, 0)
    # emptying the week deletes the entry: 0 burned -> green
    _save_grid(consultant, project, task, {})
    assert _cached(project.id) == ("green", 0, 0)


def test_a_time_import_refreshes_health(ctx, make):
    from psa.timesheets.imports import import_time_entries

    project, _, task, _, consultant = _project(make, due=D(2026, 11, 30))
    body = ("date,email,project,task,hours,billable,note\r\n"
            f"2026-11-16,{consultant.email},Freshness,Configure,8,yes,\r\n"
            f"2026-11-17,{consultant.email},Freshness,Configure,8,yes,\r\n")
    report = import_time_entries(None, body.encode(), dry_run=False)
    assert report.created == 2
    db.session.commit()
    # 960 / 600 = 160 % burned against 0 % progress -> amber
    assert _cached(project.id) == ("amber", 0, 0)


def test_changing_the_budget_refreshes_health(ctx, make):
    from psa.projects.services import update_project

    project, _, task, manager, consultant = _project(make, due=D(2026, 11, 30))
    _save_grid(consultant, project, task, {D(2026, 11, 16): "8:00", D(2026, 11, 17): "8:00"})
    assert _cached(project.id)[0] == "amber"

    def set_budget(hours):
        update_project(manager, project, account=_account(project),
                       name=project.name, kickoff_date=project.kickoff_date, contract_signed_date=None,
                       target_go_live_date=None, manager=manager, members=[consultant],
                       billing_model=project.billing_model, fee_amount=None,
                       budget_minutes=hours * 60 if hours else None, status=project.status)
        db.session.commit()

    # 960 / 7200 (120 h) = 13.3 % against 0 % progress: not more than 15 points -> green
    set_budget(120)
    assert _cached(project.id) == ("green", 0, 0)
    # 960 / 6000 (100 h) = 16 % -> amber
    set_budget(100)
    assert _cached(project.id) == ("amber", 0, 0)
    # no budget: the burn clause does not apply -> green
    set_budget(None)
    assert _cached(project.id) == ("green", 0, 0)


def _account(project):
    from psa.accounts.models import Account

    return db.session.get(Account, project.account_id)


# --- the calendar: holidays and working days --------------------------------------------------------


def test_adding_and_removing_holidays_refreshes_slip_and_health(ctx, make):
    from psa.admin.models import Holiday
    from psa.admin.services import add_holiday, delete_holiday

    # milestone and its open task due Mon 9 Nov: forecast today (Wed 18); slip = Tue 10 .. Wed 18 = 7 working
    # days; overdue 7 > 5 -> red
    project, milestone, _, _, _ = _project(make, due=D(2026, 11, 9))
    assert _slip(milestone.id) == (TODAY, 7)
    assert _cached(project.id) == ("red", 7, 0)
    loaded = db.session.get(Milestone, milestone.id)  # an object of the session, read again below
    add_holiday(None, D(2026, 11, 11), "Veterans Day")
    db.session.commit()
    # 10, 12, 13, 16, 17, 18 = 6 > 5 -> still red
    assert _slip(milestone.id) == (TODAY, 6) and _cached(project.id) == ("red", 6, 0)
    add_holiday(None, D(2026, 11, 12), "Bridge day")
    # before the commit, in the same transaction: 10, 13, 16, 17, 18 = 5, not more than 5 -> amber (it slips)
    assert (loaded.slip_days, db.session.get(Project, project.id).health) == (5, "amber")
    db.session.commit()
    assert _slip(milestone.id) == (TODAY, 5) and _cached(project.id) == ("amber", 5, 0)
    delete_holiday(None, db.session.scalar(sa.select(Holiday).where(Holiday.day == D(2026, 11, 11))))
    db.session.commit()
    assert _slip(milestone.id) == (TODAY, 6) and _cached(project.id) == ("red", 6, 0)


def test_the_issue_case_a_holiday_turns_a_slip_of_2_into_1(ctx, make):
    from psa.admin.services import add_holiday

    # due Mon 16, forecast Wed 18: slip = Tue 17, Wed 18 = 2; with Tue 17 a holiday: 1
    project, milestone, _, _, _ = _project(make, due=D(2026, 11, 16))
    assert _slip(milestone.id) == (TODAY, 2)
    add_holiday(None, D(2026, 11, 17), "Founders' day")
    db.session.commit()
    assert _slip(milestone.id) == (TODAY, 1) and _cached(project.id) == ("amber", 1, 0)


def test_changing_the_working_days_refreshes_slip(ctx, make):
    from psa.admin.services import update_settings

    # due Fri 13, forecast Wed 18: Mon–Fri slip = 16, 17, 18 = 3 -> amber
    project, milestone, _, _, _ = _project(make, due=D(2026, 11, 13))
    assert _slip(milestone.id) == (TODAY, 3)
    update_settings(None, working_days="123456")
    db.session.commit()
    # Saturday 14 works too: 14, 16, 17, 18 = 4
    assert _slip(milestone.id) == (TODAY, 4) and _cached(project.id) == ("amber", 4, 0)
    update_settings(None, working_days="1234567")
    db.session.commit()
    # every day: 14, 15, 16, 17, 18 = 5, overdue 5, not more than 5 -> amber
    assert _slip(milestone.id) == (TODAY, 5) and _cached(project.id) == ("amber", 5, 0)
    update_settings(None, working_days="12345")
    db.session.commit()
    assert _slip(milestone.id) == (TODAY, 3) and _cached(project.id) == ("amber", 3, 0)


# --- the health thresholds ---------------------------------------------------------------------------


def test_changing_the_red_overdue_threshold_refreshes_health(ctx, make):
    from psa.admin.services import update_settings

    # due Fri 13: overdue 3 working days; the default threshold 5 -> amber (it slips)
    project, _, _, _, _ = _project(make, due=D(2026, 11, 13))
    assert _cached(project.id) == ("amber", 3, 0)
    update_settings(None, health_red_overdue_days=2)
    db.session.commit()
    assert _cached(project.id) == ("red", 3, 0)  # 3 > 2
    update_settings(None, health_red_overdue_days=3)
    db.session.commit()
    assert _cached(project.id) == ("amber", 3, 0)  # 3 is not more than 3


def test_changing_the_burn_threshold_refreshes_health(ctx, make):
    from psa.admin.services import update_settings

    project, _, task, _, consultant = _project(make, due=D(2026, 11, 30))
    _save_grid(consultant, project, task, {D(2026, 11, 16): "2:00"})
    # 120 / 600 = 20 % burned against 0 % progress: 20 > 15 -> amber
    assert _cached(project.id) == ("amber", 0, 0)
    update_settings(None, health_amber_burn_points=20)
    db.session.commit()
    assert _cached(project.id) == ("green", 0, 0)  # 20 is not more than 20
    update_settings(None, health_amber_burn_points=19)
    db.session.commit()
    assert _cached(project.id) == ("amber", 0, 0)


def test_a_setting_no_rule_reads_refreshes_nothing(ctx, make, count_queries):
    from psa.admin.services import get_settings, update_settings

    _project(make, due=D(2026, 11, 13))
    get_settings()
    with count_queries() as queries:
        update_settings(None, org_name="Renamed Ltd")
    assert not [q for q in queries if "FROM tasks" in q]


# --- what the pages show ------------------------------------------------------------------------------


def test_the_dashboard_shows_the_health_a_grid_save_gives(app, client, make):
    with app.app_context():
        project, _, task, manager, consultant = _project(make, due=D(2026, 11, 30), name="Burned")
        _save_grid(consultant, project, task, {D(2026, 11, 16): "8:00", D(2026, 11, 17): "8:00"})
        manager = SimpleNamespace(email=manager.email)
    login_as(client, manager)
    html = client.get("/").get_data(as_text=True)
    [row] = ROW_RE.findall(html)
    assert "Burned" in row and "At risk" in row and "On track" not in row
    # the reason names SPEC §3's burn clause: 16 h of a 10 h budget at 0 % progress
    assert "Burned 160 % of the budget at 0 % progress" in row


def test_the_dashboard_recomputes_nothing_and_says_how_old_a_stale_schedule_is(app, client, make, count_queries):
    with app.app_context():
        project, _, _, manager, _ = _project(make, due=D(2026, 11, 9), name="Old")
        db.session.execute(sa.update(Project).where(Project.id == project.id).values(
            schedule_refreshed_on=D(2026, 11, 17), health="green"))
        db.session.commit()
        manager = SimpleNamespace(email=manager.email)
    login_as(client, manager)
    with count_queries() as queries:
        html = client.get("/").get_data(as_text=True)
    assert not [q for q in queries if q.lstrip().upper().startswith("UPDATE")]
    [row] = ROW_RE.findall(html)
    assert "On track" in row  # as cached: the page does not recompute
    assert "as of 2026-11-17" in html
    # the daily job does: overdue since Mon 9, 7 working days > 5 -> red
    from psa.projects.tasks import refresh_schedules_job

    with app.app_context():
        assert refresh_schedules_job() == 1
    html = client.get("/").get_data(as_text=True)
    [row] = ROW_RE.findall(html)
    assert "Off track" in row and "as of" not in html
    assert re.search(r'href="/projects/\d+#milestone-\d+">Build is overdue by 7 working days</a>', row)


def test_a_task_change_shows_its_new_forecast_on_objects_already_loaded(ctx, make):
    from psa.projects.services import update_task

    # task and milestone due Mon 9: the task's forecast is today, the milestone slips 7 -> red
    project, milestone, task, manager, _ = _project(make, due=D(2026, 11, 9))
    loaded_project = db.session.get(Project, project.id)
    loaded_milestone = db.session.get(Milestone, milestone.id)
    loaded_task = db.session.get(Task, task.id)
    assert (loaded_task.forecast_date, loaded_milestone.slip_days, loaded_project.health) == (TODAY, 7, "red")
    # the task moved to Mon 23: its forecast is Mon 23; the milestone (still due Mon 9) slips
    # Tue 10 .. Fri 13 (4) + Mon 16 .. Fri 20 (5) + Mon 23 = 10 working days; overdue 7 > 5 -> red
    update_task(manager, task, due_date=D(2026, 11, 23))
    assert loaded_task.forecast_date == D(2026, 11, 23)
    assert (loaded_milestone.forecast_date, loaded_milestone.slip_days) == (D(2026, 11, 23), 10)
    assert (loaded_project.health, loaded_project.max_slip_days) == ("red", 10)
    # done: the milestone is done and slips no more; 8 of 8 estimated hours done -> 100 %, green
    update_task(manager, task, status="done")
    assert (loaded_milestone.status, loaded_milestone.slip_days) == ("done", 0)
    assert (loaded_project.health, loaded_project.max_slip_days, loaded_project.progress_percent) == ("green", 0, 100)
