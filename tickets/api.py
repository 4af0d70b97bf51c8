"""Tickets over the API: file, list, read, change, reply, log time.

Every endpoint calls the same services as the web pages (`tickets.services`, `tickets.coverage`),
so permissions and rules exist once; the actor's channel is `api: <token name>`, which the
history shows. Coverage reasons are rendered by `plans.labels`, as on the ticket pages.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from helpdesk.api import (
    ApiBlueprint,
    ApiCall,
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
from helpdesk.api.schemas import instant, user_id_for, user_json
from helpdesk.companies import SLUG_RE
from helpdesk.errors import ServiceError
from plans import services as coverage_services
from plans.coverage import MAX_ENTRY_MINUTES, SOURCES
from plans.labels import render_reason
from plans.models import APPROVALS, CHARGES, CoverageDecision
from tickets import coverage as ticket_coverage
from tickets import services
from tickets.models import CATEGORIES, PRIORITIES, STATUSES, Message, Ticket, TimeEntry
from tickets.services import BREACHING_WITHIN_MAX, Actor

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
        "description": (
            "What covers the ticket now: its latest coverage decision. `source`, `covered` and "
            "`reason` are null only while coverage is undecided (its evaluation failed when the "
            "ticket was filed; the ticket then waits for a manager, `approval` pending)."
        ),
        "required": ["source", "covered", "reason", "approval"],
        "additionalProperties": False,
        "properties": {
            "source": {
                "type": ["string", "null"],
                "enum": [*SOURCES, None],
                "description": "bug_fix, onboarding, post_onboarding_package, support_plan, or none (not covered).",
            },
            "covered": {"type": ["boolean", "null"]},
            "reason": {
                "type": ["string", "null"],
                "description": "Why, in the token user's language (as the ticket page says it).",
            },
            "approval": {
                "type": ["string", "null"],
                "enum": [*APPROVALS, None],
                "description": (
                    "pending: waiting for a manager's approval; billable, goodwill or declined: a "
                    "manager's settlement; null: nothing to approve."
                ),
            },
        },
    },
)
SLA = bp.component(
    "Sla",
    {
        "type": "object",
        "description": (
            "The ticket's SLA clocks. A due instant is null when no SLA policy applies to the "
            "ticket, and while its clock is paused short of its target (it is known again when "
            "the clock resumes); a stopped clock keeps the instant it was due."
        ),
        "required": ["first_response_due", "resolution_due", "paused", "breached"],
        "additionalProperties": False,
        "properties": {
            "first_response_due": {"type": ["string", "null"], "format": "date-time"},
            "resolution_due": {"type": ["string", "null"], "format": "date-time"},
            "paused": {"type": "boolean", "description": "The clocks are paused: the ticket waits on the client."},
            "breached": {"type": "boolean", "description": "A breach is recorded on a clock still running."},
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
ENTRY_COVERAGE = bp.component(
    "TimeEntryCoverage",
    {
        "type": "object",
        "description": "The coverage decision of this entry's minutes, and how they were charged.",
        "required": ["source", "covered", "reason", "approval", "covered_minutes", "overage_minutes", "charges"],
        "additionalProperties": False,
        "properties": {
            "source": {"type": "string", "enum": list(SOURCES)},
            "covered": {"type": "boolean"},
            "reason": {"type": "string", "description": "Why, in the token user's language."},
            "approval": {"type": ["string", "null"], "enum": [*APPROVALS, None]},
            "covered_minutes": {"type": "integer", "minimum": 0, "description": "Billed minutes within coverage."},
            "overage_minutes": {"type": "integer", "minimum": 0, "description": "Billed minutes beyond coverage."},
            "charges": {
                "type": "array",
                "description": "Minutes by who pays for them: the allowance, nobody (free), or for overage "
                "billable, pending (a manager's approval), goodwill, unbilled.",
                "items": {
                    "type": "object",
                    "required": ["charge", "minutes"],
                    "additionalProperties": False,
                    "properties": {
                        "charge": {"type": "string", "enum": list(CHARGES)},
                        "minutes": {"type": "integer"},
                    },
                },
            },
        },
    },
)
TIME_ENTRY = bp.component(
    "TimeEntry",
    {
        "type": "object",
        "required": [
            "id", "ticket_id", "minutes", "billed_minutes", "date", "note", "author", "coverage", "created_at",
            "ticket",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "ticket_id": {"type": "integer"},
            "minutes": {"type": "integer", "minimum": 1, "maximum": MAX_ENTRY_MINUTES, "description": "As logged."},
            "billed_minutes": {
                "type": "integer",
                "minimum": 0,
                "description": "Rounded up to the plan's billing increment (free work: as logged).",
            },
            "date": {"type": "string", "format": "date", "description": "The day the work was done."},
            "note": {"type": "string"},
            "author": ref("UserRef"),
            "coverage": ENTRY_COVERAGE,
            "created_at": {"type": "string", "format": "date-time"},
            "ticket": {**TICKET, "description": "The ticket after the entry: its coverage may have changed."},
        },
    },
)


def coverage_json(ticket: Ticket, decision: CoverageDecision | None) -> dict[str, Any]:
    """The ticket's coverage from its denormalised columns; the reason from its latest decision
    (``plans.services.current_decision(s)``), rendered as the ticket pages render it."""
    decided = ticket.coverage_source is not None and decision is not None
    return {
        "source": ticket.coverage_source,
        "covered": ticket.coverage_covered,
        "reason": render_reason(decision) if decided else None,
        "approval": ticket.coverage_approval,
    }


def ticket_json(ticket: Ticket, decision: CoverageDecision | None) -> dict[str, Any]:
    """The one serializer of a ticket; `decision` is its latest coverage decision (lists load
    them for the whole page in one query)."""
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
        "coverage": coverage_json(ticket, decision),
        "sla": {
            "first_response_due": instant(ticket.first_response_due_at),
            "resolution_due": instant(ticket.resolution_due_at),
            "paused": ticket.status == "waiting_on_client",
            "breached": ticket.sla_state == "breached",
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
    return ticket_json(services.get_ticket(call.user, ticket_id), coverage_services.current_decision(ticket_id))


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
                    "Tickets with a running SLA clock due within this many minutes (not those "
                    "already past due)."
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
    decisions = coverage_services.current_decisions([t.id for t in rows])
    return {"items": [ticket_json(t, decisions.get(t.id)) for t in rows], "next_cursor": next_cursor}


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


# The service names the day `work_date` (the web form's field); the API calls it `date`.
_ENTRY_FIELDS = {"work_date": "date"}


def time_entry_json(call: ApiCall, entry: TimeEntry) -> dict[str, Any]:
    """The entry with the decision its minutes got and how they were charged, then the ticket."""
    decision = coverage_services.time_entry_decision(entry.id)
    charge = decision.charge or {}
    charges = coverage_services.time_entry_charges(entry.ticket_id).get(entry.id, [])
    return {
        "id": entry.id,
        "ticket_id": entry.ticket_id,
        "minutes": entry.minutes,
        "billed_minutes": charge.get("billed_minutes", entry.minutes),
        "date": entry.work_date.isoformat(),
        "note": entry.note,
        "author": user_json(call.user),
        "coverage": {
            "source": decision.source,
            "covered": decision.covered,
            "reason": render_reason(decision),
            "approval": decision.approval,
            "covered_minutes": charge.get("covered_minutes", 0),
            "overage_minutes": charge.get("overage_minutes", 0),
            "charges": [{"charge": name, "minutes": minutes} for name, minutes in charges],
        },
        "created_at": instant(entry.created_at),
        "ticket": _fresh(call, entry.ticket_id),
    }


@bp.endpoint(
    "POST",
    "/tickets/<int:ticket_id>/time-entries",
    summary="Log time on a ticket (staff)",
    description=(
        "Minutes worked on a day, as on the agent's ticket page: the entry gets its own coverage "
        "decision, its minutes are rounded up to the plan's billing increment and charged to the "
        "allowance, as free work, or as overage. The day is today or earlier, not before the day "
        "the ticket was filed (less one) and at most `TIME_ENTRY_MAX_AGE_DAYS` (31) back. Answers "
        "the entry and the ticket after it, whose coverage may have changed."
    ),
    roles=STAFF,
    body=Body(
        {
            "minutes": Integer(minimum=1, maximum=MAX_ENTRY_MINUTES, description="Minutes worked (one day at most)."),
            "date": Date(description="The day the work was done."),
            "note": String(max_length=500),
        },
        required=("minutes", "date"),
    ),
    response=(201, TIME_ENTRY),
    response_description="The time entry, with the coverage it was charged to, and the ticket after it.",
)
def log_time(call: ApiCall, ticket_id: int):
    ticket = services.get_ticket(call.user, ticket_id)  # another company's ticket is a 404, as everywhere
    try:
        entry = ticket_coverage.log_time(
            _actor(call), ticket, minutes=call.body["minutes"], work_date=call.body["date"],
            note=call.body.get("note", ""),
        )
    except ServiceError as exc:
        exc.fields = {_ENTRY_FIELDS.get(name, name): message for name, message in exc.fields.items()}
        raise
    return 201, time_entry_json(call, entry)


def init_app(app: Any) -> None:
    register_api(app, bp)
