"""The customer portal end to end in headless Chromium (issue 13, acceptance 5): a manager invites a contact from
the account page; the contact opens the e-mailed link (read from the outbox), chooses a password and is signed in
to the portal, opens the project, completes the customer task given to them, comments on it, signs off the
milestone that task finished and rates it; then the manager, signed in in a new browser context, sees each of
those on the internal project page and in the notifications.

Screenshots of the portal's home and project page at 1366 px and at 390 px (where the page must not scroll
sideways) go to test-artifacts/ for a reviewer to look at."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from psa.extensions import db
from tests.browser.conftest import _REPORT_CSP_VIOLATIONS, ARTIFACTS, PageLog
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in
from tests.projects.helpers import build_template

WIDE = {"width": 1366, "height": 900}
#: How long to wait for the page a click or a navigation leads to (a loaded 2-core machine can be slow).
SLOW = 20_000
CONTACT_PASSWORD = "portal-journey-pass-42"
TASK = "Approve the data mapping"
SIGNOFF = "Data mapping approved"
COMMENT = "The mapping matches our chart of accounts; go ahead."
RATING_COMMENT = "Clear mapping, quick turnaround."

#: Kickoff (done by us), the milestone the customer signs off (its only task the customer's), go-live (ours).
SPEC = [
    {"name": "Kickoff", "offset_days": 2, "fee_share_percent": 20, "tasks": [
        {"name": "Kickoff call", "offset_days": 0, "duration_days": 1, "estimated_minutes": 120,
         "assignee_role": "manager", "visibility": "shared"},
    ]},
    {"name": SIGNOFF, "offset_days": 6, "fee_share_percent": 30, "requires_signoff": True,
     "is_customer_visible": True, "tasks": [
         {"name": TASK, "offset_days": 2, "duration_days": 3, "estimated_minutes": 0,
          "assignee_role": "customer", "visibility": "shared"},
     ]},
    {"name": "Go-live", "offset_days": 12, "fee_share_percent": 50, "is_first_value": True, "tasks": [
        {"name": "Cut over", "offset_days": 10, "duration_days": 2, "estimated_minutes": 480,
         "assignee_role": "manager", "visibility": "shared"},
    ]},
]


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _new_page(browser, viewport):
    """A page in a fresh browser context (nothing shared with another: cookies, storage), logging as `page`."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(10_000)
    context.add_init_script(_REPORT_CSP_VIOLATIONS)
    pg = context.new_page()
    pg.log = PageLog(pg)
    return pg


def _assert_fits_phone(page):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways at {PHONE['width']} px: {width} px wide"


def _shots_at_both_widths(page, name, heading):
    """`name`-1366 and `name`-390 screenshots of the page, which must fit the phone's width."""
    _shot(page, f"{name}-1366")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(heading).to_be_visible(timeout=SLOW)
    _assert_fits_phone(page)
    _shot(page, f"{name}-390")
    page.set_viewport_size(WIDE)
    page.reload()
    expect(heading).to_be_visible(timeout=SLOW)


@pytest.fixture
def journey(app, make):
    """A manager, an account with a contact not yet invited, and a project from a template whose customer task
    (the only task of a milestone requiring sign-off) goes to that contact; the kickoff is done."""
    from psa.accounts.models import Account, Contact
    from psa.auth.models import User
    from psa.core.clock import org_today
    from psa.core.models import OutboxEmail
    from psa.project_templates.models import TemplateVersion
    from psa.projects import services
    from psa.projects.models import Task

    manager = make.user(role="manager", name="Mia Manager")
    account = make.account(name="Contoso Retail")
    contact = make.contact(account=account, name="Dana Customer", password=None, title="Finance lead")
    version_id = build_template(app, SPEC)
    with app.app_context():
        actor = db.session.get(User, manager.id)
        project = services.create_project(
            actor, account=db.session.get(Account, account.id), name="Contoso ERP rollout",
            kickoff_date=org_today() - timedelta(days=7), manager=actor, fee_amount=Decimal("24000"),
            template_version=db.session.get(TemplateVersion, version_id),
            role_assignees={"customer": db.session.get(Contact, contact.id)})
        kickoff = db.session.scalar(sa.select(Task).where(Task.project_id == project.id, Task.name == "Kickoff call"))
        services.update_task(actor, kickoff, status="done")
        db.session.commit()
        task = db.session.scalar(sa.select(Task).where(Task.project_id == project.id, Task.name == TASK))
        assert task.assignee_contact_id == contact.id
        ids = {"project": project.id, "task": task.id, "milestone": task.milestone_id}
        # the "assigned to you" e-mail is not the invitation: the journey reads the invitation's link only
        db.session.execute(sa.delete(OutboxEmail))
        db.session.commit()
    return {"manager": manager, "account": account, "contact": contact, **ids}


