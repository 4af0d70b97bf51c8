"""Approvals of uncovered work: the approval state a new decision leaves a ticket in, and a
manager's settlement (billable, goodwill or declined) of the minutes pending approval.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from helpdesk.clock import utcnow
from helpdesk.errors import Conflict
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.models import SETTLEMENTS, CoverageDecision, UsageEntry
from plans.services.allowances import situation
from plans.services.clients import coverage_today, lock_client
from plans.services.ledger import Outcome, amount, current_decision, entry, finish
from plans.services.parsing import parse_currency, parse_money, raise_if


def pending_minutes(ticket_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(UsageEntry.minutes), 0)).where(
                UsageEntry.ticket_id == ticket_id, UsageEntry.charge == "pending"
            )
        )
    )


def next_approval(previous: str | None, *, uncovered: bool, trigger: str, pending_minutes: int) -> str | None:
    """The approval state a new decision leaves the ticket in.

    A manager's settlement (billable, goodwill, declined) holds for the ticket until its category
    changes; otherwise the ticket waits for approval while some of its work is uncovered or
    minutes are still pending.
    """
    if trigger != "reclassified" and previous in SETTLEMENTS:
        return previous
    if uncovered or (previous == "pending" and pending_minutes > 0):
        return "pending"
    return None


def approval_terms(ticket_id: int) -> tuple[Decimal | None, str | None]:
    """The rate and currency of the ticket's latest billable approval."""
    row = db.session.execute(
        select(CoverageDecision.approval_rate, CoverageDecision.approval_currency)
        .where(CoverageDecision.ticket_id == ticket_id, CoverageDecision.trigger == "approval")
        .order_by(CoverageDecision.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


# The columns of a coverage decision that say what was decided and why; a settlement copies them.
_ENTITLEMENT = (
    "category", "source", "covered", "needs_approval", "billable", "reason_msgid", "reason_params",
    "period_label", "period_start", "subscription_id", "inputs", "decision",
)


def settle_approval(
    *,
    ticket_id: int,
    client_id: int,
    outcome: Any,
    actor_id: int | None,
    message: str,
    rate: Any = None,
    currency: Any = None,
) -> Outcome:
    """A manager settles a ticket waiting for approval: ``billable``, ``goodwill`` or
    ``declined``; does not commit.

    The entitlement decision stays as it was; a new record says who settled it and how. Minutes
    pending approval move (two rows of kind ``approval``) to billable at the rate given or the
    plan's rate, to goodwill, or to unbilled. Later overage on the ticket follows the settlement.
    """
    fields: dict[str, str] = {}
    if outcome not in SETTLEMENTS:
        fields["outcome"] = _("Choose billable, goodwill or decline.")
    amount_rate = parse_money(fields, "rate", rate)
    raise_if(fields)
    lock_client(client_id)
    previous = current_decision(ticket_id)
    if previous is None or previous.approval != "pending":
        raise Conflict(_("This ticket is not waiting for a manager's approval."))
    plan_terms = ((previous.inputs.get("subscription") or {}).get("plan")) or {}
    currency_code = None
    if outcome == "billable":
        if amount_rate is None and plan_terms.get("hourly_rate") is not None:
            amount_rate = Decimal(plan_terms["hourly_rate"])  # the plan's rate, in the plan's currency
            currency = plan_terms.get("currency")
        if amount_rate is None:
            fields["rate"] = _("Enter the hourly rate to bill this work at.")
        currency_code = parse_currency(fields, "currency", currency)
        raise_if(fields)
    s = situation(client_id, coverage_today(), ticket_id)
    record = CoverageDecision(
        ticket_id=ticket_id,
        client_id=client_id,
        trigger="approval",
        why=message,
        **{name: getattr(previous, name) for name in _ENTITLEMENT},
        approval=outcome,
        approval_rate=amount_rate if outcome == "billable" else None,
        approval_currency=currency_code,
        actor_id=actor_id,
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    bucket = {"billable": "billable", "goodwill": "goodwill", "declined": "unbilled"}[outcome]
    pending = db.session.execute(
        select(
            UsageEntry.subscription_id,
            UsageEntry.period_label,
            UsageEntry.period_start,
            UsageEntry.source,
            func.sum(UsageEntry.minutes).label("minutes"),
        )
        .where(UsageEntry.ticket_id == ticket_id, UsageEntry.charge == "pending")
        .group_by(UsageEntry.subscription_id, UsageEntry.period_label, UsageEntry.period_start, UsageEntry.source)
        .order_by(UsageEntry.period_start)
    ).all()
    entries = []
    today = coverage_today()
    for row in pending:
        if not row.minutes:
            continue
        where = {"subscription_id": row.subscription_id, "period_label": row.period_label,
                 "period_start": row.period_start, "work_date": today, "source": row.source,
                 "kind": "approval", "author_id": actor_id}
        entries.append(entry(record, s, **where, charge="pending", minutes=-int(row.minutes)))
        rate_here = amount_rate if outcome == "billable" else None
        entries.append(entry(record, s, **where, charge=bucket, minutes=int(row.minutes),
                              amount=amount(int(row.minutes), rate_here), rate=rate_here,
                              currency=currency_code if outcome == "billable" else None))
    return finish(record, s, entries, previous)
