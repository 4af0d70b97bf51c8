"""Collision warnings: who else has the ticket open (presence, also in the embedded default), and a
reply sent after someone else changed the ticket asks for confirmation (the optimistic check)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from tests.samples import text_of


def _messages(ticket_id: int) -> list[str]:
    from helpdesk.extensions import db
    from tickets.models import Message

    return list(db.session.scalars(select(Message.body).where(Message.ticket_id == ticket_id).order_by(Message.id)))


def _seen(page: str) -> str:
    return re.search(r'name="seen_event" type="hidden" value="(\d+)"', page).group(1)


def _two_agents(app: Any, web: Any, world: Any, login: Any) -> tuple[Any, Any]:
    other = app.test_client()
    login(world.agent, web)
    login(world.agent2, other)
    return web, other


def test_a_reply_after_someone_else_answered_asks_for_confirmation(app, web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    agnes, artur = _two_agents(app, web, world, login)
    page = text_of(agnes.get(f"/agent/tickets/{ticket.id}"))
    seen = _seen(page)
    # Artur answers meanwhile, and sets the priority.
    artur_page = text_of(artur.get(f"/agent/tickets/{ticket.id}"))
    assert artur.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Artur's answer", "set_priority": "high", "seen_event": _seen(artur_page)}).status_code == 302

    response = agnes.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Agnes's answer, typed at length", "set_status": "waiting_on_client", "seen_event": seen, "then": "next"})
    assert response.status_code == 409
    page = text_of(response)
    assert "Someone else changed this ticket after you opened it." in page
    assert "Agnes&#39;s answer, typed at length" in page  # the text is kept
    assert "<p>Artur's answer</p>" in page  # the new reply is shown
    # his reply, the status it moved to open, his priority and the due times it moved: each marked
    assert page.count('class="new-event"') == 4
    assert 'name="confirm" value="1"' in page and "Send anyway" in page
    assert _messages(ticket.id) == ["Artur's answer"]
    assert int(_seen(page)) > int(seen)  # the form now knows what was shown

    response = agnes.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Agnes's answer, typed at length", "set_status": "waiting_on_client", "seen_event": seen, "confirm": "1"})
    assert response.status_code == 302
    assert _messages(ticket.id) == ["Artur's answer", "Agnes's answer, typed at length"]


def test_own_changes_and_a_fresh_page_do_not_ask(app, web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    agnes, artur = _two_agents(app, web, world, login)
    seen = _seen(text_of(agnes.get(f"/agent/tickets/{ticket.id}")))
    assert agnes.post(f"/agent/tickets/{ticket.id}/priority", data={"priority": "low"}).status_code == 302
    response = agnes.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "first", "seen_event": seen})
    assert response.status_code == 302  # only her own change since
    assert artur.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "second"}).status_code == 302
    fresh = _seen(text_of(agnes.get(f"/agent/tickets/{ticket.id}")))
    assert agnes.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "third", "seen_event": fresh}).status_code == 302
    assert _messages(ticket.id) == ["first", "second", "third"]


def test_presence_shows_who_else_has_the_ticket_open(app, web, world, login, make_ticket):
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.presence import TicketPresence

    ticket = make_ticket(world.acme_user)
    other_ticket = make_ticket(world.acme_user)
    agnes, artur = _two_agents(app, web, world, login)
    assert 'data-label="Also viewing this ticket:" hidden></p>' in text_of(agnes.get(f"/agent/tickets/{ticket.id}"))
    page = text_of(artur.get(f"/agent/tickets/{ticket.id}"))
    assert "Also viewing this ticket: Agnes Agent</p>" in page
    assert artur.post(f"/agent/tickets/{ticket.id}/presence").get_json() == {"others": ["Agnes Agent"]}
    assert agnes.post(f"/agent/tickets/{ticket.id}/presence").get_json() == {"others": ["Artur Agent"]}
    assert agnes.post(f"/agent/tickets/{other_ticket.id}/presence").get_json() == {"others": []}
    # A page left without a heartbeat for longer than the time to live no longer counts.
    db.session.execute(update(TicketPresence).where(TicketPresence.user_id == world.agent.id)
                       .values(seen_at=utcnow() - timedelta(seconds=61)))
    db.session.commit()
    assert artur.post(f"/agent/tickets/{ticket.id}/presence").get_json() == {"others": []}
    # Clients have no presence to send or see.
    login(world.acme_user, agnes)
    assert agnes.post(f"/agent/tickets/{ticket.id}/presence").status_code == 403
