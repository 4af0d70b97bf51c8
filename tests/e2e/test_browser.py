"""In a real headless Chromium: a client files a ticket through the form, an agent sees it in the queue.

The app runs in a background thread on a free port, with CSRF on, against the test database.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, ROOT
from tests.samples import png_bytes

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def csrf_on(app_config: dict[str, Any]) -> None:
    app_config["WTF_CSRF_ENABLED"] = True  # as in production: the browser must send the tokens


@pytest.fixture
def live_server(csrf_on: None, app: Any) -> Iterator[str]:
    """The app served over HTTP from a thread; each request gets its own app context and session."""
    from helpdesk.extensions import db

    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.session.remove()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _log_in(browser: Any, base: str, user: Any) -> Any:
    """A new browser context (its own cookies) with `user` logged in through the form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(portal|agent|manager|admin)/"))
    return page


def test_client_files_a_ticket_and_the_agent_sees_it_in_the_queue(live_server, browser, world):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    client = _log_in(browser, live_server, world.acme_user)
    expect(client.get_by_role("heading", name="My tickets")).to_be_visible()
    client.get_by_role("link", name="File a new ticket").click()
    expect(client.get_by_role("heading", name="File a new ticket")).to_be_visible()
    client.get_by_label("Subject").fill("Courier labels come out blank")
    expect(client.get_by_text("The product misbehaves")).to_be_visible()  # each category explained
    client.get_by_role("radio", name=re.compile(r"\bBug\b")).check()
    client.get_by_label("Priority").select_option("high")
    client.get_by_label("Description").fill(
        "Since 8:00 every label from **station 2** is blank.\n\nThe courier comes at 15:00."
    )
    client.locator("input[name=attachments]").set_input_files(
        [{"name": "blank-label.png", "mimeType": "image/png", "buffer": png_bytes(32, 16)}]
    )
    client.screenshot(path=str(ARTIFACTS / "client-fills-form.png"), full_page=True)
    client.get_by_role("button", name="Submit ticket").click()
    client.wait_for_url(re.compile(r"/portal/tickets/\d+$"))
    number = re.search(r"/portal/tickets/(\d+)$", client.url).group(1)
    expect(client.get_by_role("heading", name=f"OP-{number} · Courier labels come out blank")).to_be_visible()
    expect(client.get_by_role("status")).to_contain_text(f"Your ticket OP-{number} is filed.")
    expect(client.locator("strong", has_text="station 2")).to_be_visible()  # Markdown rendered
    expect(client.get_by_role("link", name="blank-label.png")).to_be_visible()
    client.screenshot(path=str(ARTIFACTS / "client-files-ticket.png"), full_page=True)
    client.context.close()

    agent = _log_in(browser, live_server, world.agent)
    expect(agent.get_by_role("heading", name="Ticket queue")).to_be_visible()
    row = agent.locator("#queue tbody tr", has_text="Courier labels come out blank")
    expect(row).to_contain_text("ACME Logistics")
    expect(row).to_contain_text("Bug")
    expect(row).to_contain_text("High")
    agent.screenshot(path=str(ARTIFACTS / "agent-queue.png"), full_page=True)
    row.get_by_role("link", name="Courier labels come out blank").click()
    agent.wait_for_url(re.compile(rf"/agent/tickets/{number}$"))
    expect(agent.get_by_role("heading", name=f"OP-{number} · Courier labels come out blank")).to_be_visible()
    expect(agent.get_by_text("The courier comes at 15:00.")).to_be_visible()
    expect(agent.get_by_role("link", name="blank-label.png")).to_be_visible()
    agent.screenshot(path=str(ARTIFACTS / "agent-sees-ticket.png"), full_page=True)

    # and works it: a reply through the CSRF-protected form opens the ticket
    agent.get_by_label("Reply", exact=True).fill("We are on it: reprinting works from station 1 meanwhile.")
    agent.get_by_role("button", name="Send", exact=True).click()
    expect(agent.get_by_role("status")).to_contain_text("Reply sent.")
    expect(agent.locator("aside select[name=status]")).to_have_value("open")
    agent.context.close()

    assert (ARTIFACTS / "client-files-ticket.png").stat().st_size > 10_000
    assert (ARTIFACTS / "agent-sees-ticket.png").stat().st_size > 10_000


def test_script_in_a_ticket_never_runs(live_server, browser, world):
    from playwright.sync_api import expect

    from tickets.services import Actor, add_message, file_ticket

    hostile = (
        "<script>alert('description')</script>\n\n"
        "<img src=x onerror=\"alert('img')\">\n\n"
        "[click me](javascript:alert('link'))\n\n"
        "<svg onload=alert('svg')></svg> <script>window.pwned = true</script>"
    )
    ticket = file_ticket(
        Actor(world.acme_user), subject="<script>alert('subject')</script>", description=hostile, category="bug"
    )
    add_message(Actor(world.agent), ticket, body="<script>alert('reply')</script> <iframe src=javascript:alert('frame')>")

    dialogs: list[str] = []
    for user, path in ((world.acme_user, f"/portal/tickets/{ticket.id}"), (world.agent, f"/agent/tickets/{ticket.id}")):
        page = _log_in(browser, live_server, user)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("window.pwned") is None
        assert dialogs == [], dialogs
        expect(page.get_by_text("<script>alert('description')</script>")).to_be_visible()  # shown as text
        for link in page.get_by_text("click me").all():
            link.click()
        page.goto(f"{live_server}{'/portal/' if user.is_client else '/agent/queue'}")
        page.wait_for_load_state("load")
        page.context.close()
    assert dialogs == [], dialogs


