"""In Chromium: a client rates a resolved ticket from the e-mail's link; a follower sees the ticket;
the manager's satisfaction report in English and Polish (screenshots in test-artifacts/)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser import ARTIFACTS, _log_in, browser, csrf_on, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


def _rating_path(app: Any, ticket_id: int) -> str:
    parse = BytesParser(policy=policy.default).parsebytes
    mails = [parse(p.read_bytes()) for p in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))]
    (mail,) = [m for m in mails if f"[OP-{ticket_id}] Your ticket is resolved" in m["Subject"]]
    return re.search(r"https?://\S+(/rate/\S+)", mail.get_body(("plain",)).get_content()).group(1)


def test_a_client_rates_a_resolved_ticket_from_the_email_link(app, live_server, browser, world, make_ticket):  # noqa: F811
    from playwright.sync_api import expect

    from helpdesk.extensions import db
    from tickets import services
    from tickets.models import TicketRating

    ARTIFACTS.mkdir(exist_ok=True)
    ticket = make_ticket(world.acme_user, subject="Allegro orders stopped syncing")
    services.assign(services.Actor(world.agent), ticket, world.agent.id)
    services.change_status(services.Actor(world.agent), ticket, "resolved")
    path = _rating_path(app, ticket.id)

    context = browser.new_context(viewport={"width": 900, "height": 900}, locale="en-GB")  # not logged in
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(live_server + path)
    expect(page.get_by_text("Allegro orders stopped syncing")).to_be_visible()
    page.get_by_role("radio", name="4 · Good").check()
    page.get_by_label("Comment (optional)").fill("Fixed the same day, thanks.")
    page.screenshot(path=str(ARTIFACTS / "csat-rate-from-email.png"), full_page=True)
    page.get_by_role("button", name="Send my rating").click()
    expect(page.locator("#rated")).to_contain_text("Thank you for your rating.")
    page.goto(live_server + path)  # the link again: used
    expect(page.locator("#already-rated")).to_contain_text("already rated")
    expect(page.get_by_role("button", name="Send my rating")).to_have_count(0)
    context.close()
    db.session.expire_all()
    (rating,) = db.session.query(TicketRating).all()
    assert (rating.ticket_id, rating.score, rating.comment, rating.via) == (
        ticket.id, 4, "Fixed the same day, thanks.", "email")


def test_a_follower_sees_the_ticket(live_server, browser, world, make_ticket):  # noqa: F811
    from playwright.sync_api import expect

    ticket = make_ticket(world.acme_user, subject="Invoice numbering restarted")
    anna = _log_in(browser, live_server, world.acme_user)
    anna.goto(f"{live_server}/portal/tickets/{ticket.id}")
    anna.get_by_label("Colleague").select_option(label="Bob")
    anna.get_by_role("button", name="Add a follower").click()
    expect(anna.locator("#followers")).to_contain_text("Bob")
    anna.context.close()

    bob = _log_in(browser, live_server, world.acme_colleague)
    expect(bob.get_by_role("link", name="Invoice numbering restarted")).to_be_visible()
    bob.get_by_role("link", name="Invoice numbering restarted").click()
    expect(bob.get_by_role("heading", name=f"OP-{ticket.id} · Invoice numbering restarted")).to_be_visible()
    bob.screenshot(path=str(ARTIFACTS / "follower-sees-ticket.png"), full_page=True)
    bob.context.close()


def test_the_csat_report_in_both_languages(live_server, browser, world, make_ticket):  # noqa: F811
    from playwright.sync_api import expect

    from helpdesk.extensions import db
    from tickets import csat, services

    for score, subject in ((5, "Courier pickup"), (2, "Marketplace prices"), (4, "KSeF invoices")):
        ticket = make_ticket(world.acme_user, subject=subject)
        services.assign(services.Actor(world.agent), ticket, world.agent.id)
        services.change_status(services.Actor(world.agent), ticket, "resolved")
        csat.rate(world.acme_user, ticket, score=score)
    for language, heading in (("en", "Satisfaction report"), ("pl", "Raport satysfakcji")):
        world.manager.language = language
        db.session.commit()
        page = _log_in(browser, live_server, world.manager)
        page.goto(f"{live_server}/manager/csat/?by=agent")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.locator("#csat-chart rect.bar")).to_have_count(1)
        expect(page.locator("#csat-report")).to_contain_text("3,67" if language == "pl" else "3.67")
        page.screenshot(path=str(ARTIFACTS / f"csat-report-{language}.png"), full_page=True)
        page.context.close()
