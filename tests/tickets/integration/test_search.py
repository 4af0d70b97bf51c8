"""Full-text search (tickets/search.py) on both databases: Polish diacritics both ways, internal
notes for staff only, the company scope in the portal and the API, the ticket-number jump, and
the documents kept by the database in the same transaction as every write."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from tests.samples import text_of


def _queue_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/agent/tickets/(\d+)(?:\?[^"]*)?">', page)]


def _portal_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/portal/tickets/(\d+)">', page)]


def _found(user: Any, q: str, **filters: str) -> list[int]:
    from tickets.queue import parse_queue_filters, queue_page

    rows, _cursor = queue_page(user, parse_queue_filters({"q": q, "sort": "newest", **filters}))
    return [t.id for t in rows]


@pytest.fixture
def tickets(world, make_ticket):
    """A few tickets of two companies, with a public reply and an internal note."""
    from tickets.services import Actor, add_message

    turtle = make_ticket(world.acme_user, "Żółw nie drukuje etykiet", description="Zgłoszenie z magazynu w Łodzi.")
    plain = make_ticket(world.acme_user, "Zolw w magazynie", description="Bez polskich znakow, Lodz.")
    courier = make_ticket(world.acme_colleague, "Courier mapping", description="Which courier for pallets?")
    other = make_ticket(world.globex_user, "Żółw Globexu", description="Another company's turtle.")
    add_message(Actor(world.agent), courier, body="Kurier DPD obsługuje palety od poniedziałku.")
    add_message(Actor(world.agent), courier, body="Klient płaci z góry: tajemnica handlowa.", internal=True)
    return {"turtle": turtle, "plain": plain, "courier": courier, "other": other}


def test_polish_words_match_without_diacritics_both_ways(world, tickets):
    t = tickets
    both = sorted([t["turtle"].id, t["plain"].id, t["other"].id])
    assert sorted(_found(world.agent, "zolw")) == both
    assert sorted(_found(world.agent, "żółw")) == both
    assert sorted(_found(world.agent, "ŻÓŁW")) == both
    assert _found(world.agent, "Łódź") == [t["plain"].id]
    assert _found(world.agent, "lodzi") == [t["turtle"].id]
    # every word must be there, whole words (no prefixes, no stemming)
    assert _found(world.agent, "zolw etykiet") == [t["turtle"].id]
    assert _found(world.agent, "drukuje") == [t["turtle"].id]
    assert _found(world.agent, "drukuj") == []
    assert _found(world.agent, "zolw nothing-like-this") == []
    # a public reply is searched, for the client too
    assert _found(world.agent, "poniedzialku") == [t["courier"].id]
    assert _found(world.acme_admin, "poniedziałku") == [t["courier"].id]


def test_internal_notes_are_searched_for_staff_only(world, tickets):
    courier = tickets["courier"].id
    assert _found(world.agent, "tajemnica") == [courier]
    assert _found(world.agent, "tajemnica handlowa") == [courier]
    for client in (world.acme_colleague, world.acme_admin, world.acme_user):
        assert _found(client, "tajemnica") == []
        assert _found(client, "placi gory") == []
    # the public words of the same ticket are still found by its requester
    assert _found(world.acme_colleague, "palety") == [courier]


def test_search_keeps_the_other_filters_and_the_order(world, tickets):
    t = tickets
    assert _found(world.agent, "zolw", client="globex") == [t["other"].id]
    assert _found(world.agent, "zolw", status="resolved") == []
    # keyset pages: the queue's order, one page at a time
    first = _found(world.agent, "zolw", limit="2")
    assert first == [t["other"].id, t["plain"].id]
    from tickets.queue import parse_queue_filters, queue_page

    _rows, cursor = queue_page(world.agent, parse_queue_filters({"q": "zolw", "sort": "newest", "limit": "2"}))
    rows, last = queue_page(world.agent, parse_queue_filters({"q": "zolw", "sort": "newest", "limit": "2", "cursor": cursor}))
    assert [r.id for r in rows] == [t["turtle"].id] and last is None


def test_a_client_searches_only_their_scope(world, tickets):
    t = tickets
    assert _found(world.acme_user, "zolw") == [t["plain"].id, t["turtle"].id]
    assert _found(world.acme_colleague, "zolw") == []  # a client user sees their own tickets
    assert _found(world.globex_user, "zolw") == [t["other"].id]
    # another company's ticket by number: not found, and no hint
    assert _found(world.acme_admin, f"OP-{t['other'].id}") == []
    assert _found(world.acme_admin, str(t["other"].id)) == []


def test_documents_follow_every_write_in_its_transaction(app, world, tickets):
    """Triggers keep the documents: a reply, a rolled-back reply, a subject changed in SQL."""
    from helpdesk.extensions import db
    from tickets.services import Actor, add_message

    turtle = tickets["turtle"]
    add_message(Actor(world.acme_user), turtle, body="Dodaję zrzut ekranu z wagą.")
    assert _found(world.acme_user, "wagą") == [turtle.id]
    add_message(Actor(world.agent), turtle, body="Sprawdzę skaner.")
    # a reply whose transaction is rolled back leaves nothing behind
    from tickets.models import Message

    db.session.add(Message(ticket_id=turtle.id, author_id=world.agent.id, body="Wycofane słowo grzyb."))
    db.session.flush()
    assert _found(world.agent, "grzyb") == [turtle.id]  # in the same transaction already
    db.session.rollback()
    assert _found(world.agent, "grzyb") == []
    # whoever writes: a fix in SQL is indexed as well, with the replies kept
    db.session.execute(text("UPDATE tickets SET subject = 'Kangur' WHERE id = :id"), {"id": turtle.id})
    db.session.commit()
    assert _found(world.agent, "kangur") == [turtle.id]
    assert _found(world.agent, "zolw etykiet") == []
    assert _found(world.agent, "skaner kangur") == [turtle.id]
    assert _found(world.acme_user, "wagą") == [turtle.id]


def test_odd_queries_are_no_500(web, world, login, tickets):
    login(world.agent)
    for q in ['"', "'", "*", "zolw AND", "NEAR(", "a:*", "& | !", "\\", "{public}:x", "OR", "-", "🐢", "x" * 200,
              "x² ⅷ ٣ ǅ ﬁ", "NEAR OR AND NOT", "\u0301", "中文 検索"]:
        response = web.get("/agent/queue", query_string={"q": q})
        assert response.status_code == 200, q
    assert web.get("/agent/queue", query_string={"q": "ą\u0000b"}).status_code == 400  # NUL: refused by the app
    too_long = web.get("/agent/queue", query_string={"q": "x" * 201})
    assert too_long.status_code == 400
    assert "at most 200 characters" in text_of(too_long)
    assert 'value="' + "x" * 201 + '"' in text_of(too_long)  # what was typed is kept


def test_the_agent_queue_searches_and_jumps_to_a_ticket_number(web, world, login, tickets):
    t = tickets
    login(world.agent)
    page = text_of(web.get("/agent/queue", query_string={"q": "zolw"}))
    assert _queue_ids(page) == [t["other"].id, t["plain"].id, t["turtle"].id] or \
        sorted(_queue_ids(page)) == sorted([t["other"].id, t["plain"].id, t["turtle"].id])
    assert 'value="zolw"' in page
    for q in (f"OP-{t['courier'].id}", f"op{t['courier'].id}", f" {t['courier'].id} ", f"#{t['courier'].id}"):
        response = web.get("/agent/queue", query_string={"q": q})
        assert response.status_code == 302, q
        assert response.headers["Location"].endswith(f"/agent/tickets/{t['courier'].id}")
    # a number that is no ticket: an ordinary search, no error
    assert web.get("/agent/queue", query_string={"q": "OP-999999"}).status_code == 200


def test_the_portal_searches_within_the_company(web, world, login, tickets):
    t = tickets
    login(world.acme_admin)
    page = text_of(web.get("/portal/", query_string={"q": "zolw", "scope": "company"}))
    assert sorted(_portal_ids(page)) == sorted([t["turtle"].id, t["plain"].id])
    assert _portal_ids(text_of(web.get("/portal/", query_string={"q": "tajemnica", "scope": "company"}))) == []
    # own company's number: straight to it; another company's number: no jump, nothing found
    jump = web.get("/portal/", query_string={"q": f"OP-{t['courier'].id}"})
    assert jump.status_code == 302 and jump.headers["Location"].endswith(f"/portal/tickets/{t['courier'].id}")
    other = web.get("/portal/", query_string={"q": f"OP-{t['other'].id}", "scope": "company"})
    assert other.status_code == 200 and _portal_ids(text_of(other)) == []
    login(world.acme_colleague)  # a client user: their own tickets only, also by number
    assert web.get("/portal/", query_string={"q": f"OP-{t['turtle'].id}"}).status_code == 200
    assert web.get("/portal/", query_string={"q": f"OP-{t['courier'].id}"}).status_code == 302


def test_the_ticket_to_open_is_one_the_user_may_see(world, tickets):
    """tickets.search.ticket_to_open, the jump both pages take: another company's number (or a
    colleague's ticket for a plain client user) opens nothing; a next page never jumps."""
    from tickets.search import ticket_to_open

    t = tickets
    courier, other = t["courier"].id, t["other"].id
    assert ticket_to_open(world.agent, {"q": f"OP-{other}"}) == other
    assert ticket_to_open(world.agent, {"q": f"#{courier}"}) == courier
    assert ticket_to_open(world.acme_admin, {"q": f"OP-{courier}"}) == courier
    assert ticket_to_open(world.acme_admin, {"q": f"OP-{other}"}) is None
    assert ticket_to_open(world.acme_user, {"q": f"OP-{other}"}) is None
    assert ticket_to_open(world.acme_user, {"q": f"OP-{courier}"}) is None  # a colleague's, not followed
    assert ticket_to_open(world.globex_user, {"q": f"OP-{other}"}) == other
    assert ticket_to_open(world.globex_admin, {"q": f"OP-{courier}"}) is None
    assert ticket_to_open(world.agent, {"q": f"OP-{courier}", "cursor": "abc"}) is None
    assert ticket_to_open(world.agent, {"q": "courier"}) is None
    assert ticket_to_open(world.agent, {}) is None
    assert ticket_to_open(world.agent, {"q": "OP-999999"}) is None


