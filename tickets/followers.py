"""Followers: colleagues of the ticket's company who follow a ticket.

A follower gets the ticket's notices as its requester does (tickets.notices) and, if a plain
client user, may see the ticket (tickets.access.visible_tickets; a client admin sees every ticket
of the company anyway). Whoever may see the ticket may add a follower (the requester, a client
admin, a follower, staff); the one added must be an active client user of the ticket's company:
anyone else is refused with the same message, whether they exist or not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.i18n import _
from tickets.access import MAX_ID, TicketError
from tickets.models import Ticket, TicketEvent, TicketFollower


def follower_ids(ticket_id: int) -> list[int]:
    return list(db.session.scalars(
        select(TicketFollower.user_id).where(TicketFollower.ticket_id == ticket_id).order_by(TicketFollower.user_id)
    ))


def followers(ticket: Ticket) -> list[User]:
    """The ticket's followers, by name (one query)."""
    return list(db.session.scalars(
        select(User).join(TicketFollower, TicketFollower.user_id == User.id)
        .where(TicketFollower.ticket_id == ticket.id).order_by(User.name, User.email)
    ))


def candidates(ticket: Ticket) -> list[User]:
    """Active colleagues of the ticket's company who may be added (one query)."""
    following = select(TicketFollower.user_id).where(TicketFollower.ticket_id == ticket.id)
    return list(db.session.scalars(
        select(User).where(
            User.client_id == ticket.client_id, User.active.is_(True), User.id != ticket.requester_id,
            User.id.not_in(following),
        ).order_by(User.name, User.email).limit(500)
    ))


def _colleague(ticket: Ticket, user_id: Any) -> User:
    try:
        wanted = int(user_id)
    except (TypeError, ValueError):
        wanted = 0
    user = db.session.get(User, wanted) if 0 < wanted <= MAX_ID else None
    if user is None or not user.active or not user.is_client or user.client_id != ticket.client_id:
        raise TicketError(_("Choose an active colleague of the ticket's company."),
                          {"user": _("Choose an active colleague of the ticket's company.")})
    return user


def _event(ticket: Ticket, actor: Any, kind: str, **data: Any) -> None:
    db.session.add(TicketEvent(ticket_id=ticket.id, actor_id=actor.user.id, via=actor.via, kind=kind,
                               data=data, created_at=utcnow()))


def add_follower(actor: Any, ticket: Ticket, user_id: Any) -> User:
    """`actor` (tickets.services.Actor) already sees `ticket` (the caller read it through access). Commits."""
    user = _colleague(ticket, user_id)
    if user.id == ticket.requester_id or user.id in follower_ids(ticket.id):
        return user
    db.session.add(TicketFollower(ticket_id=ticket.id, user_id=user.id, added_by_id=actor.user.id,
                                  created_at=utcnow()))
    _event(ticket, actor, "follower_added", user_id=user.id)
    db.session.commit()
    return user


def remove_follower(actor: Any, ticket: Ticket, user_id: Any) -> None:
    """Stop someone following (anyone who sees the ticket may, a follower themselves). Commits."""
    user = _colleague(ticket, user_id)
    gone = db.session.execute(
        delete(TicketFollower).where(TicketFollower.ticket_id == ticket.id, TicketFollower.user_id == user.id)
    ).rowcount
    if gone:
        _event(ticket, actor, "follower_removed", user_id=user.id)
    db.session.commit()
