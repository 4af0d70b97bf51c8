"""In Chromium at 390 px (a phone): no page scrolls sideways, the header menu folds behind "Menu"
(a <details>, no script) and tables stack; screenshots of the agent queue at 1,920 and 390 px."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.e2e.test_browser import ARTIFACTS, browser, csrf_on, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1920, "height": 1080}
LONG_WORD = "Zażółć-gęślą-jaźń-" * 8  # one unbroken 144-character "word"


def _context(browser: Any, viewport: dict[str, int]) -> Any:  # noqa: F811
    context = browser.new_context(viewport=viewport, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _log_in(page: Any, base: str, user: Any) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(portal|agent|manager|admin)/"))


def _overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _check(page: Any, base: str, paths: list[str]) -> list[str]:
    wide = []
    for path in paths:
        response = page.goto(base + path)
        assert response.status == 200, (path, response.status)
        if _overflow(page) > 0:
            wide.append(f"{path}: {_overflow(page)} px too wide")
    return wide


@pytest.fixture
def tickets(world: Any, make_ticket: Any) -> dict[str, Any]:
    from tickets import services

    ticket = make_ticket(world.acme_admin, f"Labels print blank {LONG_WORD}", category="bug", priority="high",
                         description=f"Since 8:00 every label is blank.\n\n{LONG_WORD}")
    services.add_message(services.Actor(world.agent), ticket, body=f"Looking into it. {LONG_WORD}")
    services.add_message(services.Actor(world.agent), ticket, body="@agent2 please check the driver", internal=True)
    services.assign(services.Actor(world.manager), ticket, world.agent.id)
    for n in range(8):
        make_ticket(world.globex_user, f"Another ticket number {n} with a subject of some length")
    return {"ticket": ticket}


def test_every_client_page_and_the_main_agent_pages_fit_390_px(live_server, browser, world, tickets):  # noqa: F811
    base, ticket_id = live_server, tickets["ticket"].id
    page = _context(browser, PHONE)
    assert _check(page, base, ["/login", "/password/forgot"]) == []
    _log_in(page, base, world.acme_admin)
    # The menu is folded: its links are hidden until "Menu" is opened, and work without a script.
    my_tickets = page.get_by_role("link", name="My tickets")
    assert not my_tickets.is_visible()
    page.locator("header summary").click()
    assert my_tickets.is_visible()
    client_pages = ["/portal/", "/portal/tickets/new", f"/portal/tickets/{ticket_id}", "/portal/usage",
                    "/portal/onboarding/", "/preferences", "/preferences/tokens/"]
    assert _check(page, base, client_pages) == []
    page.goto(f"{base}/portal/")
    page.screenshot(path=str(ARTIFACTS / "layout-client-tickets-390.png"), full_page=True)
    page.context.close()

    page = _context(browser, PHONE)
    _log_in(page, base, world.agent)
    agent_pages = ["/agent/queue", "/agent/queue?status=all&sort=newest", f"/agent/tickets/{ticket_id}",
                   "/agent/notifications/", "/agent/duty/", "/onboarding/", "/preferences"]
    assert _check(page, base, agent_pages) == []
    page.goto(f"{base}/agent/tickets/{ticket_id}")
    page.screenshot(path=str(ARTIFACTS / "layout-agent-ticket-390.png"), full_page=True)
    page.context.close()

    page = _context(browser, PHONE)
    _log_in(page, base, world.admin)
    assert _check(page, base, ["/manager/", "/admin/", "/admin/assignment/", "/admin/assignment/new"]) == []
    page.context.close()


def test_queue_screenshots_at_1920_and_390_px_and_the_wide_menu_is_open(live_server, browser, world, tickets):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server
    for viewport, name in ((WIDE, "agent-queue-1920.png"), (PHONE, "agent-queue-390.png")):
        page = _context(browser, viewport)
        _log_in(page, base, world.agent)
        page.goto(f"{base}/agent/queue?status=all&sort=newest")
        queue_link = page.get_by_role("link", name="Queue", exact=True)
        assert queue_link.is_visible() == (viewport is WIDE)  # wide: the menu is open, no "Menu" button
        assert page.locator("header summary").is_visible() == (viewport is PHONE)
        assert _overflow(page) <= 0
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        page.context.close()
