"""API plumbing every domain's endpoints stand on: personal tokens, declared endpoints, JSON
errors, rate limits and the OpenAPI document. Nothing here knows tickets or plans.

A domain adds endpoints like this (see `tickets/api.py`)::

    from helpdesk.api import ApiBlueprint, ApiCall, Body, Integer, register_api

    bp = ApiBlueprint("plans_api", __name__, tag="plans")
    PLAN = bp.component("Plan", {...json schema...})

    @bp.endpoint("POST", "/plans", summary="Create a plan", roles=("manager", "admin"),
                 body=Body({"name": String(min_length=1, max_length=200)}, required=("name",)),
                 response=(201, PLAN), errors=(409,))
    def create_plan(call: ApiCall):
        return 201, plan_json(services.create_plan(call.user, **call.body))

    # in the domain's init_app(app):
    register_api(app, bp)
"""

from __future__ import annotations

from flask import Flask

from helpdesk.api.endpoints import ApiBlueprint, ApiCall, ref, register_api
from helpdesk.api.errors import (
    ApiError,
    error_response,
    http_error_response,
    is_api_request,
    service_error_response,
)
from helpdesk.api.fields import (
    MAX_ID,
    AnyOf,
    Array,
    Body,
    Boolean,
    Choice,
    Date,
    Field,
    Integer,
    Query,
    String,
    user_reference,
)

__all__ = [
    "MAX_ID",
    "AnyOf",
    "Array",
    "ApiBlueprint",
    "ApiCall",
    "ApiError",
    "Body",
    "Boolean",
    "Choice",
    "Date",
    "Field",
    "Integer",
    "Query",
    "String",
    "error_response",
    "http_error_response",
    "init_app",
    "is_api_request",
    "ref",
    "register_api",
    "service_error_response",
    "user_reference",
]


def init_app(app: Flask) -> None:
    """The kernel's part of the API: the document, client companies, token pages and command."""
    from helpdesk.api import clients, openapi, views
    from helpdesk.api.cli import tokens_cli

    register_api(app, openapi.bp)
    register_api(app, clients.bp)
    app.register_blueprint(views.bp)
    app.cli.add_command(tokens_cli)
