"""Period arithmetic: month ends, anchored months and quarters, the post-onboarding package."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plans.periods import (
    Period,
    add_months,
    package_period,
    period_boundary,
    period_containing,
)

PROPERTIES = settings(deadline=None, database=None)  # as many examples as the profile says
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))
anchors = days
kinds = st.sampled_from(["month", "quarter"])


# add_months: the everyday clamped "same day next month".
@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 5, 31), 1, date(2026, 6, 30)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
        (date(2026, 1, 1), 0, date(2026, 1, 1)),
    ],
)
def test_add_months_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# The post-onboarding package and the month-end rule.
@pytest.mark.parametrize(
    ("signed_on", "months", "last_covered_day", "end"),
    [
        # 15 Nov: through 14 Dec, the day before the same day a month later.
        (date(2026, 11, 15), 1, date(2026, 12, 14), date(2026, 12, 15)),
        # 31 Jan: February has no 31st, so through February's last day.
        (date(2026, 1, 31), 1, date(2026, 2, 28), date(2026, 3, 1)),
        (date(2028, 1, 31), 1, date(2028, 2, 29), date(2028, 3, 1)),
        # 30 Jan and 29 Jan (not leap): February has no such day either.
        (date(2026, 1, 30), 1, date(2026, 2, 28), date(2026, 3, 1)),
        (date(2026, 1, 29), 1, date(2026, 2, 28), date(2026, 3, 1)),
        # 29 Jan in a leap year: 29 Feb exists, so through 28 Feb.
        (date(2028, 1, 29), 1, date(2028, 2, 28), date(2028, 2, 29)),
        # 28 Jan: through 27 Feb.
        (date(2026, 1, 28), 1, date(2026, 2, 27), date(2026, 2, 28)),
        # 29 Feb (leap) to 29 Mar.
        (date(2028, 2, 29), 1, date(2028, 3, 28), date(2028, 3, 29)),
        # Signed on the 1st: the calendar month.
        (date(2026, 11, 1), 1, date(2026, 11, 30), date(2026, 12, 1)),
        # Year end.
        (date(2026, 12, 31), 1, date(2027, 1, 30), date(2027, 1, 31)),
        # Longer packages, configured per client.
        (date(2026, 11, 15), 3, date(2027, 2, 14), date(2027, 2, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28), date(2027, 3, 1)),
        (date(2027, 11, 30), 3, date(2028, 2, 29), date(2028, 3, 1)),
        (date(2026, 8, 31), 1, date(2026, 9, 30), date(2026, 10, 1)),
    ],
)
def test_package_month_ends(
    signed_on: date, months: int, last_covered_day: date, end: date
) -> None:
    package = package_period(signed_on, months)
    assert package.start == signed_on
    assert package.end == end
    assert package.last_day == last_covered_day
    assert signed_on in package
    assert last_covered_day in package
    assert end not in package
    assert signed_on - timedelta(days=1) not in package


def test_package_needs_at_least_a_month() -> None:
    with pytest.raises(ValueError, match="at least one month"):
        package_period(date(2026, 1, 1), 0)


# Anchored periods.
def test_month_periods_anchored_on_31_january_tile() -> None:
    anchor = date(2026, 1, 31)
    starts = [period_boundary(anchor, k) for k in range(7)]
    assert starts == [
        date(2026, 1, 31),
        date(2026, 3, 1),
        date(2026, 3, 31),
        date(2026, 5, 1),
        date(2026, 5, 31),
        date(2026, 7, 1),
        date(2026, 7, 31),
    ]
    assert period_containing(anchor, "month", date(2026, 2, 28)) == Period(
        date(2026, 1, 31), date(2026, 3, 1)
    )
    assert period_containing(anchor, "month", date(2026, 3, 1)) == Period(
        date(2026, 3, 1), date(2026, 3, 31)
    )
    assert period_containing(anchor, "month", date(2026, 3, 30)) == Period(
        date(2026, 3, 1), date(2026, 3, 31)
    )
    assert period_containing(anchor, "month", date(2026, 3, 31)) == Period(
        date(2026, 3, 31), date(2026, 5, 1)
    )


@pytest.mark.parametrize(
    ("anchor", "kind", "day", "start", "end"),
    [
        ("2026-01-01", "month", "2026-11-20", "2026-11-01", "2026-12-01"),
        ("2026-01-01", "month", "2026-11-30", "2026-11-01", "2026-12-01"),
        ("2026-01-01", "month", "2026-01-01", "2026-01-01", "2026-02-01"),
        ("2026-11-15", "month", "2026-12-14", "2026-11-15", "2026-12-15"),
        ("2026-11-15", "month", "2026-12-15", "2026-12-15", "2027-01-15"),
        # Anchored on the 29th: a leap February has the day, a common one does not.
        ("2027-12-29", "month", "2028-02-28", "2028-01-29", "2028-02-29"),
        ("2027-12-29", "month", "2028-02-29", "2028-02-29", "2028-03-29"),
        ("2026-12-29", "month", "2027-02-28", "2027-01-29", "2027-03-01"),
        ("2026-12-29", "month", "2027-03-01", "2027-03-01", "2027-03-29"),
        ("2026-01-01", "quarter", "2026-01-01", "2026-01-01", "2026-04-01"),
        ("2026-01-01", "quarter", "2026-05-20", "2026-04-01", "2026-07-01"),
        ("2026-01-01", "quarter", "2027-12-31", "2027-10-01", "2028-01-01"),
        ("2026-02-01", "quarter", "2026-04-30", "2026-02-01", "2026-05-01"),
        ("2026-11-30", "quarter", "2027-02-28", "2026-11-30", "2027-03-01"),
        ("2026-11-30", "quarter", "2027-03-01", "2027-03-01", "2027-05-30"),
        ("2025-12-31", "quarter", "2026-06-30", "2026-03-31", "2026-07-01"),
    ],
)
def test_period_containing(anchor: str, kind: str, day: str, start: str, end: str) -> None:
    period = period_containing(date.fromisoformat(anchor), kind, date.fromisoformat(day))
    assert period == Period(date.fromisoformat(start), date.fromisoformat(end))


def test_period_containing_rejects_day_before_anchor_and_unknown_kind() -> None:
    with pytest.raises(ValueError, match="before the period anchor"):
        period_containing(date(2026, 5, 1), "month", date(2026, 4, 30))
    with pytest.raises(ValueError, match="unknown period kind"):
        period_containing(date(2026, 5, 1), "week", date(2026, 5, 1))


def test_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError):
        Period(date(2026, 5, 1), date(2026, 5, 1))


@pytest.mark.parametrize(
    ("period", "label"),
    [
        (Period(date(2026, 11, 1), date(2026, 12, 1)), "2026-11"),
        (Period(date(2026, 12, 1), date(2027, 1, 1)), "2026-12"),
        (Period(date(2026, 1, 1), date(2026, 4, 1)), "2026-Q1"),
        (Period(date(2026, 10, 1), date(2027, 1, 1)), "2026-Q4"),
        (Period(date(2026, 11, 15), date(2026, 12, 15)), "2026-11-15..2026-12-14"),
        (Period(date(2026, 2, 1), date(2026, 5, 1)), "2026-02-01..2026-04-30"),
        (Period(date(2026, 11, 1), date(2026, 11, 30)), "2026-11-01..2026-11-29"),
    ],
)
def test_labels(period: Period, label: str) -> None:
    assert period.label == label
    assert Period.from_label(label) == period


def test_from_label_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a period label"):
        Period.from_label("November")


# Properties.
@PROPERTIES
@given(anchor=anchors, kind=kinds, offset=st.integers(min_value=0, max_value=3000))
def test_period_contains_the_day_and_tiles_with_its_neighbours(
    anchor: date, kind: str, offset: int
) -> None:
    day = anchor + timedelta(days=offset)
    period = period_containing(anchor, kind, day)
    assert day in period
    assert period.start >= anchor
    following = period_containing(anchor, kind, period.end)
    assert following.start == period.end
    if period.start > anchor:
        previous = period_containing(anchor, kind, period.start - timedelta(days=1))
        assert previous.end == period.start
    else:
        assert period.start == anchor


@PROPERTIES
@given(anchor=anchors, kind=kinds, n=st.integers(min_value=0, max_value=120))
def test_boundaries_tile_and_have_the_right_length(anchor: date, kind: str, n: int) -> None:
    step = 1 if kind == "month" else 3
    start = period_boundary(anchor, n * step)
    end = period_boundary(anchor, (n + 1) * step)
    period = period_containing(anchor, kind, start)
    assert period == Period(start, end)
    assert period_containing(anchor, kind, end - timedelta(days=1)) == period
    low, high = (28, 31) if kind == "month" else (89, 92)
    assert low <= period.days <= high


@PROPERTIES
@given(signed_on=days, months=st.integers(min_value=1, max_value=24))
def test_package_follows_the_month_end_rule(signed_on: date, months: int) -> None:
    package = package_period(signed_on, months)
    same_day_later = add_months(signed_on, months)
    if same_day_later.day == signed_on.day:
        # The day before the same day D, `months` later.
        assert package.end == same_day_later
    else:
        # That month has no day D: through its last day.
        assert package.last_day == same_day_later
        assert package.end.day == 1
    if months == 1:
        assert package == period_containing(signed_on, "month", signed_on)


@PROPERTIES
@given(anchor=anchors, kind=kinds, offset=st.integers(min_value=0, max_value=3000))
def test_label_round_trips(anchor: date, kind: str, offset: int) -> None:
    period = period_containing(anchor, kind, anchor + timedelta(days=offset))
    assert Period.from_label(period.label) == period
