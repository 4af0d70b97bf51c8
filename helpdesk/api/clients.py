"""Client companies over the API, for managers: list, add, and change their terms.

Changes go through `helpdesk.companies`, the same services the admin pages use.
"""

from __future__ import annotations

from marshmallow import fields as ma
from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.api import fields
from helpdesk.api.endpoints import ApiBlueprint, ApiCall
from helpdesk.api.errors import ApiError
from helpdesk.api.schemas import Body, Shape, UserById, user_id_for
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
PHASES = ("onboarding", "production")

bp = ApiBlueprint("clients_api", __name__, tag="clients", tag_description="Client companies (managers).")


class ClientShape(Shape):
    component = "Client"
    slug = fields.text(pattern=SLUG)
    name = fields.Text()
    phase = fields.choice(PHASES)
    active = fields.Boolean()
    protocol_signed_on = ma.Date(allow_none=True)
    package_months = fields.Integer(validate=fields.Between(1, PACKAGE_MONTHS_MAX))
    guardian = UserById(attribute="guardian_id")
    created_at = fields.Instant()


class ClientList(Shape):
    component = "ClientList"
    items = ma.List(ma.Nested(ClientShape))


class NewClient(Body):
    slug = fields.text(pattern=SLUG, required=True, metadata={
        "examples": ["acme-logistics"], "description": "Short lower-case name used in URLs."})
    name = fields.text(min_length=1, max_length=200, blank=False, single_line=True, required=True)


class ClientChange(Body):
    name = fields.text(min_length=1, max_length=200, blank=False, single_line=True)
    active = fields.Boolean()
    guardian = fields.user_reference(
        "The onboarding guardian (an active agent): id or e-mail; null for none.", allow_none=True)
    protocol_signed_on = fields.Day(allow_none=True, metadata={"description": "YYYY-MM-DD; null: back to onboarding."})
    package_months = fields.Integer(validate=fields.Between(1, PACKAGE_MONTHS_MAX),
                                    metadata={"description": "Length of the post-onboarding package."})


def _client_or_404(slug: str) -> Client:
    client = client_by_slug(slug)
    if client is None:
        raise ApiError(404, _("There is no such client."))
    return client


@bp.endpoint("GET", "/clients", summary="List client companies", roles=MANAGERS, response=(200, ClientList))
def list_clients(call: ApiCall):
    clients = list(db.session.scalars(select(Client).order_by(Client.name, Client.id)))
    guardian_ids = {c.guardian_id for c in clients if c.guardian_id}
    if guardian_ids:  # into the session, so that each row's guardian costs no query
        db.session.scalars(select(User).where(User.id.in_(guardian_ids))).all()
    return {"items": clients}


@bp.endpoint(
    "POST",
    "/clients",
    summary="Add a client company",
    description="The client starts in onboarding; PATCH it to set its guardian and terms.",
    roles=MANAGERS,
    body=NewClient,
    response=(201, ClientShape),
    errors=(409,),
)
def add_client(call: ApiCall):
    return create_client(call.body["slug"], call.body["name"])


@bp.endpoint(
    "PATCH",
    "/clients/<slug>",
    summary="Change a client company",
    description=(
        "Only the fields given change. Setting `protocol_signed_on` (the date the acceptance "
        "protocol was signed) moves the client to production; null returns it to onboarding."
    ),
    roles=MANAGERS,
    path={"slug": SLUG},
    body=ClientChange,
    response=(200, ClientShape),
)
def change_client_terms(call: ApiCall, slug: str):
    client = _client_or_404(slug)
    changes = dict(call.body)
    if "guardian" in changes:
        changes["guardian_id"] = user_id_for(changes.pop("guardian"))
    return change_client(client, **changes)
