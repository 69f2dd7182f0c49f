"""Rates, weekly timesheets, time entries and time off (SPEC §2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psa.auth.models import User
from psa.core.db import ExactNumeric, UTCDateTime, utcnow
from psa.extensions import db

TIMESHEET_STATES = ("draft", "submitted", "approved", "rejected")
TIMESHEET_STATE_LABELS = {"draft": "Draft", "submitted": "Submitted", "approved": "Approved", "rejected": "Rejected"}
TIME_OFF_KINDS = ("vacation", "sick", "other")
#: The longest note an entry or an absence keeps (SPEC §4: 5,000 characters, line breaks kept).
NOTE_MAX_LENGTH = 5000
#: The longest activity name an entry keeps (an imported Harvest or Toggl task that is not one of ours).
ACTIVITY_MAX_LENGTH = 120
TIME_OFF_LABELS = {"vacation": "Vacation", "sick": "Sick", "other": "Other absence"}


class UserRate(db.Model):
    """A user's cost rate and default bill rate per hour, in force from a date until the next one."""

    __tablename__ = "user_rates"
    __repr_fields__ = ("user_id", "effective_from")
    __table_args__ = (
        sa.UniqueConstraint("user_id", "effective_from"),
        sa.CheckConstraint("cost_rate >= 0 AND bill_rate >= 0", name="non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: The first day the rates apply.
    effective_from: Mapped[date] = mapped_column(sa.Date)
    #: What an hour of this user costs the organisation.
    cost_rate: Mapped[Decimal] = mapped_column(ExactNumeric(12, 2))
    #: What an hour is billed at, unless a project's rate card says otherwise.
    bill_rate: Mapped[Decimal] = mapped_column(ExactNumeric(12, 2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectRate(db.Model):
    """A project's rate card line: the bill rate for one user, or for everyone of one role."""

    __tablename__ = "project_rates"
    __repr_fields__ = ("project_id", "role", "user_id")
    __table_args__ = (
        sa.CheckConstraint("(role IS NULL) <> (user_id IS NULL)", name="role_or_user"),
        sa.CheckConstraint("bill_rate >= 0", name="non_negative"),
        sa.UniqueConstraint("project_id", "role"),
        sa.UniqueConstraint("project_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    #: The internal role it applies to (a user line wins over a role line).
    role: Mapped[str | None] = mapped_column(sa.String(20))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    bill_rate: Mapped[Decimal] = mapped_column(ExactNumeric(12, 2))


class Timesheet(db.Model):
    """One user's ISO week (Monday start): draft → submitted → approved | rejected."""

    __tablename__ = "timesheets"
    __repr_fields__ = ("user_id", "week_start", "state")
    __table_args__ = (
        sa.UniqueConstraint("user_id", "week_start"),
        sa.CheckConstraint("state IN ('draft', 'submitted', 'approved', 'rejected')", name="state"),
        sa.Index("ix_timesheets_state", "state", "week_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: The Monday of the week.
    week_start: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(10), default="draft")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who approved or rejected it, and when.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: Why it was rejected (shown to the user).
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(500))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")

    @property
    def is_editable(self) -> bool:
        return self.state in ("draft", "rejected")


class TimeEntry(db.Model):
    """Minutes a user worked on a project (and optionally a task) on a date, with the rates in force."""

    __tablename__ = "time_entries"
    __repr_fields__ = ("user_id", "entry_date", "minutes")
    __table_args__ = (
        sa.CheckConstraint("minutes > 0 AND minutes <= 1440", name="minutes"),
        sa.CheckConstraint("bill_rate >= 0 AND cost_rate >= 0", name="rates"),
        sa.Index("ix_time_entries_user_date", "user_id", "entry_date"),
        sa.Index("ix_time_entries_project_date", "project_id", "entry_date"),
        sa.Index("ix_time_entries_date", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    timesheet_id: Mapped[int] = mapped_column(sa.ForeignKey("timesheets.id"), index=True)
    entry_date: Mapped[date] = mapped_column(sa.Date)
    minutes: Mapped[int] = mapped_column()
    billable: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(sa.String(NOTE_MAX_LENGTH), default="")
    #: The activity an imported row named ("Design", "Project Management": Harvest's and Toggl's tasks) when
    #: it is not one of the project's tasks; the entry then sits on the project without a task. Empty otherwise.
    activity: Mapped[str] = mapped_column(sa.String(ACTIVITY_MAX_LENGTH), default="", server_default="")
    #: Where the entry's line stands in its week's grid (0 the top line), as the person left it: the entries of
    #: one line share it. NULL for entries saved before lines kept their order (and the demo's): those lines
    #: come first, by account, project and task, as they did then.
    row_position: Mapped[int | None] = mapped_column()
    #: Rates per hour in force when the entry was saved; frozen once its week is approved.
    bill_rate: Mapped[Decimal] = mapped_column(ExactNumeric(12, 2), default=Decimal("0"))
    cost_rate: Mapped[Decimal] = mapped_column(ExactNumeric(12, 2), default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TimeOff(db.Model):
    """A user's absence on a date: never project time, never billable; lowers capacity."""

    __tablename__ = "time_off"
    __repr_fields__ = ("user_id", "entry_date", "kind")
    __table_args__ = (
        sa.CheckConstraint("minutes > 0 AND minutes <= 1440", name="minutes"),
        sa.CheckConstraint("kind IN ('vacation', 'sick', 'other')", name="kind"),
        sa.UniqueConstraint("user_id", "entry_date", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    timesheet_id: Mapped[int] = mapped_column(sa.ForeignKey("timesheets.id"), index=True)
    entry_date: Mapped[date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.String(10))
    minutes: Mapped[int] = mapped_column()
    note: Mapped[str] = mapped_column(sa.String(NOTE_MAX_LENGTH), default="")


# The pre-aggregated sums the reports read (psa/timesheets/totals.py says how they are kept and read).
#: The amounts' type: Σ minutes × rate (money with two places), far beyond any week's total.
AMOUNT = ExactNumeric(20, 2)

time_span_totals = sa.Table(
    "time_span_totals", db.metadata,
    sa.Column("timesheet_id", sa.Integer, sa.ForeignKey("timesheets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("billable", sa.Boolean, primary_key=True),
    #: The span's first and last day: the week's Monday or the month's first day, whichever is later; Sunday or
    #: the month's last day, whichever is earlier.
    sa.Column("span_start", sa.Date, primary_key=True),
    sa.Column("span_end", sa.Date, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("cost_amount", AMOUNT, nullable=False),
    sa.Column("bill_amount", AMOUNT, nullable=False),
    sa.Index("ix_time_span_totals_project_id", "project_id"),
    sa.Index("ix_time_span_totals_span_start", "span_start"),
)

#: Minutes logged per timesheet and task, in any state (psa/timesheets/totals.py): a task's logged minutes for the
#: estimate at completion and the forecast. Keyed by timesheet too, so writers of different weeks never meet.
task_time_totals = sa.Table(
    "task_time_totals", db.metadata,
    sa.Column("timesheet_id", sa.Integer, sa.ForeignKey("timesheets.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Index("ix_task_time_totals_task_id", "task_id"),
)
