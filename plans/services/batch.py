"""Deciding the coverage of many tickets in one transaction (a bulk reclassification) without
reading, per ticket, what does not change from one ticket to the next.

``prepared`` locks each client once for the whole transaction and reads, for all the tickets at
once: the clients' subscriptions on the day (with their plans and plan versions), the allowance
used per period (``allowance_used``), and per ticket its latest decision, the tickets it counts
in the period, its refundable usage and its pending minutes. Inside the block
``decide_for_ticket`` takes them from here instead of about nine queries per ticket.

The decisions are the same as one by one, because the allowance used is kept up to date in
memory: every ledger row the engine writes inside the block is added to it (``record``). A ticket
whose savepoint is rolled back must be ``forget``-ed: its rows are taken off again (the journal
since ``mark``) and the ticket is read from the database from then on. A ticket's own reads are
used once: deciding it again in the same block reads the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from helpdesk.companies import Client
from helpdesk.extensions import db
from plans.models import CoverageDecision, Subscription, UsageEntry
from plans.periods import Period
from plans.services.allowances import Situation, allowance_used, period_of, situation_of
from plans.services.clients import lock_client
from plans.services.ledger import current_decisions, refundable_of

_UNREAD = object()


@dataclass
class _Client:
    client: Client
    subscription: Subscription | None
    period: Period | None  # the subscription's period containing the day
    used: dict[date, tuple[int, int]]  # allowance (minutes, tickets) per period start, kept current


@dataclass
class _Ticket:
    client_id: int
    previous: CoverageDecision | None
    counted: int  # tickets taken from the allowance of the client's current period
    refundable: list[Any]
    pending: int


@dataclass
class Batch:
    today: date
    clients: dict[int, _Client]
    tickets: dict[int, _Ticket]
    journal: list[tuple[int, date, int, int]] = field(default_factory=list)  # (client, start, minutes, tickets)

    def take(self, ticket_id: int, client_id: int, today: date) -> _Ticket | None:
        """The ticket's prefetched reads (once), if this block holds them for this client and day."""
        if today != self.today or client_id not in self.clients:
            return None
        found = self.tickets.get(ticket_id)
        if found is None or found.client_id != client_id:
            return None
        return self.tickets.pop(ticket_id)

    def situation(self, client_id: int, counted: int) -> Situation:
        held = self.clients[client_id]
        return situation_of(held.client, held.subscription, held.used, self.today, counted)

    def record(self, client_id: int, entries: Iterable[UsageEntry]) -> None:
        """Add the allowance rows just written for a ticket of the client to the usage kept here."""
        held = self.clients.get(client_id)
        if held is None or held.subscription is None or held.period is None:
            return
        for e in entries:
            if (e.charge == "allowance" and e.subscription_id == held.subscription.id
                    and e.period_start < held.period.end and (e.minutes or e.tickets)):
                self._add(client_id, e.period_start, int(e.minutes or 0), int(e.tickets or 0))
                self.journal.append((client_id, e.period_start, int(e.minutes or 0), int(e.tickets or 0)))

    def _add(self, client_id: int, start: date, minutes: int, tickets: int) -> None:
        used = self.clients[client_id].used
        was_minutes, was_tickets = used.get(start, (0, 0))
        used[start] = (was_minutes + minutes, was_tickets + tickets)

    def mark(self) -> int:
        return len(self.journal)

    def forget(self, ticket_id: int, mark: int) -> None:
        """The ticket's savepoint was rolled back: take its rows off the usage kept here."""
        while len(self.journal) > mark:
            client_id, start, minutes, tickets = self.journal.pop()
            self._add(client_id, start, -minutes, -tickets)
        self.tickets.pop(ticket_id, None)


_BATCH: ContextVar[Batch | None] = ContextVar("plans.services.batch", default=None)


def current() -> Batch | None:
    return _BATCH.get()


@contextmanager
def prepared(tickets: Iterable[tuple[int, int | None]], today: date) -> Iterator[Batch]:
    """Inside, ``decide_for_ticket`` of these (ticket id, client id) pairs on ``today`` reads
    what it needs from memory. Locks every client at once (in id order, so two blocks cannot
    deadlock), before any read, for the rest of the transaction: open it outside the tickets'
    savepoints."""
    pairs = {ticket_id: client_id for ticket_id, client_id in tickets if client_id is not None}
    client_ids = sorted(set(pairs.values()))
    for client_id in client_ids:
        lock_client(client_id)
    batch = Batch(today, _clients(client_ids, today), {})
    if pairs:
        batch.tickets = _tickets(pairs, batch)
    token = _BATCH.set(batch)
    try:
        yield batch
    finally:
        _BATCH.reset(token)


def _clients(client_ids: list[int], today: date) -> dict[int, _Client]:
    if not client_ids:
        return {}
    clients = {c.id: c for c in db.session.scalars(select(Client).where(Client.id.in_(client_ids)))}
    subscriptions = {
        s.client_id: s for s in db.session.scalars(
            select(Subscription).where(
                Subscription.client_id.in_(client_ids),
                Subscription.starts_on <= today,
                or_(Subscription.ends_on.is_(None), Subscription.ends_on >= today),
            )
        )
    }
    periods = {sid: period_of(s, today) for sid, s in subscriptions.items()}
    # One query for all: each subscription's sums up to the end of its own current period.
    latest_end = max((p.end for p in periods.values()), default=today)
    used = allowance_used([s.id for s in subscriptions.values()], latest_end)
    held = {}
    for client_id in client_ids:
        if client_id not in clients:
            continue  # get_client says there is no such client, as one by one
        subscription = subscriptions.get(client_id)
        period = periods.get(client_id)
        own = {}
        if subscription is not None and period is not None:
            own = {start: sums for start, sums in used.get(subscription.id, {}).items() if start < period.end}
        held[client_id] = _Client(clients[client_id], subscription, period, own)
    return held


def _tickets(pairs: dict[int, int], batch: Batch) -> dict[int, _Ticket]:
    ids = sorted(pairs)
    previous = current_decisions(ids)
    counted: dict[tuple[int, int, date], int] = {}
    for ticket_id, subscription_id, start, tickets in db.session.execute(
        select(UsageEntry.ticket_id, UsageEntry.subscription_id, UsageEntry.period_start,
               func.coalesce(func.sum(UsageEntry.tickets), 0))
        .where(UsageEntry.ticket_id.in_(ids), UsageEntry.charge == "allowance")
        .group_by(UsageEntry.ticket_id, UsageEntry.subscription_id, UsageEntry.period_start)
    ):
        counted[(ticket_id, subscription_id, start)] = int(tickets)
    refundable = refundable_of(ids)
    pending = {
        ticket_id: int(minutes) for ticket_id, minutes in db.session.execute(
            select(UsageEntry.ticket_id, func.coalesce(func.sum(UsageEntry.minutes), 0))
            .where(UsageEntry.ticket_id.in_(ids), UsageEntry.charge == "pending")
            .group_by(UsageEntry.ticket_id)
        )
    }
    found = {}
    for ticket_id in ids:
        held = batch.clients.get(pairs[ticket_id])
        if held is None:
            continue
        key = (ticket_id, held.subscription.id, held.period.start) if held.subscription and held.period else None
        found[ticket_id] = _Ticket(
            client_id=pairs[ticket_id],
            previous=previous.get(ticket_id),
            counted=counted.get(key, 0) if key else 0,
            refundable=refundable.get(ticket_id, []),
            pending=pending.get(ticket_id, 0),
        )
    return found
