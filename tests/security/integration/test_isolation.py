"""The cross-company route walk: every registered route, with company A's ids, as people who may not see A's data.

A route with an argument this walk does not know fails the test: whoever adds it decides here
what another company's user must get from it.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.samples import png_bytes, text_of

STAFF_PREFIXES = ("/agent/", "/manager/", "/admin/")
# Staff pages that answer clients 404 rather than 403: onboarding records are a client's data.
STAFF_HIDDEN_PREFIXES = ("/onboarding/",)
# Portal pages about the company rather than one person: a colleague of the same company sees them.
COMPANY_WIDE_PREFIXES = ("/portal/onboarding/",)
# Logging in and out and choosing a language touch no company's data: they redirect.
SESSION_ENDPOINTS = {"auth.index", "auth.login", "auth.logout", "auth.choose_language"}
# Path arguments that are not ids of anyone's data, with the value the walk uses.
PLAIN_ARGUMENTS = {"code": "pl", "key": "kickoff", "token": "not-a-reset-token"}
# Everything a POST might need, so a forgotten check cannot hide behind a validation error.
POST_DATA = {
    "subject": "Walked in", "description": "Walked in", "category": "bug", "priority": "urgent",
    "body": "Walked in", "status": "closed", "assignee": "", "reason": "Walked in", "internal": "",
    "email": "walker@globex.example", "name": "Walked in", "password": "walked-in-pass", "role": "client",
    "client": "globex", "slug": "walked", "active": "y", "timezone": "Europe/Warsaw", "language": "en",
}


def staff_ids(world: Any) -> dict[str, int]:
    """Ids for the staff-only routes' arguments: a plan, company A's subscription, a calendar, an SLA policy."""
    from helpdesk.calendars.models import builtin_calendars
    from helpdesk.calendars.policies import default_policy
    from plans.onboarding.checklists import checklist
    from plans.onboarding.meetings import meetings
    from tests.onboarding.support import walk_to

    plan, subscription = acme_plan_and_subscription(world)
    onboarding = walk_to(world, "protocol")  # company A's onboarding, trained, with meetings
    return {
        "plan_id": plan.id,
        "subscription_id": subscription.id,
        "calendar_id": builtin_calendars()["default"].id,
        "policy_id": default_policy().id,
        "onboarding_id": onboarding.id,
        "item_id": checklist(onboarding, "start_data")[0].id,
        "meeting_id": meetings(onboarding)[0].id,
    }


def acme_plan_and_subscription(world: Any) -> tuple[Any, Any]:
    """A support plan and company A's subscription to it, from today."""
    from plans import services

    plan = services.create_plan(
        actor_id=world.manager.id, name="Walk plan", period="month",
        values={"covered_categories": ["question"], "allowance_minutes": "600", "allowance_tickets": "",
                "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill",
                "hourly_rate": "180", "currency": "PLN"},
    )
    subscription = services.subscribe(
        actor_id=world.manager.id, client_id=world.acme.id, plan_id=plan.id,
        starts_on=services.coverage_today().isoformat(), ends_on="",
    )
    return plan, subscription


def acme_mail(world: Any) -> dict[str, int]:
    """Company A's e-mail data: a pending contact's message, a client domain, and a mailbox."""
    from helpdesk.extensions import db
    from tests.inbound.support import mail
    from tickets.inbound.models import ClientEmailDomain, InboundMailbox, InboundMessage
    from tickets.inbound.receive import receive_message

    domain = ClientEmailDomain(client_id=world.acme.id, domain="acme.example")
    mailbox = InboundMailbox(address="support@vendor.example", category="question")
    db.session.add_all([domain, mailbox])
    db.session.commit()
    receipt = receive_message(mail(sender="new.person@acme.example", subject="ACME-SECRET-MAIL"))
    inbound = db.session.scalar(select(InboundMessage).where(InboundMessage.message_id == receipt.message_id))
    return {"inbound_id": inbound.id, "domain_id": domain.id, "mailbox_id": mailbox.id}


