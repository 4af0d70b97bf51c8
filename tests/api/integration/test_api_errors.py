"""Every way a request can be wrong gets a 4xx in one JSON shape; nothing under /api is a 500 or HTML.

(`api.call` already fails any test on a 500, a non-JSON answer, or a status the document lacks.)
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import date

import pytest

from tests.api.support import error_of

NEW = {"subject": "Labels print blank", "description": "Every label is blank.", "category": "bug"}


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad",
        b'{"subject": "x",}',
        b'{"subject": "x"} trailing',
        b'{"subject": NaN}',
        b'{"minutes": Infinity}',
        b"[" * 100_000,
        b'{"subject": "\\ud800", "description": "x", "category": "bug"}',
        b'{"subject": "\xff\xfe"}',
        b'{"subject": 1' + b"0" * 5000 + b"}",
    ],
)
def test_malformed_json_is_400(app, world, api, tokens, raw):
    response = api.post("/api/v1/tickets", tokens.acme_user, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"null", b"5", b"true"])
def test_a_body_that_is_not_an_object_is_400(app, world, api, tokens, raw):
    response = api.post("/api/v1/tickets", tokens.acme_user, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_body"


def test_a_body_that_is_not_json_is_415(app, world, api, tokens):
    response = api.post("/api/v1/tickets", tokens.acme_user, data="subject=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and error_of(response)["code"] == "unsupported_media_type"
    ok = api.post("/api/v1/tickets", tokens.acme_user, data=json.dumps(NEW), content_type="application/json; charset=utf-8")
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"subject", "description", "category"}),  # missing
        ({**NEW, "colour": "red"}, {"colour"}),  # unknown
        ({**NEW, "subject": 5}, {"subject"}),  # wrong types ...
        ({**NEW, "category": ["bug"]}, {"category"}),
        ({**NEW, "priority": None}, {"priority"}),
        ({**NEW, "description": {"text": "x"}}, {"description"}),
        ({**NEW, "category": "feature"}, {"category"}),  # out of range ...
        ({**NEW, "priority": "URGENT"}, {"priority"}),
        ({**NEW, "subject": "x" * 201}, {"subject"}),
        ({**NEW, "description": "x" * 20_001}, {"description"}),
        ({**NEW, "subject": ""}, {"subject"}),
        ({**NEW, "subject": " \t\n"}, {"subject"}),
        ({**NEW, "subject": "nul\x00byte"}, {"subject"}),
    ],
)
def test_field_errors_are_422_and_name_each_field(app, world, api, tokens, body, fields):
    response = api.post("/api/v1/tickets", tokens.acme_user, json=body)
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == fields


@pytest.mark.parametrize(
    "body, field",
    [
        ({"minutes": 0, "date": "2026-11-27"}, "minutes"),
        ({"minutes": 1441, "date": "2026-11-27"}, "minutes"),
        ({"minutes": "30", "date": "2026-11-27"}, "minutes"),
        ({"minutes": 30.5, "date": "2026-11-27"}, "minutes"),
        ({"minutes": True, "date": "2026-11-27"}, "minutes"),
        ({"minutes": 30, "date": "2026-13-01"}, "date"),
        ({"minutes": 30, "date": "20261127"}, "date"),
        ({"minutes": 30, "date": 20261127}, "date"),
        ({"minutes": 30}, "date"),
        ({"minutes": 30, "date": "2026-11-27", "note": "x" * 501}, "note"),
        ({"minutes": 30, "date": "2026-11-28"}, "date"),  # tomorrow (the service's rule, same shape)
        ({"minutes": 30, "date": "2026-11-25"}, "date"),  # before the ticket was filed, less a day
    ],
)
def test_numbers_and_dates_out_of_range_are_422(app, world, api, tokens, file_ticket, clock, body, field):
    clock.on(date(2026, 11, 27))
    ticket = file_ticket(world.acme_user)
    response = api.post(f"/api/v1/tickets/{ticket.id}/time-entries", tokens.agent, json=body)
    assert response.status_code == 422
    assert field in error_of(response)["fields"]


def test_a_whole_float_counts_as_an_integer_as_json_schema_says(app, world, api, tokens, file_ticket, clock):
    clock.on(date(2026, 11, 27))
    ticket = file_ticket(world.acme_user)
    response = api.post(f"/api/v1/tickets/{ticket.id}/time-entries", tokens.agent, json={"minutes": 30.0, "date": "2026-11-27"})
    assert response.status_code == 201 and response.get_json()["minutes"] == 30


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("limit=1&limit=2", "limit"),
        ("status=pending", "status"),
        ("status=open,", "status"),
        ("category=feature", "category"),
        ("client=ACME%00", "client"),
        ("assignee=someone", "assignee"),
        ("assignee=99999999999", "assignee"),
        ("colour=red", "colour"),
        ("cursor=", "cursor"),
        ("cursor=%ff%fe", "cursor"),
        ("cursor=!!!", "cursor"),
        (f"cursor={_cursor([0])}", "cursor"),
        (f"cursor={_cursor([True])}", "cursor"),
        (f"cursor={_cursor(['5'])}", "cursor"),
        (f"cursor={_cursor([2**70])}", "cursor"),
        (f"cursor={_cursor({'id': 5})}", "cursor"),
        ("cursor=bm90IGpzb24", "cursor"),
    ],
)
def test_bad_query_values_and_bad_cursors_are_422(app, world, api, tokens, query, field):
    response = api.get(f"/api/v1/tickets?{query}", tokens.agent)
    assert response.status_code == 422, response.get_json()
    assert field in error_of(response)["fields"]


@pytest.mark.parametrize(
    "url",
    [
        "/api",
        "/api/",
        "/api/v2/tickets",
        "/api/v1/nope",
        "/api/v1/tickets/abc",
        "/api/v1/tickets/-1",
        "/api/v1/tickets/0",
        "/api/v1/tickets/99999999999999999999",
        "/api/v1/tickets/123456",
        "/api/v1/tickets/1/nope",
    ],
)
def test_unknown_routes_and_ids_under_api_are_json_404(app, world, api, tokens, url):
    response = api.get(url, tokens.agent)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "method, url",
    [("DELETE", "/api/v1/tickets/1"), ("PUT", "/api/v1/tickets/1"), ("DELETE", "/api/v1/tickets"),
     ("PATCH", "/api/v1/tickets"), ("POST", "/api/v1/openapi.json"), ("GET", "/api/v1/tickets/1/time-entries")],
)
def test_wrong_methods_are_json_405_with_allow(app, world, api, tokens, method, url):
    response = api.call(method, url, tokens.agent)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response.headers["Allow"]


def test_a_too_large_body_is_json_413(app, world, api, tokens):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = api.post("/api/v1/tickets", tokens.acme_user, json={**NEW, "description": "x" * 2000})
    assert response.status_code == 413 and error_of(response)["code"] == "payload_too_large"


def test_the_web_keeps_html_errors(app, world):
    response = app.test_client().get("/portal/nope")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_an_unexpected_exception_is_logged_and_answered_as_json_500(app_config, caplog, expect_errors):
    """The last resort exists (the rest of the suite shows it is never reached)."""
    expect_errors("Unexpected error in GET /api/v1/broken", reason="the endpoint fails on purpose")
    from app import create_app
    from helpdesk.api import ApiBlueprint, register_api

    broken = ApiBlueprint("broken_api", __name__, tag="broken")

    @broken.endpoint("GET", "/broken", summary="Always fails", auth=False)
    def always_fails(call):
        raise RuntimeError("boom")

    other = create_app(app_config)
    register_api(other, broken)
    with caplog.at_level(logging.ERROR):
        response = other.test_client().get("/api/v1/broken")
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert error_of(response)["code"] == "internal_error" and "boom" not in response.get_data(as_text=True)
    assert "Unexpected error in GET /api/v1/broken" in caplog.text
