"""Pure rules of what a client may do with their ticket: close it, reopen it, rate it.

No clock, database or Flask: `now` and the window are passed in (tests/tickets/unit).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

OPEN = ("new", "open", "waiting_on_client")
SCORES = (1, 2, 3, 4, 5)
LOW_SCORES = (1, 2)
SATISFIED_SCORES = (4, 5)


class ReplyOutcome(StrEnum):
    """What a client's reply does to their ticket."""

    REPLY = "reply"  # the ticket is open: the reply joins its thread (waiting_on_client -> open)
    REOPEN = "reopen"  # resolved within the window: the ticket opens again
    NEW_LINKED = "new_linked"  # resolved too long ago, or closed: a new ticket that names this one


def may_close(status: str) -> bool:
    """A client closes their ticket ("problem solved") while it is open or resolved."""
    return status in OPEN or status == "resolved"


def may_reopen(status: str, resolved_at: datetime | None, now: datetime, window_days: int) -> bool:
    """A resolved ticket may be reopened by its client within `window_days` of its resolution."""
    if status != "resolved" or resolved_at is None:
        return False
    return now - resolved_at <= timedelta(days=window_days)


def reply_outcome(status: str, resolved_at: datetime | None, now: datetime, window_days: int) -> ReplyOutcome:
    if status in OPEN:
        return ReplyOutcome.REPLY
    if may_reopen(status, resolved_at, now, window_days):
        return ReplyOutcome.REOPEN
    return ReplyOutcome.NEW_LINKED


def may_rate(status: str, already_rated: bool) -> bool:
    """Once per ticket, after its resolution (a closed ticket was resolved or closed by its client)."""
    return status in ("resolved", "closed") and not already_rated


def valid_score(score: object) -> bool:
    return isinstance(score, int) and not isinstance(score, bool) and score in SCORES


def rating_month(instant: datetime, zone: str) -> date:
    """The first day of the month the rating falls in, on the wall clock of `zone`."""
    local = instant.astimezone(ZoneInfo(zone))
    return date(local.year, local.month, 1)


def satisfied_share(satisfied: int, count: int) -> float | None:
    """The share (0..1) of ratings of 4 or 5; None without ratings."""
    return satisfied / count if count else None
