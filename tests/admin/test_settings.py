"""Settings page: saving and auditing settings, holidays, the logo and the branding stylesheet."""

from __future__ import annotations

import io
import random
import re
import struct
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from psa.admin.models import Holiday, Settings
from psa.admin.services import SETTINGS_FIELDS
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.admin.helpers import field_errors, row_count
from tests.conftest import csrf_token, login_as, post_form

VALID = dict(
    org_name="Acme Services", currency="eur", timezone="Europe/Berlin", working_days=["1", "2", "3", "4", "5"],
    time_lock_date="", escalation_level1_days="1", escalation_level2_days="3", escalation_level3_days="7",
    health_red_overdue_days="5", health_amber_burn_points="15", utilization_target_percent="75",
    brand_name="Acme", brand_accent_color="#0d6efd",
)


def _png(width: int = 1, height: int = 1, noisy: bool = False) -> bytes:
    """A valid RGB PNG; `noisy` fills it with random pixels so it does not compress."""
    rng = random.Random(7)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + (rng.randbytes(width * 3) if noisy else b"\x0d\x6e\xfd" * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _save(client, **overrides):
    return post_form(client, "/admin/settings", {**VALID, **overrides}, token_from="/admin/settings")


def _settings(app) -> dict | None:
    with app.app_context():
        settings = db.session.get(Settings, 1)
        if settings is None:
            return None
        return {name: getattr(settings, name) for name in (*SETTINGS_FIELDS, "brand_logo_filename")}


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return events


def _upload(client, data: bytes, filename: str = "logo.png"):
    return client.post("/admin/settings/logo", data={"csrf_token": csrf_token(client, "/admin/settings"),
                                                     "logo": (io.BytesIO(data), filename)})


def _logo_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "branding"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def admin(make):
    return make.user(role="admin")


@pytest.fixture
def as_admin(client, admin):
    login_as(client, admin)
    return client


@pytest.fixture
def saved(app, as_admin):
    """Settings saved once through the form, so later checks compare against a stored row."""
    assert _save(as_admin).status_code == 302
    return _settings(app)


# --- saving and auditing -----------------------------------------------------------------------------


def test_settings_saved_through_the_form_persist(app, as_admin):
    response = _save(as_admin, working_days=["5", "1", "3"], time_lock_date="2026-01-31",
                     escalation_level1_days="2", escalation_level2_days="4", escalation_level3_days="9",
                     health_red_overdue_days="0", health_amber_burn_points="100",
                     utilization_target_percent="82.5", brand_accent_color="#AA3366")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/settings"
    assert _settings(app) == {
        "org_name": "Acme Services", "currency": "EUR", "timezone": "Europe/Berlin", "working_days": "135",
        "time_lock_date": date(2026, 1, 31), "allow_future_time": False, "escalation_level1_days": 2, "escalation_level2_days": 4,
        "escalation_level3_days": 9, "health_red_overdue_days": 0, "health_amber_burn_points": 100,
        "utilization_target_percent": Decimal("82.50"), "brand_name": "Acme", "brand_accent_color": "#AA3366",
        "brand_logo_filename": None,
    }
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert "Settings saved." in page
    assert 'value="Acme Services"' in page and 'value="2026-01-31"' in page
    checked = {re.search(r'value="(\d)"', tag).group(1)
               for tag in re.findall(r'<input[^>]*name="working_days"[^>]*>', page) if "checked" in tag}
    assert checked == {"1", "3", "5"}
    # the organisation name is what the header shows
    assert "Acme Services" in as_admin.get("/").get_data(as_text=True)


def test_settings_change_is_audited_with_only_the_changed_fields(app, as_admin, admin, saved):
    before = len(_events(app, "settings.updated"))
    assert _save(as_admin, currency="GBP", brand_accent_color="#112233").status_code == 302
    events = _events(app, "settings.updated")
    assert len(events) == before + 1
    event = events[-1]
    assert event.actor_id == admin.id and event.object_type == "settings"
    assert event.before == {"currency": "EUR", "brand_accent_color": "#0d6efd"}
    assert event.after == {"currency": "GBP", "brand_accent_color": "#112233"}


def test_time_lock_date_is_audited_as_a_date(app, as_admin, saved):
    assert _save(as_admin, time_lock_date="2026-03-31").status_code == 302
    event = _events(app, "settings.updated")[-1]
    assert event.before == {"time_lock_date": None} and event.after == {"time_lock_date": "2026-03-31"}


@pytest.mark.parametrize("target", ["75", "75.0", "75.00"])
def test_saving_unchanged_settings_records_no_audit_event(app, as_admin, saved, target):
    events = row_count(app, AuditEvent)
    assert _save(as_admin, utilization_target_percent=target, currency=" EUR ").status_code == 302
    assert row_count(app, AuditEvent) == events
    assert _settings(app) == saved


# --- bad input ---------------------------------------------------------------------------------------

LEVELS = "Levels must rise: level 1 < level 2 < level 3, level 1 at least 1."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"org_name": ""}, "org_name", "This field is required.", id="empty-org-name"),
        pytest.param({"org_name": "x" * 121}, "org_name", "Use at most 120 characters.", id="long-org-name"),
        pytest.param({"brand_name": " "}, "brand_name", "This field is required.", id="empty-brand-name"),
        pytest.param({"currency": "US"}, "currency", "Enter a three-letter currency code such as USD or EUR.",
                     id="currency-US"),
        pytest.param({"currency": "12$"}, "currency", "Enter a three-letter currency code such as USD or EUR.",
                     id="currency-12$"),
        pytest.param({"currency": "EURO"}, "currency", "Enter a three-letter currency code such as USD or EUR.",
                     id="currency-EURO"),
        pytest.param({"currency": ""}, "currency", "Enter a three-letter currency code.", id="currency-empty"),
        pytest.param({"timezone": "Nowhere/Town"}, "timezone", "Not a valid choice.", id="unknown-timezone"),
        pytest.param({"working_days": []}, "working_days", "Choose at least one working day.", id="no-working-day"),
        pytest.param({"working_days": ["1", "8"]}, "working_days", None, id="working-day-8"),
        pytest.param({"escalation_level1_days": "3", "escalation_level2_days": "3", "escalation_level3_days": "7"},
                     "escalation_level2_days", LEVELS, id="levels-3-3-7"),
        pytest.param({"escalation_level1_days": "5", "escalation_level2_days": "3", "escalation_level3_days": "7"},
                     "escalation_level2_days", LEVELS, id="levels-5-3-7"),
        pytest.param({"escalation_level1_days": "1", "escalation_level2_days": "8", "escalation_level3_days": "7"},
                     "escalation_level2_days", LEVELS, id="levels-1-8-7"),
        pytest.param({"escalation_level1_days": "0"}, "escalation_level1_days", "Enter a whole number from 1 to 60.",
                     id="level1-zero"),
        pytest.param({"escalation_level3_days": "61"}, "escalation_level3_days",
                     "Enter a whole number from 1 to 60.", id="level3-61"),
        pytest.param({"escalation_level2_days": "two"}, "escalation_level2_days", "Enter a whole number.",
                     id="level2-text"),
        pytest.param({"health_red_overdue_days": "-1"}, "health_red_overdue_days",
                     "Enter a whole number from 0 to 60.", id="red-days-negative"),
        pytest.param({"health_amber_burn_points": "101"}, "health_amber_burn_points",
                     "Enter a whole number from 0 to 100.", id="amber-points-101"),
        pytest.param({"utilization_target_percent": "150"}, "utilization_target_percent",
                     "Enter a percentage from 0 to 100.", id="utilization-150"),
        pytest.param({"utilization_target_percent": "-5"}, "utilization_target_percent",
                     "Enter a percentage from 0 to 100.", id="utilization-negative"),
        pytest.param({"brand_accent_color": "red"}, "brand_accent_color", "Use a colour like #0d6efd.",
                     id="colour-red"),
        pytest.param({"brand_accent_color": "#12345"}, "brand_accent_color", "Use a colour like #0d6efd.",
                     id="colour-short"),
        pytest.param({"brand_accent_color": "#0d6efd;}body{display:none"}, "brand_accent_color",
                     "Use a colour like #0d6efd.", id="colour-css-injection"),
        pytest.param({"time_lock_date": "2026-13-45"}, "time_lock_date", "Enter a date as YYYY-MM-DD.",
                     id="time-lock-not-a-date"),
    ],
)
def test_bad_settings_are_refused_at_the_field_and_change_nothing(app, as_admin, saved, overrides, field, message):
    events = row_count(app, AuditEvent)
    response = _save(as_admin, **{"org_name": "Changed Name", **overrides})
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True), field)
    assert errors if message is None else message in errors, errors
    assert _settings(app) == saved
    assert row_count(app, AuditEvent) == events


