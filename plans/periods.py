"""Period arithmetic for support plans and the post-onboarding package.

Pure calendar arithmetic on ``datetime.date``: no clock reads, no I/O.

Month-end rule
--------------
A period (or the post-onboarding package) that starts on day D of a month lasts until the day
before day D of the month ``months`` later. When that month has no day D (a start on the 29th,
30th or 31st), it lasts through that month's last day, so the next period starts on the 1st of the
month after it:

- starts 15 Nov 2026, one month: covered through 14 Dec 2026 (end, exclusive, 15 Dec 2026);
- starts 28 Jan 2026: through 27 Feb 2026;
- starts 30 or 31 Jan 2026: through 28 Feb 2026 (end 1 Mar 2026);
- starts 31 Jan 2028 (leap year): through 29 Feb 2028 (end 1 Mar 2028);
- starts 29 Jan 2028: through 28 Feb 2028 (end 29 Feb 2028).

Anchored periods (month or quarter, anchored on a subscription's start date) tile the calendar
without gaps or overlaps: boundary k is computed from the anchor as "anchor + k months" under the
rule above, never by chaining clamped dates, so period n ends exactly where period n + 1 starts.
A period anchored on 31 January therefore runs 31 Jan - 28 Feb, 1 Mar - 30 Mar, 31 Mar - 30 Apr,
1 May - 30 May, ...: every month period lasts 28-31 days and every quarter 89-92 days.

``add_months`` is the different, everyday "same day next month, clamped to the month's end" (31 Jan
+ 1 month = 28/29 Feb); it is not used for period boundaries.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

from plans.vocabulary import PeriodKind

PERIOD_KINDS = PeriodKind.values()
_MONTHS_PER_KIND = {"month": 1, "quarter": 3}

_MONTH_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_LABEL = re.compile(r"^(\d{4})-Q([1-4])$")
_RANGE_LABEL = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    """Return (year, month) ``months`` months after the given month."""
    year_offset, month_index = divmod(year * 12 + (month - 1) + months, 12)
    return year_offset, month_index + 1


def add_months(day: date, months: int) -> date:
    """Return the same day ``months`` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    year, month = _shift_month(day.year, day.month, months)
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def period_boundary(anchor: date, months: int) -> date:
    """Return the start of the period beginning ``months`` months after ``anchor``.

    The anchor's day in the target month or, when that month has no such day, the 1st of the
    month after it (the month-end rule of this module).
    """
    year, month = _shift_month(anchor.year, anchor.month, months)
    if anchor.day <= monthrange(year, month)[1]:
        return date(year, month, anchor.day)
    year, month = _shift_month(year, month, 1)
    return date(year, month, 1)


@dataclass(frozen=True)
class Period:
    """A span of days: ``start`` inclusive, ``end`` exclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"period must end after it starts: {self.start} .. {self.end}")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    @property
    def last_day(self) -> date:
        """The inclusive last day of the period."""
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days

    @property
    def is_calendar_month(self) -> bool:
        """True when the period is exactly one calendar month (1st to 1st)."""
        return self.start.day == 1 and self.end == add_months(self.start, 1)

    @property
    def is_calendar_quarter(self) -> bool:
        """True when the period is exactly one calendar quarter (Jan/Apr/Jul/Oct 1st, 3 months)."""
        return (
            self.start.day == 1
            and self.start.month in (1, 4, 7, 10)
            and self.end == add_months(self.start, 3)
        )

    @property
    def label(self) -> str:
        """``2026-11`` for a calendar month, ``2026-Q1`` for a calendar quarter, else
        ``2026-11-15..2026-12-14`` (first and last day, both inclusive)."""
        if self.is_calendar_month:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.is_calendar_quarter:
            return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"

    @classmethod
    def from_label(cls, label: str) -> Period:
        """Parse a label produced by ``label`` back into the period; ValueError otherwise."""
        if match := _MONTH_LABEL.match(label):
            start = date(int(match[1]), int(match[2]), 1)
            return cls(start, add_months(start, 1))
        if match := _QUARTER_LABEL.match(label):
            start = date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1)
            return cls(start, add_months(start, 3))
        if match := _RANGE_LABEL.match(label):
            start = date.fromisoformat(match[1])
            return cls(start, date.fromisoformat(match[2]) + timedelta(days=1))
        raise ValueError(f"not a period label: {label!r}")


def period_containing(anchor: date, kind: str, day: date) -> Period:
    """Return the ``kind`` ("month" | "quarter") period anchored on ``anchor`` containing ``day``.

    Period n runs from boundary n to boundary n + 1 (see ``period_boundary``). Raises ValueError
    for an unknown kind or a day before the anchor.
    """
    try:
        step = _MONTHS_PER_KIND[kind]
    except KeyError:
        raise ValueError(f"unknown period kind {kind!r}; expected one of {PERIOD_KINDS}") from None
    if day < anchor:
        raise ValueError(f"{day} is before the period anchor {anchor}")
    n = ((day.year - anchor.year) * 12 + day.month - anchor.month) // step
    # The month-count estimate is off by at most one period either way near month ends.
    while n > 0 and period_boundary(anchor, n * step) > day:
        n -= 1
    while period_boundary(anchor, (n + 1) * step) <= day:
        n += 1
    return Period(period_boundary(anchor, n * step), period_boundary(anchor, (n + 1) * step))


def package_period(signed_on: date, months: int = 1) -> Period:
    """Return the post-onboarding package: from the signing day for ``months`` months (>= 1)."""
    if months < 1:
        raise ValueError(f"package must last at least one month, not {months}")
    return Period(signed_on, period_boundary(signed_on, months))
