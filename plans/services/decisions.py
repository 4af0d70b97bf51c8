"""Deciding a ticket's coverage when it is filed or reclassified, the refunds a reclassification
into free work brings, and the preview of what would cover a new ticket.

The engine is called by tickets/ inside the ticket's own transaction. It serialises per client
(so two agents cannot both spend the last minutes of an allowance), reads usage from the ledger,
asks the pure rules in ``plans.coverage``, and writes an immutable ``CoverageDecision`` with its
``UsageEntry`` rows. It never commits: the caller commits the ticket change and its coverage
together. Tickets are known only by id; nothing in ``plans.services`` imports ``tickets``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from plans.coverage import CATEGORIES, FREE_SOURCES, Decision, decide
from plans.models import CoverageDecision, UsageEntry
from plans.services.allowances import Situation, situation, tickets_counted
from plans.services.approvals import next_approval, pending_minutes
from plans.services.batch import current as current_batch
from plans.services.clients import lock_client
from plans.services.ledger import Outcome, current_decision, entry, finish, refundable_of, store_decision


def decide_for_ticket(
    *,
    ticket_id: int,
    client_id: int,
    category: str,
    trigger: str,
    actor_id: int | None,
    today: date,
    why: str | None = None,
    new_ticket: bool = False,
) -> Outcome:
    """Decide a ticket's coverage when it is filed or reclassified; does not commit.

    A ticket covered by a plan's allowance is counted against the period's ticket allowance
    (once per period). Reclassified into a free source (a question that is really a bug), the
    ticket gets back every minute and ticket it took: negative rows in the periods they came
    from, and the same minutes recorded again as free work.

    ``new_ticket``: the ticket was created in this transaction (filing), so it has no earlier
    decision and no ledger rows; the three queries that would find none are skipped.
    """
    if trigger not in ("filed", "reclassified"):
        raise ValueError(f"unexpected trigger {trigger!r}")
    batch = current_batch()
    reads = None if batch is None or new_ticket else batch.take(ticket_id, client_id, today)
    if batch is None or reads is None:
        lock_client(client_id)
        s = situation(client_id, today, None if new_ticket else ticket_id)
        previous = None if new_ticket else current_decision(ticket_id)
    else:  # a bulk reclassification read these for all its tickets (plans.services.batch)
        s = batch.situation(client_id, reads.counted)
        previous = reads.previous
    decision = decide(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=today)
    refund_rows: list[Any] = []
    if trigger == "reclassified" and decision.source in FREE_SOURCES:
        refund_rows = _refundable(ticket_id) if reads is None else reads.refundable
    if refund_rows or new_ticket:
        pending = 0
    else:
        pending = pending_minutes(ticket_id) if reads is None else reads.pending
    approval = next_approval(
        previous.approval if previous else None,
        uncovered=not decision.covered,
        trigger=trigger,
        pending_minutes=pending,
    )
    record = store_decision(
        ticket_id=ticket_id, s=s, category=category, decision=decision, day=today, trigger=trigger,
        approval=approval, actor_id=actor_id, why=why,
    )
    entries: list[UsageEntry] = []
    if decision.within_allowance and s.subscription is not None:
        if new_ticket or (
            tickets_counted(ticket_id, s.subscription.id, s.period.start) if reads is None else reads.counted
        ) <= 0:
            entries.append(entry(record, s, work_date=today, source="support_plan", kind="consumption",
                                  charge="allowance", minutes=0, tickets=1, author_id=actor_id))
    entries += _refund(record, s, refund_rows, today, actor_id)
    outcome = finish(record, s, entries, previous)
    if batch is not None:
        batch.record(client_id, entries)  # the next ticket of the client sees this one's usage
    return outcome


def _refundable(ticket_id: int) -> list[Any]:
    """The ticket's net non-free usage, per period, subscription, charge, source and currency."""
    return refundable_of([ticket_id]).get(ticket_id, [])


def _refund(
    record: CoverageDecision, s: Situation, rows: list[Any], today: date, actor_id: int | None
) -> list[UsageEntry]:
    entries = []
    work: dict[tuple[int | None, str, date], int] = {}
    for row in rows:
        where = {"subscription_id": row.subscription_id, "period_label": row.period_label,
                 "period_start": row.period_start}
        entries.append(entry(record, s, **where, work_date=today, source=row.source, kind="refund",
                              charge=row.charge, minutes=-int(row.minutes), tickets=-int(row.tickets),
                              amount=-Decimal(row.amount), currency=row.currency, author_id=actor_id))
        key = (row.subscription_id, row.period_label, row.period_start)
        work[key] = work.get(key, 0) + int(row.minutes)
    for (subscription_id, label, start), minutes in work.items():
        if minutes > 0:
            entries.append(entry(record, s, subscription_id=subscription_id, period_label=label,
                                  period_start=start, work_date=today, source=record.source,
                                  kind="consumption", charge="free", minutes=minutes, author_id=actor_id))
    return entries


def preview(client_id: int, today: date) -> tuple[Situation, dict[str, Decision]]:
    """What would cover a new ticket of each category filed today (read-only)."""
    s = situation(client_id, today, None)
    return s, {
        category: decide(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=today)
        for category in CATEGORIES
    }
