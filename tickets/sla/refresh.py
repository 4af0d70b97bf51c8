"""Ticket SLA clocks: due instants, pauses, warnings and breaches, recomputed on every change.

Every ticket has two clocks: first response (met by the first public agent reply) and
resolution (met by resolving or closing). Both start when the ticket is filed, pause while it
waits on the client, and count business time on the calendar of the ticket's SLA policy (chosen
by `tickets.sla.policies.policy_terms_for_ticket`). The clock history is what the ticket records
anyway (created_at, first_responded_at, resolved_at or closed_at) plus `SlaPause` rows; `refresh`
derives everything else from it with the pure rules in `tickets.sla.clock`, inside the
transaction of the change that calls it:

- the due instants on the ticket (`first_response_due_at`, `resolution_due_at`), the nearest
  one still running (`next_deadline_at`, for the queue) and the next instant something is to
  be recorded (`sla_check_at`, for the sweep);
- the facts: a warning at the policy's share of a target, a breach at the due instant, each
  stored once as an `SlaEvent`, with its history row and its notification;
- the timers: one RQ job per clock and fact, with a deterministic id, handed to
  `tickets.sla.timers` to be scheduled (or moved, or cancelled) after the commit. A sweep every
  minute (`tickets.sla.jobs`) catches whatever a lost timer missed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    Integer,
    String,
    any_,
    bindparam,
    cast,
    column,
    insert,
    select,
    text,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from helpdesk.accounts import User
from helpdesk.calendars.arithmetic import business_seconds_between
from helpdesk.companies import Client
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from helpdesk.notifications import Notice, notify, notify_many, recipients_for, recipients_for_ids
from tickets.models import OPEN_STATUSES, SlaClock, SlaEvent, SlaPause, Ticket, TicketEvent, ticket_number
from tickets.sla.clock import ClockHistory, ClockReading, Pause, facts_due, pending_facts, read_clock
from tickets.sla.policies import SlaReference, plan_policy_ids, policy_terms_for_ticket, sla_reference
from tickets.sla.timers import defer_timers, timers_for

# -- read once for many tickets (a bulk action) -------------------------------------------------


@dataclass
class _Prefetched:
    """What `refresh` reads, loaded for a set of tickets up front and kept current by the
    refreshes themselves (new clocks, facts and pauses are added to it as they are made)."""

    reference: SlaReference  # the policies, the source mapping and the calendars: this process's copy
    plan_policies: dict[int, int | None]  # each ticket's plan policy id, the one per-ticket part of the choice
    clocks: dict[int, dict[str, SlaClock]]
    facts: dict[int, set[tuple[str, str]]]
    pauses: dict[int, list[SlaPause]]


_PREFETCHED: ContextVar[_Prefetched | None] = ContextVar("tickets.sla.prefetched", default=None)


@contextmanager
def prefetched(tickets: Iterable[Ticket]) -> Iterator[None]:
    """Inside, `refresh` (and `status_changing`) of these tickets read their clocks, facts,
    pauses, policies and calendars from memory: loaded here in a few queries for all of them
    instead of about eight per ticket. The reference data (policies, source mapping, default
    policy, calendars) is this process's copy (`sla_reference`, its stamp checked once for the
    block); what is not reference data, each ticket's plan policy id, is read here for all of
    them in one query. Use it around a loop over tickets in one transaction
    (tickets.bulk); a ticket whose savepoint is rolled back must be `forget`-ed.
    """
    ids = sorted({t.id for t in tickets})
    clocks: dict[int, dict[str, SlaClock]] = {i: {} for i in ids}
    facts: dict[int, set[tuple[str, str]]] = {i: set() for i in ids}
    pauses: dict[int, list[SlaPause]] = {i: [] for i in ids}
    if ids:
        for row in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id.in_(ids))):
            clocks[row.ticket_id][row.kind] = row
        for ticket_id, clock, kind in db.session.execute(
            select(SlaEvent.ticket_id, SlaEvent.clock, SlaEvent.kind).where(SlaEvent.ticket_id.in_(ids))
        ):
            facts[ticket_id].add((clock, kind))
        for pause in db.session.scalars(select(SlaPause).where(SlaPause.ticket_id.in_(ids)).order_by(SlaPause.id)):
            pauses[pause.ticket_id].append(pause)
    token = _PREFETCHED.set(_Prefetched(sla_reference(), plan_policy_ids(ids), clocks, facts, pauses))
    try:
        yield
    finally:
        _PREFETCHED.reset(token)


def _prefetched_for(ticket_id: int) -> _Prefetched | None:
    found = _PREFETCHED.get()
    return found if found is not None and ticket_id in found.clocks else None


def forget(ticket_id: int) -> None:
    """The ticket's changes were rolled back: read it from the database again from now on."""
    found = _PREFETCHED.get()
    if found is not None:
        for part in (found.clocks, found.facts, found.pauses):
            part.pop(ticket_id, None)  # type: ignore[attr-defined]
        found.plan_policies.pop(ticket_id, None)


