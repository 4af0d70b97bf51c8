"""In Chromium: while a client types a subject, help articles are suggested; reading one and
leaving without filing counts as answered by the help pages. Screenshots in both languages."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM_ARGS, browser, csrf_on, live_server  # noqa: F401

pytestmark = pytest.mark.e2e


def _client_page(browser, base, user, language):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pl-PL" if language == "pl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.locator("#email").fill(user.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/portal/"))
    return page


@pytest.mark.parametrize("language", ["en", "pl"])
def test_a_client_finds_an_article_while_typing_and_leaves_without_filing(live_server, browser, app, world, language):  # noqa: F811
    from datetime import timedelta

    from playwright.sync_api import expect

    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from knowledge.demo import seed_articles
    from knowledge.services import deflection

    with app.test_request_context():
        seed_articles(world.agent)
    world.acme_user.language = None  # the browser's language decides
    db.session.commit()
    ARTIFACTS.mkdir(exist_ok=True)
    page = _client_page(browser, live_server, world.acme_user, language)
    page.goto(f"{live_server}/portal/tickets/new")
    typed = "Kurier: etykiety są puste" if language == "pl" else "Courier labels are blank"
    page.locator("#subject").press_sequentially(typed, delay=20)
    title = "Etykiety kuriera nie drukują się" if language == "pl" else "Courier labels do not print"
    suggestion = page.locator("#suggestions a", has_text=title)
    expect(suggestion).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"new-ticket-suggestions-{language}.png"), full_page=True)
    suggestion.click()
    expect(page.locator("#article h1")).to_have_text(title)
    page.context.close()  # the client leaves: no ticket

    db.session.expire_all()
    with app.test_request_context():
        counted = deflection(utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1))
    assert (counted.visits, counted.read, counted.filed, counted.deflected) == (1, 1, 0, 1)
