"""People who use the helpdesk, their roles, and how their passwords are kept."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app, session
from flask_login import UserMixin
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import CheckConstraint, ForeignKey, Select, String, func, select
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship
from zxcvbn import zxcvbn

from helpdesk.clock import utcnow
from helpdesk.companies import Client, client_by_slug
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid
from helpdesk.extensions import db, login_manager
from helpdesk.i18n import _, valid_timezone
from helpdesk.text import one_line_error
from helpdesk.vocabulary import Role

ROLES = Role.values()
STAFF_ROLES = ROLES[1:]


class User(UserMixin, db.Model):
    """A person: a client user (of one company) or a member of the vendor's staff."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(Role.check("role"), name="role"),
        CheckConstraint("(role = 'client') = (client_id IS NOT NULL)", name="client_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="RESTRICT"), index=True
    )
    is_client_admin: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Warsaw")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stored in the session at login and compared on every request: bumping it (logout, a new
    # password, deactivation) ends every session of the user on every device.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # A bounce said mail to this address cannot be delivered: no e-mail goes to it until cleared.
    email_undeliverable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_undeliverable_reason: Mapped[str | None] = mapped_column(String(500))

    client: Mapped[Client | None] = relationship(foreign_keys=[client_id], lazy="joined")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_client(self) -> bool:
        return self.role == "client"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class AccountError(Invalid):
    """A user could not be created or changed; the message says why, `field` says where."""


def _hasher() -> PasswordHasher:
    params = current_app.config["PASSWORD_HASH"]
    return PasswordHasher(**params)


def hash_password(password: str) -> str:
    """Argon2id, with the cost set in config."""
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against an unknown e-mail so a miss costs as much time as a wrong password.
_DUMMY_HASH: dict[str, str] = {}


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = user_by_email(email)
    if user is None:
        key = repr(current_app.config["PASSWORD_HASH"])
        if key not in _DUMMY_HASH:
            _DUMMY_HASH[key] = hash_password("not a password")
        try:
            _hasher().verify(_DUMMY_HASH[key], password)
        except VerificationError:
            pass
        return None
    if not check_password(user, password) or not user.active:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def normalise_email(email: str) -> str:
    email = (email or "").strip()
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(_("Enter a valid e-mail address."), "email") from exc


def user_by_email(email: str) -> User | None:
    email = (email or "").strip().lower()
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def check_display_name(name: str | None) -> str:
    """A person's display name (it goes into e-mail headers): one line, at most 200 characters."""
    name = (name or "").strip()
    problem = one_line_error(name)
    if problem:
        raise AccountError(problem, "name")
    if len(name) > 200:
        raise AccountError(_("At most %(limit)s characters.", limit=200), "name")
    return name


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200
# zxcvbn's estimate: 3 is "safely unguessable: moderate protection from offline slow-hash
# attack"; common passwords, keyboard walks, dates and dictionary words score lower.
PASSWORD_MIN_SCORE = 3


def validate_password(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """The password policy, applied wherever a password is set (raises AccountError)."""
    password = password or ""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(_("A password needs at least 10 characters."), "password")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(_("A password may have at most 200 characters."), "password")
    # zxcvbn's cost grows with length; the first 100 characters decide well enough.
    inputs = [part for value in user_inputs for part in (value or "").replace("@", " ").split() if part]
    if zxcvbn(password[:100], user_inputs=inputs)["score"] < PASSWORD_MIN_SCORE:
        raise AccountError(
            _("This password is too common or too easy to guess; choose a longer, less obvious one."),
            "password",
        )


def create_user(
    *,
    email: str,
    password: str,
    role: str,
    client_slug: str | None = None,
    client_admin: bool = False,
    name: str = "",
    language: str | None = None,
    commit: bool = True,
) -> User:
    """Add a user after checking every field; commits unless told not to."""
    email = normalise_email(email)
    name = check_display_name(name)
    if role not in ROLES:
        raise AccountError(_("Unknown role; choose client, agent, manager or admin."), "role")
    client = None
    if role == "client":
        if not client_slug:
            raise AccountError(_("A client user needs a client company."), "client")
        client = client_by_slug(client_slug)
        if client is None:
            raise AccountError(_("There is no client with this slug."), "client")
    elif client_slug:
        raise AccountError(_("Only client users belong to a client company."), "client")
    elif client_admin:
        raise AccountError(_("Only client users can be client admins."), "client_admin")
    validate_password(password, user_inputs=(email, name or ""))
    if user_by_email(email) is not None:
        raise AccountError(_("A user with this e-mail already exists."), "email")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
        client=client,
        is_client_admin=bool(client_admin and client is not None),
        language=language,
    )
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def update_user(
    user: User,
    *,
    name: str,
    role: str,
    client: Client | None,
    client_admin: bool,
    active: bool,
    password: str | None = None,
) -> User:
    """Change a user's role, company, flags or password (admin action); commits."""
    name = check_display_name(name)
    if role not in ROLES:
        raise AccountError(_("Unknown role; choose client, agent, manager or admin."), "role")
    if (role == "client") != (client is not None):
        raise AccountError(_("Client users, and only they, belong to a client company."), "client")
    if password:
        validate_password(password, user_inputs=(user.email, name or user.name))
        user.password_hash = hash_password(password)
        end_sessions(user)
    if user.active and not active:
        end_sessions(user)
    user.name = name
    user.role, user.client, user.active = role, client, active
    # An admin who saves the user has seen the bounce mark on the form: mail is tried again.
    user.email_undeliverable_at = user.email_undeliverable_reason = None
    user.is_client_admin = bool(client_admin and client is not None)
    db.session.commit()
    return user