def test_bad_settings_keep_what_was_typed(as_admin, saved):
    page = _save(as_admin, org_name="Typed Name", currency="US").get_data(as_text=True)
    assert 'value="Typed Name"' in page and 'value="US"' in page


# --- holidays ----------------------------------------------------------------------------------------


def _add_holiday(client, day: str, name: str):
    return post_form(client, "/admin/settings/holidays", {"day": day, "name": name}, token_from="/admin/settings")


def test_holiday_is_added_listed_and_removed(app, as_admin, admin):
    response = _add_holiday(as_admin, "2030-12-25", "Christmas Day")
    assert response.status_code == 302
    page = as_admin.get("/admin/settings").get_data(as_text=True)
    assert "Christmas Day on 2030-12-25 added." in page
    assert "2030-12-25 · Christmas Day" in page
    with app.app_context():
        holiday = db.session.scalar(sa.select(Holiday))
        assert (holiday.day, holiday.name) == (date(2030, 12, 25), "Christmas Day")
        holiday_id = holiday.id
    [added] = _events(app, "holiday.added")
    assert added.actor_id == admin.id and added.after == {"day": "2030-12-25", "name": "Christmas Day"}

    assert post_form(as_admin, f"/admin/settings/holidays/{holiday_id}/delete",
                     token_from="/admin/settings").status_code == 302
    assert row_count(app, Holiday) == 0
    assert len(_events(app, "holiday.deleted")) == 1
    assert post_form(as_admin, f"/admin/settings/holidays/{holiday_id}/delete",
                     token_from="/admin/settings").status_code == 404


