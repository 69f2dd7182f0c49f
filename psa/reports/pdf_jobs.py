"""Report PDFs built by a job (issue 15): the rules.

A report PDF of at most THRESHOLD rows is rendered in the request, as before. Past it (more than 50 projects for
the margin report; more than 50 people for the utilization report, whose rows are people, not projects) the PDF
route records a ReportFile and has the job psa.reports.tasks.build_report_pdf_job build it (psa.core.queue.dispatch:
by the worker when Redis answers, in the request otherwise), then sends the user to the file's page, which shows
its state and, once ready, a Download button.

- One pending file per user, report and filters: the filters are stored as canonical JSON (the period's first and
  last day, already resolved, and the switch) and a partial unique index on (requester, kind, filters) over the
  queued and building files decides between two requests at once; the loser reuses the winner's file.
- The job is idempotent and safe to run twice at once: a run first claims the file by a conditional update
  (queued → building, or a building claim older than STALE_BUILD taken over), committed before it renders; a run
  that claims nothing does nothing. It renders from the same service call as the page (margin_report /
  utilization_report with the stored filters) and the same print template, in its own app context and session.
- A file queued or building for longer than STALE_BUILD (its job lost with Redis, or its worker killed) is marked
  failed by the next request for the same filters, which queues a new one.
- Only the requester (and admins) may see or download a file; anyone else gets 404, as for a missing one.
- Files expire EXPIRY (24 hours) after they were asked for: they answer 404 from then on, and every run of the job
  deletes the expired ones (no cron entry needed: files are only made by requests that also run the job).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, redirect, url_for
from sqlalchemy.exc import IntegrityError

from psa.core import clock
from psa.core.db import begin_write
from psa.core.pdf import html_to_pdf, pdf_download
from psa.core.queue import dispatch
from psa.extensions import db
from psa.reports.models import PENDING_STATES, ReportFile
from psa.reports.services import Period

log = logging.getLogger(__name__)

#: A report with more rows than this is built by a job.
THRESHOLD = 50
#: How long a built (or failed) file is kept.
EXPIRY = timedelta(hours=24)
#: A claim (or a queued file) older than this is taken to be lost: another run may take it over.
STALE_BUILD = timedelta(minutes=15)
JOB = "psa.reports.tasks.build_report_pdf_job"
STATE_LABELS = {"queued": "Queued: waiting for the worker to start it.",
                "building": "Building the PDF…",
                "ready": "Ready.",
                "failed": "Failed."}


@dataclass(frozen=True)
class PdfKind:
    """A report whose PDF may be built by a job."""

    title: str
    #: The report's page and its PDF route (the "try again" link asks for the PDF again).
    page_endpoint: str
    pdf_endpoint: str
    #: What the threshold counts, for the page ("projects", "people").
    rows_name: str

    def parts(self):
        """(report service, row count of a report, print HTML of a report): imported on use, as the report modules
        import this one."""
        if self.page_endpoint == "reports.margin":
            from psa.reports.margin import margin_pdf_html, margin_report

            return margin_report, lambda report: len(report.projects), margin_pdf_html
        from psa.reports.routes import utilization_pdf_html
        from psa.reports.services import utilization_report

        return utilization_report, lambda report: len(report.people), utilization_pdf_html


KINDS = {"margin": PdfKind("Margin", "reports.margin", "reports.margin_pdf", "projects"),
         "utilization": PdfKind("Utilization", "reports.utilization", "reports.utilization_pdf", "people")}


# --- filters -----------------------------------------------------------------------------------------------------


def filters_json(period: Period, include_submitted: bool) -> str:
    """The filters as canonical JSON: the same filters always give the same text (the uniqueness key)."""
    return json.dumps({"start": period.start.isoformat(), "end": period.end.isoformat(),
                       "include_submitted": bool(include_submitted)}, sort_keys=True, separators=(",", ":"))


def filters_of(file: ReportFile) -> tuple[Period, bool]:
    data = json.loads(file.filters)
    return Period(date.fromisoformat(data["start"]), date.fromisoformat(data["end"])), bool(data["include_submitted"])


def filename_for(kind: str, period: Period) -> str:
    return f"{kind}-{period.start.isoformat()}-{period.end.isoformat()}.pdf"


def report_args(file: ReportFile) -> dict:
    """The query arguments of the report with the file's filters (a custom period of its days)."""
    period, include_submitted = filters_of(file)
    args = {"period": "custom", "date_from": period.start.isoformat(), "date_to": period.end.isoformat()}
    if include_submitted:
        args["include_submitted"] = "y"
    return args


# --- asking for a PDF --------------------------------------------------------------------------------------------


def pdf_response(kind: str, period: Period, include_submitted: bool, report, user):
    """The PDF route's answer for `report` (already computed with these filters): the PDF itself at THRESHOLD rows
    or fewer; past it, a file built by the job (reused while one is pending) and a redirect to its page."""
    _service, count, html = KINDS[kind].parts()
    if count(report) <= THRESHOLD:
        return pdf_download(html(report), filename_for(kind, period))
    file, created = request_report_file(kind, period, include_submitted, user)
    if created:
        dispatch(JOB, file.id)
    return redirect(url_for("reports.report_file", file_id=file.id), code=303)


