"""The OpenAPI 3.1 document, written from the endpoints the app actually routes.

Paths come from `app.url_map`: only rules whose view carries an endpoint declaration appear, and
every declared endpoint is routed, so the document cannot describe an endpoint that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from helpdesk.api.endpoints import EXTENSION_KEY, ApiBlueprint, ApiCall, ApiRegistry, Endpoint
from helpdesk.api.schemas import CORE_SCHEMAS

DESCRIPTION = """\
Opiekun's REST API. Authenticate every call with a personal token:
`Authorization: Bearer opk_...` (create one under Preferences -> API tokens, or with
`flask tokens create --email E`). A token acts as its user, with the same permissions as the web
interface; another company's ids answer 404.

Every error has the shape `{"error": {"code", "message", "fields"}}`. Lists are paginated by
keyset: pass `next_cursor` back as `cursor` until it is null. Each token has a rate limit;
beyond it the API answers 429 with `Retry-After`. Send `Idempotency-Key` on POST and PATCH to retry
safely: a repeat with the same key answers the first result (for 24 hours) and changes nothing.
"""


def build_document(app: Flask) -> dict[str, Any]:
    registry: ApiRegistry = app.extensions[EXTENSION_KEY]
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        spec: Endpoint | None = getattr(app.view_functions.get(rule.endpoint), "api_endpoint", None)
        if spec is None:
            continue
        paths.setdefault(spec.openapi_path, {})[spec.method.lower()] = spec.operation()
    schemas: dict[str, Any] = dict(CORE_SCHEMAS)
    tags = []
    for bp in registry.blueprints:
        schemas.update(bp.components)
        if bp.endpoints:
            tags.append({"name": bp.tag, "description": bp.tag_description} if bp.tag_description else {"name": bp.tag})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Opiekun API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A personal API token (opk_...)."}
            },
        },
        "security": [{"bearerAuth": []}],
    }


def current_document() -> dict[str, Any]:
    """The document of the running app, built once per app."""
    registry: ApiRegistry = current_app.extensions[EXTENSION_KEY]
    if registry.document is None:
        registry.document = build_document(current_app)  # type: ignore[arg-type]
    return registry.document


bp = ApiBlueprint("api", __name__, tag="meta", tag_description="About the API itself.")


@bp.endpoint(
    "GET",
    "/openapi.json",
    summary="This OpenAPI document",
    description="Public: describes every endpoint, parameter, body and error as implemented.",
    response=(200, {"type": "object", "required": ["openapi", "paths"]}),
    response_description="The OpenAPI 3.1 document.",
    auth=False,
    errors=(429,),
)
def openapi_document(call: ApiCall) -> dict[str, Any]:
    return current_document()