@pytest.mark.parametrize(
    ("day", "name", "field", "message"),
    [
        pytest.param("2030-02-30", "Leap", "day", "Enter a date as YYYY-MM-DD.", id="day-not-a-date"),
        pytest.param("25/12/2030", "Slashes", "day", "Enter a date as YYYY-MM-DD.", id="day-wrong-format"),
        pytest.param("", "No day", "day", None, id="day-empty"),
        pytest.param("2030-06-01", "", "name", "This field is required.", id="empty-name"),
        pytest.param("2030-06-01", "h" * 121, "name", "Use at most 120 characters.", id="long-name"),
        pytest.param("2030-05-01", "Again", "day", "2030-05-01 is already a holiday.", id="duplicate-date"),
    ],
)
def test_bad_holiday_is_refused_at_the_field_and_changes_nothing(app, as_admin, make, day, name, field, message):
    make.holiday(day=date(2030, 5, 1), name="Labour Day")
    holidays, events = row_count(app, Holiday), row_count(app, AuditEvent)
    response = _add_holiday(as_admin, day, name)
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True), field)
    assert errors if message is None else message in errors, errors
    assert (row_count(app, Holiday), row_count(app, AuditEvent)) == (holidays, events)
    with app.app_context():
        assert db.session.scalar(sa.select(Holiday.name)) == "Labour Day"


# --- logo and branding -------------------------------------------------------------------------------


