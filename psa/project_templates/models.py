"""Templates and their versions (SPEC §2, Template). A published version never changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psa.core.db import ExactNumeric, UTCDateTime, exact_between, utcnow
from psa.extensions import db

#: Who a task is for: an internal role, or the customer.
ASSIGNEE_ROLES = ("consultant", "manager", "leader", "admin", "customer")
ASSIGNEE_ROLE_LABELS = {"consultant": "Consultant", "manager": "Project manager", "leader": "PS leader",
                        "admin": "Admin", "customer": "Customer"}
VISIBILITIES = ("internal", "shared")
VERSION_STATES = ("draft", "published")

template_task_dependencies = sa.Table(
    "template_task_dependencies",
    db.metadata,
    #: The task that waits …
    sa.Column("task_id", sa.ForeignKey("template_tasks.id", ondelete="CASCADE"), primary_key=True),
    #: … for this one to finish (finish-to-start).
    sa.Column("predecessor_id", sa.ForeignKey("template_tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.CheckConstraint("task_id <> predecessor_id", name="not_self"),
)


class Template(db.Model):
    """A named playbook; its content lives in numbered versions."""

    __tablename__ = "templates"
    __repr_fields__ = ("name",)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Name shown when creating a project ("Standard SaaS onboarding").
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    #: Target time to value in calendar days (SPEC §3: "within target" = TTV ≤ it); None: no target.
    target_ttv_days: Mapped[int | None] = mapped_column()
    #: What the template is for.
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: When the template was created.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", order_by="TemplateVersion.number", lazy="raise", cascade="all, delete-orphan")


class TemplateVersion(db.Model):
    """One version of a template: a draft being edited, or a published, frozen one."""

    __tablename__ = "template_versions"
    __repr_fields__ = ("template_id", "number", "state")
    __table_args__ = (
        sa.UniqueConstraint("template_id", "number"),
        sa.CheckConstraint("state IN ('draft', 'published')", name="state"),
        sa.CheckConstraint("target_ttv_days IS NULL OR target_ttv_days > 0", name="target_ttv"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("templates.id", ondelete="CASCADE"), index=True)
    #: 1, 2, 3… within the template.
    number: Mapped[int] = mapped_column()
    #: draft (editable) or published (frozen; projects can be made from it).
    state: Mapped[str] = mapped_column(sa.String(10), default="draft")
    #: Target time to value in calendar days, for the TTV report.
    target_ttv_days: Mapped[int | None] = mapped_column()
    #: What changed in this version.
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When and by whom it was published.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    template: Mapped[Template] = relationship(back_populates="versions", lazy="joined")
    milestones: Mapped[list[TemplateMilestone]] = relationship(
        back_populates="version", order_by="TemplateMilestone.position", lazy="raise", cascade="all, delete-orphan")
    criteria: Mapped[list[TemplateCriterion]] = relationship(
        order_by="TemplateCriterion.position", lazy="raise", cascade="all, delete-orphan")

    @property
    def is_draft(self) -> bool:
        return self.state == "draft"


class TemplateMilestone(db.Model):
    """A milestone of a template version, due a number of working days after kickoff."""

    __tablename__ = "template_milestones"
    __repr_fields__ = ("name",)
    __table_args__ = (
        sa.CheckConstraint("offset_days >= 0", name="offset"),
        sa.CheckConstraint(exact_between("fee_share_percent", ExactNumeric(5, 2), 0, 100), name="fee_share"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("template_versions.id", ondelete="CASCADE"), index=True)
    #: Order within the version, from 1.
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Working days after kickoff the milestone is due.
    offset_days: Mapped[int] = mapped_column(default=0)
    #: Shown in the customer portal.
    is_customer_visible: Mapped[bool] = mapped_column(default=True)
    #: The customer signs it off in the portal.
    requires_signoff: Mapped[bool] = mapped_column(default=False)
    #: Completing it is the customer's first value (time to value stops here); one per version.
    is_first_value: Mapped[bool] = mapped_column(default=False)
    #: Share of a fixed fee recognised when the milestone completes, in percent.
    fee_share_percent: Mapped[Decimal] = mapped_column(ExactNumeric(5, 2), default=Decimal("0"))

    version: Mapped[TemplateVersion] = relationship(back_populates="milestones", lazy="raise")
    tasks: Mapped[list[TemplateTask]] = relationship(
        back_populates="milestone", order_by="TemplateTask.position", lazy="raise", cascade="all, delete-orphan")


class TemplateTask(db.Model):
    """A task of a template milestone, starting a number of working days after kickoff."""

    __tablename__ = "template_tasks"
    __repr_fields__ = ("name",)
    __table_args__ = (
        sa.CheckConstraint("offset_days >= 0", name="offset"),
        sa.CheckConstraint("duration_days >= 1", name="duration"),
        sa.CheckConstraint("estimated_minutes >= 0", name="estimate"),
        sa.CheckConstraint("assignee_role IN ('consultant', 'manager', 'leader', 'admin', 'customer')",
                           name="assignee_role"),
        sa.CheckConstraint("visibility IN ('internal', 'shared')", name="visibility"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("template_milestones.id", ondelete="CASCADE"), index=True)
    #: Order within the milestone, from 1.
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Working days after kickoff the task starts.
    offset_days: Mapped[int] = mapped_column(default=0)
    #: Working days it takes (at least 1: a one-day task is due the day it starts).
    duration_days: Mapped[int] = mapped_column(default=1)
    #: Estimated effort in minutes (shown in hours); the weight of progress.
    estimated_minutes: Mapped[int] = mapped_column(default=0)
    #: Who does it: an internal role or the customer.
    assignee_role: Mapped[str] = mapped_column(sa.String(20), default="consultant")
    #: internal, or shared with the customer in the portal.
    visibility: Mapped[str] = mapped_column(sa.String(10), default="internal")

    milestone: Mapped[TemplateMilestone] = relationship(back_populates="tasks", lazy="raise")
    predecessors: Mapped[list[TemplateTask]] = relationship(
        secondary=template_task_dependencies,
        primaryjoin=lambda: TemplateTask.id == template_task_dependencies.c.task_id,
        secondaryjoin=lambda: TemplateTask.id == template_task_dependencies.c.predecessor_id,
        lazy="raise",
    )


class TemplateCriterion(db.Model):
    """A default success criterion copied into projects made from the version."""

    __tablename__ = "template_criteria"
    __repr_fields__ = ("outcome",)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("template_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    #: The outcome the customer wants ("Faster month-end close").
    outcome: Mapped[str] = mapped_column(sa.String(200))
    #: How it is measured ("Days to close the books").
    metric: Mapped[str] = mapped_column(sa.String(200), default="")
    #: Where it stands before the project, and where it should get to.
    baseline: Mapped[str] = mapped_column(sa.String(120), default="")
    target: Mapped[str] = mapped_column(sa.String(120), default="")
    #: Calendar days after kickoff it is due, if any.
    due_offset_days: Mapped[int | None] = mapped_column()
