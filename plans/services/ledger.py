"""The coverage decision record and the usage ledger: reading a ticket's decisions, writing a
decision with its ``UsageEntry`` rows, and announcing what they cross.

Decisions are immutable and the ledger is append-only: a refund or a settlement is a new row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from plans.coverage import Decision, TimeCharge, inputs_to_dict
from plans.models import CoverageDecision, UsageEntry
from plans.services.allowances import Situation
from plans.services.announcements import AllowanceLevel, allowance_thresholds_crossed, announce


@dataclass
class Outcome:
    """What the engine wrote for one event on a ticket, and which notifications it raised."""

    record: CoverageDecision
    entries: list[UsageEntry] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


def current_decision(ticket_id: int) -> CoverageDecision | None:
    """The ticket's latest coverage decision."""
    return db.session.scalars(
        select(CoverageDecision).where(CoverageDecision.ticket_id == ticket_id).order_by(CoverageDecision.id.desc()).limit(1)
    ).first()


def current_decisions(ticket_ids: list[int]) -> dict[int, CoverageDecision]:
    """The latest decision of each ticket, in one query."""
    if not ticket_ids:
        return {}
    latest = (
        select(func.max(CoverageDecision.id))
        .where(CoverageDecision.ticket_id.in_(ticket_ids))
        .group_by(CoverageDecision.ticket_id)
    )
    return {d.ticket_id: d for d in db.session.scalars(select(CoverageDecision).where(CoverageDecision.id.in_(latest)))}


def refundable_of(ticket_ids: list[int]) -> dict[int, list[Any]]:
    """``_refundable`` of each ticket, in one query (tickets with nothing to refund are left out)."""
    per = (
        UsageEntry.subscription_id,
        UsageEntry.period_label,
        UsageEntry.period_start,
        UsageEntry.charge,
        UsageEntry.source,
        UsageEntry.currency,
    )
    found: dict[int, list[Any]] = {}
    for row in db.session.execute(
        select(
            UsageEntry.ticket_id,
            *per,
            func.coalesce(func.sum(UsageEntry.minutes), 0).label("minutes"),
            func.coalesce(func.sum(UsageEntry.tickets), 0).label("tickets"),
            func.coalesce(func.sum(UsageEntry.amount), 0).label("amount"),
        )
        .where(UsageEntry.ticket_id.in_(ticket_ids), UsageEntry.charge != "free")
        .group_by(UsageEntry.ticket_id, *per)
        # The whole key, so the refund rows come in the same order however they are read.
        .order_by(UsageEntry.ticket_id, UsageEntry.period_start, UsageEntry.charge, UsageEntry.subscription_id,
                  UsageEntry.period_label, UsageEntry.source, UsageEntry.currency)
    ).all():
        if row.minutes or row.tickets or row.amount:
            found.setdefault(row.ticket_id, []).append(row)
    return found


def time_entry_decision(time_entry_id: int) -> CoverageDecision:
    """The decision a time entry's minutes got (each entry has exactly one)."""
    return db.session.scalars(
        select(CoverageDecision).where(CoverageDecision.time_entry_id == time_entry_id)
    ).one()


def decisions_for_ticket(ticket_id: int) -> list[CoverageDecision]:
    """The ticket's decision history, oldest first."""
    return list(db.session.scalars(_decisions_statement(), {"ticket_id": ticket_id}))


@cache
def _decisions_statement() -> Select:
    # Built once: building the statement cost as much as running it (the ticket page).
    return select(CoverageDecision).where(
        CoverageDecision.ticket_id == bindparam("ticket_id")
    ).order_by(CoverageDecision.id)


def store_decision(
    *,
    ticket_id: int,
    s: Situation,
    category: str,
    decision: Decision,
    day: date,
    trigger: str,
    approval: str | None,
    actor_id: int | None,
    why: str | None = None,
    time_entry_id: int | None = None,
    charge: TimeCharge | None = None,
) -> CoverageDecision:
    record = CoverageDecision(
        ticket_id=ticket_id,
        client_id=s.client.id,
        time_entry_id=time_entry_id,
        trigger=trigger,
        why=why or None,
        category=category,
        source=decision.source,
        covered=decision.covered,
        needs_approval=decision.needs_approval,
        billable=decision.billable,
        approval=approval,
        reason_msgid=decision.reason.msgid,
        reason_params=decision.reason.to_dict()["params"],
        period_label=s.period.label,
        period_start=s.period.start,
        subscription_id=s.subscription.id if s.subscription else None,
        inputs=inputs_to_dict(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=day),
        decision=decision.to_dict(),
        charge=None if charge is None else {
            "billed_minutes": charge.billed_minutes,
            "covered_minutes": charge.covered_minutes,
            "overage_minutes": charge.overage_minutes,
            "consumes_allowance": charge.consumes_allowance,
            "needs_approval": charge.needs_approval,
            "billable_overage": charge.billable_overage,
        },
        actor_id=actor_id,
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    return record


def entry(record: CoverageDecision, s: Situation, **values: Any) -> UsageEntry:
    values.setdefault("period_label", s.period.label)
    values.setdefault("period_start", s.period.start)
    values.setdefault("subscription_id", s.subscription.id if s.subscription else None)
    entry = UsageEntry(
        client_id=s.client.id,
        ticket_id=record.ticket_id,
        decision_id=record.id,
        created_at=utcnow(),
        **values,
    )
    db.session.add(entry)
    return entry


def amount(minutes: int, rate: Decimal | None) -> Decimal:
    if rate is None or not minutes:
        return Decimal(0)
    return (Decimal(minutes) * rate / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _level(s: Situation, minutes: int = 0, tickets: int = 0) -> AllowanceLevel:
    if s.allowance is None:
        return AllowanceLevel()
    return AllowanceLevel(
        minutes_used=s.allowance.minutes_used + minutes,
        minutes_available=s.allowance.available_minutes,
        tickets_used=s.allowance.tickets_used + tickets,
        tickets_available=s.allowance.terms.allowance_tickets,
    )


def finish(
    record: CoverageDecision, s: Situation, entries: list[UsageEntry], previous: CoverageDecision | None
) -> Outcome:
    """Flush the rows, work out which notifications they raise and announce them."""
    db.session.flush()
    events: list[str] = []
    if record.approval == "pending" and (previous is None or previous.approval != "pending"):
        events.append("approval.needed")
    if s.allowance is not None:
        minutes = sum(e.minutes for e in entries if e.charge == "allowance" and e.period_start == s.period.start)
        tickets = sum(e.tickets for e in entries if e.charge == "allowance" and e.period_start == s.period.start)
        events += allowance_thresholds_crossed(_level(s), _level(s, minutes, tickets))
    for name in events:
        announce(name, client=s.client, ticket_id=record.ticket_id, values={
            "ticket_id": record.ticket_id,
            "period": record.period_label,
            "source": record.source,
            "reason": {"msgid": record.reason_msgid, "params": record.reason_params},
        })
    return Outcome(record, entries, events)
