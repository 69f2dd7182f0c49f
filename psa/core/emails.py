"""The one e-mail address rule: every path that takes an address (forms, services, the CLI) calls it."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from psa.core.errors import ValidationError

#: The longest address SMTP carries (RFC 5321 path limit less the angle brackets).
MAX_EMAIL_LENGTH = 254


def normalise_email(value) -> str:
    """An address as stored and compared: trimmed and lower-cased."""
    return (value or "").strip().lower() if isinstance(value, str) or value is None else str(value).strip().lower()


def email_problem(value) -> str | None:
    """Why the address is refused (a sentence for the field), or None when it is a valid address."""
    address = normalise_email(value)
    if not address:
        return "Enter an e-mail address."
    if len(address) > MAX_EMAIL_LENGTH:
        return f"Use at most {MAX_EMAIL_LENGTH} characters."
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"Enter a valid e-mail address, like name@example.com. {exc}"
    return None


def check_email(value, field: str = "email") -> str:
    """The normalised address, or a ValidationError at `field` saying why it is refused."""
    problem = email_problem(value)
    if problem:
        raise ValidationError({field: problem})
    return normalise_email(value)
