"""Tickets over the API: file, list, read, change, reply, log time.

Every endpoint calls the same services as the web pages (`tickets.services`), so permissions and
rules exist once; the actor's channel is `api: <token name>`, which the history shows.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from helpdesk.api import (
    ApiBlueprint,
    ApiCall,
    ApiError,
    Body,
    Boolean,
    Choice,
    Date,
    Integer,
    Query,
    String,
    ref,
    register_api,
    user_reference,
)
from helpdesk.api.errors import api_error_response
from helpdesk.api.schemas import instant, user_id_for, user_json
from helpdesk.companies import SLUG_RE
from helpdesk.i18n import _
from tickets import services
from tickets.models import CATEGORIES, PRIORITIES, STATUSES, Message, Ticket
from tickets.services import BREACHING_WITHIN_MAX, Actor, TicketError

STAFF = ("agent", "manager", "admin")
PAGE_SIZE_MAX = 200
STATUS_LIST = "(?:" + "|".join(STATUSES) + ")"

bp = ApiBlueprint("tickets_api", __name__, tag="tickets", tag_description="Tickets, their replies and time.")

# -- what a ticket looks like ----------------------------------------------------------------

_nullable = lambda kind, **kw: {"type": [kind, "null"], **kw}  # noqa: E731

COVERAGE = bp.component(
    "Coverage",
    {
        "type": "object",
        "description": "Whether and by what the ticket is covered. All null until coverage is evaluated.",
        "required": ["source", "covered", "reason"],
        "additionalProperties": False,
        "properties": {
            "source": _nullable("string", description="e.g. bug_guarantee, onboarding, package, plan, none."),
            "covered": _nullable("boolean"),
            "reason": _nullable("string", description="Human-readable reason of the decision."),
        },
    },
)
SLA = bp.component(
    "Sla",
    {
        "type": "object",
        "description": "Due instants and state of the SLA clock. All null until SLA data exists.",
        "required": ["first_response_due", "resolution_due", "paused", "breached"],
        "additionalProperties": False,
        "properties": {
            "first_response_due": _nullable("string", format="date-time"),
            "resolution_due": _nullable("string", format="date-time"),
            "paused": _nullable("boolean", description="The clock is paused (waiting on the client)."),
            "breached": _nullable("boolean"),
        },
    },
)
TICKET = bp.component(
    "Ticket",
    {
        "type": "object",
        "required": [
            "id", "number", "subject", "description", "status", "category", "priority", "client",
            "requester", "assignee", "created_at", "updated_at", "coverage", "sla",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "string", "description": "What people call the ticket, e.g. OP-42."},
            "subject": {"type": "string"},
            "description": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "priority": {"type": "string", "enum": list(PRIORITIES)},
            "client": {"type": "string", "description": "The client company's slug."},
            "requester": ref("UserRef"),
            "assignee": {"anyOf": [ref("UserRef"), {"type": "null"}]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "coverage": COVERAGE,
            "sla": SLA,
        },
    },
)
TICKET_PAGE = bp.component(
    "TicketPage",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": TICKET},
            "next_cursor": _nullable("string", description="Pass as `cursor` for the next page; null on the last."),
        },
    },
)
MESSAGE = bp.component(
    "Message",
    {
        "type": "object",
        "required": ["id", "body", "internal", "author", "via", "created_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "body": {"type": "string", "description": "Markdown."},
            "internal": {"type": "boolean", "description": "An internal note (only staff see these)."},
            "author": ref("UserRef"),
            "via": {"type": "string", "description": "The channel it came through: web, api, ..."},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
MESSAGE_LIST = bp.component(
    "MessageList",
    {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": MESSAGE}},
    },
)
TIME_ENTRY = bp.component(
    "TimeEntry",
    {
        "type": "object",
        "description": "Not served yet: the endpoint answers 501 until time entries exist.",
        "required": ["id", "ticket_id", "minutes", "date"],
        "properties": {
            "id": {"type": "integer"},
            "ticket_id": {"type": "integer"},
            "minutes": {"type": "integer"},
            "date": {"type": "string", "format": "date"},
            "note": {"type": "string"},
        },
    },
)


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """The one serializer of a ticket. Coverage and SLA are read from optional attributes
    (`ticket.coverage`, `ticket.sla`) and stay null until those engines provide them."""
    coverage = getattr(ticket, "coverage", None)
    sla = getattr(ticket, "sla", None)
    return {
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "category": ticket.category,
        "priority": ticket.priority,
        "client": ticket.client.slug,
        "requester": user_json(ticket.requester),
        "assignee": user_json(ticket.assignee),
        "created_at": instant(ticket.created_at),
        "updated_at": instant(ticket.updated_at),
        "coverage": {
            "source": getattr(coverage, "source", None),
            "covered": getattr(coverage, "covered", None),
            "reason": getattr(coverage, "reason", None),
        },
        "sla": {
            "first_response_due": instant(getattr(sla, "first_response_due", None)),
            "resolution_due": instant(getattr(sla, "resolution_due", None)),
            "paused": getattr(sla, "paused", None),
            "breached": getattr(sla, "breached", None),
        },
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "body": message.body,
        "internal": message.internal,
        "author": user_json(message.author),
        "via": message.via,
        "created_at": instant(message.created_at),
    }


def _actor(call: ApiCall) -> Actor:
    return Actor(call.user, via=call.via)


def _fresh(call: ApiCall, ticket_id: int) -> dict[str, Any]:
    """The ticket as it is now (after a service committed), with its people loaded."""
    return ticket_json(services.get_ticket(call.user, ticket_id))


@bp.errorhandler(TicketError)
def ticket_error(error: TicketError):
    code = {403: "forbidden", 404: "not_found", 409: "conflict"}.get(error.status, "validation_failed")
    return api_error_response(ApiError(error.status, error.message, code=code, fields=error.fields))


# -- endpoints --------------------------------------------------------------------------------


@bp.endpoint(
    "POST",
    "/tickets",
    summary="File a ticket",
    description="Client users file tickets for their company; staff get 403.",
    body=Body(
        {
            "subject": String(min_length=1, max_length=200, blank=False),
            "description": String(
                min_length=1, max_length=lambda: current_app.config["DESCRIPTION_MAX_CHARS"], blank=False,
                description="Markdown.",
            ),
            "category": Choice(CATEGORIES, description="question, configuration_change or bug."),
            "priority": Choice(PRIORITIES, default="normal"),
        },
        required=("subject", "description", "category"),
    ),
    response=(201, TICKET),
    response_description="The filed ticket, with its coverage and due instants.",
    errors=(403,),
)
def create_ticket(call: ApiCall):
    ticket = services.file_ticket(_actor(call), **{"priority": "normal", **call.body})
    return 201, _fresh(call, ticket.id)


@bp.endpoint(
    "GET",
    "/tickets",
    summary="List tickets",
    description=(
        "Newest first, the tickets the token's user may see: staff all, a client admin the "
        "company's, a client user their own. Keyset pagination: pass `next_cursor` as `cursor`."
    ),
    query=Query(
        {
            "status": String(
                pattern=f"^(?:all|{STATUS_LIST}(?:,{STATUS_LIST})*)$",
                description="Comma-separated statuses, or `all` (the default).",
            ),
            "category": Choice(CATEGORIES),
            "priority": Choice(PRIORITIES),
            "client": String(pattern=SLUG_RE.pattern, description="A client company's slug."),
            "assignee": String(
                pattern="^(?:none|me|[1-9][0-9]{0,9})$",
                description="A user id, `me`, or `none` for unassigned tickets.",
            ),
            "breaching_within_minutes": Integer(
                minimum=1,
                maximum=BREACHING_WITHIN_MAX,
                description=(
                    "Tickets whose SLA is due within this many minutes. Until the SLA engine "
                    "stores due instants this answers 422 (SLA data not available)."
                ),
            ),
            "limit": Integer(minimum=1, maximum=PAGE_SIZE_MAX, default=50),
            "cursor": String(min_length=1, max_length=200, description="`next_cursor` of the previous page."),
        }
    ),
    response=(200, TICKET_PAGE),
)
def list_tickets(call: ApiCall):
    args = {name: str(value) for name, value in call.query.items()}
    args.setdefault("status", "all")
    if args.get("assignee") == "me":
        args["assignee"] = str(call.user.id)
    filters = services.parse_queue_filters(args, default_limit=50)
    rows, next_cursor = services.queue_page(call.user, filters)
    return {"items": [ticket_json(t) for t in rows], "next_cursor": next_cursor}


@bp.endpoint("GET", "/tickets/<int:ticket_id>", summary="Read a ticket", response=(200, TICKET))
def read_ticket(call: ApiCall, ticket_id: int):
    return _fresh(call, ticket_id)


@bp.endpoint(
    "PATCH",
    "/tickets/<int:ticket_id>",
    summary="Change a ticket (staff)",
    description=(
        "Only the fields given change, all or none: a refused change leaves the ticket as it was. "
        "A category change re-evaluates coverage and is recorded with `reason`. Clients get 403."
    ),
    body=Body(
        {
            "status": Choice(STATUSES),
            "priority": Choice(PRIORITIES),
            "category": Choice(CATEGORIES),
            "reason": String(max_length=500, description="Why the category changes (kept in the history)."),
            "assignee": user_reference("An active staff member's id or e-mail; null: nobody.", nullable=True),
        }
    ),
    response=(200, TICKET),
    errors=(403, 409),
)
def change_ticket(call: ApiCall, ticket_id: int):
    ticket = services.get_ticket(call.user, ticket_id, for_update=True)
    changes = dict(call.body)
    if "assignee" in changes:
        changes["assignee_id"] = user_id_for(changes.pop("assignee"))
    services.update_ticket(_actor(call), ticket, **changes)
    return _fresh(call, ticket_id)


@bp.endpoint(
    "GET",
    "/tickets/<int:ticket_id>/replies",
    summary="Read a ticket's thread",
    description="Public replies in order; staff also see internal notes.",
    response=(200, MESSAGE_LIST),
)
def list_replies(call: ApiCall, ticket_id: int):
    ticket = services.get_ticket(call.user, ticket_id)
    return {"items": [message_json(m) for m in services.thread(call.user, ticket)]}


@bp.endpoint(
    "POST",
    "/tickets/<int:ticket_id>/replies",
    summary="Reply to a ticket",
    description=(
        "A public reply, or with `internal: true` an internal note (staff only). A client's reply "
        "reopens a ticket waiting on them or recently resolved; a closed ticket answers 409."
    ),
    body=Body(
        {
            "body": String(
                min_length=1, max_length=lambda: current_app.config["REPLY_MAX_CHARS"], blank=False,
                description="Markdown.",
            ),
            "internal": Boolean(default=False),
        },
        required=("body",),
    ),
    response=(201, TICKET),
    response_description="The ticket after the reply (its status may have moved).",
    errors=(403, 409),
)
def add_reply(call: ApiCall, ticket_id: int):
    ticket = services.get_ticket(call.user, ticket_id)
    services.add_message(_actor(call), ticket, body=call.body["body"], internal=call.body.get("internal", False))
    return 201, _fresh(call, ticket_id)


@bp.endpoint(
    "POST",
    "/tickets/<int:ticket_id>/time-entries",
    summary="Log time on a ticket (staff) — not implemented yet",
    description="Declared so the contract is fixed; answers 501 until time entries exist.",
    roles=STAFF,
    body=Body(
        {
            "minutes": Integer(minimum=1, maximum=24 * 60),
            "date": Date(description="The day the work was done."),
            "note": String(max_length=2000),
        },
        required=("minutes", "date"),
    ),
    response=(201, TIME_ENTRY),
    response_description="The time entry, with the coverage it was charged to.",
    errors=(501,),
)
def log_time(call: ApiCall, ticket_id: int):
    services.get_ticket(call.user, ticket_id)  # another company's ticket is a 404, as everywhere
    raise ApiError(501, _("Time entries are not available yet."), code="not_implemented")


def init_app(app: Any) -> None:
    register_api(app, bp)
