"""Outgoing webhooks (issue 16): the rules of endpoints, publishing an event, and one delivery attempt.

- An endpoint is an http(s) URL without credentials in it, subscribed to events of WEBHOOK_EVENTS, with a secret
  generated here (shown once to the admin; rotating it makes a new one).
- `publish(event, data)` (registered with psa.core.events at start, so features never import this module) adds one
  pending delivery per active endpoint subscribed to the event, in the caller's transaction; once it commits, each
  delivery is queued (psa.webhooks.tasks.deliver_job), and the sweep (every minute) sends whatever is due.
- `deliver(delivery_id)` makes one attempt: claimed by a conditional UPDATE (two workers never send one delivery
  twice), POSTed as JSON with `X-PSA-Event`, `X-PSA-Delivery` and `X-PSA-Signature: sha256=<hex>` (HMAC-SHA256
  of the raw body with the endpoint's secret); a 2xx answer delivers it, anything else is retried after BACKOFF
  until MAX_ATTEMPTS, then it is failed (an admin may retry it).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_app_context

from psa.core.audit import record_audit
from psa.core.db import utcnow
from psa.core.errors import ValidationError
from psa.core.queue import dispatch, enqueue
from psa.extensions import db
from psa.webhooks.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint

log = logging.getLogger("psa.webhooks")

#: Attempts before a delivery is marked failed.
MAX_ATTEMPTS = 5
#: The wait after the n-th failed attempt before the next one (the e-mail outbox's schedule).
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60))
#: Seconds an attempt waits for the receiver (connecting, then each read).
TIMEOUT = 10
#: A claimed delivery is not due again before this: if the sender dies mid-attempt it is tried again after it.
CLAIM_LEASE = timedelta(minutes=2)
#: The jobs (named by dotted path, see psa.core.queue).
DELIVER_JOB = "psa.webhooks.tasks.deliver_job"
SWEEP_JOB = "psa.webhooks.tasks.deliver_due_job"
#: Above this many deliveries made by one transaction, one sweep job is queued instead of a job each.
JOB_PER_DELIVERY_MAX = 20
#: The events an admin may subscribe to (the test delivery goes to one endpoint when asked).
SUBSCRIBABLE = {name: label for name, label in WEBHOOK_EVENTS.items() if name != "webhook.test"}
URL_MAX = 2000
DESCRIPTION_MAX = 200
ERROR_MAX = 2000
USER_AGENT = "PSA-Webhooks/1"


# --- endpoints ------------------------------------------------------------------------------------


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None: an absolute http or https URL with a host, without a user name
    or password in it (the receiver checks the signature instead), no spaces or control characters."""
    if not url:
        return "Enter the URL that receives the events."
    if len(url) > URL_MAX:
        return f"Use at most {URL_MAX} characters."
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "A URL has no spaces or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Enter a valid URL, such as https://example.com/hooks/psa."
    if parts.scheme.lower() not in ("http", "https"):
        return "Use an https:// (or http://) URL."
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "Leave credentials out of the URL: the receiver checks the X-PSA-Signature header instead."
    if not parts.hostname:
        return "Enter a valid URL, such as https://example.com/hooks/psa."
    if port == 0:
        return "Enter a valid port."
    return None


def _check(url: str, description: str, events) -> tuple[str, str, str]:
    """(url, description, events as stored) or ValidationError at the fields."""
    url = (url or "").strip()
    description = (description or "").strip()
    chosen = [name for name in dict.fromkeys(events or []) if name]
    errors = {}
    problem = url_problem(url)
    if problem:
        errors["url"] = problem
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Use at most {DESCRIPTION_MAX} characters."
    unknown = [name for name in chosen if name not in SUBSCRIBABLE]
    if unknown:
        errors["events"] = f"Unknown event: {', '.join(unknown)[:100]}."
    elif not chosen:
        errors["events"] = "Choose at least one event."
    if errors:
        raise ValidationError(errors)
    return url, description, " ".join(name for name in SUBSCRIBABLE if name in chosen)


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # never the secret
    return {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events,
            "active": endpoint.active}


