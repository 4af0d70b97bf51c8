"""In a real headless Chromium: a client answers our notification by e-mail, the message goes
through a real Dovecot and the poller, and the agent sees the reply in the ticket view.

Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import ARTIFACTS, _log_in, browser, csrf_on, live_server  # noqa: F401
from tests.inbound.support import reply_to, sent_mail

pytestmark = pytest.mark.e2e


def test_a_clients_email_reply_appears_in_the_agents_ticket_view(live_server, browser, world, make_ticket,  # noqa: F811
                                                                 mailbox, app, tmp_path):
    from playwright.sync_api import expect

    from helpdesk.extensions import db

    ticket = make_ticket(world.acme_user, subject="Courier labels come out blank")
    db.session.commit()
    ARTIFACTS.mkdir(exist_ok=True)
    agent = _log_in(browser, live_server, world.agent)
    agent.goto(f"{live_server}/agent/tickets/{ticket.id}")
    agent.get_by_label("Reply", exact=True).fill("Could you send us what the label looks like?")
    agent.get_by_role("button", name="Send", exact=True).click()
    expect(agent.get_by_role("status")).to_contain_text("Reply sent.")

    # Anna answers the notification in her mail client; it lands in the support mailbox.
    notices = [m for m in sent_mail(tmp_path / "outbox", "anna@acme.example")
               if "Could you send us" in m.get_body(("plain",)).get_content()]
    assert notices, "the agent's reply should have been e-mailed to the client"
    mailbox.deliver(reply_to(notices[-1], sender="anna@acme.example",
                             body="All white, not even the barcode. Station 2 only."))
    result = app.test_cli_runner().invoke(args=["mail", "poll", "--url", mailbox.url()])
    assert result.exit_code == 0 and "reply_added 1" in result.output, result.output

    agent.reload()
    expect(agent.get_by_text("All white, not even the barcode. Station 2 only.")).to_be_visible()
    thread = agent.locator("main").inner_text()
    assert thread.count("Could you send us what the label looks like?") == 1  # the quote was stripped
    agent.screenshot(path=str(ARTIFACTS / "agent-sees-email-reply.png"), full_page=True)
    agent.context.close()
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 1