class CompanyA:
    """Company A's data: a ticket with a thread, public and internal files, and its people."""

    def __init__(self, world: Any) -> None:
        from helpdesk.uploads import check_file
        from tickets.services import Actor, add_message, file_ticket

        self.ticket = file_ticket(
            Actor(world.acme_user),
            subject="ACME-SECRET-SUBJECT",
            description="ACME-SECRET-DESCRIPTION",
            category="configuration_change",
            priority="high",
            files=[check_file("acme-secret-file.png", png_bytes(), 10_000)],
        )
        add_message(Actor(world.agent), self.ticket, body="ACME-SECRET-REPLY")
        add_message(
            Actor(world.agent), self.ticket, body="ACME-SECRET-NOTE", internal=True,
            files=[check_file("acme-internal-file.txt", b"internal\n", 10_000)],
        )
        from helpdesk.extensions import db
        from tickets.models import Attachment

        attachments = list(db.session.scalars(select(Attachment).order_by(Attachment.id)))
        self.attachment, self.internal_attachment = attachments
        self.mail_ids = acme_mail(world)
        self.user = world.acme_user
        self.client = world.acme
        self.staff_ids = staff_ids(world)
        self.secrets = (
            "ACME-SECRET-SUBJECT", "ACME-SECRET-DESCRIPTION", "ACME-SECRET-REPLY", "ACME-SECRET-NOTE",
            "acme-secret-file.png", "acme-internal-file.txt", "ACME-SECRET-MAIL",
        )

    def ids(self, attachment: Any = None) -> dict[str, int]:
        return {
            "ticket_id": self.ticket.id,
            "attachment_id": (attachment or self.attachment).id,
            "user_id": self.user.id,
            "client_id": self.client.id,
            **self.staff_ids,
            **self.mail_ids,
            "slug": self.client.slug,
        }

    def snapshot(self) -> tuple[Any, ...]:
        """What a refused request must not have changed."""
        from helpdesk.accounts import User
        from helpdesk.companies import Client
        from helpdesk.extensions import db
        from tickets.models import Attachment, Message, Ticket, TicketEvent

        db.session.rollback()
        ticket = db.session.get(Ticket, self.ticket.id, populate_existing=True)
        user = db.session.get(User, self.user.id, populate_existing=True)
        client = db.session.get(Client, self.client.id, populate_existing=True)
        # (a viewer may file tickets of their own company through the walk; A's rows stay as they were)
        counts = (
            db.session.scalar(
                select(func.count(Ticket.id)).where(Ticket.client_id == self.client.id, Ticket.subject != "Walked in")
            ),
            *(
                db.session.scalar(select(func.count(model.id)).where(model.ticket_id == self.ticket.id))
                for model in (Message, Attachment, TicketEvent)
            ),
        )
        from tickets.inbound.models import ClientEmailDomain, InboundMailbox, InboundMessage

        mail = db.session.get(InboundMessage, self.mail_ids["inbound_id"], populate_existing=True)
        mail_state = (mail.outcome, mail.handled_at, db.session.scalar(select(func.count(ClientEmailDomain.id))),
                      db.session.get(InboundMailbox, self.mail_ids["mailbox_id"], populate_existing=True).address)
        return (
            mail_state,
            ticket.subject, ticket.status, ticket.category, ticket.priority, ticket.assignee_id,
            user.name, user.role, user.active, user.client_id, client.name, client.active, client.guardian_id,
            counts,
        )


def _url(rule: Any, ids: dict[str, Any]) -> str:
    values = {}
    for name in rule.arguments:
        if name in ids:
            values[name] = ids[name]
        elif name in PLAIN_ARGUMENTS:
            values[name] = PLAIN_ARGUMENTS[name]
        else:
            pytest.fail(
                f"{rule.rule} ({rule.endpoint}) takes <{name}>, which the cross-company walk does not know: "
                "add it to CompanyA.ids() (an id of company A's data) or PLAIN_ARGUMENTS"
            )
    url = rule.rule
    for name, value in values.items():
        url, found = re.subn(rf"<(?:[\w.]+(?:\([^)]*\))?:)?{name}>", str(value), url)
        assert found == 1, (rule.rule, name)
    return url


