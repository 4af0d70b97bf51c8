"""Ticket services: every change to a ticket goes through here, once, for the web and the API.

Services check permissions and input, write the change and its history row, and commit.
Reads are scoped: `visible_tickets` is the only way to look tickets up for a user.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import joinedload

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.companies import SLUG_RE, Client
from helpdesk.date_bounds import parse_instant
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.storage import storage
from helpdesk.text import check_text, whole_number
from helpdesk.uploads import CheckedFile
from plans import services as coverage
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
from tickets.sla import refresh as sla
from tickets.vocabulary import Status

MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
BREACHING_WITHIN_MAX = 100_000  # minutes (about ten weeks)
_TicketRow = TypeVar("_TicketRow", Message, Attachment, TicketEvent)  # the rows a ticket shows, some internal
UNSET: Any = object()  # update_ticket: leave this attribute as it is

# Which status an agent may move a ticket to, from each status.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "waiting_on_client", "resolved", "closed"),
    "open": ("waiting_on_client", "resolved", "closed"),
    "waiting_on_client": ("open", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": ("open",),
}


class TicketError(Invalid):
    """Values about a ticket were refused. `fields` maps form fields to messages. NotFound (also
    what another company's ids get), Forbidden and Conflict are the kernel's (helpdesk.errors)."""


__all__ = ["Conflict", "Forbidden", "NotFound", "TicketError"]  # re-exported for callers


@dataclass(frozen=True)
class Actor:
    """Who acts and through which channel ('web', or 'api: token name')."""

    user: User
    via: str = "web"


SORTS = ("newest", "due")
MAX_BREACHING_HOURS = 24 * 30


@dataclass
class QueueFilters:
    statuses: tuple[str, ...] = OPEN_STATUSES
    category: str | None = None
    priority: str | None = None
    client: str | None = None  # slug
    assignee: str | None = None  # user id, "none" for unassigned
    breaching_within_minutes: int | None = None  # SLA due within this many minutes
    limit: int = 50
    cursor: str | None = None
    # "newest": by id, newest first; "due": nearest due instant first, tickets without one last.
    sort: str = "newest"
    breaching_within: int | None = None  # hours: a due instant still ahead, at most this far
    breached: bool = False  # a breach recorded on a clock still running
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


def _shown_to(user: User, ticket: Ticket, model: type[_TicketRow], *options: Any) -> list[_TicketRow]:
    """The ticket's rows of `model` (messages, attachments, events) in order; internal ones only for staff."""
    query = select(model).where(model.ticket_id == ticket.id).options(*options).order_by(model.id)
    if not user.is_staff:
        query = query.where(model.internal.is_(False))
    return list(db.session.scalars(query))


def thread(user: User, ticket: Ticket) -> list[Message]:
    """The ticket's messages in order; internal notes only for staff."""
    return _shown_to(user, ticket, Message, joinedload(Message.author))


def attachments(user: User, ticket: Ticket) -> list[Attachment]:
    return _shown_to(user, ticket, Attachment)


def get_attachment(user: User, attachment_id: int) -> Attachment:
    """An attachment after the same access check as its ticket."""
    found = db.session.get(Attachment, attachment_id)
    if found is None or (found.internal and not user.is_staff):
        raise NotFound(_("There is no such attachment."))
    get_ticket(user, found.ticket_id)
    return found


def history(user: User, ticket: Ticket) -> list[TicketEvent]:
    return _shown_to(user, ticket, TicketEvent, joinedload(TicketEvent.actor))


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str = "newest") -> list[Any]:
    """The keyset of the last row of the previous page: [id], or [due instant or None, id]."""
    def invalid() -> TicketError:
        return TicketError(_("The page cursor is not valid."), {"cursor": _("Invalid cursor.")})

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid() from exc
    if sort == "due":
        if not isinstance(values, list) or len(values) != 2 or not isinstance(values[1], int) \
                or isinstance(values[1], bool) or not 0 < values[1] <= MAX_ID \
                or not (values[0] is None or isinstance(values[0], str)):
            raise invalid()
        if values[0] is not None:
            try:
                values[0] = parse_instant(values[0])
            except ValueError as exc:  # malformed, naive, or outside the date bounds
                raise invalid() from exc
        return values
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], int) \
            or isinstance(values[0], bool) or not 0 < values[0] <= MAX_ID:
        raise invalid()
    return values


