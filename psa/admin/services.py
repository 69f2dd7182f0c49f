"""The rules of settings, holidays and branding."""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import available_timezones

import sqlalchemy as sa
from flask import current_app, g, has_app_context

from psa.admin.models import Holiday, Settings
from psa.core.audit import record_audit, snapshot
from psa.core.calendar import WorkCalendar
from psa.core.errors import ValidationError
from psa.core.money import to_exact
from psa.core.validation import EARLIEST_DATE, LATEST_DATE, check_date, date_errors
from psa.extensions import db

SETTINGS_FIELDS = (
    "org_name", "currency", "timezone", "working_days", "time_lock_date", "allow_future_time",
    "escalation_level1_days", "escalation_level2_days", "escalation_level3_days",
    "health_red_overdue_days", "health_amber_burn_points", "utilization_target_percent",
    "brand_name", "brand_accent_color",
)
#: Image types accepted as a logo, by their first bytes (SVG is refused: it can carry script).
LOGO_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp"}
#: Settings that are inputs of the SPEC §3 schedule rules (forecast, slip, health, escalation): changing
#: one refreshes every open project's cached schedule.
SCHEDULE_SETTINGS = ("timezone", "working_days", "escalation_level1_days", "escalation_level2_days",
                     "escalation_level3_days", "health_red_overdue_days", "health_amber_burn_points")


def organisation_calendar() -> WorkCalendar:
    """The working weekdays of the settings and the holiday table, as a calendar (psa.core.calendar.get_calendar
    calls this, once per request, since create_app registers it)."""
    return WorkCalendar(weekdays=get_settings().working_weekdays,
                        holidays=frozenset(db.session.scalars(sa.select(Holiday.day))))


def forget_calendar() -> None:
    """Drop the calendar cached for this request after working days or holidays change."""
    if has_app_context():
        g.pop("psa_calendar", None)


#: What refreshes every open project's cached schedule: projects depends on admin (its settings), not the
#: other way, so create_app registers psa.projects.services.refresh_open_schedules here.
_schedule_refresher: Callable[[], object] | None = None


def set_schedule_refresher(refresher: Callable[[], object] | None) -> None:
    """Register the function refreshing every open project's schedule (None unregisters it)."""
    global _schedule_refresher
    _schedule_refresher = refresher


def calendar_changed() -> None:
    """Working days, holidays, the time zone or a threshold changed: forget the cached calendar and
    refresh every open project's schedule in this transaction (well under a second for 800 projects)."""
    forget_calendar()
    if _schedule_refresher is None:
        raise RuntimeError("No schedule refresher registered: create_app registers the projects' one.")
    _schedule_refresher()


def get_settings() -> Settings:
    """The settings row, created with defaults on first use; loaded once per request."""
    cached = g.get("psa_settings") if has_app_context() else None
    if cached is not None:
        return cached
    settings = db.session.get(Settings, 1)
    if settings is None:
        settings = Settings(id=1)
        db.session.add(settings)
        db.session.flush()
    if has_app_context():
        g.psa_settings = settings
    return settings


def update_settings(actor, **fields) -> Settings:
    """Change settings; escalation levels must rise, at least one weekday must be a working day."""
    settings = get_settings()
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a setting." for name in unknown})
    merged = {name: fields.get(name, getattr(settings, name)) for name in SETTINGS_FIELDS}
    errors = {}
    if not merged["working_days"] or any(ch not in "1234567" for ch in merged["working_days"]):
        errors["working_days"] = "Choose at least one working day."
    if not re.fullmatch(r"[A-Za-z]{3}", merged["currency"] or ""):
        errors["currency"] = "Enter a three-letter currency code such as USD or EUR."
    if merged["timezone"] not in available_timezones():
        errors["timezone"] = "Choose a time zone from the list."
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", merged["brand_accent_color"] or ""):
        errors["brand_accent_color"] = "Use a colour like #0d6efd."
    errors.update(date_errors(time_lock_date=merged["time_lock_date"]))
    try:  # as stored (two places, never rounded), so an unchanged target is not audited as a change
        merged["utilization_target_percent"] = to_exact(
            merged["utilization_target_percent"], "utilization_target_percent", high=Decimal(100),
            range_message="Enter a percentage from 0 to 100.")
    except ValidationError as exc:
        errors.update(exc.errors)
    l1, l2, l3 = (merged[f"escalation_level{n}_days"] for n in (1, 2, 3))
    if not (1 <= l1 < l2 < l3):
        errors["escalation_level2_days"] = "Levels must rise: level 1 < level 2 < level 3, level 1 at least 1."
    if errors:
        raise ValidationError(errors)
    merged["working_days"] = "".join(sorted(set(merged["working_days"])))
    merged["currency"] = merged["currency"].upper()
    before = snapshot(settings, SETTINGS_FIELDS)
    for name, value in merged.items():
        setattr(settings, name, value)
    db.session.flush()
    after = snapshot(settings, SETTINGS_FIELDS)
    if before != after:
        record_audit(actor, "settings.updated", settings, before, after)
    forget_calendar()
    if any(before[name] != after[name] for name in SCHEDULE_SETTINGS):
        calendar_changed()
    return settings


