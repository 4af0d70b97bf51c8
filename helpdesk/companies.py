"""Client companies: who the vendor supports, and where each one stands in its life cycle."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import is_blank, one_line_error

PHASES = ("onboarding", "production")
PACKAGE_MONTHS_MAX = 24
UNCHANGED: Any = object()  # change_client: leave this attribute as it is
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


class Client(db.Model):
    """A client company. Its users file tickets; its phase decides how they are covered."""

    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint("phase IN ('onboarding', 'production')", name="phase"),
        CheckConstraint("package_months >= 1", name="package_months"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str] = mapped_column(String(20), default="onboarding")
    protocol_signed_on: Mapped[date | None]
    package_months: Mapped[int] = mapped_column(default=1)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL", use_alter=True))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Client {self.slug}>"


class ClientError(Invalid):
    """A client company could not be created or changed; the message says why, `field` where."""


class DuplicateClient(ClientError):
    """The slug is taken: a conflict with an existing client, not a malformed value."""

    status = 409


def client_by_slug(slug: str) -> Client | None:
    return db.session.scalar(select(Client).where(Client.slug == slug))


def _check_name(name: str) -> None:
    problem = one_line_error(name)
    if problem:
        raise ClientError(problem, "name")
    if is_blank(name) or len(name) > 200:
        raise ClientError(_("A name of 1 to 200 characters is required."), "name")


def create_client(slug: str, name: str) -> Client:
    """Add a client company; commits. Raises ClientError on a bad or taken slug."""
    slug = (slug or "").strip().lower()
    name = (name or "").strip()
    if not SLUG_RE.match(slug):
        raise ClientError(
            _("A slug is 1-40 lower-case letters, digits and hyphens, e.g. acme-logistics."), "slug"
        )
    _check_name(name)
    if client_by_slug(slug) is not None:
        raise DuplicateClient(_("A client with this slug already exists."), "slug")
    client = Client(slug=slug, name=name)
    db.session.add(client)
    db.session.commit()
    return client


def update_client(client: Client, *, name: str, active: bool, guardian_id: int | None) -> Client:
    """Change a client company's name, active flag or guardian; commits."""
    return change_client(client, name=name, active=active, guardian_id=guardian_id)


def vendor_today() -> date:
    """Today on the vendor's calendar (the day a protocol is signed, a package starts)."""
    zone = ZoneInfo(current_app.config.get("COVERAGE_TIMEZONE") or "Europe/Warsaw")
    return utcnow().astimezone(zone).date()


def change_client(
    client: Client,
    *,
    name: Any = UNCHANGED,
    active: Any = UNCHANGED,
    guardian_id: Any = UNCHANGED,
    protocol_signed_on: Any = UNCHANGED,
    package_months: Any = UNCHANGED,
) -> Client:
    """Change the given attributes, all or none, after checking each; commits.

    Signing the acceptance protocol (a date) moves the client to production; clearing the date
    returns it to onboarding. The guardian is an active agent, or nobody (None).
    """
    from helpdesk.accounts import User  # accounts stands on companies, not the other way round

    changes: dict[str, Any] = {}
    if name is not UNCHANGED:
        name = (name or "").strip()
        _check_name(name)
        changes["name"] = name
    if active is not UNCHANGED:
        changes["active"] = bool(active)
    if guardian_id is not UNCHANGED:
        if guardian_id is not None:
            guardian = db.session.get(User, guardian_id)
            if guardian is None or guardian.role != "agent" or not guardian.active:
                raise ClientError(_("The guardian must be an active agent."), "guardian")
        changes["guardian_id"] = guardian_id
    if protocol_signed_on is not UNCHANGED:
        if protocol_signed_on is not None and not isinstance(protocol_signed_on, date):
            raise ClientError(_("Give the date the protocol was signed."), "protocol_signed_on")
        if protocol_signed_on is not None and protocol_signed_on > vendor_today():
            raise ClientError(_("The protocol cannot be signed in the future."), "protocol_signed_on")
        changes["protocol_signed_on"] = protocol_signed_on
        changes["phase"] = "onboarding" if protocol_signed_on is None else "production"
    if package_months is not UNCHANGED:
        if isinstance(package_months, bool) or not isinstance(package_months, int) or not (
            1 <= package_months <= PACKAGE_MONTHS_MAX
        ):
            raise ClientError(
                _("The package lasts 1 to %(limit)s months.", limit=PACKAGE_MONTHS_MAX), "package_months"
            )
        changes["package_months"] = package_months
    for attribute, value in changes.items():
        setattr(client, attribute, value)
    db.session.commit()
    return client
