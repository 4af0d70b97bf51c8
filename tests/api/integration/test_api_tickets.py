"""Ticket endpoints: the same services and permissions as the web, the token's name in the history."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.api.support import error_of

NEW = {"subject": "Labels print blank", "description": "Since 9:00 every label is blank.", "category": "bug"}


def _events(ticket_id: int) -> list:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    return list(db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


def test_a_client_files_a_ticket_and_gets_it_back_whole(app, world, api, tokens):
    response = api.post("/api/v1/tickets", tokens.acme_user, json={**NEW, "priority": "urgent"})
    assert response.status_code == 201
    ticket = response.get_json()
    assert ticket["number"] == f"OP-{ticket['id']}"
    assert (ticket["subject"], ticket["status"], ticket["category"], ticket["priority"]) == (
        "Labels print blank", "new", "bug", "urgent",
    )
    assert ticket["client"] == "acme"
    assert ticket["requester"] == {"id": world.acme_user.id, "name": "Anna", "email": "anna@acme.example"}
    assert ticket["assignee"] is None
    assert datetime.fromisoformat(ticket["created_at"]).utcoffset() == timedelta(0)
    # A bug is covered by the bug-fix guarantee, and its clocks run on the default policy.
    assert ticket["coverage"] == {
        "source": "bug_fix", "covered": True, "approval": None, "reason": "Bug fixes are always free",
    }
    from helpdesk.extensions import db
    from tickets.models import Ticket

    stored = db.session.get(Ticket, ticket["id"])
    assert stored.first_response_due_at is not None
    assert ticket["sla"] == {
        "first_response_due": stored.first_response_due_at.isoformat(),
        "resolution_due": stored.resolution_due_at.isoformat(),
        "paused": False,
        "breached": False,
    }
    assert datetime.fromisoformat(ticket["sla"]["resolution_due"]).utcoffset() == timedelta(0)
    assert api.get(f"/api/v1/tickets/{ticket['id']}", tokens.acme_user).get_json() == ticket


def test_priority_defaults_to_normal_and_the_text_is_stored_trimmed(app, world, api, tokens):
    response = api.post("/api/v1/tickets", tokens.acme_user, json={**NEW, "subject": "  Padded  "})
    assert response.status_code == 201
    assert response.get_json()["priority"] == "normal"
    assert response.get_json()["subject"] == "Padded"


def test_staff_cannot_file_tickets_as_clients_do(app, world, api, tokens):
    response = api.post("/api/v1/tickets", tokens.agent, json=NEW)
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"


def test_the_history_names_the_token(app, world, api, tokens, make_token):
    from tickets.services import Actor, add_message

    erp = make_token(world.acme_user, "ACME ERP")
    ticket_id = api.post("/api/v1/tickets", erp, json=NEW).get_json()["id"]
    triage = make_token(world.agent, "Triage bot")
    assert api.patch(f"/api/v1/tickets/{ticket_id}", triage, json={"priority": "high"}).status_code == 200

    events = _events(ticket_id)
    assert [(e.kind, e.via, e.actor_id) for e in events] == [
        ("created", "api: ACME ERP", world.acme_user.id),
        ("priority_changed", "api: Triage bot", world.agent.id),
        ("sla_recomputed", "api: Triage bot", world.agent.id),  # the new priority's due times
    ]
    # Web actions land in the same history, and the agent's page shows the token's name.
    from tickets.access import get_ticket

    add_message(Actor(world.agent), get_ticket(world.agent, ticket_id), body="On it.")
    assert _events(ticket_id)[-2].via == "web"
    from tests.conftest import PASSWORD

    web = app.test_client()
    with app.app_context():
        web.post("/login", data={"email": world.agent.email, "password": PASSWORD})
        page = web.get(f"/agent/tickets/{ticket_id}").get_data(as_text=True)
    assert "api: Triage bot" in page and "api: ACME ERP" in page


def test_listing_follows_the_web_s_visibility(app, world, api, tokens, file_ticket):
    own = file_ticket(world.acme_user, "Anna's")
    colleague = file_ticket(world.acme_colleague, "Bob's")
    other = file_ticket(world.globex_user, "Gina's")

    def ids(token, query=""):
        response = api.get(f"/api/v1/tickets{query}", token)
        assert response.status_code == 200
        return [t["id"] for t in response.get_json()["items"]]

    assert ids(tokens.acme_user) == [own.id]
    assert ids(tokens.acme_admin) == [colleague.id, own.id]
    assert ids(tokens.globex_user) == [other.id]
    assert ids(tokens.agent) == [other.id, colleague.id, own.id]
    # Filtering by another company gives a client nothing, not that company's tickets.
    assert ids(tokens.acme_admin, "?client=globex") == []
    assert ids(tokens.agent, "?client=globex") == [other.id]


def test_filters_and_keyset_pages(app, world, api, tokens, file_ticket):
    from tickets.services import Actor, assign, change_status

    made = [file_ticket(world.acme_user, f"T{i}", category=("bug" if i % 2 else "question")) for i in range(7)]
    change_status(Actor(world.agent), made[0], "closed")
    assign(Actor(world.agent), made[1], world.agent.id)

    def ids(query):
        response = api.get(f"/api/v1/tickets{query}", tokens.agent)
        assert response.status_code == 200, response.get_json()
        return [t["id"] for t in response.get_json()["items"]]

    all_ids = [t.id for t in reversed(made)]
    assert ids("") == all_ids  # every status by default, newest first
    assert ids("?status=closed") == [made[0].id]
    assert made[0].id not in ids("?status=new,open")
    assert ids("?category=bug") == [t.id for t in reversed(made) if t.category == "bug"]
    assert ids("?assignee=me") == [made[1].id]
    assert ids(f"?assignee={world.agent.id}") == [made[1].id]
    assert made[1].id not in ids("?assignee=none")
    assert ids("?priority=urgent") == []

    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/api/v1/tickets{query}", tokens.agent).get_json()
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == all_ids and pages == 3


def test_breaching_within_minutes_filters_on_the_due_instants(app, world, api, tokens, file_ticket):
    from datetime import timedelta

    from helpdesk.clock import utcnow
    from helpdesk.extensions import db

    soon, later, overdue = (file_ticket(world.acme_user) for _ in range(3))
    now = utcnow()
    soon.next_deadline_at = now + timedelta(minutes=30)
    later.next_deadline_at = now + timedelta(hours=5)
    overdue.next_deadline_at = now - timedelta(minutes=1)  # breached already: not "breaching within"
    db.session.commit()
    response = api.get("/api/v1/tickets?breaching_within_minutes=60", tokens.agent)
    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()["items"]] == [soon.id]
    response = api.get("/api/v1/tickets?breaching_within_minutes=600", tokens.agent)
    assert sorted(item["id"] for item in response.get_json()["items"]) == sorted([soon.id, later.id])
    for bad in ("0", "100001", "-5", "soon", "1.5"):
        response = api.get(f"/api/v1/tickets?breaching_within_minutes={bad}", tokens.agent)
        assert response.status_code == 422
        assert "breaching_within_minutes" in error_of(response)["fields"]


def test_an_agent_changes_a_ticket_in_one_request(app, world, api, tokens, file_ticket):
    ticket = file_ticket(world.acme_user)
    response = api.patch(
        f"/api/v1/tickets/{ticket.id}",
        tokens.agent,
        json={"status": "open", "priority": "high", "category": "bug", "reason": "It is a crash", "assignee": world.agent2.email},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["priority"], body["category"]) == ("open", "high", "bug")
    assert body["assignee"]["id"] == world.agent2.id
    kinds = {e.kind: e for e in _events(ticket.id)}
    assert kinds["category_changed"].data["reason"] == "It is a crash"
    assert api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"assignee": None}).get_json()["assignee"] is None
    assert api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"assignee": world.agent.id}).status_code == 200
    assert api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={}).status_code == 200


def test_a_refused_patch_changes_nothing(app, world, api, tokens, file_ticket):
    from helpdesk.extensions import db

    ticket = file_ticket(world.acme_user, priority="low")
    api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"status": "closed"})
    before = len(_events(ticket.id))
    response = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"priority": "urgent", "status": "resolved"})
    assert response.status_code == 409 and error_of(response)["code"] == "conflict"
    assert "status" in error_of(response)["fields"]
    db.session.refresh(ticket)
    assert (ticket.priority, ticket.status) == ("low", "closed")
    assert len(_events(ticket.id)) == before

    for assignee in (world.acme_user.id, "nobody@example.com", 2**31 - 1):
        response = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"priority": "urgent", "assignee": assignee})
        assert response.status_code == 422 and "assignee" in error_of(response)["fields"]
    db.session.refresh(ticket)
    assert ticket.priority == "low"


def test_clients_may_not_patch_agent_fields(app, world, api, tokens, file_ticket):
    ticket = file_ticket(world.acme_user)
    # closing alone is the client's (tests/tickets/integration/test_client_close.py)
    for body in ({"status": "open"}, {"status": "closed", "priority": "low"}, {"priority": "urgent"},
                 {"category": "bug"}, {"assignee": None}, {}):
        response = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.acme_admin, json=body)
        assert response.status_code == 403, body
    # An unknown e-mail tells a client nothing about which addresses exist: still 403.
    response = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.acme_user, json={"assignee": "x@example.com"})
    assert response.status_code == 403


def test_replies_notes_and_the_thread(app, world, api, tokens, file_ticket):
    ticket = file_ticket(world.acme_user)
    response = api.post(f"/api/v1/tickets/{ticket.id}/replies", tokens.agent, json={"body": "Looking into it."})
    assert response.status_code == 201 and response.get_json()["status"] == "open"  # first staff reply opens
    assert api.post(
        f"/api/v1/tickets/{ticket.id}/replies", tokens.agent, json={"body": "Customer is on v2", "internal": True}
    ).status_code == 201
    response = api.post(f"/api/v1/tickets/{ticket.id}/replies", tokens.acme_user, json={"body": "Thanks!"})
    assert response.status_code == 201

    staff_view = api.get(f"/api/v1/tickets/{ticket.id}/replies", tokens.agent).get_json()["items"]
    assert [(m["body"], m["internal"], m["via"]) for m in staff_view] == [
        ("Looking into it.", False, "api"), ("Customer is on v2", True, "api"), ("Thanks!", False, "api"),
    ]
    client_view = api.get(f"/api/v1/tickets/{ticket.id}/replies", tokens.acme_user).get_json()["items"]
    assert [m["body"] for m in client_view] == ["Looking into it.", "Thanks!"]

    response = api.post(f"/api/v1/tickets/{ticket.id}/replies", tokens.acme_user, json={"body": "x", "internal": True})
    assert response.status_code == 403


def test_a_client_reply_to_a_closed_ticket_files_a_linked_ticket(app, world, api, tokens, file_ticket):
    ticket = file_ticket(world.acme_user)
    api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"status": "closed"})
    response = api.post(f"/api/v1/tickets/{ticket.id}/replies", tokens.acme_user, json={"body": "Again?"})
    assert response.status_code == 201 and response.get_json()["id"] != ticket.id
    assert response.get_json()["subject"] == f"Follow-up to OP-{ticket.id}: {ticket.subject}"
