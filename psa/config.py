"""Configuration, read once from the environment (SPEC §4)."""

from __future__ import annotations

import os
from pathlib import Path

#: The project root: templates/, migrations/ and instance/ sit here, beside the package.
ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a runnable installation."""


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from exc


def _flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    if value not in ("0", "1"):
        raise ConfigError(f"{name} must be 0 or 1, not {value!r}")
    return value == "1"


def from_environment(instance_path: Path) -> dict:
    """Return the configuration dict built from the environment variables of SPEC §4."""
    env = os.environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'psa.sqlite'}"
    base_url = env.get("PSA_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    https = base_url.startswith("https://")
    redis_url = env.get("REDIS_URL", "")
    return {
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "PSA_BASE_URL": base_url,
        "SMTP_HOST": env.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USER": env.get("SMTP_USER", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": env.get("SMTP_STARTTLS", "auto"),
        "MAIL_FROM": env.get("MAIL_FROM", "PSA <psa@localhost>"),
        "RQ_QUEUE": env.get("RQ_QUEUE", "psa"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        "UPLOAD_FOLDER": env.get("PSA_UPLOAD_FOLDER") or str(instance_path / "uploads"),
        #: Reverse proxies in front of the app (X-Forwarded-For/-Proto trusted that many hops).
        "PROXY_COUNT": _int("PSA_PROXY_COUNT", 0),
        #: Rows a list page counts at most before it says "more than N" (psa/core/pagination.py).
        "PSA_COUNT_LIMIT": _int("PSA_COUNT_LIMIT", 1000),
        #: Reuse a computed report until its data changes (psa/core/report_cache.py); PSA_REPORT_CACHE=0 computes
        #: every request (the benches time both).
        "REPORT_CACHE": env.get("PSA_REPORT_CACHE", "1") != "0",
        #: Run the periodic jobs in the web process: unset means "when there is no Redis" (psa/core/scheduler.py);
        #: 0 never (the benches, so a sweep never runs inside a timing), 1 always.
        "PSA_IN_PROCESS_SCHEDULER": _flag("PSA_IN_PROCESS_SCHEDULER"),
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_SECURE": https,
    }


def normalise_database_url(url: str) -> str:
    """Accept the common spellings of a PostgreSQL URL and use psycopg 3 for all of them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: Settings that are the same everywhere and never come from the environment.
DEFAULTS = {
    "SQLALCHEMY_RECORD_QUERIES": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 14,
    "PERMANENT_SESSION_LIFETIME": 60 * 60 * 12,
    "WTF_CSRF_TIME_LIMIT": 60 * 60 * 8,
    "BOOTSTRAP_SERVE_LOCAL": True,
    "BOOTSTRAP_BTN_SIZE": "md",
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_KEY_PREFIX": "psa-limit",
    #: Failed sign-ins allowed for one e-mail from one address before HTTP 429.
    "LOGIN_FAILURE_LIMIT": "5 per 15 minutes",
    #: Seconds a password-reset link stays valid; an invitation link lasts longer.
    "PASSWORD_RESET_MAX_AGE": 60 * 60,
    "INVITATION_MAX_AGE": 60 * 60 * 24 * 7,
    "LOGO_MAX_BYTES": 512 * 1024,
    #: Requests one API token may make (Flask-Limiter syntax); over it, 429 with Retry-After.
    "API_RATE_LIMIT": "600 per minute",
    #: Seconds a CRM deal-won request's signed timestamp stays acceptable (replay window).
    "CRM_HOOK_MAX_AGE": 300,
}
