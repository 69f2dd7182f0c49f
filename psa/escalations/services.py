"""Escalations (SPEC §3 "Escalation levels"): the sweep that opens, raises and resolves them from the cached
forecast and slip (psa.projects.services.refresh_schedule writes those), notifies the people each level names
once per level, and acknowledging one.

The sweep is set-based: a constant number of statements whatever the number of milestones, each one a
conditional statement, so two sweeps at once neither duplicate an escalation (the partial unique index
uq_escalations_open_milestone decides, INSERT … ON CONFLICT DO NOTHING) nor notify twice (a notification is
claimed by `UPDATE … SET notified_level = level WHERE notified_level < level`, which one sweep wins).

Levels only rise while an escalation is open: a milestone whose slip falls from 4 to 2 working days keeps its
level 2 escalation (the people were told; the slip may come back) until it resolves, when the milestone is done,
its slip returns to 0 or its project closes (completed or cancelled: 'project_closed'; a project on hold is still
open and keeps its escalations). A later slip opens a new escalation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.exceptions import Conflict

from psa.accounts.models import Account
from psa.admin.services import get_settings
from psa.auth.models import User
from psa.core.audit import record_audit
from psa.core.clock import org_today
from psa.core.db import utcnow
from psa.core.errors import ValidationError
from psa.core.events import publish as publish_event
from psa.core.models import AuditEvent, Notification, OutboxEmail
from psa.extensions import db
from psa.projects.models import OPEN_PROJECT_STATUSES, Escalation, Milestone, Project
from psa.projects.services import refresh_schedule

#: Who each level notifies, beyond the levels below it (SPEC §3): 1 the project manager, 2 also the leaders,
#: 3 also the admins and the account's owner.
LEVEL_AUDIENCE = {1: "the project manager", 2: "the project manager and the leaders",
                  3: "the project manager, the leaders, the admins and the account owner"}
REASON_LABELS = {"overdue": "overdue", "forecast_slip": "forecast slip"}
RESOLUTION_LABELS = {"done": "milestone done", "back_on_track": "back on track", "project_closed": "project closed"}
NOTE_MAX = 500


@dataclass
class SweepResult:
    """What one sweep did."""

    opened: int = 0
    raised: int = 0
    resolved: int = 0
    #: In-app notifications and e-mails sent (one each per person and level).
    notifications: int = 0
    emails: int = 0
    projects: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {"opened": self.opened, "raised": self.raised, "resolved": self.resolved,
                "notifications": self.notifications, "emails": self.emails}

    def __str__(self) -> str:
        return (f"{self.opened} opened, {self.raised} raised, {self.resolved} resolved; "
                f"{self.notifications} notification{'' if self.notifications == 1 else 's'} and "
                f"{self.emails} e-mail{'' if self.emails == 1 else 's'} sent")


def target_level(slip_days: int, thresholds: tuple[int, int, int]) -> int:
    """SPEC §3: the escalation level a slip calls for (0: none), with the thresholds of levels 1, 2 and 3."""
    return sum(1 for threshold in thresholds if slip_days >= threshold)


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _path(endpoint: str, anchor: str | None = None, **values) -> str:
    """A path of the app, in a request or out of one (the worker has none)."""
    path = current_app.url_map.bind("localhost", script_name="/").build(endpoint, values, force_external=False)
    return f"{path}#{anchor}" if anchor else path


def milestone_path(project_id: int, milestone_id: int) -> str:
    return _path("projects.show", f"milestone-{milestone_id}", project_id=project_id)


def sweep_escalations(project_ids: Iterable[int] | None = None, today: date | None = None) -> SweepResult:
    """Open, raise and resolve the escalations of open milestones of open projects (all, or `project_ids`) from
    their cached slip, notify the people of each level reached and not yet notified, audit it (actor: the
    system), and refresh the health of the projects whose escalations changed. Flushes; the caller commits.

    A constant number of statements: one read deciding which milestones change (all there is when nothing does);
    then resolve, open, raise and claim the notifications (one statement each), the names and people (two), the
    notifications, e-mails and audit events (one insert each) and the health refresh of the projects concerned
    (refresh_schedule's fixed number)."""
    ids = None if project_ids is None else sorted(set(project_ids))
    result = SweepResult()
    if ids == []:
        return result
    settings = get_settings()
    thresholds = (settings.escalation_level1_days, settings.escalation_level2_days, settings.escalation_level3_days)
    today = today or org_today()
    now = utcnow()
    e, m, p = Escalation.__table__, Milestone.__table__, Project.__table__
    execute = db.session.execute

    def in_scope(column):
        return column.in_(ids) if ids is not None else sa.true()

    at = sa.bindparam("now", now, type_=e.c.opened_at.type)
    level = sa.case((m.c.slip_days >= thresholds[2], 3), (m.c.slip_days >= thresholds[1], 2), else_=1)
    reason = sa.case((m.c.due_date < today, "overdue"), else_="forecast_slip")
    slipping = (m.c.status != "done", m.c.slip_days >= thresholds[0], p.c.status.in_(OPEN_PROJECT_STATUSES))
    db.session.flush()

    # decide: one read finds the milestones whose escalation must open, rise or resolve (the hourly sweep over
    # an unchanged portfolio stops here, after one statement); the writes below touch only those, and each is
    # conditional, so what another sweep did meanwhile makes them no-ops rather than duplicates
    open_escalation = sa.and_(e.c.milestone_id == m.c.id, e.c.resolved_at.is_(None))
    to_open_or_raise = (sa.select(m.c.id).select_from(m).join(p, p.c.id == m.c.project_id)
                        .outerjoin(e, open_escalation)
                        .where(*slipping, in_scope(m.c.project_id), sa.or_(e.c.id.is_(None), e.c.level < level)))
    project_closed = p.c.status.not_in(OPEN_PROJECT_STATUSES)  # completed or cancelled; on hold stays open
    resolves = sa.or_(m.c.status == "done", m.c.slip_days <= 0, project_closed)
    to_resolve = (sa.select(m.c.id).select_from(e).join(m, m.c.id == e.c.milestone_id)
                  .join(p, p.c.id == m.c.project_id)
                  .where(e.c.resolved_at.is_(None), in_scope(e.c.project_id), resolves))
    changing = sorted(set(execute(sa.union_all(to_open_or_raise, to_resolve)).scalars().all()))
    if not changing:
        return result
    changes = m.c.id.in_(changing)

    # resolve: the milestone is done, its slip is back to 0, or its project closed; named 'done' when the
    # milestone is done, else 'project_closed' when the project is, else 'back_on_track'
    resolved = execute(
        sa.update(e).where(e.c.resolved_at.is_(None), m.c.id == e.c.milestone_id, p.c.id == m.c.project_id,
                           changes, resolves)
        .values(resolved_at=at, resolution=sa.case((m.c.status == "done", "done"),
                                                   (project_closed, "project_closed"), else_="back_on_track"))
        .returning(e.c.id, e.c.project_id, e.c.milestone_id, e.c.level, e.c.resolution)).all()

    # open: one statement; a milestone with an open escalation (ours, or one another sweep just opened) is left
    # to the partial unique index, which makes the row a no-op rather than a duplicate or an error
    columns = ("project_id", "milestone_id", "level", "reason", "slip_days", "opened_at", "raised_at",
               "notified_level", "acknowledgement_note")
    candidates = (sa.select(m.c.project_id, m.c.id, level, reason, m.c.slip_days, at, at, sa.literal(0),
                            sa.literal("")).select_from(m).join(p, p.c.id == m.c.project_id)
                  .where(*slipping, changes).order_by(m.c.id))
    opened = execute(
        _insert(e).from_select(columns, candidates)
        .on_conflict_do_nothing(index_elements=["milestone_id"], index_where=sa.text("resolved_at IS NULL"))
        .returning(e.c.id, e.c.project_id, e.c.milestone_id, e.c.level, e.c.slip_days, e.c.reason)).all()

    # raise: only upward while open; a raise un-acknowledges (the people of the new level are told again)
    raised = execute(
        sa.update(e).where(e.c.resolved_at.is_(None), m.c.id == e.c.milestone_id, p.c.id == m.c.project_id,
                           *slipping, changes, e.c.level < level)
        .values(level=level, slip_days=m.c.slip_days, reason=reason, raised_at=at, acknowledged_by_id=None,
                acknowledged_at=None, acknowledgement_note="")
        .returning(e.c.id, e.c.project_id, e.c.milestone_id, e.c.level, e.c.slip_days, e.c.reason)).all()

    # claim the notifications of levels reached and not yet notified: of two sweeps at once, the row's lock and
    # this condition let one claim it
    claimed = execute(
        sa.update(e).where(e.c.resolved_at.is_(None), e.c.milestone_id.in_(changing), e.c.notified_level < e.c.level)
        .values(notified_level=e.c.level, last_notified_at=at)
        .returning(e.c.id)).scalars().all()

    result.opened, result.raised, result.resolved = len(opened), len(raised), len(resolved)
    if claimed:
        result.notifications, result.emails = _notify(claimed)
    _audit([("escalation.opened", row, {"level": row.level, "slip_days": row.slip_days, "reason": row.reason})
            for row in opened]
           + [("escalation.raised", row, {"level": row.level, "slip_days": row.slip_days, "reason": row.reason})
              for row in raised]
           + [("escalation.resolved", row, {"resolution": row.resolution}) for row in resolved])
    result.projects = {row.project_id for row in (*opened, *raised, *resolved)}
    if result.projects:
        # health reads the open escalations; this refresh must not queue another sweep
        session = db.session()
        session.info["psa_no_sweep_hook"] = True
        try:
            refresh_schedule(result.projects, today)
        finally:
            session.info.pop("psa_no_sweep_hook", None)
    return result


def _audit(events: list[tuple[str, object, dict]]) -> None:
    """The sweep's audit events (actor: the system), in one insert."""
    if not events:
        return
    now = utcnow()
    db.session.execute(sa.insert(AuditEvent), [
        {"actor_id": None, "action": action, "object_type": "escalation", "object_id": row.id, "at": now,
         "before": None, "after": {"milestone_id": row.milestone_id, "project_id": row.project_id, **after}}
        for action, row, after in events])
    for action, row, after in events:  # webhooks (psa.core.events): ids, names, level or resolution; no money
        publish_event(action, lambda row=row, after=after: _event_data(row, after, now))


def _event_data(row, after: dict, at) -> dict:
    names = db.session.execute(sa.select(Project.name, Milestone.name).join(Milestone, Milestone.project_id == Project.id)
                               .where(Milestone.id == row.milestone_id)).first()
    return {"escalation_id": row.id, "project_id": row.project_id, "project_name": names[0] if names else None,
            "milestone_id": row.milestone_id, "milestone_name": names[1] if names else None, **after,
            "occurred_at": at.isoformat()}


def _notify(escalation_ids: list[int]) -> tuple[int, int]:
    """Tell the people of each claimed escalation's level, in the app and by e-mail, once per person; returns
    (notifications, e-mails)."""
    e, m, p, a = Escalation.__table__, Milestone.__table__, Project.__table__, Account.__table__
    rows = db.session.execute(
        sa.select(e.c.id, e.c.level, e.c.slip_days, e.c.reason, m.c.id.label("milestone_id"),
                  m.c.name.label("milestone"), m.c.due_date, p.c.id.label("project_id"), p.c.name.label("project"),
                  p.c.manager_id, a.c.owner_id)
        .join(m, m.c.id == e.c.milestone_id).join(p, p.c.id == e.c.project_id).join(a, a.c.id == p.c.account_id)
        .where(e.c.id.in_(escalation_ids)).order_by(e.c.id)).all()
    named = {row.manager_id for row in rows} | {row.owner_id for row in rows if row.level >= 3}
    wide = max(row.level for row in rows) >= 2
    people = db.session.execute(
        sa.select(User.id, User.name, User.email, User.role).where(
            User.is_active_user.is_(True),
            sa.or_(User.id.in_(named - {None}), User.role.in_(("leader", "admin")) if wide else sa.false()))
        .order_by(User.id)).all()
    leaders = [u for u in people if u.role == "leader"]
    admins = [u for u in people if u.role == "admin"]
    by_id = {u.id: u for u in people}
    base_url = current_app.config["PSA_BASE_URL"]
    notes: list[dict] = []
    emails: list[dict] = []
    for row in rows:
        recipients = [by_id.get(row.manager_id)]
        if row.level >= 2:
            recipients += leaders
        if row.level >= 3:
            recipients += [*admins, by_id.get(row.owner_id)]
        what = (f"is overdue (due {row.due_date.isoformat()}), {row.slip_days} working day"
                f"{'' if row.slip_days == 1 else 's'} late" if row.reason == "overdue" else
                f"forecasts {row.slip_days} working day{'' if row.slip_days == 1 else 's'} late")
        message = f"Escalation level {row.level}: {row.milestone} of {row.project} {what}"
        link = milestone_path(row.project_id, row.milestone_id)
        seen: set[int] = set()
        for person in recipients:
            if person is None or person.id in seen:
                continue
            seen.add(person.id)
            notes.append({"user_id": person.id, "message": message[:500], "link": link})
            emails.append({"to_address": person.email,
                           "subject": f"Escalation level {row.level}: {row.milestone} ({row.project})"[:200],
                           "body": f"Hello {person.name},\n\n{message}.\n\nLevel {row.level} notifies "
                                   f"{LEVEL_AUDIENCE[row.level]}.\nAcknowledge it on the escalations page: "
                                   f"{base_url}{_path('escalations.index')}\nThe milestone: {base_url}{link}\n"})
    # what psa.core.notifications.notify and psa.core.mail.queue_email add one by one, in one insert each
    # (an ORM flush would send one INSERT per row on SQLite: the statement count would grow with the rows)
    if notes:
        db.session.execute(sa.insert(Notification), notes)
        db.session.execute(sa.insert(OutboxEmail), emails)
    return len(notes), len(emails)


def acknowledge_escalation(actor, escalation: Escalation, note: str) -> Escalation:
    """Acknowledge an open escalation with a note: one conditional update (open and not yet acknowledged), so of
    two people acknowledging at once one wins and the other gets 409 and changes nothing. Audited."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX} characters."})
    now = utcnow()
    changed = db.session.execute(
        sa.update(Escalation).where(Escalation.id == escalation.id, Escalation.acknowledged_at.is_(None),
                                    Escalation.resolved_at.is_(None))
        .values(acknowledged_by_id=actor.id, acknowledged_at=now, acknowledgement_note=note)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("This escalation was acknowledged or resolved meanwhile.")
    db.session.refresh(escalation)
    record_audit(actor, "escalation.acknowledged", escalation, None,
                 {"milestone_id": escalation.milestone_id, "project_id": escalation.project_id,
                  "level": escalation.level, "note": note})
    db.session.flush()
    return escalation
