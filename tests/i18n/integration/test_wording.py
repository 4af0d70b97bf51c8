"""The wording slips a reader reported, each shown fixed on the page where it was seen."""

from __future__ import annotations

import html
import re
from datetime import date

from tests.i18n.integration.test_translations import _text


def _page(web, path: str) -> str:
    response = web.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return html.unescape(_text(response.get_data(as_text=True)))


def test_the_tokens_page_shows_the_header_with_its_placeholder(web, world, login):
    login(world.agent)
    assert "Authorization: Bearer <token>" in _page(web, "/preferences/tokens/")


def test_an_uncovered_ticket_awaiting_approval_offers_nothing_more(cov, world, clock, web, login):
    plan = cov.plan(allowance_minutes=30, overage_policy="approval", hourly_rate="200",
                    covered_categories=["question"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user, "configuration_change", "Not in the plan")
    login(world.acme_user)
    client_page = _page(web, f"/portal/tickets/{ticket.id}")
    assert "Awaiting a manager's approval" in client_page
    assert "paid work, reply to this ticket" not in client_page
    login(world.manager)
    card = _page(web, "/manager/approvals")
    assert "Not covered · Not covered" not in card and "Not covered: Not covered" not in card
    assert "does not include" in card


def test_a_client_without_a_plan_is_told_a_manager_decides_on_paid_handling(cov, world, clock, web, login):
    cov.production(world.globex, date(2026, 1, 5))
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.globex_user, "question", "No plan at all")
    # No plan and the package month long over: not covered (DESIGN.md, coverage rule 5); the ticket
    # is kept and goes straight to the managers' approval queue (plans.services.approvals.next_approval),
    # so the client is told a manager is deciding, and is not also asked to request paid handling.
    decision = cov.decisions(ticket)[-1]
    assert (decision.source, decision.covered, decision.approval) == ("none", False, "pending")
    login(world.globex_user)
    page = _page(web, f"/portal/tickets/{ticket.id}")
    assert "Awaiting a manager's approval" in page
    assert "A manager is deciding how we will handle it; you will hear from us on this ticket." in page
    assert "paid work, reply to this ticket" not in page
    login(world.manager)
    assert "No plan at all" in _page(web, "/manager/approvals")


def test_the_lead_in_to_missing_start_data_is_not_a_list_item(app, world, web, login):
    from plans.onboarding import checklists
    from tests.onboarding.support import NOW, walk_to

    onboarding = walk_to(world, "configuration")
    item = checklists.checklist(onboarding, "start_data")[0]
    checklists.set_item_state(world.agent, onboarding, item.id, "open", NOW)  # start data missing again
    login(world.acme_user)
    html = web.get("/portal/onboarding/").get_data(as_text=True)
    lead = "Configuration can start once these start data are complete:"
    assert lead in html
    assert not re.search(r"<li>\s*" + re.escape(lead) + r"\s*</li>", html)
    assert re.search(re.escape(lead) + r"<ul><li>", html)


def test_the_onboarding_link_shows_only_to_companies_with_an_onboarding(app, world, web, login):
    from tests.onboarding.support import walk_to

    login(world.globex_user)  # a production client with no onboarding recorded
    assert "/portal/onboarding" not in web.get("/portal/tickets").get_data(as_text=True)
    walk_to(world, "kickoff")  # company A's onboarding
    login(world.acme_user)
    assert "/portal/onboarding" in web.get("/portal/tickets").get_data(as_text=True)


def test_a_tiny_attachment_shows_its_bytes(app, world, web, login):
    from helpdesk.uploads import check_file
    from tickets.services import Actor, file_ticket

    ticket = file_ticket(Actor(world.acme_user), subject="Tiny file", description="See the file",
                         category="question", priority="normal",
                         files=[check_file("note.txt", b"x" * 37, 10_000)])
    login(world.acme_user)
    page = _page(web, f"/portal/tickets/{ticket.id}")
    assert "note.txt (37 B)" in page and "0 kB" not in page
