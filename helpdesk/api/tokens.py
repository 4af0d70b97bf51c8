"""Personal API tokens: how scripts and integrations act as a user without a browser.

A token is `opk_` and 43 random URL-safe characters (32 bytes). Only its SHA-256 is stored, so
it is shown once, when it is made. A token acts as its user, with the user's current role and
company; a revoked token, or one whose user is deactivated, stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ForeignKey, Index, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import is_blank, one_line_error

TOKEN_PREFIX = "opk_"
NAME_MAX = 80
HINT_LENGTH = len(TOKEN_PREFIX) + 6
# last_used_at is a hint for people, not an audit trail: write it at most once a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiToken(db.Model):
    """A personal token. The secret is never stored; `hint` is its first characters, to tell tokens apart."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiToken {self.hint}… {self.name!r}>"


class TokenError(Invalid):
    """A token could not be made; the message says why (no such token to revoke: NotFound)."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    problem = one_line_error(name)
    if problem:
        raise TokenError(problem, "name")
    if is_blank(name):
        raise TokenError(_("Give the token a name, e.g. the script or system that uses it."), "name")
    if len(name) > NAME_MAX:
        raise TokenError(_("At most %(limit)s characters.", limit=NAME_MAX), "name")
    return name


def issue_token(user: User, name: str | None) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns it and its secret, which is never available again. Commits."""
    name = _check_name(name)
    if not user.active:
        raise TokenError(_("This account is deactivated."))
    limit = current_app.config["API_TOKENS_PER_USER"]
    active = db.session.scalar(
        select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if active >= limit:
        raise TokenError(
            _("You have %(count)s active tokens; revoke one you no longer use first.", count=active), "name"
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_secret(secret),
        hint=secret[:HINT_LENGTH],
        created_at=utcnow(),
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def user_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, active first, newest first."""
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    )
    return list(db.session.scalars(query).unique())


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (another user's token id is simply not found). Commits."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        raise NotFound(_("There is no such token."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def token_for_secret(secret: str) -> ApiToken | None:
    """The active token with this secret whose user is active, else None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    return token


def mark_used(token: ApiToken, now: datetime) -> None:
    """Record that the token was used (at most once per LAST_USED_RESOLUTION); commits that alone."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    db.session.commit()