def create_endpoint(actor, *, url: str, description: str = "", events, active: bool = True) -> WebhookEndpoint:
    """Register an endpoint with a new secret (endpoint.secret: show it once)."""
    url, description, events = _check(url, description, events)
    endpoint = WebhookEndpoint(url=url, description=description, events=events, active=bool(active),
                               secret=generate_secret(), created_by_id=getattr(actor, "id", None))
    db.session.add(endpoint)
    db.session.flush()
    _forget_endpoints()
    record_audit(actor, "webhook.created", endpoint, after=_snapshot(endpoint))
    return endpoint


def update_endpoint(actor, endpoint: WebhookEndpoint, *, url: str, description: str = "", events,
                    active: bool = True) -> WebhookEndpoint:
    url, description, events = _check(url, description, events)
    before = _snapshot(endpoint)
    endpoint.url, endpoint.description, endpoint.events, endpoint.active = url, description, events, bool(active)
    db.session.flush()
    _forget_endpoints()
    record_audit(actor, "webhook.updated", endpoint, before, _snapshot(endpoint))
    return endpoint


def rotate_secret(actor, endpoint: WebhookEndpoint) -> str:
    """Give the endpoint a new secret (deliveries from now on are signed with it); the new secret, to show once."""
    endpoint.secret = generate_secret()
    db.session.flush()
    record_audit(actor, "webhook.secret_rotated", endpoint, after={"url": endpoint.url})
    return endpoint.secret


def delete_endpoint(actor, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log (the foreign key cascades)."""
    record_audit(actor, "webhook.deleted", endpoint, before=_snapshot(endpoint))
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.flush()
    _forget_endpoints()


# --- publishing -----------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str, ensure_ascii=False)


def _body(delivery_id: int | None, event: str, data: dict, at: datetime) -> str:
    """The JSON body: the delivery's id, the event, `timestamp` (seconds since the epoch, when signed; a receiver
    refuses old ones to stop replays) and the event's data."""
    body = {"event": event, "timestamp": int(at.timestamp()), "data": data}
    if delivery_id is not None:
        body["id"] = delivery_id
    return _json(body)


def _new_delivery(endpoint_id: int, event: str, data: dict) -> WebhookDelivery:
    now = utcnow()
    delivery = WebhookDelivery(endpoint_id=endpoint_id, event=event, payload=_body(None, event, data, now),
                               state="pending", attempts=0, next_attempt_at=now, error="")
    db.session.add(delivery)
    return delivery


def _subscribed(event: str) -> list[int]:
    """The active endpoints subscribed to `event`; read once per transaction (a refresh changing the health of
    many projects asks once), forgotten when it ends and when an endpoint changes."""
    session = db.session()
    endpoints = session.info.get("psa_webhook_endpoints")
    if endpoints is None:
        rows = session.execute(sa.select(WebhookEndpoint.id, WebhookEndpoint.events)
                               .where(WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.id)).all()
        endpoints = session.info["psa_webhook_endpoints"] = [(row.id, set(row.events.split())) for row in rows]
        _watch(session)
    return [endpoint_id for endpoint_id, events in endpoints if event in events]


def _forget_endpoints() -> None:
    db.session().info.pop("psa_webhook_endpoints", None)


