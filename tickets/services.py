"""Ticket services: every change to a ticket goes through here, once, for the web and the API.

Services check permissions and input, write the change and its history row, and commit.
Reads are scoped: `visible_tickets` is the only way to look tickets up for a user.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.storage import storage
from helpdesk.uploads import CheckedFile
from tickets import notices
from tickets.models import (
    CATEGORIES,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Attachment,
    Message,
    Ticket,
    TicketEvent,
)

# Which status an agent may move a ticket to, from each status.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "waiting_on_client", "resolved", "closed"),
    "open": ("waiting_on_client", "resolved", "closed"),
    "waiting_on_client": ("open", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": ("open",),
}


class TicketError(Exception):
    """A request about a ticket was refused. `fields` maps form fields to messages."""

    status = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(TicketError):
    """No such ticket for this user (also what another company's ids get)."""

    status = 404


class Forbidden(TicketError):
    status = 403


class Conflict(TicketError):
    status = 409


@dataclass(frozen=True)
class Actor:
    """Who acts and through which channel ('web', or 'api: token name')."""

    user: User
    via: str = "web"


@dataclass
class QueueFilters:
    statuses: tuple[str, ...] = OPEN_STATUSES
    category: str | None = None
    priority: str | None = None
    client: str | None = None  # slug
    assignee: str | None = None  # user id, "none" for unassigned
    limit: int = 50
    cursor: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


# -- reading ---------------------------------------------------------------------------------


def visible_tickets(user: User) -> Select[tuple[Ticket]]:
    """Tickets this user may see: staff see all; a client admin the company's; a client user own."""
    query = select(Ticket)
    if user.is_staff:
        return query
    query = query.where(Ticket.client_id == user.client_id)
    if not user.is_client_admin:
        query = query.where(Ticket.requester_id == user.id)
    return query


def get_ticket(user: User, ticket_id: int, *, for_update: bool = False) -> Ticket:
    """The ticket if this user may see it, else NotFound (never a hint that it exists)."""
    query = visible_tickets(user).where(Ticket.id == ticket_id).options(
        joinedload(Ticket.client), joinedload(Ticket.requester), joinedload(Ticket.assignee)
    )
    if for_update:
        query = query.with_for_update(of=Ticket)
    ticket = db.session.scalar(query)
    if ticket is None:
        raise NotFound(_("There is no such ticket."))
    return ticket


def thread(user: User, ticket: Ticket) -> list[Message]:
    """The ticket's messages in order; internal notes only for staff."""
    query = (
        select(Message)
        .where(Message.ticket_id == ticket.id)
        .options(joinedload(Message.author))
        .order_by(Message.id)
    )
    if not user.is_staff:
        query = query.where(Message.internal.is_(False))
    return list(db.session.scalars(query))


def attachments(user: User, ticket: Ticket) -> list[Attachment]:
    query = select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    if not user.is_staff:
        query = query.where(Attachment.internal.is_(False))
    return list(db.session.scalars(query))


def get_attachment(user: User, attachment_id: int) -> Attachment:
    """An attachment after the same access check as its ticket."""
    found = db.session.get(Attachment, attachment_id)
    if found is None or (found.internal and not user.is_staff):
        raise NotFound(_("There is no such attachment."))
    get_ticket(user, found.ticket_id)
    return found


def history(user: User, ticket: Ticket) -> list[TicketEvent]:
    query = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.id)
    )
    if not user.is_staff:
        query = query.where(TicketEvent.internal.is_(False))
    return list(db.session.scalars(query))


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise TicketError(_("The page cursor is not valid."), {"cursor": _("Invalid cursor.")}) from exc
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], int):
        raise TicketError(_("The page cursor is not valid."), {"cursor": _("Invalid cursor.")})
    return values


def parse_queue_filters(args: dict[str, str], *, default_limit: int = 50) -> QueueFilters:
    """Read queue filters from query arguments; unknown values are reported, not guessed."""
    filters = QueueFilters(limit=default_limit)
    status = (args.get("status") or "").strip()
    if status == "all":
        filters.statuses = STATUSES
    elif status:
        wanted = tuple(s for s in status.split(",") if s)
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            filters.errors["status"] = _("Unknown status: %(value)s", value=", ".join(bad))
        else:
            filters.statuses = wanted
    for name, allowed in (("category", CATEGORIES), ("priority", PRIORITIES)):
        value = (args.get(name) or "").strip()
        if value and value not in allowed:
            filters.errors[name] = _("Unknown %(name)s: %(value)s", name=name, value=value)
        elif value:
            setattr(filters, name, value)
    filters.client = (args.get("client") or "").strip() or None
    assignee = (args.get("assignee") or "").strip()
    if assignee and assignee != "none" and not assignee.isdigit():
        filters.errors["assignee"] = _("Unknown assignee: %(value)s", value=assignee)
    elif assignee:
        filters.assignee = assignee
    limit = (args.get("limit") or "").strip()
    if limit:
        if not limit.isdigit() or not 1 <= int(limit) <= 200:
            filters.errors["limit"] = _("The limit is a whole number from 1 to 200.")
        else:
            filters.limit = int(limit)
    filters.cursor = (args.get("cursor") or "").strip() or None
    return filters


