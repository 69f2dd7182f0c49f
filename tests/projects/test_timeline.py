"""The timeline's geometry (psa.projects.timeline): plain numbers, worked out without a database."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from psa.projects.timeline import LEFT, RIGHT, WIDTH, build_timeline


def milestone(name, baseline, due=None, forecast=None, slip=0, status="todo"):
    return SimpleNamespace(name=name, baseline_due_date=baseline, due_date=due or baseline,
                           forecast_date=forecast or due or baseline, slip_days=slip, status=status)


def test_no_milestones_give_no_timeline():
    assert build_timeline([], date(2030, 1, 1)) is None


def test_one_row_per_milestone_with_markers_in_date_order():
    timeline = build_timeline([
        milestone("Kickoff", date(2030, 1, 10)),
        milestone("Go-live", date(2030, 2, 1), due=date(2030, 2, 5), forecast=date(2030, 2, 8), slip=3),
    ], today=date(2030, 1, 20), kickoff=date(2030, 1, 7))
    assert [row.name for row in timeline.rows] == ["Kickoff", "Go-live"]
    assert timeline.rows[0].y < timeline.rows[1].y < timeline.legend_y < timeline.height
    kickoff, go_live = timeline.rows
    assert kickoff.baseline_x == kickoff.due_x == kickoff.forecast_x and not kickoff.moved and not kickoff.slips
    assert go_live.baseline_x < go_live.due_x < go_live.forecast_x and go_live.moved and go_live.slips
    assert kickoff.due_x < timeline.today_x < go_live.baseline_x and timeline.today_off_chart == ""
    for row in timeline.rows:
        for x in (row.baseline_x, row.due_x, row.forecast_x):
            assert LEFT <= x <= WIDTH - RIGHT


def test_x_is_linear_in_days():
    timeline = build_timeline([milestone("A", date(2030, 1, 1)), milestone("B", date(2030, 1, 31)),
                               milestone("C", date(2030, 3, 2))], today=date(2030, 1, 31))
    a, b, c = (row.due_x for row in timeline.rows)
    assert abs((b - a) - (c - b)) <= 0.2  # 30 days each
    assert abs(timeline.today_x - b) <= 0.1


def test_today_close_to_the_plan_stretches_the_axis_and_far_away_is_pinned_to_the_edge():
    plan = [milestone("A", date(2030, 3, 1)), milestone("B", date(2030, 4, 1))]
    near = build_timeline(plan, today=date(2030, 2, 15))
    assert near.today_off_chart == "" and near.start <= date(2030, 2, 15)
    assert near.today_x < near.rows[0].due_x
    long_before = build_timeline(plan, today=date(2029, 1, 1))
    assert (long_before.today_off_chart, long_before.today_x) == ("before", LEFT)
    long_after = build_timeline(plan, today=date(2033, 1, 1))
    assert (long_after.today_off_chart, long_after.today_x) == ("after", WIDTH - RIGHT)


def test_ticks_are_weekly_for_a_short_plan_monthly_for_a_year_quarterly_beyond():
    weeks = build_timeline([milestone("A", date(2030, 1, 7)), milestone("B", date(2030, 2, 4))],
                           today=date(2030, 1, 14))
    assert [t.label for t in weeks.ticks][:3] == ["2030-01-07", "2030-01-14", "2030-01-21"]
    months = build_timeline([milestone("A", date(2030, 1, 15)), milestone("B", date(2030, 9, 15))],
                            today=date(2030, 3, 1))
    assert [t.label for t in months.ticks] == ["Feb 2030", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep"]
    quarters = build_timeline([milestone("A", date(2030, 2, 15)), milestone("B", date(2032, 2, 15))],
                              today=date(2031, 1, 1))
    labels = [t.label for t in quarters.ticks]
    assert labels[:3] == ["Apr 2030", "Jul", "Oct"] and "Jan 2031" in labels
    assert all(a.x < b.x for a, b in zip(quarters.ticks, quarters.ticks[1:], strict=False))