def coverage_decided(ticket_id: int) -> None:
    """The ticket's coverage was decided again: its plan's policy is to be read afresh."""
    found = _PREFETCHED.get()
    if found is not None:
        found.plan_policies.pop(ticket_id, None)


# -- the history -----------------------------------------------------------------------------


def pauses_of(ticket_id: int) -> list[SlaPause]:
    found = _prefetched_for(ticket_id)
    if found is not None:
        return list(found.pauses[ticket_id])
    return list(db.session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id).order_by(SlaPause.id)))


def _add_pause(pause: SlaPause) -> None:
    db.session.add(pause)
    found = _prefetched_for(pause.ticket_id)
    if found is not None:
        found.pauses[pause.ticket_id].append(pause)


def histories(ticket: Ticket, pauses: list[SlaPause]) -> dict[str, ClockHistory]:
    """Each clock's history: started when filed, paused by `pauses`, stopped when met."""
    resolution_stop = None
    if ticket.status in ("resolved", "closed"):
        resolution_stop = ticket.resolved_at or ticket.closed_at
    first_stop = ticket.first_responded_at
    if resolution_stop is not None and (first_stop is None or resolution_stop < first_stop):
        first_stop = resolution_stop  # resolving without a reply answers the client too
    spans = tuple(Pause(p.started_at, p.ended_at) for p in pauses)
    return {
        "first_response": ClockHistory(ticket.created_at, spans, first_stop),
        "resolution": ClockHistory(ticket.created_at, spans, resolution_stop),
    }


def status_changing(ticket: Ticket, old: str, new: str, now: datetime) -> None:
    """Record what a status change means for the clocks; call it before the ticket changes."""
    if old == new:
        return
    if old == "waiting_on_client":
        for pause in pauses_of(ticket.id):
            if pause.ended_at is None:
                pause.ended_at = now
    if new == "waiting_on_client":
        _add_pause(SlaPause(ticket_id=ticket.id, reason="waiting_on_client", started_at=now))
    if old in ("resolved", "closed") and new in OPEN_STATUSES:
        stopped = ticket.resolved_at or ticket.closed_at
        if stopped is not None and stopped < now:
            # Reopened: the clocks resume where they stopped; the time resolved does not count.
            _add_pause(SlaPause(ticket_id=ticket.id, reason="resolved", started_at=stopped, ended_at=now))


def first_public_reply(ticket: Ticket, now: datetime) -> None:
    """An agent's public reply: the first one meets the first-response clock."""
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now