def queue_page(
    user: User, filters: QueueFilters, *, requester_only: bool = False
) -> tuple[list[Ticket], str | None]:
    """One page of tickets, newest first, by keyset on id: one query whatever the page size."""
    if filters.errors:
        raise TicketError(_("Some filters are not valid."), filters.errors)
    query = visible_tickets(user).where(Ticket.status.in_(filters.statuses))
    if requester_only:
        query = query.where(Ticket.requester_id == user.id)
    if filters.category:
        query = query.where(Ticket.category == filters.category)
    if filters.priority:
        query = query.where(Ticket.priority == filters.priority)
    if filters.client:
        query = query.join(Client, Client.id == Ticket.client_id).where(Client.slug == filters.client)
    if filters.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == int(filters.assignee))
    if filters.cursor:
        (last_id,) = decode_cursor(filters.cursor)
        query = query.where(Ticket.id < last_id)
    query = (
        query.options(
            joinedload(Ticket.client), joinedload(Ticket.requester), joinedload(Ticket.assignee)
        )
        .order_by(Ticket.id.desc())
        .limit(filters.limit + 1)
    )
    rows = list(db.session.scalars(query).unique())
    next_cursor = None
    if len(rows) > filters.limit:
        rows = rows[: filters.limit]
        next_cursor = encode_cursor([rows[-1].id])
    return rows, next_cursor


# -- validating ------------------------------------------------------------------------------


def _check_text(fields: dict[str, str], name: str, value: Any, *, required: bool, limit: int) -> str:
    if value is not None and not isinstance(value, str):
        fields[name] = _("Must be text.")
        return ""
    value = (value or "").strip()
    if required and not value:
        fields[name] = _("This field is required.")
    elif len(value) > limit:
        fields[name] = _("At most %(limit)s characters.", limit=limit)
    return value


def _check_choice(fields: dict[str, str], name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        fields[name] = _("Choose one of: %(values)s.", values=", ".join(allowed))
    return value


def _raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise TicketError(_("Please correct the marked fields."), fields)


# -- changing --------------------------------------------------------------------------------


def _event(ticket: Ticket, actor: Actor | None, kind: str, internal: bool = False, **data: Any) -> None:
    db.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor_id=actor.user.id if actor else None,
            via=actor.via if actor else "system",
            kind=kind,
            data=data,
            internal=internal,
            created_at=utcnow(),
        )
    )


def _store_files(ticket: Ticket, actor: Actor, message: Message | None, files: list[CheckedFile], internal: bool) -> None:
    for checked in files:
        key = storage().save(checked.data)
        db.session.add(
            Attachment(
                ticket_id=ticket.id,
                message_id=message.id if message else None,
                uploaded_by_id=actor.user.id,
                filename=checked.filename,
                content_type=checked.content_type,
                size=checked.size,
                storage_key=key,
                internal=internal,
                created_at=utcnow(),
            )
        )


