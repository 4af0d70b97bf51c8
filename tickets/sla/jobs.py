"""The SLA sweep and the RQ jobs that run it: a timer per clock and fact, and the sweep every minute.

Both jobs take ids (or nothing), re-read the tickets, and record only what is due and not
recorded yet, so running one twice, late or after a lost timer changes nothing but the outcome's
time. The sweep is a periodic job (every SLA_SWEEP_SECONDS, on one worker: `tickets.sla.init_app`).
Without Redis nothing runs on a timer: `flask worker` runs the sweep in its own process, the agent
queue sweeps inline, at most once a minute, and `flask sla sweep` does it by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.jobs import app_job
from tickets.models import Ticket
from tickets.sla.refresh import record_due, refresh

log = logging.getLogger(__name__)


def due_for_check(now: datetime, limit: int):
    """Ids of tickets with a warning or breach to record by `now`: a range on an index."""
    return select(Ticket.id).where(Ticket.sla_check_at <= now).order_by(Ticket.sla_check_at).limit(limit)


def process_ticket(ticket_id: int, now: datetime) -> int:
    """Record whatever is due on one ticket and commit; returns facts recorded.

    Another transaction working on the ticket right now (PostgreSQL row lock) makes us skip it:
    that transaction refreshes the clocks itself.
    """
    query = select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True)
    ticket = db.session.scalar(query)
    if ticket is None:
        db.session.rollback()
        return 0
    recorded = refresh(ticket, now)
    db.session.commit()
    return recorded


@dataclass
class SweepResult:
    tickets: int = 0
    facts: int = 0


def sweep(now: datetime, batch: int = 1000) -> SweepResult:
    """Record every warning and breach due by `now`; safe to run at any time, any number of times.

    Set-based (`tickets.sla.refresh.record_due`): a transaction per batch of due tickets, a few
    statements per batch whatever its size. A ticket without stored clocks is refreshed alone.
    """
    result = SweepResult()
    seen: set[int] = set()
    while True:
        try:
            handled, facts, unread = record_due(now, batch)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("SLA sweep failed on a batch; trying its tickets one by one")
            return _sweep_one_by_one(now, result, seen)
        fresh = [i for i in handled if i not in seen]
        seen.update(handled)
        result.tickets += len(fresh)
        result.facts += facts
        for ticket_id in unread:
            result.facts += _process_safely(ticket_id, now)
        if not fresh:
            return result


def _process_safely(ticket_id: int, now: datetime) -> int:
    try:
        return process_ticket(ticket_id, now)
    except Exception:
        db.session.rollback()
        log.exception("SLA sweep failed on ticket %s", ticket_id)
        return 0


def _sweep_one_by_one(now: datetime, result: SweepResult, seen: set[int], batch: int = 200) -> SweepResult:
    """The slow path, one transaction per ticket, so one bad ticket cannot hold up the rest."""
    while True:
        ids = [i for i in db.session.scalars(due_for_check(now, batch)) if i not in seen]
        db.session.rollback()  # end the read; each ticket gets a transaction of its own
        if not ids:
            return result
        for ticket_id in ids:
            seen.add(ticket_id)
            result.tickets += 1
            result.facts += _process_safely(ticket_id, now)


def inline_sweep(now: datetime) -> None:
    """Without Redis nothing runs on a timer: sweep from a page view, at most once a minute."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("REDIS_URL") or not app.config.get("SLA_INLINE_SWEEP", True):
        return
    state = app.extensions.setdefault("sla", {})
    last = state.get("last_inline_sweep")
    if last is not None and now - last < timedelta(minutes=1):
        return
    state["last_inline_sweep"] = now
    try:
        sweep(now)
    except Exception:
        db.session.rollback()
        log.exception("Inline SLA sweep failed")


# -- the jobs --------------------------------------------------------------------------------


@app_job
def sla_timer(ticket_id: int, clock: str, kind: str) -> int:
    """A clock's warning or breach instant has come: record what is due on that ticket."""
    return process_ticket(ticket_id, utcnow())


@app_job
def sla_sweep() -> int:
    """Record every warning and breach that is due (a timer may have been lost); returns facts."""
    return sweep(utcnow()).facts
