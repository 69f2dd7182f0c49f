"""The grid of a heavy user stays light: each project's tasks are in the page once (one <template> per
project, which timesheet.js copies into the rows), not once per row; the statements do not grow with rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from html.parser import HTMLParser

import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.projects.models import Milestone, Task
from tests.conftest import login_as
from tests.timesheets.conftest import MONDAY
from tests.timesheets.test_grid_routes import GridPage, _other_project

WEEK = MONDAY.isoformat()
PROJECTS = 21
TASKS_PER_PROJECT = 60


class TaskOptions(HTMLParser):
    """Task <option>s by where they are: in each project's <template>, in each row's task <select>."""

    def __init__(self, html: str):
        super().__init__()
        self.templates: dict[str, list[str]] = defaultdict(list)  # project id -> task ids
        self.template_count: dict[str, int] = defaultdict(int)
        self.rows: dict[str, list[str]] = {}  # rows-<i>-task -> option values
        self._template: str | None = None
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template" and "data-project-tasks" in a:
            self._template = a["data-project-tasks"]
            self.template_count[self._template] += 1
        elif tag == "select" and (a.get("name") or "").endswith("-task"):
            self._select = a["name"]
            self.rows[self._select] = []
        elif tag == "option" and self._template:
            self.templates[self._template].append(a.get("value", ""))
        elif tag == "option" and self._select:
            self.rows[self._select].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "template":
            self._template = None
        elif tag == "select":
            self._select = None


def _project_with_tasks(app, make, manager_id: int, members, name: str) -> tuple[int, list[int]]:
    """A project of TASKS_PER_PROJECT open tasks (one by the service, the rest inserted); (id, task ids)."""
    project_id, first_task = _other_project(app, make, manager_id, members=members, name=name)
    with app.app_context():
        milestone_id = db.session.scalar(sa.select(Milestone.id).where(Milestone.project_id == project_id))
        start = date(2026, 9, 1)
        db.session.execute(sa.insert(Task), [
            {"project_id": project_id, "milestone_id": milestone_id, "position": n, "name": f"{name} step {n}",
             "baseline_start_date": start, "baseline_due_date": start, "start_date": start, "due_date": start}
            for n in range(2, TASKS_PER_PROJECT + 1)])
        db.session.commit()
        task_ids = list(db.session.scalars(sa.select(Task.id).where(Task.project_id == project_id)
                                           .order_by(Task.id)))
    assert len(task_ids) == TASKS_PER_PROJECT and task_ids[0] == first_task
    return project_id, task_ids


def _save_rows(app, user_id: int, lines: list[tuple[int, int]]):
    from psa.timesheets import services as ts

    days = [MONDAY + timedelta(days=i) for i in range(5)]
    with app.app_context():
        user = db.session.get(User, user_id)
        ts.save_week(user, user, MONDAY, [
            ts.GridRow(project_id=p, task_id=t, billable=True,
                       cells={days[i % 5]: ts.GridCell("0:30", f"note {i}"), days[(i + 2) % 5]: ts.GridCell("1:15")})
            for i, (p, t) in enumerate(lines)])
        db.session.commit()


def _get(app, user, count_queries):
    client = app.test_client()
    login_as(client, user)
    assert client.get(f"/timesheets?week={WEEK}").status_code == 200  # warm-up
    with count_queries() as statements:
        response = client.get(f"/timesheets?week={WEEK}")
    assert response.status_code == 200
    return response.get_data(as_text=True), statements


def test_a_heavy_week_is_under_300_kb_offers_each_projects_tasks_once_and_runs_a_2_row_weeks_statements(
        app, make, staffed, count_queries):
    _, manager, *_ = staffed
    heavy, light = make.user(role="consultant"), make.user(role="consultant")
    projects = [_project_with_tasks(app, make, manager.id, members=(heavy.id, light.id), name=f"Heavy {p}")
                for p in range(PROJECTS)]
    # 30 rows: the first task of each of the 21 projects, then the second task of the first 9
    heavy_lines = [(p, tasks[0]) for p, tasks in projects] + [(p, tasks[1]) for p, tasks in projects[:9]]
    assert len(heavy_lines) == 30
    _save_rows(app, heavy.id, heavy_lines)
    _save_rows(app, light.id, heavy_lines[:2])

    heavy_html, heavy_statements = _get(app, heavy, count_queries)
    light_html, light_statements = _get(app, light, count_queries)

    assert heavy_html.count('data-testid="grid-row"') == 30 and light_html.count('data-testid="grid-row"') == 2
    size = len(heavy_html.encode())
    assert size < 300_000, f"{size} bytes"
    assert len(heavy_statements) == len(light_statements), "\n".join(
        ["30 rows:", *heavy_statements, "", "2 rows:", *light_statements])

    options = TaskOptions(heavy_html)
    # one template per project, holding all its open tasks, in order
    assert dict(options.template_count) == {str(p): 1 for p, _ in projects}
    assert dict(options.templates) == {str(p): [str(t) for t in tasks] for p, tasks in projects}
    # each row's select: "— No task —" and its saved task only (3 blank rows: "— No task —" alone)
    page = GridPage(heavy_html)
    saved = {}
    for project_id, task_id in heavy_lines:
        index = page.row_of(project_id, task_id)  # the saved task is the selected option
        saved[f"rows-{index}-task"] = ["", str(task_id)]
    assert {name: values for name, values in options.rows.items() if name in saved} == saved
    assert [values for name, values in options.rows.items() if name not in saved] == [[""]] * 3
    # so a task's <option> is in the page once, plus once in each row it is saved on
    for _, tasks in projects:
        assert heavy_html.count(f'<option value="{tasks[5]}">') == 1
    assert sum(len(values) for values in options.rows.values()) == 30 * 2 + 3
