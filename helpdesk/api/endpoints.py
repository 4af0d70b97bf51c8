"""Declaring API endpoints on flask-smorest: one declaration routes, checks and documents.

Each domain (tickets/, plans/, ...) makes an `ApiBlueprint`, declares endpoints with
`@bp.endpoint(...)` and registers it with `register_api(app, bp)` from its `init_app`. The
declaration names marshmallow schemas for the body, the query and the response; flask-smorest
(webargs, apispec) parses with them, serializes with them and writes them into the OpenAPI
document. This module adds what is ours: the order of the checks (rate limit, token, role, path,
query, body), JSON that is really JSON, one error shape, and the statuses each endpoint documents.
The handler gets an `ApiCall` with the checked values and the path arguments and returns the
object its response schema dumps (or a ready `Response`).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask import Flask, Response, current_app, g, request
from flask_limiter.util import get_remote_address
from flask_smorest.spec.plugins import FlaskPlugin
from limits import RateLimitItem
from limits import parse as parse_limit
from marshmallow import RAISE, Schema, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from helpdesk import idempotency
from helpdesk.accounts import User
from helpdesk.api.errors import (
    DESCRIPTIONS,
    ApiError,
    api_error_response,
    http_error_response,
    service_error_response,
    unexpected_error_response,
)
from helpdesk.api.fields import MAX_ID, any_of_properties, python_pattern
from helpdesk.api.schemas import ErrorSchema, component_name
from helpdesk.api.tokens import ApiToken, hash_secret, mark_used, token_for_secret
from helpdesk.clock import utcnow
from helpdesk.errors import ServiceError
from helpdesk.extensions import csrf, limiter
from helpdesk.i18n import _

API_V1 = "/api/v1"
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
EXTENSION_KEY = "opiekun_api"
OPENAPI_VERSION = "3.1.0"
IDEMPOTENT_METHODS = ("POST", "PATCH")  # the methods that honour the Idempotency-Key header

Handler = Callable[..., Any]


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
    """One operation as declared: method and rule (under /api/v1), its schemas, who may call it."""

    method: str
    rule: str
    operation_id: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    path: dict[str, str | None] = field(default_factory=dict)  # name -> pattern (None: an id)
    roles: tuple[str, ...] | None = None
    errors: tuple[int, ...] = ()
    auth: bool = True

    @property
    def takes_idempotency_key(self) -> bool:
        return self.auth and self.method in IDEMPOTENT_METHODS

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
        if self.query is not None:
            statuses.add(422)
        if self.body is not None:
            statuses |= {400, 413, 415, 422}
        if self.takes_idempotency_key:
            statuses |= {409, 422}  # the key is busy, or belongs to another request
        return sorted(statuses)

    def path_parameters(self) -> list[dict[str, Any]]:
        return [
            {"in": "path", "name": name, "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID} if pattern is None
             else {"type": "string", "pattern": pattern}}
            for name, pattern in self.path.items()
        ]

    def parameters(self) -> list[dict[str, Any]]:
        return self.path_parameters() + ([IDEMPOTENCY_PARAMETER] if self.takes_idempotency_key else [])


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Optional, recommended on every POST and PATCH: a unique value per intended request (a UUID). "
        "The first result is kept for 24 hours for this token: a repeat with the same key and body answers "
        "that result again (with the header `Idempotent-Replayed: true`) and changes nothing; while the "
        "first is still running a repeat waits for it (then 409 `idempotency_key_in_use`); the same key "
        "with another method, path or body is refused with 422 `idempotency_key_reused`. Failed requests "
        "(4xx, 5xx) keep nothing, so the same key may be sent again."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.KEY_MAX, "pattern": "^[!-~]+$"},
}


ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds until the limit resets.", "schema": {"type": "integer"}}},
}


# -- reading requests --------------------------------------------------------------------------


def _first_message(messages: Any) -> str:
    if isinstance(messages, Mapping):
        messages = list(messages.values())
    if isinstance(messages, list | tuple):
        return _first_message(messages[0]) if messages else ""
    return str(messages)


def field_errors(messages: Mapping[str, Any]) -> dict[str, str]:
    """marshmallow's messages ({name: [why, ...]} or {name: {index: [why]}}) as name -> why."""
    return {("" if name == "_schema" else str(name)): _first_message(why) for name, why in messages.items()}


