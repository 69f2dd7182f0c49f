"""Hostile and absurd input on every form of the app (SPEC §5): no value, of any field, of any POST route
in the URL map answers 5xx, and a refused post changes nothing.

The routes come from app.url_map, their url arguments from objects made here, their fields from the
pages that render their forms (parsed, with the values the page offers). Each post sends the form as the
page offers it with one field replaced by a value of the catalogue, rotating so that every field gets a
bad value and every value is tried on every route. After every accepted post the database is put back as
it was, and before every post the client's session and the rate limits, so each post meets the same world.
The walkers are the admin, a consultant, someone signed out and a contact signed in to the customer portal,
each on its own pages. A new route is covered without a new test; a POST route no walker posts to (no page
of theirs renders its form) fails the test until its page is added, but those NOT_WALKED on purpose.

The walk is one test per group of about GROUP_SIZE routes (named after its first and last route), so that
pytest-xdist spreads it over its workers. The world is built once per backend and module (`world_rows`) and
put back into the database at the start of every group; each group signs its clients in, reads the forms
off the pages and takes its own baseline, as one walk over every route did.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from psa.extensions import db, limiter
from tests.conftest import csrf_token, login_as, make_test_app
from tests.factories import PASSWORD, Factories
from tests.projects.helpers import ONBOARDING, build_template, create_project

MISSING, DUPLICATE = object(), object()
#: The catalogue: every value is posted to every route at least once.
CATALOGUE = [
    "", "x" * 100_000, "a\x00b", "😀 \u202eשלום\u202c مرحبا", "1e309", "NaN", "sNaN", "-0", "9" * 30,
    "2023-02-30", "0001-01-01", "9999-12-31", DUPLICATE, MISSING, "-1", "<script>alert(1)</script>",
]
BAD_DATES = {"2023-02-30", "0001-01-01", "9999-12-31"}
BAD_NUMBERS = {"1e309", "NaN", "sNaN", "9" * 30}
MONDAY = date(2026, 10, 5)

#: Pages whose forms the test posts to (url arguments filled from the world, as for the routes).
PAGES = [
    "/", "/notifications", "/admin/users", "/admin/users/new", "/admin/users/{user_id}", "/admin/accounts/new",
    "/admin/accounts/{account_id}", "/admin/settings", "/projects/new", "/projects/{project_id}",
    "/projects/{project_id}/edit", "/templates/new", "/templates/import", "/templates/versions/{version_id}",
    "/timesheets?week={monday}", "/timesheets/approvals", "/timesheets/rates",
    "/timesheets/rates/projects/{project_id}", "/timesheets/import", "/templates/versions/{published_version}",
    "/admin/users/{invited_id}", "/admin/accounts/{account_id}/contacts/new",
    "/admin/accounts/{account_id}/contacts/{contact_id}", "/admin/accounts/{account_id}/contact-domains",
    "/admin/jobs", "/account/api-tokens/", "/admin/webhooks/", "/admin/webhooks/new",
    "/admin/webhooks/{endpoint_id}", "/admin/webhooks/{endpoint_id}/deliveries",
    # forms a page shows only for an object or an action: an open escalation's Acknowledge, the plan's task edit
    # page, a criterion opened for editing, the bulk assign page, a draft template's task edit page (the plan's
    # quick panel and the undo of a successor shift are on the project page above: see collect_forms, walkers)
    "/escalations/", "/projects/{project_id}/tasks/{task_id}/edit", "/projects/{project_id}?edit_criterion={criterion_id}",
    "/projects/{project_id}/tasks/assign", "/templates/tasks/{template_task}/edit", "/account/password",
]
#: Routes whose forms only a page holding a failed RQ job renders (tests/jobs/test_admin_jobs.py posts to them).
NEEDS_A_FAILED_JOB = {"admin.job_retry", "admin.job_delete"}
#: Pages seen signed out (the sign-in and password pages, the portal's sign-in, invitation, e-mailed link and
#: opt-out pages).
ANONYMOUS_PAGES = ["/login", "/forgot-password", "/reset-password/{token}", "/portal/login", "/portal/link",
                   "/portal/invite/{invite_token}", "/portal/link/{signin_token}", "/portal/opt-out/{opt_out_token}"]
#: Pages a contact of the world's account, signed in to the portal, sees.
CONTACT_PAGES = ["/portal/", "/portal/projects/{project_id}"]
#: What the pages answering an accepted post with 200, not a redirect, carry: a new secret (shown this once), the
#: portal's opt-out link done (its POST answers with the page saying so).
ACCEPTED_SHOWN = ('data-testid="new-secret"', 'data-testid="webhook-secret"', 'data-testid="opted-out"')
#: Routes posted last, as each one ends what the others need (the session).
LAST = ("auth.logout", "portal.logout")
#: POST routes the walk never posts to, on purpose: signing out (it would end the admin's session) and the
#: failed RQ job's forms (NEEDS_A_FAILED_JOB). Every other POST route must be reached by a walker.
NOT_WALKED = {"auth.logout"} | NEEDS_A_FAILED_JOB


# --- reading forms out of pages ----------------------------------------------------------------------


class _Forms(HTMLParser):
    """Every <form method=post> of a page: its action and its fields with the values the page offers. A form of
    a <template> counts as one (the plan's quick panel: its script gives it the action of the plan's
    data-quick-url for the task it opens under, kept as `quick_url`)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._quick_url: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-quick-url" in a:
            self._quick_url = a["data-quick-url"]
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": {}, "types": {}, "multipart":
                          (a.get("enctype") or "") == "multipart/form-data"}
            if "data-quick-form" in a:
                self._form["quick_url"] = self._quick_url
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            form["types"][name] = "number" if a.get("inputmode") in ("decimal", "numeric") else kind
            if kind in ("checkbox", "radio"):
                form["fields"].setdefault(name, [])
                if "checked" in a:
                    form["fields"][name].append(a.get("value") or "y")
            elif kind not in ("submit", "button", "image", "reset"):
                form["fields"].setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            form["types"][name] = "select"
            form["fields"].setdefault(name, [])
            form.setdefault("first_option", {})[name] = None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if form["first_option"][self._select] is None:
                form["first_option"][self._select] = value
            if "selected" in a:
                form["fields"][self._select].append(value)
        elif tag == "textarea" and name:
            self._textarea = name
            form["types"][name] = "textarea"
            form["fields"][name] = [""]
        elif tag == "button" and name:
            form["types"][name] = "button"
            form["fields"].setdefault(name, []).append(a.get("value") or "")

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


