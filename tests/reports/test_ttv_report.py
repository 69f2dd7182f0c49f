"""The time-to-value report (SPEC §3) at /reports/ttv, from snapshots taken by take_ttv_snapshot on two days,
every figure worked out by hand.

Template A "Standard onboarding" has a 30-day target; template B "Data migration" has none.
Percentile p of n sorted values: h = 1 + p·(n − 1), value = v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋]).

Day 1, 2026-11-01:
  A · mid · 2026-Q1: 10 20 60 (n 3). Median 20. P75 h = 2.5 → 20 + ½·40 = 40. Mean 30. Within 30: 2 / 3 = 66.67 %.
  B · high · 2026-Q2: 8 12 (n 2). Median h = 1.5 → 10. P75 h = 1.75 → 8 + ¾·4 = 11. Mean 10. No target.
Day 2, 2026-12-01 (one more A · mid · Q1 project at 30 days, and an A · high · Q2 one at 45):
  A · mid · 2026-Q1: 10 20 30 60 (n 4). Median h = 2.5 → 20 + ½·10 = 25. P75 h = 3.25 → 30 + ¼·30 = 37.5.
      Mean 120 / 4 = 30. Within: 10 20 30 → 3 / 4 = 75.00 %.
  A · high · 2026-Q2: 45 (n 1). Median, p75, mean 45. Within: 0 / 1 = 0.00 %.
  B · high · 2026-Q2: unchanged.
Trend (cohort medians weighted by project count):
  all: day 1 (20·3 + 10·2) / 5 = 16.00; day 2 (25·4 + 45·1 + 10·2) / 7 = 165 / 7 = 23.571… → 23.57.
  template A: day 1 20.00; day 2 (100 + 45) / 5 = 29.00.   segment mid: day 1 20.00, day 2 25.00.
Open projects, today 2026-12-04:
  "Late rollout" (A, mid): contract signed 2026-09-21 → 74 days elapsed (9 + 31 + 30 + 4); first-value forecast
      2026-12-31 → forecast 101; target 30: past target.
  "Quick start" (A, high): kickoff 2026-11-24 → 10 days; forecast 2026-12-14 → 20; on track.
  "Migration two" (B, high): kickoff 2026-11-20 → 14 days; no first-value milestone → forecast "—"; no target.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from psa.core import clock
from psa.extensions import db
from tests.conftest import login_as

DAY1, DAY2 = date(2026, 11, 1), date(2026, 12, 1)
Q1, Q2 = date(2026, 2, 10), date(2026, 4, 15)
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _table(html: str, testid: str) -> list[list[str]]:
    """The body rows of the table `testid`, as cell texts."""
    body = re.search(r'data-testid="' + testid + r'".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)]


def _points(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="ttv-point" data-date="([^"]+)" data-median="([^"]+)"', html)


def _add_done(project_cls, milestone_cls, account_id, manager_id, version_id, kickoff, ttv, name):
    done_on = kickoff + timedelta(days=ttv)
    project = project_cls(account_id=account_id, name=name, kickoff_date=kickoff, manager_id=manager_id,
                          ttv_days=ttv, template_version_id=version_id, status="active")
    project.milestones = [milestone_cls(position=1, name="Go-live", baseline_due_date=done_on, due_date=done_on,
                                        is_first_value=True, status="done",
                                        completed_at=datetime.combine(done_on, time(12), tzinfo=UTC))]
    db.session.add(project)
    return project


@pytest.fixture
def world(app, make):
    from psa.accounts.models import Account
    from psa.auth.models import User
    from psa.project_templates.models import Template, TemplateVersion
    from psa.projects.models import Milestone, Project
    from psa.projects.ttv import take_ttv_snapshot

    leader = make.user(role="leader", name="Lee Leader")
    with app.app_context():
        manager = User(email="mia-ttv@example.com", name="Mia Manager", role="manager", timezone="UTC",
                       weekly_capacity_hours=Decimal("40"))
        a = Template(name="Standard onboarding", target_ttv_days=30)
        b = Template(name="Data migration")
        va, vb = (TemplateVersion(template=t, number=1, state="published") for t in (a, b))
        mid = Account(name="Mid Co", segment="mid", arr=Decimal("1000"))
        high = Account(name="High Co", segment="high", arr=Decimal("1000"))
        db.session.add_all([manager, va, vb, mid, high])
        db.session.flush()

        def done(version, account, kickoff, ttv, name):
            _add_done(Project, Milestone, account.id, manager.id, version.id, kickoff, ttv, name)

        for n, ttv in enumerate((10, 20, 60)):
            done(va, mid, Q1, ttv, f"A mid {n}")
        for n, ttv in enumerate((8, 12)):
            done(vb, high, Q2, ttv, f"B high {n}")
        db.session.flush()
        take_ttv_snapshot(DAY1)
        done(va, mid, Q1, 30, "A mid 3")
        done(va, high, Q2, 45, "A high 0")
        db.session.flush()
        take_ttv_snapshot(DAY2)

        late = Project(account_id=mid.id, name="Late rollout", kickoff_date=date(2026, 10, 1),
                       contract_signed_date=date(2026, 9, 21), manager_id=manager.id, template_version_id=va.id,
                       status="active")
        late.milestones = [Milestone(position=1, name="Go-live", baseline_due_date=date(2026, 11, 30),
                                     due_date=date(2026, 11, 30), is_first_value=True, status="todo",
                                     forecast_date=date(2026, 12, 31))]
        quick = Project(account_id=high.id, name="Quick start", kickoff_date=date(2026, 11, 24),
                        manager_id=manager.id, template_version_id=va.id, status="planned")
        quick.milestones = [Milestone(position=1, name="Go-live", baseline_due_date=date(2026, 12, 14),
                                      due_date=date(2026, 12, 14), is_first_value=True, status="todo",
                                      forecast_date=date(2026, 12, 14))]
        migration = Project(account_id=high.id, name="Migration two", kickoff_date=date(2026, 11, 20),
                            manager_id=manager.id, template_version_id=vb.id, status="active")
        closed = Project(account_id=high.id, name="Cancelled one", kickoff_date=date(2026, 11, 2),
                         manager_id=manager.id, template_version_id=vb.id, status="cancelled")
        db.session.add_all([late, quick, migration, closed])
        db.session.commit()
        ids = {"A": a.id, "B": b.id, "late": late.id, "quick": quick.id, "migration": migration.id,
               "manager": manager.id, "mid": mid.id, "va": va.id}
    return {"leader": leader, **ids}


def _get(client, path):
    with clock.frozen(NOW):
        return client.get(path)


def test_the_latest_snapshots_cohorts_with_the_hand_worked_figures(client, world):
    login_as(client, world["leader"])
    response = _get(client, "/reports/ttv")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Latest snapshot: 2026-12-01" in _text(html)
    assert _table(html, "ttv-cohorts") == [
        ["Data migration", "High touch", "2026-Q2", "2", "10.00", "11.00", "10.00", "—", "—"],
        ["Standard onboarding", "High touch", "2026-Q2", "1", "45.00", "45.00", "45.00", "0.00 %", "30"],
        ["Standard onboarding", "Mid touch", "2026-Q1", "4", "25.00", "37.50", "30.00", "75.00 %", "30"],
    ]
    # day 1's figures (median 20, 66.67 %) are history: only in the trend
    assert "66.67" not in html


def test_the_trend_has_one_point_per_snapshot_day(client, world):
    login_as(client, world["leader"])
    html = _get(client, "/reports/ttv").get_data(as_text=True)
    assert _points(html) == [("2026-11-01", "16.00"), ("2026-12-01", "23.57")]
    chart = re.search(r'<svg.*?</svg>', html, re.S).group(0)
    assert 'data-testid="ttv-chart-line"' in chart and "ttv-chart-target" not in chart
    assert "style=" not in chart and "<script" not in chart  # presentation attributes only (the CSP)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html
    a = _get(client, f"/reports/ttv?template={world['A']}").get_data(as_text=True)
    assert _points(a) == [("2026-11-01", "20.00"), ("2026-12-01", "29.00")]
    assert 'data-testid="ttv-chart-target"' in a and "the target, 30 days" in a


def test_filters_by_template_and_segment(client, world):
    login_as(client, world["leader"])
    html = _get(client, f"/reports/ttv?template={world['A']}&segment=mid").get_data(as_text=True)
    assert _table(html, "ttv-cohorts") == [
        ["Standard onboarding", "Mid touch", "2026-Q1", "4", "25.00", "37.50", "30.00", "75.00 %", "30"]]
    assert _points(html) == [("2026-11-01", "20.00"), ("2026-12-01", "25.00")]
    assert [row[0] for row in _table(html, "ttv-open")] == ["Late rollout"]
    assert f'<option value="{world["A"]}" selected>Standard onboarding</option>' in html
    assert '<option value="mid" selected>Mid touch</option>' in html
    high_b = _get(client, f"/reports/ttv?template={world['B']}&segment=high").get_data(as_text=True)
    assert [row[0] for row in _table(high_b, "ttv-cohorts")] == ["Data migration"]
    assert [row[0] for row in _table(high_b, "ttv-open")] == ["Migration two"]
    nothing = _get(client, f"/reports/ttv?template={world['B']}&segment=low").get_data(as_text=True)
    assert 'data-testid="ttv-no-cohorts"' in nothing and 'data-testid="ttv-no-trend"' in nothing


def test_open_projects_elapsed_and_forecast_against_target_linked_to_the_project(client, world):
    login_as(client, world["leader"])
    html = _get(client, "/reports/ttv").get_data(as_text=True)
    assert _table(html, "ttv-open") == [
        ["Late rollout", "Mid Co", "Standard onboarding", "Mid touch", "2026-09-21", "74", "101", "30", "Past target"],
        ["Quick start", "High Co", "Standard onboarding", "High touch", "2026-11-24", "10", "20", "30", "On track"],
        ["Migration two", "High Co", "Data migration", "High touch", "2026-11-20", "14", "—", "—", "No target"],
    ]
    assert f'href="/projects/{world["late"]}"' in html
    assert "Cancelled one" not in html and "A mid 0" not in html  # closed, or already reached its value


def test_the_page_lists_the_first_open_projects_and_links_all_of_them(client, world, monkeypatch):
    """Past OPEN_ROWS_SHOWN the page lists the furthest over target and links ?open=all (keeping the filters),
    which lists every one; the CSV holds them all either way."""
    from psa.reports import ttv_report

    monkeypatch.setattr(ttv_report, "OPEN_ROWS_SHOWN", 1)
    login_as(client, world["leader"])
    html = _get(client, "/reports/ttv").get_data(as_text=True)
    assert [row[0] for row in _table(html, "ttv-open")] == ["Late rollout"]
    assert "Showing the first 1 of 3" in html and 'href="/reports/ttv?open=all"' in html
    every = _get(client, "/reports/ttv?open=all").get_data(as_text=True)
    assert [row[0] for row in _table(every, "ttv-open")] == ["Late rollout", "Quick start", "Migration two"]
    assert 'data-testid="ttv-open-all"' not in every
    filtered = _get(client, f"/reports/ttv?template={world['A']}").get_data(as_text=True)
    assert f'href="/reports/ttv?open=all&amp;template={world["A"]}"' in filtered
    lines = list(csv.DictReader(io.StringIO(_get(client, "/reports/ttv.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["project"] for r in lines if r["section"] == "open"] == ["Late rollout", "Quick start", "Migration two"]


def test_csv_holds_the_html_figures(client, world):
    login_as(client, world["leader"])
    for query in ("", f"?template={world['A']}&segment=mid"):
        html = _get(client, f"/reports/ttv{query}").get_data(as_text=True)
        response = _get(client, f"/reports/ttv.csv{query}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        header, lines = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
        assert header[0] == "section"
        cohorts = [[r["template"], r["segment"], r["kickoff_quarter"], r["projects"], r["median_days"], r["p75_days"],
                    r["mean_days"], r["within_target_percent"] + (" %" if r["within_target_percent"] != "—" else ""),
                    r["target_days"]] for r in lines if r["section"] == "cohort"]
        assert cohorts == _table(html, "ttv-cohorts")
        assert {r["snapshot_date"] for r in lines if r["section"] == "cohort"} == {"2026-12-01"}
        assert [(r["snapshot_date"], r["median_days"]) for r in lines if r["section"] == "trend"] == _points(html)
        opened = [[r["project"], r["account"], r["template"], r["segment"], r["start_date"], r["elapsed_days"],
                   r["forecast_days"], r["target_days"], r["state"]] for r in lines if r["section"] == "open"]
        assert opened == _table(html, "ttv-open")


def test_no_snapshot_yet_says_how_to_get_one(client, app, make):
    login_as(client, make.user(role="admin"))
    response = _get(client, "/reports/ttv")
    assert response.status_code == 200
    text = _text(response.get_data(as_text=True))
    assert "The nightly job writes the first snapshot; psa ttv writes one now" in text
    assert 'data-testid="ttv-chart"' not in response.get_data(as_text=True)
    csv_response = _get(client, "/reports/ttv.csv")
    assert csv_response.status_code == 200
    assert list(csv.reader(io.StringIO(csv_response.get_data(as_text=True).lstrip("\ufeff"))))[1:] == []


@pytest.mark.parametrize("query", ["template=-1", "template=abc", "template=" + "9" * 32, "segment=" + "9" * 30,
                                   "segment=%C3%A9"])
def test_a_filter_outside_the_lists_answers_400(client, make, query):
    login_as(client, make.user(role="leader"))
    for path in ("/reports/ttv", "/reports/ttv.csv"):
        response = _get(client, f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert 'data-testid="ttv-error"' in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_see_the_report(client, make, role):
    login_as(client, make.user(role=role))
    assert client.get("/reports/ttv").status_code == 403
    assert client.get("/reports/ttv.csv").status_code == 403


def test_the_sub_nav_links_the_other_reports(client, world):
    login_as(client, world["leader"])
    html = _get(client, "/reports/ttv").get_data(as_text=True)
    nav = re.search(r'data-testid="reports-subnav".*?</nav>', html, re.S).group(0)
    assert 'href="/reports/utilization"' in nav and 'aria-current="page" href="/reports/ttv"' in nav


def _more(app, world, n: int, day: date) -> None:
    """n more done projects (A, mid, a new quarter each third), n open ones, and a snapshot on `day`."""
    from psa.projects.models import Milestone, Project
    from psa.projects.ttv import take_ttv_snapshot

    with app.app_context():
        for i in range(n):
            _add_done(Project, Milestone, world["mid"], world["manager"], world["va"],
                      date(2025, 1 + 3 * (i % 4), 5), 5 + i, f"Bulk done {day} {i}")
            db.session.add(Project(account_id=world["mid"], name=f"Bulk open {day} {i}", kickoff_date=date(2026, 11, 1),
                                   manager_id=world["manager"], template_version_id=world["va"], status="active"))
        db.session.flush()
        take_ttv_snapshot(day)
        db.session.commit()


def test_statement_count_is_the_same_whatever_the_number_of_rows(client, app, world, count_queries):
    login_as(client, world["leader"])
    counts = []
    for n, day in ((2, date(2026, 12, 2)), (30, date(2026, 12, 3))):
        _more(app, world, n, day)
        with count_queries() as page, clock.frozen(NOW):
            assert client.get("/reports/ttv").status_code == 200
        with count_queries() as exported, clock.frozen(NOW):
            assert client.get("/reports/ttv.csv").status_code == 200
        with count_queries() as filtered, clock.frozen(NOW):
            assert client.get(f"/reports/ttv?template={world['A']}&segment=mid").status_code == 200
        counts.append((len(page), len(exported), len(filtered)))
    assert counts[0] == counts[1], counts
    html = _get(client, "/reports/ttv").get_data(as_text=True)
    assert len(_points(html)) == 4
