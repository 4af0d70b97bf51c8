"""Coverage notifications: a ticket waiting for a manager's approval (to the managers), an
allowance at 80 % or used up (to the client's admins). Raised inside the caller's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.notifications import notify, recipients_for

log = logging.getLogger(__name__)

WARNING_SHARE = Decimal("0.8")


@dataclass(frozen=True)
class AllowanceLevel:
    """How much of a period's allowance is used: minutes and tickets (None: no such limit)."""

    minutes_used: int = 0
    minutes_available: int | None = None
    tickets_used: int = 0
    tickets_available: int | None = None


def allowance_thresholds_crossed(before: AllowanceLevel, after: AllowanceLevel) -> list[str]:
    """Which notification events a change of usage from ``before`` to ``after`` crosses:
    ``allowance.exhausted`` when the minutes or tickets reach the allowance, else
    ``allowance.warning`` when they reach WARNING_SHARE (80 %) of it. Pure; at most one event."""
    exhausted = warning = False
    pairs = (
        (before.minutes_used, after.minutes_used, after.minutes_available),
        (before.tickets_used, after.tickets_used, after.tickets_available),
    )
    for used_before, used_after, available in pairs:
        if not available:
            continue
        if used_before < available <= used_after:
            exhausted = True
        elif used_before < WARNING_SHARE * available <= used_after:
            warning = True
    if exhausted:
        return ["allowance.exhausted"]
    return ["allowance.warning"] if warning else []


def _recipients(client_id: int | None) -> list[User]:
    """Client admins of a client (allowance events) or, for None, the managers (approvals)."""
    query = select(User).where(User.active.is_(True))
    if client_id is None:
        query = query.where(User.role == "manager")
    else:
        query = query.where(User.client_id == client_id, User.is_client_admin.is_(True))
    return list(db.session.scalars(query.order_by(User.id)))


def announce(event: str, *, client: Client, ticket_id: int, values: dict[str, Any]) -> None:
    """The one place coverage emits notifications, inside the caller's transaction.

    NOTIFY(lead): after merging the notifications branch, call
    ``helpdesk.notifications.notify(event, recipients=recipients, values=values, ticket_id=ticket_id)``
    here. Events: ``approval.needed`` (to managers), ``allowance.warning`` and
    ``allowance.exhausted`` (to the client's admins).
    """
    recipients = _recipients(None if event == "approval.needed" else client.id)
    values = {"client": client.name, **values}
    log.info("coverage event %s for ticket %s to %s: %s", event, ticket_id, [u.email for u in recipients], values)
    notify(event, recipients=recipients_for(recipients), values=values, ticket_id=ticket_id)