# -- recomputing -----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def refresh(ticket: Ticket, now: datetime, *, actor: User | None = None, via: str = "system",
            reason: str | None = None, filed: bool = False, reference: SlaReference | None = None,
            new_clocks: list[dict[str, Any]] | None = None) -> int:
    """Recompute the ticket's clocks from their history at `now`; returns facts recorded.

    With a `reason` ("priority", "category", "coverage"), a change of policy or due instants is
    written to the ticket's history, with the coverage source it came from and went to (a new
    category usually means a new source). `filed`: the ticket was filed in this transaction, so
    it has no clocks, facts or pauses to read yet, and the clocks are left for the caller's
    commit to flush; with `new_clocks`, their rows are appended there instead of inserted, for the
    caller to `insert_clocks` after it flushed the ticket (tickets.services). Otherwise flushes;
    the caller commits. `reference`: the SLA reference the
    caller read already (a filing reads it before its first write: tickets.services).
    """
    # The ticket's pending changes are flushed once, at the end, not before each read here:
    # none of these reads depends on them.
    pre = None if filed else _prefetched_for(ticket.id)
    with db.session.no_autoflush:
        if pre is not None:
            source, policy = policy_terms_for_ticket(ticket, pre.reference, pre.plan_policies)
        else:
            source, policy = policy_terms_for_ticket(ticket, reference)
        before = (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at)
        source_before = ticket.sla_source
        ticket.sla_source = source
        clocks: dict[str, SlaClock] = {}
        facts: set[tuple[str, str]] = set()
        if pre is not None:  # the same objects: what this refresh adds, the next one sees
            clocks, facts = pre.clocks[ticket.id], pre.facts[ticket.id]
        elif not filed:
            clocks = {c.kind: c for c in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id))}
            facts = {(row[0], row[1]) for row in db.session.execute(
                select(SlaEvent.clock, SlaEvent.kind).where(SlaEvent.ticket_id == ticket.id)
            )}
    recorded = 0
    readings: dict[str, ClockReading] = {}
    waiting_seconds = 0
    if policy is None:
        ticket.sla_policy_id = None
        ticket.sla_state = None
        ticket.first_response_due_at = ticket.resolution_due_at = None
        ticket.next_deadline_at = ticket.sla_check_at = None
        ticket.sla_paused_seconds = 0
        for row in clocks.values():
            db.session.delete(row)
        clocks.clear()
    else:
        cal = policy.calendar
        pauses = [] if filed else pauses_of(ticket.id)
        new_rows: list[dict[str, Any]] = []
        for kind, history in histories(ticket, pauses).items():
            reading = read_clock(cal, history, policy.minutes(kind, ticket.priority), policy.warning_percent, now)
            readings[kind] = reading
            row = clocks.get(kind)
            if filed:  # a new ticket's clocks: plain rows, one INSERT for both (nothing reads them back here)
                new_rows.append({
                    "ticket_id": ticket.id, "kind": kind, "policy_id": policy.id,
                    "target_minutes": policy.minutes(kind, ticket.priority), "warning_percent": policy.warning_percent,
                    "state": reading.state, "due_at": reading.due_at, "warning_at": reading.warning_at,
                    "stopped_at": history.stopped_at, "outcome": reading.outcome,
                    "elapsed_seconds": reading.elapsed_seconds, "paused_seconds": reading.paused_seconds,
                    "updated_at": now,
                })
                continue
            if row is None:
                row = clocks[kind] = SlaClock(ticket_id=ticket.id, kind=kind)
                db.session.add(row)
            row.policy_id = policy.id
            row.target_minutes = policy.minutes(kind, ticket.priority)
            row.warning_percent = policy.warning_percent
            row.state, row.due_at, row.warning_at = reading.state, reading.due_at, reading.warning_at
            row.stopped_at = history.stopped_at
            row.outcome = reading.outcome
            row.elapsed_seconds, row.paused_seconds = reading.elapsed_seconds, reading.paused_seconds
            row.updated_at = now
        if new_rows and new_clocks is not None:
            new_clocks.extend(new_rows)
        elif new_rows:
            db.session.execute(insert(SlaClock), new_rows)
        waiting_seconds = sum(
            business_seconds_between(cal, p.started_at, p.ended_at or now)
            for p in pauses
            if p.reason == "waiting_on_client"
        )
        ticket.sla_policy_id = policy.id
        ticket.first_response_due_at = readings["first_response"].due_at
        ticket.resolution_due_at = readings["resolution"].due_at
        ticket.sla_paused_seconds = waiting_seconds
        for kind, reading in readings.items():  # _record's savepoint flushes what is pending
            for fact_kind, instant in facts_due(kind, reading, facts, now):
                if _record(ticket, kind, fact_kind, instant, now):
                    recorded += 1
                facts.add((kind, fact_kind))
        _derive_ticket_state(ticket, readings, facts, now)
    if reason is not None and before != (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at):
        db.session.add(TicketEvent(
            ticket_id=ticket.id,
            actor_id=actor.id if actor else None,
            via=via if actor else "system",
            kind="sla_recomputed",
            internal=True,
            created_at=now,
            data={
                "reason": reason,
                "source": {"from": source_before, "to": source},
                "policy": {"from": before[0], "to": ticket.sla_policy_id},
                "first_response_due": {"from": _iso(before[1]), "to": _iso(ticket.first_response_due_at)},
                "resolution_due": {"from": _iso(before[2]), "to": _iso(ticket.resolution_due_at)},
            },
        ))
    defer_timers(timers_for(ticket.id, readings, facts, now))
    if not filed:  # a filing's clocks are written with the rest of the filing, at its commit
        db.session.flush()
    return recorded


