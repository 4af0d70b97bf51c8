"""Followers: a client adds colleagues of the same company; followers see the ticket (a plain client
user otherwise sees only their own) and get its notices; another company's user is never added."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.samples import text_of


def _mails(app: Any) -> list[Any]:
    folder = Path(app.config["MAIL_OUTBOX_DIR"])
    parse = BytesParser(policy=policy.default).parsebytes
    return [parse(p.read_bytes()) for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def _to(app: Any, subject_part: str) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in _mails(app) if subject_part in m["Subject"])


def test_a_follower_sees_the_ticket_and_gets_its_notices(app, web, world, login, make_ticket):
    from helpdesk.extensions import db
    from tickets import services
    from tickets.models import TicketEvent, TicketFollower

    ticket = make_ticket(world.acme_user, subject="Courier labels")
    login(world.acme_colleague)
    assert web.get(f"/portal/tickets/{ticket.id}").status_code == 404  # not theirs, not followed
    assert "Courier labels" not in text_of(web.get("/portal/"))

    login(world.acme_user)
    page = text_of(web.get(f"/portal/tickets/{ticket.id}"))
    assert f'<option value="{world.acme_colleague.id}">Bob</option>' in page
    assert "gina@globex.example" not in page  # only the company's colleagues are offered
    response = web.post(f"/portal/tickets/{ticket.id}/followers", data={"user": world.acme_colleague.id})
    assert response.status_code == 302
    assert [(f.user_id, f.added_by_id) for f in db.session.scalars(select(TicketFollower))] == [
        (world.acme_colleague.id, world.acme_user.id)]
    kinds = [e.kind for e in db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert "follower_added" in kinds

    login(world.acme_colleague)
    page = text_of(web.get(f"/portal/tickets/{ticket.id}"))
    assert "Courier labels" in page
    assert "Courier labels" in text_of(web.get("/portal/"))

    services.add_message(services.Actor(world.agent), ticket, body="We are on it.")
    assert _to(app, "New reply to your ticket") == ["anna@acme.example", "bob@acme.example"]
    services.change_status(services.Actor(world.agent), ticket, "resolved")
    resolved = [m for m in _mails(app) if "is resolved" in m["Subject"]]
    by_address = {m["To"].addresses[0].addr_spec: m.get_body(("plain",)).get_content() for m in resolved}
    assert sorted(by_address) == ["anna@acme.example", "bob@acme.example"]
    assert "/rate/" in by_address["anna@acme.example"]  # only the requester may rate
    assert "/rate/" not in by_address["bob@acme.example"]

    # the follower stops following: the ticket is gone for them
    web.post(f"/portal/tickets/{ticket.id}/followers", data={"user": world.acme_colleague.id, "remove": "1"})
    assert web.get(f"/portal/tickets/{ticket.id}").status_code == 404


def test_another_companys_user_is_never_added(app, web, world, login, make_ticket, api, tokens):
    from helpdesk.extensions import db
    from tickets.models import TicketFollower

    ticket = make_ticket(world.acme_user)
    login(world.acme_user)
    for outsider in (world.globex_user.id, world.globex_admin.id, world.agent.id, 2**31 - 1, "x", ""):
        response = web.post(f"/portal/tickets/{ticket.id}/followers", data={"user": outsider})
        assert response.status_code == 302  # the page again, with the refusal flashed
        assert "Choose an active colleague of the ticket&#39;s company." in text_of(web.get(f"/portal/tickets/{ticket.id}"))
        api_response = api.post(f"/api/v1/tickets/{ticket.id}/followers", tokens.acme_user,
                                json={"user": outsider if isinstance(outsider, int) else 0})
        assert api_response.status_code == 422
    # another company's people cannot add anyone to A's ticket: it does not exist for them
    login(world.globex_admin)
    assert web.post(f"/portal/tickets/{ticket.id}/followers", data={"user": world.globex_user.id}).status_code == 404
    assert api.post(f"/api/v1/tickets/{ticket.id}/followers", tokens.globex_admin,
                    json={"user": world.globex_user.id}).status_code == 404
    assert list(db.session.scalars(select(TicketFollower))) == []


def test_staff_add_followers_over_the_api(app, world, make_ticket, api, tokens):
    ticket = make_ticket(world.acme_user)
    response = api.post(f"/api/v1/tickets/{ticket.id}/followers", tokens.agent, json={"user": world.acme_colleague.id})
    assert response.status_code == 201
    assert [u["id"] for u in response.get_json()["items"]] == [world.acme_colleague.id]
    assert api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_colleague).status_code == 200
    assert api.get(f"/api/v1/tickets/{ticket.id}", tokens.globex_user).status_code == 404
