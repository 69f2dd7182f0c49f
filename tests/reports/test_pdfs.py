"""The margin and utilization reports as PDFs (WeasyPrint): the text pypdf extracts from each holds the figures of
the HTML page for the same filters, worked out by hand in tests/reports/test_margin.py and test_utilization.py
(whose data sets are reused here); the same access rule and the same 400 on a bad period, with no PDF."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

import tests.reports.test_utilization as utilization_tests
from psa.core.pdf import html_to_pdf
from tests.conftest import login_as
from tests.reports.test_margin import MAY, _build, _get, _rows
from tests.reports.test_utilization import _row_of


def _pdf_text(response) -> str:
    """The PDF's text, every run of whitespace made one space."""
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    data = response.get_data()
    assert data.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text)


def _in_order(text: str, cells: list[str]) -> bool:
    """The cells appear in the text one after the other (separated by spaces only)."""
    return " ".join(cells) in text


@pytest.fixture
def margin_world(app, make):
    return _build(app, make)


@pytest.fixture
def utilization_world(app, make):
    return utilization_tests.world.__wrapped__(app, make)


# --- margin ------------------------------------------------------------------------------------------------------


def test_margin_pdf_holds_the_hand_worked_figures_of_the_html(client, margin_world):
    login_as(client, margin_world["lee"])
    response = _get(client, f"/reports/margin.pdf?{MAY}")
    assert response.headers["Content-Disposition"] == 'attachment; filename="margin-2026-05-01-2026-05-31.pdf"'
    text = _pdf_text(response)
    assert "Margin" in text and "2026-05-01 to 2026-05-31" in text
    # name, hours, revenue, cost, margin, margin %, EAC, projected margin (hand-worked in test_margin.py)
    for row in (["Alpha", "10.00", "1,500.00", "900.00", "600.00", "40.0 %", "—", "—"],
                ["Beta", "6.00", "400.00", "300.00", "100.00", "25.0 %", "—", "—"],
                ["Gamma", "20.00", "3,000.00", "1,600.00", "1,400.00", "46.7 %", "2,480.00", "7,520.00"],
                ["Delta", "5.00", "0.00", "300.00", "-300.00", "—", "—", "—"],
                ["Epsilon", "0.00", "0.00", "0.00", "0.00", "—", "800.00", "4,200.00"]):
        assert row[0] in text
        assert _in_order(text, row[1:]), row
    assert "Fixed fee (1 milestone done)" in text and "Fixed fee (0 milestones done)" in text
    assert _in_order(text, ["Portfolio (5)", "4,900.00", "3,100.00", "1,800.00", "36.7 %", "3,280.00", "11,720.00"])
    assert _in_order(text, ["Acme", "2", "1,900.00", "1,200.00", "700.00", "36.8 %", "—", "—"])
    assert _in_order(text, ["Bolt", "3", "3,000.00", "1,900.00", "1,100.00", "36.7 %", "3,280.00", "11,720.00"])
    assert _in_order(text, ["Max Manager", "1", "0.00", "0.00", "0.00", "—", "800.00", "4,200.00"])
    assert _in_order(text, ["Mia Manager", "4", "4,900.00", "3,100.00", "1,800.00", "36.7 %", "2,480.00", "7,520.00"])
    assert _in_order(text, ["Non-billable", "1", "0.00", "300.00", "-300.00", "—", "—", "—"])

    # and every figure of every table of the HTML page, row by row
    html = _get(client, f"/reports/margin?{MAY}").get_data(as_text=True)
    for name, cells in _rows(html, "margin-projects").items():
        figures = cells[4:] if len(cells) > 6 else cells
        assert name.split(" (")[0] in text and _in_order(text, figures), (name, figures)
    for table in ("margin-accounts", "margin-managers", "margin-models"):
        for name, cells in _rows(html, table).items():
            assert _in_order(text, [name, *cells]), (table, name, cells)


def test_margin_pdf_follows_the_switch(client, margin_world):
    login_as(client, margin_world["lee"])
    text = _pdf_text(_get(client, f"/reports/margin.pdf?{MAY}&include_submitted=y"))
    assert _in_order(text, ["12.00", "1,800.00", "1,080.00", "720.00", "40.0 %"])
    assert _in_order(text, ["Portfolio (5)", "5,200.00", "3,280.00", "1,920.00", "36.9 %"])
    assert "approved and submitted weeks" in text


def test_margin_page_links_to_the_pdf_with_its_filters(client, margin_world):
    login_as(client, margin_world["lee"])
    html = _get(client, f"/reports/margin?{MAY}&include_submitted=y").get_data(as_text=True)
    link = re.search(r'href="(/reports/margin\.pdf\?[^"]+)"[^>]*>Download PDF<', html).group(1).replace("&amp;", "&")
    assert all(part in link for part in ("period=custom", "date_from=2026-05-01", "date_to=2026-05-31",
                                         "include_submitted=y"))


def test_an_empty_margin_pdf_says_so(client, make):
    login_as(client, make.user(role="admin"))
    text = _pdf_text(_get(client, "/reports/margin.pdf?period=custom&date_from=2001-01-01&date_to=2001-01-31"))
    assert "No projects to report on" in text


# --- utilization -------------------------------------------------------------------------------------------------


def test_utilization_pdf_holds_the_hand_worked_figures_of_the_html(client, utilization_world):
    world = utilization_world
    login_as(client, world["lee"])
    response = client.get(f"/reports/utilization.pdf?{MAY}")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="utilization-2026-05-01-2026-05-31.pdf"')
    text = _pdf_text(response)
    assert "2026-05-01 to 2026-05-31: 20 working days" in text
    # person: time off, capacity, billable, total, billable %, total % (hand-worked in test_utilization.py)
    assert _in_order(text, ["8.00", "152.00", "114.00", "133.00", "75.0 %", "87.5 %"])
    assert _in_order(text, ["0.00", "80.00", "40.00", "40.00", "50.0 %", "50.0 %"])
    assert _in_order(text, ["Zed Zero", "Consultant"])
    assert _in_order(text, ["0.00", "0.00", "0.00", "0.00", "—", "—"])
    assert _in_order(text, ["Consultant (3)", "232.00", "154.00", "173.00", "66.4 %", "74.6 %"])
    assert _in_order(text, ["Mia Manager (2)", "232.00", "154.00", "173.00", "66.4 %", "74.6 %"])
    assert _in_order(text, ["392.00", "154.00", "173.00", "39.3 %", "44.1 %"])

    html = client.get(f"/reports/utilization?{MAY}").get_data(as_text=True)
    for person in (world["cleo"], world["dora"], world["zed"]):
        cells = utilization_tests._cells(html, f'data-user-id="{person.id}"')
        assert cells[0] in text and _in_order(text, cells[3:]), cells
    for table, label in (("utilization-roles", "Consultant"), ("utilization-teams", "Mia Manager")):
        assert _in_order(text, _row_of(html, table, label))
    total = utilization_tests._cells(html, 'data-testid="utilization-total"')
    assert _in_order(text, total), total
    # the week-by-person table: Cleo's weeks of May
    assert "2026-04-27" in text and "2026-05-25" in text


def test_utilization_pdf_follows_the_switch(client, utilization_world):
    login_as(client, utilization_world["lee"])
    text = _pdf_text(client.get(f"/reports/utilization.pdf?{MAY}&include_submitted=y"))
    assert _in_order(text, ["152.00", "124.00", "143.00", "81.6 %", "94.1 %"])


def test_utilization_page_links_to_the_pdf_with_its_filters(client, utilization_world):
    login_as(client, utilization_world["lee"])
    html = client.get(f"/reports/utilization?{MAY}").get_data(as_text=True)
    link = re.search(r'href="(/reports/utilization\.pdf\?[^"]+)"[^>]*>Download PDF<', html).group(1)
    assert "date_from=2026-05-01" in link and "date_to=2026-05-31" in link


# --- both --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/reports/margin.pdf", "/reports/utilization.pdf"])
@pytest.mark.parametrize("role", ["consultant", "manager"])
def test_only_leaders_and_admins_get_the_pdfs(client, make, role, path):
    login_as(client, make.user(role=role))
    response = client.get(f"{path}?{MAY}")
    assert response.status_code == 403
    assert not response.get_data().startswith(b"%PDF")


