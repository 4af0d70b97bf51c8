"""The cross-company walk over every API route: with company B's ids, A's tokens get 403 or 404.

Every rule under /api/v1, every method, with a body the endpoint would accept (so a forgotten
check cannot hide behind a validation error). A route argument the walk does not know fails the
test: whoever adds the route decides here which id of company B it takes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

API_PREFIX = "/api/v1/"
SAMPLE_DATE = "2026-11-27"


def sample(field: Any) -> Any:
    """A value the (marshmallow) field of a request schema accepts."""
    from marshmallow import fields as ma

    from helpdesk.api import fields as api_fields

    validators = list(field.validators)
    if isinstance(field, api_fields.UniqueList):
        return [sample(field.inner)]
    if isinstance(field, api_fields.AnyOf):
        return sample(field.options[0])
    choices = [v.choices for v in validators if isinstance(v, api_fields.Among)]
    if choices:
        return list(choices[0])[-1]
    if isinstance(field, api_fields.Boolean):
        return True
    if isinstance(field, api_fields.Day):
        return SAMPLE_DATE
    if isinstance(field, api_fields.Integer):
        lows = [v.min for v in validators if isinstance(v, api_fields.Between) and v.min is not None]
        return max(lows[0], 1) if lows else 1
    if isinstance(field, ma.String):
        return "walked" if any(isinstance(v, api_fields.Pattern) and not isinstance(v, api_fields.NotBlank)
                               for v in validators) else "Walked in"
    raise AssertionError(f"the walk cannot make a value for {field!r}: teach sample()")


def valid_body(spec: Any) -> dict[str, Any] | None:
    """Every field the endpoint takes (not only the required ones), with acceptable values."""
    if spec.body is None:
        return None
    return {name: sample(field) for name, field in spec.body().fields.items()}


class CompanyB:
    """Company B (globex): a plan of its own, a ticket with a public reply, an internal note and
    time logged, its client row."""

    def __init__(self, world: Any) -> None:
        from plans.services import coverage_today, create_plan, subscribe
        from tickets.coverage import log_time
        from tickets.services import Actor, add_message, file_ticket

        plan = create_plan(actor_id=world.manager.id, name="GLOBEX-SECRET-PLAN", period="month", values={
            "covered_categories": ["question"], "allowance_minutes": 600, "billing_increment": 15,
            "overage_policy": "approval",
        })
        subscribe(actor_id=world.manager.id, client_id=world.globex.id, plan_id=plan.id,
                  starts_on=coverage_today(), ends_on=None)

        self.ticket = file_ticket(
            Actor(world.globex_user), subject="GLOBEX-SECRET-SUBJECT", description="GLOBEX-SECRET-DESCRIPTION",
            category="question", priority="low",
        )
        add_message(Actor(world.agent), self.ticket, body="GLOBEX-SECRET-REPLY")
        add_message(Actor(world.agent), self.ticket, body="GLOBEX-SECRET-NOTE", internal=True)
        log_time(Actor(world.agent), self.ticket, minutes=30, work_date=coverage_today(), note="GLOBEX-SECRET-TIME")
        self.client = world.globex
        self.secrets = ("GLOBEX-SECRET-SUBJECT", "GLOBEX-SECRET-DESCRIPTION", "GLOBEX-SECRET-REPLY", "GLOBEX-SECRET-NOTE",
                        "GLOBEX-SECRET-PLAN", "GLOBEX-SECRET-TIME")

    def arguments(self) -> dict[str, Any]:
        """Company B's value for every path argument an API route may take."""
        return {"ticket_id": self.ticket.id, "slug": self.client.slug}

    def snapshot(self) -> tuple[Any, ...]:
        from helpdesk.companies import Client
        from helpdesk.extensions import db
        from plans.models import CoverageDecision, Subscription, SupportPlan, UsageEntry
        from tickets.models import Message, Ticket, TicketEvent, TimeEntry

        db.session.rollback()
        ticket = db.session.get(Ticket, self.ticket.id, populate_existing=True)
        client = db.session.get(Client, self.client.id, populate_existing=True)
        return (
            ticket.subject, ticket.status, ticket.category, ticket.priority, ticket.assignee_id,
            client.name, client.active, client.phase, client.guardian_id, client.package_months,
            db.session.scalar(select(func.count(Ticket.id)).where(Ticket.client_id == self.client.id)),
            *(db.session.scalar(select(func.count(m.id)).where(m.ticket_id == self.ticket.id))
              for m in (Message, TicketEvent, TimeEntry, CoverageDecision, UsageEntry)),
            db.session.scalar(select(func.count(Subscription.id)).where(Subscription.client_id == self.client.id)),
            db.session.scalar(select(func.count(SupportPlan.id))),
        )


def api_routes(app: Any) -> list[tuple[Any, str, Any]]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        spec = getattr(app.view_functions[rule.endpoint], "api_endpoint", None)
        assert spec is not None, f"{rule.rule} is under /api/v1 but not declared with ApiBlueprint.endpoint"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method, spec))
    return found


