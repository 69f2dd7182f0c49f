"""The audit helper keeps who changed what, from what to what."""

from __future__ import annotations

from decimal import Decimal

from psa.core.audit import record_audit, snapshot
from psa.core.notifications import mark_all_read, notify, unread_count
from psa.extensions import db


def test_only_changed_fields_are_recorded(ctx, make):
    actor = make.user(role="admin")
    target = make.user(role="consultant", weekly_capacity_hours=Decimal("40"))
    before = snapshot(target, ("role", "weekly_capacity_hours", "name"))
    target.role = "manager"
    target.weekly_capacity_hours = Decimal("32.5")
    event = record_audit(actor, "user.updated", target, before, snapshot(target, ("role", "weekly_capacity_hours", "name")))
    db.session.commit()
    assert event.actor_id == actor.id
    assert (event.object_type, event.object_id) == ("user", target.id)
    assert event.before == {"role": "consultant", "weekly_capacity_hours": "40.00"}
    assert event.after == {"role": "manager", "weekly_capacity_hours": "32.5"}
    assert event.at.tzinfo is not None


def test_system_events_have_no_actor(ctx, make):
    target = make.user()
    event = record_audit(None, "user.password_reset_requested", target)
    db.session.commit()
    assert event.actor_id is None and event.before is None


def test_notifications_count_and_mark_read(ctx, make):
    user, other = make.user(), make.user()
    notify(user, "Milestone slipped", "/projects/1")
    notify(user, "Timesheet approved")
    notify(other, "Not yours")
    db.session.commit()
    assert unread_count(user) == 2
    assert mark_all_read(user) == 2
    assert unread_count(user) == 0 and unread_count(other) == 1
