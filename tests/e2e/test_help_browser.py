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


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_usage_chart_in_both_languages(live_server, browser, world, cov, clock, language):  # noqa: F811
    """The client admin's usage page draws the last plan periods as bars labelled in the reader's language."""
    from datetime import date

    from playwright.sync_api import expect

    from helpdesk.extensions import db

    plan = cov.plan(allowance_minutes=120, period="month")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 10, 20))
    cov.log(cov.file(world.acme_user, "question", "October question"), 60)
    clock.on(date(2026, 11, 10))
    cov.log(cov.file(world.acme_user, "question", "November question"), 180)
    world.acme_admin.language = None
    db.session.commit()
    ARTIFACTS.mkdir(exist_ok=True)
    page = _client_page(browser, live_server, world.acme_admin, language)
    page.goto(f"{live_server}/portal/usage")
    chart = page.locator("#usage-chart")
    expect(chart).to_be_visible()
    month = "listopad 2026" if language == "pl" else "November 2026"
    expect(chart.locator("text", has_text=month)).to_have_count(1)
    chart.screenshot(path=str(ARTIFACTS / f"usage-chart-{language}.png"))
    page.screenshot(path=str(ARTIFACTS / f"usage-page-{language}.png"), full_page=True)
