"""One date format: every page and e-mail writes a date as YYYY-MM-DD, and a time of day is followed by its
zone's label (the localtime filter's "2026-12-03 15:30 PST"), never "5 Oct", "Oct 5", "10/05/2026" or a bare
"18:38". Rendered on the demo for every demo role: the pages without arguments, each project, each template,
the timesheet weeks (own and as approver), notifications after a submission, and the e-mails the app sends."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from psa.extensions import db
from tests.conftest import login_as, post_form

MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
#: Date shapes other than ISO: "5 Oct", "5 October", "Oct 5", "October 5, 2026", "10/05/2026", "05.10.2026".
OTHER_DATES = [
    re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)? (?:{MONTHS})[a-z]*\b"),
    re.compile(rf"\b(?:{MONTHS})[a-z]* \d{{1,2}}(?:st|nd|rd|th)?\b(?!:)"),
    re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
    re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{4}\b"),
]
#: A time of day: after a date, or after "at"; and a 12-hour clock anywhere.
TIME_OF_DAY = re.compile(r"(?:\b\d{4}-\d{2}-\d{2}[ T]|\bat )(\d{1,2}:\d{2})(?::\d{2})?")
TWELVE_HOUR = re.compile(r"\b\d{1,2}(?::\d{2})? ?(?:am|pm|AM|PM)\b")
#: What follows a time of day: a zone abbreviation (PST, CET, UTC) or a numeric one (+04, -0330).
ZONE_LABEL = re.compile(r" (?:[A-Z]{2,5}|[+-]\d{2}(?::?\d{2})?)\b")


#: Pages whose dates are written elsewhere (files this change does not own), judged by
#: test_the_dashboard_writes_its_weeks_as_iso_dates until they are fixed.
ELSEWHERE: dict[str, str] = {}
#: What a page may show of another shape on purpose: the import page names the date shapes a file may hold.
ALLOWED = {"/timesheets/import": {"26.01.2015", "3/4/2026"}}


def _text(html: str) -> str:
    """What a reader sees or hears: tags dropped (attributes kept out, but aria-labels and titles kept),
    scripts and styles dropped; hidden inputs' values are the app's data, not shown. The project timeline's
    SVG is judged on its own (test_the_timeline_axis_writes_days_as_iso_dates)."""
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    spoken = " ".join(re.findall(r'(?:aria-label|title|placeholder)="([^"]*)"', html))
    return re.sub(r"<[^>]+>", " ", html) + " " + spoken


def problems(where: str, text: str, allowed: set[str] = frozenset()) -> list[str]:
    found = []
    for pattern in OTHER_DATES:
        found += [f"{where}: date written as “{m.group(0)}”" for m in pattern.finditer(text)
                  if m.group(0) not in allowed]
    found += [f"{where}: 12-hour time “{m.group(0)}”" for m in TWELVE_HOUR.finditer(text)]
    for m in TIME_OF_DAY.finditer(text):
        if not ZONE_LABEL.match(text, m.end()):
            found.append(f"{where}: time without its zone “{text[m.start():m.end() + 12]!s}”")
    return found


def test_the_patterns_catch_what_they_are_for():
    assert problems("x", "Week of 5–11 Oct 2026") and problems("x", "Oct 5, 2026") and problems("x", "10/05/2026")
    assert problems("x", "submitted 2026-10-05 18:38.") and problems("x", "at 6:38 pm")
    assert not problems("x", "submitted 2026-10-05 18:38 CDT. Total 40:00, Mon 2026-10-05, Apr 2030 axis")
    assert not problems("x", "on 2026-12-03 15:30 +04 and at 09:00 UTC")


@pytest.fixture
def demo(app):
    from psa.demo import load_demo

    with app.app_context():
        credentials = load_demo()
        db.session.remove()
    return credentials


def _get_routes(app) -> list[str]:
    """GET pages without arguments (no downloads, no sign-out)."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        if any(part in rule.rule for part in (".csv", ".json", ".pdf", "logout", "healthz", "readyz", "/api/")):
            continue
        paths.append(rule.rule)
    return sorted(paths)