def _count_arg(filters: QueueFilters, args: dict[str, str], name: str, most: int, refusal: str) -> int | None:
    """The whole number from 1 to `most` in query argument `name`; None when it is absent, or
    refused (then `refusal` is the filters' error for `name`)."""
    text = (args.get(name) or "").strip()
    if not text:
        return None
    count = whole_number(text)
    if count is None or not 1 <= count <= most:
        filters.errors[name] = refusal
        return None
    return count


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
    category = (args.get("category") or "").strip()
    if category and category not in CATEGORIES:
        filters.errors["category"] = _("Unknown category: %(value)s", value=category)
    elif category:
        filters.category = category
    priority = (args.get("priority") or "").strip()
    if priority and priority not in PRIORITIES:
        filters.errors["priority"] = _("Unknown priority: %(value)s", value=priority)
    elif priority:
        filters.priority = priority
    client = (args.get("client") or "").strip()
    if client and not SLUG_RE.fullmatch(client):
        filters.errors["client"] = _("Unknown client: %(value)s", value=client[:40])
    elif client:
        filters.client = client
    assignee = (args.get("assignee") or "").strip()
    assignee_id = whole_number(assignee)
    if assignee and assignee != "none" and (assignee_id is None or assignee_id > MAX_ID):
        filters.errors["assignee"] = _("Unknown assignee: %(value)s", value=assignee[:20])
    elif assignee:
        filters.assignee = assignee
    filters.breaching_within_minutes = _count_arg(
        filters, args, "breaching_within_minutes", BREACHING_WITHIN_MAX,
        _("A whole number of minutes from 1 to %(limit)s.", limit=BREACHING_WITHIN_MAX),
    )
    filters.limit = _count_arg(
        filters, args, "limit", 200, _("The limit is a whole number from 1 to 200.")
    ) or filters.limit
    filters.cursor = (args.get("cursor") or "").strip() or None
    sort = (args.get("sort") or "").strip()
    if sort and sort not in SORTS:
        filters.errors["sort"] = _("Unknown order: %(value)s", value=sort)
    elif sort:
        filters.sort = sort
    filters.breaching_within = _count_arg(
        filters, args, "breaching_within", MAX_BREACHING_HOURS,
        _("Breaching within is a whole number of hours from 1 to %(max)s.", max=MAX_BREACHING_HOURS),
    )
    breached = (args.get("breached") or "").strip()
    if breached and breached not in ("0", "1"):
        filters.errors["breached"] = _("Breached is 1 or 0.")
    filters.breached = breached == "1"
    return filters


def queue_page(
    user: User, filters: QueueFilters, *, requester_only: bool = False, now: datetime | None = None
) -> tuple[list[Ticket], str | None]:
    """One page of tickets, by keyset: one query whatever the page size and however deep.

    Newest first by id; or (sort "due") nearest due instant first, by keyset on
    (next_deadline_at, id), tickets without a pending due instant after them by id.
    """
    if filters.errors:
        raise TicketError(_("Some filters are not valid."), filters.errors)
    now = now or utcnow()
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
    if filters.breached:
        query = query.where(Ticket.sla_state == "breached")
    within = None
    if filters.breaching_within is not None:
        within = timedelta(hours=filters.breaching_within)
    if filters.breaching_within_minutes is not None:  # the API's finer filter
        within = timedelta(minutes=filters.breaching_within_minutes)
    if within is not None:
        query = query.where(Ticket.next_deadline_at > now, Ticket.next_deadline_at <= now + within)
    options = (
        joinedload(Ticket.client),
        joinedload(Ticket.requester),
        joinedload(Ticket.assignee),
        joinedload(Ticket.sla_policy).lazyload("*"),
    )
    if filters.sort == "due":
        query = _due_order(query, filters)
    else:
        if filters.cursor:
            (last_id,) = decode_cursor(filters.cursor)
            query = query.where(Ticket.id < last_id)
        query = query.order_by(Ticket.id.desc()).limit(filters.limit + 1)
    rows = list(db.session.scalars(query.options(*options)).unique())
    next_cursor = None
    if len(rows) > filters.limit:
        rows = rows[: filters.limit]
        last = rows[-1]
        if filters.sort == "due":
            next_cursor = encode_cursor([_iso(last.next_deadline_at), last.id])
        else:
            next_cursor = encode_cursor([last.id])
    return rows, next_cursor


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _due_order(query: Select[tuple[Ticket]], filters: QueueFilters) -> Select[tuple[Ticket]]:
    """Nearest due instant first, then tickets without one, each part a range on its index.

    A single (next_deadline_at, id) range cannot say "and then the NULLs" in a way an index can
    walk, so the page is the union of two ranges, each limited to a page, in one statement.
    """
    size = filters.limit + 1
    due, ident = Ticket.next_deadline_at, Ticket.id
    after = decode_cursor(filters.cursor, "due") if filters.cursor else None
    undated = query.where(due.is_(None))
    if after is not None and after[0] is None:
        # Already among the tickets without a due instant.
        return undated.where(ident > after[1]).order_by(due.asc().nulls_last(), ident).limit(size)
    dated = query.where(due.is_not(None))
    if after is not None:
        dated = dated.where(tuple_(due, ident) > tuple_(after[0], after[1]))
    head = dated.with_only_columns(ident).order_by(due, ident).limit(size).subquery()
    tail = undated.with_only_columns(ident).order_by(ident).limit(size).subquery()
    page_ids = select(head.c.id).union_all(select(tail.c.id))
    return (
        select(Ticket)
        .where(Ticket.id.in_(page_ids))
        .order_by(due.asc().nulls_last(), ident)
        .limit(size)
    )


