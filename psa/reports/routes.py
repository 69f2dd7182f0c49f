"""The reports' pages: load the filters, authorize (the decorator), call one service, respond."""

from __future__ import annotations

import csv
import io

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user

from psa.core import clock
from psa.core.auth import permission_required
from psa.core.charts import bar_chart
from psa.reports import bp
from psa.reports.forms import UtilizationForm
from psa.reports.pdf_jobs import pdf_response
from psa.reports.services import (
    Period,
    csv_rows,
    format_hours,
    format_percent,
    period_for,
    utilization_report,
)


def _utilization_filters() -> tuple[UtilizationForm, Period | None]:
    """The filters from the query string and the period they name (None when a field is wrong)."""
    form = UtilizationForm(formdata=request.args)
    if not form.validate():
        return form, None
    return form, period_for(form.period.data, clock.org_today(), form.date_from.data, form.date_to.data)


def _links(form: UtilizationForm) -> dict:
    """The query arguments of the current filters, for the CSV link."""
    args = {"period": form.period.data}
    if form.period.data == "custom":
        args.update(date_from=form.date_from.data.isoformat(), date_to=form.date_to.data.isoformat())
    if form.include_submitted.data:
        args["include_submitted"] = "y"
    return args


def utilization_chart(report):
    """Total utilization by person with the target line (psa.core.charts), the same on the page and in the PDF."""
    return bar_chart([(p.name, p.total_percent) for p in report.people], target=report.target_percent,
                     max_value=100, value_text=lambda v: "—" if v is None else f"{v} %")


def utilization_pdf_html(report) -> str:
    """The PDF's HTML (reports/utilization_pdf.html): the page's figures, formatters and chart, for WeasyPrint."""
    return render_template("reports/utilization_pdf.html", report=report, hrs=format_hours, pct=format_percent,
                           generated_on=clock.org_today().isoformat(), chart=utilization_chart(report))


@bp.route("/utilization")
@permission_required("reports.view")
def utilization():
    """Utilization per person, role and team over a period, with the week-by-person heat map."""
    form, period = _utilization_filters()
    if period is None:
        return render_template("reports/utilization.html", form=form, report=None, args={}, hrs=format_hours,
                               pct=format_percent), 400
    report = utilization_report(period, include_submitted=form.include_submitted.data)
    return render_template("reports/utilization.html", form=form, report=report, args=_links(form), hrs=format_hours,
                           pct=format_percent, chart=utilization_chart(report))


@bp.route("/utilization.csv")
@permission_required("reports.view")
def utilization_csv():
    """The same figures as CSV, streamed."""
    form, period = _utilization_filters()
    if period is None:
        return render_template("reports/utilization.html", form=form, report=None, args={}, hrs=format_hours,
                               pct=format_percent), 400
    report = utilization_report(period, include_submitted=form.include_submitted.data)

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        yield "\ufeff"
        for row in csv_rows(report):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    name = f"utilization-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.route("/utilization.pdf")
@permission_required("reports.view")
def utilization_pdf():
    """The same figures as a PDF (WeasyPrint, reports/utilization_pdf.html), downloaded; past 50 people built by a
    job and offered on its page (psa.reports.pdf_jobs)."""
    form, period = _utilization_filters()
    if period is None:
        return render_template("reports/utilization.html", form=form, report=None, args={}, hrs=format_hours,
                               pct=format_percent), 400
    report = utilization_report(period, include_submitted=form.include_submitted.data)
    return pdf_response("utilization", period, form.include_submitted.data, report, current_user)
