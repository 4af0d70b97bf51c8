"""The dates and instants anyone may send us: from 2000-01-01 to 2100-12-31, nothing else.

Python's dates run from year 1 to 9999, but arithmetic near either end overflows (a cursor at
0001-01-01T00:00+14:00 cannot even be turned into UTC; a meeting on 9999-12-31 has no end hour),
and that would surface as a 500 long after the value was stored. So every parser of a date a
user can send (web forms, API fields and query strings, page cursors, calendars) goes through
this module, and a value outside the bounds is refused as bad input with one message. The
bounds are wide enough for any real helpdesk date and far enough from the edges that adding a
few years, months or business days to a bounded value is always safe.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from wtforms.validators import ValidationError

from helpdesk.i18n import _

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


class DateOutOfBounds(ValueError):
    """A well-formed date or instant outside EARLIEST..LATEST; str() is the message for people."""

    def __init__(self) -> None:
        super().__init__(out_of_bounds_message())


def out_of_bounds_message() -> str:
    return _("Enter a date from %(earliest)s to %(latest)s.", earliest=EARLIEST.isoformat(),
             latest=LATEST.isoformat())


def within_bounds(day: date) -> bool:
    if isinstance(day, datetime):
        day = day.date()
    return EARLIEST <= day <= LATEST


def check_day(day: date) -> date:
    """`day` itself, or DateOutOfBounds."""
    if not within_bounds(day):
        raise DateOutOfBounds()
    return day


def parse_day(text: Any) -> date:
    """A YYYY-MM-DD day within the bounds. ValueError if malformed, DateOutOfBounds if outside."""
    day = date.fromisoformat(str(text).strip())
    return check_day(day)


def check_instant(moment: datetime) -> datetime:
    """An aware instant within the bounds, in UTC; DateOutOfBounds outside them, ValueError if naive.

    The bound is checked on the instant's own wall date first, so converting it to UTC (which
    overflows at the edges of Python's range) only ever happens to a value far from them.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an instant needs its UTC offset")
    check_day(moment.date())
    return moment.astimezone(UTC)


def parse_instant(text: Any) -> datetime:
    """An ISO 8601 instant with its offset, within the bounds, in UTC (see `check_instant`)."""
    return check_instant(datetime.fromisoformat(str(text).strip()))


class WithinDateBounds:
    """WTForms validator: a date field's value, when given, lies within the bounds."""

    field_flags = {"min": EARLIEST.isoformat(), "max": LATEST.isoformat()}

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is not None and not within_bounds(field.data):
            raise ValidationError(out_of_bounds_message())
