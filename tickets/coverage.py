"""Coverage on the ticket side: time entries, the manager's approval queue and its decisions.

plans/ decides and keeps the ledger but knows tickets only by id; this module is where a ticket
change and its coverage meet, so it lives in tickets/ (which may use plans/, never the reverse).
An approval or a decline reaches the client as a public reply through ``services.add_message``,
which commits the reply, the decision record and its ledger rows together.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans import services as coverage
from plans.coverage import MAX_ENTRY_MINUTES
from tickets.access import TicketError
from tickets.models import Ticket, TimeEntry
from tickets.queue import decode_cursor, encode_cursor
from tickets.services import (
    Actor,
    Conflict,
    Forbidden,
    _event,
    add_message,
    copy_coverage,
)
from tickets.sla import refresh as sla


def _require_manager(actor: Actor) -> None:
    if not actor.user.has_role("manager", "admin"):
        raise Forbidden(_("Only managers can do this."))


def _coverage_error(exc: coverage.CoverageError) -> TicketError:
    return TicketError(exc.message, exc.fields)


def log_time(
    actor: Actor, ticket: Ticket, *, minutes: Any, work_date: Any, note: Any = "", commit: bool = True
) -> TimeEntry:
    """An agent logs minutes worked on a day; the entry gets its own coverage decision and
    ledger rows. Minutes are 1..1440; the day is between the filing day (less a day, for time
    zones) and today, at most TIME_ENTRY_MAX_AGE_DAYS back. Commits; nothing is stored on error."""
    if not actor.user.is_staff:
        raise Forbidden(_("Only staff can log time."))
    fields: dict[str, str] = {}
    value = coverage.parse_int(fields, "minutes", minutes, low=1, high=MAX_ENTRY_MINUTES, required=True)
    if "minutes" in fields and fields["minutes"] != _("Enter a whole number with the digits 0-9."):
        fields["minutes"] = _("Enter the minutes worked, from 1 to %(max)s (one day).", max=MAX_ENTRY_MINUTES)
    day = coverage.parse_date(fields, "work_date", work_date, required=True)
    if note is not None and not isinstance(note, str):
        fields["note"] = _("Must be text.")
        note = ""
    note = (note or "").strip()
    if len(note) > 500:
        fields["note"] = _("At most %(limit)s characters.", limit=500)
    today = coverage.coverage_today()
    if day is not None:
        oldest = max(ticket.created_at.date() - timedelta(days=1),
                     today - timedelta(days=current_app.config.get("TIME_ENTRY_MAX_AGE_DAYS", 31)))
        if day > today:
            fields["work_date"] = _("Time cannot be logged for a day in the future.")
        elif day < oldest:
            fields["work_date"] = _("Log time from %(day)s on.", day=oldest.isoformat())
    if fields:
        raise TicketError(_("Please correct the marked fields."), fields)
    assert value is not None and isinstance(day, date)
    entry = TimeEntry(ticket_id=ticket.id, author_id=actor.user.id, minutes=value, work_date=day, note=note)
    db.session.add(entry)
    db.session.flush()
    outcome = coverage.charge_time_entry(
        ticket_id=ticket.id,
        client_id=ticket.client_id,
        category=ticket.category,
        time_entry_id=entry.id,
        minutes=value,
        work_date=day,
        author_id=actor.user.id,
    )
    copy_coverage(ticket, outcome.record)
    _event(ticket, actor, "time_logged", internal=True, time_entry_id=entry.id, minutes=value,
           work_date=day.isoformat(), source=outcome.record.source)
    # Every entry is a new decision: its source, approval, or plan period (whose terms name the
    # SLA policy) may differ from the last one. The history records it only if the clocks moved.
    sla.coverage_changed(ticket, utcnow(), actor=actor.user, via=actor.via)
    if commit:
        db.session.commit()
    return entry


def time_entries(ticket: Ticket) -> list[TimeEntry]:
    return list(db.session.scalars(_time_entries_statement(), {"ticket_id": ticket.id}))


@cache
def _time_entries_statement() -> Select:
    # Built once: building the statement cost as much as running it (the ticket page).
    return (
        select(TimeEntry).where(TimeEntry.ticket_id == bindparam("ticket_id")).options(joinedload(TimeEntry.author).lazyload(User.client))
        .order_by(TimeEntry.work_date, TimeEntry.id)
    )


def approval_queue(cursor: str | None = None, limit: int = 50) -> tuple[list[Ticket], str | None]:
    """Tickets waiting for a manager: uncovered, awaiting overage approval, or undecided; oldest
    first, by keyset on id over the (coverage_approval, id) index."""
    query = (
        select(Ticket)
        .where(Ticket.coverage_approval == "pending")
        .options(joinedload(Ticket.client), joinedload(Ticket.requester))
        .order_by(Ticket.id)
        .limit(limit + 1)
    )
    if cursor:
        (last_id,) = decode_cursor(cursor)
        query = query.where(Ticket.id > last_id)
    rows = list(db.session.scalars(query).unique())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].id])
    return rows, next_cursor


def settle(actor: Actor, ticket: Ticket, *, outcome: Any, message: Any, rate: Any = None, currency: Any = None) -> None:
    """A manager approves (billable or goodwill) or declines a ticket waiting for approval, with
    a message that reaches the client as a public reply. The ticket is kept whatever happens."""
    _require_manager(actor)
    body = (message or "").strip() if isinstance(message, str) else ""
    if not body:
        raise TicketError(_("Please correct the marked fields."), {"message": _("Write a message to the client.")})
    if ticket.coverage_approval != "pending":
        raise Conflict(_("This ticket is not waiting for a manager's approval."))
    if ticket.coverage_source is None:
        raise Conflict(_("Decide this ticket's coverage again before approving it."))
    try:
        result = coverage.settle_approval(
            ticket_id=ticket.id, client_id=ticket.client_id, outcome=outcome, actor_id=actor.user.id,
            message=body, rate=rate, currency=currency,
        )
    except coverage.CoverageError as exc:
        raise _coverage_error(exc) from exc
    copy_coverage(ticket, result.record)
    _event(ticket, actor, "coverage_settled", outcome=outcome, decision_id=result.record.id)
    # Approved uncovered work is work taken on: it may get an SLA it did not have (tickets.sla).
    sla.coverage_changed(ticket, utcnow(), actor=actor.user, via=actor.via)
    add_message(actor, ticket, body=body)  # commits the reply, the settlement and the clocks together


def retry_coverage(actor: Actor, ticket: Ticket) -> None:
    """Decide again the coverage of a ticket whose filing decision failed; commits."""
    _require_manager(actor)
    if ticket.coverage_source is not None:
        raise Conflict(_("This ticket's coverage is already decided."))
    outcome = coverage.decide_for_ticket(
        ticket_id=ticket.id, client_id=ticket.client_id, category=ticket.category, trigger="filed",
        actor_id=actor.user.id, today=coverage.coverage_today(),
    )
    copy_coverage(ticket, outcome.record)
    # Until now the clocks ran on a guess of the source (tickets.sla.policies.sla_source_of).
    sla.coverage_changed(ticket, utcnow(), actor=actor.user, via=actor.via)
    db.session.commit()
