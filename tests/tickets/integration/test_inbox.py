"""In-app notifications: written with the event (assignment, mention, client reply, SLA), the
header's unread count in one bounded query, the list by keyset, marking read, and who sees what."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, select

from tests.samples import text_of

WEDNESDAY = date(2026, 12, 2)


def _inbox(user: Any) -> list[Any]:
    from helpdesk.extensions import db
    from helpdesk.notifications.models import InboxItem

    db.session.rollback()
    return list(db.session.scalars(select(InboxItem).where(InboxItem.user_id == user.id).order_by(InboxItem.id)))


def test_assignments_client_replies_and_sla_warnings_land_in_the_assignees_inbox(app, world, make_ticket, clock):
    from tickets import services
    from tickets.sla.jobs import sla_sweep

    clock.on(WEDNESDAY)
    ticket = make_ticket(world.acme_user, "Printer offline")
    assert _inbox(world.agent) == []  # a new ticket alone is no item (the e-mail tells every agent)
    services.assign(services.Actor(world.manager), ticket, world.agent.id)
    services.assign(services.Actor(world.agent2), make_ticket(world.acme_user, "Mine"), world.agent2.id)
    services.add_message(services.Actor(world.acme_user), ticket, body="Still offline.")
    services.add_message(services.Actor(world.agent), ticket, body="Looking.")  # my own reply: no item
    clock.on(WEDNESDAY + timedelta(days=30))
    assert sla_sweep() >= 1
    items = _inbox(world.agent)
    assert [i.event for i in items[:2]] == ["ticket.assigned", "ticket.client_replied"]
    assert {i.event for i in items[2:]} <= {"sla.warning", "sla.breached"} and items[2:]
    assert all(i.ticket_id == ticket.id and i.read_at is None for i in items)
    assert items[0].values["number"] == ticket.number and items[1].values["author"] == "Anna"
    assert "ticket.assigned" not in [i.event for i in _inbox(world.agent2)]  # took it themselves
    assert _inbox(world.acme_user) == []  # clients have no inbox


def test_the_header_counts_unread_in_one_bounded_query_and_the_list_marks_read(app, web, world, login, make_ticket):
    from helpdesk.extensions import db
    from helpdesk.notifications import inbox
    from tickets import services

    ticket = make_ticket(world.acme_user, "Printer offline")
    services.assign(services.Actor(world.manager), ticket, world.agent.id)
    services.add_message(services.Actor(world.acme_user), ticket, body="Hello?")
    login(world.agent)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = text_of(web.get("/agent/queue"))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    inbox_queries = [s for s in statements if "inbox_items" in s]
    assert len(inbox_queries) == 1 and "LIMIT" in inbox_queries[0]
    assert re.search(r'class="badge count"[^>]*>2</span>', page)

    page = text_of(web.get("/agent/notifications/"))
    assert f"manager@vendor.example assigned {ticket.number} to you" in page
    assert f"Anna replied on {ticket.number}" in page and f'href="/agent/tickets/{ticket.id}"' in page
    first, second = _inbox(world.agent)
    response = web.post("/agent/notifications/read", data={"item_id": str(first.id), "open": "1"})
    assert response.headers["Location"].endswith(f"/agent/tickets/{ticket.id}")
    assert [i.read_at is not None for i in _inbox(world.agent)] == [True, False]
    assert re.search(r'class="badge count"[^>]*>1</span>', text_of(web.get("/agent/queue")))
    assert "Printer offline" in text_of(web.get("/agent/notifications/?unread=1"))
    assert web.post("/agent/notifications/read-all").status_code == 302
    assert all(i.read_at is not None for i in _inbox(world.agent))
    assert 'class="badge count"' not in text_of(web.get("/agent/queue"))

    # Someone else's item is no item of mine; a cursor that is no number is a 400, not a 500.
    other = inbox.inbox_rows("ticket.assigned", [_recipient(world.agent2)], {"number": "OP-1"}, ticket.id)
    inbox.write(other)
    db.session.commit()
    [theirs] = _inbox(world.agent2)
    assert web.post("/agent/notifications/read", data={"item_id": str(theirs.id)}).status_code == 404
    assert web.post("/agent/notifications/read", data={"item_id": "99999999999999999999"}).status_code == 404
    assert _inbox(world.agent2)[0].read_at is None
    assert web.get("/agent/notifications/?before=abc").status_code == 400
    assert web.get("/agent/notifications/?before=99999999999999999999").status_code == 400
    login(world.acme_user)
    assert web.get("/agent/notifications/").status_code == 403


def _recipient(user: Any) -> Any:
    from helpdesk.notifications import recipient_for

    return recipient_for(user)


def test_the_list_pages_by_keyset_newest_first(app, web, world, login, make_ticket):
    from helpdesk.extensions import db
    from helpdesk.notifications import inbox

    ticket = make_ticket(world.acme_user, "Many")
    rows = []
    for n in range(inbox.PAGE_SIZE * 2 + 7):
        rows += inbox.inbox_rows("ticket.client_replied", [_recipient(world.agent)],
                                 {"number": ticket.number, "subject": f"S{n}", "author": f"Client {n}"}, ticket.id)
    inbox.write(rows)
    db.session.commit()
    login(world.agent)
    seen: list[str] = []
    url = "/agent/notifications/"
    pages = 0
    while url:
        page = text_of(web.get(url))
        seen += re.findall(r"Client (\d+) replied", page)
        match = re.search(r'<a href="(/agent/notifications/\?before=\d+)">Older', page)
        url = match.group(1) if match else None
        pages += 1
    assert pages == 3
    assert [int(s) for s in seen] == list(range(inbox.PAGE_SIZE * 2 + 6, -1, -1))
    assert re.search(r'class="badge count"[^>]*>99\+</span>', page)