# --- the world ---------------------------------------------------------------------------------------


def build_world(app, make) -> dict:
    """Objects for every url argument: a project from a template, a draft template, a holiday, a rate
    card line, a submitted and an approved week, a notification, an attachment, an open escalation; for the
    portal, a contact of the project's account with a password, a customer task of the project open to them and
    a done milestone awaiting their sign-off, an invitation (for the contact without a password), a sign-in link
    and an opt-out link."""
    from psa.admin.services import get_settings
    from psa.auth.models import User
    from psa.auth.services import make_token
    from psa.core.db import utcnow
    from psa.core.mail import queue_email
    from psa.project_templates import services as templates
    from psa.projects import services as projects
    from psa.projects.models import Escalation, Milestone, Task
    from psa.timesheets import services as ts

    admin = make.user(role="admin", name="Ada Admin")
    consultant = make.user(role="consultant", name="Cleo Consultant")
    other = make.user(role="consultant", name="Otto Other")
    invited = make.user(role="consultant", name="Ivy Invited", password=None)
    account = make.account(name="Acme", owner_id=admin.id)
    contact = make.contact(account, name="Pat Customer", email="pat@acme.example", password=None)
    customer = make.contact(account, name="Casey Client", email="casey@acme.example")  # the test password
    holiday = make.holiday(day=date(2030, 5, 1))
    make.notification(admin)
    version_id = build_template(app, ONBOARDING)
    project = create_project(app, version_id, admin.id, account.id, date(2026, 9, 1),
                             member_ids=(consultant.id, other.id), billing_model="time_and_materials")
    with app.app_context():
        actor = db.session.get(User, admin.id)
        draft = templates.create_template(actor, name="Draft template")
        milestone = templates.add_milestone(actor, draft, name="Phase", offset_days=2)
        task = templates.add_task(actor, milestone, name="Step", offset_days=0, duration_days=1)
        templates.add_task(actor, milestone, name="Next step", offset_days=1, duration_days=1)
        templates.add_milestone(actor, draft, name="Phase two", offset_days=5)
        criterion = templates.add_criterion(actor, draft, outcome="Faster close")
        templates.add_criterion(actor, draft, outcome="Fewer errors")
        get_settings().brand_logo_filename = "missing.png"
        p = projects.load_project(project["id"])
        project_criterion = projects.save_criterion(actor, p, outcome="Adoption", metric="Users")
        attachment = projects.add_attachment(actor, p, filename="notes.txt", data=b"notes")
        line = ts.set_project_rate(actor, p, bill_rate="150", role="consultant")
        task_id = db.session.scalar(sa.select(Task.id).where(Task.project_id == p.id).order_by(Task.id))
        milestone_id = db.session.scalar(sa.select(Milestone.id).where(Milestone.project_id == p.id))
        sheets = {}
        for who, state in ((consultant, "submitted"), (other, "approved")):
            user = db.session.get(User, who.id)
            ts.save_week(user, user, MONDAY, [ts.GridRow(project_id=p.id, task_id=task_id, billable=True,
                                                         cells={MONDAY: ts.GridCell("1:30")})])
            sheet = ts.get_timesheet(user, MONDAY)
            ts.submit_timesheet(user, sheet)
            if state == "approved":
                ts.approve_timesheet(actor, sheet)
            sheets[state] = sheet.id
        token = make_token(db.session.get(User, other.id))
        from psa.api.services import create_token

        owner = db.session.get(User, admin.id)
        api_token = create_token(owner, owner, "bad-input walk")[0].id
        from psa.webhooks.models import WebhookDelivery
        from psa.webhooks.services import create_endpoint

        hook = create_endpoint(owner, url="https://hooks.example.com/psa", events=["project.created"])
        db.session.flush()
        dead = WebhookDelivery(endpoint_id=hook.id, event="project.created", payload="{}", state="failed",
                               attempts=5, error="connection refused")  # the delivery log's Retry
        db.session.add(dead)
        db.session.flush()
        hook_ids = {"endpoint": hook.id, "delivery": dead.id}
        failed = queue_email("bounced@example.com", "Never delivered", "body")  # the jobs page's Retry
        failed.state, failed.attempts = "failed", 5
        db.session.commit()
        email_id = failed.id
        template_id = draft.template_id
        ids = dict(draft_version=draft.id, template_milestone=milestone.id, template_task=task.id,
                   template_criterion=criterion.id, criterion=project_criterion.id, attachment=attachment.id,
                   line=line.id, task=task_id, milestone=milestone_id, template=template_id)
        # the escalations page's Acknowledge (the sweep that opens escalations runs as a job, not here)
        db.session.add(Escalation(project_id=p.id, milestone_id=milestone_id, level=2, reason="overdue", slip_days=3))
        # the portal: an open shared customer task (Mark complete) and a done milestone requiring sign-off
        # (Sign off, and the rating form)
        customer_task = projects.add_task_to_milestone(
            actor, db.session.get(Milestone, milestone_id), name="Send the user list", start_date=date(2026, 9, 1),
            visibility="shared", assignee_role="customer")
        acceptance = projects.add_milestone_to_project(actor, p, name="Acceptance", due_date=date(2026, 9, 30))
        acceptance.requires_signoff = True
        tested = projects.add_task_to_milestone(actor, acceptance, name="Acceptance test", start_date=date(2026, 9, 1),
                                                visibility="shared", assignee_role="customer")
        projects.update_task(actor, tested, status="done")
        db.session.flush()
        projects.refresh_schedule([p.id])
        db.session.commit()
        assert db.session.get(Milestone, acceptance.id).status == "done"
        ids |= {"customer_task": customer_task.id, "signoff_milestone": acceptance.id}
    with app.test_request_context():
        from psa.accounts.models import Contact, PortalLink
        from psa.core.models import OutboxEmail
        from psa.portal.emails import opt_out_token
        from psa.portal.services import invite_contact, request_sign_in_link

        def mailed_token(kind: str) -> str:  # the link of the e-mail just queued
            body = db.session.scalars(sa.select(OutboxEmail.body).order_by(OutboxEmail.id.desc())).first()
            return re.search(rf"/portal/{kind}/([A-Za-z0-9_\-]+)", body).group(1)

        invite_contact(None, db.session.get(Contact, contact.id))
        ids["invite_token"] = mailed_token("invite")
        request_sign_in_link(customer.email)
        ids["signin_token"] = mailed_token("link")
        # the links outlive the walk (a sign-in link works 15 minutes; the world is built once per module)
        db.session.execute(sa.update(PortalLink).values(expires_at=utcnow() + timedelta(days=3650)))
        ids["opt_out_token"] = opt_out_token(db.session.get(Contact, customer.id))
        db.session.commit()
    return {"admin": admin, "consultant": consultant, "other": other, "account": account.id,
            "invited": invited.id, "published_version": version_id,
            "holiday": holiday.id, "project": project["id"], "sheets": sheets, "token": token,
            "contact": contact.id, "email": email_id, "api_token": api_token, "customer": customer,
            **hook_ids, **ids}


