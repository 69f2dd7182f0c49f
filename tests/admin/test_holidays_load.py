"""Loading a country's public holidays from the `holidays` package into the settings."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from psa.admin.models import Holiday
from psa.extensions import db
from tests.conftest import login_as, post_form


def test_service_loads_a_year_of_us_holidays_and_keeps_existing_days(ctx, make):
    import holidays

    from psa.admin.services import add_holiday, load_public_holidays
    from psa.core.calendar import get_calendar

    add_holiday(None, date(2026, 12, 25), "Office closed")
    added = load_public_holidays(None, "US", 2026)
    expected = holidays.country_holidays("US", years=2026)
    assert len(added) == len(expected) - 1  # Christmas was already there and keeps its name
    names = dict(db.session.execute(sa.select(Holiday.day, Holiday.name)).all())
    assert names[date(2026, 11, 26)] == "Thanksgiving Day"
    assert names[date(2026, 12, 25)] == "Office closed"
    # the calendar skips them: Wed 25 Nov + 1 working day = Fri 27 (Thanksgiving Thu 26)
    assert get_calendar().add_working_days(date(2026, 11, 25), 1) == date(2026, 11, 27)
    # loading again adds nothing
    assert load_public_holidays(None, "US", 2026) == []


def test_admin_loads_holidays_through_the_settings_page(client, app, make):
    login_as(client, make.user(role="admin"))
    response = post_form(client, "/admin/settings/holidays/load", {"country": "DE", "year": "2027"})
    assert response.status_code == 302
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "2027-10-03" in page  # German Unity Day
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Holiday.id))) >= 9


def test_unknown_country_or_bad_year_is_refused_at_the_field(client, app, make):
    login_as(client, make.user(role="admin"))
    bad_country = post_form(client, "/admin/settings/holidays/load", {"country": "XX", "year": "2027"})
    assert bad_country.status_code == 400
    assert "Not a valid choice" in bad_country.get_data(as_text=True)
    bad_year = post_form(client, "/admin/settings/holidays/load", {"country": "US", "year": "1066"})
    assert bad_year.status_code == 400
    assert "Enter a year from 2000 to 2099." in bad_year.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Holiday.id))) == 0


def test_the_holiday_country_defaults_from_the_organisation(client, app, make):
    """America/New_York (USD) offers the United States first, not the alphabet's first country; a UTC
    organisation falls back on its currency; with neither known, nothing is preselected."""
    import re

    from psa.admin.services import update_settings

    login_as(client, make.user(role="admin"))

    def preselected() -> list[str]:
        page = client.get("/admin/settings").get_data(as_text=True)
        select = re.search(r'<select[^>]*name="country".*?</select>', page, re.S).group(0)
        return re.findall(r'<option value="([A-Z]+)" selected>', select)

    for zone, currency, expected in (("America/New_York", "USD", ["US"]), ("Europe/Berlin", "EUR", ["DE"]),
                                     ("UTC", "GBP", ["GB"]), ("UTC", "EUR", [])):
        with app.app_context():
            update_settings(None, timezone=zone, currency=currency)
            db.session.commit()
        assert preselected() == expected, (zone, currency)
