"""How SLA clocks are shown: the queue's badge per ticket and the clocks on a ticket's page.

Reads what `tickets.sla.refresh` stored; business time left is counted on the policy's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, select

from helpdesk.calendars.arithmetic import BusinessCalendar, business_seconds_between
from helpdesk.calendars.models import Calendar, business_calendars, calendar_key_columns, calendars_from_keys
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.extensions import db
from helpdesk.i18n import _
from tickets.models import CLOCKS, SlaClock, SlaEvent, Ticket


def duration_text(seconds: int) -> str:
    """Business time as people say it: 2 h 05 min, 45 min."""
    minutes = max(0, seconds) // 60
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)
    return _("%(minutes)d min", minutes=minutes)


@dataclass(frozen=True)
class SlaBadge:
    """What the queue shows for a ticket: a state and the business time left (or overdue)."""

    state: str | None
    due_at: datetime | None
    seconds_left: int | None  # business seconds; negative when overdue

    @property
    def text(self) -> str:
        if self.state is None:
            return _("No SLA")
        if self.state == "paused":
            return _("Paused")
        if self.state == "stopped":
            return _("Stopped")
        if self.seconds_left is None:
            return _("Breached") if self.state == "breached" else ""
        if self.seconds_left < 0:
            return _("Overdue by %(time)s", time=duration_text(-self.seconds_left))
        return _("%(time)s left", time=duration_text(self.seconds_left))


def _business_seconds_left(cal: BusinessCalendar, due: datetime, now: datetime) -> int:
    if due >= now:
        return business_seconds_between(cal, now, due)
    return -business_seconds_between(cal, due, now)


def badges(tickets: list[Ticket], now: datetime) -> dict[int, SlaBadge]:
    """Badges for a page of tickets (their policies loaded): one query for the calendars."""
    calendar_ids = {t.sla_policy.calendar_id for t in tickets if t.sla_policy is not None}
    calendars = business_calendars(calendar_ids)
    out: dict[int, SlaBadge] = {}
    for t in tickets:
        left = None
        if t.next_deadline_at is not None and t.sla_policy is not None:
            cal = calendars.get(t.sla_policy.calendar_id)
            if cal is not None:
                left = _business_seconds_left(cal, t.next_deadline_at, now)
        out[t.id] = SlaBadge(t.sla_state, t.next_deadline_at, left)
    return out


@dataclass(frozen=True)
class ClockView:
    kind: str
    clock: SlaClock
    seconds_left: int | None
    breached_at: datetime | None
    warned_at: datetime | None


@cache
def _clock_statements() -> tuple[Select, Select, Select]:
    """The ticket page's three statements, built once (building one cost as much as running it)."""
    return (
        select(SlaClock).where(SlaClock.ticket_id == bindparam("ticket_id")),
        select(SlaEvent).where(SlaEvent.ticket_id == bindparam("ticket_id")),
        # The policy's calendar, with what tells whether the cached pure calendar is current:
        # one statement (the policy row itself would bring its calendar and targets along).
        select(*calendar_key_columns()).join(SlaPolicy, SlaPolicy.calendar_id == Calendar.id)
        .where(SlaPolicy.id == bindparam("policy_id")),
    )


def ticket_clocks(ticket: Ticket, now: datetime) -> list[ClockView]:
    """The ticket's clocks for its page: state, due, business time left, recorded facts."""
    clocks, events, calendar_of_policy = _clock_statements()
    rows = {c.kind: c for c in db.session.scalars(clocks, {"ticket_id": ticket.id})}
    facts = {(e.clock, e.kind): e.instant for e in db.session.scalars(events, {"ticket_id": ticket.id})}
    cal = None
    if ticket.sla_policy_id is not None:
        keys = db.session.execute(calendar_of_policy, {"policy_id": ticket.sla_policy_id}).all()
        cal = next(iter(calendars_from_keys(keys).values()), None)
    out = []
    for kind in CLOCKS:
        row = rows.get(kind)
        if row is None:
            continue
        left = None
        if cal is not None and row.due_at is not None and row.state == "running":
            left = _business_seconds_left(cal, row.due_at, now)
        elif row.state == "paused":
            left = row.target_minutes * 60 - row.elapsed_seconds
        out.append(ClockView(kind, row, left, facts.get((kind, "breach")), facts.get((kind, "warning"))))
    return out