def url_args(world: dict, endpoint: str) -> dict:
    """The url arguments of a route, by name, for the objects of the world (templates' ids for the
    template builder's routes)."""
    builder = endpoint.startswith("project_templates.")
    sheet = world["sheets"]["approved" if endpoint.endswith("reopen") else "submitted"]
    portal = {}
    if endpoint.startswith("portal.") and "customer_task" in world:
        # the contact's open customer task, the done milestone awaiting their sign-off, their links' tokens
        token = {"portal.accept_invitation": "invite_token", "portal.sign_in_link": "signin_token",
                 "portal.opt_out": "opt_out_token"}.get(endpoint)
        portal = {"task_id": world["customer_task"], "milestone_id": world["signoff_milestone"],
                  **({"token": world[token]} if token else {})}
    return {
        "published_version": world["published_version"], "invited_id": world["invited"],
        "project_id": world["project"], "account_id": world["account"], "contact_id": world["contact"],
        "user_id": world["invited"] if endpoint.endswith("reinvite") else world["other"].id,
        "holiday_id": world["holiday"], "attachment_id": world["attachment"], "line_id": world["line"],
        "sheet_id": sheet, "token": world["token"], "template_id": world["template"],
        "email_id": world["email"], "job_id": "no-such-job", "file_id": 987654321,
        "token_id": world.get("api_token", 987654321), "endpoint_id": world.get("endpoint", 987654321),
        "delivery_id": world.get("delivery", 987654321),
        "version_id": world["published_version"] if endpoint.endswith("draft_new") else world["draft_version"],
        "task_id": world["template_task"] if builder else world["task"],
        "milestone_id": world["template_milestone"] if builder else world["milestone"],
        "criterion_id": world["template_criterion"] if builder else world["criterion"],
    } | portal


