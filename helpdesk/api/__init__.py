"""API plumbing every domain's endpoints stand on: personal tokens, declared endpoints (on
flask-smorest), JSON errors, rate limits and the OpenAPI document. Nothing here knows tickets or
plans.

A domain adds endpoints like this (see `tickets/api.py`)::

    from helpdesk.api import ApiBlueprint, ApiCall, Body, Shape, fields, register_api

    bp = ApiBlueprint("plans_api", __name__, tag="plans")

    class PlanIn(Body):
        name = fields.text(min_length=1, max_length=200, blank=False, required=True)

    class Plan(Shape):
        component = "Plan"
        id = fields.Integer()
        name = fields.Text()

    @bp.endpoint("POST", "/plans", summary="Create a plan", roles=("manager", "admin"),
                 body=PlanIn, response=(201, Plan), errors=(409,))
    def create_plan(call: ApiCall):
        return services.create_plan(call.user, **call.body)   # dumped by Plan

    # in the domain's init_app(app):
    register_api(app, bp)
"""

from __future__ import annotations

from flask import Flask

from helpdesk.api import fields
from helpdesk.api.endpoints import ApiBlueprint, ApiCall, init_api, register_api
from helpdesk.api.errors import (
    ApiError,
    error_response,
    http_error_response,
    is_api_request,
    service_error_response,
)
from helpdesk.api.schemas import Body, Query, Shape, UserRef, user_id_for

__all__ = [
    "ApiBlueprint",
    "ApiCall",
    "ApiError",
    "Body",
    "Query",
    "Shape",
    "UserRef",
    "error_response",
    "fields",
    "http_error_response",
    "init_app",
    "is_api_request",
    "register_api",
    "user_id_for",
    "service_error_response",
]


def init_app(app: Flask) -> None:
    """The kernel's part of the API: the app's Api, the document, client companies, token pages."""
    from helpdesk.api import clients, openapi, views
    from helpdesk.api.cli import tokens_cli

    init_api(app, description=openapi.DESCRIPTION)
    register_api(app, openapi.bp)
    register_api(app, clients.bp)
    app.register_blueprint(views.bp)
    app.cli.add_command(tokens_cli)
