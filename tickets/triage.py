"""One-submit triage: a reply (or note) and the ticket's status, assignee, priority and category
(and minutes worked today) in one form and one transaction, with an optimistic check against what the agent has seen.

The reply form carries the id of the newest history event the page showed. When someone else
has changed or answered the ticket since (a newer event by another person), the send is refused
with `Collision` (409) unless it is confirmed ("Send anyway"): the page shows the new events and
keeps the typed text. Automatic events (SLA warnings, recomputed due times, with no actor) do
not count. All changes go through tickets.services, all or nothing; a macro's use is counted in
the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from helpdesk.errors import Conflict
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.uploads import CheckedFile
from plans import services as plans_services
from tickets import coverage, macros, services
from tickets.access import TicketError
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import UNSET, Actor


class Collision(Conflict):
    """Someone else changed the ticket after the page was loaded; `events` are their changes."""

    def __init__(self, events: list[TicketEvent]) -> None:
        super().__init__(_("Someone else changed this ticket after you opened it. Read the changes below, "
                           "then send anyway or edit your reply."))
        self.events = events


def latest_event_id(ticket: Ticket) -> int:
    """The newest history event of the ticket (0 when it has none)."""
    return db.session.scalar(select(func.coalesce(func.max(TicketEvent.id), 0)).where(
        TicketEvent.ticket_id == ticket.id)) or 0


def changes_by_others(actor: Actor, ticket: Ticket, seen_event_id: int) -> list[TicketEvent]:
    """Events after `seen_event_id` made by another person (not the system)."""
    return list(db.session.scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.id > seen_event_id,
            TicketEvent.actor_id.is_not(None), TicketEvent.actor_id != actor.user.id,
        ).order_by(TicketEvent.id)
    ))


def send_and_set(
    actor: Actor,
    ticket: Ticket,
    *,
    body: Any,
    internal: bool = False,
    files: list[CheckedFile] | None = None,
    status: Any = UNSET,
    assignee_id: Any = UNSET,
    priority: Any = UNSET,
    category: Any = UNSET,
    reason: Any = "",
    minutes: int | None = None,
    seen_event_id: int | None = None,
    confirmed: bool = False,
    macro_id: int | None = None,
) -> Message | None:
    """The reply (when there is text), the changed fields and the minutes worked today, committed together.

    A blank text is refused unless some field changes. Returns the message, or None for
    changes without text."""
    services._require_staff(actor)
    if seen_event_id is not None and not confirmed:
        newer = changes_by_others(actor, ticket, seen_event_id)
        if newer:
            raise Collision(newer)
    changes = any(value is not UNSET for value in (status, assignee_id, priority, category)) or minutes is not None
    message = None
    if not changes or (isinstance(body, str) and body.strip()) or files:
        message = services.add_message(actor, ticket, body=body, internal=internal, files=files, commit=False)

    def log_minutes() -> None:  # worked today; an entry on another day has its own form
        coverage.log_time(actor, ticket, minutes=minutes, work_date=plans_services.coverage_today(), commit=False)

    services.apply_changes(
        actor, ticket, status=status, priority=priority, category=category, reason=reason, assignee_id=assignee_id,
        before_status=log_minutes if minutes is not None else None,
    )
    if macro_id is not None:
        try:
            macro = macros.get_macro(actor.user, macro_id)
        except services.NotFound:
            raise TicketError(_("That macro is no longer there."), {"macro": _("Pick another macro.")}) from None
        macros.count_use(macro.id)
    db.session.commit()
    return message
