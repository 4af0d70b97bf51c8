"""The agent's side: the queue, its filters and keyset pages, working a ticket, and role guards."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import select

from tests.samples import history_shared_by_two_agents, recorded_statements, text_of


def _queue_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/agent/tickets/(\d+)[?"]', page)]  # the link carries the queue's arguments


def _next_link(page: str) -> str | None:
    match = re.search(r'<a href="(/agent/queue\?[^"]+)">Next page', page)
    return match.group(1).replace("&amp;", "&") if match else None


def _events(ticket_id: int) -> list[Any]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    return list(db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def _ticket(ticket_id: int) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket_id, populate_existing=True)


# -- the queue --------------------------------------------------------------------------------


def test_queue_shows_open_tickets_across_clients(web, world, login, make_ticket):
    from tickets import services

    acme = make_ticket(world.acme_user, "ACME cannot print")
    globex = make_ticket(world.globex_user, "Globex sync is late")
    done = make_ticket(world.acme_colleague, "Already answered")
    services.change_status(services.Actor(world.agent), done, "resolved")

    login(world.agent)
    page = text_of(web.get("/agent/queue?sort=newest"))
    assert _queue_ids(page) == [globex.id, acme.id]
    assert "ACME Logistics" in page and "Globex Trading" in page
    assert "Anna" in page  # who filed it
    assert _queue_ids(text_of(web.get("/agent/queue?sort=newest&status=all"))) == [done.id, globex.id, acme.id]
    assert _queue_ids(text_of(web.get("/agent/queue?sort=newest&status=resolved"))) == [done.id]


def test_queue_filters(web, world, login, make_ticket):
    from tickets import services

    a = make_ticket(world.acme_user, "a", category="bug", priority="urgent")
    b = make_ticket(world.acme_colleague, "b", category="question", priority="low")
    c = make_ticket(world.globex_user, "c", category="configuration_change", priority="urgent")
    d = make_ticket(world.globex_admin, "d", category="bug", priority="normal")
    agent = services.Actor(world.agent)
    services.assign(agent, a, world.agent.id)
    services.assign(agent, c, world.agent2.id)
    services.change_status(agent, b, "waiting_on_client")

    login(world.agent)
    cases = {
        "": [d, c, b, a],
        "category=bug": [d, a],
        "priority=urgent": [c, a],
        "client=acme": [b, a],
        "client=globex&category=bug": [d],
        f"assignee={world.agent.id}": [a],
        f"assignee={world.agent2.id}": [c],
        "assignee=none": [d, b],
        "status=waiting_on_client": [b],
        "status=new,waiting_on_client&client=acme": [b, a],
        "client=nobody": [],
    }
    for query, expected in cases.items():
        response = web.get(f"/agent/queue?sort=newest&{query}")
        assert response.status_code == 200, query
        assert _queue_ids(text_of(response)) == [t.id for t in expected], query


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "Unknown status: bogus"),
        ("category=feature", "Unknown category: feature"),
        ("priority=critical", "Unknown priority: critical"),
        ("assignee=someone", "Unknown assignee: someone"),
        ("limit=0", "The limit is a whole number from 1 to 200."),
        ("limit=lots", "The limit is a whole number from 1 to 200."),
        ("cursor=%%%not-base64", "Invalid cursor."),
        ("cursor=WzEsMl0", "Invalid cursor."),  # a valid encoding of the wrong shape: [1,2]
    ],
)
def test_invalid_queue_filter_is_a_400_with_a_message(web, world, login, make_ticket, query, message):
    make_ticket(world.acme_user)
    login(world.agent)
    response = web.get(f"/agent/queue?sort=newest&{query}")
    assert response.status_code == 400
    page = text_of(response)
    assert str(escape(message)) in page
    assert _queue_ids(page) == []


def test_keyset_pages_walk_every_ticket_once_newest_first(web, world, login, make_ticket):
    made = [make_ticket(world.acme_user if n % 2 else world.globex_user, f"Ticket {n}").id for n in range(7)]
    login(world.agent)
    seen: list[int] = []
    url: str | None = "/agent/queue?sort=newest&limit=3"
    pages = 0
    while url:
        page = text_of(web.get(url))
        ids = _queue_ids(page)
        assert 1 <= len(ids) <= 3
        seen += ids
        url = _next_link(page)
        if url:
            args = parse_qs(urlsplit(url).query)
            assert args["limit"] == ["3"] and "offset" not in args and "page" not in args
        pages += 1
    assert pages == 3
    assert seen == sorted(made, reverse=True)


def test_keyset_pages_keep_the_filters(web, world, login, make_ticket):
    bugs = [make_ticket(world.acme_user, f"bug {n}", category="bug").id for n in range(4)]
    for n in range(3):
        make_ticket(world.acme_user, f"question {n}", category="question")
    login(world.agent)
    first = text_of(web.get("/agent/queue?sort=newest&category=bug&limit=2"))
    second = text_of(web.get(_next_link(first)))
    assert _queue_ids(first) + _queue_ids(second) == sorted(bugs, reverse=True)
    assert _next_link(second) is None




def _skips_rows(statement: str, parameters: Any) -> bool:
    """Whether the statement skips rows with OFFSET (SQLite's dialect always writes `OFFSET 0`
    after LIMIT, also in subqueries such as the views' counts)."""
    if "OFFSET" not in statement.upper():
        return False
    for found in re.finditer(r"OFFSET (\?|\d+)", statement, re.IGNORECASE):
        if found.group(1) != "?":
            if found.group(1) != "0":
                return True
            continue
        if parameters[statement[: found.start()].count("?")] != 0:
            return True
    return False


def test_queue_issues_the_same_queries_whatever_the_page_size(app, web, world, login):
    from helpdesk.extensions import db

    history_shared_by_two_agents(world, 65)
    login(world.agent)
    web.get("/agent/queue?sort=newest")  # the inline SLA sweep runs at most once a minute: let it run now

    counts = {}
    for limit in (5, 50):
        with recorded_statements(db.engine, parameters=True) as statements:
            response = web.get(f"/agent/queue?sort=newest&status=all&limit={limit}")
        assert response.status_code == 200
        assert len(_queue_ids(text_of(response))) == limit
        counts[limit] = len(statements)
        # the page's query (the SLA engine's inline sweep, at most once a minute, reads its own index)
        # (and the views' counts beside the queue: one statement, tickets.saved_views)
        ticket_queries = [s for s, _ in statements if "FROM tickets" in s and "WHERE tickets.sla_check_at" not in s
                          and "count(*)" not in s]
        assert len(ticket_queries) == 1, ticket_queries
        assert not any(_skips_rows(s, p) for s, p in statements)
        assert "ORDER BY tickets.id DESC" in ticket_queries[0]
    assert counts[5] == counts[50], counts

    # the next page too: a keyset condition, still one query for the tickets
    first = text_of(web.get("/agent/queue?sort=newest&status=all&limit=50"))
    with recorded_statements(db.engine, parameters=True) as statements:
        page = text_of(web.get(_next_link(first)))
    assert len(_queue_ids(page)) == 15
    assert len(statements) == counts[50]
    assert not any(_skips_rows(s, p) for s, p in statements)
    assert any("tickets.id <" in s for s, _ in statements)


@pytest.fixture
def pages_of_two(app_config: dict[str, Any]) -> None:
    app_config["QUEUE_PAGE_SIZE"] = 2


def test_queue_page_size_comes_from_the_configuration(pages_of_two, web, world, login, make_ticket):
    for n in range(3):
        make_ticket(world.acme_user, f"t{n}")
    login(world.agent)
    page = text_of(web.get("/agent/queue?sort=newest"))
    assert len(_queue_ids(page)) == 2 and _next_link(page)


# -- working a ticket -------------------------------------------------------------------------


def test_agent_replies_notes_assigns_changes_status_category_and_priority(web, world, login, make_ticket):
    from helpdesk.clock import frozen
    from helpdesk.extensions import db
    from tickets.models import Message

    ticket = make_ticket(world.acme_user, "Courier mapping is wrong", category="question", priority="normal")
    login(world.agent)
    assert "Courier mapping is wrong" in text_of(web.get(f"/agent/tickets/{ticket.id}"))
    moment = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 10:30 in Warsaw

    def post(action: str, **data: str) -> Any:
        with frozen(moment):
            response = web.post(f"/agent/tickets/{ticket.id}/{action}", data=data)
        assert response.status_code == 302, (action, data, text_of(response)[-3000:])
        assert response.headers["Location"] == f"/agent/tickets/{ticket.id}"
        return response

    post("reply", body="Settings → Delivery → Mapping.")
    assert _ticket(ticket.id).status == "open"  # a public reply opens a new ticket
    post("reply", body="Client is on an old version.", internal="y")
    post("assign", assignee=str(world.agent2.id))
    post("status", status="waiting_on_client")
    post("category", category="bug", reason="The mapping screen drops entries")
    post("priority", priority="high")
    post("assign", assignee="")

    stored = _ticket(ticket.id)
    assert (stored.status, stored.category, stored.priority, stored.assignee_id) == (
        "waiting_on_client", "bug", "high", None,
    )
    messages = _events(ticket.id)
    history = [(e.kind, e.data, e.actor_id, e.internal) for e in messages]
    replies = list(db.session.scalars(select(Message.id).order_by(Message.id)))
    assert history == [
        ("created", {"category": "question", "priority": "normal"}, world.acme_user.id, False),
        ("replied", {"message_id": replies[0]}, world.agent.id, False),
        ("status_changed", {"from": "new", "to": "open"}, world.agent.id, False),
        ("note_added", {"message_id": replies[1]}, world.agent.id, True),
        ("assigned", {"from": None, "to": world.agent2.id}, world.agent.id, False),
        ("status_changed", {"from": "open", "to": "waiting_on_client"}, world.agent.id, False),
        ("category_changed", {"from": "question", "to": "bug", "reason": "The mapping screen drops entries"}, world.agent.id, False),
        ("priority_changed", {"from": "normal", "to": "high"}, world.agent.id, False),
        ("assigned", {"from": world.agent2.id, "to": None}, world.agent.id, False),
    ]
    assert all(e.created_at == moment for e in messages[1:])
    assert all(e.via == "web" for e in messages)

    page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
    history_html = page[page.index("<h2>History</h2>"):]
    for line in (
        "Agnes Agent",
        "replied",
        "added an internal note",
        "changed the assignee: — → Artur Agent",
        "changed the assignee: Artur Agent → —",
        "changed the status: New → Open",
        "changed the status: Open → Waiting on client",
        "changed the category: Question → Bug (The mapping screen drops entries)",
        "changed the priority: Normal → High",
        "10/03/2026, 10:30",
    ):
        assert line in " ".join(history_html.split()), line
    assert "Client is on an old version." in page and "Internal note" in page


def test_every_allowed_status_change_and_an_illegal_one(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    for status in ("open", "waiting_on_client", "open", "resolved", "open", "resolved", "closed", "open", "closed"):
        response = web.post(f"/agent/tickets/{ticket.id}/status", data={"status": status})
        assert response.status_code == 302, status
        assert _ticket(ticket.id).status == status
    stored = _ticket(ticket.id)
    assert stored.closed_at is not None and stored.resolved_at is None

    response = web.post(f"/agent/tickets/{ticket.id}/status", data={"status": "resolved"})
    assert response.status_code == 409
    assert "A ticket cannot go from Closed to Resolved." in text_of(response)  # the statuses as people call them
    assert _ticket(ticket.id).status == "closed"

    response = web.post(f"/agent/tickets/{ticket.id}/status", data={"status": "archived"})
    assert response.status_code == 422
    # refused by the form, naming the statuses as people call them (never the stored codes)
    assert "Choose one of: New, Open, Waiting on client, Resolved, Closed." in text_of(response)

    before = len(_events(ticket.id))
    assert web.post(f"/agent/tickets/{ticket.id}/status", data={"status": "closed"}).status_code == 302
    assert len(_events(ticket.id)) == before  # no change, no history row


def test_resolving_records_when_and_reopening_clears_it(web, world, login, make_ticket):
    from helpdesk.clock import frozen

    ticket = make_ticket(world.acme_user)
    login(world.agent)
    at = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    with frozen(at):
        web.post(f"/agent/tickets/{ticket.id}/status", data={"status": "resolved"})
    assert _ticket(ticket.id).resolved_at == at
    web.post(f"/agent/tickets/{ticket.id}/status", data={"status": "open"})
    assert _ticket(ticket.id).resolved_at is None


@pytest.mark.parametrize(
    ("action", "data", "status", "message"),
    [
        ("category", {"category": "feature", "reason": ""}, 422, "Choose one of: Question, Configuration change, Bug."),
        ("category", {"category": "bug", "reason": "r" * 501}, 422, "At most 500 characters."),
        ("priority", {"priority": "asap"}, 422, "Choose one of: Low, Normal, High, Urgent."),
        ("assign", {"assignee": "999999"}, 422, "Choose an active staff member."),
        ("assign", {"assignee": "abc"}, 422, "Choose an active staff member."),
        ("reply", {"body": ""}, 422, "This field is required."),
    ],
)
def test_bad_changes_are_refused_with_a_message_not_a_500(web, world, login, make_ticket, action, data, status, message):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/{action}", data=data)
    assert response.status_code == status
    assert message in text_of(response)
    assert [e.kind for e in _events(ticket.id)] == ["created"]


def test_assigning_to_a_client_or_inactive_agent_is_refused(web, world, login, make_ticket):
    from helpdesk.extensions import db

    ticket = make_ticket(world.acme_user)
    world.agent2.active = False
    db.session.commit()
    login(world.agent)
    for who in (world.acme_user, world.agent2):
        response = web.post(f"/agent/tickets/{ticket.id}/assign", data={"assignee": str(who.id)})
        assert response.status_code == 422
    assert _ticket(ticket.id).assignee_id is None


def test_unknown_ticket_is_a_404_for_staff(web, world, login):
    login(world.agent)
    assert web.get("/agent/tickets/424242").status_code == 404
    assert web.post("/agent/tickets/424242/status", data={"status": "open"}).status_code == 404


# -- who may open which pages -----------------------------------------------------------------


def _staff_urls(app: Any, prefixes: tuple[str, ...], ids: dict[str, int]) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", str(ids[name]), url)
        for method in sorted(rule.methods & {"GET", "POST"}):
            urls.append((method, url))
    assert urls, prefixes
    return urls


@pytest.mark.parametrize(
    ("who", "forbidden", "allowed"),
    [
        ("acme_user", ("/agent/", "/manager/", "/admin/"), ()),
        ("acme_admin", ("/agent/", "/manager/", "/admin/"), ()),
        ("agent", ("/manager/", "/admin/"), ("/agent/",)),
        ("manager", ("/admin/",), ("/agent/", "/manager/")),
        ("admin", (), ("/agent/", "/manager/", "/admin/")),
    ],
)
def test_pages_of_other_roles_are_forbidden(app, web, world, login, make_ticket, who, forbidden, allowed):
    ticket = make_ticket(world.acme_user)
    from tests.security.integration.test_isolation import acme_mail, staff_ids
    from tickets.services import Actor, add_message

    reply = add_message(Actor(world.agent), ticket, body="A reply that could become an article")
    status = _ticket(ticket.id).status
    ids = {"ticket_id": ticket.id, "user_id": world.acme_user.id, "client_id": world.acme.id, "message_id": reply.id,
           **staff_ids(world), **acme_mail(world)}
    login(getattr(world, who))
    if forbidden:
        for method, url in _staff_urls(app, forbidden, ids):
            response = web.open(url, method=method, data={"status": "closed", "body": "x"})
            assert response.status_code == 403, (who, method, url)
    if allowed:
        for method, url in _staff_urls(app, allowed, ids):
            if method == "GET":
                assert web.get(url).status_code == 200, (who, url)
    assert _ticket(ticket.id).status == status


def test_anonymous_visitors_are_sent_to_the_login_page(app, web, world, make_ticket):
    ticket = make_ticket(world.acme_user)
    from tests.security.integration.test_isolation import acme_mail, staff_ids

    ids = {"ticket_id": ticket.id, "user_id": world.acme_user.id, "client_id": world.acme.id, "message_id": 1,
           **staff_ids(world), **acme_mail(world)}
    for method, url in _staff_urls(app, ("/agent/", "/manager/", "/admin/", "/portal/"), ids):
        response = web.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login?next=")