def _walk(app: Any) -> list[tuple[Any, str]]:
    """Every rule but static files, with each method a person can send it."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in ("GET", "POST"):
            if method in rule.methods:
                found.append((rule, method))
    return found


def _expected(rule: Any, ids: dict[str, Any]) -> set[int]:
    if rule.rule.startswith("/api/"):
        # The API ignores session cookies (tests/api/integration/test_api_walk.py walks it with tokens).
        return {200} if rule.rule.endswith("/openapi.json") else {401}
    if rule.endpoint in SESSION_ENDPOINTS:
        return {302, 405}
    if rule.rule.startswith(STAFF_PREFIXES):
        return {403}
    if rule.rule.startswith(STAFF_HIDDEN_PREFIXES):
        return {404} if any(name in ids for name in rule.arguments) else {403, 404}
    if any(name in ids for name in rule.arguments):
        return {404}  # never a hint that A's ticket or file exists
    # the viewer's own pages (403: client admins only; 404: the viewer's company has no such record)
    return {200, 302, 400, 403, 404, 405, 422}


def _log_in(client: Any, user: Any) -> None:
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def company_a(world: Any) -> CompanyA:
    return CompanyA(world)


@pytest.mark.parametrize("viewer", ["globex_user", "globex_admin", "acme_colleague"])
@pytest.mark.parametrize("which_attachment", ["public", "internal"])
def test_no_route_shows_or_changes_company_a_data_to_others(app, world, company_a, viewer, which_attachment):
    ids = company_a.ids(company_a.attachment if which_attachment == "public" else company_a.internal_attachment)
    person = getattr(world, viewer)
    before = company_a.snapshot()
    client = app.test_client()
    _log_in(client, person)
    walked = 0
    for rule, method in _walk(app):
        url = _url(rule, ids)
        if method == "POST":
            data = dict(POST_DATA, attachments=(io.BytesIO(png_bytes()), "walk.png"))
            response = client.post(url, data=data, content_type="multipart/form-data")
        else:
            response = client.get(url)
        expected = _expected(rule, ids)
        if viewer == "acme_colleague" and rule.rule.startswith(COMPANY_WIDE_PREFIXES):
            expected = {200, 404}  # the colleague's own company's onboarding (404: no scan yet)
        assert response.status_code in expected, (viewer, method, url, response.status_code)
        if any(name in ids for name in rule.arguments) and 200 not in expected:
            assert response.status_code != 200, (viewer, method, url)
        body = response.get_data()
        for secret in company_a.secrets:
            assert secret.encode() not in body, (viewer, method, url, secret)
            assert secret not in response.headers.get("Content-Disposition", ""), (viewer, method, url)
        if rule.endpoint == "auth.logout":
            _log_in(client, person)  # the rest of the walk as a logged-in viewer again
        walked += 1
    assert walked >= 20
    assert company_a.snapshot() == before


def test_the_walk_reaches_real_pages_for_those_who_may_see_them(app, world, company_a):
    """The control: the same URLs give A's own people what they should, so a 404 above means refused."""
    ids = company_a.ids()
    seen = set()
    for who, prefix_ok in (
        (world.acme_user, ("/portal/", "/attachments/")),
        (world.acme_admin, ("/portal/", "/attachments/")),
        (world.admin, STAFF_PREFIXES + ("/attachments/",)),
    ):
        client = app.test_client()
        _log_in(client, who)
        for rule, method in _walk(app):
            if method != "GET" or not rule.rule.startswith(prefix_ok) or not any(n in ids for n in rule.arguments):
                continue
            url = _url(rule, ids)
            response = client.get(url)
            assert response.status_code == 200, (who.email, url, response.status_code)
            seen.add(rule.endpoint)
            if rule.endpoint in ("portal.ticket", "agent.ticket"):
                assert "ACME-SECRET-SUBJECT" in text_of(response)
    assert {"portal.ticket", "files.attachment", "agent.ticket", "admin.edit_user", "admin.edit_client"} <= seen


def test_every_route_argument_is_known_to_the_walk(app, world, company_a):
    """Fails when someone adds a route whose argument the walk would not substitute."""
    ids = company_a.ids()
    for rule, _method in _walk(app):
        _url(rule, ids)


def test_a_new_route_with_an_unknown_argument_fails_the_walk(app, world, company_a):
    from werkzeug.routing import Rule

    rule = Rule("/portal/invoices/<int:invoice_id>", endpoint="portal.invoice")
    rule.bind(app.url_map.__class__())
    with pytest.raises(pytest.fail.Exception, match="invoice_id"):
        _url(rule, company_a.ids())
