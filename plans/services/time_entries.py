"""Charging time entries: each entry's minutes decided as of its work date, rounded up to the
plan's increment and split at the end of the allowance; and the charges an entry got.
Like the rest of the engine it never commits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.coverage import MAX_ENTRY_MINUTES, charge_time, decide
from plans.models import UsageEntry
from plans.services.allowances import situation, tickets_counted
from plans.services.approvals import approval_terms, next_approval, pending_minutes
from plans.services.clients import lock_client
from plans.services.ledger import Outcome, amount, current_decision, entry, finish, store_decision
from plans.services.parsing import CoverageError


def charge_time_entry(
    *,
    ticket_id: int,
    client_id: int,
    category: str,
    time_entry_id: int,
    minutes: int,
    work_date: date,
    author_id: int | None,
) -> Outcome:
    """Decide and charge one time entry; does not commit.

    The rules decide as of the work date with the usage of that day's period; ``charge_time``
    rounds the minutes up to the plan's increment and splits them at the end of the allowance.
    Overage is billable (policy ``bill``, or a ticket a manager approved as billable), goodwill,
    unbilled (declined) or pending a manager's approval.
    """
    if not 1 <= minutes <= MAX_ENTRY_MINUTES:
        raise CoverageError(_("Enter from 1 to %(max)s minutes.", max=MAX_ENTRY_MINUTES), {"minutes": _("Out of range.")})
    lock_client(client_id)
    s = situation(client_id, work_date, ticket_id)
    decision = decide(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=work_date)
    plan = s.terms.plan if s.terms is not None and decision.source in ("support_plan", "none") else None
    charge = charge_time(decision=decision, minutes=minutes, plan=plan, usage=s.usage)
    previous = current_decision(ticket_id)
    approval = next_approval(
        previous.approval if previous else None,
        uncovered=charge.overage_minutes > 0 and not charge.billable_overage,
        trigger="time_entry",
        pending_minutes=pending_minutes(ticket_id),
    )
    record = store_decision(
        ticket_id=ticket_id, s=s, category=category, decision=decision, day=work_date, trigger="time_entry",
        approval=approval, actor_id=author_id, time_entry_id=time_entry_id, charge=charge,
    )
    common = {"work_date": work_date, "time_entry_id": time_entry_id, "author_id": author_id}
    entries: list[UsageEntry] = []
    if charge.covered_minutes and charge.consumes_allowance:
        assert s.subscription is not None
        counted = tickets_counted(ticket_id, s.subscription.id, s.period.start) > 0
        entries.append(entry(record, s, **common, source=decision.source, kind="consumption", charge="allowance",
                              minutes=charge.covered_minutes, tickets=0 if counted else 1))
    elif charge.covered_minutes:
        entries.append(entry(record, s, **common, source=decision.source, kind="consumption", charge="free",
                              minutes=charge.covered_minutes))
    if charge.overage_minutes:
        rate: Decimal | None = None
        currency: str | None = None
        if charge.billable_overage and plan is not None:
            bucket, rate, currency = "billable", plan.hourly_rate, plan.currency
        elif approval == "billable":
            bucket, (rate, currency) = "billable", approval_terms(ticket_id)
        elif approval in ("goodwill", "pending"):
            bucket = approval
        else:
            bucket = "unbilled"
        entries.append(entry(record, s, **common, source=decision.source, kind="overage", charge=bucket,
                              minutes=charge.overage_minutes, amount=amount(charge.overage_minutes, rate),
                              rate=rate, currency=currency))
    return finish(record, s, entries, previous)


@cache
def _charges_statement() -> Select:
    # Built once: building the statement cost as much as running it (the ticket page).
    return (
        select(UsageEntry.time_entry_id, UsageEntry.charge, func.sum(UsageEntry.minutes))
        .where(UsageEntry.ticket_id == bindparam("ticket_id"), UsageEntry.time_entry_id.is_not(None),
               UsageEntry.kind.in_(("consumption", "overage")))
        .group_by(UsageEntry.time_entry_id, UsageEntry.charge)
        .order_by(UsageEntry.time_entry_id, UsageEntry.charge)
    )


def time_entry_charges(ticket_id: int) -> dict[int, list[tuple[str, int]]]:
    """(charge, minutes) per time entry of a ticket, as first charged."""
    rows = db.session.execute(_charges_statement(), {"ticket_id": ticket_id}).all()
    charges: dict[int, list[tuple[str, int]]] = {}
    for entry_id, charge, minutes in rows:
        charges.setdefault(entry_id, []).append((charge, int(minutes)))
    return charges
