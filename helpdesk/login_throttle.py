"""Throttling password guesses per account, shared by every worker and host.

The rule (OWASP's "device cookies"): failed logins are counted per account, in the database, so
four gunicorn workers or several hosts share one count. Once an account has `limit` failures in
the window, a client that is not known refuses further attempts without checking the password.
A *known device* (a browser holding the signed cookie set at an earlier successful login for
this account) is counted on its own failures only, so someone who merely knows the address
cannot lock the real user out. The per-address (IP) limit stays with Flask-Limiter in auth.py.

The same table counts password-reset requests per address (`RESET_REQUEST`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from sqlalchemy import Index, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db

LOGIN_FAILURE = "login_failure"
RESET_REQUEST = "reset_request"

DEVICE_COOKIE = "opiekun_device"
DEVICE_COOKIE_MAX_AGE = 60 * 60 * 24 * 365


class AuthAttempt(db.Model):
    """One failed login (or one reset request) for an address, at an instant, maybe from a device."""

    __tablename__ = "auth_attempts"
    __table_args__ = (Index("ix_auth_attempts_kind_subject_at", "kind", "subject", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(254))  # the normalised e-mail address
    device: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def normalise_address(email: str | None) -> str:
    """The address as counted and looked up: no surrounding spaces, lower case."""
    return (email or "").strip().lower()[:254]


def over_limit(
    attempts: Iterable[tuple[datetime, str | None]],
    *,
    device: str | None,
    limit: int,
    window: timedelta,
    now: datetime,
) -> bool:
    """Whether another attempt is refused: a known device counts its own failures, others all."""
    since = now - window
    recent = [d for at, d in attempts if at > since]
    if device is not None:
        recent = [d for d in recent if d == device]
    return len(recent) >= limit


def _limit(setting: str) -> tuple[int, timedelta]:
    item = parse(current_app.config[setting])
    return item.amount, timedelta(seconds=item.get_expiry())


def _attempts(kind: str, address: str, since: datetime) -> list[tuple[datetime, str | None]]:
    rows = db.session.execute(
        select(AuthAttempt.at, AuthAttempt.device).where(
            AuthAttempt.kind == kind, AuthAttempt.subject == address, AuthAttempt.at > since
        )
    )
    return [(at, device) for at, device in rows]


def _record(kind: str, address: str, device: str | None, now: datetime, window: timedelta) -> None:
    db.session.execute(
        delete(AuthAttempt).where(
            AuthAttempt.kind == kind, AuthAttempt.subject == address, AuthAttempt.at <= now - window
        )
    )
    db.session.add(AuthAttempt(kind=kind, subject=address, device=device, at=now))
    db.session.commit()


def login_refused(address: str, device: str | None) -> bool:
    """Whether this account takes no more password attempts from this client just now."""
    now = utcnow()
    limit, window = _limit("LOGIN_LIMIT_PER_ACCOUNT")
    attempts = _attempts(LOGIN_FAILURE, address, now - window)
    return over_limit(attempts, device=device, limit=limit, window=window, now=now)


def record_login_failure(address: str, device: str | None) -> None:
    """Count a wrong password (or unknown address) against the account. Commits."""
    _, window = _limit("LOGIN_LIMIT_PER_ACCOUNT")
    _record(LOGIN_FAILURE, address, device, utcnow(), window)


def reset_request_allowed(address: str) -> bool:
    """Count a password-reset request for the address; False once it has asked too often. Commits."""
    now = utcnow()
    limit, window = _limit("PASSWORD_RESET_LIMIT_PER_ACCOUNT")
    attempts = _attempts(RESET_REQUEST, address, now - window)
    if over_limit(attempts, device=None, limit=limit, window=window, now=now):
        return False
    _record(RESET_REQUEST, address, None, now, window)
    return True


# -- known devices ---------------------------------------------------------------------------


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def new_device_cookie(address: str) -> str:
    """The signed value of a known-device cookie for a successful login to `address`."""
    return _device_serializer().dumps({"address": address, "device": secrets.token_hex(16)})


def known_device(cookie: str | None, address: str) -> str | None:
    """The device id in a valid known-device cookie issued for this address, else None."""
    if not cookie:
        return None
    try:
        data = _device_serializer().loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("address") != address:
        return None
    device = data.get("device")
    return device if isinstance(device, str) and len(device) <= 64 else None
