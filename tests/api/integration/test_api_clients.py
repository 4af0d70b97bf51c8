"""Client companies over the API: managers list, add and change them; nobody else may."""

from __future__ import annotations

import pytest

from tests.api.support import error_of


def test_managers_list_clients(app, world, api, tokens):
    for token in (tokens.manager, tokens.admin):
        response = api.get("/api/v1/clients", token)
        assert response.status_code == 200
        items = response.get_json()["items"]
        assert [c["slug"] for c in items] == ["acme", "globex"]
        assert items[0] | {"created_at": None} == {
            "slug": "acme", "name": "ACME Logistics", "phase": "onboarding", "active": True,
            "protocol_signed_on": None, "package_months": 1, "guardian": None, "created_at": None,
        }


@pytest.mark.parametrize("who", ["acme_user", "acme_admin", "globex_admin", "agent"])
def test_others_get_403_on_every_client_endpoint(app, world, api, tokens, who):
    token = getattr(tokens, who)
    assert api.get("/api/v1/clients", token).status_code == 403
    assert api.post("/api/v1/clients", token, json={"slug": "new", "name": "New"}).status_code == 403
    assert api.patch("/api/v1/clients/acme", token, json={"name": "Hacked"}).status_code == 403
    assert api.patch("/api/v1/clients/nope", token, json={"name": "Hacked"}).status_code == 403


def test_a_manager_adds_a_client(app, world, api, tokens):
    response = api.post("/api/v1/clients", tokens.manager, json={"slug": "initech", "name": "Initech"})
    assert response.status_code == 201
    assert response.get_json()["phase"] == "onboarding"
    response = api.post("/api/v1/clients", tokens.manager, json={"slug": "initech", "name": "Initech again"})
    assert response.status_code == 409 and "slug" in error_of(response)["fields"]
    for bad in ({"slug": "Not A Slug", "name": "x"}, {"slug": "ok"}, {"slug": "ok", "name": "   "},
                {"slug": "ok", "name": "x", "phase": "production"}):
        response = api.post("/api/v1/clients", tokens.manager, json=bad)
        assert response.status_code == 422, bad


def test_signing_the_protocol_moves_a_client_to_production_and_back(app, world, api, tokens):
    response = api.patch(
        "/api/v1/clients/acme",
        tokens.manager,
        json={"protocol_signed_on": "2026-10-15", "package_months": 3, "guardian": world.agent.email, "name": "ACME SA"},
    )
    assert response.status_code == 200
    client = response.get_json()
    assert (client["phase"], client["protocol_signed_on"], client["package_months"], client["name"]) == (
        "production", "2026-10-15", 3, "ACME SA",
    )
    assert client["guardian"]["id"] == world.agent.id
    client = api.patch("/api/v1/clients/acme", tokens.manager, json={"protocol_signed_on": None}).get_json()
    assert (client["phase"], client["protocol_signed_on"], client["package_months"]) == ("onboarding", None, 3)
    client = api.patch("/api/v1/clients/acme", tokens.manager, json={"guardian": None, "active": False}).get_json()
    assert client["guardian"] is None and client["active"] is False


@pytest.mark.parametrize(
    "body, field",
    [
        ({"package_months": 0}, "package_months"),
        ({"package_months": 25}, "package_months"),
        ({"package_months": "3"}, "package_months"),
        ({"package_months": True}, "package_months"),
        ({"protocol_signed_on": "2026-02-30"}, "protocol_signed_on"),
        ({"protocol_signed_on": "15.10.2026"}, "protocol_signed_on"),
        ({"protocol_signed_on": "2099-01-01"}, "protocol_signed_on"),  # not signed yet: the same rule as the web
        ({"active": "yes"}, "active"),
        ({"name": ""}, "name"),
        ({"guardian": "manager@vendor.example"}, "guardian"),  # a manager is not an agent
        ({"guardian": "nobody@example.com"}, "guardian"),
        ({"guardian": 0}, "guardian"),
        ({"slug": "renamed"}, "slug"),
    ],
)
def test_bad_client_changes_are_refused_field_by_field(app, world, api, tokens, body, field):
    response = api.patch("/api/v1/clients/acme", tokens.manager, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in error_of(response)["fields"]


def test_an_unknown_client_is_404(app, world, api, tokens):
    assert api.patch("/api/v1/clients/nope", tokens.manager, json={"name": "x"}).status_code == 404
    assert api.patch("/api/v1/clients/NOT%20A%20SLUG", tokens.manager, json={"name": "x"}).status_code == 404