def test_a_client_never_jumps_to_another_companys_ticket(web, world, login, tickets):
    other = tickets["other"].id
    for user in (world.acme_admin, world.acme_user):
        login(user)
        for scope in ("company", "mine"):
            response = web.get("/portal/", query_string={"q": f"OP-{other}", "scope": scope})
            assert response.status_code == 200, (user.email, scope)
            assert f"/portal/tickets/{other}" not in text_of(response)
    login(world.globex_user)
    assert web.get("/portal/", query_string={"q": f"OP-{other}"}).headers["Location"].endswith(f"/portal/tickets/{other}")


def test_the_api_searches_scoped_like_the_list(world, tickets, api, tokens):
    t = tickets

    def ids(token: str, q: str) -> list[int]:
        response = api.get("/api/v1/tickets?" + urlencode({"q": q}), token)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids(tokens.agent, "żółw") == [t["other"].id, t["plain"].id, t["turtle"].id]
    assert ids(tokens.agent, "tajemnica") == [t["courier"].id]
    assert ids(tokens.acme_admin, "zolw") == [t["plain"].id, t["turtle"].id]
    assert ids(tokens.acme_admin, "tajemnica") == []
    assert ids(tokens.acme_admin, f"OP-{t['other'].id}") == []  # another company's id
    assert ids(tokens.globex_user, f"OP-{t['other'].id}") == [t["other"].id]
    assert ids(tokens.globex_user, "courier") == []
    too_long = api.get("/api/v1/tickets?q=" + "x" * 201, tokens.agent)
    assert too_long.status_code in (400, 422)
    assert "q" in too_long.get_json()["error"]["fields"]
