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
        "REOPEN_WINDOW_DAYS": 7,
        "QUEUE_PAGE_SIZE": 50,
        "API_RATE_LIMIT": "300 per minute",  # per token, shared by every API endpoint
        "API_TOKENS_PER_USER": 20,  # active tokens one user may hold
        "PASSWORD_HASH": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
        "LOGIN_LIMIT_PER_ADDRESS": "20 per minute",
        "LOGIN_LIMIT_PER_ACCOUNT": "5 per minute",
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
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
}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    found = {key: environ[var] for var, key in ENVIRONMENT.items() if environ.get(var)}
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
