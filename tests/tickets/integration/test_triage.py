"""One-submit triage: reply, status, assignee, priority and category in one POST, then the next
ticket of the queue the ticket was opened from (its arguments carried in the query string)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.samples import text_of


def _ticket(ticket_id: int) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket_id, populate_existing=True)


def _messages(ticket_id: int) -> list[Any]:
    from helpdesk.extensions import db
    from tickets.models import Message

    return list(db.session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))


def _seen(page: str) -> str:
    return re.search(r'name="seen_event" type="hidden" value="(\d+)"', page).group(1)


def _queue_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/agent/tickets/(\d+)[?"]', page)]


def test_one_post_replies_and_sets_status_assignee_and_priority(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user, priority="normal")
    login(world.agent)
    page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Please send us the log file.", "set_status": "waiting_on_client",
        "set_assignee": str(world.agent.id), "set_priority": "high", "seen_event": _seen(page), "then": "stay",
    })
    assert response.status_code == 302
    assert response.headers["Location"] == f"/agent/tickets/{ticket.id}"
    fresh = _ticket(ticket.id)
    assert (fresh.status, fresh.assignee_id, fresh.priority) == ("waiting_on_client", world.agent.id, "high")
    assert [m.body for m in _messages(ticket.id)] == ["Please send us the log file."]
    assert "Reply sent." in text_of(web.get(response.headers["Location"]))


def test_a_refused_field_undoes_the_whole_send_and_keeps_the_text(web, world, login, make_ticket):
    from tickets import services

    ticket = make_ticket(world.acme_user)
    services.change_status(services.Actor(world.agent), ticket, "closed")
    login(world.agent)
    page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Typed with care", "set_status": "waiting_on_client", "set_priority": "urgent", "seen_event": _seen(page),
    })
    assert response.status_code == 409
    page = text_of(response)
    assert "A ticket cannot go from Closed to Waiting on client." in page
    assert "Typed with care" in page
    assert _messages(ticket.id) == [] and _ticket(ticket.id).priority == "normal"


def test_changes_without_text_need_no_reply_but_an_empty_send_is_refused(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "", "set_priority": "low"})
    assert response.status_code == 302 and _ticket(ticket.id).priority == "low" and _messages(ticket.id) == []
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "  "})
    assert response.status_code == 422 and _messages(ticket.id) == []


def test_the_old_reply_post_still_works(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "Just a reply"})
    assert response.status_code == 302 and _ticket(ticket.id).status == "open"


@pytest.mark.parametrize("args", ["sort=newest", "", "sort=newest&status=new&priority=normal"])
def test_send_and_next_walks_the_queue_in_its_order(web, world, login, make_ticket, args):
    tickets = [make_ticket(u, f"t{i}") for i, u in enumerate(
        [world.acme_user, world.globex_user, world.acme_colleague, world.globex_admin])]
    make_ticket(world.acme_user, "other priority", priority="high")
    login(world.agent)
    order = _queue_ids(text_of(web.get(f"/agent/queue?{args}")))
    if "priority=normal" in args:
        assert sorted(order) == sorted(t.id for t in tickets)
    queue_page = text_of(web.get(f"/agent/queue?{args}"))
    first_link = re.search(r'<a href="(/agent/tickets/\d+[^"]*)"', queue_page).group(1).replace("&amp;", "&")
    url, visited = first_link, []
    for _ in range(len(order)):
        path = urlsplit(url)
        assert path.path != "/agent/queue", (visited, order)
        ticket_id = int(path.path.rsplit("/", 1)[1])
        visited.append(ticket_id)
        page = text_of(web.get(url))
        back = re.search(r'name="back" type="hidden" value="([^"]*)"', page).group(1).replace("&amp;", "&")
        # Setting "waiting on client" takes the ticket out of a status=new view: the next is still the next.
        response = web.post(f"/agent/tickets/{ticket_id}/reply", data={
            "body": "Looking into it.", "set_status": "waiting_on_client", "back": back,
            "seen_event": _seen(page), "then": "next",
        })
        assert response.status_code == 302
        url = response.headers["Location"]
        if args:
            assert url.endswith("?" + args)  # the queue's arguments travel on
    assert visited == order
    if args:
        assert urlsplit(url).path == "/agent/queue"  # that was the last one
    else:
        # "Nearest due first": a ticket now waiting on the client has no running clock, so it
        # moved to the end of the order; the next row is where it stands now (README).
        assert urlsplit(url).path == f"/agent/tickets/{order[1]}"


def test_the_ticket_page_keeps_the_queue_arguments_in_the_form(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    page = text_of(web.get(f"/agent/tickets/{ticket.id}?view=mine&q=printer&status=new&cursor=abc"))
    assert 'name="back" type="hidden" value="view=mine&amp;q=printer&amp;status=new"' in page
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "x", "back": "status=nonsense&sort=newest", "then": "next"})
    assert response.status_code == 302  # an unknown filter leads back to the queue, which says why
    assert response.headers["Location"] == "/agent/queue?status=nonsense&sort=newest"
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "y", "back": "https://evil.example/", "then": "stay"})
    assert response.headers["Location"] == f"/agent/tickets/{ticket.id}"


def test_minutes_worked_today_go_with_the_same_send(web, world, login, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import TicketEvent, TimeEntry

    ticket = make_ticket(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Reconfigured the printer.", "set_status": "resolved", "time_minutes": "abc"})
    assert response.status_code == 422
    assert "Enter a whole number with the digits 0-9." in text_of(response)
    assert "Reconfigured the printer." in text_of(response)
    assert _messages(ticket.id) == [] and db.session.scalars(select(TimeEntry)).all() == []

    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": "Reconfigured the printer.", "set_status": "resolved", "time_minutes": "30"})
    assert response.status_code == 302
    (entry,) = db.session.scalars(select(TimeEntry)).all()
    assert (entry.ticket_id, entry.minutes, entry.author_id) == (ticket.id, 30, world.agent.id)
    kinds = [e.kind for e in db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert {"replied", "time_logged", "status_changed"} <= set(kinds)
    assert _ticket(ticket.id).status == "resolved"
