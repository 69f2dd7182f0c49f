"""RQ entry points of escalations: thin wrappers over the sweep. Each runs in its own app context and session
(psa.core.queue.run_job inline, psa.jobs.worker.AppWorker in the worker); run twice they do nothing more."""

from __future__ import annotations

from psa.core.mail import dispatch_outbox
from psa.escalations.services import sweep_escalations
from psa.extensions import db


def _sweep(project_ids) -> dict[str, int]:
    result = sweep_escalations(project_ids)
    db.session.commit()
    if result.emails:
        dispatch_outbox()
    return result.as_dict()


def sweep_all_job() -> dict[str, int]:
    """Sweep the escalations of every open project (hourly, psa.jobs.schedule)."""
    return _sweep(None)


def sweep_project_job(project_id: int) -> dict[str, int]:
    """Sweep one project's escalations: queued after a change to its plan (psa.projects.services)."""
    return _sweep([project_id])


def sweep_projects_job(project_ids: list[int]) -> dict[str, int]:
    """Sweep several projects' escalations: queued after a change to many plans at once (a holiday, say)."""
    return _sweep(project_ids)
