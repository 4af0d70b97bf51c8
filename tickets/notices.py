"""Who hears about a ticket's changes, and what their notice shows.

Each function writes one outbox entry in the caller's transaction (the service commits). The
values are plain data, so the notification jobs in helpdesk/ need nothing from tickets/.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from helpdesk import notifications as n
from helpdesk.accounts import User, staff_users
from helpdesk.companies import Client
from helpdesk.extensions import db
from tickets.models import Message, Ticket

EXCERPT_CHARS = 2000


def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id is not None else None


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rstrip() + " …"


def _values(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    client = db.session.get(Client, ticket.client_id)
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "client": client.name if client else "",
        "category": ticket.category,
        "priority": ticket.priority,
        "links": {"client": f"/portal/tickets/{ticket.id}", "staff": f"/agent/tickets/{ticket.id}"},
        **extra,
    }


def new_ticket_staff(client: Client | None) -> list[User]:
    """Who triages a new ticket: the guardian while the client is onboarding, else every agent."""
    if client is not None and client.phase == "onboarding" and client.guardian_id is not None:
        guardian = _user(client.guardian_id)
        if guardian is not None and guardian.active:
            return [guardian]
    return staff_users("agent")


def filed_audience(requester: User) -> tuple[list[n.Recipient], n.Audience]:
    """Who hears of a new ticket of `requester`'s, and their mutes and the webhook endpoints: all
    the reads of `ticket_filed`, which a filing does before its first write (tickets.services)."""
    client = db.session.get(Client, requester.client_id) if requester.client_id is not None else None
    recipients = n.recipients_for([requester, *new_ticket_staff(client)])
    return recipients, n.audience([(n.TICKET_FILED, recipients)])


def ticket_filed(ticket: Ticket, requester: User,
                 ahead: tuple[list[n.Recipient], n.Audience] | None = None) -> None:
    """The client's receipt (with its coverage and expected first response) and the staff's notice.
    `ahead`: `filed_audience(requester)`, read by the caller already."""
    if ahead is None:
        ahead = filed_audience(requester)
    recipients, audience = ahead
    coverage: dict[str, Any] = {}
    if ticket.coverage_source:
        coverage["coverage"] = ticket.coverage_source  # a code the e-mail shows in the reader's language
    if ticket.first_response_due_at is not None:
        coverage["first_response_due"] = ticket.first_response_due_at
    # notify_many: the same rows as notify, written with plain INSERTs (a filing's hot path)
    n.notify_many([n.Notice(
        n.TICKET_FILED,
        recipients,
        _values(ticket, requester=requester.display_name, description=_excerpt(ticket.description), **coverage),
        ticket.id,
    )], audience)


def reply_added(ticket: Ticket, message: Message, author: User) -> None:
    """A public reply: staff replies go to the requester, client replies to the assignee."""
    if message.internal:
        return
    if author.is_staff:
        event, recipients = n.TICKET_AGENT_REPLIED, [_user(ticket.requester_id), *_followers(ticket)]
    else:
        event, recipients = n.TICKET_CLIENT_REPLIED, [_user(ticket.assignee_id)]
    chosen = [r for r in n.recipients_for(recipients) if r.user_id != author.id]
    if chosen:
        n.notify(event, recipients=chosen, ticket_id=ticket.id,
                 values=_values(ticket, author=author.display_name, body=_excerpt(message.body)))


def assigned(ticket: Ticket, actor: User | None) -> None:
    """The new assignee hears of it, unless they took the ticket themselves (no actor: the
    auto-assignment rules)."""
    assignee = _user(ticket.assignee_id)
    if assignee is None or (actor is not None and assignee.id == actor.id):
        return
    # No actor: the rules did it; each reader's template says "Auto-assignment" in their language.
    by = actor.display_name if actor is not None else ""
    n.notify(n.TICKET_ASSIGNED, recipients=n.recipients_for([assignee]), ticket_id=ticket.id,
             values=_values(ticket, assigned_by=by))


def mentioned(ticket: Ticket, message: Message, author: User, people: list[User]) -> None:
    """Staff mentioned in an internal note hear of it (not the author mentioning themselves)."""
    chosen = [r for r in n.recipients_for(people) if r.user_id != author.id and r.role != "client"]
    if chosen:
        n.notify(n.TICKET_MENTIONED, recipients=chosen, ticket_id=ticket.id,
                 values=_values(ticket, author=author.display_name, body=_excerpt(message.body)))


def _followers(ticket: Ticket) -> list[User]:
    """The ticket's followers (tickets.followers), one query."""
    from tickets.models import TicketFollower

    return list(db.session.scalars(
        select(User).join(TicketFollower, TicketFollower.user_id == User.id).where(TicketFollower.ticket_id == ticket.id)
    ))


def resolved(ticket: Ticket, rating_link: str | None = None) -> None:
    """The requester hears of it with the rating link (tickets.csat); followers without it."""
    days = current_app.config["REOPEN_WINDOW_DAYS"]
    requester = _user(ticket.requester_id)
    n.notify(n.TICKET_RESOLVED, recipients=n.recipients_for([requester]), ticket_id=ticket.id,
             values=_values(ticket, reopen_days=days, rating_link=rating_link))
    others = [r for r in n.recipients_for(_followers(ticket)) if requester is None or r.user_id != requester.id]
    if others:
        n.notify(n.TICKET_RESOLVED, recipients=others, ticket_id=ticket.id, values=_values(ticket, reopen_days=days))


def rated_low(ticket: Ticket, score: int, comment: str) -> None:
    """A rating of 1 or 2: the ticket's agent and the managers hear of it."""
    people = [_user(ticket.assignee_id), *staff_users("manager")]
    n.notify(n.TICKET_RATED_LOW, recipients=n.recipients_for(people), ticket_id=ticket.id,
             values=_values(ticket, score=score, comment=_excerpt(comment)))
