"""The API's reports (issue 16): the same figures as the HTML and CSV reports for the same filters (the worlds of
tests/reports/test_utilization.py and test_margin.py, with their hand-worked numbers), leaders and admins only, bad
filters answered at the field."""

from __future__ import annotations

import csv
import io

import pytest

from psa.core import clock
from tests.conftest import login_as
from tests.reports.test_margin import TODAY as MARGIN_TODAY
from tests.reports.test_margin import _build
from tests.reports.test_utilization import MAY, world  # noqa: F401 - the fixture


def _csv(client, path) -> list[dict]:
    response = client.get(path)
    assert response.status_code == 200, path
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _plain(text: str) -> str | None:
    """A CSV figure as the API writes it: no thousands separators, no percent sign, null for "—"."""
    return None if text == "—" else text.replace(",", "").removesuffix(" %")


def test_utilization_has_the_reports_figures(api, client, world):  # noqa: F811
    lee = api(world["lee"])
    response = lee.get(f"/api/v1/reports/utilization?{MAY}")
    assert response.status_code == 200
    report = response.get_json()
    assert (report["period_start"], report["period_end"], report["working_days"]) == ("2026-05-01", "2026-05-31", 20)
    people = {p["user_id"]: p for p in report["people"]}
    cleo = people[world["cleo"].id]
    # as the page: time off, capacity, billable, total, billable %, total %
    assert [cleo["time_off_hours"], cleo["capacity_hours"], cleo["billable_hours"], cleo["total_hours"],
            cleo["billable_utilization_percent"], cleo["total_utilization_percent"]] == [
        "8.00", "152.00", "114.00", "133.00", "75.0", "87.5"]
    zed = people[world["zed"].id]
    assert (zed["capacity_hours"], zed["total_utilization_percent"]) == ("0.00", None)
    assert report["total"] == {"label": "All people", "people": 5, "capacity_hours": "392.00",
                               "billable_hours": "154.00", "total_hours": "173.00",
                               "billable_utilization_percent": "39.3", "total_utilization_percent": "44.1"}
    assert [(g["label"], g["capacity_hours"], g["billable_utilization_percent"]) for g in report["teams"]
            if g["label"] == "Mia Manager"] == [("Mia Manager", "232.00", "66.4")]

    login_as(client, world["lee"])
    rows = _csv(client, f"/reports/utilization.csv?{MAY}")
    by_name = {p["name"]: p for p in report["people"]}
    groups = {("role", g["label"]): g for g in report["roles"]} | {("team", g["label"]): g for g in report["teams"]}
    for row in rows:
        figures = (by_name[row["name"]] if row["section"] == "person" else report["total"]
                   if row["section"] == "total" else groups[(row["section"], row["name"])])
        assert [figures["capacity_hours"], figures["billable_hours"], figures["total_hours"],
                figures["billable_utilization_percent"], figures["total_utilization_percent"]] == [
            row["capacity_hours"], row["billable_hours"], row["total_hours"],
            _plain(row["billable_utilization_percent"]), _plain(row["total_utilization_percent"])], row
    assert len(rows) == len(report["people"]) + len(report["roles"]) + len(report["teams"]) + 1

    with_submitted = lee.get(f"/api/v1/reports/utilization?{MAY}&include_submitted=true").get_json()
    submitted_rows = _csv(client, f"/reports/utilization.csv?{MAY}&include_submitted=y")
    cleo_row = next(r for r in submitted_rows if r["name"] == "Cleo Consultant")
    cleo = next(p for p in with_submitted["people"] if p["user_id"] == world["cleo"].id)
    assert (cleo["total_hours"], cleo["total_utilization_percent"]) == (cleo_row["total_hours"],
                                                                       cleo_row["total_utilization_percent"])
    assert cleo["total_hours"] != "133.00"  # the submitted week counts now


