"""The rules of outgoing webhooks (psa.webhooks.services): endpoint validation, the signature, publish (one pending
delivery per active subscribed endpoint, in the caller's transaction), and the events the existing services publish
through psa.core.events: project created, milestone completed and signed off, project health changed (only when it
changes), escalation opened, raised and resolved, timesheet approved; ids, names and states, never money. SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pytest
import sqlalchemy as sa

from psa.core import events
from psa.core.errors import ValidationError
from psa.extensions import db
from psa.webhooks import services as webhooks
from psa.webhooks.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint
from tests.escalations.conftest import build_project, on, people, refresh_and_sweep  # noqa: F401 - people: fixture
from tests.webhooks.conftest import approve_a_week, make_endpoint

EVERY_EVENT = [name for name in WEBHOOK_EVENTS if name != "webhook.test"]
MONEY = {"fee_amount", "cost_rate", "bill_rate", "rate", "cost", "amount", "budget_minutes", "arr"}


@pytest.fixture
def held(app, monkeypatch):
    """Deliveries stay pending after the commit (no Redis, not inline), to be read."""
    monkeypatch.setitem(app.config, "PSA_INLINE_JOBS", False)
    monkeypatch.setitem(app.config, "REDIS_URL", "")


def _published(app=None) -> list[tuple[str, dict]]:
    def read():
        rows = db.session.execute(sa.select(WebhookDelivery.event, WebhookDelivery.payload)
                                  .order_by(WebhookDelivery.id)).all()
        return [(event, json.loads(payload)["data"]) for event, payload in rows]

    if app is None:
        return read()
    with app.app_context():
        return read()


@pytest.mark.parametrize(("url", "field_message"), [
    ("ftp://example.com/in", "Use an https:// (or http://) URL."),
    ("https://ann:pw@example.com/in", "Leave credentials out of the URL"),
    ("https://ann@example.com/in", "Leave credentials out of the URL"),
    ("https:///in", "Enter a valid URL"),
    ("https://example.com:99999/in", "Enter a valid URL"),
    ("https://example.com/\x00", "A URL has no spaces or control characters."),
    ("https://example.com/" + "a" * 2000, "Use at most 2000 characters."),
])
def test_bad_urls_are_refused_at_the_url_field(ctx, url, field_message):
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(None, url=url, events=["project.created"])
    assert refused.value.errors["url"].startswith(field_message)


def test_good_urls_and_events(ctx):
    endpoint = webhooks.create_endpoint(None, url=" http://10.0.0.5:8080/psa?x=1 ", description="LAN relay",
                                        events=["timesheet.approved", "project.created", "project.created"])
    assert endpoint.url == "http://10.0.0.5:8080/psa?x=1" and endpoint.events == "project.created timesheet.approved"
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    with pytest.raises(ValidationError) as refused:
        webhooks.update_endpoint(None, endpoint, url="https://example.com", events=["webhook.test"])
    assert "events" in refused.value.errors  # the test event is not subscribable
    with pytest.raises(ValidationError) as refused:
        webhooks.update_endpoint(None, endpoint, url="https://example.com", events=[])
    assert refused.value.errors == {"events": "Choose at least one event."}


def test_sign_is_hmac_sha256_of_the_raw_body():
    body = b'{"event":"webhook.test","timestamp":1}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert webhooks.sign("s3cret", body) == f"sha256={expected}" == webhooks.sign("s3cret", body.decode())
    assert webhooks.verify("s3cret", body, f"sha256={expected}")
    assert not webhooks.verify("s3cret", body + b" ", f"sha256={expected}")
    assert not webhooks.verify("s3cret", body, "")


def test_publish_makes_one_delivery_per_active_subscribed_endpoint_in_the_callers_transaction(app, ctx, held):
    subscribed, _ = make_endpoint("https://a.example/in", events=["project.created", "timesheet.approved"])
    make_endpoint("https://b.example/in", events=["escalation.opened"])
    make_endpoint("https://c.example/in", events=["project.created"], active=False)
    events.publish("project.created", {"project_id": 7, "project_name": "Acme"})
    db.session.rollback()  # the caller's transaction rolls back: nothing was published
    assert _published() == []

    events.publish("project.created", lambda: {"project_id": 7, "project_name": "Acme"})
    db.session.commit()
    ((event, data),) = _published()
    assert event == "project.created" and data["project_id"] == 7 and data["occurred_at"]
    delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
    assert (delivery.endpoint_id, delivery.state, delivery.attempts) == (subscribed, "pending", 0)
    assert delivery.next_attempt_at is not None  # due now, for the sweep when no worker got it
    with pytest.raises(ValueError):
        webhooks.publish("project.deleted", {})


def test_an_event_nobody_subscribes_to_is_not_described(app, ctx, held):
    make_endpoint("https://a.example/in", events=["escalation.opened"])
    asked = []
    events.publish("project.created", lambda: asked.append(1) or {})
    events.publish("escalation.opened", lambda: asked.append(2) or {"escalation_id": 1})
    assert asked == [2]


def test_approving_a_week_publishes_timesheet_approved(app, ctx, make, held):
    make_endpoint("https://a.example/in", events=EVERY_EVENT)
    sheet_id = approve_a_week(make, app)
    ((event, data),) = _published()
    assert event == "timesheet.approved"
    assert {k: data[k] for k in ("timesheet_id", "user_name", "week_start", "state", "approved_by_name")} == {
        "timesheet_id": sheet_id, "user_name": "Cleo Consultant", "week_start": "2026-10-05", "state": "approved",
        "approved_by_name": "Mia Manager"}


BUILD = [("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1)]),
         ("Go-live", date(2026, 12, 18), [])]


def test_the_project_services_publish_their_events(app, make, people, held):  # noqa: F811 - people: fixture
    from psa.accounts.models import Contact
    from psa.auth.models import User
    from psa.portal.work import sign_off_milestone
    from psa.projects import services
    from psa.projects.models import Milestone, Project, Task

    with app.app_context():
        make_endpoint("https://a.example/in", events=EVERY_EVENT)
    ids = build_project(app, people, make, milestones=BUILD)
    build, go_live = ids["milestones"]["Build"], ids["milestones"]["Go-live"]
    assert [event for event, _ in _published(app)] == ["project.created"]
    assert _published(app)[0][1]["project_name"] == "Contoso rollout"

    # Tue 17 Nov: Build (due Fri 13) slips: an escalation opens and the health changes, once
    refresh_and_sweep(app, date(2026, 11, 17))
    refresh_and_sweep(app, date(2026, 11, 17))
    published = _published(app)[1:]
    assert sorted(event for event, _ in published) == ["escalation.opened", "project.health_changed"]
    opened = dict(published)["escalation.opened"]
    assert (opened["project_id"], opened["milestone_id"], opened["milestone_name"], opened["level"]) == (
        ids["project"], build, "Build", 1)
    health = dict(published)["project.health_changed"]
    assert health["project_name"] == "Contoso rollout" and health["previous_health"] == "green"
    assert health["health"] in ("amber", "red") and health["reason"]

    # Thu 19: level 2
    refresh_and_sweep(app, date(2026, 11, 19))
    assert "escalation.raised" in [event for event, _ in _published(app)]

    # Build's task done: the milestone completes, the escalation resolves, health comes back
    count = len(_published(app))
    with on(app, date(2026, 11, 19)):
        mia = db.session.get(User, people["mia"].id)
        services.update_task(mia, db.session.get(Task, ids["tasks"]["Configure"]), status="done")
        db.session.commit()
    refresh_and_sweep(app, date(2026, 11, 19))
    later = dict(_published(app)[count:])
    assert later["milestone.completed"]["milestone_id"] == build
    assert later["milestone.completed"]["project_name"] == "Contoso rollout"
    assert later["escalation.resolved"]["resolution"] == "done"

    # Go-live (no tasks) marked done by hand, then signed off in the portal
    count = len(_published(app))
    contact = make.contact(account_id=ids["account"])
    with on(app, date(2026, 11, 20)):
        mia = db.session.get(User, people["mia"].id)
        milestone = db.session.get(Milestone, go_live)
        milestone.requires_signoff = True
        services.update_milestone(mia, milestone, status="done")
        db.session.commit()
        with app.test_request_context():  # the manager is told with a link
            sign_off_milestone(db.session.get(Contact, contact.id), db.session.get(Project, ids["project"]),
                               db.session.get(Milestone, go_live))
            db.session.commit()
    later = _published(app)[count:]
    assert [event for event, _ in later if event.startswith("milestone.")] == [
        "milestone.completed", "milestone.signed_off"]
    signed = dict(later)["milestone.signed_off"]
    assert (signed["milestone_name"], signed["contact_name"]) == ("Go-live", contact.name)

    for event, data in _published(app):
        assert not MONEY & set(data), (event, data)
        assert data["occurred_at"] and ("project_id" in data or event == "timesheet.approved")


def test_deleting_an_endpoint_deletes_its_log(app, ctx, held):
    endpoint_id, _ = make_endpoint("https://a.example/in", events=["project.created"])
    events.publish("project.created", {"project_id": 1})
    db.session.commit()
    webhooks.delete_endpoint(None, db.session.get(WebhookEndpoint, endpoint_id))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