def _pending(user_id: int, kind: str, filters: str) -> ReportFile | None:
    return db.session.scalars(sa.select(ReportFile).where(
        ReportFile.requested_by_id == user_id, ReportFile.kind == kind, ReportFile.filters == filters,
        ReportFile.state.in_(PENDING_STATES)).execution_options(populate_existing=True)).first()


def _lost(file: ReportFile, now: datetime) -> bool:
    """Whether a pending file's job is to be taken as lost (queued, or claimed, longer than STALE_BUILD ago)."""
    since = file.started_at if file.state == "building" else file.created_at
    return since is not None and since < now - STALE_BUILD


def request_report_file(kind: str, period: Period, include_submitted: bool, user) -> tuple[ReportFile, bool]:
    """The user's pending file of this report and filters, or a new queued one; (file, whether it is new).
    Committed. Two requests at once make one file: the partial unique index lets one insert through, the other
    finds the winner's file."""
    if kind not in KINDS:
        raise ValueError(f"no PDF job for report {kind!r}")
    filters = filters_json(period, include_submitted)
    now = clock.now()
    begin_write()  # SQLite: writers queue here, so the second sees the first's file
    existing = _pending(user.id, kind, filters)
    if existing is not None and _lost(existing, now):
        db.session.execute(sa.update(ReportFile).where(ReportFile.id == existing.id,
                                                       ReportFile.state == existing.state)
                           .values(state="failed", finished_at=now,
                                   error="The job did not finish in time (it was lost); asked for again."))
        existing = None
    if existing is not None:
        db.session.commit()
        return existing, False
    file = ReportFile(kind=kind, filters=filters, requested_by_id=user.id, state="queued", created_at=now,
                      filename=filename_for(kind, period))
    try:
        with db.session.begin_nested():
            db.session.add(file)
    except IntegrityError:
        existing = _pending(user.id, kind, filters)
        if existing is None:  # the winner's file is already finished: ask again (rare)
            raise
        db.session.commit()
        return existing, False
    db.session.commit()
    return file, True


# --- the job -----------------------------------------------------------------------------------------------------


def expire_report_files(now: datetime | None = None) -> int:
    """Delete the files asked for more than EXPIRY ago; how many."""
    now = now or clock.now()
    return db.session.execute(sa.delete(ReportFile).where(ReportFile.created_at < now - EXPIRY)).rowcount


def build_report_file(file_id: int) -> str:
    """Build the file's PDF, if this run claims it: "ready", "failed", or "skipped" (another run has it, it is
    finished, or it is gone). Commits its claim before rendering, and its result."""
    now = clock.now()
    expire_report_files(now)
    claimed = db.session.execute(
        sa.update(ReportFile)
        .where(ReportFile.id == file_id,
               sa.or_(ReportFile.state == "queued",
                      sa.and_(ReportFile.state == "building", ReportFile.started_at < now - STALE_BUILD)))
        .values(state="building", started_at=now, error="")).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"
    file = db.session.get(ReportFile, file_id)
    kind, (period, include_submitted) = file.kind, filters_of(file)
    try:
        service, _count, html = KINDS[kind].parts()
        base_url = current_app.config["PSA_BASE_URL"] + "/"
        # the print templates are rendered as in a request to the public address, with nobody signed in
        with current_app.test_request_context("/reports/", base_url=base_url):
            pdf = html_to_pdf(html(service(period, include_submitted=include_submitted)), base_url=base_url)
    except Exception as exc:
        log.exception("building report file %s failed", file_id)
        db.session.rollback()
        db.session.execute(sa.update(ReportFile).where(ReportFile.id == file_id, ReportFile.state == "building")
                           .values(state="failed", finished_at=clock.now(),
                                   error=f"{exc.__class__.__name__}: {exc}"[:500]))
        db.session.commit()
        return "failed"
    db.session.execute(sa.update(ReportFile).where(ReportFile.id == file_id, ReportFile.state == "building")
                       .values(state="ready", pdf=pdf, size=len(pdf), finished_at=clock.now()))
    db.session.commit()
    return "ready"


# --- reading a file ----------------------------------------------------------------------------------------------


def visible_file(file_id: int, user) -> ReportFile | None:
    """The file if `user` may see it (its requester, or an admin) and it has not expired; None otherwise."""
    file = db.session.get(ReportFile, file_id)
    if file is None or (file.requested_by_id != user.id and user.role != "admin"):
        return None
    if file.created_at < clock.now() - EXPIRY:
        return None
    return file


def expires_at(file: ReportFile) -> datetime:
    return file.created_at + EXPIRY


def file_title(file: ReportFile) -> str:
    period, include_submitted = filters_of(file)
    text = f"{KINDS[file.kind].title} {period.start.isoformat()} to {period.end.isoformat()}"
    return text + (", submitted hours included" if include_submitted else "")


def status_of(file: ReportFile) -> dict:
    """The file's state for the status endpoint (the page's script polls it)."""
    return {"id": file.id, "state": file.state, "label": STATE_LABELS[file.state], "error": file.error or None,
            "size": file.size,
            "download_url": url_for("reports.report_file_download", file_id=file.id) if file.state == "ready"
            else None}
