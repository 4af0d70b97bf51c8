"""Macros: personal and shared, placeholders checked when saved and rendered per ticket in the
requester's language, actions pre-set in the reply form (also without JavaScript: ?macro=ID),
applied by the one send, which counts the use."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.samples import text_of


def _macro(name: str) -> Any:
    from sqlalchemy import select

    from helpdesk.extensions import db
    from tickets.macros import Macro

    return db.session.scalar(select(Macro).where(Macro.name == name).execution_options(populate_existing=True))


def _ticket(ticket_id: int) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket_id, populate_existing=True)


MACRO = {
    "name": "Need logs", "set_status": "waiting_on_client", "set_assignee": "me", "set_priority": "high",
    "set_category": "",
    "body_en": "Hello {client_name}, about {ticket_number} (due {due_at}, {coverage}): please send the logs. {{braces}}",
    "body_pl": "Dzień dobry {client_name}, w sprawie {ticket_number}: prosimy o logi.",
}


def test_an_agent_keeps_a_personal_macro_and_unknown_placeholders_are_refused(web, world, login):
    login(world.agent)
    response = web.post("/agent/macros/new", data=dict(MACRO, body_en="Dear {name} and {client_name.__class__}"))
    assert response.status_code == 422
    page = html.unescape(text_of(response))
    assert "Unknown placeholder {name}, {client_name.__class__}; use {client_name}, {ticket_number}, {due_at}, {coverage}" in page
    assert "Dear {name} and {client_name.__class__}" in page  # what was typed is kept
    assert _macro("Need logs") is None
    assert web.post("/agent/macros/new", data=dict(MACRO, name="")).status_code == 422
    assert web.post("/agent/macros/new", data=dict(MACRO, body_en="", body_pl="")).status_code == 422

    assert web.post("/agent/macros/new", data=MACRO).status_code == 302
    macro = _macro("Need logs")
    assert (macro.owner_id, macro.usage_count, macro.set_assignee) == (world.agent.id, 0, "me")
    assert "Need logs" in text_of(web.get("/agent/macros"))
    response = web.post(f"/agent/macros/{macro.id}", data=dict(MACRO, name="Need logs now"))
    assert response.status_code == 302 and _macro("Need logs now").id == macro.id

    # Another agent neither sees nor uses it.
    login(world.agent2)
    assert "Need logs" not in text_of(web.get("/agent/macros"))
    assert web.get(f"/agent/macros/{macro.id}").status_code == 404
    assert web.post(f"/agent/macros/{macro.id}/delete").status_code == 404
    login(world.agent)
    assert web.post(f"/agent/macros/{macro.id}/delete").status_code == 302
    assert _macro("Need logs now") is None


def test_shared_macros_are_kept_by_managers(web, world, login):
    login(world.agent)
    assert web.post("/agent/macros/new", data=dict(MACRO, shared="y")).status_code == 403
    assert _macro("Need logs") is None
    login(world.manager)
    assert web.post("/agent/macros/new", data=dict(MACRO, shared="y")).status_code == 302
    macro = _macro("Need logs")
    assert macro.owner_id is None
    login(world.agent)
    assert "Need logs" in text_of(web.get("/agent/macros"))
    page = text_of(web.get(f"/agent/macros/{macro.id}"))
    assert "managers and admins change it" in page and ">Save<" not in page
    assert web.post(f"/agent/macros/{macro.id}", data=dict(MACRO, name="Hijacked")).status_code == 403
    assert web.post(f"/agent/macros/{macro.id}/delete").status_code == 403
    assert _macro("Need logs") is not None


def test_without_javascript_the_macro_fills_the_reply_form(web, world, login, make_ticket):
    from helpdesk.extensions import db

    world.acme_user.language = "pl"
    db.session.commit()
    ticket = make_ticket(world.acme_user)
    other = make_ticket(world.globex_user)
    login(world.agent)
    web.post("/agent/macros/new", data=MACRO)
    macro = _macro("Need logs")
    page = html.unescape(text_of(web.get(f"/agent/tickets/{ticket.id}?macro={macro.id}&sort=newest")))
    assert f"Dzień dobry ACME Logistics, w sprawie {ticket.number}: prosimy o logi.</textarea>" in page
    assert '<option selected value="waiting_on_client">' in page.split('name="set_status"')[1].split("</select>")[0]
    assert f'<option selected value="{world.agent.id}">' in page.split('name="set_assignee"')[1].split("</select>")[0]
    assert '<option selected value="high">' in page.split('name="set_priority"')[1].split("</select>")[0]
    assert f'name="macro" type="hidden" value="{macro.id}"' in page
    # In English for an English-speaking requester, with every placeholder filled.
    page = html.unescape(text_of(web.get(f"/agent/tickets/{other.id}?macro={macro.id}")))
    body = re.search(r'<textarea[^>]*name="body"[^>]*>\r?\n?([^<]*)</textarea>', page).group(1)
    assert body.startswith(f"Hello Globex Trading, about {other.number} (due ")
    assert body.endswith("please send the logs. {braces}") and "{" not in body.replace("{braces}", "")
    # The picker's script asks the same as JSON.
    answer = web.get(f"/agent/tickets/{other.id}/macro/{macro.id}").get_json()
    assert answer["body"] == body
    assert answer["fields"] == {"set_status": "waiting_on_client", "set_assignee": str(world.agent.id), "set_priority": "high"}
    assert web.get(f"/agent/tickets/{other.id}?macro=999999").status_code == 404
    assert web.get(f"/agent/tickets/{other.id}?macro=abc").status_code == 404


def test_sending_applies_the_macro_and_counts_the_use(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    web.post("/agent/macros/new", data=MACRO)
    macro = _macro("Need logs")
    page = html.unescape(text_of(web.get(f"/agent/tickets/{ticket.id}?macro={macro.id}")))
    body = re.search(r'<textarea[^>]*name="body"[^>]*>\r?\n?([^<]*)</textarea>', page).group(1)
    seen = re.search(r'name="seen_event" type="hidden" value="(\d+)"', page).group(1)
    response = web.post(f"/agent/tickets/{ticket.id}/reply", data={
        "body": body + " Edited before sending.", "macro": str(macro.id), "seen_event": seen,
        "set_status": "waiting_on_client", "set_assignee": str(world.agent.id), "set_priority": "high",
    })
    assert response.status_code == 302
    fresh = _ticket(ticket.id)
    assert (fresh.status, fresh.assignee_id, fresh.priority) == ("waiting_on_client", world.agent.id, "high")
    assert _macro("Need logs").usage_count == 1
    assert '<td class="num">1</td>' in text_of(web.get("/agent/macros"))
    # A refused send counts nothing.
    web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "", "macro": str(macro.id)})
    assert _macro("Need logs").usage_count == 1


def test_the_demo_data_has_shared_macros_once(app):
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from tickets.macros import Macro

    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["demo", "seed"])
        assert result.exit_code == 0, result.output
    names = list(db.session.scalars(select(Macro.name).where(Macro.owner_id.is_(None)).order_by(Macro.name)))
    assert names == ["Ask for logs", "Fixed, please check"]
    assert db.session.scalar(select(func.count()).select_from(Macro)) == 2
