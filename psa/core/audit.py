"""The audit trail: one helper records who changed what, from what to what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psa.core.models import AuditEvent
from psa.extensions import db


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(obj: Any, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The named attributes of obj as a JSON-safe dict."""
    return {name: _json_value(getattr(obj, name)) for name in fields}


def record_audit(actor, action: str, obj: Any, before: dict | None = None, after: dict | None = None) -> AuditEvent:
    """Record one audit event; when both snapshots are given, only the fields that changed are kept."""
    if before is not None and after is not None:
        changed = [key for key in after if before.get(key) != after.get(key)]
        before = {key: before.get(key) for key in changed}
        after = {key: after[key] for key in changed}
    by_contact = bool(getattr(actor, "is_contact", False))
    event = AuditEvent(
        actor_id=None if by_contact else getattr(actor, "id", None),
        actor_contact_id=getattr(actor, "id", None) if by_contact else None,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "system",
        object_id=getattr(obj, "id", None),
        before=before,
        after=after,
    )
    db.session.add(event)
    return event


#: How events become sentences (psa.activity.text.describe): it reads every feature's models, so the app
#: hands it to core at start (psa/__init__.py) rather than core or a feature importing it.
_describer: Callable[..., list] | None = None


def set_event_describer(describer: Callable[..., list] | None) -> None:
    global _describer
    _describer = describer


def describe_events(events, **context) -> list:
    """The events as sentences people read (psa.activity.text.describe; context: project, names, people)."""
    if _describer is None:
        raise RuntimeError("no event describer connected (create_app connects psa.activity.text.describe)")
    return _describer(list(events), **context)
