"""Report files built by a job (psa.reports.pdf_jobs): the file's page, its state as JSON (polled by
psa/static/js/report_file.js) and its download. Only the requester and admins see a file; anyone else, and anyone
after it expired, gets 404."""

from __future__ import annotations

from flask import Response, abort, jsonify, render_template
from flask_login import current_user

from psa.core.auth import permission_required
from psa.reports import bp
from psa.reports.pdf_jobs import (
    KINDS,
    STATE_LABELS,
    THRESHOLD,
    expires_at,
    file_title,
    report_args,
    status_of,
    visible_file,
)


def _file_or_404(file_id: int):
    file = visible_file(file_id, current_user)
    if file is None:
        abort(404)
    return file


@bp.route("/files/<int:file_id>")
@permission_required("reports.view")
def report_file(file_id: int):
    """"Your PDF is being prepared": the file's state, a Download button once ready, the error and a retry if it
    failed; a Refresh link, and without a click the page's script reloads it when the state changes."""
    file = _file_or_404(file_id)
    response = Response(render_template(
        "reports/report_file.html", file=file, kind=KINDS[file.kind], title=file_title(file), args=report_args(file),
        label=STATE_LABELS[file.state], expires_at=expires_at(file), threshold=THRESHOLD))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/files/<int:file_id>.json")
@permission_required("reports.view")
def report_file_status(file_id: int):
    """The file's state as JSON: {id, state, label, error, size, download_url}."""
    response = jsonify(status_of(_file_or_404(file_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/files/<int:file_id>/download")
@permission_required("reports.view")
def report_file_download(file_id: int):
    """The built PDF, as an attachment; 404 until it is ready."""
    file = _file_or_404(file_id)
    if file.state != "ready" or file.pdf is None:
        abort(404)
    return Response(file.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"',
                             "Cache-Control": "no-store"})
