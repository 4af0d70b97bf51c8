"""The OpenAPI 3.1 document, written by flask-smorest (apispec) from the declared endpoints.

Every path in it was added when its blueprint was registered (`register_api`), from the same
schemas that check the requests and shape the responses, so it describes what the API does.
"""

from __future__ import annotations

from flask import jsonify

from helpdesk.api.endpoints import ApiBlueprint, ApiCall, current_document

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
def openapi_document(call: ApiCall):
    return jsonify(current_document())