def _invitation_path(app, email: str) -> str:
    """The path of the invitation link in the newest invitation e-mail to `email` (the outbox)."""
    from psa.core.models import OutboxEmail

    with app.app_context():
        body = db.session.scalar(sa.select(OutboxEmail.body).where(
            OutboxEmail.to_address == email, OutboxEmail.subject.contains("invitation"))
            .order_by(OutboxEmail.id.desc()).limit(1))
        db.session.remove()
    assert body, f"no invitation e-mail to {email} in the outbox"
    match = re.search(r"https?://\S+(/portal/invite/[A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


@pytest.mark.browser
def test_a_contact_accepts_completes_comments_signs_off_and_rates_and_the_manager_sees_it(
        page, browser, live_server, app, journey):
    backend = app.config["BACKEND"]
    manager, contact = journey["manager"], journey["contact"]
    project_path = f"/portal/projects/{journey['project']}"

    # --- the manager invites the contact from the account page -------------------------------------------------
    staff = _new_page(browser, WIDE)
    try:
        _sign_in(staff, live_server, manager)
        staff.goto(f"{live_server}/admin/accounts/{journey['account'].id}")
        row = staff.get_by_test_id("contact-row").filter(has_text=contact.name)
        expect(row).to_contain_text("Not invited yet")
        row.get_by_role("button", name="Send invitation").click()
        expect(staff.get_by_text(f"Invitation sent to {contact.email}.")).to_be_visible(timeout=SLOW)
        expect(staff.get_by_test_id("contact-row").filter(has_text=contact.name)).to_contain_text("not signed in yet")
        _assert_clean(staff, live_server)
    except Exception:
        _shot(staff, f"portal-journey-invite-failed-{backend}")
        raise
    finally:
        staff.context.close()

    # --- the contact opens the link, chooses a password and is signed in ---------------------------------------
    page.set_viewport_size(WIDE)
    page.goto(live_server + _invitation_path(app, contact.email))
    expect(page.get_by_role("heading", name=f"Welcome, {contact.name}")).to_be_visible(timeout=SLOW)
    page.get_by_label("New password").fill(CONTACT_PASSWORD)
    page.get_by_label("Repeat the password").fill(CONTACT_PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    home_heading = page.get_by_role("heading", name="Your projects", exact=True)
    expect(home_heading).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("Your password is set. Welcome!")).to_be_visible()
    assert urlsplit(page.url).path == "/portal/"
    expect(page.get_by_test_id("waiting")).to_contain_text(TASK)
    expect(page.get_by_test_id("portal-project")).to_contain_text("Contoso ERP rollout")
    _shots_at_both_widths(page, f"portal-home-{backend}", home_heading)

    # --- the project: complete the task, comment on it ----------------------------------------------------------
    page.get_by_test_id("portal-project").get_by_role("link", name="Contoso ERP rollout").click()
    project_heading = page.get_by_role("heading", name=re.compile(r"^Contoso ERP rollout"), level=1)
    expect(project_heading).to_be_visible(timeout=SLOW)
    assert urlsplit(page.url).path == project_path
    milestone = page.locator(f"#milestone-{journey['milestone']}")
    expect(milestone.get_by_test_id("signed-off")).to_have_count(0)
    expect(milestone).to_contain_text("Needs your sign-off once it is done.")
    _shots_at_both_widths(page, f"portal-project-before-{backend}", project_heading)

    task = page.locator(f"#task-{journey['task']}")
    expect(task).to_contain_text("You")
    task.get_by_role("button", name=f"Mark {TASK} complete").click()
    expect(page.get_by_text(f"{TASK} is done. Thank you!")).to_be_visible(timeout=SLOW)
    expect(task.get_by_role("button", name=f"Mark {TASK} complete")).to_have_count(0)
    expect(task).to_contain_text("Done")

    page.get_by_label("Your comment").fill(COMMENT)
    page.get_by_test_id("comment-form").get_by_label("About").select_option(label=TASK)
    page.get_by_role("button", name="Add comment").click()
    expect(page.get_by_text("Comment added.")).to_be_visible(timeout=SLOW)
    comment = page.get_by_test_id("portal-comment").filter(has_text=COMMENT)
    expect(comment).to_contain_text(contact.name)
    expect(comment).to_contain_text(f"on {TASK}")

    # --- the milestone is done: sign it off, rate it -------------------------------------------------------------
    expect(milestone).to_contain_text("Done")
    milestone.get_by_role("button", name=f"Sign off {SIGNOFF}").click()
    expect(page.get_by_text(f"You signed off {SIGNOFF}.")).to_be_visible(timeout=SLOW)
    expect(milestone.get_by_test_id("signed-off")).to_contain_text(f"Signed off by {contact.name} on ")
    expect(milestone.get_by_role("button", name=f"Sign off {SIGNOFF}")).to_have_count(0)

    rating = milestone.get_by_test_id("rating-form")
    rating.get_by_label("4", exact=True).check()
    rating.get_by_label("Comment (optional)").fill(RATING_COMMENT)
    rating.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text(f"Thank you for rating {SIGNOFF}.")).to_be_visible(timeout=SLOW)
    expect(milestone.get_by_test_id("my-rating")).to_have_text(f"You rated it 4 out of 5: “{RATING_COMMENT}”")
    expect(milestone.get_by_test_id("rating-form")).to_have_count(0)
    _shots_at_both_widths(page, f"portal-project-{backend}", project_heading)
    _assert_clean(page, live_server)

    # --- the manager, in a new browser context, sees each on the project page and in the notifications --------
    staff = _new_page(browser, WIDE)
    try:
        _sign_in(staff, live_server, manager)
        staff.goto(f"{live_server}/projects/{journey['project']}")
        expect(staff.get_by_role("heading", name=re.compile(r"Contoso ERP rollout"), level=1)).to_be_visible(timeout=SLOW)

        row = staff.locator(f"#task-{journey['task']}")
        expect(row).to_have_attribute("data-status", "done")
        expect(row).to_contain_text(contact.name)  # the task's assignee: the contact who completed it

        internal = staff.locator(f"#milestone-{journey['milestone']}")
        expect(internal.get_by_test_id("milestone-status")).to_contain_text("Done")
        expect(internal.get_by_test_id("milestone-signoff")).to_contain_text(f"Signed off by {contact.name} on ")
        expect(internal.get_by_test_id("milestone-rating")).to_have_text(re.compile(r"^Rated 4(\.0)? / 5 by 1\s*$"))
        internal.locator("summary").first.click()  # a done milestone is one line; its ratings are inside
        ratings = internal.get_by_test_id("milestone-ratings")
        expect(ratings).to_be_visible()
        expect(ratings).to_contain_text(f"4 / 5 · {contact.name}: “{RATING_COMMENT}”")

        expect(staff.get_by_test_id("comment").filter(has_text=COMMENT)).to_contain_text("Dana Customer (customer)")

        activity = staff.locator("#activity")
        customer = f"{contact.name} (customer)"
        for sentence in (f"{customer} completed {TASK} in the portal", f"{customer} commented on {TASK} in the portal",
                         f"{customer} signed off {SIGNOFF}",
                         f"{customer} rated {SIGNOFF} 4 out of 5: “{RATING_COMMENT}”"):
            expect(activity).to_contain_text(sentence)
        _shot(staff, f"portal-journey-internal-project-{backend}")

        staff.goto(f"{live_server}/notifications")
        expect(staff.get_by_role("heading", name="Notifications")).to_be_visible(timeout=SLOW)
        notes = staff.get_by_role("listitem")
        project = "Contoso ERP rollout"
        for message in (f"{contact.name} completed {TASK} in the portal ({project}).",
                        f"{contact.name} commented on {project}: {COMMENT}",
                        f"{contact.name} signed off {SIGNOFF} ({project}).",
                        f"{contact.name} rated {SIGNOFF} 4/5 ({project})."):
            expect(notes.filter(has_text=message)).to_have_count(1)
        link = staff.get_by_role("link", name=f"{contact.name} signed off {SIGNOFF} ({project}).")
        expect(link).to_have_attribute("href", re.compile(rf"/projects/{journey['project']}#milestone-"
                                                          rf"{journey['milestone']}$"))
        _assert_clean(staff, live_server)
    except Exception:
        _shot(staff, f"portal-journey-manager-failed-{backend}")
        raise
    finally:
        staff.context.close()
