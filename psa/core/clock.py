"""The one clock: what time it is, and which day "today" is in a time zone.

Every "now" and "today" in PSA comes from here, so a test can freeze time for the whole application with
`frozen(at)` (or `set_now(fn)`) instead of sleeping or patching several modules.

Two zones decide "today" (SPEC §3):
- the organisation's zone (the settings' time zone) for schedule rules: forecasts, slips, health, the
  dashboard, overdue milestones: `org_today()`;
- the user's own zone for their timesheet grid: the default week, which cell is today, and the rule that
  refuses time logged ahead of today: `user_today(user)` (the organisation's zone when the user has none
  or an unknown one).

psa/core imports no feature, so the organisation's zone reaches the clock through a provider the app
registers at start (`set_org_zone_source`; create_app passes the settings' time zone). Without one, the
organisation's zone is UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The zone used when none is configured or a name is unknown.
DEFAULT_ZONE = "UTC"

_lock = threading.Lock()
#: A test's replacement for the real clock (a callable returning an aware datetime), or None.
_now_override: Callable[[], datetime] | None = None
#: Returns the organisation's zone name; registered by the app (create_app).
_org_zone_source: Callable[[], str | None] | None = None


def _real_now() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC (frozen by `frozen`/`set_now` in tests)."""
    override = _now_override
    value = override() if override is not None else _real_now()
    if value.tzinfo is None:
        raise ValueError(f"the clock must return an aware datetime, not {value!r}")
    return value.astimezone(UTC)


def set_now(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (a callable returning an aware datetime); None restores the real one. Every
    thread reads the same override, so a race test's threads share the frozen time."""
    global _now_override
    with _lock:
        _now_override = fn


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Within the block, now() is `at` (aware; any zone) in every thread; the previous clock comes back
    after it."""
    if at.tzinfo is None:
        raise ValueError("freeze the clock at an aware datetime")
    previous = _now_override
    set_now(lambda: at)
    try:
        yield
    finally:
        set_now(previous)


def zone(name: str | None, fallback: str = DEFAULT_ZONE) -> ZoneInfo:
    """The zone called `name`, or `fallback` when it is blank or unknown."""
    for candidate in (name, fallback, DEFAULT_ZONE):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            continue
    return ZoneInfo(DEFAULT_ZONE)


def today_in(zone_name: str | None, fallback: str = DEFAULT_ZONE) -> date:
    """Today's date in the zone called `zone_name` (`fallback` when it is blank or unknown)."""
    return now().astimezone(zone(zone_name, fallback)).date()


# --- the two zones of the application -------------------------------------------------------------


def set_org_zone_source(fn: Callable[[], str | None] | None) -> None:
    """Register how to read the organisation's zone name (called inside an app context)."""
    global _org_zone_source
    with _lock:
        _org_zone_source = fn


def org_zone_name() -> str:
    """The organisation's zone name (UTC when none is registered or it is unknown)."""
    source = _org_zone_source
    name = source() if source is not None else None
    return zone(name).key


def user_zone_name(user) -> str:
    """The user's zone name, else the organisation's."""
    org = org_zone_name()
    return zone(getattr(user, "timezone", None), org).key


def org_today() -> date:
    """Today in the organisation's zone: the day schedule rules (forecast, slip, health, overdue) use."""
    return today_in(org_zone_name())


def user_today(user) -> date:
    """Today in the user's zone (the organisation's when the user has none or an unknown one): the day
    their timesheet grid opens on and the last day they may log time on."""
    return today_in(user_zone_name(user))