def _derive_ticket_state(ticket: Ticket, readings: dict[str, ClockReading], facts: set, now: datetime) -> None:
    ticket.sla_state, ticket.next_deadline_at, ticket.sla_check_at = derived_state(readings, facts, now)


def derived_state(readings: dict[str, ClockReading], facts: set, now: datetime
                  ) -> tuple[str, datetime | None, datetime | None]:
    """The ticket's (sla_state, next_deadline_at, sla_check_at) from its clocks and facts."""
    live = [k for k, r in readings.items() if r.state != "stopped"]
    if not live:
        state = "stopped"
    elif any((k, "breach") in facts for k in live):
        state = "breached"
    elif any(readings[k].state == "paused" for k in live):
        state = "paused"
    elif any((k, "warning") in facts for k in live):
        state = "warning"
    else:
        state = "running"
    dues = [r.due_at for r in readings.values() if r.state == "running" and r.due_at is not None]
    checks = [at for k, r in readings.items() for at in pending_facts(k, r, facts, now).values() if at is not None]
    return state, (min(dues) if dues else None), (min(checks) if checks else None)


def coverage_changed(ticket: Ticket, now: datetime, *, actor: User | None = None, via: str = "system") -> int:
    """The ticket's coverage was decided again (a time entry, a manager's approval, a retry of
    an undecided filing): recompute in the same transaction, and say so if the clocks moved.
    Filing and reclassifying refresh on their own (the latter with the reason "category")."""
    return refresh(ticket, now, actor=actor, via=via, reason="coverage")


# -- facts -----------------------------------------------------------------------------------


