"""Bulk actions on queue rows: one change (assignee, status, priority, category) to many tickets.

Each ticket goes through the same service function as the API's change and the triage
(`tickets.services.apply_changes`: the order and rules of the changes), with its own history
entries, in its own savepoint: a ticket that is refused (an illegal status transition, a ticket
the user may not see) is rolled back alone and named in the summary with the reason, and the
others are committed together at the end.

Speed (issue 14: 100 tickets under 2 s): what the services read per ticket is read once for all
of them before the loop (the tickets with their client, requester and assignee; their SLA clocks,
facts, pauses and policies: `tickets.sla.refresh.prefetched`), and the notifications of every
ticket are written together after the loop (`helpdesk.notifications.collected`: one query for the
mutes, one INSERT per table). A refused ticket's notices are dropped with its savepoint. A new
category's coverage decisions read the clients' subscriptions, usage and the tickets' ledger once
(`plans.services.prepared`); a refused ticket's usage is taken off the usage kept in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy.orm import joinedload

from helpdesk.accounts import User
from helpdesk.errors import Forbidden, ServiceError
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.notifications import collected
from plans import services as coverage
from plans.coverage import CATEGORIES
from tickets import services
from tickets.access import MAX_ID, TicketError, visible_tickets
from tickets.bulk_summary import Outcome, Summary, summarize
from tickets.models import Ticket, ticket_number
from tickets.services import UNSET, Actor
from tickets.sla import refresh as sla

MAX_BULK = 200  # tickets per bulk action (the queue's largest page)


def _wanted(ticket: Ticket, status: Any, priority: Any, category: Any, assignee_id: Any) -> bool:
    """Whether any asked value differs from the ticket's (else the ticket is left as it is)."""
    asked_assignee = UNSET if assignee_id is UNSET else (int(assignee_id) if assignee_id not in (None, "") else None)
    return any(
        asked is not UNSET and asked != current
        for asked, current in (
            (status, ticket.status), (priority, ticket.priority), (category, ticket.category),
            (asked_assignee, ticket.assignee_id),
        )
    )


def bulk_update(
    actor: Actor,
    ticket_ids: list[int],
    *,
    status: Any = UNSET,
    priority: Any = UNSET,
    category: Any = UNSET,
    reason: Any = "",
    assignee_id: Any = UNSET,
) -> Summary:
    """Apply the asked changes to each ticket on its own; commit the ones that went through."""
    if not actor.user.is_staff:
        raise Forbidden(_("Only staff can do this."))
    fields: dict[str, str] = {}
    if not ticket_ids:
        fields["ticket"] = _("Select at least one ticket.")
    elif len(ticket_ids) > MAX_BULK:
        fields["ticket"] = _("Select at most %(n)s tickets at once.", n=MAX_BULK)
    if all(value is UNSET for value in (status, priority, category, assignee_id)):
        fields["action"] = _("Choose what to change.")
    if fields:
        raise TicketError(_("Please correct the marked fields."), fields)
    found = {
        t.id: t for t in db.session.scalars(
            visible_tickets(actor.user).where(Ticket.id.in_(ticket_ids))
            .options(joinedload(Ticket.client), joinedload(Ticket.requester), joinedload(Ticket.assignee))
        ).unique()
    }
    # The asked assignee, loaded once and held here: the session's identity map keeps only what
    # is referenced, so each ticket's service would otherwise read the user again.
    assignee = _user(assignee_id)  # noqa: F841
    refreshes = any(value is not UNSET for value in (status, priority, category))  # assigning does not
    outcomes = []
    with (
        collected() as notices,
        sla.prefetched(found.values()) if refreshes else nullcontext(),
        _coverage_batch(found.values(), category) as decisions,
    ):
        for ticket_id in dict.fromkeys(ticket_ids):
            ticket = found.get(ticket_id)
            if ticket is None:
                outcomes.append(Outcome(ticket_number(ticket_id), _("There is no such ticket.")))
                continue
            try:
                if not _wanted(ticket, status, priority, category, assignee_id):
                    outcomes.append(Outcome(ticket.number, unchanged=True))
                    continue
            except (TypeError, ValueError):
                pass  # an assignee that is no number: the service says why
            mark = notices.mark()
            decided = decisions.mark() if decisions is not None else 0
            try:
                with db.session.begin_nested():
                    changed = services.apply_changes(
                        actor, ticket, status=status, priority=priority, category=category, reason=reason,
                        assignee_id=assignee_id,
                    )
            except ServiceError as exc:
                notices.drop_since(mark)
                sla.forget(ticket.id)
                if decisions is not None:
                    decisions.forget(ticket.id, decided)
                outcomes.append(Outcome(ticket.number, _refusal(exc)))
                continue
            outcomes.append(Outcome(ticket.number, unchanged=not changed))
    db.session.commit()
    return summarize(outcomes)


def _coverage_batch(tickets: Iterable[Ticket], category: Any) -> AbstractContextManager[coverage.Batch | None]:
    """For a new category: the coverage engine's reads for every ticket that changes category,
    made once (each client locked once for the whole bulk, its subscription and the allowance
    used read once and kept up to date in memory); see plans.services.batch."""
    if category is UNSET or category not in CATEGORIES:
        return nullcontext()
    changing = [(t.id, t.client_id) for t in tickets if t.category != category]
    return coverage.prepared(changing, coverage.coverage_today()) if changing else nullcontext()


def _user(assignee_id: Any) -> User | None:
    try:
        wanted = int(assignee_id)
    except (TypeError, ValueError):
        return None
    return db.session.get(User, wanted) if 0 < wanted <= MAX_ID else None


def _refusal(exc: ServiceError) -> str:
    """A refused value names its field; a refused transition says it in its message."""
    if isinstance(exc, TicketError) and exc.fields:
        return " ".join(dict.fromkeys(exc.fields.values()))
    return exc.message
