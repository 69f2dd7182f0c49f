"""Projects, their milestones and tasks, success criteria, comments and attachments (SPEC §2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psa.accounts.models import Account, Contact
from psa.auth.models import User
from psa.core.db import ExactNumeric, UTCDateTime, exact_between, utcnow
from psa.extensions import db

BILLING_MODELS = ("fixed_fee", "time_and_materials", "non_billable")
BILLING_LABELS = {"fixed_fee": "Fixed fee", "time_and_materials": "Time and materials", "non_billable": "Non-billable"}
PROJECT_STATUSES = ("planned", "active", "on_hold", "completed", "cancelled")
PROJECT_STATUS_LABELS = {"planned": "Planned", "active": "Active", "on_hold": "On hold", "completed": "Completed",
                         "cancelled": "Cancelled"}
OPEN_PROJECT_STATUSES = ("planned", "active", "on_hold")
WORK_STATUSES = ("todo", "in_progress", "blocked", "done")
WORK_STATUS_LABELS = {"todo": "To do", "in_progress": "In progress", "blocked": "Blocked", "done": "Done"}
HEALTHS = ("green", "amber", "red")
#: One vocabulary for health wherever it shows (dashboard, project page, filters): words, with the colour.
HEALTH_LABELS = {"green": "On track", "amber": "At risk", "red": "Off track"}
HEALTH_BADGES = {"green": "text-bg-success", "amber": "text-bg-warning", "red": "text-bg-danger"}
#: The longest health reason stored (one line naming the clause of SPEC §3 that decided it).
HEALTH_REASON_MAX = 200
CRITERION_STATUSES = ("not_started", "on_track", "at_risk", "achieved", "missed")
CRITERION_STATUS_LABELS = {"not_started": "Not started", "on_track": "On track", "at_risk": "At risk",
                           "achieved": "Achieved", "missed": "Missed"}

project_members = sa.Table(
    "project_members",
    db.metadata,
    sa.Column("project_id", sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

task_dependencies = sa.Table(
    "task_dependencies",
    db.metadata,
    #: The task that waits …
    sa.Column("task_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    #: … for this one to finish (finish-to-start).
    sa.Column("predecessor_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True, index=True),
    sa.CheckConstraint("task_id <> predecessor_id", name="not_self"),
)


class Project(db.Model):
    """An onboarding or implementation project for one customer account."""

    __tablename__ = "projects"
    __repr_fields__ = ("name", "status")
    __table_args__ = (
        sa.CheckConstraint("billing_model IN ('fixed_fee', 'time_and_materials', 'non_billable')",
                           name="billing_model"),
        sa.CheckConstraint("status IN ('planned', 'active', 'on_hold', 'completed', 'cancelled')", name="status"),
        sa.CheckConstraint("health IN ('green', 'amber', 'red')", name="health"),
        sa.CheckConstraint("fee_amount IS NULL OR fee_amount >= 0", name="fee"),
        sa.CheckConstraint("budget_minutes IS NULL OR budget_minutes >= 0", name="budget"),
        sa.Index("ix_projects_status_health", "status", "health"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    #: The published template version the project was made from; None for a blank project.
    template_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("template_versions.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: The day the project starts; dates from the template count working days from it.
    kickoff_date: Mapped[date] = mapped_column(sa.Date)
    #: The day the contract was signed: time to value counts calendar days from it.
    contract_signed_date: Mapped[date | None] = mapped_column(sa.Date)
    #: Planned go-live (by default the last milestone's due date).
    target_go_live_date: Mapped[date | None] = mapped_column(sa.Date)
    #: The internal user responsible for delivery.
    manager_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: fixed_fee, time_and_materials or non_billable.
    billing_model: Mapped[str] = mapped_column(sa.String(20), default="fixed_fee")
    #: The fixed fee, or the not-to-exceed amount for time and materials.
    fee_amount: Mapped[Decimal | None] = mapped_column(ExactNumeric(14, 2))
    #: Budgeted effort in minutes (shown in hours).
    budget_minutes: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(12), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Cached results of the SPEC §3 rules, refreshed by refresh_schedule() whenever the plan changes
    #: and every day by the schedule job, so lists can filter and sort on them in SQL.
    health: Mapped[str] = mapped_column(sa.String(5), default="green")
    #: Cached with health: the clause that decided it, in words ("Build is overdue by 8 working days").
    health_reason: Mapped[str] = mapped_column(sa.String(HEALTH_REASON_MAX), default="", server_default="")
    #: The milestone the reason names, if any (no foreign key: the refresh rewrites it with the reason).
    health_milestone_id: Mapped[int | None] = mapped_column()
    progress_percent: Mapped[int] = mapped_column(default=0)
    max_slip_days: Mapped[int] = mapped_column(default=0)
    schedule_refreshed_on: Mapped[date | None] = mapped_column(sa.Date)
    #: Time to value (SPEC §3): calendar days from the contract signed date (else kickoff) to the completion of
    #: the first-value milestone; set when that milestone is completed, cleared when it is reopened.
    ttv_days: Mapped[int | None] = mapped_column()
    #: Whether the portal shows the account this project's budgeted, used and remaining hours (never rates).
    portal_shows_hours: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    account: Mapped[Account] = relationship(lazy="raise")
    manager: Mapped[User] = relationship(lazy="raise")
    members: Mapped[list[User]] = relationship(secondary=project_members, lazy="raise", order_by="User.name")
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="project", order_by="Milestone.position", lazy="raise", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PROJECT_STATUSES


class Milestone(db.Model):
    """A milestone of a project: done when all its tasks are done."""

    __tablename__ = "milestones"
    __repr_fields__ = ("name", "status")
    __table_args__ = (
        sa.CheckConstraint("status IN ('todo', 'in_progress', 'blocked', 'done')", name="status"),
        sa.CheckConstraint(exact_between("fee_share_percent", ExactNumeric(5, 2), 0, 100), name="fee_share"),
        sa.Index("ix_milestones_due_open", "due_date", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    #: The due date computed when the project was made; never moves.
    baseline_due_date: Mapped[date] = mapped_column(sa.Date)
    #: The current due date.
    due_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(12), default="todo")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_customer_visible: Mapped[bool] = mapped_column(default=True)
    requires_signoff: Mapped[bool] = mapped_column(default=False)
    is_first_value: Mapped[bool] = mapped_column(default=False)
    fee_share_percent: Mapped[Decimal] = mapped_column(ExactNumeric(5, 2), default=Decimal("0"))
    #: Cached forecast and slip (SPEC §3), refreshed with the project's schedule.
    forecast_date: Mapped[date | None] = mapped_column(sa.Date)
    slip_days: Mapped[int] = mapped_column(default=0)
    #: The customer's sign-off (milestones that require it): when, and by which contact.
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_by_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(back_populates="milestones", lazy="raise")
    tasks: Mapped[list[Task]] = relationship(
        back_populates="milestone", order_by="Task.position", lazy="raise", cascade="all, delete-orphan")


class Task(db.Model):
    """A task of a milestone, for an internal user or the customer."""

    __tablename__ = "tasks"
    __repr_fields__ = ("name", "status")
    __table_args__ = (
        sa.CheckConstraint("status IN ('todo', 'in_progress', 'blocked', 'done')", name="status"),
        sa.CheckConstraint("duration_days >= 1", name="duration"),
        sa.CheckConstraint("estimated_minutes >= 0", name="estimate"),
        sa.CheckConstraint("assignee_role IN ('consultant', 'manager', 'leader', 'admin', 'customer')",
                           name="assignee_role"),
        sa.CheckConstraint("visibility IN ('internal', 'shared')", name="visibility"),
        sa.Index("ix_tasks_assignee_open", "assignee_id", "status"),
        # the open tasks by project, with every column the revenue forecast reads from them (INCLUDE on
        # PostgreSQL: an index-only scan, not a scan of every task; migration 4c8e2a7f1b36)
        sa.Index("ix_tasks_project_open", "project_id", sqlite_where=sa.text("status <> 'done'"),
                 postgresql_where=sa.text("status <> 'done'"),
                 postgresql_include=["id", "assignee_id", "assignee_role", "estimated_minutes", "forecast_date",
                                     "due_date", "baseline_due_date"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Dates computed when the project was made; never move.
    baseline_start_date: Mapped[date] = mapped_column(sa.Date)
    baseline_due_date: Mapped[date] = mapped_column(sa.Date)
    #: Current dates.
    start_date: Mapped[date] = mapped_column(sa.Date)
    due_date: Mapped[date] = mapped_column(sa.Date)
    #: Working days the task takes.
    duration_days: Mapped[int] = mapped_column(default=1)
    #: Estimated effort in minutes; the weight of progress.
    estimated_minutes: Mapped[int] = mapped_column(default=0)
    assignee_role: Mapped[str] = mapped_column(sa.String(20), default="consultant")
    #: The internal user doing it (customer tasks get a contact in the portal feature).
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: A customer task's contact (None: "the customer" as a group).
    assignee_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"),
                                                            index=True)
    visibility: Mapped[str] = mapped_column(sa.String(10), default="internal")
    status: Mapped[str] = mapped_column(sa.String(12), default="todo")
    #: Why it is blocked (required when status is blocked).
    blocked_reason: Mapped[str | None] = mapped_column(sa.String(500))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Cached forecast end (SPEC §3).
    forecast_date: Mapped[date | None] = mapped_column(sa.Date)

    milestone: Mapped[Milestone] = relationship(back_populates="tasks", lazy="raise")
    assignee: Mapped[User | None] = relationship(lazy="raise")
    predecessors: Mapped[list[Task]] = relationship(
        secondary=task_dependencies,
        primaryjoin=lambda: Task.id == task_dependencies.c.task_id,
        secondaryjoin=lambda: Task.id == task_dependencies.c.predecessor_id,
        lazy="raise",
    )


class SuccessCriterion(db.Model):
    """A measurable outcome the customer bought the product for, agreed at kickoff."""

    __tablename__ = "success_criteria"
    __repr_fields__ = ("outcome", "status")
    __table_args__ = (
        sa.CheckConstraint("status IN ('not_started', 'on_track', 'at_risk', 'achieved', 'missed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    outcome: Mapped[str] = mapped_column(sa.String(200))
    metric: Mapped[str] = mapped_column(sa.String(200), default="")
    baseline: Mapped[str] = mapped_column(sa.String(120), default="")
    target: Mapped[str] = mapped_column(sa.String(120), default="")
    current_value: Mapped[str] = mapped_column(sa.String(120), default="")
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(12), default="not_started")


class Comment(db.Model):
    """A comment on a project, milestone or task; internal, or shared with the customer."""

    __tablename__ = "comments"
    __repr_fields__ = ("project_id", "visibility")
    __table_args__ = (sa.CheckConstraint("visibility IN ('internal', 'shared')", name="visibility"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("milestones.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id", ondelete="CASCADE"))
    #: The internal author (portal comments get a contact author in the portal feature).
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: A comment written in the portal: its contact (author_id is then None); always shared.
    author_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    visibility: Mapped[str] = mapped_column(sa.String(10), default="internal")
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(lazy="raise")
    author_contact: Mapped[Contact | None] = relationship(lazy="raise")


class Attachment(db.Model):
    """A file on a task or a comment, stored outside the web root under a random name."""

    __tablename__ = "attachments"
    __repr_fields__ = ("original_name",)
    __table_args__ = (sa.CheckConstraint("size_bytes >= 0", name="size"),
                      sa.CheckConstraint("visibility IN ('internal', 'shared')", name="visibility"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    #: The name the uploader gave the file (shown, never used as a path).
    original_name: Mapped[str] = mapped_column(sa.String(255))
    #: Random name on disk.
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column()
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: A file uploaded in the portal: its contact (uploaded_by_id is then None).
    uploaded_by_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    #: 'shared' files are the customer's documents in the portal; 'internal' ones never leave the team.
    visibility: Mapped[str] = mapped_column(sa.String(10), default="internal", server_default="internal")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MilestoneRating(db.Model):
    """A contact's rating of a completed milestone (CSAT, 1 to 5, with a comment): once per contact and
    milestone (the unique constraint), never changed once given."""

    __tablename__ = "milestone_ratings"
    __repr_fields__ = ("milestone_id", "contact_id", "score")
    __table_args__ = (
        sa.UniqueConstraint("milestone_id", "contact_id", name="uq_milestone_ratings_once"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("milestones.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    #: Kept for the averages per project, template and project manager without joining back (a project's
    #: milestones never move between projects).
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: Why a milestone escalated (SPEC §2): past its due date, or forecast to finish after it.
ESCALATION_REASONS = ("overdue", "forecast_slip")
ESCALATION_REASON_LABELS = {"overdue": "Overdue", "forecast_slip": "Forecast slip"}


class Escalation(db.Model):
    """A slipping milestone escalated (SPEC §2, §3): at most one open escalation per milestone, enforced by a
    partial unique index on both databases; its level only rises while it is open; it resolves itself when
    the milestone is done or its slip returns to 0."""

    __tablename__ = "escalations"
    __repr_fields__ = ("milestone_id", "level", "resolved_at")
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        sa.CheckConstraint("reason IN ('overdue', 'forecast_slip')", name="reason"),
        sa.CheckConstraint("slip_days >= 0", name="slip"),
        sa.Index("uq_escalations_open_milestone", "milestone_id", unique=True,
                 sqlite_where=sa.text("resolved_at IS NULL"), postgresql_where=sa.text("resolved_at IS NULL")),
        sa.Index("ix_escalations_open_level", "resolved_at", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("milestones.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(20))
    #: Working days of slip when the level was last set.
    slip_days: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the level last rose (opened_at for level of opening).
    raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The level whose people were last notified, and when: notify only when the level changes.
    notified_level: Mapped[int] = mapped_column(default=0)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledgement_note: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 'done' (the milestone was completed), 'back_on_track' (its slip returned to 0) or 'project_closed' (the
    #: project was completed or cancelled with the milestone open).
    resolution: Mapped[str | None] = mapped_column(sa.String(20))


class TtvSnapshot(db.Model):
    """One night's time-to-value figures for a cohort (SPEC §3): template, segment and kickoff quarter, over
    the projects whose first-value milestone is completed. One row per cohort and day (unique), so a second
    run of the nightly job the same day replaces nothing twice."""

    __tablename__ = "ttv_snapshots"
    __repr_fields__ = ("taken_on", "template_key", "segment", "kickoff_quarter")
    __table_args__ = (
        sa.UniqueConstraint("taken_on", "template_key", "segment", "kickoff_quarter", name="uq_ttv_snapshots_cohort"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_on: Mapped[date] = mapped_column(sa.Date, index=True)
    #: The template's id, or 0 for projects made blank (no foreign key: a snapshot outlives its template).
    template_key: Mapped[int] = mapped_column()
    template_name: Mapped[str] = mapped_column(sa.String(120), default="")
    segment: Mapped[str] = mapped_column(sa.String(10))
    #: "2026-Q3": the quarter of the projects' kickoff date.
    kickoff_quarter: Mapped[str] = mapped_column(sa.String(7))
    project_count: Mapped[int] = mapped_column()
    median_days: Mapped[Decimal] = mapped_column(ExactNumeric(10, 2))
    p75_days: Mapped[Decimal] = mapped_column(ExactNumeric(10, 2))
    mean_days: Mapped[Decimal] = mapped_column(ExactNumeric(10, 2))
    #: Share of the cohort's projects with TTV ≤ the template's target (0..1); None without a target.
    within_target_share: Mapped[Decimal | None] = mapped_column(ExactNumeric(5, 4))