def publish(event: str, data: dict | Callable[[], dict]) -> list[int]:
    """Add one pending delivery of `event` per active endpoint subscribed to it, in the caller's transaction; they
    are queued once it commits (nothing is sent if it rolls back). `data` is a dict or a function returning one
    (called only when an endpoint is subscribed). The ids of the deliveries made."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    targets = _subscribed(event)
    if not targets:
        return []
    payload = data() if callable(data) else data
    deliveries = [_new_delivery(endpoint_id, event, payload) for endpoint_id in targets]
    db.session.flush()
    ids = [delivery.id for delivery in deliveries]
    _queue_after_commit(ids)
    return ids


def send_test(actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A webhook.test delivery to this endpoint (whatever its events); call dispatch_delivery after the commit."""
    delivery = _new_delivery(endpoint.id, "webhook.test", {
        "endpoint_id": endpoint.id, "message": "A test delivery from PSA.", "occurred_at": utcnow().isoformat()})
    db.session.flush()
    record_audit(actor, "webhook.test_sent", endpoint, after={"delivery_id": delivery.id})
    return delivery


def retry_delivery(actor, delivery: WebhookDelivery) -> bool:
    """Give a failed delivery a fresh round of attempts now (the log's Retry): a conditional update, False (and
    nothing changed) when it is no longer failed. Call dispatch_delivery after the commit."""
    changed = db.session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery.id, WebhookDelivery.state == "failed")
        .values(state="pending", attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if not changed:
        return False
    record_audit(actor, "webhook.delivery_retried", delivery, {"state": "failed", "attempts": delivery.attempts},
                 {"state": "pending", "attempts": 0})
    db.session.expire(delivery)
    db.session.flush()
    return True


def dispatch_delivery(delivery_id: int) -> None:
    """Have one delivery attempted now: by the worker, or in this process when Redis does not answer (an admin's
    button: the admin waits at most TIMEOUT)."""
    dispatch(DELIVER_JOB, delivery_id)


def _queue_after_commit(ids: list[int]) -> None:
    """Once the session's transaction commits, queue the deliveries it made (none if it rolls back)."""
    session = db.session()
    session.info.setdefault("psa_webhook_deliveries", []).extend(ids)
    _watch(session)


def _watch(session) -> None:
    """Once per session: when its transaction ends, queue what it published (on commit) and forget the endpoints
    it read."""
    if session.info.get("psa_webhook_watched"):
        return
    session.info["psa_webhook_watched"] = True

    def committed(_session):
        session.info.pop("psa_webhook_endpoints", None)
        pending = session.info.setdefault("psa_webhook_deliveries", [])
        queued = list(pending)
        pending.clear()
        if queued and has_app_context():
            _queue(queued)

    def rolled_back(_session):
        session.info.pop("psa_webhook_endpoints", None)
        session.info.setdefault("psa_webhook_deliveries", []).clear()

    sa.event.listen(session, "after_commit", committed)
    sa.event.listen(session, "after_rollback", rolled_back)


def _queue(ids: list[int]) -> None:
    """Queue the deliveries on the worker. Under PSA_INLINE_JOBS they are sent here and now; when Redis does not
    answer they are left to the sweep (every minute), so no request waits on a slow receiver."""
    if current_app.config.get("PSA_INLINE_JOBS"):
        for delivery_id in ids:
            dispatch(DELIVER_JOB, delivery_id)
        return
    try:
        if len(ids) > JOB_PER_DELIVERY_MAX:
            enqueue(SWEEP_JOB)
            return
        for delivery_id in ids:
            if not enqueue(DELIVER_JOB, delivery_id):
                log.info("webhook deliveries %s left to the sweep: Redis does not answer", ids)
                return
    except Exception:  # after the commit: the change stands, the sweep sends the deliveries
        log.exception("could not queue webhook deliveries %s", ids)


# --- sending --------------------------------------------------------------------------------------


def sign(secret: str, body: bytes | str) -> str:
    """The X-PSA-Signature header's value: "sha256=" and the hex HMAC-SHA256 of the raw body with the secret."""
    raw = body.encode() if isinstance(body, str) else body
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes | str, signature: str) -> bool:
    """What a receiver does: compare the header with the body's signature in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def backoff_after(attempts: int) -> timedelta:
    """The wait before the next attempt of a delivery whose `attempts`-th attempt just failed."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _due(now: datetime):
    return sa.and_(WebhookDelivery.state == "pending",
                   sa.or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (not 2xx), never followed: the signed body goes to the registered URL only."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST the body; (status code or None, error text or "")."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            response.read(65536)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        with exc:
            excerpt = exc.read(500).decode("utf-8", "replace").strip()
        return exc.code, f"HTTP {exc.code} {exc.reason}" + (f": {excerpt}" if excerpt else "")
    except urllib.error.URLError as exc:
        return None, f"{type(exc.reason).__name__}: {exc.reason}"
    except TimeoutError as exc:
        return None, f"Timeout: no answer within {TIMEOUT} seconds ({exc})"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return None, f"{exc.__class__.__name__}: {exc}"


def deliver(delivery_id: int) -> str:
    """One attempt at one delivery, if it is due: "delivered", "retry", "failed", or "skipped" (not due, or
    another sender claimed it). Commits the claim before sending (so no transaction stays open while the
    receiver answers) and the outcome after."""
    now = utcnow()
    claimed = db.session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _due(now))
        .values(attempts=WebhookDelivery.attempts + 1, last_attempt_at=now, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:  # its endpoint was deleted meanwhile
        return "skipped"
    endpoint = delivery.endpoint
    try:
        data = json.loads(delivery.payload).get("data", {})
    except (ValueError, AttributeError):
        data = {}
    sent_at = utcnow()
    body = _body(delivery.id, delivery.event, data, sent_at)
    url, secret, attempts, active = endpoint.url, endpoint.secret, delivery.attempts, endpoint.active
    db.session.commit()  # no transaction is held while the receiver answers
    if not active and delivery.event != "webhook.test":
        code, error = None, "Not sent: the endpoint is paused."
    else:
        code, error = _post(url, body.encode(), {
            "Content-Type": "application/json", "User-Agent": USER_AGENT, "X-PSA-Event": delivery.event,
            "X-PSA-Delivery": str(delivery.id), "X-PSA-Signature": sign(secret, body.encode())})
    ok = code is not None and 200 <= code < 300
    if ok:
        values = {"state": "delivered", "delivered_at": utcnow(), "next_attempt_at": None, "error": ""}
        outcome = "delivered"
    elif attempts >= MAX_ATTEMPTS or not active:
        values = {"state": "failed", "next_attempt_at": None, "error": (error or f"HTTP {code}")[:ERROR_MAX]}
        outcome = "failed"
    else:
        values = {"state": "pending", "next_attempt_at": utcnow() + backoff_after(attempts),
                  "error": (error or f"HTTP {code}")[:ERROR_MAX]}
        outcome = "retry"
    # written only while the claim is ours (an admin's Retry meanwhile starts a fresh round)
    db.session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempts,
                                         WebhookDelivery.state == "pending")
        .values(payload=body, response_code=code, last_attempt_at=sent_at, **values)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if not ok:
        log.warning("webhook delivery %s (%s) to %s: %s", delivery_id, delivery.event, url, values["error"])
    return outcome


def deliver_due(limit: int = 200) -> dict[str, int]:
    """Attempt every due delivery (pending, its backoff or lease passed), oldest first; counts per outcome."""
    ids = db.session.scalars(sa.select(WebhookDelivery.id).where(_due(utcnow()))
                             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)).all()
    db.session.commit()
    result = {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
    for delivery_id in ids:
        result[deliver(delivery_id)] += 1
    return result


# --- reading --------------------------------------------------------------------------------------


def last_deliveries(endpoint_ids: list[int]) -> dict[int, WebhookDelivery]:
    """Each endpoint's newest delivery (one query)."""
    if not endpoint_ids:
        return {}
    newest = (sa.select(sa.func.max(WebhookDelivery.id)).where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
              .group_by(WebhookDelivery.endpoint_id))
    rows = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(newest))).all()
    return {row.endpoint_id: row for row in rows}


def deliveries_query(endpoint_id: int):
    """The endpoint's delivery log, newest first."""
    return (sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()))
