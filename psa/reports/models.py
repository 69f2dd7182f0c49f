"""Report files: a report PDF too large to build in the request (psa.reports.pdf_jobs), built by a job and kept
in the database until it is downloaded or expires."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from psa.core.db import UTCDateTime, utcnow
from psa.extensions import db

#: The reports whose PDF may be built by a job.
REPORT_FILE_KINDS = ("margin", "utilization")
#: queued (waiting for the worker) → building (claimed by one run of the job) → ready (the PDF is stored) or
#: failed (the error is stored). Queued and building are "pending": at most one per user, report and filters.
REPORT_FILE_STATES = ("queued", "building", "ready", "failed")
PENDING_STATES = ("queued", "building")


class ReportFile(db.Model):
    """A report PDF asked for by one user with given filters. While it is pending (queued or building) a partial
    unique index keeps it the only one for that user, report and filters, so a second request reuses it."""

    __tablename__ = "report_files"
    __repr_fields__ = ("kind", "state", "requested_by_id")
    __table_args__ = (
        sa.CheckConstraint("kind IN ('margin', 'utilization')", name="kind"),
        sa.CheckConstraint("state IN ('queued', 'building', 'ready', 'failed')", name="state"),
        sa.Index("uq_report_files_pending", "requested_by_id", "kind", "filters", unique=True,
                 sqlite_where=sa.text("state IN ('queued', 'building')"),
                 postgresql_where=sa.text("state IN ('queued', 'building')")),
        sa.Index("ix_report_files_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    #: The filters as canonical JSON (sorted keys): the period's first and last day and the switch.
    filters: Mapped[str] = mapped_column(sa.Text)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(sa.String(10), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a run of the job claimed it (a claim older than pdf_jobs.STALE_BUILD may be taken over).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    filename: Mapped[str] = mapped_column(sa.String(120))
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int | None] = mapped_column()

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES
