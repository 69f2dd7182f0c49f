"""The report pages' SVG charts (issue 15): one bar per person, project or month, drawn from the figures the pages
already compute; presentation attributes only (no style attribute, no script), an empty state otherwise.

The data sets are those of the reports' own tests, imported from their modules."""

import re

from psa.core import clock
from tests.conftest import login_as
from tests.reports import test_forecast, test_margin, test_utilization
from tests.reports.test_forecast import world as forecast_world  # noqa: F401
from tests.reports.test_margin import world as margin_world  # noqa: F401
from tests.reports.test_utilization import world as utilization_world  # noqa: F401


def _svg(html: str, testid: str) -> str:
    match = re.search(r'<svg [^>]*data-testid="' + testid + r'".*?</svg>', html, re.S)
    assert match, f"no chart {testid}"
    svg = match.group(0)
    assert 'role="img"' in svg.split(">", 1)[0]
    assert 'width="100%"' in svg.split(">", 1)[0] and "viewBox=" in svg.split(">", 1)[0]
    assert f'aria-labelledby="{testid}-title {testid}-desc"' in svg
    assert f'<title id="{testid}-title">' in svg and f'<desc id="{testid}-desc">' in svg
    assert " style=" not in svg and "<script" not in svg and "<style" not in svg
    return svg


def _bars(svg: str, testid: str) -> list[str]:
    return re.findall(r'<g data-testid="' + testid + r'-bar".*?</g>', svg, re.S)


def _no_style(html: str) -> None:
    body = html.split("<main", 1)[-1].split("<footer", 1)[0]
    assert " style=" not in body and "<script" not in body


def test_utilization_has_a_bar_per_person_and_the_target_line(client, utilization_world):  # noqa: F811
    login_as(client, utilization_world["lee"])
    html = client.get(f"/reports/utilization?{test_utilization.MAY}").get_data(as_text=True)
    svg = _svg(html, "utilization-chart")
    people = re.findall(r"<tr data-user-id=", html)
    bars = _bars(svg, "utilization-chart")
    assert len(bars) == len(people) == 5
    names = [re.search(r"<title>(.*?):", bar).group(1) for bar in bars]
    assert "Cleo Consultant" in names and "Dora Consultant" in names
    assert svg.count('data-testid="utilization-chart-target"') == 1
    assert 'stroke-dasharray="6 4" data-testid="utilization-chart-target"' in svg
    # Zed has no capacity: no bar, "—".
    zed = next(bar for bar in bars if "Zed Zero" in bar)
    assert 'width="0.0"' in zed and "—" in zed
    _no_style(html)


def test_margin_has_a_bar_per_project_negatives_left_of_zero(client, margin_world):  # noqa: F811
    login_as(client, margin_world["lee"])
    with clock.frozen(test_margin.TODAY):
        html = client.get(f"/reports/margin?{test_margin.MAY}").get_data(as_text=True)
    svg = _svg(html, "margin-chart")
    projects = re.findall(r'<tr data-project-id="', html.split('data-testid="margin-projects"')[1].split("</table>")[0])
    bars = _bars(svg, "margin-chart")
    assert len(bars) == len(projects) == 5
    delta = next(bar for bar in bars if "<title>Delta:" in bar)  # margin −300.00
    assert 'data-value="-300' in delta and "-300.00" in delta
    zero = float(re.search(r'<line x1="([\d.]+)"[^>]*data-testid="margin-chart-zero"', svg).group(1))
    for bar in bars:
        value = re.search(r'data-value="([^"]*)"', bar).group(1)
        x, width = (float(v) for v in re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', bar).groups())
        if value.startswith("-"):
            assert abs(x + width - zero) < 0.11 and 'fill="#dc3545"' in bar
        else:
            assert abs(x - zero) < 0.11
    _no_style(html)


def test_margin_without_projects_says_so_instead(client, make):
    login_as(client, make.user(role="admin"))
    with clock.frozen(test_margin.TODAY):
        html = client.get("/reports/margin?period=custom&date_from=2001-01-01&date_to=2001-01-31").get_data(as_text=True)
    assert 'data-testid="margin-chart"' not in html


def test_forecast_has_a_bar_per_month_with_the_at_risk_part(client, forecast_world):  # noqa: F811
    login_as(client, forecast_world["lee"])
    with clock.frozen(test_forecast.TODAY):
        html = client.get("/reports/forecast").get_data(as_text=True)
    svg = _svg(html, "forecast-chart")
    bars = _bars(svg, "forecast-chart")
    assert len(bars) == 6
    assert [re.search(r"<title>(.*?):", bar).group(1) for bar in bars][:2] == ["May 2026", "Jun 2026"]
    # May: 3,800.00 forecast of which 3,000.00 at risk; June 9,450.00 with 200.00; August all at risk.
    assert "May 2026: 3,800.00 (at risk 3,000.00)" in bars[0]
    assert "Jun 2026: 9,450.00 (at risk 200.00)" in bars[1]
    assert svg.count('data-testid="forecast-chart-mark"') == 3
    may_bar, may_mark = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', bars[0])
    assert float(may_mark[1]) == round(float(may_bar[1]) * 3000 / 3800, 1)
    _no_style(html)


def test_nothing_to_forecast_draws_no_chart(client, make):
    login_as(client, make.user(role="leader"))
    html = client.get("/reports/forecast").get_data(as_text=True)
    assert 'data-testid="forecast-chart"' not in html
    assert 'data-testid="forecast-chart-empty"' in html