class JsonParser(FlaskParser):
    """webargs' Flask parser, strict about JSON and query strings, answering in our error shape."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {}  # each schema refuses unknown names

    def load_json(self, req: Any, schema: Schema) -> Any:
        """The body as a JSON object ({} when there is none). Malformed JSON is a 400, never a 500."""
        raw = req.get_data(cache=True)
        if not raw.strip():
            return {}
        if not JSON_MEDIA_TYPE.match(req.mimetype or ""):
            raise ApiError(415)

        def refuse_constant(name: str) -> Any:
            raise ValueError(f"{name} is not JSON")

        try:
            value = json.loads(raw, parse_constant=refuse_constant)
            # Lone surrogates ("\ud800") parse but cannot be stored: refuse them here.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError, UnicodeError) as exc:
            raise ApiError(400, _("The body is not valid JSON."), code="malformed_json") from exc
        if not isinstance(value, dict):
            raise ApiError(400, _("The body must be a JSON object."), code="invalid_body")
        return value

    def load_querystring(self, req: Any, schema: Schema) -> Any:
        repeated = {name: _("Give this parameter once.") for name in req.args if len(req.args.getlist(name)) > 1}
        if repeated:
            raise ApiError(422, _("Some values are not acceptable."), fields=repeated)
        return self._makeproxy(req.args, schema)

    def handle_error(self, error: ValidationError, req: Any, schema: Schema, *, error_status_code: Any,
                     error_headers: Any) -> Any:
        messages = error.messages
        if isinstance(messages, Mapping) and len(messages) == 1 and next(iter(messages)) in ("json", "query"):
            messages = next(iter(messages.values()))  # webargs files the errors under the location
        fields = field_errors(messages if isinstance(messages, Mapping) else {"": messages})
        raise ApiError(422, _("Some values are not acceptable."), fields=fields)


# -- who calls ---------------------------------------------------------------------------------


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


def _check_path(spec: Endpoint, values: dict[str, Any]) -> None:
    """Path values outside what the document allows name nothing: 404 (an id past 32 bits too)."""
    for name, pattern in spec.path.items():
        value = values[name]
        if pattern is None:
            if not 1 <= value <= MAX_ID:
                raise ApiError(404)
        elif not python_pattern(pattern).search(str(value)):
            raise ApiError(404)


# -- blueprints and the app's Api --------------------------------------------------------------


class ApiBlueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint of JSON endpoints under /api/v1 (see the module doc)."""

    ARGUMENTS_PARSER = JsonParser()

    def __init__(self, name: str, import_name: str, *, tag: str, tag_description: str = "") -> None:
        super().__init__(name, import_name, url_prefix=API_V1, description=tag_description)
        self.tag = tag
        self.endpoints: list[Endpoint] = []
        self.register_error_handler(ApiError, api_error_response)
        self.register_error_handler(ServiceError, service_error_response)
        self.register_error_handler(HTTPException, http_error_response)
        self.register_error_handler(Exception, unexpected_error_response)

    def endpoint(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        description: str = "",
        response: tuple[int, type[Schema] | dict[str, Any]] | None = None,
        response_description: str = "Success.",
        body: type[Schema] | None = None,
        query: type[Schema] | None = None,
        path: Mapping[str, str] | None = None,
        roles: tuple[str, ...] | None = None,
        errors: tuple[int, ...] = (),
        auth: bool = True,
    ) -> Callable[[Handler], Handler]:
        """Declare, route and document an endpoint. `path` gives the pattern of each string
        argument (int arguments are ids); `errors` lists statuses beyond those the inputs imply."""

        def decorator(handler: Handler) -> Handler:
            spec = Endpoint(
                method=method.upper(), rule=rule, operation_id=handler.__name__, body=body, query=query,
                path=_path_patterns(rule, path), roles=roles, errors=errors, auth=auth,
            )

            def run(*, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None, **values: Any) -> Any:
                call = ApiCall(token=g.get("api_token"), query=query or {}, body=body or {})
                return handler(call, **values)

            # Flask-Limiter and Flask know a view by its name and module: each endpoint its own.
            run.__name__ = run.__qualname__ = handler.__name__
            run.__module__ = handler.__module__
            run.__doc__ = None
            view: Callable[..., Any] = run
            if body is not None:
                required = any(f.required for f in body().fields.values())
                view = self.arguments(body, location="json", arg_name="body", required=required)(view)
            if query is not None:
                view = self.arguments(query, location="query", arg_name="query")(view)
            if response is not None:
                view = self.response(response[0], response[1], description=response_description)(view)
            for status in spec.error_statuses():
                view = self.alt_response(
                    status, schema=ErrorSchema, description=DESCRIPTIONS.get(status, "Error."),
                    headers=ERROR_HEADERS.get(status),
                )(view)
            text = description
            if roles:
                text = (text + "\n\n" if text else "") + "Roles: " + ", ".join(roles) + "."
            extra: dict[str, Any] = {"x-roles": list(roles)} if roles else {}
            if not auth:
                extra["security"] = []
            view = self.doc(operationId=spec.operation_id, summary=summary, **({"description": text} if text else {}),
                            **extra)(view)
            checked = _checked(spec, view)
            limited = limiter.shared_limit(
                lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=rate_limit_key
            )(checked)
            limited.api_endpoint = spec  # type: ignore[attr-defined]
            self.route(rule, endpoint=spec.operation_id, methods=[spec.method], tags=[self.tag],
                       parameters=spec.parameters())(limited)
            self.endpoints.append(spec)
            return handler

        return decorator


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key, None when absent; a malformed one is a 422 naming the header."""
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return None
    if not idempotency.valid_key(key):
        raise ApiError(
            422,
            _("Some values are not acceptable."),
            fields={idempotency.HEADER: _("Send 1 to %(n)s printable characters without spaces, e.g. a UUID.",
                                          n=idempotency.KEY_MAX)},
        )
    return key


def _checked(spec: Endpoint, view: Callable[..., Any]) -> Callable[..., Response]:
    """Token, role and path before anything is parsed; the answer is never cached."""

    @wraps(view)
    def checked(**values: Any) -> Response:
        token = authenticate() if spec.auth else None
        g.api_token = token
        if spec.roles and (token is None or token.user.role not in spec.roles):
            raise ApiError(403)
        _check_path(spec, values)
        key = _idempotency_key() if spec.takes_idempotency_key else None

        def run() -> Response:
            response = current_app.make_response(view(**values))
            response.headers["Cache-Control"] = "no-store"
            return response

        if key is None or token is None:
            return run()
        try:
            return idempotency.once(
                f"token:{token.id}", key, idempotency.api_fingerprint(request.get_json(silent=True)), run
            )
        except idempotency.Refused as exc:
            code = "idempotency_key_reused" if exc.status == 422 else "idempotency_key_in_use"
            raise ApiError(exc.status, exc.message, code=code) from exc

    return checked


def _path_patterns(rule: str, given: Mapping[str, str] | None) -> dict[str, str | None]:
    patterns: dict[str, str | None] = {}
    for match in ROUTE_ARGUMENT.finditer(rule):
        name, converter = match["name"], match["converter"] or "string"
        if converter == "int":
            patterns[name] = None
        elif given and name in given:
            patterns[name] = given[name]
        else:
            raise ValueError(f"give the pattern of the path argument {name!r} of {rule!r}")
    return patterns


class _Converter(OpenAPIConverter):
    """apispec leaves out `additionalProperties: false` when a schema has a description."""

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema = super().schema2jsonschema(schema)
        if resolve_schema_instance(schema).unknown == RAISE:
            jsonschema.setdefault("additionalProperties", False)
        return jsonschema


class _Plugin(MarshmallowPlugin):
    Converter = _Converter


class _FlaskPlugin(FlaskPlugin):
    """Path parameters documented in each operation, as the route's methods differ in nothing else."""

    def path_helper(self, rule: Any, operations: dict[str, Any], parameters: list[Any], **kwargs: Any) -> Any:
        path = super().path_helper(rule, operations, parameters, **kwargs)
        for operation in operations.values():
            merged = [*deepcopy(parameters), *operation.get("parameters", [])]
            if merged:
                operation["parameters"] = merged
        parameters.clear()
        return path