def _record(ticket: Ticket, clock: str, kind: str, instant: datetime, now: datetime) -> bool:
    """Store one fact unless it is stored already (by us earlier, or by a concurrent job)."""
    fact = SlaEvent(ticket_id=ticket.id, clock=clock, kind=kind, instant=instant, recorded_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(fact)
            db.session.flush()
    except IntegrityError:
        return False
    sla_fact_recorded(ticket, fact)
    return True


def sla_fact_recorded(ticket: Ticket, fact: SlaEvent) -> None:
    """A warning or a breach has just been recorded, once: write the history and notify.

    Runs in the transaction that stores the fact, so whatever the notification writes (its
    outbox row) commits with the fact or not at all.
    """
    db.session.add(TicketEvent(
        ticket_id=ticket.id,
        actor_id=None,
        via="system",
        kind="sla_breached" if fact.kind == "breach" else "sla_warning",
        internal=True,
        created_at=fact.recorded_at,
        data={"clock": fact.clock, "instant": _iso(fact.instant)},
    ))
    event_name, recipients, values = notification_for(ticket, fact)
    notify(event_name, recipients=recipients_for_ids(recipients), values=values, ticket_id=ticket.id)


def notification_for(ticket: Ticket, fact: SlaEvent) -> tuple[str, list[int], dict[str, Any]]:
    """The event, recipient user ids and values of a fact's notification.

    Recipients: the assignee; else the client's onboarding guardian; else every active manager.
    """
    recipients: list[int] = []
    if ticket.assignee_id is not None:
        recipients = [ticket.assignee_id]
    else:
        client = db.session.get(Client, ticket.client_id)
        if client is not None and client.guardian_id is not None:
            recipients = [client.guardian_id]
        else:
            recipients = list(db.session.scalars(
                select(User.id).where(User.role == "manager", User.active.is_(True)).order_by(User.id)
            ))
    values = {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "priority": ticket.priority,
        "clock": fact.clock,
        "instant": _iso(fact.instant),
    }
    return ("sla.breached" if fact.kind == "breach" else "sla.warning"), recipients, values


# -- the sweep, set-based --------------------------------------------------------------------


def record_due(now: datetime, batch: int = 1000) -> tuple[list[int], int, list[int]]:
    """Record the warnings and breaches due by `now` on up to `batch` tickets, in one transaction.

    Set-based: one query reads the due tickets (row-locked on PostgreSQL, skipping those another
    transaction holds: it refreshes them itself) with their stored clocks and facts; the pure
    rules of `tickets.sla.clock` decide from the stored due and warning instants (every change of
    a clock's history refreshes them) which facts are due; one INSERT ... ON CONFLICT DO NOTHING
    stores them (a fact recorded meanwhile by a timer or a refresh is not stored twice, and only
    the rows inserted here get their history and notification); the history rows and the outbox
    rows go in bulk; one executemany UPDATE moves each ticket's state and next check.
    Returns (tickets handled, facts recorded, tickets without stored clocks, left for `refresh`).
    Flushes; the caller commits.
    """
    due = (
        select(Ticket.id, Ticket.assignee_id, Ticket.subject, Ticket.priority, Client.guardian_id,
               SlaClock.id, SlaClock.kind, SlaClock.state, SlaClock.due_at, SlaClock.warning_at,
               SlaClock.outcome, SlaClock.paused_seconds)
        .join(Client, Client.id == Ticket.client_id)
        .outerjoin(SlaClock, SlaClock.ticket_id == Ticket.id)
        .where(Ticket.id.in_(
            select(Ticket.id).where(Ticket.sla_check_at <= now).order_by(Ticket.sla_check_at).limit(batch)
            .with_for_update(skip_locked=True)
        ))
    )
    tickets: dict[int, dict[str, Any]] = {}
    for (ticket_id, assignee_id, subject, priority, guardian_id,
         clock_id, kind, state, due_at, warning_at, outcome, paused) in db.session.execute(due):
        entry = tickets.setdefault(ticket_id, {
            "assignee_id": assignee_id, "guardian_id": guardian_id, "subject": subject,
            "priority": priority, "clocks": {}, "readings": {}, "facts": set(),
        })
        if clock_id is not None:
            entry["clocks"][kind] = clock_id
            entry["readings"][kind] = ClockReading(state, due_at, warning_at, 0, 0, paused, outcome)
    if not tickets:
        return [], 0, []
    for ticket_id, clock, kind in db.session.execute(
        select(SlaEvent.ticket_id, SlaEvent.clock, SlaEvent.kind).where(_among(SlaEvent.ticket_id, list(tickets)))
    ):
        tickets[ticket_id]["facts"].add((clock, kind))
    unread = [tid for tid, t in tickets.items() if not t["readings"]]
    rows = []
    for ticket_id, t in tickets.items():
        for clock, reading in t["readings"].items():
            for kind, instant in facts_due(clock, reading, t["facts"], now):
                rows.append({"ticket_id": ticket_id, "clock": clock, "kind": kind, "instant": instant,
                             "recorded_at": now})
    recorded = _insert_facts(rows)
    for ticket_id, clock, kind, _instant in recorded:
        tickets[ticket_id]["facts"].add((clock, kind))
    _announce(tickets, recorded, now)
    states, outcomes = [], []
    for ticket_id, t in tickets.items():
        if not t["readings"]:
            continue
        for clock, reading in t["readings"].items():
            if (clock, "breach") in t["facts"] and reading.state != "stopped" and reading.outcome != "breached":
                outcomes.append(t["clocks"][clock])
        state, next_deadline, check_at = derived_state(t["readings"], t["facts"], now)
        states.append({"id": ticket_id, "sla_state": state, "next_deadline_at": next_deadline,
                       "sla_check_at": check_at})
    _update_states(states)
    if outcomes:
        db.session.execute(
            update(SlaClock).where(_among(SlaClock.id, outcomes)).values(outcome="breached", updated_at=now),
            execution_options={"synchronize_session": False},
        )
    db.session.flush()
    return list(tickets), len(recorded), unread


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _among(col: Any, ids: list[int]) -> Any:
    """`col IN ids`; on PostgreSQL `col = ANY(array)`, one parameter: the statement's text is the same
    for any number of ids, so it is compiled and parsed once (a thousand placeholders cost more to
    build and to parse than the query takes to run)."""
    if _postgres():
        return col == any_(bindparam(None, ids, type_=postgresql.ARRAY(Integer)))
    return col.in_(ids)


# PostgreSQL: the sweep's rows go as one array per column (unnest), a statement of constant text
# with a handful of parameters whatever the number of rows, instead of 5,000 placeholders to
# compile and parse (insertmanyvalues) or one execution per row (executemany). JSON goes as one
# JSON array (psycopg escapes each text of an array, with a regular expression).
_STATES_PG = text(
    "UPDATE tickets SET sla_state = s.sla_state, next_deadline_at = s.next_deadline_at, sla_check_at = s.sla_check_at "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:states AS varchar[]), CAST(:deadlines AS timestamptz[]), "
    "CAST(:checks AS timestamptz[])) AS s(id, sla_state, next_deadline_at, sla_check_at) WHERE tickets.id = s.id"
)
_FACTS_PG = text(
    "INSERT INTO sla_events (ticket_id, clock, kind, instant, recorded_at) "
    "SELECT f.ticket_id, f.clock, f.kind, f.instant, :recorded_at FROM unnest(CAST(:ticket_ids AS integer[]), "
    "CAST(:clocks AS varchar[]), CAST(:kinds AS varchar[]), CAST(:instants AS timestamptz[])) "
    "WITH ORDINALITY AS f(ticket_id, clock, kind, instant, n) ORDER BY f.n "
    "ON CONFLICT (ticket_id, clock, kind) DO NOTHING RETURNING ticket_id, clock, kind, instant"
).bindparams(bindparam("recorded_at", type_=UTCDateTime)).columns(
    SlaEvent.ticket_id, SlaEvent.clock, SlaEvent.kind, SlaEvent.instant)
