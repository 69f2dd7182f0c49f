"""The geometry of a project's timeline: plain numbers for templates/projects/_timeline.svg to draw.

One row per milestone with x positions of its baseline, current due date and forecast; axis ticks;
and the "today" line. Nothing here touches the database: give it the milestones (anything with
name, baseline_due_date, due_date, forecast_date, slip_days and status) and today's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

#: The drawing's coordinate system (the SVG viewBox); the page scales it to the available width.
WIDTH = 960
LEFT = 16
RIGHT = 16
TOP = 34  # room for the tick labels
ROW_HEIGHT = 48
LEGEND_HEIGHT = 40
#: A span this much longer than the plan is not stretched to reach today; the line is pinned to the edge.
MAX_STRETCH = 1.0

#: The dates the drawing can place: a date beyond them (stored before typed dates were limited to
#: 2000-2099) is drawn at the edge, so the arithmetic (padding, ticks) never leaves what `date` holds.
DRAW_FIRST = date(1900, 1, 1)
DRAW_LAST = date(2199, 12, 31)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Row:
    name: str
    status: str
    #: Top of the row; the name is written above the track, the markers sit on it.
    y: float
    label_y: float
    track_y: float
    baseline_x: float
    due_x: float
    forecast_x: float
    baseline_date: date
    due_date: date
    forecast_date: date
    slip_days: int

    @property
    def is_done(self) -> bool:
        return self.status == "done"

    @property
    def moved(self) -> bool:
        """The current due date differs from the baseline."""
        return self.due_date != self.baseline_date

    @property
    def slips(self) -> bool:
        return self.slip_days > 0 and not self.is_done


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    left: float
    right: float
    start: date
    end: date
    rows: list[Row]
    ticks: list[Tick]
    today: date
    today_x: float
    #: "before" or "after" when today lies off the chart and its line is pinned to that edge, else "".
    today_off_chart: str
    legend_y: float


def _axis_ticks(start: date, end: date, x_of) -> list[Tick]:
    """Weekly ticks (Mondays) for a short span, monthly up to about a year, quarterly up to four, then yearly."""
    span = (end - start).days
    ticks: list[Tick] = []
    if span <= 56:
        day = start + timedelta(days=(7 - start.weekday()) % 7)
        while day <= end:
            ticks.append(Tick(x_of(day), day.isoformat()))  # one date format everywhere (ISO)
            day += timedelta(days=7)
        return ticks
    step = 1 if span <= 400 else 3 if span <= 1500 else 12 * max(1, span // (365 * 12))
    year, month = start.year, start.month
    month = month + (step - (month - 1) % step) % step  # first month on the step grid (Jan, Apr, … when 3)
    day = date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    if day < start:
        day = _add_months(day, step)
    while day <= end:
        label = MONTHS[day.month - 1] + (f" {day.year}" if day.month == 1 or not ticks else "")
        ticks.append(Tick(x_of(day), label))
        day = _add_months(day, step)
    return ticks


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def build_timeline(milestones: Iterable, today: date, kickoff: date | None = None) -> Timeline | None:
    """The timeline of the given milestones (in display order), or None when there are none."""
    milestones = list(milestones)
    if not milestones:
        return None
    dates = [_drawable(kickoff)] if kickoff else []
    for m in milestones:
        dates += [_drawable(m.baseline_due_date), _drawable(m.due_date), _drawable(m.forecast_date or m.due_date)]
    start, end = min(dates), max(dates)
    today = _drawable(today)
    plan_span = max((end - start).days, 1)
    off_chart = ""
    if today < start:
        if (start - today).days <= plan_span * MAX_STRETCH:
            start = today
        else:
            off_chart = "before"
    elif today > end:
        if (today - end).days <= plan_span * MAX_STRETCH:
            end = today
        else:
            off_chart = "after"
    # a little air on both sides so markers at the ends are not cut in half
    pad = max(2, (end - start).days // 30)
    start, end = start - timedelta(days=pad), end + timedelta(days=pad)
    days = (end - start).days
    usable = WIDTH - LEFT - RIGHT

    def x_of(day: date) -> float:
        return round(LEFT + usable * (_drawable(day) - start).days / days, 1)

    rows = []
    for index, m in enumerate(milestones):
        y = TOP + index * ROW_HEIGHT
        forecast = m.forecast_date or m.due_date
        rows.append(Row(
            name=m.name, status=m.status, y=y, label_y=y + 14, track_y=y + 32,
            baseline_x=x_of(m.baseline_due_date), due_x=x_of(m.due_date), forecast_x=x_of(forecast),
            baseline_date=m.baseline_due_date, due_date=m.due_date, forecast_date=forecast,
            slip_days=m.slip_days or 0,
        ))
    if off_chart == "before":
        today_x = float(LEFT)
    elif off_chart == "after":
        today_x = float(WIDTH - RIGHT)
    else:
        today_x = x_of(today)
    legend_y = TOP + len(rows) * ROW_HEIGHT + 12
    return Timeline(
        width=WIDTH, height=int(legend_y + LEGEND_HEIGHT), left=LEFT, right=WIDTH - RIGHT, start=start, end=end,
        rows=rows, ticks=_axis_ticks(start, end, x_of), today=today, today_x=today_x,
        today_off_chart=off_chart, legend_y=legend_y,
    )


def _drawable(day: date) -> date:
    """The day, or the edge of the drawable span when it lies beyond it."""
    return min(max(day, DRAW_FIRST), DRAW_LAST)