def update_preferences(user: User, *, name: str, language: str | None, timezone: str) -> User:
    """The user's own settings: display name, language, timezone; commits."""
    name = check_display_name(name)
    if language not in (None, "", *current_app.config["LANGUAGES"]):
        raise AccountError(_("Choose Polish or English."), "language")
    if not valid_timezone(timezone):
        raise AccountError(_("Unknown timezone."), "timezone")
    user.name = name
    user.language = language or None
    user.timezone = timezone
    db.session.commit()
    return user


# -- sessions --------------------------------------------------------------------------------

SESSION_VERSION_KEY = "_session_version"


def end_sessions(user: User) -> None:
    """End every session of `user` (in the caller's transaction): their stored version is stale."""
    user.session_version = (user.session_version or 0) + 1


def bind_session(user: User) -> None:
    """Mark the current (already logged-in) session as belonging to the user's current version."""
    session[SESSION_VERSION_KEY] = user.session_version


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, unless deactivated or the session was ended (logout, new password)."""
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    if user is None or not user.active or session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return user


def log_out_everywhere(user: User) -> None:
    """Logout: this session and every other session of the user end. Commits."""
    end_sessions(user)
    db.session.commit()


def change_password(user: User, *, current: str, new: str, repeat: str) -> User:
    """Self-service password change; ends the user's other sessions. Commits.

    The caller re-binds its own session (bind_session) so the person changing stays logged in.
    """
    if not check_password(user, current or ""):
        raise AccountError(_("This is not your current password."), "current_password")
    return _set_new_password(user, new, repeat)


def _set_new_password(user: User, new: str, repeat: str) -> User:
    """The policy, the repeat check, then the new hash; every session of the user ends. Commits."""
    validate_password(new, user_inputs=(user.email, user.name))
    if new != repeat:
        raise AccountError(_("The two new passwords differ."), "repeat_password")
    user.password_hash = hash_password(new)
    end_sessions(user)
    db.session.commit()
    return user


# -- password reset by e-mail ----------------------------------------------------------------

RESET_MAX_AGE_SECONDS = 60 * 60


class _ClockSigner(TimestampSigner):
    """Timestamps from helpdesk.clock, so a token's age follows the one clock (and tests)."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset", signer=_ClockSigner)


def password_reset_token(user: User) -> str:
    """A token for the reset link: it names the user and their session version, so it dies when
    used (the reset bumps the version), when the password changes otherwise, and after an hour."""
    return _reset_serializer().dumps({"user": user.id, "version": user.session_version})


def user_for_reset_token(token: str) -> User | None:
    """The active user a valid, unused, unexpired reset token belongs to, or None."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE_SECONDS)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    user = db.session.get(User, data["user"])
    if user is None or not user.active or data.get("version") != user.session_version:
        return None
    return user


def reset_password(token: str, *, new: str, repeat: str) -> User:
    """Set a new password through a reset token; ends every session of the user. Commits."""
    user = user_for_reset_token(token)
    if user is None:
        raise AccountError(_("This reset link is invalid, used or expired; ask for a new one."), "token")
    return _set_new_password(user, new, repeat)


def staff_users(*roles: str) -> list[User]:
    return list(db.session.scalars(_staff_statement(roles or tuple(STAFF_ROLES))))


@cache
def _staff_statement(roles: tuple[str, ...]) -> Select:
    # Built once per set of roles: building the statement cost as much as running it.
    # Staff have no company: the default join of User.client would only add empty columns.
    return (select(User).where(User.role.in_(roles), User.active.is_(True)).order_by(User.email)
            .options(lazyload(User.client)))


def mark_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()
