"""A client admin manages the users of their own company: list, invite by e-mail, deactivate, reactivate.

Everything is scoped to the admin's company: another company's user is NotFound (never a hint
that it exists), and so is any user for someone who is not a client admin. An invitation is a
row (who, for which company, until when, accepted when) and a signed link naming it; the link
works once (accepting sets `accepted_at`) and until `expires_at`. The invitee chooses a name and
a password under the password policy (accounts.validate_password). Deactivating ends every
session of the user (accounts.end_sessions bumps session_version).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import PasswordField, StringField
from wtforms.validators import Length

from helpdesk.accounts import (
    AccountError,
    User,
    _ClockSigner,
    create_user,
    end_sessions,
    normalise_email,
    user_by_email,
)
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Conflict, Forbidden, NotFound
from helpdesk.extensions import db
from helpdesk.forms import form_page, saved, submit
from helpdesk.i18n import _, _l
from helpdesk.notifications import INVITATION, Recipient, notify
from helpdesk.security import client_required

INVITATION_DAYS = 7
LIST_LIMIT = 500  # a company has tens of users; the page says when there are more


class Invitation(db.Model):
    """An e-mail address invited into a client company by one of its admins."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_client_id_id", "client_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# -- rules -----------------------------------------------------------------------------------


def invitation_usable(accepted_at: datetime | None, expires_at: datetime, now: datetime) -> bool:
    """Pure: an invitation works once, before it expires."""
    return accepted_at is None and now < expires_at


def _require_admin(actor: User) -> None:
    if not (actor.is_client and actor.is_client_admin):
        raise Forbidden(_("Only your company's administrators can manage its users."))


def company_users(actor: User) -> list[User]:
    """The users of the actor's company, by e-mail (one query)."""
    _require_admin(actor)
    return list(db.session.scalars(
        select(User).where(User.client_id == actor.client_id).order_by(User.email).limit(LIST_LIMIT)
    ))


def pending_invitations(actor: User, now: datetime) -> list[Invitation]:
    _require_admin(actor)
    return list(db.session.scalars(
        select(Invitation).where(
            Invitation.client_id == actor.client_id, Invitation.accepted_at.is_(None), Invitation.expires_at > now
        ).order_by(Invitation.id.desc()).limit(LIST_LIMIT)
    ))


def company_user(actor: User, user_id: int) -> User:
    """A user of the actor's company; NotFound for anyone else, and for non-admins."""
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None or not actor.is_client_admin or not actor.is_client or user.client_id != actor.client_id:
        raise NotFound(_("No such user."))
    return user


def set_active(actor: User, user_id: int, active: bool) -> User:
    """Deactivate (every session of the user ends) or reactivate a colleague. Commits."""
    user = company_user(actor, user_id)
    if user.id == actor.id:
        raise Conflict(_("You cannot deactivate your own account."))
    if user.active and not active:
        end_sessions(user)
    user.active = active
    db.session.commit()
    return user


# -- invitations -----------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="company-invitation", signer=_ClockSigner)


def invitation_token(invitation: Invitation) -> str:
    return _serializer().dumps({"invitation": invitation.id, "email": invitation.email})


def invite(actor: User, email: Any) -> Invitation:
    """Invite an address into the actor's company: a row and an e-mail with the link. Commits."""
    _require_admin(actor)
    address = normalise_email(str(email or ""))
    if user_by_email(address) is not None:
        raise AccountError(_("A user with this e-mail already exists."), "email")
    now = utcnow()
    invitation = Invitation(client_id=actor.client_id, email=address, invited_by_id=actor.id, created_at=now,
                            expires_at=now + timedelta(days=INVITATION_DAYS))
    db.session.add(invitation)
    db.session.flush()
    link = url_for("company_users.accept", token=invitation_token(invitation))
    language = actor.language if actor.language in ("en", "pl") else "en"
    notify(INVITATION, recipients=[Recipient(email=address, language=language, timezone=actor.timezone)],
           values={"link": link, "client": actor.client.name, "inviter": actor.display_name,
                   "expires_at": invitation.expires_at})
    db.session.commit()
    return invitation


