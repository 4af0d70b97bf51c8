"""In Chromium: the agent's triage loop (open from a queue view, apply a macro, send and set status,
land on the next ticket) with at most 2 data-changing requests per ticket, the keyboard, and bulk
assignment. No CSP violation on the way."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e import test_browser as browser_tests
from tests.e2e.test_browser import ARTIFACTS, _log_in, _watch_csp

pytestmark = pytest.mark.e2e

# The browser tests' fixtures (the app served from a thread with CSRF on, Debian's Chromium).
csrf_on, live_server, browser = browser_tests.csrf_on, browser_tests.live_server, browser_tests.browser


def _posts(page: Any) -> list[str]:
    """Every request that changes data (a POST), except the presence heartbeat (it records only
    that the page is open; at most one every 20 s)."""
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url)
            if request.method == "POST" and not request.url.endswith("/presence") else None)
    return posts


def test_the_triage_loop_takes_one_post_per_ticket(live_server, browser, world):
    from playwright.sync_api import expect

    from tickets.macros import save_macro
    from tickets.services import Actor, file_ticket

    tickets = [
        file_ticket(Actor(user), subject=subject, description="Please help.", category="question")
        for user, subject in ((world.acme_user, "First printer"), (world.globex_user, "Second printer"),
                              (world.acme_colleague, "Third printer"))
    ]
    file_ticket(Actor(world.acme_user), subject="Not in this view", description="x", category="question", priority="high")
    save_macro(world.manager, None, {
        "name": "Need logs", "body_en": "Hello {client_name}, please send the logs of {ticket_number}.",
        "body_pl": "Dzień dobry {client_name}, prosimy o logi {ticket_number}.",
        "set_status": "waiting_on_client", "set_assignee": "me", "set_priority": "",
    }, shared=True)

    ARTIFACTS.mkdir(exist_ok=True)
    page = _log_in(browser, live_server, world.agent)
    violations = _watch_csp(page)
    posts = _posts(page)
    view = "sort=newest&priority=normal"
    page.goto(f"{live_server}/agent/queue?{view}")
    expect(page.locator("#queue tbody tr")).to_have_count(3)
    # The keyboard: ? shows the list, j chooses the first row, Enter opens it.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_have_attribute("open", "")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expected = [t.id for t in reversed(tickets)]  # newest first
    for number, ticket_id in enumerate(expected):
        page.wait_for_url(re.compile(rf"/agent/tickets/{ticket_id}\?"))
        assert page.url.endswith(f"?{view}")
        before = len(posts)
        page.locator("#macro-choice").select_option(label="Need logs (shared)")
        page.get_by_role("button", name="Insert").click()
        body = page.get_by_label("Reply", exact=True)
        expect(body).to_have_value(re.compile(rf"please send the logs of OP-{ticket_id}\.$"))
        expect(page.locator("#set_status")).to_have_value("waiting_on_client")
        expect(page.locator("#set_assignee")).to_have_value(str(world.agent.id))
        body.fill(body.input_value() + " Thank you!")  # edited before sending
        if number == 0:
            page.screenshot(path=str(ARTIFACTS / "agent-triage-macro.png"), full_page=True)
        page.get_by_role("button", name="Send and next ticket").click()
        page.wait_for_load_state("load")
        assert len(posts) - before <= 2, posts[before:]
        assert len(posts) - before == 1
    page.wait_for_url(re.compile(r"/agent/queue\?"))
    expect(page.get_by_role("status").first).to_contain_text("Reply sent.")
    assert page.url.endswith(f"?{view}")
    assert violations == [], violations
    page.context.close()

    from helpdesk.extensions import db
    from tickets.macros import Macro
    from tickets.models import Ticket

    db.session.expire_all()
    for ticket in tickets:
        fresh = db.session.get(Ticket, ticket.id)
        assert (fresh.status, fresh.assignee_id) == ("waiting_on_client", world.agent.id)
    assert db.session.query(Macro).one().usage_count == 3


def test_bulk_assignment_in_the_browser(live_server, browser, world):
    from playwright.sync_api import expect

    from tickets.services import Actor, change_status, file_ticket

    a = file_ticket(Actor(world.acme_user), subject="Alpha", description="x", category="question")
    b = file_ticket(Actor(world.globex_user), subject="Beta", description="x", category="question")
    c = file_ticket(Actor(world.acme_colleague), subject="Gamma", description="x", category="question")
    change_status(Actor(world.agent), c, "closed")

    page = _log_in(browser, live_server, world.agent)
    violations = _watch_csp(page)
    posts = _posts(page)
    page.goto(f"{live_server}/agent/queue?sort=newest&status=all")
    page.get_by_label(f"Select {a.number}").check()
    page.keyboard.press("j")  # the first row (Gamma), ticked with x
    page.keyboard.press("x")
    expect(page.get_by_label(f"Select {c.number}")).to_be_checked()
    page.locator("#bulk-assignee").select_option(label="Artur Agent")
    page.locator("#bulk-status").select_option("waiting_on_client")
    page.get_by_role("button", name="Apply to selected").click()
    page.wait_for_url(re.compile(r"/agent/queue\?sort=newest&status=all$"))
    expect(page.get_by_text("Tickets changed: 1.")).to_be_visible()
    expect(page.get_by_text(f"Not changed: {c.number}. A ticket cannot go from Closed to Waiting on client.")).to_be_visible()
    row = page.locator("#queue tbody tr", has_text="Alpha")
    expect(row).to_contain_text("Artur Agent")
    expect(row).to_contain_text("Waiting on client")
    expect(page.locator("#queue tbody tr", has_text="Beta")).not_to_contain_text("Artur Agent")
    page.screenshot(path=str(ARTIFACTS / "agent-bulk-assign.png"), full_page=True)
    assert len(posts) == 1
    assert violations == [], violations
    page.context.close()
    assert b.id