def fill(pattern: str, world: dict) -> str:
    """A page's path: its {names} filled from url_args, or else from the world's own ids and tokens."""
    own = {name: value for name, value in world.items() if isinstance(value, int | str)}
    values = own | url_args(world, "") | {"monday": MONDAY.isoformat()}
    return pattern.format(**values)


# --- the database as it is ---------------------------------------------------------------------------


def dump(app) -> dict:
    """Every row of every table."""
    with app.app_context():
        with db.engine.connect() as conn:
            return {table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
                    for table in db.metadata.sorted_tables}


def _rewrite(conn, tables: list, rows: dict) -> None:
    for table in reversed(tables):
        conn.execute(table.delete())
    for table in tables:
        conn.execute(table.delete())  # what triggers of the tables written before it put there
        if rows[table.name]:
            columns = [c.name for c in table.columns]
            conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows[table.name]])


def restore(app, rows: dict) -> None:
    """Put every table back as `rows` had it. The tables a trigger keeps (the time totals from time_entries' inserts
    and deletes, the report cache's version from every report table's) are written a second time, as `rows` has
    them: the triggers wrote to them too."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            _rewrite(conn, db.metadata.sorted_tables, rows)
            moved = [table for table in db.metadata.sorted_tables
                     if sorted((tuple(row) for row in conn.execute(table.select())), key=repr) != rows[table.name]]
            _rewrite(conn, moved, rows)


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


# --- posting -----------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GOOD_FILES = {
    "logo": ("logo.png", PNG),
    "attachment-file": ("notes.txt", b"some notes"),
}


def good_file(path: str, field: str):
    if field in GOOD_FILES:
        return GOOD_FILES[field]
    if path.startswith("/timesheets/import"):
        return ("time.csv", b"date,email,project,task,hours,billable,note\n")
    if path.startswith("/templates/import"):
        return ("template.json", json.dumps({"name": "Imported", "milestones": []}).encode())
    return ("file.txt", b"data")


def payload(form: dict, path: str, field: str | None, value) -> MultiDict:
    """The form as its page offers it, with `field` replaced by `value` (or left out, or sent twice)."""
    data = MultiDict()
    for name, values in form["fields"].items():
        kind = form["types"].get(name)
        if kind == "file":
            filename, content = good_file(path, name)
            data.add(name, (io.BytesIO(content), filename))
            continue
        if kind == "select" and not values and form.get("first_option", {}).get(name) is not None:
            values = [form["first_option"][name]]
        for v in values:
            data.add(name, v)
    if field is None:
        return data
    kind = form["types"].get(field)
    original = data.getlist(field)
    if value is MISSING:
        data.poplist(field)
    elif value is DUPLICATE:
        if kind == "file":
            data.add(field, (io.BytesIO(b"second"), "second.txt"))
        else:
            data.add(field, original[0] if original else "x")
            data.add(field, "9999-12-31")
    elif kind == "file":
        data.poplist(field)
        content = b"" if value == "" else b"data"
        data.add(field, (io.BytesIO(content), (value or "empty.txt")[:300]))
    else:
        data.poplist(field)
        data.add(field, value)
    return data


def must_refuse(form: dict, field: str, value) -> bool:
    """Whether the value has to be refused by the field (400), not merely survived."""
    if isinstance(value, str) and "\x00" in value:
        return True
    kind = form["types"].get(field)
    if kind == "date" and value in BAD_DATES:
        return True
    return kind == "number" and value in BAD_NUMBERS


def post_rules(app) -> list:
    """Every form's POST route. The JSON API (api.*) has no forms: its bad-input catalogue is schemathesis's
    (tests/api/test_schemathesis.py) and each resource's own tests."""
    rules = [r for r in app.url_map.iter_rules() if "POST" in r.methods and not r.endpoint.startswith("api.")]
    return sorted(rules, key=lambda r: (r.endpoint in LAST, r.endpoint, r.rule))


