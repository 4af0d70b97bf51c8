"""Satisfaction ratings: asked for by the resolution e-mail (signed, single-use link that expires)
and on the portal; one per ticket, by its requester, after resolution; low ones notify the agent
and the managers; the manager's report per agent, client, category and month, with chart and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.api.support import error_of
from tests.samples import recorded_statements, text_of


def _mails(app: Any) -> list[Any]:
    folder = Path(app.config["MAIL_OUTBOX_DIR"])
    parse = BytesParser(policy=policy.default).parsebytes
    return [parse(p.read_bytes()) for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def _resolve(world: Any, ticket: Any, agent: Any = None, at: datetime | None = None) -> None:
    from helpdesk.clock import frozen
    from tickets import services

    agent = agent or world.agent
    with frozen(at or datetime.now(UTC)):
        services.assign(services.Actor(agent), ticket, agent.id)
        services.change_status(services.Actor(agent), ticket, "resolved")


def _rating_link(app: Any, ticket: Any) -> str:
    (mail,) = [m for m in _mails(app) if f"[OP-{ticket.id}] Your ticket is resolved" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    path = re.search(r"https?://\S+(/rate/\S+)", text).group(1)
    assert path in html
    return path


def test_the_client_rates_from_the_email_link_once(app, web, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import TicketRating

    ticket = make_ticket(world.acme_user, subject="Invoices stuck in draft")
    _resolve(world, ticket)
    link = _rating_link(app, ticket)
    page = text_of(web.get(link))  # no login needed: the link is the proof
    assert "Invoices stuck in draft" in page and 'name="score"' in page
    refused = web.post(link, data={"score": "9", "comment": "Kept <text>"})
    assert refused.status_code == 422 and "Kept &lt;text&gt;" in text_of(refused)
    assert web.post(link, data={"score": "5", "comment": "Quick and clear"}).status_code == 200
    (rating,) = db.session.scalars(select(TicketRating))
    assert (rating.ticket_id, rating.score, rating.comment, rating.rater_id, rating.agent_id, rating.via) == (
        ticket.id, 5, "Quick and clear", world.acme_user.id, world.agent.id, "email")
    again = text_of(web.get(link))
    assert "This ticket is already rated. Thank you!" in again and 'name="score"' not in again
    web.post(link, data={"score": "1"})
    assert [r.score for r in db.session.scalars(select(TicketRating))] == [5]


def test_a_bad_or_expired_link_is_refused(app, web, world, make_ticket):
    from helpdesk.clock import frozen, utcnow

    ticket = make_ticket(world.acme_user)
    _resolve(world, ticket)
    link = _rating_link(app, ticket)
    assert web.get(link[:-4] + "AAAA").status_code == 404
    with frozen(utcnow() + timedelta(days=31)):
        assert web.get(link).status_code == 404
        assert web.post(link, data={"score": "4"}).status_code == 404


def test_rating_over_the_api(api, world, tokens, make_ticket):
    ticket = make_ticket(world.acme_user)
    url = f"/api/v1/tickets/{ticket.id}/rating"
    response = api.post(url, tokens.acme_user, json={"score": 4})
    assert response.status_code == 409
    assert error_of(response)["message"] == "A ticket can be rated once it is resolved."
    _resolve(world, ticket)
    for bad in (0, 6, "five", None, 2.5):
        assert api.post(url, tokens.acme_user, json={"score": bad}).status_code == 422, bad
    assert api.post(url, tokens.acme_user, json={}).status_code == 422
    assert api.post(url, tokens.globex_user, json={"score": 5}).status_code == 404
    assert api.post(url, tokens.globex_admin, json={"score": 5}).status_code == 404
    assert api.post(url, tokens.acme_admin, json={"score": 5}).status_code == 403  # not the requester
    first = api.post(url, tokens.acme_user, json={"score": 4, "comment": "Fine"})
    assert first.status_code == 201
    assert first.get_json()["score"] == 4 and first.get_json()["comment"] == "Fine"
    second = api.post(url, tokens.acme_user, json={"score": 5})
    assert second.status_code == 409
    assert error_of(second)["message"] == "This ticket is already rated. Thank you!"


def test_a_low_rating_notifies_the_agent_and_the_managers(app, api, world, tokens, make_ticket):
    from helpdesk.accounts import create_user

    create_user(email="manager2@vendor.example", password="correct-horse-battery-77", role="manager")
    low = make_ticket(world.acme_user, subject="Courier API down")
    fine = make_ticket(world.acme_user, subject="Marketplace sync")
    _resolve(world, low, world.agent2)
    _resolve(world, fine)
    api.post(f"/api/v1/tickets/{fine.id}/rating", tokens.acme_user, json={"score": 3})
    api.post(f"/api/v1/tickets/{low.id}/rating", tokens.acme_user, json={"score": 2, "comment": "Took a week"})
    low_mails = [m for m in _mails(app) if "Low satisfaction rating" in m["Subject"]]
    assert sorted(m["To"].addresses[0].addr_spec for m in low_mails) == [
        "agent2@vendor.example", "manager2@vendor.example", "manager@vendor.example"]
    assert all(f"OP-{low.id}" in m["Subject"] and "(2/5)" in m["Subject"] for m in low_mails)
    assert "Took a week" in low_mails[0].get_body(("plain",)).get_content()


def test_the_portal_asks_the_requester_after_resolution(web, world, login, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import TicketRating

    ticket = make_ticket(world.acme_user)
    login(world.acme_user)
    assert "How did we do?" not in text_of(web.get(f"/portal/tickets/{ticket.id}"))
    _resolve(world, ticket)
    assert "How did we do?" in text_of(web.get(f"/portal/tickets/{ticket.id}"))
    login(world.acme_admin)  # a colleague sees the ticket but is not asked
    assert "How did we do?" not in text_of(web.get(f"/portal/tickets/{ticket.id}"))
    refused = web.post(f"/portal/tickets/{ticket.id}/rating", data={"score": "1"})
    assert refused.status_code == 403
    assert "Only the person who filed the ticket can rate it." in text_of(refused)
    assert list(db.session.scalars(select(TicketRating))) == []
    login(world.globex_admin)
    assert web.post(f"/portal/tickets/{ticket.id}/rating", data={"score": "1"}).status_code == 404
    login(world.acme_user)
    response = web.post(f"/portal/tickets/{ticket.id}/rating", data={"score": "7", "comment": "Keep me"})
    assert response.status_code == 422 and "Keep me" in text_of(response)
    assert web.post(f"/portal/tickets/{ticket.id}/rating", data={"score": "4", "comment": ""}).status_code == 302
    page = text_of(web.get(f"/portal/tickets/{ticket.id}"))
    assert "Thank you for your rating." in page and "4/5" in page and "How did we do?" not in page




def _rate_many(world: Any, make_ticket: Any) -> None:
    """Six ratings: January (agent 5 and 4 on bugs of acme, agent2 1 on a question of globex),
    February (agent 3 and 5 of acme, agent2 2 of globex)."""
    from helpdesk.clock import frozen
    from tickets import csat

    plan = [
        (world.acme_user, world.agent, "bug", 5, datetime(2026, 1, 10, 9, tzinfo=UTC)),
        (world.acme_user, world.agent, "bug", 4, datetime(2026, 1, 31, 22, 30, tzinfo=UTC)),  # still January in Warsaw
        (world.globex_user, world.agent2, "question", 1, datetime(2026, 1, 12, 9, tzinfo=UTC)),
        (world.acme_user, world.agent, "question", 3, datetime(2026, 1, 31, 23, 30, tzinfo=UTC)),  # February in Warsaw
        (world.acme_user, world.agent, "bug", 5, datetime(2026, 2, 20, 9, tzinfo=UTC)),
        (world.globex_user, world.agent2, "question", 2, datetime(2026, 2, 21, 9, tzinfo=UTC)),
    ]
    for requester, agent, category, score, at in plan:
        ticket = make_ticket(requester, category=category)
        _resolve(world, ticket, agent, at - timedelta(hours=1))
        with frozen(at):
            csat.rate(requester, ticket, score=score)


def test_the_report_per_agent_client_category_and_month(app, web, world, login, make_ticket):
    from helpdesk.extensions import db

    _rate_many(world, make_ticket)
    login(world.manager)
    period = "from=2026-01&to=2026-02"
    rows = {}
    for by in ("agent", "client", "category", "month"):
        with recorded_statements(db.engine) as seen:
            response = web.get(f"/manager/csat/?by={by}&{period}")
        assert response.status_code == 200
        ratings = [s for s in seen if "ticket_ratings" in s]
        assert all("GROUP BY" in s.upper() or "count(" in s.lower() for s in ratings), ratings
        assert len(ratings) <= 3, ratings  # this dimension, the months of the chart, the total
        table = text_of(response).split('id="csat-report"')[1]
        rows[by] = [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in re.findall(r"<tr [^>]*data-key[^>]*>(.*?)</tr>", table, re.S)]
    assert rows["agent"] == ["Agnes Agent 4 4.25 75.0%", "Artur Agent 2 1.50 0.0%", "All 6 3.33 50.0%"]
    assert rows["client"] == ["ACME Logistics 4 4.25 75.0%", "Globex Trading 2 1.50 0.0%", "All 6 3.33 50.0%"]
    assert rows["category"] == ["Bug 3 4.67 100.0%", "Question 3 2.00 0.0%", "All 6 3.33 50.0%"]
    assert rows["month"] == ["January 2026 3 3.33 66.7%", "February 2026 3 3.33 33.3%", "All 6 3.33 50.0%"]
    page = text_of(web.get(f"/manager/csat/?by=agent&{period}"))
    assert page.count('<rect class="bar"') == 2 and ">Jan 26<" in page

    response = web.get(f"/manager/csat/report.csv?by=agent&{period}")
    assert response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table == [["Agent", "Ratings", "Average", "Share of 4-5"], ["Agnes Agent", "4", "4.25", "75.0"],
                     ["Artur Agent", "2", "1.5", "0.0"], ["All", "6", "3.33", "50.0"]]

    world.manager.language = "pl"
    db.session.commit()
    page = text_of(web.get(f"/manager/csat/?by=month&{period}"))
    assert "styczeń 2026" in page and "3,33" in page and "66,7%" in page and ">sty 26<" in page


def test_the_report_refuses_bad_periods_and_is_for_managers(web, world, login):
    login(world.manager)
    for query in ("from=2026-13", "from=1999-01", "from=2026-05&to=2026-01", "by=secret", "from=2020-01&to=2026-01"):
        assert web.get(f"/manager/csat/?{query}").status_code == 400, query
    assert web.get("/manager/csat/report.csv?by=nope").status_code == 400
    for who in (world.agent, world.acme_admin):
        login(who)
        assert web.get("/manager/csat/").status_code == 403
        assert web.get("/manager/csat/report.csv").status_code == 403