def file_ticket(
    actor: Actor,
    *,
    subject: Any,
    description: Any,
    category: Any,
    priority: Any = "normal",
    files: list[CheckedFile] | None = None,
) -> Ticket:
    """A client files a ticket. The report is saved whatever else happens afterwards."""
    user = actor.user
    if not user.is_client:
        raise Forbidden(_("Only client users file tickets here."))
    config = current_app.config
    fields: dict[str, str] = {}
    subject = _check_text(fields, "subject", subject, required=True, limit=200)
    description = _check_text(
        fields, "description", description, required=True, limit=config["DESCRIPTION_MAX_CHARS"]
    )
    _check_choice(fields, "category", category, CATEGORIES)
    _check_choice(fields, "priority", priority, PRIORITIES)
    _raise_if(fields)
    now = utcnow()
    ticket = Ticket(
        client_id=user.client_id,
        requester_id=user.id,
        subject=subject,
        description=description,
        category=category,
        priority=priority,
        status="new",
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    db.session.flush()
    _event(ticket, actor, "created", category=category, priority=priority)
    _store_files(ticket, actor, None, files or [], internal=False)
    notices.ticket_filed(ticket, user)
    db.session.commit()
    return ticket


def add_message(
    actor: Actor, ticket: Ticket, *, body: Any, internal: bool = False, files: list[CheckedFile] | None = None
) -> Message:
    """A public reply or (staff only) an internal note; moves the status as a helpdesk should."""
    user = actor.user
    if internal and not user.is_staff:
        raise Forbidden(_("Only staff can add internal notes."))
    fields: dict[str, str] = {}
    body = _check_text(fields, "body", body, required=True, limit=current_app.config["REPLY_MAX_CHARS"])
    _raise_if(fields)
    now = utcnow()
    if not user.is_staff:
        _client_reply_reopens(actor, ticket, now)
    message = Message(ticket_id=ticket.id, author_id=user.id, body=body, internal=internal,
                      via="api" if actor.via.startswith("api") else "web", created_at=now)
    db.session.add(message)
    db.session.flush()
    _store_files(ticket, actor, message, files or [], internal=internal)
    if internal:
        _event(ticket, actor, "note_added", internal=True, message_id=message.id)
    else:
        _event(ticket, actor, "replied", message_id=message.id)
        if user.is_staff and ticket.status == "new":
            _set_status(actor, ticket, "open", now)
    ticket.updated_at = now
    notices.reply_added(ticket, message, user)
    db.session.commit()
    return message


def _client_reply_reopens(actor: Actor, ticket: Ticket, now) -> None:
    if ticket.status == "waiting_on_client":
        _set_status(actor, ticket, "open", now)
    elif ticket.status == "resolved":
        window = timedelta(days=current_app.config["REOPEN_WINDOW_DAYS"])
        if ticket.resolved_at is not None and now - ticket.resolved_at > window:
            raise Conflict(
                _("This ticket was resolved too long ago to reopen it; please file a new ticket."),
                {"body": _("Please file a new ticket and refer to %(number)s.", number=ticket.number)},
            )
        _set_status(actor, ticket, "open", now)
    elif ticket.status == "closed":
        raise Conflict(
            _("This ticket is closed; please file a new ticket."),
            {"body": _("Please file a new ticket and refer to %(number)s.", number=ticket.number)},
        )


def _set_status(actor: Actor, ticket: Ticket, status: str, now) -> None:
    old = ticket.status
    ticket.status = status
    if status == "resolved":
        ticket.resolved_at = now
    if status == "closed":
        ticket.closed_at = now
    if status in OPEN_STATUSES:
        ticket.resolved_at = None
        ticket.closed_at = None
    _event(ticket, actor, "status_changed", **{"from": old, "to": status})


def _require_staff(actor: Actor) -> None:
    if not actor.user.is_staff:
        raise Forbidden(_("Only staff can do this."))


def change_status(actor: Actor, ticket: Ticket, status: Any) -> Ticket:
    _require_staff(actor)
    if status not in STATUSES:
        raise TicketError(_("Unknown status."), {"status": _("Choose one of: %(values)s.", values=", ".join(STATUSES))})
    if status == ticket.status:
        return ticket
    if status not in TRANSITIONS[ticket.status]:
        raise Conflict(
            _("A ticket cannot go from %(old)s to %(new)s.", old=ticket.status, new=status),
            {"status": _("Not allowed from the current status.")},
        )
    now = utcnow()
    _set_status(actor, ticket, status, now)
    ticket.updated_at = now
    if status == "resolved":
        notices.resolved(ticket)
    db.session.commit()
    return ticket


def change_priority(actor: Actor, ticket: Ticket, priority: Any) -> Ticket:
    _require_staff(actor)
    fields: dict[str, str] = {}
    _check_choice(fields, "priority", priority, PRIORITIES)
    _raise_if(fields)
    if priority == ticket.priority:
        return ticket
    _event(ticket, actor, "priority_changed", **{"from": ticket.priority, "to": priority})
    ticket.priority = priority
    ticket.updated_at = utcnow()
    db.session.commit()
    return ticket


def reclassify(actor: Actor, ticket: Ticket, category: Any, reason: Any = "") -> Ticket:
    """An agent changes the category; the history records who, when and why."""
    _require_staff(actor)
    fields: dict[str, str] = {}
    _check_choice(fields, "category", category, CATEGORIES)
    reason = _check_text(fields, "reason", reason, required=False, limit=500)
    _raise_if(fields)
    if category == ticket.category:
        return ticket
    _event(ticket, actor, "category_changed", reason=reason, **{"from": ticket.category, "to": category})
    ticket.category = category
    ticket.updated_at = utcnow()
    db.session.commit()
    return ticket


def assign(actor: Actor, ticket: Ticket, assignee_id: Any) -> Ticket:
    """Give the ticket to an agent (or to nobody with None)."""
    _require_staff(actor)
    assignee = None
    if assignee_id not in (None, ""):
        try:
            assignee = db.session.get(User, int(assignee_id))
        except (TypeError, ValueError):
            assignee = None
        if assignee is None or not assignee.is_staff or not assignee.active:
            raise TicketError(_("Choose an active staff member."), {"assignee": _("Unknown agent.")})
    new_id = assignee.id if assignee else None
    if new_id == ticket.assignee_id:
        return ticket
    _event(ticket, actor, "assigned", **{"from": ticket.assignee_id, "to": new_id})
    ticket.assignee_id = new_id
    ticket.updated_at = utcnow()
    notices.assigned(ticket, actor.user)
    db.session.commit()
    return ticket