class OpiekunApi(flask_smorest.Api):
    """flask-smorest's Api for our blueprints only: errors stay ours (the web keeps HTML pages),
    no default error responses, the document served by an endpoint of its own."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        """Nothing app-wide: each ApiBlueprint and the app's /api handler answer in our shape."""


@dataclass
class ApiRegistry:
    """The API of one app: flask-smorest's Api, its blueprints, the document once built."""

    api: OpiekunApi
    blueprints: list[ApiBlueprint] = field(default_factory=list)
    document: dict[str, Any] | None = None
    described: int = 0  # how many of `blueprints` the spec describes (they go in when the document is built)


def init_api(app: Flask, *, description: str) -> ApiRegistry:
    """Make the app's Api (OpenAPI 3.1 via apispec); domains then call `register_api`."""
    plugin = _Plugin(schema_name_resolver=component_name)
    api = OpiekunApi(app, spec_kwargs={
        "title": "Opiekun API", "version": "1.0.0", "openapi_version": OPENAPI_VERSION,
        "marshmallow_plugin": plugin, "flask_plugin": _FlaskPlugin(), "info": {"description": description}, "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
    })
    plugin.converter.add_attribute_function(any_of_properties)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A personal API token (opk_...)."}
    )
    registry = ApiRegistry(api)
    app.extensions[EXTENSION_KEY] = registry
    return registry


