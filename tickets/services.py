"""Ticket services: every change to a ticket goes through here, once, for the web and the API.

Services check permissions and input, write the change and its history row, and commit.
Reads are scoped through tickets.access (`visible_tickets`, `get_ticket`); the queue's pages
are tickets.queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.errors import Conflict, Forbidden, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.storage import storage
from helpdesk.text import check_text
from helpdesk.uploads import CheckedFile
from plans import services as coverage
from tickets import autoassign, mentions, notices
from tickets import client_rules as rules
from tickets.access import MAX_ID, TicketError
from tickets.models import (
    CATEGORIES,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Attachment,
    Message,
    Ticket,
    TicketEvent,
    TicketLink,
)
from tickets.sla import refresh as sla
from tickets.sla.policies import sla_reference
from tickets.vocabulary import Status

UNSET: Any = object()  # update_ticket: leave this attribute as it is

# Which status an agent may move a ticket to, from each status.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "waiting_on_client", "resolved", "closed"),
    "open": ("waiting_on_client", "resolved", "closed"),
    "waiting_on_client": ("open", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": ("open",),
}

__all__ = ["Conflict", "Forbidden", "NotFound"]  # the kernel's errors, re-exported for callers


@dataclass(frozen=True)
class Actor:
    """Who acts and through which channel ('web', or 'api: token name')."""

    user: User
    via: str = "web"


# -- validating ------------------------------------------------------------------------------


def _check_choice(fields: dict[str, str], name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        fields[name] = _("Choose one of: %(values)s.", values=", ".join(allowed))
    return value


def _raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise TicketError(_("Please correct the marked fields."), fields)


# -- changing --------------------------------------------------------------------------------


def _event(ticket: Ticket, actor: Actor | None, kind: str, internal: bool = False, **data: Any) -> None:
    db.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor_id=actor.user.id if actor else None,
            via=actor.via if actor else "system",
            kind=kind,
            data=data,
            internal=internal,
            created_at=utcnow(),
        )
    )


def _store_files(ticket: Ticket, actor: Actor, message: Message | None, files: list[CheckedFile], internal: bool) -> None:
    for checked in files:
        key = storage().save(checked.data)
        db.session.add(
            Attachment(
                ticket_id=ticket.id,
                message_id=message.id if message else None,
                uploaded_by_id=actor.user.id,
                filename=checked.filename,
                content_type=checked.content_type,
                size=checked.size,
                storage_key=key,
                internal=internal,
                created_at=utcnow(),
            )
        )


def file_ticket(
    actor: Actor,
    *,
    subject: Any,
    description: Any,
    category: Any,
    priority: Any = "normal",
    files: list[CheckedFile] | None = None,
    category_to_confirm: bool = False,
    commit: bool = True,
) -> Ticket:
    """A client files a ticket. The report is saved whatever else happens afterwards.

    `category_to_confirm`: the category was not chosen by the client (a ticket filed by e-mail
    takes its mailbox's), so the queue marks it until an agent confirms or changes it.
    """
    return file_ticket_with_coverage(
        actor, subject=subject, description=description, category=category, priority=priority, files=files,
        category_to_confirm=category_to_confirm, commit=commit,
    )[0]


def file_ticket_with_coverage(
    actor: Actor,
    *,
    subject: Any,
    description: Any,
    category: Any,
    priority: Any = "normal",
    files: list[CheckedFile] | None = None,
    category_to_confirm: bool = False,
    commit: bool = True,
) -> tuple[Ticket, Any]:
    """`file_ticket`, also returning the coverage decision it recorded (None: undecided), so an
    answer can be built from the objects in hand instead of reading them back."""
    user = actor.user
    if not user.is_client:
        raise Forbidden(_("Only client users file tickets here."))
    config = current_app.config
    fields: dict[str, str] = {}
    subject = check_text(fields, "subject", subject, required=True, limit=200, one_line=True)
    description = check_text(
        fields, "description", description, required=True, limit=config["DESCRIPTION_MAX_CHARS"]
    )
    _check_choice(fields, "category", category, CATEGORIES)
    _check_choice(fields, "priority", priority, PRIORITIES)
    _raise_if(fields)
    now = utcnow()
    # The reads that do not need the write lock come before the first write. SQLite has one writer,
    # whose lock is held from the ticket's INSERT to the commit: a second filing waits that long
    # (in the busy handler's sleeps). They read what no row written below changes: the staff told
    # of the ticket, their mutes, the webhook endpoints, the assignment rules (the chosen rule is
    # read again, locked) and the SLA reference. Coverage reads stay after the INSERT, under the
    # lock: they count the client's allowance, which a concurrent filing may be using up.
    audience = notices.filed_audience(user)
    rule_specs = autoassign.enabled_rules()
    reference = sla_reference()
    ticket = Ticket(
        client_id=user.client_id,
        requester_id=user.id,
        subject=subject,
        description=description,
        category=category,
        priority=priority,
        status="new",
        category_to_confirm=category_to_confirm,
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    db.session.flush()  # the ticket's id, which every row below names
    # Coverage first: its savepoint then holds the decision alone (nothing else is pending to
    # flush into it), and it depends on nothing below (not on the assignee).
    record = _decide_coverage(actor, ticket, "filed")
    # None of the reads below depends on the rows pending here (the history, the clocks, the
    # outbox): they are all written by one flush, at the commit.
    with db.session.no_autoflush:
        _event(ticket, actor, "created", category=category, priority=priority)
        _route_to_guardian(ticket, user.client)
        _store_files(ticket, actor, None, files or [], internal=False)
        clock_rows: list[dict[str, Any]] = []
        sla.refresh(ticket, now, filed=True, reference=reference, new_clocks=clock_rows)
        # After coverage and clocks: a rule's saved view may filter on approval or due instants.
        _auto_assign(ticket, now, rule_specs)
        notices.ticket_filed(ticket, user, audience)
    db.session.flush()  # the ticket's coverage and SLA columns, before its clocks (sla.insert_clocks)
    if clock_rows:
        sla.insert_clocks(clock_rows)
    if commit:
        db.session.commit()
    return ticket, record


def _route_to_guardian(ticket: Ticket, client: Client | None) -> None:
    """While a client is onboarding, its tickets go to its guardian (a system 'assigned' event)."""
    if client is None or client.phase != "onboarding" or client.guardian_id is None:
        return
    guardian = db.session.get(User, client.guardian_id)
    if guardian is None or not guardian.active or not guardian.is_staff:
        return
    ticket.assignee_id = guardian.id
    _event(ticket, None, "assigned", **{"from": None, "to": guardian.id})


def _auto_assign(ticket: Ticket, now, specs: list[autoassign.RuleSpec] | None = None) -> None:
    """A new ticket nobody routed yet goes to an agent on duty by the admins' rules, if any."""
    done = autoassign.auto_assign(ticket, now, specs)
    if done is None:
        return
    _event(ticket, None, "assigned", **{
        "from": None, "to": done.choice.user_id,
        "auto": {"rule": done.rule.name, "strategy": done.choice.strategy, "available": done.choice.available},
    })
    notices.assigned(ticket, None)


def add_message(
    actor: Actor,
    ticket: Ticket,
    *,
    body: Any,
    internal: bool = False,
    files: list[CheckedFile] | None = None,
    commit: bool = True,
) -> Message:
    """A public reply or (staff only) an internal note; moves the status as a helpdesk should."""
    user = actor.user
    if internal and not user.is_staff:
        raise Forbidden(_("Only staff can add internal notes."))
    fields: dict[str, str] = {}
    body = check_text(fields, "body", body, required=True, limit=current_app.config["REPLY_MAX_CHARS"])
    _raise_if(fields)
    now = utcnow()
    status_before = ticket.status
    if not user.is_staff:
        _client_reply_reopens(actor, ticket, now)
    message = Message(ticket_id=ticket.id, author_id=user.id, body=body, internal=internal,
                      via=_channel(actor), created_at=now)
    db.session.add(message)
    db.session.flush()
    _store_files(ticket, actor, message, files or [], internal=internal)
    if internal:
        _event(ticket, actor, "note_added", internal=True, message_id=message.id)
        notices.mentioned(ticket, message, user, _mentioned_staff(body))
    else:
        _event(ticket, actor, "replied", message_id=message.id)
        if user.is_staff:
            sla.first_public_reply(ticket, now)
        if user.is_staff and ticket.status == "new":
            _set_status(actor, ticket, "open", now)
    ticket.updated_at = now
    if ticket.status != status_before or (user.is_staff and not internal):
        sla.refresh(ticket, now)
    notices.reply_added(ticket, message, user)
    if commit:
        db.session.commit()
    return message


def _channel(actor: Actor) -> str:
    """What a message records as its channel: web, api or email."""
    if actor.via.startswith("api"):
        return "api"
    return "email" if actor.via == "email" else "web"


def _mentioned_staff(body: str) -> list[User]:
    """The active staff a note mentions (`@login`, tickets/mentions.py); clients never are."""
    logins = mentions.mentioned_logins(body)
    if not logins:
        return []
    # The staff is a few dozen people: one query for all of them, matched in Python.
    staff = list(db.session.scalars(select(User).where(User.role != "client", User.active.is_(True))))
    wanted = mentions.resolve_mentions(logins, [(u.id, u.email) for u in staff])
    by_id = {u.id: u for u in staff}
    return [by_id[i] for i in wanted]


def _decide_coverage(actor: Actor, ticket: Ticket, trigger: str, why: str | None = None) -> Any:
    """Decide what covers the ticket now (plans/ decides and records; the ticket keeps a copy).

    On filing, the decision runs in a savepoint: if it fails, the client's report is still kept,
    with its coverage undecided and waiting in the manager's approval queue. Otherwise a failure
    undoes the whole change (the caller's transaction, or a bulk action's savepoint for the
    ticket), so no savepoint of its own is needed: none is paid for per ticket of a bulk action.
    Returns the decision recorded (None when undecided).
    """

    def decide() -> Any:
        return coverage.decide_for_ticket(
            ticket_id=ticket.id,
            client_id=ticket.client_id,
            category=ticket.category,
            trigger=trigger,
            actor_id=actor.user.id,
            today=coverage.coverage_today(),
            why=why,
            new_ticket=trigger == "filed",
        )

    if trigger != "filed":
        record = decide().record
        copy_coverage(ticket, record)
        sla.coverage_decided(ticket.id)
        return record
    try:
        with db.session.begin_nested():
            outcome = decide()
    except Exception:
        current_app.logger.exception("Coverage of ticket %s could not be decided", ticket.id)
        ticket.coverage_source, ticket.coverage_covered, ticket.coverage_approval = None, None, "pending"
        return None
    copy_coverage(ticket, outcome.record)
    sla.coverage_decided(ticket.id)
    return outcome.record


def copy_coverage(ticket: Ticket, record: Any) -> None:
    """Keep the ticket's copy of its current coverage (for lists) in step with ``record``."""
    ticket.coverage_source = record.source
    ticket.coverage_covered = record.covered
    ticket.coverage_approval = record.approval


def _client_reply_reopens(actor: Actor, ticket: Ticket, now) -> None:
    outcome = rules.reply_outcome(ticket.status, ticket.resolved_at, now, current_app.config["REOPEN_WINDOW_DAYS"])
    if outcome is rules.ReplyOutcome.REPLY and ticket.status == "waiting_on_client":
        _set_status(actor, ticket, "open", now)
    elif outcome is rules.ReplyOutcome.REOPEN:
        _set_status(actor, ticket, "open", now)
    elif outcome is rules.ReplyOutcome.NEW_LINKED:  # client_reply files a linked ticket instead
        raise Conflict(
            _("This ticket can no longer be reopened; please file a new ticket."),
            {"body": _("Please file a new ticket and refer to %(number)s.", number=ticket.number)},
        )


def client_reply(
    actor: Actor, ticket: Ticket, *, body: Any, files: list[CheckedFile] | None = None
) -> Ticket:
    """A client's reply: it joins the thread (reopening a ticket resolved within the window), or,
    on a ticket resolved longer ago or closed, files a new ticket linked to this one. Returns
    the ticket the reply landed on."""
    if actor.user.is_staff:
        add_message(actor, ticket, body=body, files=files)
        return ticket
    outcome = rules.reply_outcome(ticket.status, ticket.resolved_at, utcnow(), current_app.config["REOPEN_WINDOW_DAYS"])
    if outcome is not rules.ReplyOutcome.NEW_LINKED:
        add_message(actor, ticket, body=body, files=files)
        return ticket
    return _file_follow_up(actor, ticket, body=body, files=files)


def _file_follow_up(actor: Actor, old: Ticket, *, body: Any, files: list[CheckedFile] | None) -> Ticket:
    subject = _("Follow-up to %(number)s: %(subject)s", number=old.number, subject=old.subject)
    if len(subject) > 200:
        subject = subject[:199].rstrip() + "…"
    try:
        new = file_ticket(actor, subject=subject, description=body, category=old.category,
                          priority=old.priority, files=files, commit=False)
    except TicketError as exc:
        if "description" in exc.fields:
            exc.fields["body"] = exc.fields.pop("description")
        raise
    db.session.add(TicketLink(ticket_id=new.id, reopened_from_id=old.id, created_at=utcnow()))
    _event(new, actor, "reopened_from", ticket_id=old.id, number=old.number)
    _event(old, actor, "follow_up_filed", ticket_id=new.id, number=new.number)
    db.session.commit()
    return new


def close_by_client(actor: Actor, ticket: Ticket) -> Ticket:
    """The ticket's client says the problem is solved: the ticket closes. Commits."""
    user = actor.user
    if user.is_staff:
        return change_status(actor, ticket, "closed")
    if not user.is_client or ticket.client_id != user.client_id:
        raise NotFound(_("No such ticket."))
    if ticket.status == "closed":
        return ticket
    if not rules.may_close(ticket.status):
        raise Conflict(_("This ticket cannot be closed now."), {"status": _("Not allowed from the current status.")})
    now = utcnow()
    _set_status(actor, ticket, "closed", now)
    ticket.updated_at = now
    sla.refresh(ticket, now)
    db.session.commit()
    return ticket


def reopen_by_client(actor: Actor, ticket: Ticket) -> Ticket:
    """The ticket's client reopens a ticket resolved within the reopen window. Commits."""
    user = actor.user
    if not user.is_client or ticket.client_id != user.client_id:
        raise NotFound(_("No such ticket."))
    now = utcnow()
    if not rules.may_reopen(ticket.status, ticket.resolved_at, now, current_app.config["REOPEN_WINDOW_DAYS"]):
        raise Conflict(
            _("Only a ticket resolved in the last %(days)s days can be reopened; reply to file a linked ticket.",
              days=current_app.config["REOPEN_WINDOW_DAYS"]),
            {"status": _("Not allowed from the current status.")},
        )
    _set_status(actor, ticket, "open", now)
    ticket.updated_at = now
    sla.refresh(ticket, now)
    db.session.commit()
    return ticket


def linked_tickets(ticket: Ticket) -> dict[str, list[int]]:
    """The ids of the tickets this one follows up (`from`) and that follow it up (`to`): one query."""
    rows = db.session.execute(
        select(TicketLink.ticket_id, TicketLink.reopened_from_id).where(
            or_(TicketLink.ticket_id == ticket.id, TicketLink.reopened_from_id == ticket.id)
        )
    ).all()
    return {"from": [r for t, r in rows if t == ticket.id], "to": [t for t, r in rows if r == ticket.id]}


def _set_status(actor: Actor, ticket: Ticket, status: str, now) -> None:
    old = ticket.status
    sla.status_changing(ticket, old, status, now)
    ticket.status = status
    if status == "resolved":
        ticket.resolved_at = now
    if status == "closed":
        ticket.closed_at = now
    if status in OPEN_STATUSES:
        ticket.resolved_at = None
        ticket.closed_at = None
    _event(ticket, actor, "status_changed", **{"from": old, "to": status})


def _require_staff(actor: Actor) -> None:
    if not actor.user.is_staff:
        raise Forbidden(_("Only staff can do this."))


def change_status(actor: Actor, ticket: Ticket, status: Any, *, commit: bool = True) -> Ticket:
    _require_staff(actor)
    if status not in STATUSES:
        raise TicketError(_("Unknown status."), {"status": _("Choose one of: %(values)s.", values=", ".join(STATUSES))})
    if status == ticket.status:
        return ticket
    if status not in TRANSITIONS[ticket.status]:
        raise Conflict(
            _("A ticket cannot go from %(old)s to %(new)s.", old=Status(ticket.status).label, new=Status(status).label),
            {"status": _("Not allowed from the current status.")},
        )
    now = utcnow()
    _set_status(actor, ticket, status, now)
    ticket.updated_at = now
    sla.refresh(ticket, now)
    if status == "resolved":
        from tickets.csat import rating_path  # the link names the ticket; csat reads services' models only

        notices.resolved(ticket, rating_link=rating_path(ticket))
    if commit:
        db.session.commit()
    return ticket


def change_priority(actor: Actor, ticket: Ticket, priority: Any, *, commit: bool = True) -> Ticket:
    _require_staff(actor)
    fields: dict[str, str] = {}
    _check_choice(fields, "priority", priority, PRIORITIES)
    _raise_if(fields)
    if priority == ticket.priority:
        return ticket
    _event(ticket, actor, "priority_changed", **{"from": ticket.priority, "to": priority})
    ticket.priority = priority
    ticket.updated_at = now = utcnow()
    sla.refresh(ticket, now, actor=actor.user, via=actor.via, reason="priority")
    if commit:
        db.session.commit()
    return ticket


def reclassify(actor: Actor, ticket: Ticket, category: Any, reason: Any = "", *, commit: bool = True) -> Ticket:
    """An agent changes the category; the history records who, when and why."""
    _require_staff(actor)
    fields: dict[str, str] = {}
    _check_choice(fields, "category", category, CATEGORIES)
    reason = check_text(fields, "reason", reason, required=False, limit=500)
    _raise_if(fields)
    if category == ticket.category:
        if ticket.category_to_confirm:  # the agent confirms the category the mailbox gave
            ticket.category_to_confirm = False
            _event(ticket, actor, "category_confirmed", reason=reason, category=category)
            ticket.updated_at = utcnow()
            if commit:
                db.session.commit()
        return ticket
    ticket.category_to_confirm = False
    _event(ticket, actor, "category_changed", reason=reason, **{"from": ticket.category, "to": category})
    ticket.category = category
    _decide_coverage(actor, ticket, "reclassified", why=reason)
    ticket.updated_at = now = utcnow()
    # A new category may mean a new coverage source, so a new policy: the history says so.
    sla.refresh(ticket, now, actor=actor.user, via=actor.via, reason="category")
    if commit:
        db.session.commit()
    return ticket


def assign(actor: Actor, ticket: Ticket, assignee_id: Any, *, commit: bool = True) -> Ticket:
    """Give the ticket to an agent (or to nobody with None)."""
    _require_staff(actor)
    assignee = None
    if assignee_id not in (None, ""):
        try:
            wanted = int(assignee_id)
        except (TypeError, ValueError):
            wanted = 0
        assignee = db.session.get(User, wanted) if 0 < wanted <= MAX_ID else None
        if assignee is None or not assignee.is_staff or not assignee.active:
            raise TicketError(_("Choose an active staff member."), {"assignee": _("Unknown agent.")})
    new_id = assignee.id if assignee else None
    if new_id == ticket.assignee_id:
        return ticket
    _event(ticket, actor, "assigned", **{"from": ticket.assignee_id, "to": new_id})
    ticket.assignee_id = new_id
    ticket.updated_at = utcnow()
    notices.assigned(ticket, actor.user)
    if commit:
        db.session.commit()
    return ticket


def apply_changes(
    actor: Actor,
    ticket: Ticket,
    *,
    status: Any = UNSET,
    priority: Any = UNSET,
    category: Any = UNSET,
    reason: Any = "",
    assignee_id: Any = UNSET,
    before_status: Callable[[], object] | None = None,
) -> tuple[str, ...]:
    """Apply an agent's field changes to a ticket, in the one order every caller uses: category
    (its coverage and policy first: the rest is recomputed under them), priority, assignee, then
    `before_status` (the triage's minutes worked, which it has always logged here), then status.
    Each change goes through its rule above; UNSET leaves the field as it is. Does not commit.

    Returns the fields that changed ("category" also when the agent confirmed the category an
    inbound mailbox gave). A refusal raises the rule's `ServiceError` (naming its field), with
    the earlier changes still pending in the session: the caller undoes them, all of them (the
    API's and the triage's transaction) or this ticket's alone (a bulk action's savepoint).
    """
    before = _fields(ticket)
    if category is not UNSET:
        reclassify(actor, ticket, category, reason, commit=False)
    if priority is not UNSET:
        change_priority(actor, ticket, priority, commit=False)
    if assignee_id is not UNSET:
        assign(actor, ticket, assignee_id, commit=False)
    if before_status is not None:
        before_status()
    if status is not UNSET:
        change_status(actor, ticket, status, commit=False)
    after = _fields(ticket)
    return tuple(name for name in before if before[name] != after[name])


def _fields(ticket: Ticket) -> dict[str, Any]:
    """What `apply_changes` may change, as one value per field."""
    return {
        "category": (ticket.category, ticket.category_to_confirm),
        "priority": ticket.priority,
        "assignee": ticket.assignee_id,
        "status": ticket.status,
    }


def update_ticket(actor: Actor, ticket: Ticket, **changes: Any) -> Ticket:
    """Several agent changes at once (the API's PATCH), all or none: `apply_changes`' fields
    (status, priority, category with its reason, assignee_id), then one commit.

    On a refusal nothing is committed; the caller rolls the session back.
    """
    _require_staff(actor)
    apply_changes(actor, ticket, **changes)
    db.session.commit()
    return ticket
