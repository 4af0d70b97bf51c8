"""Tickets over the API: file, list, read, change, reply, log time.

Every endpoint calls the same services as the web pages (`tickets.services`, `tickets.coverage`),
so permissions and rules exist once; the actor's channel is `api: <token name>`, which the
history shows. Coverage reasons are rendered by `plans.labels`, as on the ticket pages.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields as ma

from helpdesk.accounts import User
from helpdesk.api import (
    ApiBlueprint,
    ApiCall,
    Body,
    Query,
    Shape,
    UserRef,
    register_api,
    user_id_for,
)
from helpdesk.api import fields as f
from helpdesk.companies import SLUG_RE, Client
from helpdesk.errors import Forbidden, ServiceError
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.transactions import kept_after_commit
from plans import services as coverage_services
from plans.coverage import MAX_ENTRY_MINUTES, SOURCES
from plans.labels import render_reason
from plans.models import APPROVALS, CHARGES, CoverageDecision
from tickets import access, csat, followers, services
from tickets import coverage as ticket_coverage
from tickets.models import CATEGORIES, PRIORITIES, STATUSES, Ticket, TimeEntry
from tickets.queue import BREACHING_WITHIN_MAX, parse_queue_filters, queue_page
from tickets.services import Actor

STAFF = ("agent", "manager", "admin")
PAGE_SIZE_MAX = 200
STATUS_LIST = "(?:" + "|".join(STATUSES) + ")"

bp = ApiBlueprint("tickets_api", __name__, tag="tickets", tag_description="Tickets, their replies and time.")

# -- what a ticket looks like ----------------------------------------------------------------


class TicketView:
    """A ticket as the Ticket shape reads it: its columns, its latest coverage decision (lists
    load them for the whole page in one query), and the few values derived from them."""

    def __init__(self, ticket: Ticket, decision: CoverageDecision | None, **loaded: Any) -> None:
        self.ticket = ticket
        self.decision = decision
        self.__dict__.update(loaded)  # related objects already in hand (client, requester, assignee)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ticket, name)

    @property
    def coverage(self) -> TicketView:
        return self

    @property
    def sla(self) -> TicketView:
        return self

    @property
    def reason(self) -> str | None:
        """Rendered as the ticket pages render it, in the token user's language."""
        decided = self.ticket.coverage_source is not None and self.decision is not None
        return render_reason(self.decision) if decided else None

    @property
    def paused(self) -> bool:
        return self.ticket.status == "waiting_on_client"

    @property
    def breached(self) -> bool:
        return self.ticket.sla_state == "breached"


class Coverage(Shape):
    """What covers the ticket now: its latest coverage decision. `source`, `covered` and
    `reason` are null only while coverage is undecided (its evaluation failed when the ticket
    was filed; the ticket then waits for a manager, `approval` pending)."""

    component = "Coverage"
    source = f.choice(SOURCES, allow_none=True, attribute="coverage_source", metadata={
        "description": "bug_fix, onboarding, post_onboarding_package, support_plan, or none (not covered)."})
    covered = f.Boolean(allow_none=True, attribute="coverage_covered")
    reason = f.Text(allow_none=True, metadata={
        "description": "Why, in the token user's language (as the ticket page says it)."})
    approval = f.choice(APPROVALS, allow_none=True, attribute="coverage_approval", metadata={
        "description": "pending: waiting for a manager's approval; billable, goodwill or declined: a "
        "manager's settlement; null: nothing to approve."})


class Sla(Shape):
    """The ticket's SLA clocks. A due instant is null when no SLA policy applies to the ticket,
    and while its clock is paused short of its target (it is known again when the clock
    resumes); a stopped clock keeps the instant it was due."""

    component = "Sla"
    first_response_due = f.Instant(allow_none=True, attribute="first_response_due_at")
    resolution_due = f.Instant(allow_none=True, attribute="resolution_due_at")
    paused = f.Boolean(metadata={"description": "The clocks are paused: the ticket waits on the client."})
    breached = f.Boolean(metadata={"description": "A breach is recorded on a clock still running."})


class TicketShape(Shape):
    component = "Ticket"
    id = f.Integer()
    number = f.Text(metadata={"description": "What people call the ticket, e.g. OP-42."})
    subject = f.Text()
    description = f.Text()
    status = f.choice(STATUSES)
    category = f.choice(CATEGORIES)
    priority = f.choice(PRIORITIES)
    client = f.Text(attribute="client.slug", metadata={"description": "The client company's slug."})
    requester = ma.Nested(UserRef)
    assignee = ma.Nested(UserRef, allow_none=True)
    created_at = f.Instant()
    updated_at = f.Instant()
    coverage = ma.Nested(Coverage)
    sla = ma.Nested(Sla)