#: Routes in a group of the walk (one test each, spread by pytest-xdist).
GROUP_SIZE = 6


def _route_groups() -> list[tuple[str, ...]]:
    """The endpoints of post_rules, in its order, cut into groups of at most GROUP_SIZE (read off an app made for
    the URL map only: no database is opened)."""
    endpoints = [rule.endpoint for rule in post_rules(make_test_app("sqlite://", Path(tempfile.gettempdir())))]
    count = -(-len(endpoints) // GROUP_SIZE)
    size = -(-len(endpoints) // count)
    return [tuple(endpoints[i:i + size]) for i in range(0, len(endpoints), size)]


ROUTE_GROUPS = _route_groups()


def collect_forms(client, pages: list[str], world: dict) -> dict[str, list[dict]]:
    """Forms by the path they post to (query strings kept apart)."""
    found: dict[str, list[dict]] = {}
    for page in pages:
        response = client.get(fill(page, world))
        assert response.status_code == 200, f"{page}: {response.status_code}"
        for form in forms_of(response.get_data(as_text=True)):
            if form.get("quick_url"):  # as psa/static/js/plan.js's quickUrl, for the world's task
                form["action"] = form["quick_url"].replace("/0/quick", f"/{world['task']}/quick")
            action = form["action"] or fill(page, world)
            form["url"] = action
            found.setdefault(urlsplit(action).path, []).append(form)
    return found


def merged(forms: list[dict]) -> dict:
    """One form of all those posting to the same path (the first one's values win)."""
    result = {"fields": {}, "types": {}, "first_option": {}, "url": forms[0]["url"]}
    for form in forms:
        for name, values in form["fields"].items():
            result["fields"].setdefault(name, values)
        for name, kind in form["types"].items():
            result["types"].setdefault(name, kind)
        result["first_option"].update({k: v for k, v in form.get("first_option", {}).items()
                                       if k not in result["first_option"]})
    return result


def plan(app, rules, forms: dict, world: dict, only=None, unseen: set | None = None):
    """The posts of the walk, in order: (rule, form, path, url, field, value) for each route of `rules` that
    `only` keeps, each field getting a bad value and each value of the catalogue tried, rotating from the
    route's place in `rules`. Routes no page renders a form for go into `unseen`."""
    for offset, rule in enumerate(rules):
        if only and not only(rule):
            continue
        path = app.url_map.bind("localhost").build(rule.endpoint, {k: v for k, v in url_args(
            world, rule.endpoint).items() if k in rule.arguments})
        found = forms.get(path)
        if not found:
            unseen.add(rule.endpoint)
            continue
        form = merged(found)
        url = form["url"] if urlsplit(form["url"]).path == path else path
        fields = [name for name in form["fields"] if name != "csrf_token"] or ["submit"]
        for i in range(max(len(fields), len(CATALOGUE))):
            yield rule, form, path, url, fields[i % len(fields)], CATALOGUE[(i + offset) % len(CATALOGUE)]


def hammer(app, client, rules, forms: dict, world: dict, baseline: dict, only=None,
           unseen: set | None = None) -> tuple[list[str], int]:
    """Post the catalogue to every route; the problems found, and the number of posts made. Routes no
    page renders a form for go into `unseen`."""
    problems: list[str] = []
    posts = 0
    token = next(f["fields"]["csrf_token"][0] for forms_ in forms.values() for f in forms_
                 if f["fields"].get("csrf_token"))
    with client.session_transaction() as session:
        signed_in = dict(session)
    for rule, form, path, url, field, value in plan(app, rules, forms, world, only, unseen):
        # each post meets the same world: the client's session as its pages left it (signed in or out, the undo
        # of the successor shift still to do, no messages of the posts before), no rate limit spent
        with client.session_transaction() as session:
            session.clear()
            session.update(signed_in)
        with app.app_context():
            limiter.reset()
        data = payload(form, path, field, value)
        data.setlist("csrf_token", [token])
        response = client.post(url, data=data, content_type="multipart/form-data")
        posts += 1
        shown = "MISSING" if value is MISSING else "DUPLICATE" if value is DUPLICATE else repr(value[:30])
        where = f"{rule.endpoint} {field}={shown}"
        if response.status_code >= 500:
            problems.append(f"{where}: {response.status_code}")
        if isinstance(value, str) and "\x00" in value and response.status_code != 400:
            problems.append(f"{where}: {response.status_code}, not 400 at the boundary")
        after = dump(app)
        # an accepted post redirects; any other answer (a 4xx, or the form again) is a refusal, except the
        # pages that show a new secret once (an API token, a webhook's signing secret) and the opt-out's
        # confirmation: their 200 is the accepted post's answer
        accepted_200 = response.status_code == 200 and any(
            marker in response.get_data(as_text=True) for marker in ACCEPTED_SHOWN)
        if not 300 <= response.status_code < 400 and not accepted_200:
            moved = changed_tables(baseline, after)
            if moved:
                problems.append(f"{where}: refused ({response.status_code}) but changed {moved}")
        elif must_refuse(form, field, value):
            problems.append(f"{where}: accepted ({response.status_code}), should be refused")
        if after != baseline:
            restore(app, baseline)
    return problems, posts


@pytest.fixture(scope="module")
def world_rows(app):
    """The world, built once per backend for this module's tests: its objects and every row it holds."""
    world = build_world(app, Factories(app))
    return world, dump(app)


#: The sign-in, password and link pages: someone signed out posts to them (the internal ones and the portal's).
SIGNED_OUT = ("auth.login", "auth.forgot_password", "auth.reset_password", "portal.login", "portal.request_link",
              "portal.accept_invitation", "portal.sign_in_link", "portal.opt_out")
#: Who walks which routes: the admin every internal route but the sign-in ones (its own password's change
#: included), a consultant their own week's grid, someone signed out the sign-in, password and link pages, a
#: contact signed in to the portal its pages.
WALKERS = {
    "admin": lambda rule: rule.endpoint == "auth.change_password" or not rule.endpoint.startswith(("auth.", "portal.")),
    "consultant": lambda rule: rule.endpoint in ("timesheets.save", "timesheets.submit"),
    "anonymous": lambda rule: rule.endpoint in SIGNED_OUT,
    "contact": lambda rule: rule.endpoint.startswith("portal.") and rule.endpoint not in SIGNED_OUT,
}


def portal_sign_in(client, contact) -> None:
    """Sign a contact in through the portal's sign-in form, as they would."""
    token = csrf_token(client, "/portal/login")
    response = client.post("/portal/login", data={"csrf_token": token, "email": contact.email, "password": PASSWORD})
    assert response.status_code == 302, f"portal sign-in failed for {contact.email}: {response.status_code}"


def shift_successors(client, world: dict) -> None:
    """Move the world's task two weeks later with the tasks that follow it, through its edit page: the project
    page then shows, once, the line under the task with the Undo of the move (projects.undo_shift)."""
    path = f"/projects/tasks/{world['task']}"
    page = client.get(fill("/projects/{project_id}/tasks/{task_id}/edit", world)).get_data(as_text=True)
    [form] = [form for form in forms_of(page) if form["action"] == path]
    data = payload(form, path, None, None)
    prefix = f"task-{world['task']}-"
    data.setlist(prefix + "due_date", [(date.fromisoformat(data[prefix + "due_date"]) + timedelta(days=14)).isoformat()])
    data.setlist(prefix + "shift_successors", ["y"])
    response = client.post(path, data=data)
    assert response.status_code == 302, f"the task's change was refused: {response.status_code}"


def walkers(app, world_rows) -> tuple[dict, dict]:
    """The world put back into the database (the tests before emptied it), its clients signed in, the world's
    task moved with its successors (for the Undo), and the forms each one's pages offer: (clients, forms) by
    walker."""
    world, rows = world_rows
    restore(app, rows)
    assert dump(app) == rows
    clients = {who: app.test_client() for who in WALKERS}
    login_as(clients["admin"], world["admin"])
    login_as(clients["consultant"], world["consultant"])
    portal_sign_in(clients["contact"], world["customer"])
    shift_successors(clients["admin"], world)
    pages = {"admin": PAGES, "consultant": ["/timesheets?week={monday}"], "anonymous": ANONYMOUS_PAGES,
             "contact": CONTACT_PAGES}
    return clients, {who: collect_forms(clients[who], pages[who], world) for who in WALKERS}


def unwalked(rules, unseen: dict) -> set:
    """The routes of `rules` no walker posts to (none takes it, or no page of the one that does renders its
    form), but those NOT_WALKED on purpose."""
    return {rule.endpoint for rule in rules if not any(
        walks(rule) and rule.endpoint not in unseen[who] for who, walks in WALKERS.items())} - NOT_WALKED


@pytest.mark.parametrize("group", ROUTE_GROUPS, ids=lambda group: f"{group[0]}..{group[-1]}")
def test_every_post_route_answers_bad_values_without_5xx_and_a_refusal_changes_nothing(app, world_rows, group):
    world = world_rows[0]
    clients, forms = walkers(app, world_rows)
    baseline = dump(app)
    rules = post_rules(app)  # the whole walk's order: each route's rotation of the catalogue starts where it did
    assert set(group) <= {rule.endpoint for rule in rules}, "the URL map changed since collection"

    problems, posts, unseen = [], 0, {who: set() for who in WALKERS}
    for who, walks in WALKERS.items():
        more, count = hammer(app, clients[who], rules, forms[who], world, baseline, unseen=unseen[who],
                             only=lambda rule, walks=walks: rule.endpoint in group and walks(rule))
        problems += more
        posts += count
    in_group = [rule for rule in rules if rule.endpoint in group]
    problems += [f"{endpoint}: no walker posts to it (no page of PAGES, CONTACT_PAGES or ANONYMOUS_PAGES renders its "
                 "form, or no walker takes it)" for endpoint in sorted(unwalked(in_group, unseen))]
    assert not problems, "\n".join(problems[:80]) + f"\n({len(problems)} problems in {posts} posts)"


def test_the_walk_groups_cover_every_post_route_and_make_hundreds_of_posts(app, world_rows):
    """The groups above, together: every route of the URL map in one of them once, and the posts of all of
    them (counted off the same plan they post) more than 500."""
    world = world_rows[0]
    _, forms = walkers(app, world_rows)
    rules = post_rules(app)
    grouped = [endpoint for group in ROUTE_GROUPS for endpoint in group]
    assert grouped == [rule.endpoint for rule in rules]
    unseen = {who: set() for who in WALKERS}
    posts = sum(1 for who, walks in WALKERS.items()
                for _ in plan(app, rules, forms[who], world, only=walks, unseen=unseen[who]))
    assert not unwalked(rules, unseen), sorted(unwalked(rules, unseen))
    assert posts > 500


JUNK_QUERY = {
    "page": "99999999999999999999", "q": "x" * 5000, "role": "😀", "segment": "9" * 30, "type": "\u202e",
    "status": "sNaN", "health": "NaN", "manager": "9" * 32, "account": "9" * 32, "template": "-1",
    "sort": "-" * 50, "week": "9999-12-31", "user": "9" * 32, "account_id": "9" * 32, "copy": "last",
    "date_from": "0001-01-01", "date_to": "2023-02-30", "user_id": "9" * 32, "project_id": "1e309",
    "state": "x" * 1000, "next": "//evil.example",
}


def test_every_page_answers_junk_query_parameters_without_5xx(app, make, client):
    world = build_world(app, make)
    login_as(client, world["admin"])
    problems = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static"):
            continue
        if rule.endpoint.startswith("api."):  # token-only: 401 here; fuzzed with a token by schemathesis
            continue
        path = app.url_map.bind("localhost").build(rule.endpoint, {k: v for k, v in url_args(
            world, rule.endpoint).items() if k in rule.arguments})
        for query in ({"page": "99999999999999999999"}, JUNK_QUERY):
            response = client.get(path, query_string=query)
            if response.status_code >= 500:
                problems.append(f"{rule.endpoint} {sorted(query)}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_a_nul_or_invalid_text_anywhere_in_a_request_answers_400_with_our_page(app, make, client):
    world = build_world(app, make)
    login_as(client, world["admin"])
    for query in ("q=a%00b", "q=%ff%fe", "q=%ed%a0%80", "a%01b=1"):
        response = client.get(f"/admin/users?{query}")
        assert response.status_code == 400, query
        assert "cannot be stored" in response.get_data(as_text=True)
    response = client.get("/admin/users?q=tab%09and%0Anewline")
    assert response.status_code == 200


def test_a_page_number_past_any_count_shows_the_last_page(app, make, client):
    world = build_world(app, make)
    login_as(client, world["admin"])
    for path in ("/admin/users", "/admin/accounts", "/admin/audit", "/notifications", "/"):
        response = client.get(path, query_string={"page": "99999999999999999999"})
        assert response.status_code == 200, path


def test_the_timesheet_of_a_week_outside_the_window_is_not_saved(app, make):
    world = build_world(app, make)
    client = app.test_client()
    login_as(client, world["consultant"])
    token = csrf_token(client, "/timesheets")
    for week in ("1999-12-27", "2100-01-04", "9999-12-27"):
        response = client.post(f"/timesheets?week={week}", data={
            "csrf_token": token, "rows-0-project": str(world["project"]), f"rows-0-{week}": "1:00"})
        assert response.status_code == 400, week


def test_grid_cells_with_absurd_durations_get_a_message_and_save_nothing(app, make):
    from psa.timesheets.models import TimeEntry

    world = build_world(app, make)
    client = app.test_client()
    login_as(client, world["consultant"])
    token = csrf_token(client, "/timesheets")
    day = MONDAY + timedelta(days=7)
    with app.app_context():
        entries = db.session.scalar(sa.select(sa.func.count(TimeEntry.id)))
    for text in ("9" * 29, "sNaN", "1e309", "99999999999999999999999999999h", "1:99"):
        response = client.post(f"/timesheets?week={day.isoformat()}", data={
            "csrf_token": token, "rows-0-project": str(world["project"]), f"rows-0-{day.isoformat()}": text})
        assert response.status_code == 400, text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(TimeEntry.id))) == entries


def test_a_refused_post_of_a_decimal_field_never_raises(app, make):
    """sNaN in each decimal field of the app gets a message at that field (the forms' DecimalFields)."""
    from psa.admin.forms import AccountForm, SettingsForm, UserForm
    from psa.project_templates.forms import MilestoneForm as TemplateMilestoneForm
    from psa.project_templates.forms import TaskForm as TemplateTaskForm
    from psa.projects.forms import NewTaskForm, ProjectForm

    cases = [(UserForm, "weekly_capacity_hours"), (AccountForm, "arr"), (SettingsForm, "utilization_target_percent"),
             (ProjectForm, "fee_amount"), (ProjectForm, "budget_hours"), (NewTaskForm, "estimated_hours"),
             (TemplateTaskForm, "estimated_hours"), (TemplateMilestoneForm, "fee_share_percent")]
    with app.test_request_context(method="POST"):
        for form_class, name in cases:
            for text in ("sNaN", "NaN", "Infinity", "-inf", "1e3", "9" * 30, "1.234"):
                form = form_class(formdata=MultiDict({name: text}), meta={"csrf": False})
                if hasattr(getattr(form, "owner_id", None), "choices"):
                    form.owner_id.choices = []
                form.validate()
                assert getattr(form, name).errors, (form_class.__name__, name, text)
                assert getattr(form, name).data is None or getattr(form, name).data.is_finite()
            form = form_class(formdata=MultiDict({name: "12.5"}), meta={"csrf": False})
            assert getattr(form, name).data == Decimal("12.5")
