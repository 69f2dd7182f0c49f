"""RQ entry points of the reports: thin wrappers over psa.reports.pdf_jobs. Each runs in its own app context and
session (psa.core.queue.run_job inline, psa.jobs.worker.AppWorker in the worker); run twice, or twice at once, the
second run claims nothing and does nothing."""

from __future__ import annotations

from psa.reports.pdf_jobs import build_report_file


def build_report_pdf_job(file_id: int) -> str:
    """Build the report file's PDF and store it ("ready", "failed" or "skipped"); expired files are deleted."""
    return build_report_file(file_id)
