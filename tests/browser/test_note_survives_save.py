"""A note with a line break survives the grid in a real browser (issue 10).

Imported entries with two-line notes sit on a week that straddles the time lock date: Monday is locked
(its note travels in a hidden input), Tuesday is open (its note is a textarea). Chromium posts both with
CRLF line breaks. Saving the week with no change leaves every entry as it was (same id, note and
updated_at); saving it with a change on another day adds that day's entry and still leaves the others
alone; a note typed with Enter is stored with its line break. Then the note box at phone width.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from psa.core.text import normalize_newlines
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.timesheets.conftest import MONDAY, staffed  # noqa: F401  (the fixture)

WEEK = MONDAY.isoformat()
DAYS = [f"2026-10-{day:02d}" for day in range(5, 12)]
CSV = ("date,email,project,task,hours,billable,note\r\n"
       '2026-10-05,{email},Acme onboarding,Configure,2,yes,"Go-live checklist\r\nreviewed"\r\n'
       '2026-10-06,{email},Acme onboarding,Configure,1,yes,"Call with\nthe customer"\r\n')


@pytest.fixture
def straddling(app, staffed):  # noqa: F811
    """The consultant's week imported (two two-line notes), then the lock put on its Monday."""
    from psa.admin.services import update_settings
    from psa.extensions import db
    from psa.timesheets.imports import import_time_entries

    consultant, manager, project_id, task_id = staffed
    with app.app_context():
        report = import_time_entries(None, CSV.format(email=consultant.email), dry_run=False)
        assert not report.errors
        update_settings(None, time_lock_date=MONDAY)
        db.session.commit()
    return consultant


def _entries(app) -> dict[int, tuple]:
    """Every entry by id: (date, minutes, note, updated_at)."""
    from psa.extensions import db
    from psa.timesheets.models import TimeEntry

    with app.app_context():
        return {e.id: (e.entry_date.isoformat(), e.minutes, e.note, e.updated_at)
                for e in db.session.scalars(sa.select(TimeEntry).order_by(TimeEntry.id))}


def _line(page) -> str:
    """The name prefix of the week's project line, e.g. rows-0."""
    return page.locator("select.psa-project, input[type=hidden][name$='-project']").first \
        .get_attribute("name").removesuffix("-project")


def _save(page):
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Week of 2026-10-05 – 2026-10-11 saved.")).to_be_visible()


@pytest.mark.browser
def test_an_imported_two_line_note_survives_saves_of_a_week_straddling_the_lock(page, live_server, app,
                                                                                straddling):
    before = _entries(app)
    # the import may keep the file's CRLF or store LF; either way the grid must leave the entries alone
    assert sorted((day, minutes, normalize_newlines(note)) for day, minutes, note, _ in before.values()) == [
        ("2026-10-05", 120, "Go-live checklist\nreviewed"), ("2026-10-06", 60, "Call with\nthe customer")]

    _sign_in(page, live_server, straddling)
    page.goto(f"{live_server}/timesheets?week={WEEK}")
    expect(page.get_by_test_id("lock-note")).to_be_visible()
    line = _line(page)
    # Tuesday's note is edited in a textarea that holds the line break
    tuesday = page.get_by_label("Note for Acme – Acme onboarding / Configure, Tuesday 2026-10-06")
    expect(tuesday).to_have_js_property("tagName", "TEXTAREA")
    expect(tuesday).to_have_value("Call with\nthe customer")

    # --- saved with no change: nothing is touched ------------------------------------------------------
    _save(page)
    expect(page.get_by_test_id("grid-errors")).to_have_count(0)
    assert _entries(app) == before

    # --- a change on another (open) day: that day is added, the rest stays as it was --------------------
    page.locator(f"#{line}-{DAYS[3]}").fill("0:45")
    _save(page)
    after = _entries(app)
    added = set(after) - set(before)
    assert len(added) == 1 and after[added.pop()][:3] == ("2026-10-08", 45, "")
    assert {i: after[i] for i in before} == before

    # --- a note typed with Enter keeps its line break ---------------------------------------------------
    thursday = page.get_by_label("Note for Acme – Acme onboarding / Configure, Thursday 2026-10-08")
    page.locator(f"#{line}-{DAYS[3]}").locator("xpath=following-sibling::details/summary").click()
    thursday.click()
    thursday.press_sequentially("Workshop")
    thursday.press("Enter")
    thursday.press_sequentially("follow-up booked")
    _save(page)
    notes = {row[0]: row[2] for row in _entries(app).values()}
    assert notes["2026-10-08"] == "Workshop\nfollow-up booked"
    expect(page.get_by_label("Note for Acme – Acme onboarding / Configure, Thursday 2026-10-08")) \
        .to_have_value("Workshop\nfollow-up booked")
    assert {i: row for i, row in _entries(app).items() if i in before} == before
    _assert_clean(page, live_server)


@pytest.mark.browser
@pytest.mark.parametrize("page", [PHONE], indirect=True, ids=["phone"])
def test_the_note_box_fits_a_phone_and_grows_with_its_text(page, live_server, app, straddling):
    _sign_in(page, live_server, straddling)
    page.goto(f"{live_server}/timesheets?week={WEEK}")
    line = _line(page)
    page.locator(f"#{line}-{DAYS[1]}").locator("xpath=following-sibling::details/summary").click()
    box = page.get_by_label("Note for Acme – Acme onboarding / Configure, Tuesday 2026-10-06")
    expect(box).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # the box sits inside the grid's own sideways-scrolling frame
    assert box.evaluate("el => el.closest('.psa-grid-wrap') !== null")
    box.scroll_into_view_if_needed()
    width = box.evaluate("el => el.getBoundingClientRect().width")
    assert 0 < width <= PHONE["width"]
    # two lines of text fit without scrolling inside the box; more lines make it taller
    assert box.evaluate("el => el.scrollHeight <= el.clientHeight")
    height = box.evaluate("el => el.getBoundingClientRect().height")
    box.click()
    box.press("Control+End")
    for _ in range(3):
        box.press("Enter")
        box.press_sequentially("more")
    page.wait_for_function("([el, h]) => el.getBoundingClientRect().height > h", arg=[box.element_handle(), height])
    assert box.evaluate("el => el.scrollHeight <= el.clientHeight")
    _assert_clean(page, live_server)
