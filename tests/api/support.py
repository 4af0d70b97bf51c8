"""Helpers for the API tests: tokens, and a client that checks every response against the document.

`api.call(...)` sends one request in its own app context (as a server would), then checks the
response against the OpenAPI document the app serves: the status is documented for that operation
and the JSON body validates against its schema. So every API test is also a conformance test.
A pytest plugin (tests/conftest.py lists it in `pytest_plugins`): its fixtures reach every test.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import HTTPException

DOC_URI = "urn:opiekun:openapi"
_MISSING = object()

FORMATS = FormatChecker()
_VALID_DOCUMENTS: set[str] = set()


@FORMATS.checks("date-time", raises=ValueError)
def _iso_instant_with_offset(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)", value):
        raise ValueError(f"not ISO 8601 with an offset: {value!r}")
    return datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("date", raises=ValueError)
def _iso_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"not YYYY-MM-DD: {value!r}")
    date.fromisoformat(value)
    return True


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Document:
    """The served OpenAPI document, validated, with a JSON Schema validator per response."""

    def __init__(self, raw: dict[str, Any]) -> None:
        key = json.dumps(raw, sort_keys=True)
        if key not in _VALID_DOCUMENTS:  # validating costs 0.2 s; the document rarely changes
            validate_openapi(raw)
            _VALID_DOCUMENTS.add(key)
        self.raw = raw
        self.registry = Registry().with_resource(DOC_URI, Resource.from_contents(raw, default_specification=DRAFT202012))

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{DOC_URI}#/{pointer}"}, registry=self.registry, format_checker=FORMATS
        )

    def check(self, app: Any, method: str, url: str, response: Any) -> None:
        path = urlsplit(url).path
        status = str(response.status_code)
        assert response.status_code != 500, (method, url, response.get_data(as_text=True)[:500])
        assert response.mimetype == "application/json", (method, url, response.status_code, response.mimetype)
        adapter = app.url_map.bind("localhost")
        try:
            rule, _args = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            rule = None  # 404 or 405 from routing: the error shape, nothing more to match
        spec = getattr(app.view_functions.get(rule.endpoint), "api_endpoint", None) if rule else None
        if spec is None:
            assert response.status_code in (404, 405), (method, url, response.status_code)
            self.validator("components/schemas/Error").validate(response.get_json())
            return
        operation = self.raw["paths"][spec.openapi_path][method.lower()]
        assert status in operation["responses"], (
            f"{method} {url} answered {status}, which {spec.openapi_path} does not document"
        )
        doc = operation["responses"][status]
        for header in doc.get("headers", {}):
            assert header in response.headers, (method, url, status, header)
        pointer = _pointer("paths", spec.openapi_path, method.lower(), "responses", status, "content",
                           "application/json", "schema")
        self.validator(pointer).validate(response.get_json())


class Api:
    """Send API requests as a token holder; every response is checked against the document."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.calls = 0
        raw = self._open("GET", "/api/v1/openapi.json").get_json()
        self.document = Document(raw)

    def _open(self, method: str, url: str, **kwargs: Any) -> Any:
        from helpdesk.extensions import db

        with self.app.app_context():  # a request of its own: its own g and session, as in production
            response = self.client.open(url, method=method, buffered=True, **kwargs)
        db.session.expire_all()
        return response

    def call(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        json: Any = _MISSING,
        data: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Any:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": headers}
        if json is not _MISSING:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        if content_type is not None:
            kwargs["content_type"] = content_type
        response = self._open(method, url, **kwargs)
        self.document.check(self.app, method, url, response)
        self.calls += 1
        return response

    def get(self, url: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("GET", url, token, **kw)

    def post(self, url: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("POST", url, token, **kw)

    def patch(self, url: str, token: str | None = None, **kw: Any) -> Any:
        return self.call("PATCH", url, token, **kw)


def error_of(response: Any) -> dict[str, Any]:
    """The error object of a JSON error response (its shape is already checked)."""
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"], body
    return body["error"]


@pytest.fixture
def api(app: Any) -> Api:
    return Api(app)


@pytest.fixture
def make_token(app: Any) -> Any:
    """make_token(user, name="ERP sync") -> the secret of a new token of that user."""
    from helpdesk.api.tokens import issue_token

    def _make(user: Any, name: str = "ERP sync") -> str:
        _token, secret = issue_token(user, name)
        return secret

    return _make


@pytest.fixture
def tokens(world: Any, make_token: Any) -> Any:
    """A token for each person of the world, by the same names (tokens.agent ...), made when first used."""

    class Tokens:
        def __getattr__(self, name: str) -> str:
            secret = make_token(getattr(world, name), f"{name} script")
            setattr(self, name, secret)
            return secret

    return Tokens()


@pytest.fixture
def file_ticket(app: Any) -> Any:
    """file_ticket(user, **fields) files a ticket through the service, as the web form does."""
    from tickets.services import Actor
    from tickets.services import file_ticket as service

    def _file(user: Any, subject: str = "Printer station offline", **fields: Any) -> Any:
        values = {"description": "It stopped this morning.", "category": "question", "priority": "normal"}
        values.update(fields)
        return service(Actor(user), subject=subject, **values)

    return _file
