"""In a real headless Chromium: search with Polish diacritics both ways (agent queue and client
portal), the ticket-number jump, views in the sidebar, and the queue using the screen's width
with each subject on one line. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM_ARGS, browser, csrf_on, live_server  # noqa: F401

pytestmark = pytest.mark.e2e

LONG = ("Żółw nie drukuje etykiet kurierskich od rana, a magazyn w Łodzi czeka na odbiór palet "
        "i nikt nie wie, co dalej z zamówieniami z Allegro")


def _log_in(browser, base: str, user, width: int = 1920):  # noqa: ANN001, F811
    page = browser.new_context(viewport={"width": width, "height": 1000}, locale="en-GB").new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(portal|agent)/"))
    return page


def test_search_with_polish_diacritics_in_the_browser(live_server, browser, world, make_ticket):  # noqa: F811
    from playwright.sync_api import expect

    from helpdesk.extensions import db
    from tickets.services import Actor, add_message

    ARTIFACTS.mkdir(exist_ok=True)
    turtle = make_ticket(world.acme_user, LONG, description="Zgłoszenie z magazynu.")
    plain = make_ticket(world.acme_user, "Zolw bez ogonkow", description="Lodz, bez polskich liter.")
    other = make_ticket(world.acme_colleague, "Drukarka", description="Nic wspolnego.")
    add_message(Actor(world.agent), other, body="Notatka: żółwie tempo dostawcy.", internal=True)
    db.session.commit()

    agent = _log_in(browser, live_server, world.agent)
    search = agent.get_by_role("searchbox", name="Search tickets")
    search.fill("zolw")
    search.press("Enter")
    agent.wait_for_url(re.compile(r"q=zolw"))
    rows = agent.locator("#queue tbody tr")
    expect(rows).to_have_count(2)
    expect(agent.locator("#queue")).to_contain_text("Zolw bez ogonkow")
    expect(agent.locator("#queue")).to_contain_text("Żółw nie drukuje")
    # the other way round: diacritics typed, plain text found
    search = agent.get_by_role("searchbox", name="Search tickets")
    search.fill("ŁÓDŹ")
    search.press("Enter")
    expect(agent.locator("#queue tbody tr")).to_have_count(1)
    expect(agent.locator("#queue")).to_contain_text("Zolw bez ogonkow")
    # staff find internal notes
    search = agent.get_by_role("searchbox", name="Search tickets")
    search.fill("żółwie")
    search.press("Enter")
    expect(agent.locator("#queue tbody tr")).to_have_count(1)
    expect(agent.locator("#queue")).to_contain_text("Drukarka")

    # the queue at 1,920 px: wider than the old 1,200 px cap, the long subject on one line, no
    # horizontal scrolling, the views with their counts beside it
    agent.goto(f"{live_server}/agent/queue?sort=newest")
    table = agent.locator("#queue").bounding_box()
    assert table["width"] > 1300, table
    subject = agent.locator("#queue td.subject a", has_text="Żółw nie drukuje")
    box = subject.bounding_box()
    assert box["height"] < 30, box  # one line
    assert subject.evaluate("e => e.scrollWidth > e.clientWidth")  # cut with an ellipsis
    assert agent.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(agent.locator(".views a[data-view=unassigned] .count")).to_have_text("3")
    agent.screenshot(path=str(ARTIFACTS / "agent-queue-1920.png"), full_page=True)

    # a ticket number jumps to the ticket
    search = agent.get_by_role("searchbox", name="Search tickets")
    search.fill(f"OP-{turtle.id}")
    search.press("Enter")
    agent.wait_for_url(re.compile(rf"/agent/tickets/{turtle.id}$"))
    agent.context.close()

    client = _log_in(browser, live_server, world.acme_user, width=1280)
    search = client.get_by_role("searchbox", name="Search tickets")
    search.fill("żółw")
    search.press("Enter")
    expect(client.locator("table tbody tr")).to_have_count(2)
    expect(client.locator("table")).to_contain_text("Zolw bez ogonkow")
    client.screenshot(path=str(ARTIFACTS / "portal-search-diacritics.png"), full_page=True)
    # an internal note's word finds nothing for the client; another person's ticket no jump
    search = client.get_by_role("searchbox", name="Search tickets")
    search.fill("żółwie")
    search.press("Enter")
    expect(client.get_by_text("No tickets match this search.")).to_be_visible()
    search = client.get_by_role("searchbox", name="Search tickets")
    search.fill(f"OP-{other.id}")
    search.press("Enter")
    expect(client.get_by_text("No tickets match this search.")).to_be_visible()
    search = client.get_by_role("searchbox", name="Search tickets")
    search.fill(f"OP-{plain.id}")
    search.press("Enter")
    client.wait_for_url(re.compile(rf"/portal/tickets/{plain.id}$"))
    client.context.close()
