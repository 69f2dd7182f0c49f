"""Query budgets (issue 15, acceptance 3): each report issues the same number of SQL statements with 10 and with
500 projects.

One world grows in place: 10 projects, then 500 (the HTML pages and the CSV exports: utilization, margin, forecast,
time to value, and the account view); the PDFs are measured at 10 and at 50 projects, because PDFs of more than 50
projects are built by a background job rather than in the request. Every statement of the measured request is
counted (the `count_queries` fixture); the sign-in and a first unmeasured request to each page at 10 projects (a
warm-up, so nothing the process loads once is counted; for the PDFs, the HTML page of the same report and filters,
which runs the same service call without the seconds of rendering) happen outside the count. The world is seeded
with a bulk INSERT per table (Core executemany with RETURNING), never a factory call per object.

Every project of the world feeds every report (today 2026-06-15 in the organisation's zone, UTC; period May 2026):
- one account ("Budget Holdings", the account view's), one template with a 30-day TTV target, a published version;
- a consultant for every 5 projects, with a user rate, two approved weeks, a submitted one and a draft one in May,
  and a day off (utilization's people and capacity);
- per project (billing model in turn fixed fee, time and materials with a rate card, non-billable): a milestone
  done on 2026-05-10 (30 % of the fee: fixed-fee revenue in May), the first-value milestone open and forecast
  2026-07-15 against a 2026-06-20 baseline (forecast and revenue at risk in July, open TTV), a third open one due
  2026-08-20; an open task with an estimate (assigned), an unassigned open one and a done one; two members; approved,
  submitted and draft entries with rates; a success criterion, an open escalation and a CSAT rating;
- per project two TTV snapshot rows: a cohort on the latest day (2026-06-14) and a trend day of its own.
Kickoff dates go back one day per project, so the newest project is the furthest past its TTV target and heads the
TTV page's open list (which shows 200). Each measured response is also checked to show the newest rows (the last
project's or the last consultant's name), so a constant count is not met by showing nothing.

When a count differs, the failure names the page and prints the statements that ran a different number of times.
"""

from __future__ import annotations

import io
import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from psa.auth.models import User
from psa.core import clock
from psa.extensions import db
from psa.project_templates.models import Template, TemplateVersion
from psa.projects.models import (
    Escalation,
    Milestone,
    MilestoneRating,
    Project,
    SuccessCriterion,
    Task,
    TtvSnapshot,
    project_members,
)
from psa.reports.forecast import PROJECTS_PER_PAGE
from psa.reports.margin import PER_PAGE as MARGIN_PER_PAGE
from psa.reports.ttv_report import OPEN_ROWS_SHOWN
from psa.timesheets.models import ProjectRate, TimeEntry, TimeOff, Timesheet, UserRate
from tests.conftest import login_as

TODAY = datetime(2026, 6, 15, 12, tzinfo=UTC)
MAY = "period=custom&date_from=2026-05-01&date_to=2026-05-31"
PROJECTS_PER_CONSULTANT = 5
#: Monday of each May week the consultants log time in, and the week's state.
WEEKS = ((date(2026, 5, 4), "approved"), (date(2026, 5, 11), "approved"), (date(2026, 5, 18), "submitted"),
         (date(2026, 5, 25), "draft"))
MODELS = ("fixed_fee", "time_and_materials", "non_billable")
LATEST_SNAPSHOT = date(2026, 6, 14)


def project_name(index: int) -> str:
    """The name of project number index + 1 ("Budget project 500" for the 500th)."""
    return f"Budget project {index + 1:03d}"


def consultant_name(index: int) -> str:
    return f"Consultant {index + 1:03d}"


def _insert(model, rows: list[dict]) -> list[int]:
    """One bulk INSERT … RETURNING id of the model's table (Core: batched whatever the None values; the ORM's
    bulk insert would split the rows at each change of their None columns), the ids in the order of `rows`.
    Keys are column names."""
    if not rows:
        return []
    table = model.__table__
    return list(db.session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
                .scalars())