class TicketPage(Shape):
    component = "TicketPage"
    items = ma.List(ma.Nested(TicketShape))
    next_cursor = f.Text(allow_none=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last."})


class MessageShape(Shape):
    component = "Message"
    id = f.Integer()
    body = f.Text(metadata={"description": "Markdown."})
    internal = f.Boolean(metadata={"description": "An internal note (only staff see these)."})
    author = ma.Nested(UserRef)
    via = f.Text(metadata={"description": "The channel it came through: web, api, ..."})
    created_at = f.Instant()


class MessageList(Shape):
    component = "MessageList"
    items = ma.List(ma.Nested(MessageShape))


class Charge(Shape):
    charge = f.choice(CHARGES)
    minutes = f.Integer()


class TimeEntryCoverage(Shape):
    """The coverage decision of this entry's minutes, and how they were charged."""

    component = "TimeEntryCoverage"
    source = f.choice(SOURCES)
    covered = f.Boolean()
    reason = f.Text(metadata={"description": "Why, in the token user's language."})
    approval = f.choice(APPROVALS, allow_none=True)
    covered_minutes = f.Integer(validate=f.Between(0, None),
                                metadata={"description": "Billed minutes within coverage."})
    overage_minutes = f.Integer(validate=f.Between(0, None),
                                metadata={"description": "Billed minutes beyond coverage."})
    charges = ma.List(ma.Nested(Charge), metadata={
        "description": "Minutes by who pays for them: the allowance, nobody (free), or for overage "
        "billable, pending (a manager's approval), goodwill, unbilled."})


class TimeEntryShape(Shape):
    component = "TimeEntry"
    id = f.Integer()
    ticket_id = f.Integer()
    minutes = f.Integer(validate=f.Between(1, MAX_ENTRY_MINUTES), metadata={"description": "As logged."})
    billed_minutes = f.Integer(validate=f.Between(0, None), metadata={
        "description": "Rounded up to the plan's billing increment (free work: as logged)."})
    date = ma.Date(attribute="work_date", metadata={"description": "The day the work was done."})
    note = f.Text()
    author = ma.Nested(UserRef)
    coverage = ma.Nested(TimeEntryCoverage)
    created_at = f.Instant()
    ticket = ma.Nested(TicketShape, metadata={
        "description": "The ticket after the entry: its coverage may have changed."})


# -- what a request may carry ----------------------------------------------------------------


class NewTicket(Body):
    subject = f.text(min_length=1, max_length=200, blank=False, single_line=True, required=True)
    description = f.text(min_length=1, max_length="DESCRIPTION_MAX_CHARS", blank=False, required=True,
                         metadata={"description": "Markdown."})
    category = f.choice(CATEGORIES, required=True, metadata={"description": "question, configuration_change or bug."})
    priority = f.choice(PRIORITIES, metadata={"default": "normal"})


class TicketFilters(Query):
    q = f.text(max_length=200, metadata={"description": (
        "Full-text search: tickets containing every word (number, subject, description, replies; "
        "internal notes for staff), whole words compared without diacritics. A ticket number (`OP-123` or `123`) also matches that "
        "ticket. Combined with the other filters; the order and pages stay as without it.")})
    status = f.text(pattern=f"^(?:all|{STATUS_LIST}(?:,{STATUS_LIST})*)$",
                    metadata={"description": "Comma-separated statuses, or `all` (the default)."})
    category = f.choice(CATEGORIES)
    priority = f.choice(PRIORITIES)
    client = f.text(pattern=SLUG_RE.pattern, metadata={"description": "A client company's slug."})
    assignee = f.text(pattern="^(?:none|me|[1-9][0-9]{0,9})$",
                      metadata={"description": "A user id, `me`, or `none` for unassigned tickets."})
    breaching_within_minutes = f.QueryInteger(validate=f.Between(1, BREACHING_WITHIN_MAX), metadata={
        "description": "Tickets with a running SLA clock due within this many minutes (not those already past due)."})
    limit = f.QueryInteger(validate=f.Between(1, PAGE_SIZE_MAX), metadata={"default": 50})
    cursor = f.text(min_length=1, max_length=200, metadata={"description": "`next_cursor` of the previous page."})


class TicketChange(Body):
    status = f.choice(STATUSES)
    priority = f.choice(PRIORITIES)
    category = f.choice(CATEGORIES)
    reason = f.text(max_length=500, metadata={"description": "Why the category changes (kept in the history)."})
    assignee = f.user_reference("An active staff member's id or e-mail; null: nobody.", allow_none=True)


class NewReply(Body):
    body = f.text(min_length=1, max_length="REPLY_MAX_CHARS", blank=False, required=True,
                  metadata={"description": "Markdown."})
    internal = f.Boolean(metadata={"default": False})


class NewTimeEntry(Body):
    minutes = f.Integer(validate=f.Between(1, MAX_ENTRY_MINUTES), required=True,
                        metadata={"description": "Minutes worked (one day at most)."})
    date = f.Day(required=True, metadata={"description": "The day the work was done."})
    note = f.text(max_length=500)


def _actor(call: ApiCall) -> Actor:
    return Actor(call.user, via=call.via)


def _fresh(call: ApiCall, ticket_id: int) -> TicketView:
    """The ticket as it is now (after a service committed), with its people loaded."""
    return TicketView(access.get_ticket(call.user, ticket_id), coverage_services.current_decision(ticket_id))


# -- endpoints --------------------------------------------------------------------------------


@bp.endpoint(
    "POST",
    "/tickets",
    summary="File a ticket",
    description="Client users file tickets for their company; staff get 403.",
    body=NewTicket,
    response=(201, TicketShape),
    response_description="The filed ticket, with its coverage and due instants.",
    errors=(403,),
)
def create_ticket(call: ApiCall):
    # The answer is built from the objects the filing wrote (no reading back after the commit).
    with kept_after_commit():
        ticket, decision = services.file_ticket_with_coverage(_actor(call), **{"priority": "normal", **call.body})
    return TicketView(ticket, decision, client=db.session.get(Client, ticket.client_id), requester=call.user,
                      assignee=db.session.get(User, ticket.assignee_id) if ticket.assignee_id else None)


@bp.endpoint(
    "GET",
    "/tickets",
    summary="List tickets",
    description=(
        "Newest first, the tickets the token's user may see: staff all, a client admin the "
        "company's, a client user their own. Keyset pagination: pass `next_cursor` as `cursor`."
    ),
    query=TicketFilters,
    response=(200, TicketPage),
)
def list_tickets(call: ApiCall):
    args = {name: str(value) for name, value in call.query.items()}
    args.setdefault("status", "all")
    if args.get("assignee") == "me":
        args["assignee"] = str(call.user.id)
    filters = parse_queue_filters(args, default_limit=50)
    rows, next_cursor = queue_page(call.user, filters)
    decisions = coverage_services.current_decisions([t.id for t in rows])
    return {"items": [TicketView(t, decisions.get(t.id)) for t in rows], "next_cursor": next_cursor}


@bp.endpoint("GET", "/tickets/<int:ticket_id>", summary="Read a ticket", response=(200, TicketShape))
def read_ticket(call: ApiCall, ticket_id: int):
    return _fresh(call, ticket_id)


@bp.endpoint(
    "PATCH",
    "/tickets/<int:ticket_id>",
    summary="Change a ticket",
    description=(
        "Staff: only the fields given change, all or none: a refused change leaves the ticket as it was. "
        "A category change re-evaluates coverage and is recorded with `reason`. "
        "The ticket's client (a user of its company who may see it) may send only `{\"status\": \"closed\"}` "
        "(\"problem solved\") on a ticket that is open or resolved; any other change by a client is 403. "
        "An `Idempotency-Key` header makes a retry answer as the first call did."
    ),
    body=TicketChange,
    response=(200, TicketShape),
    errors=(403, 409),
)
def change_ticket(call: ApiCall, ticket_id: int):
    ticket = access.get_ticket(call.user, ticket_id, for_update=True)
    changes = dict(call.body)
    if not call.user.is_staff:
        if changes != {"status": "closed"}:
            raise Forbidden(_("Clients may only close their ticket (status: closed)."))
        services.close_by_client(_actor(call), ticket)
        return _fresh(call, ticket_id)
    if "assignee" in changes:
        changes["assignee_id"] = user_id_for(changes.pop("assignee"))
    services.update_ticket(_actor(call), ticket, **changes)
    return _fresh(call, ticket_id)


@bp.endpoint(
    "GET",
    "/tickets/<int:ticket_id>/replies",
    summary="Read a ticket's thread",
    description="Public replies in order; staff also see internal notes.",
    response=(200, MessageList),
)
def list_replies(call: ApiCall, ticket_id: int):
    ticket = access.get_ticket(call.user, ticket_id)
    return {"items": access.thread(call.user, ticket)}


@bp.endpoint(
    "POST",
    "/tickets/<int:ticket_id>/replies",
    summary="Reply to a ticket",
    description=(
        "A public reply, or with `internal: true` an internal note (staff only). A client's reply "
        "reopens a ticket waiting on them or resolved within `REOPEN_WINDOW_DAYS` (14); on a ticket resolved "
        "longer ago, or closed, it files a new ticket linked to this one, and that ticket is answered."
    ),
    body=NewReply,
    response=(201, TicketShape),
    response_description="The ticket after the reply (its status may have moved).",
    errors=(403, 409),
)
def add_reply(call: ApiCall, ticket_id: int):
    ticket = access.get_ticket(call.user, ticket_id)
    if call.user.is_staff or call.body.get("internal"):
        services.add_message(_actor(call), ticket, body=call.body["body"], internal=call.body.get("internal", False))
        return _fresh(call, ticket_id)
    landed = services.client_reply(_actor(call), ticket, body=call.body["body"])
    return _fresh(call, landed.id)


# The service names the day `work_date` (the web form's field); the API calls it `date`.
_ENTRY_FIELDS = {"work_date": "date"}


class TimeEntryView:
    """A time entry as the TimeEntry shape reads it: the entry, the decision its minutes got and
    how they were charged, who logged it, and the ticket after it."""

    def __init__(self, call: ApiCall, entry: TimeEntry) -> None:
        self.entry = entry
        self.decision = coverage_services.time_entry_decision(entry.id)
        self.charge = self.decision.charge or {}
        self.author = call.user
        self.ticket = _fresh(call, entry.ticket_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.entry, name)

    @property
    def billed_minutes(self) -> int:
        return self.charge.get("billed_minutes", self.entry.minutes)

    @property
    def coverage(self) -> dict[str, Any]:
        charges = coverage_services.time_entry_charges(self.entry.ticket_id).get(self.entry.id, [])
        return {
            "source": self.decision.source,
            "covered": self.decision.covered,
            "reason": render_reason(self.decision),
            "approval": self.decision.approval,
            "covered_minutes": self.charge.get("covered_minutes", 0),
            "overage_minutes": self.charge.get("overage_minutes", 0),
            "charges": [{"charge": name, "minutes": minutes} for name, minutes in charges],
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
    body=NewTimeEntry,
    response=(201, TimeEntryShape),
    response_description="The time entry, with the coverage it was charged to, and the ticket after it.",
)
def log_time(call: ApiCall, ticket_id: int):
    ticket = access.get_ticket(call.user, ticket_id)  # another company's ticket is a 404, as everywhere
    try:
        entry = ticket_coverage.log_time(
            _actor(call), ticket, minutes=call.body["minutes"], work_date=call.body["date"],
            note=call.body.get("note", ""),
        )
    except ServiceError as exc:
        exc.fields = {_ENTRY_FIELDS.get(name, name): message for name, message in exc.fields.items()}
        raise
    return TimeEntryView(call, entry)


def init_app(app: Any) -> None:
    register_api(app, bp)


class NewRating(Body):
    score = f.Integer(required=True, validate=f.Between(1, 5), metadata={"description": "1 (very poor) to 5 (excellent)."})
    comment = f.text(max_length=csat.COMMENT_MAX_CHARS, metadata={"description": "Optional."})


class RatingShape(Shape):
    component = "Rating"
    ticket_id = f.Integer()
    score = f.Integer()
    comment = f.Text()
    rated_at = f.Instant()


@bp.endpoint(
    "POST",
    "/tickets/<int:ticket_id>/rating",
    summary="Rate a resolved ticket (its client)",
    description=(
        "The person who filed the ticket rates the answer once, after the ticket is resolved (or closed): "
        "409 before that and the second time, 422 for a score that is not 1 to 5, 403 for a colleague, "
        "404 for another company's ticket. A score of 1 or 2 notifies the ticket's agent and the managers."
    ),
    body=NewRating,
    response=(201, RatingShape),
    errors=(403, 409),
)
def rate_ticket(call: ApiCall, ticket_id: int):
    ticket = access.get_ticket(call.user, ticket_id)
    return csat.rate(call.user, ticket, score=call.body["score"], comment=call.body.get("comment", ""), via="api")


class NewFollower(Body):
    user = f.Integer(required=True, metadata={"description": "The id of an active client user of the ticket's company."})


class FollowerList(Shape):
    component = "FollowerList"
    items = ma.List(ma.Nested(UserRef))


@bp.endpoint(
    "POST",
    "/tickets/<int:ticket_id>/followers",
    summary="Add a follower",
    description=(
        "Whoever may see the ticket (its client, a client admin, a follower, staff) adds a colleague of the "
        "ticket's company; followers get the ticket's notices and may see it. Anyone else is 422."
    ),
    body=NewFollower,
    response=(201, FollowerList),
)
def add_follower(call: ApiCall, ticket_id: int):
    ticket = access.get_ticket(call.user, ticket_id)
    followers.add_follower(_actor(call), ticket, call.body["user"])
    return {"items": followers.followers(access.get_ticket(call.user, ticket_id))}
