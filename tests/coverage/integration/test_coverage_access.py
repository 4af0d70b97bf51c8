"""Nobody outside the vendor's managers reaches plans, usage or approvals, and a client of one
company never sees another's, whatever ids it puts in the URL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.models import CoverageDecision, PlanVersion, Subscription, SupportPlan, UsageEntry
from tickets.models import Message, TimeEntry


@pytest.fixture
def acme_data(cov, world, clock):
    plan = cov.plan(allowance_minutes=30, overage_policy="approval", hourly_rate="")
    cov.production(world.acme, date(2026, 1, 5))
    subscription = cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 60)
    return {"plan": plan.id, "subscription": subscription.id, "ticket": ticket.id, "client": world.acme.id}


def routes(ids):
    p, s, t, c = ids["plan"], ids["subscription"], ids["ticket"], ids["client"]
    month = "period=2026-11"
    gets = [
        "/manager/plans", "/manager/plans/new", f"/manager/plans/{p}", "/manager/subscriptions",
        f"/manager/clients/{c}/coverage", f"/manager/usage?{month}", f"/manager/usage.csv?{month}",
        f"/manager/usage/{c}/entries?{month}", f"/manager/usage/{c}/entries?{month}&format=csv",
        f"/manager/usage/{c}/tickets?{month}", f"/manager/usage/{c}/statement?{month}", "/manager/approvals",
    ]
    posts = [
        ("/manager/plans/new", {"name": "Mine", "period": "month", "covered_categories": "question",
                                "billing_increment": "15", "overage_policy": "reject"}),
        (f"/manager/plans/{p}/terms", {"effective_from": "2026-12-01", "covered_categories": "question",
                                       "billing_increment": "15", "overage_policy": "reject"}),
        (f"/manager/plans/{p}/settings", {"name": "Hacked"}),
        ("/manager/subscriptions", {"client": str(c), "plan": str(p), "starts_on": "2027-01-01"}),
        (f"/manager/subscriptions/{s}/end", {"ends_on": "2026-11-10"}),
        (f"/manager/clients/{c}/coverage", {"protocol_signed_on": "", "package_months": "1"}),
        (f"/manager/approvals/{t}", {"outcome": "goodwill", "message": "free"}),
        (f"/manager/approvals/{t}/retry", {}),
        (f"/agent/tickets/{t}/time", {"minutes": "600", "work_date": "2026-11-10"}),
    ]
    return gets, posts


def snapshot():
    models = (SupportPlan, PlanVersion, Subscription, CoverageDecision, UsageEntry, TimeEntry, Message)
    return tuple(db.session.scalar(select(func.count(m.id))) for m in models)


@pytest.mark.parametrize("who", ["globex_user", "globex_admin", "acme_admin", "agent"])
def test_clients_and_agents_are_refused_every_manager_route(acme_data, world, web, login, who):
    login(getattr(world, who))
    before = snapshot()
    gets, posts = routes(acme_data)
    for url in gets:
        assert web.get(url).status_code == 403, url
    for url, data in posts:
        if who == "agent" and url.startswith("/agent/"):
            continue
        assert web.post(url, data=data).status_code == 403, url
    assert snapshot() == before


def test_another_company_sees_nothing_of_acme(acme_data, world, web, login):
    login(world.globex_admin)
    assert web.get(f"/portal/tickets/{acme_data['ticket']}").status_code == 404
    usage = web.get("/portal/usage?period=2026-11")
    assert usage.status_code == 404 and f"OP-{acme_data['ticket']}" not in usage.get_data(as_text=True)
    assert web.post(f"/agent/tickets/{acme_data['ticket']}/time", data={"minutes": "5", "work_date": "2026-11-10"}).status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(acme_data, web):
    gets, posts = routes(acme_data)
    for url in [*gets, "/portal/usage"]:
        response = web.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
