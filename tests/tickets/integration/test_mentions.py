"""@mentions in internal notes notify the mentioned staff (e-mail and inbox); only staff, only notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select


def _mention_rows() -> list[tuple[list[str], dict]]:
    from helpdesk.extensions import db
    from helpdesk.notifications.models import OutboxEntry

    db.session.rollback()
    return [([r["email"] for r in e.recipients], e.values)
            for e in db.session.scalars(select(OutboxEntry).where(OutboxEntry.event == "ticket.mentioned")
                                        .order_by(OutboxEntry.id))]


def _inbox_events(user: Any) -> list[str]:
    from helpdesk.extensions import db
    from helpdesk.notifications.models import InboxItem

    return list(db.session.scalars(select(InboxItem.event).where(InboxItem.user_id == user.id).order_by(InboxItem.id)))


def test_a_note_mentioning_an_agent_notifies_them_and_nobody_else(app, web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user, "Printer offline")
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "@agent2 can you look? Also @manager@vendor.example. Not @boss, not @agent (me), not x@agent2",
        "internal": "y"})
    assert response.status_code == 302
    [(to, values)] = _mention_rows()
    assert sorted(to) == ["agent2@vendor.example", "manager@vendor.example"]
    assert values["author"] == "Agnes Agent" and values["number"] == ticket.number
    assert "@agent2 can you look?" in values["body"]
    assert _inbox_events(world.agent2) == ["ticket.mentioned"]
    assert _inbox_events(world.manager) == ["ticket.mentioned"]
    assert _inbox_events(world.agent) == []  # mentioning oneself tells nobody
    assert _inbox_events(world.acme_admin) == []  # "@boss" is a client's login: clients are never mentioned

    login(world.agent2)
    page = web.get("/agent/notifications/").get_data(as_text=True)
    assert f"Agnes Agent mentioned you on {ticket.number}" in page


def test_a_public_reply_mentions_nobody(app, web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user, "Printer offline")
    login(world.agent)
    assert web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "@agent2 will call you."}).status_code == 302
    assert _mention_rows() == []
    assert _inbox_events(world.agent2) == []


def test_a_client_never_sees_the_note_or_its_mention(app, web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user, "Printer offline")
    login(world.agent)
    web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "@agent2 secret plan", "internal": "y"})
    login(world.acme_user)
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "secret plan" not in page