def test_margin_has_the_reports_figures(api, app, client, make):
    built = _build(app, make)
    lee = api(built["lee"])
    with clock.frozen(MARGIN_TODAY):
        report = lee.get(f"/api/v1/reports/margin?{MAY}").get_json()
        login_as(client, built["lee"])
        rows = _csv(client, f"/reports/margin.csv?{MAY}")
        switched = lee.get(f"/api/v1/reports/margin?{MAY}&include_submitted=true").get_json()
    projects = {p["name"]: p for p in report["projects"]}
    # the hand-worked numbers of tests/reports/test_margin.py
    assert [projects["Alpha"][k] for k in ("revenue", "cost", "margin", "margin_percent", "estimate_at_completion",
                                           "projected_margin")] == ["1500.00", "900.00", "600.00", "40.0", None, None]
    assert (projects["Alpha"]["minutes"], projects["Gamma"]["milestones_done"]) == (600, 1)
    assert [projects["Gamma"][k] for k in ("revenue", "cost", "margin", "margin_percent", "estimate_at_completion",
                                           "projected_margin")] == ["3000.00", "1600.00", "1400.00", "46.7", "2480.00",
                                                                    "7520.00"]
    assert projects["Delta"]["margin"] == "-300.00" and projects["Delta"]["margin_percent"] is None
    assert (report["total"]["revenue"], report["total"]["margin_percent"], report["total"]["projected_margin"]) == (
        "4900.00", "36.7", "11720.00")
    groups = {("account", g["label"]): g for g in report["accounts"]}
    groups |= {("project_manager", g["label"]): g for g in report["managers"]}
    groups |= {("billing_model", g["label"]): g for g in report["billing_models"]}
    groups[("total", "Portfolio")] = report["total"]
    for row in rows:
        figures = projects[row["name"]] if row["section"] == "project" else groups[(row["section"], row["name"])]
        assert [figures["revenue"], figures["cost"], figures["margin"], figures["margin_percent"],
                figures["estimate_at_completion"], figures["projected_margin"]] == [
            _plain(row[k]) for k in ("revenue", "cost", "margin", "margin_percent", "estimate_at_completion",
                                     "projected_margin")], row
    assert len(rows) == 5 + 2 + 2 + 3 + 1
    assert [m["month"] for m in report["months"]] == ["2026-05"]
    assert report["months"][0]["revenue"] == report["total"]["revenue"]
    alpha = next(p for p in switched["projects"] if p["name"] == "Alpha")
    assert (alpha["revenue"], switched["total"]["revenue"]) == ("1800.00", "5200.00")


def test_forecast_and_ttv_have_the_reports_figures(api, app, client, make):
    built = _build(app, make)
    lee = api(built["lee"])
    login_as(client, built["lee"])
    with clock.frozen(MARGIN_TODAY):
        forecast = lee.get("/api/v1/reports/forecast").get_json()
        forecast_rows = _csv(client, "/reports/forecast.csv")
        ttv = lee.get("/api/v1/reports/ttv").get_json()
        ttv_rows = _csv(client, "/reports/ttv.csv")
    assert forecast["today"] == "2026-06-15" and forecast["months"][0] == "2026-06" and len(forecast["months"]) == 6
    lines = [["project", p["account"], p["name"], c["month"], c["recognised"], c["forecast"], c["at_risk"]]
             for p in forecast["projects"] for c in p["months"]]
    lines += [["total", "", "All projects", c["month"], c["recognised"], c["forecast"], c["at_risk"]]
              for c in forecast["totals"]]
    assert lines == [[r["row"], r["account"], r["project"], r["month"], r["recognised"], r["forecast"], r["at_risk"]]
                     for r in forecast_rows]
    gamma = next(p for p in forecast["projects"] if p["name"] == "Gamma")
    assert gamma["forecast_total"] == "5000.00"  # its open milestone's 50 % of 10,000
    open_rows = [r for r in ttv_rows if r["section"] == "open"]
    assert [(o["name"], str(o["elapsed_days"]), o["target_days"]) for o in ttv["open_projects"]] == [
        (r["project"], r["elapsed_days"], None if r["target_days"] == "—" else int(r["target_days"]))
        for r in open_rows]
    assert len(ttv["open_projects"]) == 5 and ttv["cohorts"] == [] and ttv["snapshot_date"] is None


@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_read_reports(api, make, role):
    client = api(make.user(role=role))
    for path in ("utilization", "margin", "forecast", "ttv"):
        response = client.get(f"/api/v1/reports/{path}")
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("path", "query", "field"), [
    ("utilization", "period=custom", "date_from"),
    ("utilization", "period=custom&date_from=2026-05-10&date_to=2026-05-01", "date_to"),
    ("margin", "period=custom&date_from=2024-01-01&date_to=2026-05-01", "date_to"),
    ("margin", "period=yesterday", "period"),
    ("utilization", "date_from=1999-12-31", "date_from"),
    ("margin", "include_submitted=perhaps", "include_submitted"),
    ("ttv", "template=abc", "template"),
    ("ttv", "segment=galactic", "segment"),
    ("ttv", "template=99999999999999", "template"),
])
def test_bad_filters_are_422_at_the_field(api, make, path, query, field):
    response = api(make.user(role="admin")).get(f"/api/v1/reports/{path}?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"], response.get_json()
