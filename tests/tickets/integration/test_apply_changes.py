"""tickets.services.apply_changes: the field changes the bulk form, the triage and the API share,
in one order, saying what changed; a refusal raises for the caller to undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select


def _kinds(ticket_id: int) -> list[str]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    asked = ("category_changed", "category_confirmed", "priority_changed", "assigned", "status_changed",
             "time_logged")
    return list(db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind.in_(asked))
        .order_by(TicketEvent.id)
    ))


def test_the_changes_go_in_one_order_and_say_what_changed(world, make_ticket):
    from helpdesk.extensions import db
    from tickets import services

    ticket = make_ticket(world.acme_user)
    order: list[str] = []
    changed = services.apply_changes(
        services.Actor(world.agent), ticket, status="waiting_on_client", assignee_id=world.agent2.id,
        priority="high", category="bug", reason="It is a bug", before_status=lambda: order.extend(_kinds(ticket.id)),
    )
    db.session.commit()
    assert changed == ("category", "priority", "assignee", "status")
    assert order == ["category_changed", "priority_changed", "assigned"]  # `before_status` runs before the status
    assert _kinds(ticket.id) == [*order, "status_changed"]
    assert (ticket.category, ticket.priority, ticket.assignee_id, ticket.status) == (
        "bug", "high", world.agent2.id, "waiting_on_client")


def test_values_the_ticket_has_change_nothing_but_a_confirmed_category_is_a_change(world, make_ticket):
    from helpdesk.extensions import db
    from tickets import services

    agent = services.Actor(world.agent)
    ticket = make_ticket(world.acme_user, priority="normal")
    assert services.apply_changes(agent, ticket, priority="normal", status="new", category="question") == ()
    mailed = make_ticket(world.acme_user, category_to_confirm=True)
    assert services.apply_changes(agent, mailed, category="question", priority="low") == ("category", "priority")
    db.session.commit()
    assert _kinds(mailed.id) == ["category_confirmed", "priority_changed"] and not mailed.category_to_confirm


def test_a_refusal_raises_with_the_earlier_changes_left_for_the_caller_to_undo(world, make_ticket):
    from helpdesk.extensions import db
    from tickets import services
    from tickets.access import TicketError

    ticket = make_ticket(world.acme_user)
    with pytest.raises(TicketError) as refused:
        services.apply_changes(services.Actor(world.agent), ticket, priority="high", assignee_id=2_000_000_000)
    assert refused.value.fields == {"assignee": "Unknown agent."}
    assert ticket.priority == "high"  # pending: the caller's rollback (or savepoint) takes it back
    db.session.rollback()
    assert _fresh(ticket).priority == "normal"


def _fresh(ticket: Any) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket.id, populate_existing=True)
