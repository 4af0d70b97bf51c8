"""The ticket page's kept HTML (helpdesk/select_widgets.py, helpdesk/markup.py) is never stale:
a change of the staff list, of a name, of the reader's language, of the ticket's values or of
its thread shows on the next page."""

from __future__ import annotations

import re

from tests.samples import text_of


def _select(html: str, select_id: str) -> str:
    found = re.search(rf'<select[^>]* id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert found, select_id
    return found.group(1)


def test_the_assignee_lists_follow_the_staff_list(app, web, world, login, make_ticket):
    from helpdesk.accounts import create_user, update_preferences, update_user

    ticket = make_ticket(world.acme_user)
    login(world.agent)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    for select_id in ("assignee", "set_assignee"):
        assert "Artur Agent" in _select(page, select_id) and "Zofia" not in _select(page, select_id)

    zofia = create_user(email="zofia@vendor.example", password="a long password 123", role="agent", name="Zofia Nowa")
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    for select_id in ("assignee", "set_assignee"):
        assert f'value="{zofia.id}">Zofia Nowa</option>' in _select(page, select_id)

    update_preferences(world.agent2, name="Artur Renamed", language=None, timezone="Europe/Warsaw")
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    for select_id in ("assignee", "set_assignee"):
        assert "Artur Renamed" in _select(page, select_id) and "Artur Agent" not in _select(page, select_id)

    update_user(zofia, name="Zofia Nowa", role="agent", client=None, client_admin=False, active=False)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    for select_id in ("assignee", "set_assignee"):
        assert "Zofia" not in _select(page, select_id)


def test_the_selects_follow_the_tickets_values_and_the_readers_language(app, web, world, login, make_ticket):
    from helpdesk.accounts import update_preferences
    from tickets import services

    ticket = make_ticket(world.acme_user)
    login(world.agent)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert '<option selected value="new">New</option>' in _select(page, "status")
    assert '<option selected value="">Nobody</option>' in _select(page, "assignee")

    services.change_status(services.Actor(world.agent), ticket, "waiting_on_client")
    services.assign(services.Actor(world.agent), ticket, world.agent2.id)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert '<option selected value="waiting_on_client">Waiting on client</option>' in _select(page, "status")
    assert f'<option selected value="{world.agent2.id}">Artur Agent</option>' in _select(page, "assignee")
    assert '<option value="">Keep</option>' in _select(page, "set_status")

    update_preferences(world.agent, name=world.agent.name, language="pl", timezone="Europe/Warsaw")
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert '<option selected value="waiting_on_client">Oczekuje na klienta</option>' in _select(page, "status")
    assert '<option value="">Bez zmian</option>' in _select(page, "set_status")
    assert "Waiting on client" not in page


def test_the_thread_shows_each_messages_own_text(app, web, world, login, make_ticket):
    from tickets import services

    ticket = make_ticket(world.acme_user, description="First **words**")
    other = make_ticket(world.globex_user, description="Other company's **secret**")
    login(world.agent)
    services.add_message(services.Actor(world.agent), ticket, body="A reply with *emphasis*")
    for _ in range(2):  # the second time from the kept HTML
        page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
        assert "First <strong>words</strong>" in page and "A reply with <em>emphasis</em>" in page
        assert "secret" not in page
    services.add_message(services.Actor(world.agent), ticket, body="A reply with *emphasis* again")
    page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
    assert "A reply with <em>emphasis</em> again" in page and "A reply with <em>emphasis</em></p>" in page
    assert "<strong>secret</strong>" in text_of(web.get(f"/agent/tickets/{other.id}"))
