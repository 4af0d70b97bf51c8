"""Declaring API endpoints: an `ApiBlueprint` whose endpoints carry their own specification.

Each domain (tickets/, plans/, ...) makes an `ApiBlueprint`, declares endpoints with
`@bp.endpoint(...)` and registers it with `register_api(app, bp)` from its `init_app`. One
declaration serves three purposes: routing, checking each request (rate limit, token, role, path,
query, body, in that order) and writing the OpenAPI document. The handler gets an `ApiCall` with
the checked values and the path arguments, and returns a JSON-able value or `(status, value)`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem
from limits import parse as parse_limit
from werkzeug.exceptions import HTTPException

from helpdesk.accounts import User
from helpdesk.api.errors import (
    DESCRIPTIONS,
    ApiError,
    api_error_response,
    http_error_response,
    service_error_response,
    unexpected_error_response,
)
from helpdesk.api.fields import MAX_ID, Body, Field, FieldErrors, Integer, Invalid, Query, String
from helpdesk.api.tokens import ApiToken, hash_secret, mark_used, token_for_secret
from helpdesk.clock import utcnow
from helpdesk.errors import ServiceError
from helpdesk.extensions import csrf, limiter
from helpdesk.i18n import _

API_V1 = "/api/v1"
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
EXTENSION_KEY = "opiekun_api"

Schema = dict[str, Any]
Handler = Callable[..., Any]


def ref(name: str) -> Schema:
    """A JSON Schema reference to a component of the OpenAPI document."""
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class ApiCall:
    """What an endpoint handler is given: who calls, and the checked query and body values."""

    token: ApiToken | None
    query: dict[str, Any]
    body: dict[str, Any]

    @property
    def user(self) -> User:
        if self.token is None:
            raise ApiError(401)
        return self.token.user

    @property
    def via(self) -> str:
        """The channel recorded in histories: the token's name, so people see which integration acted."""
        return f"api: {self.token.name}" if self.token else "api"


@dataclass
class Endpoint:
    """One operation: method and rule (under /api/v1), its inputs, who may call it, what it answers."""

    method: str
    rule: str
    handler: Handler
    summary: str
    description: str = ""
    tag: str = ""
    body: Body | None = None
    query: Query | None = None
    path: dict[str, Field] = field(default_factory=dict)
    roles: tuple[str, ...] | None = None
    responses: dict[int, tuple[str, Schema]] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    auth: bool = True

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def openapi_path(self) -> str:
        return API_V1 + ROUTE_ARGUMENT.sub(lambda m: "{" + m["name"] + "}", self.rule)

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors)
        if self.auth:
            statuses |= {401, 429}
        if self.roles:
            statuses.add(403)
        if self.path:
            statuses.add(404)
        if self.query and self.query.fields:
            statuses.add(422)
        if self.body is not None:
            statuses |= {400, 413, 415, 422}
        return sorted(statuses)

    def operation(self) -> Schema:
        """The OpenAPI operation object, written from this declaration."""
        description = self.description
        if self.roles:
            description = (description + "\n\n" if description else "") + "Roles: " + ", ".join(self.roles) + "."
        responses: dict[str, Any] = {}
        for status, (text, schema) in sorted(self.responses.items()):
            responses[str(status)] = {"description": text, "content": {"application/json": {"schema": schema}}}
        for status in self.error_statuses():
            responses[str(status)] = _error_response_doc(status)
        operation: Schema = {
            "operationId": self.operation_id,
            "summary": self.summary,
            "tags": [self.tag] if self.tag else [],
            "responses": responses,
        }
        if description:
            operation["description"] = description
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": spec.schema()}
            for name, spec in self.path.items()
        ]
        if self.query:
            parameters += self.query.parameters()
        if parameters:
            operation["parameters"] = parameters
        if self.body is not None:
            operation["requestBody"] = {
                "required": bool(self.body.required),
                "content": {"application/json": {"schema": self.body.schema()}},
            }
        if self.roles:
            operation["x-roles"] = list(self.roles)
        if not self.auth:
            operation["security"] = []
        return operation