@pytest.mark.parametrize("path", ["/reports/margin.pdf", "/reports/utilization.pdf"])
@pytest.mark.parametrize(("query", "field"), [
    ("period=custom&date_from=2026-05-10&date_to=2026-05-01", "date_to"),
    ("period=custom&date_from=2026-02-30&date_to=2026-03-01", "date_from"),
    ("period=custom&date_from=2026-01-01", "date_to"),
    ("period=next_century", "period"),
])
def test_a_bad_period_gets_the_page_with_its_message_and_400_not_a_pdf(client, make, path, query, field):
    login_as(client, make.user(role="leader"))
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html" and not response.get_data().startswith(b"%PDF")
    html = response.get_data(as_text=True)
    assert re.search(r'id="' + field + r'"[^>]*is-invalid|is-invalid[^>]*id="' + field + '"', html)


def test_the_pdf_writer_fetches_nothing(tmp_path):
    secret = tmp_path / "secret.css"  # a stylesheet that would print its secret if it were read
    secret.write_text('body::after { content: "TOP SECRET"; }')
    html = (f'<html><body><p>Shown</p><img src="file://{secret}"><img src="http://127.0.0.1:9/x.png">'
            f'<link rel="stylesheet" href="file://{secret}"></body></html>')
    data = html_to_pdf(html, base_url="http://localhost/")
    assert data.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Shown" in text and "TOP SECRET" not in text


# --- the charts: the same SVG as the page, drawn into the PDF ----------------------------------------------------


def _chart_labels(html: str, chart_id: str) -> list[str]:
    """The value texts the page's SVG chart `chart_id` draws, bar by bar."""
    svg = re.search(r'data-testid="' + chart_id + r'".*?</svg>', html, re.S).group(0)
    groups = re.findall(r'data-testid="' + chart_id + r'-bar".*?</g>', svg, re.S)
    return [re.findall(r"<text[^>]*>([^<]*)</text>", group)[-2:] for group in groups]


def test_margin_pdf_draws_the_pages_charts(client, margin_world):
    """Margin by project and by month: each bar's label and value text of the page's SVG is in the PDF, in order."""
    login_as(client, margin_world["lee"])
    period = "period=custom&date_from=2026-04-15&date_to=2026-05-20"
    html = _get(client, f"/reports/margin?{period}").get_data(as_text=True)
    text = _pdf_text(_get(client, f"/reports/margin.pdf?{period}"))
    assert "Margin by project" in text and "By month" in text
    assert "The first 50 of" not in text  # five projects: the chart draws every one
    by_project = _chart_labels(html, "margin-chart")
    assert [label for label, _ in by_project] == ["Alpha", "Beta", "Delta", "Epsilon", "Gamma"]
    by_month = _chart_labels(html, "margin-month-chart")
    assert by_month == [["2026-04", "2,000.00"], ["2026-05", "1,800.00"]]
    chart_text = text[text.index("Margin by project"):]
    for label, value in by_project + by_month:
        assert _in_order(chart_text, [label, value]), (label, value)
    assert _in_order(text, ["2026-04 (2026-04-15 to 2026-04-30)", "2,800.00", "800.00", "2,000.00", "71.4 %"])
    assert _in_order(text, ["2026-05 (2026-05-01 to 2026-05-20)", "4,900.00", "3,100.00", "1,800.00", "36.7 %"])


def test_utilization_pdf_draws_the_pages_chart(client, utilization_world):
    """Total utilization by person with its target line: each bar's label and value of the page's SVG."""
    login_as(client, utilization_world["lee"])
    html = client.get(f"/reports/utilization?{utilization_tests.MAY}").get_data(as_text=True)
    text = _pdf_text(client.get(f"/reports/utilization.pdf?{utilization_tests.MAY}"))
    bars = _chart_labels(html, "utilization-chart")
    assert bars and "Total utilization by person" in text
    chart_text = text[text.index("Total utilization by person"):]
    for label, value in bars:
        assert _in_order(chart_text, [label, value]), (label, value)
