"""Each role's first screen at / (issue 12): a manager, leader or admin sees what needs a decision (projects by
health with the reason, weeks waiting for their approval, blocked tasks, the customer's overdue tasks), each block
a count, its first rows linked, a link to the full list and an empty state; a consultant sees their open tasks
(overdue first) and their week (hours logged against the week's capacity). The full task lists at /tasks. The page
runs as many SQL statements for 20 rows of every block as for 2, for every role."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.auth.models import ROLES, User
from psa.core.clock import user_today
from psa.extensions import db
from psa.projects.models import HEALTH_LABELS, Task
from psa.timesheets.models import TimeEntry, TimeOff, Timesheet
from psa.timesheets.services import can_approve, can_approve_clause, week_start
from tests.conftest import login_as
from tests.dashboard.test_portfolio import add_milestone, add_project, page, section, today

_seq = itertools.count(1)


def add_task(project_id: int, milestone_id: int, *, due, name: str | None = None, status: str = "todo",
             assignee_id: int | None = None, assignee_role: str = "consultant", reason: str | None = None) -> int:
    task = Task(project_id=project_id, milestone_id=milestone_id, position=next(_seq),
                name=name or f"Task {next(_seq)}", baseline_start_date=due, baseline_due_date=due, start_date=due,
                due_date=due, status=status, assignee_id=assignee_id, assignee_role=assignee_role,
                blocked_reason=reason, forecast_date=due)
    db.session.add(task)
    db.session.flush()
    return task.id


def add_week(user_id: int, monday, *, state: str = "submitted", project_id: int | None = None,
             minutes: int = 0, off: int = 0) -> int:
    """A week of the user's in `state`, with `minutes` logged from its Monday (on `project_id`, 10 hours a day at
    most) and `off` minutes of time off on its Tuesday."""
    sheet = Timesheet(user_id=user_id, week_start=monday, state=state)
    db.session.add(sheet)
    db.session.flush()
    for day in range(7):  # at most 10 hours a day
        part = min(minutes - day * 600, 600)
        if part > 0:
            db.session.add(TimeEntry(user_id=user_id, project_id=project_id, timesheet_id=sheet.id,
                                     entry_date=monday + timedelta(days=day), minutes=part,
                                     bill_rate=Decimal("100"), cost_rate=Decimal("50")))
    if off:
        db.session.add(TimeOff(user_id=user_id, timesheet_id=sheet.id, entry_date=monday + timedelta(days=1),
                               kind="vacation", minutes=off))
    db.session.flush()
    return sheet.id


def rows(html: str, testid: str) -> list[str]:
    return re.findall(rf'<li class="list-group-item psa-block-row[^"]*" data-testid="{testid}">(.*?)</li>', html, re.S)


def count(html: str, key: str) -> int:
    return int(re.search(rf'data-testid="{key}-count"[^>]*>(\d+)<', html).group(1))


def block(html: str, key: str) -> str:
    start = html.index(f'data-testid="block-{key}"')
    return html[start:html.index("</section>", start)]


# --- the approval rule, as SQL ---------------------------------------------------------------------------


def test_the_approval_clause_answers_as_can_approve_for_every_pair_of_roles(app, make):
    """can_approve_clause (the dashboard's query) and can_approve (every approval) agree on every pair."""
    people = [make.user(role=role) for role in ROLES for _ in range(2)]
    managers = [u for u in people if u.role == "manager"]
    with app.app_context():
        for i, person in enumerate(people):  # some approved by the first manager, some by the second, some by none
            db.session.get(User, person.id).approver_id = (managers[i % 2].id if i % 3 else None)
        db.session.commit()
        users = db.session.scalars(sa.select(User).where(User.id.in_([u.id for u in people]))).all()
        for actor in users:
            allowed = set(db.session.scalars(sa.select(User.id).where(
                User.id.in_([u.id for u in users]), can_approve_clause(actor, User))))
            expected = {owner.id for owner in users if can_approve(actor, owner)}
            assert allowed == expected, actor.role


# --- a leader's, a manager's, an admin's first screen ----------------------------------------------------------


@pytest.fixture
def world(app, make):
    """A leader, a manager approving one consultant, another manager approving another; projects of every health;
    submitted, draft and approved weeks; blocked, customer and other tasks."""
    leader = make.user(role="leader", name="Lea Leader")
    manager = make.user(role="manager", name="Mo Manager")
    other_manager = make.user(role="manager", name="Olga Other")
    mine = make.user(role="consultant", name="Carla Approved-by-Mo")
    theirs = make.user(role="consultant", name="Theo Approved-by-Olga")
    account = make.account(name="Acme Corp")
    day = today(app)
    monday = week_start(day) - timedelta(days=7)
    with app.app_context():
        db.session.get(User, mine.id).approver_id = manager.id
        db.session.get(User, theirs.id).approver_id = other_manager.id
        red = add_project(manager_id=manager.id, account_id=account.id, members=(mine.id,), today=day,
                          name="Red rollout", health="red", max_slip_days=8,
                          health_reason="Build is overdue by 8 working days")
        build = add_milestone(red, due=day - timedelta(days=10), name="Build")
        db.session.execute(sa.text("UPDATE projects SET health_milestone_id = :m WHERE id = :p"),
                           {"m": build, "p": red})
        amber = add_project(manager_id=manager.id, account_id=account.id, today=day, name="Amber upgrade",
                            health="amber", health_reason="Budget 85% used")
        add_project(manager_id=manager.id, account_id=account.id, today=day, name="Green pilot", health="green")
        hidden = add_project(manager_id=other_manager.id, account_id=account.id, today=day, name="Olga's red",
                             health="red", health_reason="Go-live at risk")
        closed = add_project(manager_id=manager.id, account_id=account.id, today=day, status="completed",
                             name="Closed one", health="red")
        m_red, m_hidden, m_closed = (add_milestone(p, due=day + timedelta(days=30)) for p in (red, hidden, closed))
        add_task(red, m_red, due=day, name="Waiting on SSO", status="blocked", reason="Customer IT has not replied")
        add_task(hidden, m_hidden, due=day, name="Olga's blocked task", status="blocked", reason="Vendor")
        add_task(closed, m_closed, due=day, name="Blocked but closed", status="blocked", reason="Old")
        add_task(red, m_red, due=day - timedelta(days=3), name="Send the data export", assignee_role="customer")
        add_task(red, m_red, due=day, name="Customer task due today", assignee_role="customer")
        add_task(red, m_red, due=day - timedelta(days=5), name="Customer task done", assignee_role="customer",
                 status="done")
        add_task(red, m_red, due=day - timedelta(days=5), name="Internal task overdue")
        add_task(hidden, m_hidden, due=day - timedelta(days=2), name="Olga's customer task", assignee_role="customer")
        add_week(mine.id, monday, project_id=red, minutes=38 * 60)
        add_week(theirs.id, monday, project_id=hidden, minutes=20 * 60)
        add_week(mine.id, monday - timedelta(days=7), state="approved", project_id=red, minutes=60)
        add_week(theirs.id, monday - timedelta(days=7), state="draft", project_id=hidden, minutes=60)
        add_week(leader.id, monday, project_id=red, minutes=60)  # a leader does not approve their own week
        db.session.commit()
    return {"leader": leader, "manager": manager, "mine": mine, "theirs": theirs, "red": red, "amber": amber,
            "build": build, "monday": monday}


def test_a_leader_leads_with_what_needs_a_decision(app, client, world):
    login_as(client, world["leader"])
    html = page(client)
    decisions = section(html, "decide-heading")
    assert html.index('data-testid="decisions"') < html.index('id="portfolio-heading"')  # first on the screen

    health = block(html, "health")
    assert count(health, "health") == 3  # two red, one amber of the open projects
    assert [re.search(r'>([^<]+)</a>', r).group(1) for r in rows(health, "attention-project")] == [
        "Red rollout", "Olga&#39;s red", "Amber upgrade"]  # worst first, most slip first
    red = rows(health, "attention-project")[0]
    assert "Off track" in red and "+8 working days late" in red
    assert (f'href="/projects/{world["red"]}#milestone-{world["build"]}">Build is overdue by 8 working days</a>'
            in red)
    assert "Budget 85% used" in rows(health, "attention-project")[2]
    assert 'href="/?sort=-health&amp;page=1#portfolio-heading"' in health  # the full list: the portfolio

    weeks = block(html, "weeks")
    assert count(weeks, "weeks") == 2  # both consultants' submitted weeks, not the leader's own
    owners = [re.search(r'">([^<]+)</a>', r).group(1) for r in rows(weeks, "week-to-approve")]
    assert owners == ["Carla Approved-by-Mo", "Theo Approved-by-Olga"]
    assert "38:00 h" in rows(weeks, "week-to-approve")[0]
    assert f"Week of {world['monday'].isoformat()}" in weeks
    assert 'href="/timesheets/approvals" data-testid="weeks-all"' in weeks

    blocked = block(html, "blocked")
    assert count(blocked, "blocked") == 2  # not the one of a completed project
    assert "Waiting on SSO" in blocked and "Customer IT has not replied" in blocked and "Blocked but closed" not in blocked
    assert re.search(rf'href="/projects/{world["red"]}#task-\d+">Waiting on SSO</a>', blocked)
    assert 'href="/tasks?show=blocked" data-testid="blocked-all"' in blocked

    customer = block(html, "customer")
    assert count(customer, "customer") == 2
    names = [re.search(r'#task-\d+">([^<]+)</a>', r).group(1) for r in rows(customer, "customer-task")]
    assert names == ["Send the data export", "Olga&#39;s customer task"]  # oldest due first
    assert "3 days overdue" in customer and "Overdue" in customer
    assert 'href="/tasks?show=customer_overdue" data-testid="customer-all"' in customer
    assert "My week" not in decisions


def test_a_manager_sees_the_weeks_they_approve_and_the_tasks_of_their_projects(app, client, world):
    login_as(client, world["manager"])
    html = page(client)
    weeks = block(html, "weeks")
    assert count(weeks, "weeks") == 1
    assert "Carla Approved-by-Mo" in weeks and "Theo" not in weeks
    assert count(html, "health") == 2  # the projects Mo sees: red and amber
    assert "Olga" not in block(html, "health") and "Olga" not in block(html, "blocked")
    assert count(html, "blocked") == 1 and count(html, "customer") == 1
    assert 'data-testid="block-my-tasks"' in html  # their own tasks, lower down
    assert html.index('data-testid="decisions"') < html.index('data-testid="block-my-tasks"')


def test_an_admin_may_approve_their_own_week(app, client, make, world):
    admin = make.user(role="admin")
    with app.app_context():
        add_week(admin.id, world["monday"], project_id=world["red"], minutes=30)
        db.session.commit()
    login_as(client, admin)
    weeks = block(page(client), "weeks")
    assert count(weeks, "weeks") == 4  # both consultants', the leader's and the admin's own


def test_each_decision_block_has_an_empty_state(app, client, make):
    leader = make.user(role="leader")
    login_as(client, leader)
    html = page(client)
    assert 'data-testid="health-empty">No projects yet<' in html
    assert 'data-testid="weeks-empty">Nothing waiting for approval<' in html
    assert 'data-testid="blocked-empty">No blocked tasks<' in html
    assert 'data-testid="customer-empty">No customer task is overdue<' in html
    assert all(count(html, key) == 0 for key in ("health", "weeks", "blocked", "customer"))
    assert 'href="/timesheets/approvals"' in html  # the full lists stay one click away
    day = today(app)
    with app.app_context():
        add_project(manager_id=leader.id, account_id=make.account().id, today=day, health="green")
        db.session.commit()
    assert 'data-testid="health-empty">Every project is on track<' in page(client)


def test_the_dashboard_speaks_the_health_vocabulary(app, client, world):
    login_as(client, world["leader"])
    html = page(client)
    for label in HEALTH_LABELS.values():
        assert label in html
    text = re.sub(r"<[^>]+>", " ", html)
    for name in ("Red rollout", "Amber upgrade", "Green pilot"):  # the fixture's project names
        text = text.replace(name, "")
    assert not re.search(r"\b(Green|Amber|Red|green|amber)\b", text)


# --- a consultant's first screen ---------------------------------------------------------------------------


def test_a_consultant_leads_with_their_tasks_and_their_week(app, client, make):
    me = make.user(role="consultant", name="Cleo", weekly_capacity_hours=Decimal("32"))
    manager = make.user(role="manager")
    day = today(app)
    with app.app_context():
        monday = week_start(user_today(db.session.get(User, me.id)))
        p = add_project(manager_id=manager.id, account_id=make.account().id, members=(me.id,), today=day, name="Work")
        m = add_milestone(p, due=day + timedelta(days=30), name="Build")
        add_task(p, m, due=day + timedelta(days=4), name="Later", assignee_id=me.id)
        add_task(p, m, due=day - timedelta(days=6), name="Long overdue", assignee_id=me.id, status="in_progress")
        add_task(p, m, due=day, name="Due today", assignee_id=me.id)
        add_task(p, m, due=day - timedelta(days=9), name="Done already", assignee_id=me.id, status="done")
        add_week(me.id, monday, state="draft", project_id=p, minutes=12 * 60 + 30, off=8 * 60)
        add_week(me.id, monday - timedelta(days=7), state="submitted", project_id=p, minutes=40 * 60)
        db.session.commit()
    login_as(client, me)
    html = page(client)
    assert 'data-testid="decisions"' not in html and "Weeks waiting" not in html
    assert html.index('data-testid="my-work"') < html.index('id="portfolio-heading"')

    tasks = block(html, "my-tasks")
    names = [re.search(r'#task-\d+">([^<]+)</a>', r).group(1) for r in rows(tasks, "my-task")]
    assert names == ["Long overdue", "Due today", "Later"]  # overdue first
    assert "Overdue" in rows(tasks, "my-task")[0] and "In progress" in rows(tasks, "my-task")[0]
    assert count(tasks, "my-tasks") == 3
    assert 'href="/tasks?show=mine" data-testid="my-tasks-all"' in tasks

    week = block(html, "week")
    assert 'data-testid="week-logged">12:30<' in week
    assert 'data-testid="week-capacity">24:00<' in week  # 32 h less 8 h time off
    assert 'data-testid="week-off">8:00<' in week
    assert 'data-testid="week-state">Draft<' in week
    assert 'href="/timesheets" data-testid="week-grid">Fill in this week<' in week
    assert 'aria-valuenow="52"' in week  # 12.5 of 24 hours
    assert 'data-testid="account-tile"' not in html and "customer accounts" not in html


def test_a_consultant_with_nothing_sees_empty_states(app, client, make):
    login_as(client, make.user(role="consultant"))
    html = page(client)
    assert 'data-testid="my-tasks-empty">No open tasks assigned to you<' in html
    assert 'data-testid="my-tasks-all"' not in html  # no list to open
    week = block(html, "week")
    assert 'data-testid="week-logged">0:00<' in week and 'data-testid="week-capacity">40:00<' in week
    assert 'data-testid="week-state">Draft<' in week and 'data-testid="week-off"' not in week


@pytest.mark.parametrize("role", ["admin", "leader", "manager"])
def test_the_customer_accounts_tile_links_to_the_accounts_list(app, client, make, role):
    make.account()
    login_as(client, make.user(role=role))
    html = page(client)
    assert re.search(r'<a class="[^"]*" href="/admin/accounts" data-testid="account-tile"><span '
                     r'data-testid="account-count">\d+</span> customer accounts?</a>', html)


# --- the portfolio at phone width: filters behind one button, the sort offered in the form ---------------------


def test_filters_fold_behind_one_button_on_a_phone(app, client, make):
    admin = make.user(role="admin")
    with app.app_context():
        add_project(manager_id=admin.id, account_id=make.account().id, today=today(app))
        db.session.commit()
    login_as(client, admin)
    html = page(client, "/?health=green&segment=mid")
    assert re.search(r'<button class="[^"]*d-sm-none[^"]*" type="button" data-bs-toggle="collapse" '
                     r'data-bs-target="#portfolio-filters"', html)
    assert "Filters and sort · 2 active" in html
    assert '<div class="collapse d-sm-block" id="portfolio-filters">' in html
    assert '<select class="form-select form-select-sm" id="f-sort" name="sort">' in html
    assert '<option value="-health" selected>Worst health first</option>' in html
    html = page(client, "/?sort=-manager")
    assert '<option value="-manager" selected>As chosen (manager, descending)</option>' in html
    # the row leads with the project, then health, progress and slip; the rest folds away on a phone
    row = re.search(r'<tr data-testid="project-row">(.*?)</tr>', html, re.S).group(1)
    classes = re.findall(r'<td class="([^"]+)"', row)
    assert [c.split()[0] for c in classes] == ["psa-col-project", "psa-col-health", "psa-col-progress",
                                               "psa-col-slip", "psa-col-more", "psa-col-more", "psa-col-more",
                                               "psa-col-more"]


# --- the full task lists --------------------------------------------------------------------------------------


def test_the_full_task_lists(app, client, world, make):
    login_as(client, world["manager"])
    html = page(client, "/tasks?show=blocked")
    assert "<h1 class=\"h3 mb-0\">Blocked tasks</h1>" in html
    assert html.count('data-testid="task-list-row"') == 1
    assert "Waiting on SSO" in html and "Customer IT has not replied" in html and "Olga" not in html
    html = page(client, "/tasks?show=customer_overdue")
    assert html.count('data-testid="task-list-row"') == 1 and "Send the data export" in html
    html = page(client, "/tasks?show=nonsense")
    assert "<h1 class=\"h3 mb-0\">My open tasks</h1>" in html and "No open tasks assigned to you" in html
    consultant = make.user(role="consultant")
    other = app.test_client()
    login_as(other, consultant)
    assert "No blocked tasks" in page(other, "/tasks?show=blocked")  # only projects they see


def test_the_task_list_pages_25_at_a_time(app, client, make):
    leader = make.user(role="leader")
    day = today(app)
    with app.app_context():
        p = add_project(manager_id=leader.id, account_id=make.account().id, today=day)
        m = add_milestone(p, due=day)
        for i in range(30):
            add_task(p, m, due=day + timedelta(days=i), name=f"Blocked {i:02d}", status="blocked", reason="x")
        db.session.commit()
    login_as(client, leader)
    first = page(client, "/tasks?show=blocked")
    assert first.count('data-testid="task-list-row"') == 25 and "1–25 of 30" in first
    assert 'href="/tasks?show=blocked&amp;page=2"' in first
    assert page(client, "/tasks?show=blocked&page=2").count('data-testid="task-list-row"') == 5
    html = page(client)
    assert count(html, "blocked") == 30 and len(rows(html, "blocked-task")) == 5


# --- the query budget -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["leader", "manager", "consultant"])
def test_the_first_screen_runs_as_many_statements_for_20_rows_as_for_2(app, client, make, count_queries, role):
    """Every block at 2 and at 20 rows (projects off track, weeks to approve, blocked and customer tasks, the
    user's own tasks and time): the same statements."""
    viewer = make.user(role=role)
    manager = viewer if role == "manager" else make.user(role="manager")
    day = today(app)
    with app.app_context():
        monday = week_start(user_today(db.session.get(User, viewer.id)))

    def add(n: int) -> None:
        with app.app_context():
            for _ in range(n):
                account = Account(name=f"Budget account {next(_seq)}", segment="mid", arr=Decimal("1"))
                db.session.add(account)
                db.session.flush()
                owner = User(email=f"first{next(_seq)}@example.com", name=f"Owner {next(_seq)}", role="consultant",
                             approver_id=manager.id, weekly_capacity_hours=Decimal("40"))
                db.session.add(owner)
                db.session.flush()
                pid = add_project(manager_id=manager.id, account_id=account.id, members=(viewer.id,), today=day,
                                  health=("red", "amber")[next(_seq) % 2], health_reason="Late",
                                  max_slip_days=next(_seq) % 9)
                m = add_milestone(pid, due=day + timedelta(days=3))
                add_task(pid, m, due=day, status="blocked", reason="Waiting")
                add_task(pid, m, due=day - timedelta(days=2), assignee_role="customer")
                add_task(pid, m, due=day - timedelta(days=1), assignee_id=viewer.id)
                add_week(owner.id, monday - timedelta(days=7), project_id=pid, minutes=120)
                existing = db.session.scalar(sa.select(Timesheet.id).where(
                    Timesheet.user_id == viewer.id, Timesheet.week_start == monday))
                if existing is None:
                    existing = add_week(viewer.id, monday, state="draft")
                db.session.add(TimeEntry(user_id=viewer.id, project_id=pid, timesheet_id=existing, entry_date=monday,
                                         minutes=30))
            db.session.commit()

    login_as(client, viewer)
    add(2)
    assert client.get("/").status_code == 200  # warm-up: nothing first-request-only is counted
    with count_queries() as few:
        small = page(client)
    add(18)
    with count_queries() as many:
        large = page(client)
    assert count(small, "my-tasks") == 2 and count(large, "my-tasks") == 20
    if role == "consultant":
        assert 'data-testid="week-logged">10:00<' in large
    else:
        assert count(small, "health") == 2 and count(large, "health") == 20
        assert count(small, "blocked") == 2 and count(large, "blocked") == 20
        assert count(small, "customer") == 2 and count(large, "customer") == 20
        assert len(rows(large, "blocked-task")) == 5 and len(rows(large, "attention-project")) == 5
        assert count(large, "weeks") == 20
    assert len(few) == len(many), "\n".join(["with 2 rows:", *few, "", "with 20 rows:", *many])
    with count_queries() as listing:
        page(client, "/tasks?show=mine")
    assert len(listing) <= len(few)


def test_a_holiday_in_the_week_lowers_the_consultants_capacity(app, client, make):
    """The week's capacity is the utilization report's: working days (a holiday excluded) × weekly ÷ 5, less time
    off — 40 h a week with a holiday on this week's Wednesday is 32 h."""
    me = make.user(role="consultant", weekly_capacity_hours=Decimal("40"))
    with app.app_context():
        monday = week_start(user_today(db.session.get(User, me.id)))
    make.holiday(day=monday + timedelta(days=2), name="Founders' day")
    login_as(client, me)
    week = block(page(client), "week")
    assert 'data-testid="week-capacity">32:00<' in week
