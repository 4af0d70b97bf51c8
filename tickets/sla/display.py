"""How SLA clocks are shown: the queue's badge per ticket and the clocks on a ticket's page.

Reads what `tickets.sla.refresh` stored; business time left is counted on the policy's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, select

from helpdesk.calendars.arithmetic import BusinessCalendar, business_seconds_between
from helpdesk.calendars.models import Calendar, calendar_key_columns, calendars_from_keys
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.extensions import db
from helpdesk.i18n import _
from tickets.models import CLOCKS, SlaClock, SlaEvent, Ticket


def _hours_minutes(seconds: int) -> tuple[int, int]:
    """Whole hours and minutes of a business duration (a negative one is none)."""
    return divmod(max(0, seconds) // 60, 60)


def duration_text(seconds: int) -> str:
    """Business time as people say it: 2 h 05 min, 45 min."""
    hours, minutes = _hours_minutes(seconds)
    if hours:
        return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)
    return _("%(minutes)d min", minutes=minutes)


class SlaWords:
    """What the queue's SLA badge says (a state, or the business time left or overdue), in the
    reader's language: the words are translated once for a page, not once per row."""

    def __init__(self) -> None:
        self.no_sla, self.paused, self.stopped, self.breached = _("No SLA"), _("Paused"), _("Stopped"), _("Breached")
        self.overdue, self.left = _("Overdue by %(time)s"), _("%(time)s left")
        self.hours, self.minutes = _("%(hours)d h %(minutes)02d min"), _("%(minutes)d min")

    def duration(self, seconds: int) -> str:
        """As `duration_text`: 2 h 05 min, 45 min."""
        hours, minutes = _hours_minutes(seconds)
        if hours:
            return self.hours % {"hours": hours, "minutes": minutes}
        return self.minutes % {"minutes": minutes}

    def text(self, state: str | None, seconds_left: int | None) -> str:
        """The badge's text; empty for a running clock whose time left is not known."""
        if state is None:
            return self.no_sla
        if state == "paused":
            return self.paused
        if state == "stopped":
            return self.stopped
        if seconds_left is None:
            return self.breached if state == "breached" else ""
        if seconds_left < 0:
            return self.overdue % {"time": self.duration(-seconds_left)}
        return self.left % {"time": self.duration(seconds_left)}


def seconds_left(cal: BusinessCalendar | None, due: datetime | None, now: datetime) -> int | None:
    """Business seconds from `now` to `due` on the calendar, negative when overdue; None without
    a due instant or a calendar."""
    if due is None or cal is None:
        return None
    return _business_seconds_left(cal, due, now)


def _business_seconds_left(cal: BusinessCalendar, due: datetime, now: datetime) -> int:
    if due >= now:
        return business_seconds_between(cal, now, due)
    return -business_seconds_between(cal, due, now)


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