def list_holidays(year: int | None = None) -> list[Holiday]:
    stmt = sa.select(Holiday).order_by(Holiday.day)
    if year is not None:
        stmt = stmt.where(Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
    return list(db.session.scalars(stmt))


def add_holiday(actor, day: date, name: str) -> Holiday:
    check_date(day, "day")
    if db.session.scalar(sa.select(Holiday.id).where(Holiday.day == day)) is not None:
        raise ValidationError({"day": f"{day.isoformat()} is already a holiday."})
    holiday = Holiday(day=day, name=name.strip())
    db.session.add(holiday)
    db.session.flush()
    record_audit(actor, "holiday.added", holiday, after=snapshot(holiday, ("day", "name")))
    calendar_changed()
    return holiday


@functools.cache
def holiday_countries() -> list[tuple[str, str]]:
    """(ISO code, country name) of every country the `holidays` package knows, sorted by name (computed once:
    it depends only on the installed package)."""
    from holidays.registry import COUNTRIES

    names = {codes[1]: codes[0] for codes in COUNTRIES.values()}
    return sorted(((code, re.sub(r"(?<=[a-z])(?=[A-Z])", " ", names.get(code, code)))
                   for code in holidays_package().list_supported_countries(include_aliases=False)),
                  key=lambda pair: pair[1])


#: A currency's country, for an organisation whose time zone names none (UTC).
CURRENCY_COUNTRIES = {"USD": "US", "GBP": "GB", "CAD": "CA", "AUD": "AU", "NZD": "NZ", "CHF": "CH", "SEK": "SE",
                      "NOK": "NO", "DKK": "DK", "JPY": "JP", "INR": "IN", "SGD": "SG", "ZAR": "ZA", "BRL": "BR",
                      "MXN": "MX", "PLN": "PL", "CZK": "CZ", "HKD": "HK", "ILS": "IL", "AED": "AE"}


@functools.cache
def _zone_countries() -> dict[str, str]:
    """Time zone -> ISO country code, from the system's tz database (zone.tab), or {} when there is none (read
    once a process)."""
    import zoneinfo
    from pathlib import Path

    for folder in zoneinfo.TZPATH:
        table = Path(folder) / "zone.tab"
        if table.is_file():
            rows = (line.split("\t") for line in table.read_text().splitlines() if line and not line.startswith("#"))
            return {row[2]: row[0] for row in rows if len(row) >= 3}
    return {}


def default_holiday_country(settings) -> str | None:
    """The country whose holidays the settings page offers first: the organisation's time zone's country
    (America/New_York: US), else its currency's (USD: US), when the holidays package knows it; else None."""
    supported = {code for code, _ in holiday_countries()}
    for code in (_zone_countries().get(settings.timezone or ""), CURRENCY_COUNTRIES.get(settings.currency or "")):
        if code in supported:
            return code
    return None


def holidays_package():
    import holidays

    return holidays


def load_public_holidays(actor, country: str, year: int) -> list[Holiday]:
    """Add a country's public holidays for a year (from the `holidays` package); days already listed are kept."""
    package = holidays_package()
    if country not in package.list_supported_countries(include_aliases=False):
        raise ValidationError({"country": "Choose a country from the list."})
    if not isinstance(year, int) or not EARLIEST_DATE.year <= year <= LATEST_DATE.year:
        raise ValidationError({"year": f"Enter a year from {EARLIEST_DATE.year} to {LATEST_DATE.year}."})
    existing = set(db.session.scalars(sa.select(Holiday.day).where(
        Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))))
    added = []
    for day, name in sorted(package.country_holidays(country, years=year).items()):
        if day not in existing:
            holiday = Holiday(day=day, name=name[:120])
            db.session.add(holiday)
            added.append(holiday)
            existing.add(day)
    db.session.flush()
    record_audit(actor, "holiday.loaded", get_settings(), after={"country": country, "year": year, "added": len(added)})
    if added:
        calendar_changed()
    return added


def delete_holiday(actor, holiday: Holiday) -> None:
    record_audit(actor, "holiday.deleted", holiday, before=snapshot(holiday, ("day", "name")))
    db.session.delete(holiday)
    db.session.flush()
    calendar_changed()


def logo_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "branding"


def save_logo(actor, data: bytes) -> Settings:
    """Store an uploaded logo under a random name outside the web root and point the branding at it."""
    limit = current_app.config["LOGO_MAX_BYTES"]
    if len(data) > limit:
        raise ValidationError({"logo": f"The logo must be at most {limit // 1024} KB."})
    kind = next((ext for magic, ext in LOGO_SIGNATURES.items() if data.startswith(magic)), None)
    if kind == "webp" and data[8:12] != b"WEBP":
        kind = None
    if kind is None:
        raise ValidationError({"logo": "Upload a PNG, JPEG or WebP image."})
    folder = logo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    filename = f"{secrets.token_hex(16)}.{kind}"
    (folder / filename).write_bytes(data)
    settings = get_settings()
    before = snapshot(settings, ("brand_logo_filename",))
    settings.brand_logo_filename = filename
    record_audit(actor, "settings.logo_changed", settings, before, snapshot(settings, ("brand_logo_filename",)))
    return settings


def remove_logo(actor) -> Settings:
    settings = get_settings()
    if settings.brand_logo_filename:
        before = snapshot(settings, ("brand_logo_filename",))
        settings.brand_logo_filename = None
        record_audit(actor, "settings.logo_removed", settings, before, snapshot(settings, ("brand_logo_filename",)))
    return settings