def _error_response_doc(status: int) -> Schema:
    doc: Schema = {
        "description": DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status == 429:
        doc["headers"] = {
            "Retry-After": {"description": "Seconds until the limit resets.", "schema": {"type": "integer"}}
        }
    if status == 401:
        doc["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return doc


# -- the request pipeline -----------------------------------------------------------------------


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def rate_limit_key() -> str:
    """Each token has its own allowance; calls without a token share their address's."""
    secret = bearer_secret()
    if secret:
        return "api-token:" + hash_secret(secret)
    return "api-address:" + (get_remote_address() or "")


# Failed authentications are counted per client address, whatever token was presented: the
# per-token rate limit cannot stop someone who sends a new random token each time.
_AUTH_FAILURES = "api-auth-failures"


def _auth_failure_limit() -> tuple[RateLimitItem, str] | None:
    if not limiter.enabled:
        return None
    return parse_limit(current_app.config["API_AUTH_FAILURE_LIMIT"]), get_remote_address() or ""


def refuse_addresses_that_keep_failing() -> None:
    """429 with Retry-After while this address is over its allowance of failed authentications.

    Checked before the token is looked at, so an address that has guessed too often learns
    nothing more (not even whether its next token is valid) until the window has passed.
    """
    limit = _auth_failure_limit()
    if limit is None:
        return
    item, address = limit
    if not limiter.limiter.test(item, _AUTH_FAILURES, address):
        stats = limiter.limiter.get_window_stats(item, _AUTH_FAILURES, address)
        # The limits storage keeps its windows in Unix time, so the wait is measured against it.
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            _("Too many failed authentications from this address; retry after %(seconds)s seconds.",
              seconds=wait),
            headers={"Retry-After": str(wait)},
        )


def _count_failed_authentication() -> None:
    limit = _auth_failure_limit()
    if limit is not None:
        limiter.limiter.hit(limit[0], _AUTH_FAILURES, limit[1])


def authenticate() -> ApiToken:
    """The token of this request, or 401. Only the Authorization header counts, never a cookie.
    A missing or unknown token counts as a failed authentication of the client's address."""
    refuse_addresses_that_keep_failing()
    secret = bearer_secret()
    if secret is None:
        _count_failed_authentication()
        raise ApiError(401, headers={"WWW-Authenticate": 'Bearer realm="opiekun"'})
    token = token_for_secret(secret)
    if token is None:
        _count_failed_authentication()
        raise ApiError(
            401,
            _("This token is unknown or revoked."),
            code="invalid_token",
            headers={"WWW-Authenticate": 'Bearer realm="opiekun", error="invalid_token"'},
        )
    g.api_user = token.user  # the language and timezone of messages follow the token's user
    mark_used(token, utcnow())
    return token


_NO_BODY = object()


def read_json_body() -> Any:
    """The request's JSON value; _NO_BODY when there is none. Malformed JSON is a 400, never a 500."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return _NO_BODY
    if not JSON_MEDIA_TYPE.match(request.mimetype or ""):
        raise ApiError(415)

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(raw, parse_constant=refuse_constant)
        # Lone surrogates ("\ud800") parse but cannot be stored: refuse them here.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError) as exc:
        raise ApiError(400, _("The body is not valid JSON."), code="malformed_json") from exc
    return value


def _checked(parse: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return parse()
    except FieldErrors as exc:
        raise ApiError(422, _("Some values are not acceptable."), fields=exc.fields) from exc


def _make_view(spec: Endpoint) -> Callable[..., Response]:
    @wraps(spec.handler)
    def view(**path_args: Any) -> Response:
        token = authenticate() if spec.auth else None
        if spec.roles and (token is None or token.user.role not in spec.roles):
            raise ApiError(403)
        values: dict[str, Any] = {}
        for name, value in path_args.items():
            try:
                values[name] = spec.path[name].parse_text(str(value))
            except Invalid as exc:
                raise ApiError(404) from exc
        query = _checked(lambda: spec.query.parse(request.args)) if spec.query else {}
        body: dict[str, Any] = {}
        if spec.body is not None:
            raw = read_json_body()
            if raw is _NO_BODY:
                raw = {}
            if not isinstance(raw, dict):
                raise ApiError(400, _("The body must be a JSON object."), code="invalid_body")
            body = _checked(lambda: spec.body.parse(raw))
        result = spec.handler(ApiCall(token=token, query=query, body=body), **values)
        status, payload = result if isinstance(result, tuple) else (200, result)
        response = jsonify(payload)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    return limiter.shared_limit(
        lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=rate_limit_key
    )(view)


def _path_fields(rule: str, given: Mapping[str, Field] | None) -> dict[str, Field]:
    """Path arguments from the rule: ints are ids (out-of-range ids are simply not found)."""
    fields: dict[str, Field] = {}
    for match in ROUTE_ARGUMENT.finditer(rule):
        name, converter = match["name"], match["converter"] or "string"
        if given and name in given:
            fields[name] = given[name]
        elif converter == "int":
            fields[name] = Integer(minimum=1, maximum=MAX_ID)
        elif converter == "string":
            fields[name] = String(min_length=1, max_length=200)
        else:
            raise ValueError(f"declare the path field {name!r} (converter {converter!r})")
    extra = set(given or {}) - set(fields)
    if extra:
        raise ValueError(f"path fields not in the rule {rule!r}: {sorted(extra)}")
    return fields


class ApiBlueprint(Blueprint):
    """A blueprint of JSON endpoints under /api/v1 that documents itself (see the module doc)."""

    def __init__(self, name: str, import_name: str, *, tag: str, tag_description: str = "") -> None:
        super().__init__(name, import_name, url_prefix=API_V1)
        self.tag = tag
        self.tag_description = tag_description
        self.endpoints: list[Endpoint] = []
        self.components: dict[str, Schema] = {}
        self.register_error_handler(ApiError, api_error_response)
        self.register_error_handler(ServiceError, service_error_response)
        self.register_error_handler(HTTPException, http_error_response)
        self.register_error_handler(Exception, unexpected_error_response)

    def component(self, name: str, schema: Schema) -> Schema:
        """Name a schema in the document's components; returns a reference to it."""
        self.components[name] = schema
        return ref(name)

    def endpoint(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        description: str = "",
        response: tuple[int, Schema] | None = None,
        response_description: str = "Success.",
        body: Body | None = None,
        query: Query | None = None,
        path: Mapping[str, Field] | None = None,
        roles: tuple[str, ...] | None = None,
        errors: tuple[int, ...] = (),
        auth: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Declare and route an endpoint; `errors` lists statuses beyond those the inputs imply."""

        def decorator(handler: Handler) -> Handler:
            spec = Endpoint(
                method=method.upper(),
                rule=rule,
                handler=handler,
                summary=summary,
                description=description,
                tag=self.tag,
                body=body,
                query=query,
                path=_path_fields(rule, path),
                roles=roles,
                responses={response[0]: (response_description, response[1])} if response else {},
                errors=errors,
                auth=auth,
            )
            view = _make_view(spec)
            view.api_endpoint = spec  # type: ignore[attr-defined]
            self.add_url_rule(rule, endpoint=handler.__name__, view_func=view, methods=[spec.method])
            self.endpoints.append(spec)
            return handler

        return decorator


@dataclass
class ApiRegistry:
    """The API blueprints registered on one app, for the OpenAPI document."""

    blueprints: list[ApiBlueprint] = field(default_factory=list)
    document: Schema | None = None


def register_api(app: Flask, bp: ApiBlueprint) -> None:
    """Register an API blueprint: routes, CSRF exemption (token auth, no cookies) and the document."""
    registry: ApiRegistry = app.extensions.setdefault(EXTENSION_KEY, ApiRegistry())
    taken = {e.operation_id for other in registry.blueprints for e in other.endpoints}
    clash = taken & {e.operation_id for e in bp.endpoints}
    if clash:
        raise ValueError(f"operation ids used twice: {sorted(clash)}")
    csrf.exempt(bp)
    app.register_blueprint(bp)
    registry.blueprints.append(bp)
    registry.document = None
