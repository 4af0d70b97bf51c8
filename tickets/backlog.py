"""The open-ticket backlog over the last weeks, for the manager home's chart.

Walked back from today's open count (ticket_counts, kept by triggers) with the tickets filed and
finished each day in the window: two GROUP BYs over index ranges of created_at and of the day a
ticket was finished (resolved_at, else closed_at), so the cost follows the tickets of the window,
not all of history. It is an estimate, and the page says so: a ticket resolved and later reopened
has lost its resolution date, so it counts as open on the days between.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, cast, func, select

from helpdesk.extensions import db
from tickets.models import Ticket, TicketCount
from tickets.vocabulary import OPEN_STATUSES, Status

FINISHED = (Status.RESOLVED.value, Status.CLOSED.value)


def _day(column):
    """A timestamp's UTC day, in SQL (SQLite keeps ISO text: its first ten characters)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 10)
    return cast(func.timezone("UTC", column), Date)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def backlog_weeks(now: datetime, weeks: int = 12) -> list[tuple[date, int]]:
    """(last day of the week, tickets open at its end) for the last `weeks` weeks, oldest first.

    Weeks end on `now`'s UTC day and every seventh day before it."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=7 * weeks - 1)
    since = datetime.combine(first, time.min, UTC)
    open_now = db.session.scalar(
        select(func.coalesce(func.sum(TicketCount.n), 0)).where(TicketCount.status.in_(OPEN_STATUSES))
    )
    filed = Counter({
        _as_date(day): n for day, n in db.session.execute(
            select(_day(Ticket.created_at).label("day"), func.count())
            .where(Ticket.created_at >= since).group_by("day")
        )
    })
    finished = Counter()
    for column, extra in ((Ticket.resolved_at, ()), (Ticket.closed_at, (Ticket.resolved_at.is_(None),))):
        for day, n in db.session.execute(
            select(_day(column).label("day"), func.count())
            .where(column >= since, Ticket.status.in_(FINISHED), *extra).group_by("day")
        ):
            finished[_as_date(day)] += n
    # open at the end of day d-1 = open at the end of day d - filed on d + finished on d
    points = []
    open_at_end = int(open_now)
    day = today
    while day >= first:
        if (today - day).days % 7 == 0:
            points.append((day, open_at_end))
        open_at_end = max(0, open_at_end - filed[day] + finished[day])
        day -= timedelta(days=1)
    return list(reversed(points))