class World:
    """The growing world; `grow(n)` adds what takes it to n projects, in bulk inserts, and commits."""

    def __init__(self, app, make):
        self.app = app
        self.leader = make.user(role="leader", name="Lee Leader")
        self.manager = make.user(role="manager", name="Mia Manager")
        self.account = make.account(name="Budget Holdings", segment="mid")
        self.contact = make.contact(self.account, name="Carla Customer")
        self.projects = 0
        self.consultants: list[int] = []
        #: (consultant id, Monday) → the week's timesheet id.
        self.sheets: dict[tuple[int, date], int] = {}
        with app.app_context():
            template = Template(name="Budget onboarding", target_ttv_days=30)
            db.session.add(template)
            db.session.flush()
            version = TemplateVersion(template_id=template.id, number=1, state="published", target_ttv_days=30)
            db.session.add(version)
            db.session.commit()
            self.template_id, self.version_id = template.id, version.id

    def _add_consultants(self, upto: int) -> None:
        """Consultants until there is one for every PROJECTS_PER_CONSULTANT projects, with rates, weeks, time off."""
        first = len(self.consultants)
        wanted = -(-upto // PROJECTS_PER_CONSULTANT)
        new = list(range(first, wanted))
        if not new:
            return
        ids = _insert(User, [dict(email=f"budget-consultant-{k + 1}@example.com", name=consultant_name(k),
                                  role="consultant", timezone="UTC", weekly_capacity_hours=Decimal("40"),
                                  is_active=True, approver_id=self.manager.id) for k in new])
        self.consultants.extend(ids)
        _insert(UserRate, [dict(user_id=uid, effective_from=date(2026, 1, 1), cost_rate=Decimal("60.00"),
                                bill_rate=Decimal("120.00")) for uid in ids])
        sheets = _insert(Timesheet, [dict(user_id=uid, week_start=monday, state=state)
                                     for uid in ids for monday, state in WEEKS])
        for n, uid in enumerate(ids):
            for w, (monday, _state) in enumerate(WEEKS):
                self.sheets[(uid, monday)] = sheets[n * len(WEEKS) + w]
        _insert(TimeOff, [dict(user_id=uid, timesheet_id=self.sheets[(uid, date(2026, 5, 11))],
                               entry_date=date(2026, 5, 15), kind="vacation", minutes=240, note="")
                          for uid in ids])

    def grow(self, upto: int) -> None:
        with self.app.app_context():
            self._add_consultants(upto)
            self._add_projects(upto)
            db.session.commit()

    def _add_projects(self, upto: int) -> None:
        indexes = list(range(self.projects, upto))
        if not indexes:
            return
        fee = {"fixed_fee": Decimal("10000.00"), "time_and_materials": Decimal("50000.00"), "non_billable": None}
        project_ids = _insert(Project, [dict(
            account_id=self.account.id, template_version_id=self.version_id, name=project_name(i),
            kickoff_date=date(2026, 4, 1) - timedelta(days=i), manager_id=self.manager.id,
            billing_model=MODELS[i % 3], fee_amount=fee[MODELS[i % 3]], status="active",
            health=("green", "amber", "red")[i % 3], progress_percent=i % 100, max_slip_days=i % 7,
            schedule_refreshed_on=TODAY.date()) for i in indexes])
        consultant = {i: self.consultants[i // PROJECTS_PER_CONSULTANT] for i in indexes}
        pid = dict(zip(indexes, project_ids, strict=True))

        # milestones: done in May (30 %), first value open and slipped (30 %), open in August (40 %)
        milestone_rows = []
        for i in indexes:
            milestone_rows += [
                dict(project_id=pid[i], position=0, name="Kickoff", baseline_due_date=date(2026, 5, 8),
                     due_date=date(2026, 5, 8), forecast_date=date(2026, 5, 8), status="done",
                     completed_at=datetime(2026, 5, 10, 10, tzinfo=UTC), is_first_value=False,
                     fee_share_percent=Decimal("30.00"), slip_days=0),
                dict(project_id=pid[i], position=1, name="Go-live", baseline_due_date=date(2026, 6, 20),
                     due_date=date(2026, 6, 20), forecast_date=date(2026, 7, 15), status="in_progress",
                     completed_at=None, is_first_value=True, fee_share_percent=Decimal("30.00"), slip_days=17),
                dict(project_id=pid[i], position=2, name="Adoption", baseline_due_date=date(2026, 8, 20),
                     due_date=date(2026, 8, 20), forecast_date=date(2026, 8, 20), status="todo",
                     completed_at=None, is_first_value=False, fee_share_percent=Decimal("40.00"), slip_days=0)]
        milestone_ids = _insert(Milestone, milestone_rows)
        kickoff, golive, adoption = ({i: milestone_ids[3 * n + k] for n, i in enumerate(indexes)} for k in range(3))

        def task(i, milestone, position, name, hours, due, forecast, baseline, status, assignee):
            return dict(project_id=pid[i], milestone_id=milestone, position=position, name=name,
                        baseline_start_date=date(2026, 4, 1), baseline_due_date=baseline,
                        start_date=date(2026, 4, 1), due_date=due, forecast_date=forecast,
                        estimated_minutes=hours * 60, assignee_role="consultant", assignee_id=assignee,
                        status=status,
                        completed_at=datetime(2026, 5, 9, 10, tzinfo=UTC) if status == "done" else None)

        task_rows = []
        for i in indexes:
            task_rows += [
                task(i, kickoff[i], 0, "Kickoff call", 8, date(2026, 5, 8), date(2026, 5, 8), date(2026, 5, 8),
                     "done", consultant[i]),
                task(i, golive[i], 1, "Configure", 16, date(2026, 6, 20), date(2026, 7, 15), date(2026, 6, 20),
                     "in_progress", consultant[i]),
                task(i, adoption[i], 2, "Train users", 8, date(2026, 8, 20), date(2026, 8, 20), date(2026, 8, 20),
                     "todo", None)]
        task_ids = _insert(Task, task_rows)
        done_task, open_task = ({i: task_ids[3 * n + k] for n, i in enumerate(indexes)} for k in range(2))

        db.session.execute(project_members.insert(), [
            dict(project_id=pid[i], user_id=user) for i in indexes for user in (consultant[i], self.manager.id)])
        _insert(ProjectRate, [dict(project_id=pid[i], role="consultant", user_id=None, bill_rate=Decimal("100.00"))
                              for i in indexes if MODELS[i % 3] == "time_and_materials"])

        entry_rows = []
        for i in indexes:
            user, billable = consultant[i], MODELS[i % 3] != "non_billable"
            for (monday, _state), hours, task_id in zip(WEEKS, (4, 2, 1, 1),
                                                        (open_task[i], done_task[i], open_task[i], None),
                                                        strict=True):
                entry_rows.append(dict(user_id=user, project_id=pid[i], task_id=task_id,
                                       timesheet_id=self.sheets[(user, monday)],
                                       entry_date=monday + timedelta(days=i % PROJECTS_PER_CONSULTANT),
                                       minutes=hours * 60, billable=billable, note="", activity="",
                                       bill_rate=Decimal("120.00") if billable else Decimal("0.00"),
                                       cost_rate=Decimal("60.00")))
        _insert(TimeEntry, entry_rows)

        _insert(SuccessCriterion, [dict(project_id=pid[i], position=0, outcome=f"Outcome of {project_name(i)}",
                                        metric="Active users", baseline="0", target="100", current_value=str(i),
                                        due_date=date(2026, 9, 30), status="on_track") for i in indexes])
        _insert(Escalation, [dict(project_id=pid[i], milestone_id=golive[i], level=1 + i % 3,
                                  reason="forecast_slip", slip_days=17, notified_level=0,
                                  acknowledgement_note="") for i in indexes])
        _insert(MilestoneRating, [dict(milestone_id=kickoff[i], contact_id=self.contact.id, project_id=pid[i],
                                       score=1 + i % 5, comment="") for i in indexes])
        # a cohort row on the latest snapshot day and a trend day of its own, per project
        _insert(TtvSnapshot, [dict(taken_on=day, template_key=self.template_id, template_name="Budget onboarding",
                                   segment="mid", kickoff_quarter=f"{2000 + i // 4}-Q{i % 4 + 1}",
                                   project_count=1 + i % 4, median_days=Decimal(20 + i % 30),
                                   p75_days=Decimal(25 + i % 30), mean_days=Decimal(22 + i % 30),
                                   within_target_share=Decimal("0.5000"))
                              for i in indexes for day in (LATEST_SNAPSHOT, date(2024, 1, 1) + timedelta(days=i))])
        self.projects = upto


def _pages(world: World) -> dict[str, str]:
    account = f"/accounts/{world.account.id}"
    return {"utilization": f"/reports/utilization?{MAY}", "utilization.csv": f"/reports/utilization.csv?{MAY}",
            "margin": f"/reports/margin?{MAY}&projects_page=1000", "margin.csv": f"/reports/margin.csv?{MAY}",
            "forecast": "/reports/forecast?page=1000", "forecast.csv": "/reports/forecast.csv",  # its last page
            "ttv": "/reports/ttv", "ttv.csv": "/reports/ttv.csv", "account view": account}


PDFS = {"margin.pdf": f"/reports/margin.pdf?{MAY}", "utilization.pdf": f"/reports/utilization.pdf?{MAY}"}


class PdfText:
    """A PDF's text, read page by page from the last (where the newest rows are) only as far as needed: pypdf
    takes seconds for a report of 50 projects."""

    def __init__(self, data: bytes):
        assert data.startswith(b"%PDF-")
        self.pages = PdfReader(io.BytesIO(data)).pages

    def __contains__(self, text: str) -> bool:
        return any(text in re.sub(r"\s+", " ", page.extract_text()) for page in reversed(self.pages))


@pytest.fixture(autouse=True)
def _computed(app, monkeypatch):
    """Every request computes its report (psa.core.report_cache would serve the 10-project world's page again)."""
    monkeypatch.setitem(app.config, "REPORT_CACHE", False)


def _measure(client, count_queries, pages: dict[str, str]) -> tuple[dict[str, list[str]], dict]:
    """Each page's statements and text (the response body, or the PDF's text)."""
    statements, texts = {}, {}
    for name, path in pages.items():
        with clock.frozen(TODAY), count_queries() as ran:
            response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        statements[name] = list(ran)
        texts[name] = PdfText(response.get_data()) if response.mimetype == "application/pdf" \
            else response.get_data(as_text=True)
    return statements, texts


def _check_rows(texts: dict, world: World) -> None:
    """The newest rows are on each page: the last project's name (the last consultant's for utilization)."""
    newest_project, newest_person = project_name(world.projects - 1), consultant_name(len(world.consultants) - 1)
    for name, text in texts.items():
        expected = newest_person if name.startswith("utilization") else newest_project
        assert expected in text, f"{name} at {world.projects} projects does not show {expected!r}"
    if "margin" in texts:
        # the last page of projects (a page past the last shows the last), where the newest one is
        assert texts["margin"].count("<tr data-project-id=") == (world.projects - 1) % MARGIN_PER_PAGE + 1
        assert texts["account view"].count('data-testid="project-row"') == world.projects
        assert texts["account view"].count('data-testid="escalation-row"') == world.projects
        billable = sum(1 for i in range(world.projects) if MODELS[i % 3] != "non_billable")
        assert texts["forecast"].count("<tr data-project-id=") == (billable - 1) % PROJECTS_PER_PAGE + 1
        assert texts["ttv"].count("<tr data-cohort=") == world.projects
        assert texts["ttv"].count("<tr data-project-id=") == min(OPEN_ROWS_SHOWN, world.projects)
        assert texts["ttv.csv"].count("\r\nopen,") == world.projects


def _normalise(statement: str) -> str:
    """A statement with its whitespace collapsed and an expanded IN list of any length written (…)."""
    statement = re.sub(r"\s+", " ", statement).strip()
    return re.sub(r"(\?|%\(\w+\)s|\$\d+)(\s*,\s*(\?|%\(\w+\)s|\$\d+))+", "…", statement)


def _differences(small: dict[str, list[str]], large: dict[str, list[str]], sizes: tuple[int, int]) -> str:
    """For each page whose count differs: both counts and the statements run a different number of times."""
    lines = []
    for name in small:
        if len(small[name]) == len(large[name]):
            continue
        lines.append(f"{name}: {len(small[name])} statements at {sizes[0]} projects, "
                     f"{len(large[name])} at {sizes[1]}")
        before, after = Counter(map(_normalise, small[name])), Counter(map(_normalise, large[name]))
        for statement in sorted(set(before) | set(after)):
            if before[statement] != after[statement]:
                lines.append(f"  {before[statement]} → {after[statement]} times: {statement[:600]}")
    return "\n".join(lines)


def test_every_report_issues_as_many_statements_at_500_projects_as_at_10(app, client, make, count_queries):
    world = World(app, make)
    login_as(client, world.leader)
    pages = _pages(world)
    world.grow(10)
    with clock.frozen(TODAY):
        for path in pages.values():  # warm-up: what the process loads once is not the page's budget
            assert client.get(path).status_code == 200
    small, texts = _measure(client, count_queries, pages)
    _check_rows(texts, world)

    started = time.monotonic()
    world.grow(500)
    seeded = time.monotonic()
    large, texts = _measure(client, count_queries, pages)
    _check_rows(texts, world)
    print(f"\n[{app.config['BACKEND']}] statements per request, 10 → 500 projects "
          f"(seeding 490 projects {seeded - started:.1f} s, the pages at 500 {time.monotonic() - seeded:.1f} s):")
    for name in pages:
        print(f"  {name}: {len(small[name])} → {len(large[name])}")
    problems = _differences(small, large, (10, 500))
    assert not problems, "statement counts grow with the number of projects:\n" + problems


def test_the_pdfs_issue_as_many_statements_at_50_projects_as_at_10(app, client, make, count_queries):
    """Measured at 10 and 50 projects, not 500: a PDF of more than 50 projects is built by a background job."""
    world = World(app, make)
    login_as(client, world.leader)
    world.grow(10)
    with clock.frozen(TODAY):
        for path in PDFS.values():  # warm-up through the HTML pages: the same filters and service call, no PDF
            assert client.get(path.replace(".pdf", "")).status_code == 200
    small, texts = _measure(client, count_queries, PDFS)
    _check_rows(texts, world)

    world.grow(50)
    large, texts = _measure(client, count_queries, PDFS)
    _check_rows(texts, world)
    print(f"\n[{app.config['BACKEND']}] PDF statements per request, 10 → 50 projects:")
    for name in PDFS:
        print(f"  {name}: {len(small[name])} → {len(large[name])}")
    problems = _differences(small, large, (10, 50))
    assert not problems, "statement counts grow with the number of projects:\n" + problems