# -- validating ------------------------------------------------------------------------------


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
    subject = check_text(fields, "subject", subject, required=True, limit=200, one_line=True)
    description = check_text(
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
    _route_to_guardian(ticket, user.client)
    _store_files(ticket, actor, None, files or [], internal=False)
    _decide_coverage(actor, ticket, "filed")
    sla.refresh(ticket, now, filed=True)
    notices.ticket_filed(ticket, user)
    db.session.commit()
    return ticket


def _route_to_guardian(ticket: Ticket, client: Client | None) -> None:
    """While a client is onboarding, its tickets go to its guardian (a system 'assigned' event)."""
    if client is None or client.phase != "onboarding" or client.guardian_id is None:
        return
    guardian = db.session.get(User, client.guardian_id)
    if guardian is None or not guardian.active or not guardian.is_staff:
        return
    ticket.assignee_id = guardian.id
    _event(ticket, None, "assigned", **{"from": None, "to": guardian.id})


def add_message(
    actor: Actor, ticket: Ticket, *, body: Any, internal: bool = False, files: list[CheckedFile] | None = None
) -> Message:
    """A public reply or (staff only) an internal note; moves the status as a helpdesk should."""
    user = actor.user
    if internal and not user.is_staff:
        raise Forbidden(_("Only staff can add internal notes."))
    fields: dict[str, str] = {}
    body = check_text(fields, "body", body, required=True, limit=current_app.config["REPLY_MAX_CHARS"])
    _raise_if(fields)
    now = utcnow()
    status_before = ticket.status
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
        if user.is_staff:
            sla.first_public_reply(ticket, now)
        if user.is_staff and ticket.status == "new":
            _set_status(actor, ticket, "open", now)
    ticket.updated_at = now
    if ticket.status != status_before or (user.is_staff and not internal):
        sla.refresh(ticket, now)
    notices.reply_added(ticket, message, user)
    db.session.commit()
    return message


def _decide_coverage(actor: Actor, ticket: Ticket, trigger: str, why: str | None = None) -> None:
    """Decide what covers the ticket now (plans/ decides and records; the ticket keeps a copy).

    On filing, the decision runs in a savepoint: if it fails, the client's report is still kept,
    with its coverage undecided and waiting in the manager's approval queue.
    """
    try:
        with db.session.begin_nested():
            outcome = coverage.decide_for_ticket(
                ticket_id=ticket.id,
                client_id=ticket.client_id,
                category=ticket.category,
                trigger=trigger,
                actor_id=actor.user.id,
                today=coverage.coverage_today(),
                why=why,
            )
    except Exception:
        if trigger != "filed":
            raise
        current_app.logger.exception("Coverage of ticket %s could not be decided", ticket.id)
        ticket.coverage_source, ticket.coverage_covered, ticket.coverage_approval = None, None, "pending"
        return
    copy_coverage(ticket, outcome.record)


def copy_coverage(ticket: Ticket, record: Any) -> None:
    """Keep the ticket's copy of its current coverage (for lists) in step with ``record``."""
    ticket.coverage_source = record.source
    ticket.coverage_covered = record.covered
    ticket.coverage_approval = record.approval


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
    sla.status_changing(ticket, old, status, now)
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


def change_status(actor: Actor, ticket: Ticket, status: Any, *, commit: bool = True) -> Ticket:
    _require_staff(actor)
    if status not in STATUSES:
        raise TicketError(_("Unknown status."), {"status": _("Choose one of: %(values)s.", values=", ".join(STATUSES))})
    if status == ticket.status:
        return ticket
    if status not in TRANSITIONS[ticket.status]:
        raise Conflict(
            _("A ticket cannot go from %(old)s to %(new)s.", old=Status(ticket.status).label, new=Status(status).label),
            {"status": _("Not allowed from the current status.")},
        )
    now = utcnow()
    _set_status(actor, ticket, status, now)
    ticket.updated_at = now
    sla.refresh(ticket, now)
    if status == "resolved":
        notices.resolved(ticket)
    if commit:
        db.session.commit()
    return ticket


def change_priority(actor: Actor, ticket: Ticket, priority: Any, *, commit: bool = True) -> Ticket:
    _require_staff(actor)
    fields: dict[str, str] = {}
    _check_choice(fields, "priority", priority, PRIORITIES)
    _raise_if(fields)
    if priority == ticket.priority:
        return ticket
    _event(ticket, actor, "priority_changed", **{"from": ticket.priority, "to": priority})
    ticket.priority = priority
    ticket.updated_at = now = utcnow()
    sla.refresh(ticket, now, actor=actor.user, via=actor.via, reason="priority")
    if commit:
        db.session.commit()
    return ticket


def reclassify(actor: Actor, ticket: Ticket, category: Any, reason: Any = "", *, commit: bool = True) -> Ticket:
    """An agent changes the category; the history records who, when and why."""
    _require_staff(actor)
    fields: dict[str, str] = {}
    _check_choice(fields, "category", category, CATEGORIES)
    reason = check_text(fields, "reason", reason, required=False, limit=500)
    _raise_if(fields)
    if category == ticket.category:
        return ticket
    _event(ticket, actor, "category_changed", reason=reason, **{"from": ticket.category, "to": category})
    ticket.category = category
    _decide_coverage(actor, ticket, "reclassified", why=reason)
    ticket.updated_at = now = utcnow()
    # A new category may mean a new coverage source, so a new policy: the history says so.
    sla.refresh(ticket, now, actor=actor.user, via=actor.via, reason="category")
    if commit:
        db.session.commit()
    return ticket


def assign(actor: Actor, ticket: Ticket, assignee_id: Any, *, commit: bool = True) -> Ticket:
    """Give the ticket to an agent (or to nobody with None)."""
    _require_staff(actor)
    assignee = None
    if assignee_id not in (None, ""):
        try:
            wanted = int(assignee_id)
        except (TypeError, ValueError):
            wanted = 0
        assignee = db.session.get(User, wanted) if 0 < wanted <= MAX_ID else None
        if assignee is None or not assignee.is_staff or not assignee.active:
            raise TicketError(_("Choose an active staff member."), {"assignee": _("Unknown agent.")})
    new_id = assignee.id if assignee else None
    if new_id == ticket.assignee_id:
        return ticket
    _event(ticket, actor, "assigned", **{"from": ticket.assignee_id, "to": new_id})
    ticket.assignee_id = new_id
    ticket.updated_at = utcnow()
    notices.assigned(ticket, actor.user)
    if commit:
        db.session.commit()
    return ticket


def update_ticket(
    actor: Actor,
    ticket: Ticket,
    *,
    status: Any = UNSET,
    priority: Any = UNSET,
    category: Any = UNSET,
    reason: Any = "",
    assignee_id: Any = UNSET,
) -> Ticket:
    """Several agent changes at once (the API's PATCH), all or none, through the rules above.

    On a refusal nothing is committed; the caller rolls the session back.
    """
    _require_staff(actor)
    if category is not UNSET:
        reclassify(actor, ticket, category, reason, commit=False)
    if priority is not UNSET:
        change_priority(actor, ticket, priority, commit=False)
    if assignee_id is not UNSET:
        assign(actor, ticket, assignee_id, commit=False)
    if status is not UNSET:
        change_status(actor, ticket, status, commit=False)
    db.session.commit()
    return ticket
