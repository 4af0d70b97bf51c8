"""Clients close their own tickets ("problem solved"), reopen a resolved one within 14 days, and a
later reply files a new ticket linked to the old one; on the portal and over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.api.support import error_of
from tests.samples import text_of

RESOLVED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _set_status(world: Any, ticket: Any, status: str, at: datetime | None = None) -> None:
    from helpdesk.clock import frozen
    from tickets import services

    with frozen(at or datetime.now(UTC)):
        services.change_status(services.Actor(world.agent), ticket, status)


def _events(ticket_id: int) -> list[tuple[str, int | None, dict]]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    rows = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))
    return [(e.kind, e.actor_id, e.data) for e in rows]


def test_the_client_closes_an_open_ticket_from_the_portal(web, world, login, make_ticket):
    from tickets.models import Ticket

    ticket = make_ticket(world.acme_user)
    login(world.acme_user)
    page = text_of(web.get(f"/portal/tickets/{ticket.id}"))
    assert "Problem solved: close the ticket" in page
    response = web.post(f"/portal/tickets/{ticket.id}/close")
    assert response.status_code == 302
    from helpdesk.extensions import db

    stored = db.session.get(Ticket, ticket.id)
    assert stored.status == "closed" and stored.closed_at is not None
    assert ("status_changed", world.acme_user.id, {"from": "new", "to": "closed"}) in _events(ticket.id)
    page = text_of(web.get(f"/portal/tickets/{ticket.id}"))
    assert "Thank you. The ticket is closed." in page
    assert "Problem solved: close the ticket" not in page


def test_a_resolved_ticket_is_reopened_within_14_days_and_not_after(web, world, login, make_ticket):
    from helpdesk.clock import frozen
    from helpdesk.extensions import db
    from tickets.models import Ticket

    ticket = make_ticket(world.acme_user)
    _set_status(world, ticket, "resolved", RESOLVED_AT)
    login(world.acme_user)
    with frozen(RESOLVED_AT + timedelta(days=14, minutes=1)):
        assert "Not solved: reopen the ticket" not in text_of(web.get(f"/portal/tickets/{ticket.id}"))
        web.post(f"/portal/tickets/{ticket.id}/reopen")
        assert db.session.get(Ticket, ticket.id).status == "resolved"
    with frozen(RESOLVED_AT + timedelta(days=13, hours=23)):
        assert "Not solved: reopen the ticket" in text_of(web.get(f"/portal/tickets/{ticket.id}"))
        assert web.post(f"/portal/tickets/{ticket.id}/reopen").status_code == 302
    stored = db.session.get(Ticket, ticket.id)
    assert stored.status == "open" and stored.resolved_at is None
    assert _events(ticket.id)[-1] == ("status_changed", world.acme_user.id, {"from": "resolved", "to": "open"})


def test_a_reply_after_the_window_files_a_new_linked_ticket(web, world, login, make_ticket):
    from helpdesk.clock import frozen
    from helpdesk.extensions import db
    from tickets.models import Message, Ticket, TicketLink

    old = make_ticket(world.acme_user, subject="Labels print blank", category="bug", priority="high")
    _set_status(world, old, "resolved", RESOLVED_AT)
    login(world.acme_user)
    with frozen(RESOLVED_AT + timedelta(days=14, minutes=1)):
        response = web.post(f"/portal/tickets/{old.id}", data={"body": "It came back <again>."})
    assert response.status_code == 302
    new = db.session.scalar(select(Ticket).where(Ticket.id != old.id))
    assert response.headers["Location"] == f"/portal/tickets/{new.id}"
    assert (new.subject, new.description, new.category, new.priority, new.status, new.requester_id) == (
        f"Follow-up to OP-{old.id}: Labels print blank", "It came back <again>.", "bug", "high", "new",
        world.acme_user.id,
    )
    assert db.session.get(Ticket, old.id).status == "resolved"
    assert list(db.session.scalars(select(Message))) == []
    (link,) = db.session.scalars(select(TicketLink))
    assert (link.ticket_id, link.reopened_from_id) == (new.id, old.id)
    assert ("follow_up_filed", world.acme_user.id, {"ticket_id": new.id, "number": f"OP-{new.id}"}) in _events(old.id)
    page = text_of(web.get(f"/portal/tickets/{new.id}"))
    assert f"linked to OP-{old.id}" in page and f'href="/portal/tickets/{old.id}"' in page
    assert f'href="/portal/tickets/{new.id}"' in text_of(web.get(f"/portal/tickets/{old.id}"))


def test_a_reply_to_a_closed_ticket_files_a_new_linked_ticket_over_the_api(api, world, tokens, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import TicketLink

    old = make_ticket(world.acme_user)
    _set_status(world, old, "closed")
    response = api.post(f"/api/v1/tickets/{old.id}/replies", tokens.acme_user, json={"body": "Hello again"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] != old.id and body["description"] == "Hello again"
    assert db.session.get(TicketLink, body["id"]).reopened_from_id == old.id


def test_the_client_closes_over_the_api_and_nothing_else(api, world, tokens, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import Ticket

    ticket = make_ticket(world.acme_user)
    url = f"/api/v1/tickets/{ticket.id}"
    for change in ({"priority": "urgent"}, {"status": "open"}, {"status": "closed", "priority": "low"}):
        response = api.patch(url, tokens.acme_user, json=change)
        assert response.status_code == 403, change
        assert error_of(response)["message"] == "Clients may only close their ticket (status: closed)."
    # another company's client: the ticket does not exist for them
    assert api.patch(url, tokens.globex_user, json={"status": "closed"}).status_code == 404
    assert api.patch(url, tokens.globex_admin, json={"status": "closed"}).status_code == 404
    # a colleague who does not follow it does not see it either
    assert api.patch(url, tokens.acme_colleague, json={"status": "closed"}).status_code == 404
    assert db.session.get(Ticket, ticket.id).status == "new"

    headers = {"Idempotency-Key": "close-once-1"}
    first = api.patch(url, tokens.acme_user, json={"status": "closed"}, headers=headers)
    assert first.status_code == 200 and first.get_json()["status"] == "closed"
    again = api.patch(url, tokens.acme_user, json={"status": "closed"}, headers=headers)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert [k for k, *_ in _events(ticket.id)].count("status_changed") == 1
    # the client admin of the company may close a company ticket too
    other = make_ticket(world.acme_user)
    assert api.patch(f"/api/v1/tickets/{other.id}", tokens.acme_admin, json={"status": "closed"}).status_code == 200


def test_the_openapi_document_says_clients_may_close(api):
    operation = api.document.raw["paths"]["/api/v1/tickets/{ticket_id}"]["patch"]
    assert '{"status": "closed"}' in operation["description"]
    assert "Idempotency-Key" in operation["description"]
