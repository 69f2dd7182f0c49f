"""The e-mail outbox and its mailer: SMTP when configured, the log otherwise."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app

from psa.core.audit import record_audit
from psa.core.db import utcnow
from psa.core.models import OutboxEmail
from psa.core.queue import dispatch
from psa.extensions import db

log = logging.getLogger("psa.mail")

#: Attempts before an e-mail is marked failed.
MAX_ATTEMPTS = 5
#: How long a message waits after its n-th failed attempt before the next one (the last value repeats).
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60))
#: A claim older than this is considered abandoned (the sender died) and is tried again.
CLAIM_TIMEOUT = timedelta(minutes=10)


def queue_email(to_address: str, subject: str, body: str) -> OutboxEmail:
    """Put an e-mail in the outbox; it is sent after the transaction commits."""
    email = OutboxEmail(to_address=to_address, subject=subject[:200], body=body)
    db.session.add(email)
    return email


def send_message(to_address: str, subject: str, body: str) -> None:
    """Send one message now: through SMTP when SMTP_HOST is set, else write it to the log."""
    cfg = current_app.config
    if not cfg.get("SMTP_HOST"):
        log.info("e-mail (no SMTP configured) to=%s subject=%s\n%s", to_address, subject, body)
        return
    message = EmailMessage()
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = to_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="psa")
    message.set_content(body)
    with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=15) as smtp:
        smtp.ehlo()
        starttls = cfg.get("SMTP_STARTTLS", "auto")
        if starttls == "always" or (starttls == "auto" and smtp.has_extn("starttls")):
            smtp.starttls()
            smtp.ehlo()
        if cfg.get("SMTP_USER"):
            smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
        smtp.send_message(message)


def backoff_after(attempts: int) -> timedelta:
    """The wait before the next attempt of a message whose `attempts`-th attempt just failed."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def deliver_outbox(limit: int = 200) -> dict[str, int]:
    """Send the e-mails that are due: pending ones whose backoff has passed (next_attempt_at NULL or past), and
    claims abandoned by a sender that died. Each row is claimed by one atomic UPDATE, so two senders never send
    one twice. A failed send waits BACKOFF before the next attempt; after MAX_ATTEMPTS the message is failed
    (an admin may retry it from the jobs page: retry_email)."""
    now = utcnow()
    due = sa.or_(
        sa.and_(OutboxEmail.state == "pending",
                sa.or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now)),
        sa.and_(OutboxEmail.state == "sending", OutboxEmail.last_attempt_at < now - CLAIM_TIMEOUT),
    )
    ids = db.session.scalars(sa.select(OutboxEmail.id).where(due).order_by(OutboxEmail.id).limit(limit)).all()
    db.session.commit()
    result = {"sent": 0, "retry": 0, "failed": 0}
    for email_id in ids:
        claimed = db.session.execute(
            sa.update(OutboxEmail)
            .where(OutboxEmail.id == email_id, due)
            .values(state="sending", attempts=OutboxEmail.attempts + 1, last_attempt_at=utcnow())
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        email = db.session.get(OutboxEmail, email_id)
        try:
            send_message(email.to_address, email.subject, email.body)
        except (smtplib.SMTPException, OSError) as exc:
            email.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
            email.state = "failed" if email.attempts >= MAX_ATTEMPTS else "pending"
            email.next_attempt_at = None if email.state == "failed" else utcnow() + backoff_after(email.attempts)
            result["failed" if email.state == "failed" else "retry"] += 1
            log.warning("e-mail %s to %s not sent: %s", email.id, email.to_address, email.last_error)
        else:
            email.state = "sent"
            email.sent_at = utcnow()
            email.last_error = None
            email.next_attempt_at = None
            result["sent"] += 1
        db.session.commit()
    return result


def retry_email(actor, email: OutboxEmail) -> bool:
    """Give a failed e-mail a fresh round of attempts now (the jobs page's Retry): failed → pending with its
    attempts and backoff cleared, audited. A conditional update: False (and nothing changed) when the message is
    no longer failed. Call dispatch_outbox after the commit to have it sent."""
    changed = db.session.execute(
        sa.update(OutboxEmail).where(OutboxEmail.id == email.id, OutboxEmail.state == "failed")
        .values(state="pending", attempts=0, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return False
    record_audit(actor, "outbox.retried", email, {"state": "failed", "attempts": email.attempts},
                 {"state": "pending", "attempts": 0})
    db.session.expire(email)
    db.session.flush()
    return True


def dispatch_outbox() -> None:
    """Have the outbox sent: by the worker when Redis answers, otherwise right now in this process; either way in
    a job's own app context and session, so call it after the commit that queued the e-mails."""
    dispatch("psa.jobs.tasks.deliver_outbox_job")
