"""The in-process scheduler that keeps schedules fresh when there is no Redis (and so no cron process)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from psa.core.scheduler import InProcessScheduler, next_run_at, should_start


def test_the_next_run_is_in_an_hour_or_at_the_next_local_midnight_whichever_comes_first():
    new_york, kolkata = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
    # 22:30 UTC is 17:30 in New York (UTC-5 in November): midnight is 6.5 h away, the hour comes first
    assert next_run_at(datetime(2026, 11, 18, 22, 30, tzinfo=UTC), new_york) == datetime(2026, 11, 18, 23, 30,
                                                                                          tzinfo=UTC)
    # 04:40 UTC is 23:40 in New York: its midnight (05:00 UTC) comes before the hour
    assert next_run_at(datetime(2026, 11, 19, 4, 40, tzinfo=UTC), new_york) == datetime(2026, 11, 19, 5, 0,
                                                                                         tzinfo=UTC)
    # 18:00 UTC is 23:30 in Kolkata (UTC+5:30): midnight there is 18:30 UTC
    assert next_run_at(datetime(2026, 11, 18, 18, 0, tzinfo=UTC), kolkata) == datetime(2026, 11, 18, 18, 30,
                                                                                        tzinfo=UTC)


def test_it_starts_only_when_serving_without_redis_and_never_under_test(app):
    assert should_start(app) is False  # TESTING
    assert "psa_scheduler" not in app.extensions

    class Serving:
        testing = False

        def __init__(self, **config):
            self.config = config

    assert should_start(Serving(REDIS_URL="")) is True
    assert should_start(Serving(REDIS_URL="redis://127.0.0.1:6379/0")) is False
    assert should_start(Serving(REDIS_URL="", PSA_IN_PROCESS_SCHEDULER=False)) is False


def test_a_run_refreshes_stale_schedules_in_its_own_app_context_and_commits(app, make):
    from datetime import date

    import sqlalchemy as sa

    from psa.extensions import db
    from psa.projects.models import Project
    from psa.projects.services import create_project, org_today
    manager = make.user(role="manager")
    with app.app_context():
        project = create_project(manager, account=make.account(), name="Stale", kickoff_date=date(2026, 11, 9),
                                 manager=manager, billing_model="non_billable")
        project.schedule_refreshed_on = date(2020, 1, 1)
        db.session.commit()
        project_id = project.id
    scheduler = InProcessScheduler(app, "psa.projects.tasks.refresh_schedules_job", lambda: "UTC")
    assert scheduler.run_once() == 1
    with app.app_context():
        assert db.session.scalar(sa.select(Project.schedule_refreshed_on).where(Project.id == project_id)) == \
            org_today()
    assert scheduler.run_once() == 0  # run twice, it does nothing more


def test_a_failing_run_is_logged_and_the_thread_goes_on(app, caplog):
    scheduler = InProcessScheduler(app, "psa.core.scheduler.no_such_job", lambda: "UTC")
    assert scheduler.run_once() is None
    assert "periodic job psa.core.scheduler.no_such_job failed" in caplog.text


RAN = threading.Event()


def mark_ran() -> None:
    RAN.set()


def test_the_thread_runs_the_job_at_start_then_waits_for_the_next_run(app):
    RAN.clear()
    scheduler = InProcessScheduler(app, f"{__name__}.mark_ran", lambda: "UTC").start()
    try:
        assert RAN.wait(timeout=10)
        assert 0 < scheduler.wait_seconds(datetime(2026, 11, 18, 23, 15, tzinfo=UTC)) == 45 * 60
    finally:
        scheduler.stop(timeout=10)
    assert not scheduler.thread.is_alive()


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("0", False), ("1", True)])
def test_the_environment_decides_the_in_process_scheduler(monkeypatch, tmp_path, value, expected):
    from psa.config import from_environment

    if value is None:
        monkeypatch.delenv("PSA_IN_PROCESS_SCHEDULER", raising=False)
    else:
        monkeypatch.setenv("PSA_IN_PROCESS_SCHEDULER", value)
    assert from_environment(tmp_path)["PSA_IN_PROCESS_SCHEDULER"] is expected


def test_a_wrong_in_process_scheduler_value_is_refused(monkeypatch, tmp_path):
    from psa.config import ConfigError, from_environment

    monkeypatch.setenv("PSA_IN_PROCESS_SCHEDULER", "yes")
    with pytest.raises(ConfigError, match="PSA_IN_PROCESS_SCHEDULER must be 0 or 1"):
        from_environment(tmp_path)
