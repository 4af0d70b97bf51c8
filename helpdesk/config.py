"""Configuration: defaults for the embedded set-up, then the environment.

Embedded default: SQLite in instance/, notifications delivered inline, e-mail written to files.
Production: DATABASE_URL (PostgreSQL), REDIS_URL (RQ workers), SMTP_URL, SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def defaults(instance_path: str) -> dict[str, Any]:
    """Settings that let a newcomer run the helpdesk with nothing else installed."""
    instance = Path(instance_path)
    return {
        "SECRET_KEY": None,  # filled by secret_key() when neither env nor tests give one
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'opiekun.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "UPLOAD_FOLDER": str(instance / "uploads"),
        "STORAGE_BACKEND": "local",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,  # whole request; per-file limit below
        "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
        "ATTACHMENT_MAX_FILES": 5,
        "DESCRIPTION_MAX_CHARS": 20_000,
        "REPLY_MAX_CHARS": 20_000,
        "REOPEN_WINDOW_DAYS": 14,
        "QUEUE_PAGE_SIZE": 50,
        # Reads of a help article are counted in each worker's memory and added to the database
        # in one transaction per batch (knowledge.services.ArticleViews), not one commit per read.
        "ARTICLE_VIEWS_BATCH": 50,  # reads kept before they are written
        "ARTICLE_VIEWS_SECONDS": 60,  # the oldest kept read is written at the next read after this
        "VIEW_COUNT_CAP": 1000,  # a view's count stops here ("1000+"): see tickets/saved_views.py
        "API_RATE_LIMIT": "300 per minute",  # per token, shared by every API endpoint
        "API_AUTH_FAILURE_LIMIT": "20 per minute",  # missing or unknown tokens, per client address
        "API_TOKENS_PER_USER": 20,  # active tokens one user may hold
        "PASSWORD_HASH": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
        "LOGIN_LIMIT_PER_ADDRESS": "20 per minute",
        # Failed logins per account, counted in the database (shared by every worker and host);
        # a browser that logged in to the account before is held only by its own failures.
        "LOGIN_LIMIT_PER_ACCOUNT": "5 per minute",
        "PASSWORD_RESET_LIMIT_PER_ACCOUNT": "3 per hour",  # reset e-mails asked for one address
        # Where Flask-Limiter counts (API per token, logins per address): unset means REDIS_URL
        # when that is set, else each worker's memory (see rate_limit_storage below).
        "RATELIMIT_STORAGE_URI": None,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis unreachable: count in the worker's memory until it is back, never answer 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 12,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Warsaw",
        "LANGUAGES": ("en", "pl"),
        "WTF_CSRF_TIME_LIMIT": None,
        "REDIS_URL": None,
        "SMTP_URL": None,
        "MAIL_FROM": "Opiekun <helpdesk@localhost>",
        "MAIL_OUTBOX_DIR": str(instance / "outbox"),
        "BASE_URL": "http://127.0.0.1:5000",
        # The e-mail channel (tickets/inbound/): the support address whose plus-addresses
        # (support+<token>@...) go into Reply-To (unset: MAIL_FROM's address); the largest message
        # taken; more than MAIL_IN_LOOP_LIMIT messages from one sender in MAIL_IN_LOOP_MINUTES are held.
        "MAIL_IN_ADDRESS": None,
        "MAIL_IN_MAX_BYTES": 25 * 1024 * 1024,
        "MAIL_IN_LOOP_LIMIT": 20,
        "MAIL_IN_LOOP_MINUTES": 10,
        # Jobs and notifications (helpdesk/jobs.py, helpdesk/notifications/)
        "RQ_QUEUES": ("notifications",),  # served besides RQ_QUEUE (helpdesk/jobs.py)
        "REDIS_CONNECT_TIMEOUT": 1.0,  # seconds; a web request never waits longer on Redis
        # Jobs run in the worker process, reusing its database and SMTP connections and compiled
        # templates; True forks a work horse per job (RQ's default Worker), several times slower.
        "WORKER_FORK": False,
        "NOTIFY_RETRY_INTERVALS": (15, 60, 240, 960, 3840),  # seconds between attempts
        "NOTIFY_LEASE_SECONDS": 120,  # a "sending" delivery older than this is taken over
        "NOTIFY_RELAY_GRACE_SECONDS": 120,  # a pending row this old is relayed again by the sweep
        "SMTP_TIMEOUT": 30,
        "WEBHOOK_TIMEOUT": 10,
        "WEBHOOKS_ALLOW_PRIVATE": False,  # allow webhook URLs on private/loopback hosts and http://
        # One submit, one effect (helpdesk/idempotency.py)
        "IDEMPOTENCY_WAIT_SECONDS": 10.0,  # a repeat waits this long for the first request to finish
        "IDEMPOTENCY_LEASE_SECONDS": 120.0,  # an unfinished claim this old was left by a dead process
    }


ENVIRONMENT = {
    # env var -> config key
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "REDIS_URL": "REDIS_URL",
    "SMTP_URL": "SMTP_URL",
    "MAIL_FROM": "MAIL_FROM",
    "UPLOAD_FOLDER": "UPLOAD_FOLDER",
    "RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "BASE_URL": "BASE_URL",
    "API_RATE_LIMIT": "API_RATE_LIMIT",
    "API_AUTH_FAILURE_LIMIT": "API_AUTH_FAILURE_LIMIT",
    "MAIL_OUTBOX_DIR": "MAIL_OUTBOX_DIR",
    "MAIL_IN_ADDRESS": "MAIL_IN_ADDRESS",
}


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _seconds_list(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.replace(" ", "").split(",") if part)


# env var -> (config key, parser) for settings that are not plain text
TYPED_ENVIRONMENT = {
    "REDIS_CONNECT_TIMEOUT": ("REDIS_CONNECT_TIMEOUT", float),
    "WORKER_FORK": ("WORKER_FORK", _flag),
    "NOTIFY_RETRY_INTERVALS": ("NOTIFY_RETRY_INTERVALS", _seconds_list),
    "NOTIFY_LEASE_SECONDS": ("NOTIFY_LEASE_SECONDS", float),
    "NOTIFY_RELAY_GRACE_SECONDS": ("NOTIFY_RELAY_GRACE_SECONDS", float),
    "SMTP_TIMEOUT": ("SMTP_TIMEOUT", float),
    "WEBHOOK_TIMEOUT": ("WEBHOOK_TIMEOUT", float),
    "WEBHOOKS_ALLOW_PRIVATE": ("WEBHOOKS_ALLOW_PRIVATE", _flag),
    "MAIL_IN_MAX_BYTES": ("MAIL_IN_MAX_BYTES", int),
    "MAIL_IN_LOOP_LIMIT": ("MAIL_IN_LOOP_LIMIT", int),
    "MAIL_IN_LOOP_MINUTES": ("MAIL_IN_LOOP_MINUTES", int),
}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    found: dict[str, Any] = {key: environ[var] for var, key in ENVIRONMENT.items() if environ.get(var)}
    for var, (key, parse) in TYPED_ENVIRONMENT.items():
        if environ.get(var):
            found[key] = parse(environ[var])
    uri = found.get("SQLALCHEMY_DATABASE_URI")
    if uri:
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(uri)
    return found


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def rate_limit_storage(settings: dict[str, Any]) -> None:
    """Count rate limits in Redis whenever the installation has one, so every worker shares them.

    RATELIMIT_STORAGE_URI wins when given; otherwise REDIS_URL; otherwise each worker's memory
    (the embedded default, one process). Redis is asked with the same short timeouts as the jobs.
    """
    uri = settings.get("RATELIMIT_STORAGE_URI") or settings.get("REDIS_URL") or "memory://"
    settings["RATELIMIT_STORAGE_URI"] = uri
    if uri.startswith(("redis://", "rediss://", "redis+")):
        timeout = settings.get("REDIS_CONNECT_TIMEOUT", 1.0)
        settings.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": timeout, "socket_timeout": timeout})


def secret_key(instance_path: str) -> str:
    """A per-installation secret kept in instance/, for the embedded default only."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