# -- Content-Security-Policy: the pages work under it, and nothing of ours is blocked -------------

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _watch_csp(page: Any) -> list[str]:
    """Collect CSP violations of every page `page` shows: the DOM events and Chromium's console reports."""
    found: list[str] = []
    page.add_init_script(CSP_WATCH)
    page.on("console", lambda message: found.append(f"console: {message.text}")
            if "Content Security Policy" in message.text else None)
    return found


def _visit(page: Any, url: str, found: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    found.extend(f"{url}: {v}" for v in page.evaluate("window.__cspViolations"))


def test_main_pages_raise_no_csp_violations(live_server, browser, world):
    from playwright.sync_api import expect

    from tickets.services import Actor, file_ticket

    ticket = file_ticket(Actor(world.acme_user), subject="Labels", description="**Blank** labels.", category="bug")
    pages = {
        world.acme_admin: ["/portal/", "/portal/tickets/new", f"/portal/tickets/{ticket.id}", "/portal/usage",
                           "/preferences", "/preferences/tokens"],
        world.agent: ["/agent/queue", "/agent/queue?sort=due", f"/agent/tickets/{ticket.id}", "/onboarding/",
                      "/agent/macros", "/agent/macros/new"],
        world.manager: ["/manager/", "/manager/approvals", "/manager/plans", "/manager/plans/new",
                        "/manager/subscriptions", "/manager/usage", "/manager/sla/", "/manager/onboarding/",
                        "/onboarding/start"],
        world.admin: ["/admin/", "/admin/users", "/admin/clients", "/admin/calendars/", "/admin/notifications/",
                      "/admin/notifications/webhooks"],
    }
    found: list[str] = []
    anonymous = browser.new_context().new_page()
    found += _watch_csp(anonymous)
    _visit(anonymous, f"{live_server}/login", found)
    _visit(anonymous, f"{live_server}/no-such-page", found)
    anonymous.context.close()
    for user, paths in pages.items():
        page = _log_in(browser, live_server, user)
        found += _watch_csp(page)
        for path in paths:
            _visit(page, f"{live_server}{path}", found)
        page.context.close()

    # The refusal page's "Go back" is a nonce'd script: it runs (back to the queue), nothing is blocked.
    page = _log_in(browser, live_server, world.acme_admin)
    found += _watch_csp(page)
    _visit(page, f"{live_server}/portal/", found)
    _visit(page, f"{live_server}/portal/usage?period=bogus", found)
    page.get_by_role("link", name="Go back").click()
    page.wait_for_url(re.compile(r"/portal/$"))
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()
    page.context.close()
    assert found == [], found


def test_the_csp_watch_sees_a_blocked_inline_handler(live_server, browser, world):
    """The control: the watch above does report a violation when there is one."""
    page = browser.new_context().new_page()
    found = _watch_csp(page)
    _visit(page, f"{live_server}/login", found)
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=\"data:,\" onerror=\"window.ran = 1\">')")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.ran") is None
    assert any("script-src" in v for v in page.evaluate("window.__cspViolations"))
    page.context.close()

def _double_click_submit(live_server, browser, world, monkeypatch, *, without_key=False):
    import time

    import tickets.services

    real = tickets.services.file_ticket

    def slow(*args, **kwargs):  # the first post is still being filed when the second arrives
        time.sleep(0.6)
        return real(*args, **kwargs)

    monkeypatch.setattr(tickets.services, "file_ticket", slow)
    client = _log_in(browser, live_server, world.acme_user)
    client.goto(f"{live_server}/portal/tickets/new")
    key = client.get_by_role("main").locator("input[name=idempotency_key]")
    assert re.fullmatch(r"[0-9a-f-]{36}", key.get_attribute("value"))  # the form carries its key
    if without_key:  # the control: a page from before keys existed
        key.evaluate("input => input.remove()")
    client.get_by_label("Subject").fill("Pressed twice")
    client.get_by_role("radio", name=re.compile(r"\bBug\b")).check()
    client.get_by_label("Description").fill("The button was double-clicked.")
    posts: list[str] = []
    client.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    # Two clicks 250 ms apart, the second while the first post is on its way (a person's impatient
    # second click; Playwright itself would wait for the navigation in between).
    client.get_by_role("main").locator("button[type=submit]").evaluate(
        "button => { button.click(); setTimeout(() => button.click(), 250); }"
    )
    from playwright.sync_api import expect

    expect(client).to_have_url(re.compile(r"/portal/tickets/\d+$"))  # polls: the first navigation is aborted
    client.wait_for_load_state("load")
    return client, posts


def test_a_double_clicked_submit_files_one_ticket(live_server, browser, world, monkeypatch):
    from playwright.sync_api import expect
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from tickets.models import Ticket

    client, posts = _double_click_submit(live_server, browser, world, monkeypatch)
    assert len(posts) == 2, posts  # Chromium really sent the form twice
    number = re.search(r"/portal/tickets/(\d+)$", client.url).group(1)
    expect(client.get_by_role("status")).to_contain_text(f"Your ticket OP-{number} is filed.")
    client.context.close()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_control_a_double_clicked_submit_without_a_key_files_two(live_server, browser, world, monkeypatch):
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from tickets.models import Ticket

    client, posts = _double_click_submit(live_server, browser, world, monkeypatch, without_key=True)
    assert len(posts) == 2, posts
    client.context.close()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2
