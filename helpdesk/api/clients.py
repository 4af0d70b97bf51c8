"""Client companies over the API, for managers: list, add, and change their terms.

Changes go through `helpdesk.companies`, the same services the admin pages use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.api.endpoints import ApiBlueprint, ApiCall, ref
from helpdesk.api.errors import ApiError
from helpdesk.api.fields import Body, Boolean, Date, Integer, String, user_reference
from helpdesk.api.schemas import instant, user_id_for, user_json
from helpdesk.companies import (
    PACKAGE_MONTHS_MAX,
    SLUG_RE,
    Client,
    change_client,
    client_by_slug,
    create_client,
)
from helpdesk.extensions import db
from helpdesk.i18n import _

MANAGERS = ("manager", "admin")
SLUG = SLUG_RE.pattern

bp = ApiBlueprint("clients_api", __name__, tag="clients", tag_description="Client companies (managers).")

CLIENT = bp.component(
    "Client",
    {
        "type": "object",
        "required": [
            "slug", "name", "phase", "active", "protocol_signed_on", "package_months", "guardian", "created_at",
        ],
        "additionalProperties": False,
        "properties": {
            "slug": {"type": "string", "pattern": SLUG},
            "name": {"type": "string"},
            "phase": {"type": "string", "enum": ["onboarding", "production"]},
            "active": {"type": "boolean"},
            "protocol_signed_on": {"type": ["string", "null"], "format": "date"},
            "package_months": {"type": "integer", "minimum": 1, "maximum": PACKAGE_MONTHS_MAX},
            "guardian": {"anyOf": [ref("UserRef"), {"type": "null"}]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
CLIENT_LIST = bp.component(
    "ClientList",
    {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": CLIENT}},
    },
)


def client_json(client: Client, guardian: User | None = None) -> dict[str, Any]:
    return {
        "slug": client.slug,
        "name": client.name,
        "phase": client.phase,
        "active": client.active,
        "protocol_signed_on": client.protocol_signed_on.isoformat() if client.protocol_signed_on else None,
        "package_months": client.package_months,
        "guardian": user_json(guardian),
        "created_at": instant(client.created_at),
    }


def _guardian(client: Client) -> User | None:
    return db.session.get(User, client.guardian_id) if client.guardian_id else None


def _client_or_404(slug: str) -> Client:
    client = client_by_slug(slug)
    if client is None:
        raise ApiError(404, _("There is no such client."))
    return client


@bp.endpoint("GET", "/clients", summary="List client companies", roles=MANAGERS, response=(200, CLIENT_LIST))
def list_clients(call: ApiCall):
    clients = list(db.session.scalars(select(Client).order_by(Client.name, Client.id)))
    guardian_ids = {c.guardian_id for c in clients if c.guardian_id}
    guardians = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(guardian_ids)))} if guardian_ids else {}
    )
    return {"items": [client_json(c, guardians.get(c.guardian_id)) for c in clients]}


@bp.endpoint(
    "POST",
    "/clients",
    summary="Add a client company",
    description="The client starts in onboarding; PATCH it to set its guardian and terms.",
    roles=MANAGERS,
    body=Body(
        {
            "slug": String(pattern=SLUG, example="acme-logistics", description="Short lower-case name used in URLs."),
            "name": String(min_length=1, max_length=200, blank=False),
        },
        required=("slug", "name"),
    ),
    response=(201, CLIENT),
    errors=(409,),
)
def add_client(call: ApiCall):
    client = create_client(call.body["slug"], call.body["name"])
    return 201, client_json(client)


@bp.endpoint(
    "PATCH",
    "/clients/<slug>",
    summary="Change a client company",
    description=(
        "Only the fields given change. Setting `protocol_signed_on` (the date the acceptance "
        "protocol was signed) moves the client to production; null returns it to onboarding."
    ),
    roles=MANAGERS,
    path={"slug": String(pattern=SLUG, example="acme")},
    body=Body(
        {
            "name": String(min_length=1, max_length=200, blank=False),
            "active": Boolean(),
            "guardian": user_reference("The onboarding guardian (an active agent): id or e-mail; null for none.", nullable=True),
            "protocol_signed_on": Date(nullable=True, description="YYYY-MM-DD; null: back to onboarding."),
            "package_months": Integer(
                minimum=1, maximum=PACKAGE_MONTHS_MAX, description="Length of the post-onboarding package."
            ),
        }
    ),
    response=(200, CLIENT),
)
def change_client_terms(call: ApiCall, slug: str):
    client = _client_or_404(slug)
    changes = dict(call.body)
    if "guardian" in changes:
        changes["guardian_id"] = user_id_for(changes.pop("guardian"))
    change_client(client, **changes)
    return client_json(client, _guardian(client))
