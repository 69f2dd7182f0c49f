"""The portfolio dashboard at /: filters, sorting, pagination, health counts, milestones due soon, my tasks,
visibility, empty states, and a fixed number of SQL statements whatever the number of projects.

Most projects here are inserted directly with their cached schedule (health, progress, slip) already
refreshed today, so the page shows exactly the values a test sets; one test goes through the services
to prove the page refreshes stale schedules itself.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from psa.accounts.models import Account
from psa.extensions import db
from psa.projects.models import Milestone, Project, Task, project_members
from psa.projects.services import org_today
from tests.conftest import login_as

_seq = itertools.count(1)
ROW_RE = re.compile(r'<tr data-testid="project-row">(.*?)</tr>', re.S)
NAME_RE = re.compile(r'<a href="/projects/\d+">([^<]+)</a>')


# --- helpers ---------------------------------------------------------------------------------------


def today(app) -> date:
    with app.app_context():
        return org_today()


def add_project(*, manager_id: int, account_id: int, members: tuple[int, ...] = (), today: date, **fields) -> int:
    """Insert a project (inside an app context) with a schedule refreshed today; returns its id."""
    n = next(_seq)
    values = dict(name=f"Project {n:04d}", kickoff_date=today - timedelta(days=30), status="active", health="green",
                  progress_percent=50, max_slip_days=0, target_go_live_date=today + timedelta(days=30),
                  billing_model="fixed_fee", fee_amount=Decimal("1000"), schedule_refreshed_on=today)
    values.update(fields)
    project = Project(account_id=account_id, manager_id=manager_id, **values)
    db.session.add(project)
    db.session.flush()
    db.session.execute(sa.insert(project_members), [{"project_id": project.id, "user_id": i}
                                                    for i in sorted({manager_id, *members})])
    return project.id


def add_milestone(project_id: int, *, due: date, name: str = "Milestone", status: str = "todo", slip: int = 0,
                  forecast: date | None = None) -> int:
    milestone = Milestone(project_id=project_id, position=next(_seq), name=name, baseline_due_date=due, due_date=due,
                          status=status, slip_days=slip, forecast_date=forecast or due)
    db.session.add(milestone)
    db.session.flush()
    return milestone.id


def add_task(project_id: int, milestone_id: int, *, due: date, name: str = "Task", status: str = "todo",
             assignee_id: int | None = None) -> int:
    task = Task(project_id=project_id, milestone_id=milestone_id, position=next(_seq), name=name,
                baseline_start_date=due, baseline_due_date=due, start_date=due, due_date=due, status=status,
                assignee_id=assignee_id, forecast_date=due)
    db.session.add(task)
    db.session.flush()
    return task.id


def page(client, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def project_names(html: str) -> list[str]:
    """The project names of the portfolio table, in order."""
    return [NAME_RE.search(row).group(1) for row in ROW_RE.findall(html)]


def health_count(html: str, health: str) -> int:
    return int(re.search(rf'data-testid="count-{health}">(\d+)<', html).group(1))


def section(html: str, heading_id: str) -> str:
    """The HTML of the <section> labelled by the heading with this id."""
    start = html.index(f'aria-labelledby="{heading_id}"')
    return html[start:html.index("</section>", start)]


# --- the portfolio table ---------------------------------------------------------------------------


def test_portfolio_row_shows_every_column(app, client, make):
    manager = make.user(role="manager", name="Mona Manager")
    account = make.account(name="Acme Corp", segment="high")
    day = today(app)
    with app.app_context():
        pid = add_project(manager_id=manager.id, account_id=account.id, today=day, name="Acme onboarding",
                          health="amber", progress_percent=42, max_slip_days=3,
                          kickoff_date=date(2026, 1, 5), target_go_live_date=date(2026, 3, 2))
        db.session.commit()
    login_as(client, manager)
    html = page(client)
    [row] = ROW_RE.findall(html)
    assert "Acme Corp" in row and "High touch" in row
    assert f'<a href="/projects/{pid}">Acme onboarding</a>' in row
    assert "Mona Manager" in row and "Active" in row
    assert "At risk" in row
    assert 'role="progressbar" aria-label="Progress of Acme onboarding" aria-valuenow="42"' in row
    assert "+3" in row
    assert "2026-01-05" in row and "2026-03-02" in row
    assert "Welcome, Mona Manager" in html


def test_consultant_sees_only_projects_they_belong_to(app, client, make):
    consultant = make.user(role="consultant")
    manager = make.user(role="manager", name="Other Manager")
    mine, theirs = make.account(name="Mine Inc"), make.account(name="Secret Corp")
    day = today(app)
    with app.app_context():
        a = add_project(manager_id=manager.id, account_id=mine.id, members=(consultant.id,), today=day,
                        name="Member project")
        b = add_project(manager_id=manager.id, account_id=theirs.id, today=day, name="Hidden project",
                        health="red")
        add_milestone(a, due=day + timedelta(days=2), name="Visible milestone")
        add_milestone(b, due=day + timedelta(days=2), name="Hidden milestone")
        db.session.commit()
    login_as(client, consultant)
    html = page(client)
    assert project_names(html) == ["Member project"]
    assert "Hidden" not in html and "Secret Corp" not in html  # not in the table, the blocks or the filters
    assert "Visible milestone" in html
    assert health_count(html, "red") == 0 and health_count(html, "green") == 1
    assert "Hidden project" not in page(client, "/?status=all&health=red")


def test_managers_see_what_they_manage_and_leaders_see_everything(app, client, make):
    manager, other = make.user(role="manager"), make.user(role="manager")
    leader = make.user(role="leader")
    account = make.account()
    day = today(app)
    with app.app_context():
        add_project(manager_id=manager.id, account_id=account.id, today=day, name="Managed by me")
        add_project(manager_id=other.id, account_id=account.id, today=day, name="Managed by other")
        db.session.commit()
    login_as(client, manager)
    assert project_names(page(client)) == ["Managed by me"]
    leader_client = app.test_client()
    login_as(leader_client, leader)
    assert sorted(project_names(page(leader_client))) == ["Managed by me", "Managed by other"]


def test_filters_narrow_the_portfolio(app, client, make):
    from psa.project_templates.services import add_milestone as add_template_milestone
    from psa.project_templates.services import create_template, publish_version

    admin = make.user(role="admin")
    mia, max_ = make.user(role="manager", name="Mia"), make.user(role="manager", name="Max")
    high, low = make.account(name="High Co", segment="high"), make.account(name="Low Co", segment="low")
    day = today(app)
    with app.app_context():
        version = create_template(None, name="Quick start")
        add_template_milestone(None, version, name="Done", offset_days=1, fee_share_percent=100)
        publish_version(None, version)
        add_project(manager_id=mia.id, account_id=high.id, today=day, name="P green", health="green",
                    template_version_id=version.id)
        add_project(manager_id=mia.id, account_id=low.id, today=day, name="P amber", health="amber")
        add_project(manager_id=max_.id, account_id=high.id, today=day, name="P red", health="red",
                    status="on_hold")
        add_project(manager_id=max_.id, account_id=low.id, today=day, name="P done", status="completed")
        add_project(manager_id=max_.id, account_id=low.id, today=day, name="P cancelled", status="cancelled")
        template_id = version.template_id
        db.session.commit()
    login_as(client, admin)

    def names(query: str) -> set[str]:
        return set(project_names(page(client, "/?" + query)))

    assert names("") == {"P green", "P amber", "P red"}  # open projects by default
    assert names("status=all") == {"P green", "P amber", "P red", "P done", "P cancelled"}
    assert names("status=completed") == {"P done"}
    assert names("status=on_hold") == {"P red"}
    assert names("health=amber") == {"P amber"}
    assert names(f"manager={mia.id}") == {"P green", "P amber"}
    assert names(f"account={high.id}") == {"P green", "P red"}
    assert names("segment=low&status=all") == {"P amber", "P done", "P cancelled"}
    assert names(f"template={template_id}") == {"P green"}
    assert names(f"manager={max_.id}&health=red") == {"P red"}
    # the form shows each filter with a label and keeps the choice
    html = page(client, f"/?manager={max_.id}&segment=high")
    for field in ("status", "health", "manager", "account", "segment", "template"):
        assert f'<label class="form-label small mb-1" for="f-{field}">' in html
        assert f'id="f-{field}" name="{field}"' in html
    assert f'<option value="{max_.id}" selected>Max</option>' in html
    assert '<option value="high" selected>High touch</option>' in html
    assert f'<option value="{template_id}">Quick start</option>' in html
    assert "Clear filters" in html


def test_unknown_filter_and_sort_values_are_ignored(app, client, make):
    admin = make.user(role="admin")
    account = make.account()
    day = today(app)
    with app.app_context():
        add_project(manager_id=admin.id, account_id=account.id, today=day, name="Still listed")
        db.session.commit()
    login_as(client, admin)
    html = page(client, "/?status=bogus&health=purple&manager=abc&account=&segment=x&template=1e9&sort=-password"
                        "&page=-3")
    assert project_names(html) == ["Still listed"]


def test_sorting_by_each_column(app, client, make):
    admin = make.user(role="admin")
    zed = make.user(role="manager", name="Zed")
    alpha_account, zulu_account = make.account(name="Alpha Account"), make.account(name="Zulu Account")
    day = today(app)
    with app.app_context():
        add_project(manager_id=admin.id, account_id=zulu_account.id, today=day, name="Bravo", health="red",
                    progress_percent=10, max_slip_days=9, kickoff_date=day - timedelta(days=10),
                    target_go_live_date=day + timedelta(days=5), status="on_hold")
        add_project(manager_id=zed.id, account_id=alpha_account.id, today=day, name="alpha", health="green",
                    progress_percent=80, max_slip_days=0, kickoff_date=day - timedelta(days=90),
                    target_go_live_date=None, status="active")
        add_project(manager_id=admin.id, account_id=alpha_account.id, today=day, name="Charlie", health="amber",
                    progress_percent=40, max_slip_days=2, kickoff_date=day - timedelta(days=50),
                    target_go_live_date=day + timedelta(days=60), status="planned")
        db.session.commit()
    login_as(client, admin)
    expected = {
        "name": ["alpha", "Bravo", "Charlie"],  # case-insensitive
        "-name": ["Charlie", "Bravo", "alpha"],
        "health": ["alpha", "Charlie", "Bravo"],
        "-health": ["Bravo", "Charlie", "alpha"],
        "progress": ["Bravo", "Charlie", "alpha"],
        "-progress": ["alpha", "Charlie", "Bravo"],
        "slip": ["alpha", "Charlie", "Bravo"],
        "-slip": ["Bravo", "Charlie", "alpha"],
        "go_live": ["Bravo", "Charlie", "alpha"],  # no go-live date: last
        "-go_live": ["Charlie", "Bravo", "alpha"],
        "kickoff": ["alpha", "Charlie", "Bravo"],
        "account": ["alpha", "Charlie", "Bravo"],  # by account, then name
        "-account": ["Bravo", "alpha", "Charlie"],
        "manager": ["Bravo", "Charlie", "alpha"],
        "status": ["Charlie", "alpha", "Bravo"],  # planned, active, on hold
    }
    for sort, names in expected.items():
        html = page(client, f"/?sort={sort}")
        assert project_names(html) == names, sort
    html = page(client, "/")
    assert project_names(html) == expected["-health"]  # worst health first by default
    assert 'aria-sort="descending"' in html
    html = page(client, "/?sort=name&health=red")
    assert 'aria-sort="ascending"' in html
    assert 'href="/?sort=-name&amp;health=red&amp;page=1"' in html  # the active column toggles, filters kept


def test_pagination_shows_25_projects_a_page_and_keeps_the_filters(app, client, make):
    admin = make.user(role="admin")
    account = make.account()
    day = today(app)
    with app.app_context():
        for i in range(30):
            add_project(manager_id=admin.id, account_id=account.id, today=day, name=f"Paged {i:02d}",
                        health="amber" if i % 2 else "green")
        db.session.commit()
    login_as(client, admin)
    first = page(client, "/?sort=name")
    assert project_names(first) == [f"Paged {i:02d}" for i in range(25)]
    assert "1–25 of 30" in first
    assert 'href="/?sort=name&amp;page=2"' in first
    assert project_names(page(client, "/?sort=name&page=2")) == [f"Paged {i:02d}" for i in range(25, 30)]
    amber = page(client, "/?sort=name&health=amber")
    assert len(project_names(amber)) == 15 and "pagination" not in amber


def test_health_counts_follow_the_other_filters(app, client, make):
    admin = make.user(role="admin")
    mia, max_ = make.user(role="manager"), make.user(role="manager")
    account = make.account()
    day = today(app)
    with app.app_context():
        for manager, health, status in [(mia, "green", "active"), (mia, "green", "active"), (mia, "amber", "active"),
                                        (mia, "red", "on_hold"), (max_, "red", "active"),
                                        (mia, "green", "completed"), (mia, "green", "cancelled")]:
            add_project(manager_id=manager.id, account_id=account.id, today=day, health=health, status=status)
        db.session.commit()
    login_as(client, admin)
    html = page(client)
    assert [health_count(html, h) for h in ("green", "amber", "red")] == [2, 1, 2]
    html = page(client, f"/?manager={mia.id}")
    assert [health_count(html, h) for h in ("green", "amber", "red")] == [2, 1, 1]
    # choosing a health narrows the table, not the counts (they tell what each choice would show)
    html = page(client, f"/?manager={mia.id}&health=red")
    assert len(project_names(html)) == 1
    assert [health_count(html, h) for h in ("green", "amber", "red")] == [2, 1, 1]
    html = page(client, "/?status=all")
    assert health_count(html, "green") == 3  # the completed one counts, the cancelled one has no health
    assert len(project_names(html)) == 7
    assert len(project_names(page(client, "/?status=all&health=green"))) == 3


# --- milestones due soon and my tasks --------------------------------------------------------------


def test_milestones_due_in_the_next_14_days(app, client, make):
    manager = make.user(role="manager")
    other = make.user(role="manager")
    account = make.account(name="Due Co")
    day = today(app)
    with app.app_context():
        p = add_project(manager_id=manager.id, account_id=account.id, today=day, name="Due project")
        add_milestone(p, due=day + timedelta(days=9), name="Late forecast", slip=4,
                      forecast=day + timedelta(days=15))
        add_milestone(p, due=day, name="Due today")
        add_milestone(p, due=day + timedelta(days=14), name="Edge of window")
        add_milestone(p, due=day + timedelta(days=15), name="Too far ahead")
        add_milestone(p, due=day - timedelta(days=1), name="Already overdue")
        add_milestone(p, due=day + timedelta(days=3), name="Finished early", status="done")
        closed = add_project(manager_id=manager.id, account_id=account.id, today=day, status="completed")
        add_milestone(closed, due=day + timedelta(days=3), name="Of a completed project")
        hidden = add_project(manager_id=other.id, account_id=account.id, today=day)
        add_milestone(hidden, due=day + timedelta(days=3), name="Of someone else's project")
        db.session.commit()
    login_as(client, manager)
    block = section(page(client), "due-heading")
    rows = re.findall(r'<tr data-testid="due-milestone">(.*?)</tr>', block, re.S)
    assert [re.search(r"<td class=\"psa-col-milestone\">([^<]+)</td>", row).group(1) for row in rows] == [
        "Due today", "Late forecast", "Edge of window"]
    late = rows[1]
    assert (day + timedelta(days=9)).isoformat() in late and (day + timedelta(days=15)).isoformat() in late
    assert "+4" in late and "Due project" in late and "Due Co" in late
    assert "Today" in rows[0]


def test_my_tasks_lists_my_open_tasks_by_due_date(app, client, make):
    me, colleague = make.user(role="consultant"), make.user(role="consultant")
    manager = make.user(role="manager")
    account = make.account()
    day = today(app)
    with app.app_context():
        p = add_project(manager_id=manager.id, account_id=account.id, members=(me.id,), today=day, name="Work")
        m = add_milestone(p, due=day + timedelta(days=30), name="Build")
        add_task(p, m, due=day + timedelta(days=5), name="Second", assignee_id=me.id, status="in_progress")
        add_task(p, m, due=day - timedelta(days=2), name="First and overdue", assignee_id=me.id, status="blocked")
        add_task(p, m, due=day + timedelta(days=9), name="Third", assignee_id=me.id)
        add_task(p, m, due=day, name="Already done", assignee_id=me.id, status="done")
        add_task(p, m, due=day, name="Colleague's task", assignee_id=colleague.id)
        add_task(p, m, due=day, name="Nobody's task")
        closed = add_project(manager_id=manager.id, account_id=account.id, members=(me.id,), today=day,
                             status="cancelled")
        add_task(closed, add_milestone(closed, due=day), due=day, name="Of a cancelled project", assignee_id=me.id)
        db.session.commit()
    login_as(client, me)
    block = section(page(client), "my-tasks-heading")
    rows = re.findall(r'<li class="list-group-item psa-block-row" data-testid="my-task">(.*?)</li>', block, re.S)
    assert [re.search(r'#task-\d+">([^<]+)</a>', row).group(1) for row in rows] == [
        "First and overdue", "Second", "Third"]
    assert "Overdue" in rows[0] and "Blocked" in rows[0] and "Build" in rows[0]
    assert "In progress" in rows[1]
    assert 'data-testid="my-tasks-count" aria-label="3 in all">3<' in block


# --- refresh, empty states and markup ----------------------------------------------------------------


def test_the_dashboard_shows_the_cached_schedule_and_the_job_refreshes_a_stale_one(app, client, make):
    from psa.projects.tasks import refresh_schedules_job

    manager = make.user(role="manager")
    account = make.account()
    day = today(app)
    with app.app_context():
        p = add_project(manager_id=manager.id, account_id=account.id, today=day, name="Stale",
                        schedule_refreshed_on=None, health="green")
        m = add_milestone(p, due=day - timedelta(days=21), name="Long overdue")
        add_task(p, m, due=day - timedelta(days=21), name="Forgotten")
        db.session.commit()
    login_as(client, manager)
    [row] = ROW_RE.findall(page(client))
    assert "On track" in row  # a request recomputes nothing but what it changes
    with app.app_context():
        assert refresh_schedules_job() == 1
    [row] = ROW_RE.findall(page(client))
    assert "Off track" in row and "Long overdue is overdue by" in row
    with app.app_context():
        project = db.session.get(Project, p)
        assert project.health == "red" and project.schedule_refreshed_on == day and project.max_slip_days > 5


def test_empty_states(app, client, make):
    login_as(client, make.user(role="consultant", name="Nina New"))
    html = page(client)
    assert "Welcome, Nina New" in html
    assert "You are not on any project yet" in html
    assert "No milestones due in the next 14 days" in html
    assert "No open tasks assigned to you" in html
    assert "Nothing needs your attention" in html
    assert 'data-testid="filters"' not in html and "New project" not in html

    manager = make.user(role="manager")
    manager_client = app.test_client()
    login_as(manager_client, manager)
    html = page(manager_client)
    assert "No projects yet" in html and 'href="/projects/new"' in html

    day = today(app)
    with app.app_context():
        add_project(manager_id=manager.id, account_id=make.account().id, today=day, status="completed")
        db.session.commit()
    html = page(manager_client)
    assert "No projects match these filters" in html  # only a completed one, and open ones are shown
    assert 'data-testid="filters"' in html


def test_page_has_no_inline_styles_or_scripts_and_a_responsive_table(app, client, make):
    admin = make.user(role="admin")
    day = today(app)
    with app.app_context():
        add_project(manager_id=admin.id, account_id=make.account().id, today=day)
        db.session.commit()
    login_as(client, admin)
    html = page(client)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert ('<div class="table-responsive">\n  <table class="table table-sm align-middle psa-portfolio" '
            'data-testid="portfolio">') in html


def test_dashboard_runs_as_many_statements_for_200_projects_as_for_10(app, client, make, count_queries):
    manager = make.user(role="manager")
    consultant = make.user(role="consultant")
    login_as(client, manager)
    day = today(app)

    def add(count: int) -> None:
        """Projects each on its own account, with a milestone due soon and an open task of the manager."""
        from psa.project_templates.services import add_milestone as add_template_milestone
        from psa.project_templates.services import create_template, publish_version

        with app.app_context():
            version = create_template(None, name=f"Budget template {next(_seq)}")
            add_template_milestone(None, version, name="All", offset_days=1, fee_share_percent=100)
            publish_version(None, version)
            for i in range(count):
                account = Account(name=f"Budget account {next(_seq)}", segment=("high", "mid", "low")[i % 3],
                                  arr=Decimal("1"))
                db.session.add(account)
                db.session.flush()
                pid = add_project(manager_id=manager.id, account_id=account.id, members=(consultant.id,),
                                  today=day, health=("green", "amber", "red")[i % 3], progress_percent=i % 100,
                                  template_version_id=version.id if i % 2 else None)
                m = add_milestone(pid, due=day + timedelta(days=1 + i % 10), slip=i % 4)
                add_task(pid, m, due=day + timedelta(days=i % 20), assignee_id=manager.id)
            db.session.commit()

    add(10)
    assert client.get("/").status_code == 200  # warm-up: nothing first-request-only is counted
    with count_queries() as few:
        small = page(client)
    add(190)
    with count_queries() as many:
        large = page(client)
    assert len(project_names(small)) == 10 and len(project_names(large)) == 25
    assert small.count('data-testid="due-milestone"') == 10 and large.count('data-testid="due-milestone"') == 20
    assert small.count('data-testid="my-task"') == 8 and large.count('data-testid="my-task"') == 8  # the first 8
    assert 'data-testid="my-tasks-count" aria-label="10 in all"' in small
    assert 'data-testid="my-tasks-count" aria-label="200 in all"' in large
    assert "of 200" in large
    assert len(few) == len(many), "\n".join(["with 10 projects:", *few, "", "with 200 projects:", *many])
    with app.app_context():  # every project is counted, not only the page shown
        assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 200
    assert health_count(large, "green") + health_count(large, "amber") + health_count(large, "red") == 200
    assert len(few) <= 20, "\n".join(few)