def invitation_for_token(token: str, now: datetime) -> Invitation | None:
    """The usable invitation the token names, or None (bad, used or expired)."""
    try:
        data = _serializer().loads(token, max_age=INVITATION_DAYS * 24 * 3600)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("invitation"), int):
        return None
    invitation = db.session.get(Invitation, data["invitation"])
    if invitation is None or invitation.email != data.get("email"):
        return None
    if not invitation_usable(invitation.accepted_at, invitation.expires_at, now):
        return None
    return invitation


def accept(token: str, *, name: Any, password: Any, repeat: Any) -> User:
    """The invitee sets their name and password; the account is created, the link spent. Commits."""
    from helpdesk.companies import Client

    now = utcnow()
    invitation = invitation_for_token(token, now)
    if invitation is None:
        raise NotFound(_("This invitation is invalid, used or expired; ask for a new one."))
    if (password or "") != (repeat or ""):
        raise AccountError(_("The two passwords differ."), "repeat_password")
    client = db.session.get(Client, invitation.client_id)
    user = create_user(email=invitation.email, password=str(password or ""), role="client",
                       client_slug=client.slug, name=str(name or ""), commit=False)
    db.session.flush()
    invitation.accepted_at = now
    invitation.user_id = user.id
    db.session.commit()
    return user


# -- pages -----------------------------------------------------------------------------------

bp = Blueprint("company_users", __name__)


class InviteForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[Length(max=254)])


class AcceptForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[Length(max=200)])
    password = PasswordField(_l("Password"), validators=[Length(max=200)])
    repeat_password = PasswordField(_l("Password again"), validators=[Length(max=200)])


class ActionForm(FlaskForm):
    """The deactivate / reactivate buttons (a CSRF token only)."""


def _admin_only() -> None:
    if not current_user.is_client_admin:
        abort(403)


@bp.route("/company/users", methods=["GET", "POST"])
@client_required
def users():
    _admin_only()
    form = InviteForm()

    def page() -> str:
        return render_template("portal/company_users.html", form=form, users=company_users(current_user),
                               invitations=pending_invitations(current_user, utcnow()), action=ActionForm())

    return form_page(
        form, lambda: invite(current_user, form.email.data), page=page,
        done=lambda inv: saved(_("The invitation is sent to %(email)s.", email=inv.email),
                               url_for("company_users.users")),
    )


@bp.route("/company/users/<int:user_id>/deactivate", methods=["POST"])
@client_required
def deactivate(user_id: int):
    return _set(user_id, False)


@bp.route("/company/users/<int:user_id>/reactivate", methods=["POST"])
@client_required
def reactivate(user_id: int):
    return _set(user_id, True)


def _set(user_id: int, active: bool):
    company_user(current_user, user_id)  # 404 before anything else for other companies' ids
    outcome = submit(ActionForm(), lambda: set_active(current_user, user_id, active), flash_message=True)
    if outcome.done:
        message = _("%(name)s is reactivated.") if active else _("%(name)s is deactivated and logged out.")
        return saved(message % {"name": outcome.value.display_name}, url_for("company_users.users"))
    return saved(_("Nothing was changed."), url_for("company_users.users")) if outcome.status == 400 else (
        render_template("refused.html", status=outcome.status, message=_("Nothing was changed.")), outcome.status)


def accept_page(token: str):
    invitation = invitation_for_token(token, utcnow())
    if invitation is None:
        return render_template("auth/invitation.html", form=None, invitation=None), 404
    form = AcceptForm()

    def action() -> User:
        try:
            return accept(token, name=form.name.data, password=form.password.data, repeat=form.repeat_password.data)
        except AccountError as exc:
            if exc.field == "email":
                exc.fields = {"name": exc.message}
            raise

    return form_page(
        form, action, page=lambda: render_template("auth/invitation.html", form=form, invitation=invitation),
        done=lambda _user: saved(_("Your account is ready. Log in with your e-mail and the new password."),
                                 url_for("auth.login")),
    )


# The page's endpoint is company_users.accept (the name `accept` is the service's).
bp.add_url_rule("/invitation/<token>", endpoint="accept", view_func=accept_page, methods=["GET", "POST"])
