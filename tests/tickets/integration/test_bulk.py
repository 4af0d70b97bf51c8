"""Bulk actions on queue rows: each ticket through the same service, its own history and savepoint,
a summary of what failed and why, idempotent, without JavaScript (a plain form post)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from tests.samples import text_of


def _events(ticket_id: int, kind: str | None = None) -> list[Any]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if kind:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def _ticket(ticket_id: int) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket_id, populate_existing=True)


def _post(web: Any, ids: list[Any], **fields: str) -> Any:
    data = {"ticket": [str(i) for i in ids], "back": "sort=newest&status=all", **fields}
    return web.post("/agent/queue/bulk", data=data)


def test_queue_rows_carry_a_checkbox_of_the_bulk_form(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    page = text_of(web.get("/agent/queue?sort=newest"))
    assert '<form id="bulk"' in page and 'action="/agent/queue/bulk"' in page
    assert f'<input type="checkbox" form="bulk" name="ticket" value="{ticket.id}"' in page
    assert 'name="idempotency_key"' in page.split('<form id="bulk"')[1].split("</form>")[0]


def test_bulk_assign_and_status_changes_each_ticket_and_reports_the_refused(web, world, login, make_ticket):
    from tickets import services

    a = make_ticket(world.acme_user, "a")
    b = make_ticket(world.globex_user, "b")
    closed = make_ticket(world.acme_colleague, "closed one")
    services.change_status(services.Actor(world.agent), closed, "closed")
    login(world.agent)

    response = _post(web, [a.id, closed.id, b.id], assignee=str(world.agent2.id), status="waiting_on_client")
    assert response.status_code == 302
    assert response.headers["Location"] == "/agent/queue?sort=newest&status=all"
    page = text_of(web.get(response.headers["Location"]))
    assert "Tickets changed: 2." in page
    assert f"Not changed: {closed.number}. A ticket cannot go from Closed to Waiting on client." in page

    for ticket in (a, b):
        fresh = _ticket(ticket.id)
        assert (fresh.assignee_id, fresh.status) == (world.agent2.id, "waiting_on_client")
        assert [e.data["to"] for e in _events(ticket.id, "assigned")] == [world.agent2.id]
        assert [e.data["to"] for e in _events(ticket.id, "status_changed")] == ["waiting_on_client"]
        assert {e.actor_id for e in _events(ticket.id, "assigned")} == {world.agent.id}
    # The refused ticket is rolled back whole: its assignment (which passed) is undone too.
    fresh = _ticket(closed.id)
    assert (fresh.assignee_id, fresh.status) == (None, "closed")
    assert _events(closed.id, "assigned") == []


def test_bulk_reclassify_goes_through_the_coverage_decision_with_the_reason(web, world, login, make_ticket):
    from helpdesk.extensions import db
    from plans.models import CoverageDecision

    a = make_ticket(world.acme_user, "a", category="question")
    b = make_ticket(world.acme_user, "b", category="question")
    decisions = lambda t: db.session.scalar(  # noqa: E731
        select(func.count()).select_from(CoverageDecision).where(CoverageDecision.ticket_id == t.id))
    before = (decisions(a), decisions(b))
    login(world.agent)
    response = _post(web, [a.id, b.id], category="bug", reason="Crashes on save")
    assert response.status_code == 302
    for ticket, count in zip((a, b), before, strict=True):
        assert _ticket(ticket.id).category == "bug"
        (event,) = _events(ticket.id, "category_changed")
        assert event.data == {"from": "question", "to": "bug", "reason": "Crashes on save"}
        assert decisions(ticket) == count + 1


def test_priority_and_unassign_and_unchanged_tickets(web, world, login, make_ticket):
    from tickets import services

    a = make_ticket(world.acme_user, "a", priority="normal")
    b = make_ticket(world.acme_user, "b", priority="urgent")
    services.assign(services.Actor(world.agent), a, world.agent.id)
    login(world.agent)
    page = text_of(web.get(_post(web, [a.id, b.id], priority="urgent").headers["Location"]))
    assert "Tickets changed: 1." in page and "Tickets that already had these values: 1." in page
    assert _ticket(a.id).priority == "urgent" and len(_events(b.id, "priority_changed")) == 0
    _post(web, [a.id], assignee="none")
    assert _ticket(a.id).assignee_id is None


def test_bad_bulk_input_is_refused_with_a_message_and_the_selection_kept(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.agent)
    response = _post(web, [], status="open")
    assert response.status_code == 422
    assert "Select at least one ticket." in text_of(response)
    response = _post(web, [a.id])
    assert response.status_code == 422
    page = text_of(response)
    assert "Choose what to change." in page
    assert f'name="ticket" value="{a.id}" aria-label="Select {a.number}" checked' in page
    response = _post(web, ["12x"], status="open")
    assert response.status_code == 422 and "Unknown ticket." in text_of(response)
    response = _post(web, [a.id], status="sleeping")
    assert response.status_code == 422 and "Choose one of:" in text_of(response)
    response = _post(web, [a.id], assignee="999999")
    assert response.status_code == 302
    assert "Unknown agent." in text_of(web.get(response.headers["Location"]))
    assert _ticket(a.id).status == "new" and _ticket(a.id).assignee_id is None


def test_a_ticket_the_user_cannot_see_is_reported_not_changed(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.agent)
    page = text_of(web.get(_post(web, [a.id, 2_000_000_000], status="open").headers["Location"]))
    assert "Tickets changed: 1." in page and "Not changed: OP-2000000000. There is no such ticket." in page


def test_bulk_is_idempotent(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.agent)
    key = str(uuid.uuid4())
    first = _post(web, [a.id], assignee=str(world.agent.id), idempotency_key=key)
    web.post(f"/agent/tickets/{a.id}/assign", data={"assignee": ""})  # someone undoes it meanwhile
    again = _post(web, [a.id], assignee=str(world.agent.id), idempotency_key=key)
    assert first.status_code == again.status_code == 302
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _ticket(a.id).assignee_id is None  # the repeat changed nothing
    assert len(_events(a.id, "assigned")) == 2


def test_clients_cannot_bulk_change(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.acme_admin)
    assert _post(web, [a.id], status="closed").status_code == 403
    assert _ticket(a.id).status == "new"
