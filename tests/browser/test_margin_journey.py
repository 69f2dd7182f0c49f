"""The margin report in headless Chromium (issue 15, acceptance 4): a leader signs in, opens the margin report,
chooses "Last quarter" and submits, finds a project's row with figures worked out by hand, follows its revenue
figure to the time export filtered to that project and period (the entries behind it are that project's and only
those), goes back, downloads the CSV and the PDF and finds the same figures in both. Then the report at phone
width (390 px): no horizontal page overflow. A second journey asks for the PDF of 51 projects: the page that waits
for the job reloads itself (psa/static/js/report_file.js) once the worker has built it, and offers the download.

Today is frozen (psa.core.clock) at 2026-06-15, so "last quarter" is 2026-01-01 to 2026-03-31.

Orion rollout (time and materials, account Nimbus, no cap), approved weeks of Cleo in the quarter:
  2026-02-09: 7.5 h billable at bill 140.00 / cost 85.00; 2026-03-03: 4 h billable at 140.00 / 85.00;
  2026-03-04: 2 h non-billable at cost 85.00.
  → hours 13.50; revenue (7.5 + 4) × 140 = 1,610.00; cost 13.5 × 85 = 1,147.50; margin 462.50;
    margin % 462.5 ÷ 1,610 = 28.73 → 28.7 %.
  Not counted: 2026-04-07 (this quarter) 3 h, and a submitted (not approved) week's 5 h on 2026-03-17.
Vega pilot (time and materials, account Zephyr): 6 h at 100 / 60 on 2026-02-10 → its own row, never in Orion's
  entries.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from psa.core import clock
from psa.extensions import db
from psa.timesheets.models import TimeEntry, Timesheet
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.reports.test_margin import MAY, _build
from tests.reports.test_margin import TODAY as MARGIN_TODAY
from tests.reports.test_pdf_jobs import OVER, _work, queue  # noqa: F401  (the fixture)

TODAY = datetime(2026, 6, 15, 12, tzinfo=UTC)
QUARTER = ("2026-01-01", "2026-03-31")
ORION = ["13.50", "1,610.00", "1,147.50", "462.50", "28.7 %"]


def _seed(app, make) -> dict:
    from psa.auth.models import User
    from psa.projects.services import create_project

    lee = make.user(role="leader", name="Lee Leader")
    mia = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant", email="cleo@example.com")
    nimbus, zephyr = make.account(name="Nimbus"), make.account(name="Zephyr")
    with app.app_context():
        manager = db.session.get(User, mia.id)
        ids = {}
        for name, account in (("Orion rollout", nimbus), ("Vega pilot", zephyr)):
            project = create_project(manager, account=account, name=name, kickoff_date=date(2026, 1, 5),
                                     manager=manager, billing_model="time_and_materials")
            db.session.flush()
            ids[name] = project.id
        orion, vega = ids["Orion rollout"], ids["Vega pilot"]
        sheets = {}
        for monday, state in ((date(2026, 2, 9), "approved"), (date(2026, 3, 2), "approved"),
                              (date(2026, 3, 16), "submitted"), (date(2026, 4, 6), "approved")):
            sheet = Timesheet(user_id=cleo.id, week_start=monday, state=state)
            db.session.add(sheet)
            db.session.flush()
            sheets[monday] = sheet.id
        for project_id, monday, day, hours, bill, cost, billable in (
                (orion, date(2026, 2, 9), date(2026, 2, 9), "7.5", "140", "85", True),
                (vega, date(2026, 2, 9), date(2026, 2, 10), "6", "100", "60", True),
                (orion, date(2026, 3, 2), date(2026, 3, 3), "4", "140", "85", True),
                (orion, date(2026, 3, 2), date(2026, 3, 4), "2", "0", "85", False),
                (orion, date(2026, 3, 16), date(2026, 3, 17), "5", "140", "85", True),
                (orion, date(2026, 4, 6), date(2026, 4, 7), "3", "140", "85", True)):
            db.session.add(TimeEntry(user_id=cleo.id, project_id=project_id, timesheet_id=sheets[monday],
                                     entry_date=day, minutes=int(Decimal(hours) * 60), billable=billable,
                                     bill_rate=Decimal(bill), cost_rate=Decimal(cost)))
        db.session.commit()
        db.session.remove()
    return {"lee": lee, "orion": orion, "vega": vega}


def _csv(download) -> list[dict]:
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _pdf_text(download) -> str:
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


@pytest.mark.browser
def test_a_leader_reads_last_quarters_margin_drills_into_it_and_downloads_it(page, live_server, app, make):
    world = _seed(app, make)
    with clock.frozen(TODAY):
        _sign_in(page, live_server, world["lee"])
        page.get_by_role("link", name="Reports").first.click()
        expect(page.get_by_role("heading", name="Utilization", exact=True)).to_be_visible()
        page.goto(f"{live_server}/reports/margin")  # the utilization page has no sub-nav to the margin report yet
        expect(page.get_by_role("heading", name="Margin", exact=True)).to_be_visible()

        # --- last quarter ----------------------------------------------------------------------------------------
        page.get_by_label("Period").select_option(label="Last quarter")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_test_id("margin-period")).to_contain_text(f"{QUARTER[0]} to {QUARTER[1]}.")
        assert parse_qs(urlsplit(page.url).query)["period"] == ["last_quarter"]
        row = page.locator(f"[data-testid=margin-projects] tr[data-project-id='{world['orion']}']")
        expect(row.locator("th")).to_have_text("Orion rollout")
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text("Nimbus")
        expect(cells.nth(2)).to_have_text("Time and materials")
        # hours, revenue, cost, margin, margin % (then EAC and projected margin, fixed fee only)
        for index, figure in enumerate(ORION):
            expect(cells.nth(3 + index)).to_have_text(figure)
        expect(cells.nth(8)).to_have_text("—")
        vega = page.locator(f"[data-testid=margin-projects] tr[data-project-id='{world['vega']}'] td")
        expect(vega.nth(4)).to_have_text("600.00")
        expect(page.get_by_test_id("margin-total")).to_contain_text("2,210.00")  # 1,610.00 + 600.00
        _assert_clean(page, live_server)
        report_url = page.url

        # --- the revenue figure opens the entries behind it ------------------------------------------------------
        row.get_by_role("link", name="1,610.00").click()
        expect(page.get_by_role("heading", name="Export time")).to_be_visible()
        query = parse_qs(urlsplit(page.url).query)
        assert query["project_id"] == [str(world["orion"])] and query["state"] == ["approved"]
        assert (query["date_from"], query["date_to"]) == ([QUARTER[0]], [QUARTER[1]])
        expect(page.get_by_label("Project", exact=True)).to_have_value(str(world["orion"]))
        expect(page.get_by_label("From", exact=True)).to_have_value(QUARTER[0])
        expect(page.get_by_label("To", exact=True)).to_have_value(QUARTER[1])
        summary = page.get_by_test_id("export-summary")
        expect(summary).to_contain_text("3")
        expect(summary).to_contain_text("entries match, 13.50 hours.")
        with page.expect_download() as info:
            page.get_by_role("button", name="Download CSV").click()
        entries = _csv(info.value)
        assert [(e["date"], e["email"], e["project"], e["account"], e["hours"], e["billable"], e["state"],
                 e["bill_rate"], e["cost_rate"]) for e in entries] == [
            ("2026-02-09", "cleo@example.com", "Orion rollout", "Nimbus", "7.50", "yes", "approved", "140.00",
             "85.00"),
            ("2026-03-03", "cleo@example.com", "Orion rollout", "Nimbus", "4.00", "yes", "approved", "140.00",
             "85.00"),
            ("2026-03-04", "cleo@example.com", "Orion rollout", "Nimbus", "2.00", "no", "approved", "0.00",
             "85.00")]

        # --- back to the report: its CSV and its PDF -------------------------------------------------------------
        page.go_back()
        expect(page.get_by_test_id("margin-period")).to_contain_text(f"{QUARTER[0]} to {QUARTER[1]}.")
        assert page.url == report_url
        with page.expect_download() as info:
            page.get_by_role("link", name="Download CSV").click()
        assert info.value.suggested_filename == f"margin-{QUARTER[0]}-{QUARTER[1]}.csv"
        rows = _csv(info.value)
        orion = next(r for r in rows if r["section"] == "project" and r["name"] == "Orion rollout")
        assert (orion["account"], orion["period_start"], orion["period_end"]) == ("Nimbus", *QUARTER)
        assert [orion["revenue"], orion["cost"], orion["margin"], orion["margin_percent"]] == [
            "1,610.00", "1,147.50", "462.50", "28.7"]
        total = next(r for r in rows if r["section"] == "total")
        assert total["revenue"] == "2,210.00" and total["cost"] == "1,507.50"  # + Vega 6 h × 60 = 360.00

        with page.expect_download() as info:
            page.get_by_role("link", name="Download PDF").click()
        assert info.value.suggested_filename == f"margin-{QUARTER[0]}-{QUARTER[1]}.pdf"
        text = _pdf_text(info.value)
        assert f"{QUARTER[0]} to {QUARTER[1]}" in text
        assert "Orion rollout" in text and " ".join(ORION) in text
        assert "Vega pilot" in text and "Portfolio (2)" in text
        _assert_clean(page, live_server)

        # --- at phone width --------------------------------------------------------------------------------------
        page.set_viewport_size(PHONE)
        page.goto(report_url)
        expect(page.get_by_test_id("margin-period")).to_contain_text(f"{QUARTER[0]} to {QUARTER[1]}.")
        page.wait_for_load_state("load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "margin-report-390.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways: {width} px wide at {PHONE['width']} px"
        _assert_clean(page, live_server)


@pytest.mark.browser
def test_a_pdf_of_51_projects_is_prepared_then_offered(page, live_server, app, make, queue):  # noqa: F811
    """Past 50 projects the PDF link opens "Your PDF is being prepared"; once the worker has built it, the page's
    script (psa/static/js/report_file.js) reloads it with the Download button, without a click."""
    world = _build(app, make, extra_projects=OVER)
    with clock.frozen(MARGIN_TODAY):
        _sign_in(page, live_server, world["lee"])
        page.goto(f"{live_server}/reports/margin?{MAY}")
        page.get_by_role("link", name="Download PDF").click()
        expect(page.get_by_role("heading", name="Your PDF is being prepared")).to_be_visible()
        expect(page.get_by_test_id("file-state")).to_have_text("Queued")
        expect(page.get_by_role("link", name="Refresh")).to_be_visible()
        assert re.fullmatch(r"/reports/files/\d+", urlsplit(page.url).path), page.url

        _work(app, queue)  # a burst of the worker builds it
        expect(page.get_by_role("heading", name="Your PDF is ready")).to_be_visible(timeout=20_000)
        expect(page.get_by_test_id("file-state")).to_have_text("Ready")
        with page.expect_download() as info:
            page.get_by_role("link", name="Download PDF").click()
        assert info.value.suggested_filename == "margin-2026-05-01-2026-05-31.pdf"
        text = _pdf_text(info.value)
        assert f"Portfolio ({5 + OVER})" in text and "Extra 45" in text
        _assert_clean(page, live_server)