def register_api(app: Flask, bp: ApiBlueprint) -> None:
    """Register an API blueprint: routes, CSRF exemption (token auth, no cookies) and the document."""
    registry: ApiRegistry = app.extensions[EXTENSION_KEY]
    taken = {e.operation_id for other in registry.blueprints for e in other.endpoints}
    clash = taken & {e.operation_id for e in bp.endpoints}
    if clash:
        raise ValueError(f"operation ids used twice: {sorted(clash)}")
    csrf.exempt(bp)
    app.extensions["flask-smorest"]["blp_name_to_api"][bp.name] = registry.api
    app.register_blueprint(bp)
    registry.blueprints.append(bp)
    registry.document = None


def current_document() -> dict[str, Any]:
    """The document of the running app, built once per app, when first asked for.

    Describing the endpoints (apispec over every schema) took a third of `create_app`; most
    processes (workers, CLI commands) never serve the document. The limits read from the config
    (e.g. DESCRIPTION_MAX_CHARS) are the running app's, as when it was registered."""
    registry: ApiRegistry = current_app.extensions[EXTENSION_KEY]
    if registry.document is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        for bp in registry.blueprints[registry.described:]:
            bp.register_views_in_doc(registry.api, app, registry.api.spec, name=bp.name, parameters=None)
            if bp.endpoints:
                registry.api.spec.tag({"name": bp.tag, **({"description": bp.description} if bp.description else {})})
        registry.described = len(registry.blueprints)
        registry.document = registry.api.spec.to_dict()
    return registry.document
