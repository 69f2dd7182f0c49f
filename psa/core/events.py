"""Domain events: a feature says what happened (`publish("timesheet.approved", {...})`) without knowing who
listens. Core imports no feature, so the listeners (the outgoing webhooks, psa.webhooks.services.publish) are
registered by the app at start (psa/__init__.py, _connect_features); with none registered, publish does nothing.

A listener runs in the caller's transaction (what it writes commits or rolls back with the change that caused
it), so publish is called after the state change, inside the same transaction. Payloads carry ids, names, the
new state and `occurred_at` (added here when missing, ISO 8601 in UTC); never rates or costs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psa.core import clock

#: The registered listeners, each called as listener(event, data).
_subscribers: list[Callable[[str, dict[str, Any]], object]] = []


def subscribe(listener: Callable[[str, dict[str, Any]], object]) -> None:
    """Register a listener (once: registering the same one again does nothing)."""
    if listener not in _subscribers:
        _subscribers.append(listener)


def unsubscribe(listener: Callable[[str, dict[str, Any]], object]) -> None:
    if listener in _subscribers:
        _subscribers.remove(listener)


def publish(event: str, data: dict[str, Any]) -> None:
    """Tell every listener that `event` happened; `data` gets `occurred_at` (now) unless it has one."""
    if not _subscribers:
        return
    payload = {**data}
    payload.setdefault("occurred_at", clock.now().isoformat())
    for listener in list(_subscribers):
        listener(event, payload)