def test_small_png_is_accepted_and_served_back(app, as_admin, admin, client):
    png = _png(4, 2)
    response = _upload(as_admin, png)
    assert response.status_code == 302
    settings = _settings(app)
    assert settings["brand_logo_filename"].endswith(".png")
    assert settings["brand_logo_filename"] != "logo.png"  # stored under a random name
    assert (Path(app.config["UPLOAD_FOLDER"]) / "branding" / settings["brand_logo_filename"]).read_bytes() == png
    [event] = _events(app, "settings.logo_changed")
    assert event.actor_id == admin.id and event.after == {"brand_logo_filename": settings["brand_logo_filename"]}

    served = app.test_client().get("/branding/logo")  # public, like the sign-in page that shows it
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.data == png
    assert 'src="/branding/logo"' in as_admin.get("/admin/settings").get_data(as_text=True)

    assert post_form(as_admin, "/admin/settings/logo/delete", token_from="/admin/settings").status_code == 302
    assert _settings(app)["brand_logo_filename"] is None
    assert app.test_client().get("/branding/logo").status_code == 404


def test_minimal_one_pixel_png_is_accepted(app, as_admin):
    assert _upload(as_admin, _png()).status_code == 302
    assert app.test_client().get("/branding/logo").mimetype == "image/png"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.png",
                     "Upload a PNG, JPEG or WebP image.", id="svg-named-png"),
        pytest.param(b"GIF89a\x01\x00\x01\x00", "logo.gif", "Upload a PNG, JPEG or WebP image.", id="gif"),
        pytest.param(b"RIFF\x00\x00\x00\x00WAVEfmt ", "logo.webp", "Upload a PNG, JPEG or WebP image.",
                     id="riff-not-webp"),
        pytest.param(b"", "empty.png", None, id="empty-file"),
        pytest.param(None, "large.png", "The logo must be at most 512 KB.", id="png-over-512kb"),
    ],
)
def test_bad_logo_is_refused_at_the_field_and_changes_nothing(app, as_admin, saved, data, filename, message):
    if data is None:
        data = _png(420, 420, noisy=True)
        assert len(data) > 512 * 1024 and data.startswith(b"\x89PNG")
    files, events = _logo_files(app), row_count(app, AuditEvent)
    response = _upload(as_admin, data, filename)
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True), "logo")
    assert errors if message is None else message in errors, errors
    assert _settings(app) == saved
    assert _logo_files(app) == files
    assert row_count(app, AuditEvent) == events
    assert app.test_client().get("/branding/logo").status_code == 404


def test_upload_without_a_file_is_refused(as_admin):
    response = post_form(as_admin, "/admin/settings/logo", token_from="/admin/settings")
    assert response.status_code == 400
    assert "Choose a file." in field_errors(response.get_data(as_text=True), "logo")


def test_branding_css_carries_the_saved_accent_colour(app, as_admin):
    assert "#0d6efd" in app.test_client().get("/branding.css").get_data(as_text=True)
    assert _save(as_admin, brand_accent_color="#aa3366").status_code == 302
    response = app.test_client().get("/branding.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert "--psa-accent: #aa3366" in css and "#0d6efd" not in css


# --- who may -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["leader", "manager", "consultant"])
def test_only_admins_reach_the_settings(app, client, make, role):
    holiday = make.holiday()
    login_as(client, make.user(role=role))
    assert client.get("/admin/settings").status_code == 403
    assert post_form(client, "/admin/settings", VALID).status_code == 403
    assert post_form(client, "/admin/settings/holidays", {"day": "2030-07-04", "name": "X"}).status_code == 403
    assert post_form(client, f"/admin/settings/holidays/{holiday.id}/delete").status_code == 403
    assert post_form(client, "/admin/settings/logo/delete").status_code == 403
    after = _settings(app)  # the row of defaults may exist; nothing in it changed
    assert after is None or (after["org_name"], after["currency"]) == ("PSA", "USD")
    assert row_count(app, Holiday) == 1
    assert row_count(app, AuditEvent) == 0
