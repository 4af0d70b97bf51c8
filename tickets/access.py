"""Who may see which ticket: the company scope every ticket read goes through.

Staff see every ticket; a client admin sees the company's; a client user those they filed or follow.
`visible_tickets` is the only way to look tickets up for a user; a ticket outside that scope
is NotFound (never a hint that it exists), and internal rows are shown to staff only.
`TicketError` (refused values about a ticket) and `MAX_ID` live here, below both the
services (tickets.services) and the queue (tickets.queue), which import them.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import joinedload

from helpdesk.accounts import User
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from tickets.models import Attachment, Message, Ticket, TicketEvent, TicketFollower

MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
_TicketRow = TypeVar("_TicketRow", Message, Attachment, TicketEvent)  # the rows a ticket shows, some internal


class TicketError(Invalid):
    """Values about a ticket were refused. `fields` maps form fields to messages. NotFound (also
    what another company's ids get), Forbidden and Conflict are the kernel's (helpdesk.errors)."""


# -- reading ---------------------------------------------------------------------------------


def visible_tickets(user: User) -> Select[tuple[Ticket]]:
    """Tickets this user may see: staff see all; a client admin the company's; a client user those
    they filed or follow."""
    query = select(Ticket)
    if user.is_staff:
        return query
    query = query.where(Ticket.client_id == user.client_id)
    if not user.is_client_admin:
        query = query.where(own_or_followed(user))
    return query


def own_or_followed(user: User) -> Any:
    """The condition for the tickets a user filed or follows (tickets.followers)."""
    followed = select(TicketFollower.ticket_id).where(TicketFollower.user_id == user.id)
    return or_(Ticket.requester_id == user.id, Ticket.id.in_(followed))


def _with_people() -> tuple[Any, ...]:
    return joinedload(Ticket.client), joinedload(Ticket.requester), joinedload(Ticket.assignee)


@cache
def _staff_ticket_statement() -> Select:
    # Staff see every ticket (visible_tickets).
    return select(Ticket).where(Ticket.id == bindparam("ticket_id")).options(*_with_people())


def get_ticket(user: User, ticket_id: int, *, for_update: bool = False) -> Ticket:
    """The ticket if this user may see it, else NotFound (never a hint that it exists)."""
    if user.is_staff and not for_update:  # every agent page: the statement built once
        ticket = db.session.scalar(_staff_ticket_statement(), {"ticket_id": ticket_id})
    else:
        query = visible_tickets(user).where(Ticket.id == ticket_id).options(*_with_people())
        if for_update:
            query = query.with_for_update(of=Ticket)
        ticket = db.session.scalar(query)
    if ticket is None:
        raise NotFound(_("There is no such ticket."))
    return ticket


def _shown_to(user: User, ticket: Ticket, model: type[_TicketRow], related: str | None = None) -> list[_TicketRow]:
    """The ticket's rows of `model` (messages, attachments, events) in order, each with its `related`
    row; internal ones only for staff."""
    return list(db.session.scalars(_shown_statement(model, user.is_staff, related), {"ticket_id": ticket.id}))


@cache
def _shown_statement(model: type[_TicketRow], staff: bool, related: str | None) -> Select:
    """Built once per kind: building the statement cost as much as running it (the ticket page)."""
    query = select(model).where(model.ticket_id == bindparam("ticket_id")).order_by(model.id)
    if related is not None:
        # The person without their company (User.client is joined by default): a ticket's rows
        # show names only, and the join brought every column of `clients` for each row.
        query = query.options(joinedload(getattr(model, related)).lazyload(User.client))
    if not staff:
        query = query.where(model.internal.is_(False))
    return query


def thread(user: User, ticket: Ticket) -> list[Message]:
    """The ticket's messages in order; internal notes only for staff."""
    return _shown_to(user, ticket, Message, "author")


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
    return _shown_to(user, ticket, TicketEvent, "actor")
