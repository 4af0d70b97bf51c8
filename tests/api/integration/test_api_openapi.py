"""The served OpenAPI document: valid OpenAPI 3.1, complete, and true of the running API.

The property run lets schemathesis generate requests from the document (valid and invalid ones,
bounded in number) and send them through the WSGI app with real tokens: no 500, and every
response must be documented and match its schema.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Not the Hypothesis profile's number: the fuzz run is derandomized, so every run (on both databases,
# quick or thorough) sends the same requests, and 30 per operation is what the suite's time allows.
EXAMPLES_PER_OPERATION = 30


def test_the_document_is_valid_openapi_3_1_and_public(app, api):
    response = api.get("/api/v1/openapi.json")  # no token needed
    assert response.status_code == 200
    document = response.get_json()
    validate_openapi(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A personal API token (opk_...).",
    }


def test_every_operation_documents_its_errors(app, api):
    document = api.document.raw
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if operation.get("security") != []:
                assert {"401", "429"} <= set(responses), where
                assert "Retry-After" in responses["429"]["headers"], where
            if "requestBody" in operation:
                assert {"400", "415", "422"} <= set(responses), where
                assert operation["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"] is False
            if "{" in path:
                assert "404" in responses, where
            for status, doc in responses.items():
                if status.startswith(("4", "5")):
                    assert doc["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, where


def test_the_contract_fields_are_documented(app, api):
    schemas = api.document.raw["components"]["schemas"]
    ticket = schemas["Ticket"]["properties"]
    for name in ("id", "number", "subject", "status", "category", "priority", "client", "created_at", "coverage", "sla"):
        assert name in ticket and name in schemas["Ticket"]["required"]
    assert set(schemas["Coverage"]["properties"]) == {"source", "covered", "reason", "approval"}
    assert set(schemas["Sla"]["properties"]) == {"first_response_due", "resolution_due", "paused", "breached"}
    assert schemas["Sla"]["properties"]["resolution_due"]["type"] == ["string", "null"]
    assert schemas["Sla"]["properties"]["paused"]["type"] == "boolean"  # never null
    assert schemas["TimeEntry"]["additionalProperties"] is False
    paths = api.document.raw["paths"]
    assert set(paths) >= {
        "/api/v1/tickets", "/api/v1/tickets/{ticket_id}", "/api/v1/tickets/{ticket_id}/replies",
        "/api/v1/tickets/{ticket_id}/time-entries", "/api/v1/clients", "/api/v1/clients/{slug}",
        "/api/v1/plans", "/api/v1/clients/{slug}/subscriptions", "/api/v1/clients/{slug}/usage",
        "/api/v1/openapi.json",
    }
    assert set(paths["/api/v1/plans"]) == {"get", "post"}
    assert "501" not in paths["/api/v1/tickets/{ticket_id}/time-entries"]["post"]["responses"]
    listing = {p["name"] for p in paths["/api/v1/tickets"]["get"]["parameters"]}
    assert listing == {"status", "category", "priority", "client", "assignee", "breaching_within_minutes", "limit", "cursor", "q"}


# -- the property run -------------------------------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["API_RATE_LIMIT"] = "1000000 per minute"
    return app_config


def _served_document_loader() -> Any:
    """The document as an app serves it, loaded at import (schemathesis parametrizes at collection).

    It needs no database; each test then sends its cases to the test's own app, and checks that
    this app serves the very same document.
    """
    from app import create_app

    documenting = create_app({"TESTING": True, "SECRET_KEY": "doc", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", documenting)


schema = _served_document_loader()


@pytest.fixture
def fuzz_tokens(app: Any, world: Any, tokens: Any, file_ticket: Any) -> dict[Any, str]:
    """A little data of each kind, and the token each operation is tried with."""
    from plans.services import coverage_today, create_plan, subscribe
    from tickets.coverage import log_time
    from tickets.services import Actor, add_message

    plan = create_plan(actor_id=world.manager.id, name="Seeded", period="month", values={
        "covered_categories": ["question"], "allowance_minutes": 60, "billing_increment": 15,
        "overage_policy": "approval",
    })
    subscribe(actor_id=world.manager.id, client_id=world.acme.id, plan_id=plan.id, starts_on=coverage_today(),
              ends_on=None)
    for user in (world.acme_user, world.acme_admin, world.globex_user):
        ticket = file_ticket(user, f"Seeded by {user.email}")
        add_message(Actor(world.agent), ticket, body="Seeded reply")
        log_time(Actor(world.agent), ticket, minutes=20, work_date=coverage_today())
    return {
        ("POST", "/api/v1/tickets"): tokens.acme_admin,  # clients file tickets
        "/api/v1/clients": tokens.manager,  # managers keep client companies, their plans and usage
        "/api/v1/plans": tokens.manager,
        None: tokens.agent,  # staff work tickets and log time
    }


def _own_context(app: Any) -> Any:
    """The app as a WSGI server runs it: each request in an app context (g, session) of its own."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        with app.app_context():
            return list(app(environ, start_response))

    return wsgi


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_find_no_500_and_no_undocumented_response(case: Any, app: Any, api: Any, fuzz_tokens: Any) -> None:
    assert api.document.raw == schema.raw_schema  # the app under test serves the document used here
    token = (
        fuzz_tokens.get((case.method, case.path)) or fuzz_tokens.get(case.path.split("/{")[0]) or fuzz_tokens[None]
    )
    excluded = [
        # Schema-valid values may still break a business rule (an unknown agent id, a
        # whitespace-only subject, a taken slug, a day outside the time-entry window, a plan
        # that does not exist, overlapping subscriptions): those answer a documented 422/409,
        # which this check would count as "valid data rejected".
        positive_data_acceptance,
    ]
    response = case.call_and_validate(
        app=_own_context(app), headers={"Authorization": f"Bearer {token}"}, excluded_checks=excluded
    )
    assert response.status_code != 500