_HISTORY_PG = text(
    "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, internal, created_at, data) "
    "SELECT e.ticket_id, NULL, 'system', e.kind, true, :created_at, e.data "
    "FROM ROWS FROM (unnest(CAST(:ticket_ids AS integer[])), unnest(CAST(:kinds AS varchar[])), "
    "json_array_elements(CAST(:data AS json))) "
    "WITH ORDINALITY AS e(ticket_id, kind, data, n) ORDER BY e.n"
).bindparams(bindparam("created_at", type_=UTCDateTime))


def _update_states(states: list[dict[str, Any]], chunk: int = 1000) -> None:
    """Each ticket's own state and next check: UPDATE tickets ... FROM unnest(arrays) on PostgreSQL
    (one statement), WITH due_states AS (VALUES ...) UPDATE ... FROM due_states on SQLite 3.33+ (one
    per `chunk` tickets)."""
    postgres = _postgres()
    if postgres and states:
        db.session.execute(_STATES_PG, {
            "ids": [r["id"] for r in states], "states": [r["sla_state"] for r in states],
            "deadlines": [r["next_deadline_at"] for r in states], "checks": [r["sla_check_at"] for r in states],
        })
        return
    for start in range(0, len(states), chunk):
        part = states[start:start + chunk]
        rows = values(
            column("id", Integer), column("sla_state", String), column("next_deadline_at", UTCDateTime),
            column("sla_check_at", UTCDateTime), name="due_states",
        ).data([(r["id"], r["sla_state"], r["next_deadline_at"], r["sla_check_at"]) for r in part]).cte()
        deadline, check = rows.c.next_deadline_at, rows.c.sla_check_at
        if postgres:  # a column of NULLs alone would be typed text
            deadline, check = cast(deadline, TIMESTAMP(timezone=True)), cast(check, TIMESTAMP(timezone=True))
        db.session.execute(
            update(Ticket).where(Ticket.id == rows.c.id)
            .values(sla_state=rows.c.sla_state, next_deadline_at=deadline, sla_check_at=check),
            execution_options={"synchronize_session": False},
        )


