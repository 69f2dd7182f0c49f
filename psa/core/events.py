"""Domain events: a feature says what happened (`publish("timesheet.approved", {...})`) without knowing who
listens. Core imports no feature, so the listeners (the outgoing webhooks, psa.webhooks.services.publish) are
registered by the app at start (psa/__init__.py, _connect_features); with none registered, publish does nothing.

A listener runs in the caller's transaction (what it writes commits or rolls back with the change that caused
it), so publish is called after the state change, inside the same transaction. Payloads carry ids, names, the
new state and `occurred_at` (added here when missing, ISO 8601 in UTC); never rates or costs.

`data` may be a dict or a function returning one: a listener receives a function returning the payload (built
once, on the first call), so an event nobody subscribes to costs no query to describe."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from psa.core import clock

Payload = dict[str, Any]
#: The registered listeners, each called as listener(event, payload) where payload() returns the data.
_subscribers: list[Callable[[str, Callable[[], Payload]], object]] = []


def subscribe(listener: Callable[[str, Callable[[], Payload]], object]) -> None:
    """Register a listener (once: registering the same one again does nothing)."""
    if listener not in _subscribers:
        _subscribers.append(listener)


def unsubscribe(listener: Callable[[str, Callable[[], Payload]], object]) -> None:
    if listener in _subscribers:
        _subscribers.remove(listener)


def publish(event: str, data: Payload | Callable[[], Payload]) -> None:
    """Tell every listener that `event` happened; the data gets `occurred_at` (now) unless it has one."""
    if not _subscribers:
        return
    occurred_at = clock.now().isoformat()

    @cache
    def payload() -> Payload:
        built = {**(data() if callable(data) else data)}
        built.setdefault("occurred_at", occurred_at)
        return built

    for listener in list(_subscribers):
        listener(event, payload)
