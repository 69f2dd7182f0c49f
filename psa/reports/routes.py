"""The reports' pages: load the filters, authorize (the decorator), call one service, respond."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from flask import Response, render_template, request, stream_with_context, url_for
from flask_login import current_user
from markupsafe import Markup

from psa.core import clock
from psa.core.auth import permission_required
from psa.core.charts import bar_chart
from psa.reports import bp
from psa.reports.forms import UtilizationForm
from psa.reports.pdf_jobs import pdf_response
from psa.reports.services import (
    Period,
    cached_utilization_report,
    csv_rows,
    format_hours,
    format_percent,
    period_for,
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


#: The heat map's Bootstrap background per band (the psa-band-* class names the band itself).
BAND_BACKGROUNDS = {"under": " bg-danger-subtle", "near": " bg-warning-subtle", "on": " bg-success-subtle",
                    "over": " bg-info-subtle", "none": ""}


def heat_map_rows(report) -> list[Markup]:
    """Each person's heat-map cells (one per week) as HTML, in report.people's order: built here, each percentage
    computed and formatted once, because a year is a cell per person and week (5,700 for 108 people) and a Jinja
    loop with the band's test per cell cost most of the page. Only numbers and fixed class names go in."""
    weeks = report.weeks
    rows = []
    for person in report.people:
        cells = []
        for monday in weeks:
            value = person.weeks[monday].total_percent
            band = report.band_of(value)
            cells.append(f'<td class="text-end psa-band-{band}{BAND_BACKGROUNDS[band]}">{format_percent(value)}</td>')
        rows.append(Markup("".join(cells)))
    return rows


def export_links(report) -> tuple[str, str]:
    """The drill-down to a person's entries of the period: (the export page's URL up to the user's id, the query
    after it), built once rather than a url_for per person."""
    rest = urlencode({"date_from": report.period.start.isoformat(), "date_to": report.period.end.isoformat(),
                      "state": "" if report.include_submitted else "approved"})
    return f"{url_for('timesheets.export_page')}?user_id=", f"&{rest}"


@bp.route("/utilization")
@permission_required("reports.view")
def utilization():
    """Utilization per person, role and team over a period, with the week-by-person heat map."""
    form, period = _utilization_filters()
    if period is None:
        return render_template("reports/utilization.html", form=form, report=None, args={}, hrs=format_hours,
                               pct=format_percent), 400
    report = cached_utilization_report(period, include_submitted=form.include_submitted.data)
    return render_template("reports/utilization.html", form=form, report=report, args=_links(form), hrs=format_hours,
                           pct=format_percent, chart=utilization_chart(report), heat_rows=heat_map_rows(report),
                           export_link=export_links(report))


@bp.route("/utilization.csv")
@permission_required("reports.view")
def utilization_csv():
    """The same figures as CSV, streamed."""
    form, period = _utilization_filters()
    if period is None:
        return render_template("reports/utilization.html", form=form, report=None, args={}, hrs=format_hours,
                               pct=format_percent), 400
    report = cached_utilization_report(period, include_submitted=form.include_submitted.data)

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
    report = cached_utilization_report(period, include_submitted=form.include_submitted.data)
    return pdf_response("utilization", period, form.include_submitted.data, report, current_user)