def _insert_facts(rows: list[dict[str, Any]]) -> list[tuple[int, str, str, datetime]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the facts this statement stored, no others.

    One statement for all rows: from one array per column on PostgreSQL, SQLAlchemy's
    insertmanyvalues batches on SQLite."""
    if not rows:
        return []
    if _postgres():
        return [tuple(r) for r in db.session.execute(_FACTS_PG, {
            "ticket_ids": [r["ticket_id"] for r in rows], "clocks": [r["clock"] for r in rows],
            "kinds": [r["kind"] for r in rows], "instants": [r["instant"] for r in rows],
            "recorded_at": rows[0]["recorded_at"],
        })]
    dialect = sqlite
    stmt = (
        dialect.insert(SlaEvent.__table__)
        .on_conflict_do_nothing(index_elements=["ticket_id", "clock", "kind"])
        .returning(SlaEvent.ticket_id, SlaEvent.clock, SlaEvent.kind, SlaEvent.instant)
    )
    return [tuple(r) for r in db.session.connection().execute(stmt, rows)]


def _announce(tickets: dict[int, dict[str, Any]], recorded: list[tuple[int, str, str, datetime]],
              now: datetime) -> None:
    """History rows and notifications of the facts just stored, in bulk (what `sla_fact_recorded`
    does for one)."""
    if not recorded:
        return
    history = [(ticket_id, "sla_breached" if kind == "breach" else "sla_warning", {"clock": clock, "instant": _iso(instant)})
               for ticket_id, clock, kind, instant in sorted(recorded)]
    if _postgres():
        db.session.execute(_HISTORY_PG, {"ticket_ids": [h[0] for h in history], "kinds": [h[1] for h in history],
                                         "data": json.dumps([h[2] for h in history]), "created_at": now})
    else:
        db.session.execute(insert(TicketEvent), [
            {"ticket_id": ticket_id, "actor_id": None, "via": "system", "kind": kind, "internal": True,
             "created_at": now, "data": data}
            for ticket_id, kind, data in history
        ])
    managers: list[int] | None = None
    wanted: dict[int, list[int]] = {}
    for ticket_id, _clock, _kind, _instant in recorded:
        t = tickets[ticket_id]
        if t["assignee_id"] is not None:
            wanted[ticket_id] = [t["assignee_id"]]
        elif t["guardian_id"] is not None:
            wanted[ticket_id] = [t["guardian_id"]]
        else:
            if managers is None:
                managers = list(db.session.scalars(
                    select(User.id).where(User.role == "manager", User.active.is_(True)).order_by(User.id)
                ))
            wanted[ticket_id] = managers
    user_ids = {i for ids in wanted.values() for i in ids}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    notices = []
    for ticket_id, clock, kind, instant in sorted(recorded):
        t = tickets[ticket_id]
        values = {"ticket_id": ticket_id, "number": ticket_number(ticket_id), "subject": t["subject"],
                  "priority": t["priority"], "clock": clock, "instant": _iso(instant)}
        recipients = recipients_for(users.get(i) for i in wanted[ticket_id])
        notices.append(Notice("sla.breached" if kind == "breach" else "sla.warning", recipients, values, ticket_id))
    notify_many(notices)


def insert_clocks(rows: list[dict[str, Any]]) -> None:
    """Insert a new ticket's clocks (`refresh(filed=True, new_clocks=...)`), one INSERT for all.

    Call it after the ticket's SLA source is flushed: the clocks' trigger then counts the ticket
    in `sla_month_counts` under its source at once (before, it counted it under no source and the
    ticket's UPDATE moved it: three writes to the summary, and twice the clocks' INSERT time)."""
    db.session.execute(insert(SlaClock), rows)