def url_for_rule(rule: Any, arguments: dict[str, Any]) -> str:
    url = rule.rule
    for name in rule.arguments:
        if name not in arguments:
            pytest.fail(
                f"{rule.rule} ({rule.endpoint}) takes <{name}>, which the API walk does not know: "
                "add company B's value for it to CompanyB.arguments()"
            )
        url, found = re.subn(rf"<(?:\w+:)?{name}>", str(arguments[name]), url)
        assert found == 1
    return url


@pytest.fixture
def company_b(world: Any) -> CompanyB:
    return CompanyB(world)


@pytest.mark.parametrize("viewer", ["acme_user", "acme_admin"])
def test_no_api_route_shows_or_changes_another_company_s_data(app, world, api, tokens, company_b, viewer):
    token = getattr(tokens, viewer)
    before = company_b.snapshot()
    walked_with_ids = 0
    for rule, method, spec in api_routes(app):
        url = url_for_rule(rule, company_b.arguments())
        body = valid_body(spec)
        response = api.call(method, url, token, **({"json": body} if body is not None else {}))
        if rule.arguments:
            # A role the endpoint refuses is a 403 whatever the ids; one it admits sees B's ids as unknown.
            expected = {403} if spec.roles and "client" not in spec.roles else {404}
            assert response.status_code in expected, (viewer, method, url, response.status_code, response.get_json())
            walked_with_ids += 1
        else:
            assert response.status_code < 500
        text = response.get_data(as_text=True)
        for secret in company_b.secrets:
            assert secret not in text, (viewer, method, url, secret)
        assert "globex" not in text.lower() or rule.rule.endswith("openapi.json"), (viewer, method, url)
    assert walked_with_ids >= 9
    assert company_b.snapshot() == before


def test_a_colleague_s_ticket_is_not_found_by_a_plain_client_user(app, world, api, tokens):
    from tickets.services import Actor, file_ticket

    ticket = file_ticket(Actor(world.acme_colleague), subject="Bob's", description="x", category="bug")
    for rule, method, spec in api_routes(app):
        if "ticket_id" not in rule.arguments:
            continue
        url = url_for_rule(rule, {"ticket_id": ticket.id})
        body = valid_body(spec)
        response = api.call(method, url, tokens.acme_user, **({"json": body} if body is not None else {}))
        assert response.status_code in ({403} if spec.roles else {404}), (method, url, response.status_code)
        assert "Bob's" not in response.get_data(as_text=True)


# Who may read each GET route that takes ids, for the control below; a new one must be added here.
READERS = {
    "tickets_api.read_ticket": ("globex_user", "globex_admin", "agent"),
    "tickets_api.list_replies": ("globex_user", "globex_admin", "agent"),
    "plans_api.list_subscriptions": ("manager",),
    "plans_api.client_usage": ("globex_admin", "manager"),
}


def test_the_walk_reaches_real_data_for_those_who_may_see_it(app, world, api, tokens, company_b):
    """The control: B's own people (and staff) get 200 from the same URLs, so a 404 above means refused."""
    seen = set()
    for rule, method, _spec in api_routes(app):
        if method != "GET" or not rule.arguments:
            continue
        assert rule.endpoint in READERS, f"say in READERS who may read {rule.rule}"
        for who in READERS[rule.endpoint]:
            response = api.get(url_for_rule(rule, company_b.arguments()), getattr(tokens, who))
            assert response.status_code == 200, (who, rule.rule, response.status_code)
            text = response.get_data(as_text=True)
            if rule.endpoint.startswith("tickets_api"):
                assert "GLOBEX-SECRET-SUBJECT" in text or rule.rule.endswith("/replies")
            else:
                assert "globex" in text
            seen.add(rule.endpoint)
    assert seen == set(READERS)
    response = api.patch(url_for_rule(_rule(app, "clients_api.change_client_terms"), company_b.arguments()),
                         tokens.manager, json={"name": "Globex Trading"})
    assert response.status_code == 200


def _rule(app: Any, endpoint: str) -> Any:
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)


def test_a_new_api_route_with_an_unknown_argument_fails_the_walk(app, world, company_b):
    from werkzeug.routing import Rule

    rule = Rule("/api/v1/plans/<int:plan_id>", endpoint="plans_api.read_plan")
    rule.bind(app.url_map.__class__())
    with pytest.raises(pytest.fail.Exception, match="plan_id"):
        url_for_rule(rule, company_b.arguments())


def test_every_api_route_is_declared_and_documented(app, api):
    paths = api.document.raw["paths"]
    for rule, method, spec in api_routes(app):
        assert method.lower() in paths[spec.openapi_path], (rule.rule, method)
    documented = sum(len(ops) for ops in paths.values())
    assert documented == len(api_routes(app))
