"""In a real headless Chromium: a client answers our e-mail, and the agent sees the answer in the
ticket view (quote stripped), with the ticket marked "category to confirm" in the queue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_browser import ARTIFACTS, _log_in, browser, csrf_on, live_server  # noqa: F401 (fixtures)
from tests.inbound.support import mail, reply_to, sent_mail
from tickets import services
from tickets.inbound.receive import receive_message
from tickets.inbound.vocabulary import MailOutcome
from tickets.services import Actor

pytestmark = pytest.mark.e2e


def test_a_clients_mail_reply_appears_in_the_agents_ticket_view(live_server, browser, world, app):  # noqa: F811
    from playwright.sync_api import expect

    from helpdesk.extensions import db
    from tickets.models import Ticket

    ARTIFACTS.mkdir(exist_ok=True)
    filed = receive_message(mail(subject="Scanner drops every second page"))
    ticket = db.session.get(Ticket, filed.ticket_id)
    services.add_message(Actor(world.agent), ticket, body="Which scanner model is it?")
    ours = sent_mail(Path(app.config["MAIL_OUTBOX_DIR"]), "anna@acme.example")[-1]
    answer = reply_to(ours, sender="Anna <anna@acme.example>", body="It is the FS-2000 on the second floor.")
    assert receive_message(answer).outcome == MailOutcome.REPLY_ADDED
    db.session.commit()

    agent = _log_in(browser, live_server, world.agent)
    row = agent.locator("#queue tbody tr", has_text="Scanner drops every second page")
    expect(row).to_contain_text("category to confirm")
    row.get_by_role("link", name="Scanner drops every second page").click()
    agent.wait_for_url(re.compile(rf"/agent/tickets/{ticket.id}$"))
    expect(agent.get_by_text("It is the FS-2000 on the second floor.")).to_be_visible()
    expect(agent.get_by_text("Which scanner model is it?")).to_have_count(1)  # the quote was stripped
    agent.screenshot(path=str(ARTIFACTS / "agent-sees-mail-reply.png"), full_page=True)