def test_every_page_and_e_mail_writes_dates_one_way_and_times_with_their_zone(app, demo):
    from psa.auth.models import User
    from psa.core.models import OutboxEmail
    from psa.project_templates.models import Template
    from psa.projects.models import Project
    from psa.timesheets.models import Timesheet

    with app.app_context():
        project_ids = db.session.scalars(sa.select(Project.id).order_by(Project.id)).all()
        template_ids = db.session.scalars(sa.select(Template.id).order_by(Template.id)).all()
        sheets = db.session.execute(sa.select(Timesheet.id, Timesheet.week_start, User.email)
                                    .join(User, User.id == Timesheet.user_id).order_by(Timesheet.id)).all()
        users = {u.email: u for u in db.session.scalars(sa.select(User))}
        user_ids = [u.id for u in users.values()]
    found: list[str] = []
    times_seen = 0
    pages = _get_routes(app)

    # a consultant submits this week: their approver gets a notification, the week shows its submission time
    consultant = users["consultant@demo.psa"]
    client = app.test_client()
    password = dict((email, pw) for email, _, pw in demo)
    login_as(client, consultant, password=password[consultant.email])
    draft = [s for s in sheets if s.email == consultant.email][-1]
    assert post_form(client, "/timesheets/submit", {"week": draft.week_start.isoformat()}).status_code == 302

    for email, role, secret in demo:
        client = app.test_client()
        login_as(client, users[email], password=secret)
        paths = list(pages)
        paths += [f"/projects/{pid}" for pid in project_ids]
        paths += [f"/templates/{tid}" for tid in template_ids]
        mine = [s for s in sheets if s.email == email]
        paths += [f"/timesheets?week={s.week_start.isoformat()}" for s in mine[-3:]]
        paths += [f"/timesheets/{s.id}" for s in sheets if s.email != email][-4:]
        if role == "admin":
            paths += [f"/admin/users/{uid}" for uid in user_ids[:3]]
        for path in paths:
            if path in ELSEWHERE:
                continue
            response = client.get(path)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            text = _text(response.get_data(as_text=True))
            times_seen += len(TIME_OF_DAY.findall(text))
            found += problems(f"{role} {path}", text, ALLOWED.get(path, set()))

    # the e-mails: an invitation and a password reset
    with app.test_request_context():
        from psa.auth.services import invite_user, request_password_reset

        invite_user(db.session.get(User, users["admin@demo.psa"].id), email="new.person@example.com",
                    name="New Person", role="consultant", timezone="America/Chicago")
        request_password_reset("consultant@demo.psa")
        db.session.commit()
        for mail in db.session.scalars(sa.select(OutboxEmail)):
            found += problems(f"e-mail “{mail.subject}”", f"{mail.subject}\n{mail.body}")
    assert not sorted(set(found)), "\n".join(sorted(set(found)))
    assert times_seen > 10  # submissions, approvals, sign-ins, notifications, the audit log: times were judged


def test_the_timeline_axis_writes_days_as_iso_dates():
    from datetime import date

    from psa.projects.timeline import _axis_ticks

    ticks = _axis_ticks(date(2026, 11, 23), date(2026, 12, 31), lambda day: 0.0)
    assert ticks and not problems("timeline", " ".join(tick.label for tick in ticks))


def test_the_dashboard_writes_its_weeks_as_iso_dates(app, demo):
    from psa.auth.models import User

    with app.app_context():
        users = {u.email: u for u in db.session.scalars(sa.select(User))}
    found = []
    for email, role, secret in demo:
        client = app.test_client()
        login_as(client, users[email], password=secret)
        found += problems(f"{role} /", _text(client.get("/").get_data(as_text=True)))
    assert not found, "\n".join(found)
