"""One error shape for everything under /api: `{"error": {"code", "message", "fields"}}`.

Under /api no failure is ever an HTML page: routing errors (404, 405), refused requests and, as a
last resort, unexpected exceptions (logged, then a JSON 500) all answer in this shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.i18n import _l

API_PREFIX = "/api"

# The machine-readable code for each status; a few errors bring a more precise one.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
}

MESSAGES = {
    400: _l("The request is malformed."),
    401: _l("A valid API token is required: send the header Authorization: Bearer <token>."),
    403: _l("You may not do this."),
    404: _l("There is no such resource."),
    405: _l("This method is not allowed here."),
    413: _l("The request body is too large."),
    415: _l("Send the body as JSON (Content-Type: application/json)."),
    429: _l("Too many requests; retry after the number of seconds in the Retry-After header."),
    500: _l("Something went wrong on our side; the error is logged."),
    501: _l("This is not implemented yet."),
}

DESCRIPTIONS = {
    400: "Malformed request: the body is not valid JSON, or not a JSON object.",
    401: "No token, an unknown token or a revoked token.",
    403: "The token's user may not do this.",
    404: "No such resource for this token's user (other companies' ids look exactly like this).",
    409: "The change conflicts with the resource's current state.",
    413: "The request body is too large.",
    415: "The body is not sent as application/json.",
    422: "Some values are not acceptable; `fields` names each one and says why.",
    429: "Rate limit of this token exceeded; retry after Retry-After seconds.",
    501: "Not implemented yet.",
}


def is_api_request() -> bool:
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class ApiError(Exception):
    """Raised anywhere in an API request to answer with this error."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or str(MESSAGES.get(status, "")))
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message or str(MESSAGES.get(status, ""))
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": dict(fields or {})}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error_response(error: ApiError) -> Response:
    db.session.rollback()
    return error_response(error.status, error.code, error.message, error.fields, error.headers)


def service_error_response(error: ServiceError, field_names: Mapping[str, str] | None = None) -> Response:
    """A refused service call in the API's shape, with the status its class carries; `field_names`
    renames the services' form field names to the API's body names where they differ."""
    names = field_names or {}
    fields = {names.get(name, name): message for name, message in error.fields.items()}
    return api_error_response(ApiError(error.status, error.message, fields=fields))


def http_error_response(error: HTTPException) -> Response:
    """A werkzeug/Flask HTTP error (routing, 413, 429 ...) in the API's shape, keeping its headers."""
    db.session.rollback()
    status = error.code or 500
    code = CODES.get(status) or (error.name or "error").lower().replace(" ", "_")
    message = str(MESSAGES[status]) if status in MESSAGES else (error.description or "")
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in ("content-type", "content-length")
    }
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return error_response(status, code, message, headers=headers)


def unexpected_error_response(error: Exception) -> Response:
    """The last resort: log the exception and answer JSON 500 (tests prove it never happens)."""
    current_app.logger.exception("Unexpected error in %s %s", request.method, request.path)
    db.session.rollback()
    return error_response(500, CODES[500], str(MESSAGES[500]))
