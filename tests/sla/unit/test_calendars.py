"""Business calendars: weekends, Polish holidays, DST changes, lunch breaks, bad input, properties."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpdesk.calendars import arithmetic as calendars
from helpdesk.calendars.arithmetic import (
    BusinessCalendar,
    CalendarError,
    add_business_minutes,
    add_business_seconds,
    always_open,
    business_minutes_between,
    business_seconds_between,
    default_calendar,
    next_business_instant,
)

PROPERTIES = settings(deadline=None, database=None)  # as many examples as the profile says
WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


def t(hhmm: str) -> time:
    return time.fromisoformat(hhmm)


def office(*spans: str) -> tuple[tuple[time, time], ...]:
    """('08:00-12:00', ...) -> ((time(8), time(12)), ...)."""
    return tuple((t(span[:5]), t(span[6:])) for span in spans)


def weekdays(*spans: str, name: str = "test", **fields: object) -> BusinessCalendar:
    """Monday to Friday with the given working intervals, Warsaw, no holidays unless asked."""
    fields.setdefault("timezone", "Europe/Warsaw")
    return BusinessCalendar(name=name, weekly=(office(*spans),) * 5 + ((),) * 2, **fields)


LUNCH = weekdays("08:00-12:00", "12:30-16:30")
CLOSED_13_JAN = weekdays("08:00-16:00", closed_dates=frozenset({date(2026, 1, 13)}))
OPEN_SUNDAY = BusinessCalendar(
    name="open sunday",
    timezone="Europe/Warsaw",
    weekly=default_calendar().weekly,
    country="PL",
    open_dates=((date(2026, 1, 11), office("10:00-14:00")), (date(2026, 1, 6), office("10:00-12:00"))),
)
ALWAYS_WARSAW = always_open(timezone="Europe/Warsaw")
ALWAYS_NEW_YORK = always_open(timezone="America/New_York")
# Santiago moves its clocks at midnight: back to 23:00 on Saturday in April, on to 01:00 in September.
ALWAYS_SANTIAGO = always_open(timezone="America/Santiago")
SANTIAGO_SUNDAY = BusinessCalendar(
    name="santiago sunday", timezone="America/Santiago", weekly=((),) * 6 + (office("00:00-02:00"),)
)

# (calendar, start, minutes, due), each due checked as an instant and as local wall time.
DUE_CASES = {
    "weekend skip": (default_calendar(), warsaw(2026, 1, 9, 15, 30), 60, warsaw(2026, 1, 12, 8, 30)),
    "closing time is due at closing time": (
        default_calendar(),
        warsaw(2026, 1, 12, 8, 0),
        480,
        warsaw(2026, 1, 12, 16, 0),
    ),
    "one minute past closing": (
        default_calendar(),
        warsaw(2026, 1, 12, 8, 0),
        481,
        warsaw(2026, 1, 13, 8, 1),
    ),
    "start at closing time": (default_calendar(), warsaw(2026, 1, 12, 16, 0), 1, warsaw(2026, 1, 13, 8, 1)),
    "start before opening": (default_calendar(), warsaw(2026, 1, 12, 6, 0), 30, warsaw(2026, 1, 12, 8, 30)),
    "zero minutes at night": (default_calendar(), warsaw(2026, 1, 12, 22, 0), 0, warsaw(2026, 1, 13, 8, 0)),
    "zero minutes at closing time": (
        default_calendar(),
        warsaw(2026, 1, 12, 16, 0),
        0,
        warsaw(2026, 1, 13, 8, 0),
    ),
    "zero minutes in working time": (
        default_calendar(),
        warsaw(2026, 1, 12, 10, 15, 30, 500),
        0,
        warsaw(2026, 1, 12, 10, 15, 30, 500),
    ),
    "zero minutes on saturday": (
        default_calendar(),
        warsaw(2026, 1, 10, 12, 0),
        0,
        warsaw(2026, 1, 12, 8, 0),
    ),
    "seconds are kept": (
        default_calendar(),
        warsaw(2026, 1, 12, 15, 59, 30),
        1,
        warsaw(2026, 1, 13, 8, 0, 30),
    ),
    "a week of targets": (default_calendar(), warsaw(2026, 1, 12, 9, 0), 5 * 480, warsaw(2026, 1, 19, 9, 0)),
    "start given in UTC": (
        default_calendar(),
        datetime(2026, 1, 12, 7, 0, tzinfo=UTC),
        60,
        warsaw(2026, 1, 12, 9, 0),
    ),
    "new year's day": (default_calendar(), warsaw(2025, 12, 31, 15, 0), 120, warsaw(2026, 1, 2, 9, 0)),
    "epiphany": (default_calendar(), warsaw(2026, 1, 5, 15, 0), 120, warsaw(2026, 1, 7, 9, 0)),
    "easter monday": (default_calendar(), warsaw(2026, 4, 3, 15, 0), 120, warsaw(2026, 4, 7, 9, 0)),
    "may days": (default_calendar(), warsaw(2026, 4, 30, 15, 0), 120, warsaw(2026, 5, 4, 9, 0)),
    "corpus christi": (default_calendar(), warsaw(2026, 6, 3, 15, 0), 120, warsaw(2026, 6, 5, 9, 0)),
    "independence day": (default_calendar(), warsaw(2026, 11, 10, 15, 0), 120, warsaw(2026, 11, 12, 9, 0)),
    "christmas 2026": (default_calendar(), warsaw(2026, 12, 23, 15, 0), 120, warsaw(2026, 12, 28, 9, 0)),
    "christmas eve 2024 was a working day": (
        default_calendar(),
        warsaw(2024, 12, 23, 15, 0),
        120,
        warsaw(2024, 12, 24, 9, 0),
    ),
    "spring DST, 24/7": (
        ALWAYS_WARSAW,
        warsaw(2026, 3, 29, 1, 30),
        60,
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    ),
    "spring DST, 24/7, whole day": (
        ALWAYS_WARSAW,
        warsaw(2026, 3, 29, 0, 0),
        23 * 60,
        warsaw(2026, 3, 30, 0, 0),
    ),
    "autumn DST, 24/7, into the repeated hour": (
        ALWAYS_WARSAW,
        warsaw(2026, 10, 25, 1, 30),
        60,
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    ),
    "autumn DST, 24/7, across the repeated hour": (
        ALWAYS_WARSAW,
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        60,
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ),
    "autumn DST, 24/7, whole day": (
        ALWAYS_WARSAW,
        warsaw(2026, 10, 25, 0, 0),
        25 * 60,
        warsaw(2026, 10, 26, 0, 0),
    ),
    "spring DST, business hours": (
        default_calendar(),
        warsaw(2026, 3, 27, 15, 0),
        120,
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ),
    "autumn DST, business hours": (
        default_calendar(),
        warsaw(2026, 10, 23, 15, 0),
        120,
        datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
    ),
    "spring DST, New York 24/7": (
        ALWAYS_NEW_YORK,
        datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK),
        60,
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    ),
    "autumn DST, New York 24/7": (
        ALWAYS_NEW_YORK,
        datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK),
        120,
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    ),
    "clocks fall back across midnight": (
        ALWAYS_SANTIAGO,
        datetime(2026, 4, 5, 3, 30, tzinfo=UTC),
        60,
        datetime(2026, 4, 5, 4, 30, tzinfo=UTC),
    ),
    "midnight skipped": (
        SANTIAGO_SUNDAY,
        datetime(2026, 9, 5, 12, 0, tzinfo=UTC),
        30,
        datetime(2026, 9, 6, 4, 30, tzinfo=UTC),
    ),
    "zero minutes over new year": (
        default_calendar(),
        warsaw(2025, 12, 31, 17, 0),
        0,
        warsaw(2026, 1, 2, 8, 0),
    ),
    "lunch: into the break": (LUNCH, warsaw(2026, 1, 12, 11, 30), 60, warsaw(2026, 1, 12, 13, 0)),
    "lunch: due when the break starts": (LUNCH, warsaw(2026, 1, 12, 8, 0), 240, warsaw(2026, 1, 12, 12, 0)),
    "lunch: zero minutes during the break": (
        LUNCH,
        warsaw(2026, 1, 12, 12, 10),
        0,
        warsaw(2026, 1, 12, 12, 30),
    ),
    "lunch: a whole day": (LUNCH, warsaw(2026, 1, 12, 8, 0), 480, warsaw(2026, 1, 12, 16, 30)),
    "lunch: over night": (LUNCH, warsaw(2026, 1, 12, 16, 0), 60, warsaw(2026, 1, 13, 8, 30)),
    "start on a closed date": (CLOSED_13_JAN, warsaw(2026, 1, 13, 10, 0), 60, warsaw(2026, 1, 14, 9, 0)),
    "closed date in the middle": (CLOSED_13_JAN, warsaw(2026, 1, 12, 15, 0), 120, warsaw(2026, 1, 14, 9, 0)),
    "open date overrides a sunday": (OPEN_SUNDAY, warsaw(2026, 1, 10, 12, 0), 60, warsaw(2026, 1, 11, 11, 0)),
    "open date's own hours": (OPEN_SUNDAY, warsaw(2026, 1, 11, 13, 30), 60, warsaw(2026, 1, 12, 8, 30)),
    "open date overrides a holiday": (
        OPEN_SUNDAY,
        warsaw(2026, 1, 5, 15, 30),
        60,
        warsaw(2026, 1, 6, 10, 30),
    ),
}


@pytest.mark.parametrize(("cal", "start", "minutes", "due"), DUE_CASES.values(), ids=DUE_CASES.keys())
def test_add_business_minutes(cal: BusinessCalendar, start: datetime, minutes: int, due: datetime) -> None:
    result = add_business_minutes(cal, start, minutes)
    assert result.astimezone(UTC) == due.astimezone(UTC)
    assert result.tzinfo == ZoneInfo(cal.timezone)
    assert result.utcoffset() == due.astimezone(ZoneInfo(cal.timezone)).utcoffset()


@pytest.mark.parametrize(("cal", "start", "minutes", "due"), DUE_CASES.values(), ids=DUE_CASES.keys())
def test_business_minutes_between_inverts_add(
    cal: BusinessCalendar, start: datetime, minutes: int, due: datetime
) -> None:
    assert business_minutes_between(cal, start, due) == minutes
    assert business_minutes_between(cal, due, start) == 0


def test_zero_minutes_is_next_business_instant() -> None:
    cal = default_calendar()
    assert next_business_instant(cal, warsaw(2026, 1, 9, 17, 0)) == warsaw(2026, 1, 12, 8, 0)
    assert next_business_instant(cal, warsaw(2026, 1, 9, 9, 0)) == warsaw(2026, 1, 9, 9, 0)


def test_due_instant_in_the_autumn_repeated_hour_has_the_second_offset() -> None:
    due = add_business_minutes(ALWAYS_WARSAW, warsaw(2026, 10, 25, 1, 30), 120)
    assert (due.hour, due.minute, due.utcoffset()) == (2, 30, HOUR)
    assert due.fold == 1


BETWEEN_CASES = {
    "over a weekend": (default_calendar(), warsaw(2026, 1, 9, 15, 0), warsaw(2026, 1, 12, 9, 0), 120, 7200),
    "rounded down": (default_calendar(), warsaw(2026, 1, 12, 8, 0), warsaw(2026, 1, 12, 8, 1, 59), 1, 119),
    "outside working time": (default_calendar(), warsaw(2026, 1, 10, 0, 0), warsaw(2026, 1, 12, 8, 0), 0, 0),
    "end before start": (default_calendar(), warsaw(2026, 1, 12, 12, 0), warsaw(2026, 1, 12, 9, 0), 0, 0),
    "empty span": (default_calendar(), warsaw(2026, 1, 12, 12, 0), warsaw(2026, 1, 12, 12, 0), 0, 0),
    "lunch break": (LUNCH, warsaw(2026, 1, 12, 11, 0), warsaw(2026, 1, 12, 13, 0), 90, 5400),
    "a whole year": (default_calendar(), warsaw(2026, 1, 1), warsaw(2027, 1, 1), 253 * 480, 253 * 480 * 60),
    "across two new years": (
        ALWAYS_WARSAW,
        warsaw(2025, 12, 31, 23, 0),
        warsaw(2027, 1, 1, 1, 0),
        (365 * 24 + 2) * 60,
        ((365 * 24 + 2) * 60) * 60,
    ),
    "spring DST day, 24/7": (ALWAYS_WARSAW, warsaw(2026, 3, 29), warsaw(2026, 3, 30), 23 * 60, 23 * 3600),
    "autumn DST day, 24/7": (ALWAYS_WARSAW, warsaw(2026, 10, 25), warsaw(2026, 10, 26), 25 * 60, 25 * 3600),
    "from the repeated hour after midnight": (
        ALWAYS_SANTIAGO,
        datetime(2026, 4, 5, 3, 30, tzinfo=UTC),
        datetime(2026, 4, 5, 5, 0, tzinfo=UTC),
        90,
        5400,
    ),
}


@pytest.mark.parametrize(
    ("cal", "start", "end", "minutes", "seconds"), BETWEEN_CASES.values(), ids=BETWEEN_CASES.keys()
)
def test_business_time_between(
    cal: BusinessCalendar, start: datetime, end: datetime, minutes: int, seconds: int
) -> None:
    assert business_minutes_between(cal, start, end) == minutes
    assert business_seconds_between(cal, start, end) == seconds


# Polish public holidays: the package's own list for 2026, and the ones we know by heart.
POLISH_HOLIDAYS_2026 = sorted(holidays.country_holidays("PL", years=2026))
KNOWN_POLISH_HOLIDAYS_2026 = [
    date(2026, 1, 1),
    date(2026, 1, 6),
    date(2026, 4, 6),
    date(2026, 5, 1),
    date(2026, 5, 3),
    date(2026, 6, 4),
    date(2026, 8, 15),
    date(2026, 11, 1),
    date(2026, 11, 11),
    date(2026, 12, 24),
    date(2026, 12, 25),
    date(2026, 12, 26),
]


@pytest.mark.parametrize("day", POLISH_HOLIDAYS_2026 + KNOWN_POLISH_HOLIDAYS_2026, ids=str)
def test_every_polish_holiday_of_2026_is_closed(day: date) -> None:
    cal = default_calendar()
    assert cal.is_holiday(day)
    assert cal.intervals_on(day) == []
    start = datetime.combine(day, time(9, 0), tzinfo=WARSAW)
    assert add_business_minutes(cal, start, 0).date() > day


def test_the_package_list_has_what_we_expect() -> None:
    assert set(KNOWN_POLISH_HOLIDAYS_2026) <= set(POLISH_HOLIDAYS_2026)


@pytest.mark.parametrize(
    ("day", "closed"),
    [(date(2024, 12, 24), False), (date(2025, 12, 24), True), (date(2026, 12, 24), True)],
    ids=str,
)
def test_christmas_eve_is_a_holiday_since_2025(day: date, closed: bool) -> None:
    cal = default_calendar()
    assert cal.is_holiday(day) is closed
    assert (cal.intervals_on(day) == []) is closed


def test_no_country_means_no_holidays() -> None:
    cal = weekdays("08:00-16:00")
    assert not cal.is_holiday(date(2026, 1, 1))
    assert cal.intervals_on(date(2026, 1, 1)) == [(warsaw(2026, 1, 1, 8, 0), warsaw(2026, 1, 1, 16, 0))]


SUNDAY_NIGHT = BusinessCalendar(
    name="sunday night", timezone="Europe/Warsaw", weekly=((),) * 6 + (office("01:00-03:00"),)
)
SUNDAY_GAP = BusinessCalendar(
    name="sunday gap",
    timezone="Europe/Warsaw",
    weekly=((),) * 6 + (office("02:00-02:30", "02:30-04:00", "10:00-11:00"),),
)
SUNDAY_LATE_START = BusinessCalendar(
    name="sunday late start", timezone="Europe/Warsaw", weekly=((),) * 6 + (office("02:30-04:00"),)
)

# (calendar, local date, real working length of that date)
LENGTH_CASES = {
    "default, a monday": (default_calendar(), date(2026, 3, 30), 8 * HOUR),
    "default, spring DST sunday": (default_calendar(), date(2026, 3, 29), timedelta(0)),
    "24/7, an ordinary day": (ALWAYS_WARSAW, date(2026, 3, 28), 24 * HOUR),
    "24/7, spring DST day": (ALWAYS_WARSAW, date(2026, 3, 29), 23 * HOUR),
    "24/7, autumn DST day": (ALWAYS_WARSAW, date(2026, 10, 25), 25 * HOUR),
    "24/7 New York, spring DST day": (ALWAYS_NEW_YORK, date(2026, 3, 8), 23 * HOUR),
    "24/7 New York, autumn DST day": (ALWAYS_NEW_YORK, date(2026, 11, 1), 25 * HOUR),
    "24/7 Santiago, clocks back at midnight": (ALWAYS_SANTIAGO, date(2026, 4, 4), 25 * HOUR),
    "24/7 Santiago, midnight skipped": (ALWAYS_SANTIAGO, date(2026, 9, 6), 23 * HOUR),
    "00:00-02:00 Santiago, midnight skipped": (SANTIAGO_SUNDAY, date(2026, 9, 6), HOUR),
    "01:00-03:00, an ordinary sunday": (SUNDAY_NIGHT, date(2026, 3, 22), 2 * HOUR),
    "01:00-03:00, spring DST": (SUNDAY_NIGHT, date(2026, 3, 29), HOUR),
    "01:00-03:00, autumn DST": (SUNDAY_NIGHT, date(2026, 10, 25), 3 * HOUR),
    "02:30-04:00 starts at the first 02:30": (SUNDAY_LATE_START, date(2026, 10, 25), 150 * MINUTE),
    "02:30-04:00 starts when the clock jumps": (SUNDAY_LATE_START, date(2026, 3, 29), HOUR),
    "intervals in the spring gap": (SUNDAY_GAP, date(2026, 3, 29), 2 * HOUR),
}


@pytest.mark.parametrize(("cal", "day", "length"), LENGTH_CASES.values(), ids=LENGTH_CASES.keys())
def test_real_length_of_a_working_day(cal: BusinessCalendar, day: date, length: timedelta) -> None:
    intervals = cal.intervals_on(day)
    assert sum((end - start for start, end in intervals), timedelta(0)) == length
    for start, end in intervals:
        assert start.tzinfo == end.tzinfo == UTC
        assert start < end
    assert all(a[1] < b[0] for a, b in zip(intervals, intervals[1:], strict=False))


def test_interval_skipped_by_spring_forward_vanishes() -> None:
    # 02:00-02:30 never shows on the wall clock on 29 March; 02:30-04:00 starts at the jump.
    assert SUNDAY_GAP.intervals_on(date(2026, 3, 29)) == [
        (warsaw(2026, 3, 29, 3, 0), warsaw(2026, 3, 29, 4, 0)),
        (warsaw(2026, 3, 29, 10, 0), warsaw(2026, 3, 29, 11, 0)),
    ]
    assert SUNDAY_GAP.intervals_on(date(2026, 3, 22)) == [
        (warsaw(2026, 3, 22, 2, 0), warsaw(2026, 3, 22, 4, 0)),
        (warsaw(2026, 3, 22, 10, 0), warsaw(2026, 3, 22, 11, 0)),
    ]


def test_touching_intervals_and_midnight_end() -> None:
    cal = weekdays("08:00-12:00", "12:00-00:00")
    cal.validate()
    assert cal.intervals_on(date(2026, 1, 12)) == [(warsaw(2026, 1, 12, 8, 0), warsaw(2026, 1, 13, 0, 0))]


def test_open_dates_only_calendar_runs_out_of_time() -> None:
    cal = BusinessCalendar(
        name="event",
        timezone="UTC",
        weekly=((),) * 7,
        open_dates=((date(2026, 6, 1), office("09:00-10:00")),),
    )
    start = datetime(2026, 5, 1, tzinfo=UTC)
    assert add_business_minutes(cal, start, 60) == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(CalendarError, match="no working time after 2026-06-01"):
        add_business_minutes(cal, start, 61)


def test_sparse_calendar_refuses_a_target_beyond_the_horizon() -> None:
    hour_a_week = BusinessCalendar(name="sparse", timezone="UTC", weekly=(office("09:00-10:00"),) + ((),) * 6)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert add_business_minutes(hour_a_week, start, 60 * 52 * 5) < datetime(2031, 1, 1, tzinfo=UTC)
    with pytest.raises(CalendarError, match="more than 10 years away"):
        add_business_minutes(hour_a_week, start, 1_000_000)


def test_factories() -> None:
    cal = default_calendar()
    assert (cal.name, cal.timezone, cal.country) == ("default", "Europe/Warsaw", "PL")
    assert [len(day) for day in cal.weekly] == [1, 1, 1, 1, 1, 0, 0]
    always = always_open()
    assert (always.name, always.timezone, always.country) == ("24/7", "UTC", None)
    for calendar in (cal, always, always_open("nonstop", "Europe/Warsaw")):
        calendar.validate()
    assert hash(cal) == hash(default_calendar())


# Bad calendars and bad questions: a CalendarError (a ValueError) with a readable message.
BAD_CALENDARS = {
    "no working time": (
        BusinessCalendar("x", "Europe/Warsaw", ((),) * 7),
        "This calendar has no working time",
    ),
    "overlap": (weekdays("08:00-12:00", "11:00-13:00"), "overlap: 08:00-12:00 and 11:00-13:00"),
    "not in order": (weekdays("12:30-16:30", "08:00-12:00"), "must be listed in order"),
    "end before start": (weekdays("16:00-08:00"), "16:00-08:00 ends before it starts"),
    "empty interval": (weekdays("08:00-08:00"), "ends before it starts"),
    "unknown time zone": (
        weekdays("08:00-16:00", timezone="Mars/Olympus"),
        "time zone 'Mars/Olympus' is unknown",
    ),
    "malformed time zone": (weekdays("08:00-16:00", timezone="../etc"), "time zone '../etc' is unknown"),
    "empty time zone": (weekdays("08:00-16:00", timezone=""), "time zone '' is unknown"),
    "six weekdays": (BusinessCalendar("x", "UTC", (office("08:00-16:00"),) * 6), "seven weekdays"),
    "unknown country": (weekdays("08:00-16:00", country="XX"), "country code 'XX'"),
    "seconds": (BusinessCalendar("x", "UTC", ((((time(8, 0, 30), time(9)),),) * 7)), "whole minutes"),
    "aware times": (
        BusinessCalendar("x", "UTC", ((((time(8, tzinfo=UTC), time(9)),),) * 7)),
        "without a time zone",
    ),
    "no name": (weekdays("08:00-16:00", name=" "), "needs a name"),
    "open date without hours": (
        weekdays("08:00-16:00", open_dates=((date(2026, 1, 11), ()),)),
        "2026-01-11 has no working hours",
    ),
    "open date twice": (
        weekdays("08:00-16:00", open_dates=((date(2026, 1, 11), office("10:00-12:00")),) * 2),
        "listed twice",
    ),
    "open date overlap": (
        weekdays("08:00-16:00", open_dates=((date(2026, 1, 11), office("10:00-12:00", "11:00-13:00")),)),
        "on 2026-01-11 overlap",
    ),
    "closed datetime": (
        weekdays("08:00-16:00", closed_dates=frozenset({datetime(2026, 1, 1, tzinfo=UTC)})),
        "without a time",
    ),
}


@pytest.mark.parametrize(("cal", "message"), BAD_CALENDARS.values(), ids=BAD_CALENDARS.keys())
def test_bad_calendar_is_refused(cal: BusinessCalendar, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        cal.validate()
    with pytest.raises(CalendarError, match=message):
        add_business_minutes(cal, warsaw(2026, 1, 12, 9, 0), 60)


BAD_QUESTIONS = {
    "naive start": (
        lambda: add_business_minutes(default_calendar(), datetime(2026, 1, 12, 9), 60),
        "time zone offset",
    ),
    "negative minutes": (
        lambda: add_business_minutes(default_calendar(), warsaw(2026, 1, 12, 9), -1),
        "cannot be negative",
    ),
    "fractional minutes": (
        lambda: add_business_minutes(default_calendar(), warsaw(2026, 1, 12, 9), 1.5),
        "whole number",
    ),
    "boolean minutes": (
        lambda: add_business_minutes(default_calendar(), warsaw(2026, 1, 12, 9), True),
        "whole number",
    ),
    "too many minutes": (
        lambda: add_business_minutes(default_calendar(), warsaw(2026, 1, 12, 9), 1_000_001),
        "not supported",
    ),
    "a date, not a datetime": (
        lambda: add_business_minutes(default_calendar(), date(2026, 1, 12), 60),
        "must be a date and time",
    ),
    "naive end": (
        lambda: business_minutes_between(default_calendar(), warsaw(2026, 1, 12, 9), datetime(2026, 1, 13)),
        "end time must include",
    ),
    "naive instant": (
        lambda: next_business_instant(default_calendar(), datetime(2026, 1, 12)),
        "time zone offset",
    ),
    "too far back": (lambda: add_business_minutes(default_calendar(), warsaw(1800, 1, 1), 60), "before 1900"),
}


@pytest.mark.parametrize(("call", "message"), BAD_QUESTIONS.values(), ids=BAD_QUESTIONS.keys())
def test_bad_question_is_refused(call: Callable[[], object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        call()


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


def test_module_is_pure() -> None:
    """No Flask, no ORM, no clock reads."""
    tree = ast.parse(Path(calendars.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {
        name for name in imported if name.split(".")[0] in {"flask", "sqlalchemy", "flask_sqlalchemy"}
    }
    called = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not called & {"now", "utcnow", "today", "time_ns", "monotonic"}


# ---------------------------------------------------------------------------
# Properties against a brute-force minute walk.
#
# The walk steps one minute at a time in UTC. A minute counts when the highest
# wall-clock time shown so far (its "high-water mark") lies inside a working
# interval of the mark's date: that is the module's rule that an interval
# runs from the first instant the wall clock reaches its start to the first
# instant it reaches its end, written without any DST arithmetic.

ZONES = ("Europe/Warsaw", "UTC", "America/New_York")
START_ZONES = (UTC, WARSAW, NEW_YORK, timezone(timedelta(hours=5, minutes=30)))
# DST changes in Warsaw and New York, and Polish holidays, to start near.
LANDMARKS = [
    datetime(2025, 3, 30, tzinfo=UTC),
    datetime(2025, 10, 26, tzinfo=UTC),
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2027, 3, 28, tzinfo=UTC),
    datetime(2027, 10, 31, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2025, 12, 24, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 5, 1, tzinfo=UTC),
]
FIRST, LAST = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC)
BOUNDARIES = st.one_of(
    st.sampled_from([0, 60, 120, 150, 180, 480, 720, 750, 960, 1440]), st.integers(0, 1440)
)


def as_time(minute: int) -> time:
    return time(0, 0) if minute == 1440 else time(minute // 60, minute % 60)


@st.composite
def day_intervals(draw: st.DrawFn, min_count: int = 0) -> tuple[tuple[time, time], ...]:
    points = sorted(draw(st.lists(BOUNDARIES, min_size=2 * min_count, max_size=6, unique=True)))
    points = points[: len(points) // 2 * 2]
    return tuple((as_time(points[i]), as_time(points[i + 1])) for i in range(0, len(points), 2))


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    if draw(st.booleans()):
        base = draw(st.sampled_from(LANDMARKS)) + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    else:
        base = FIRST + timedelta(minutes=draw(st.integers(0, (LAST - FIRST) // MINUTE)))
    return base.astimezone(draw(st.sampled_from(START_ZONES)))


@st.composite
def calendars_near(draw: st.DrawFn, start: datetime) -> BusinessCalendar:
    if draw(st.integers(0, 5)) == 0:
        weekly = (office("00:00-00:00"),) * 7
    else:
        weekly = tuple(draw(day_intervals()) for _ in range(7))
    near = st.integers(-1, 20).map(lambda k: start.date() + timedelta(days=k))
    closed = draw(st.frozensets(near, max_size=4))
    open_days = draw(st.lists(near, max_size=2, unique=True))
    return BusinessCalendar(
        name="random",
        timezone=draw(st.sampled_from(ZONES)),
        weekly=weekly,
        country=draw(st.sampled_from([None, "PL"])),
        closed_dates=closed,
        open_dates=tuple((day, draw(day_intervals(min_count=1))) for day in open_days),
    )


_HOLIDAYS: dict[int, frozenset[date]] = {}


def polish_holidays(year: int) -> frozenset[date]:
    if year not in _HOLIDAYS:
        _HOLIDAYS[year] = frozenset(holidays.country_holidays("PL", years=year))
    return _HOLIDAYS[year]


class MinuteWalk:
    """Decides, minute by minute, whether the calendar is working."""

    def __init__(self, cal: BusinessCalendar, start: datetime) -> None:
        self.cal = cal
        self.tz = ZoneInfo(cal.timezone)
        self.weekly = [[self.minutes(span) for span in day] for day in cal.weekly]
        self.opened = {day: [self.minutes(span) for span in spans] for day, spans in cal.open_dates}
        self.t = start.astimezone(UTC)
        # Clocks here fall back by an hour at most, so two hours of history give the mark.
        self.mark = max(self.wall(self.t - k * MINUTE) for k in range(121))

    @staticmethod
    def minutes(span: tuple[time, time]) -> tuple[int, int]:
        start, end = (value.hour * 60 + value.minute for value in span)
        return start, end or 1440

    def wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.tz).replace(tzinfo=None)

    def working(self) -> bool:
        """Whether the minute [t, t + 1 min) is working time."""
        self.mark = max(self.mark, self.wall(self.t))
        day = self.mark.date()
        spans = self.opened.get(day)
        if spans is None:
            public = self.cal.country is not None and day in polish_holidays(day.year)
            spans = [] if day in self.cal.closed_dates or public else self.weekly[day.weekday()]
        minute = self.mark.hour * 60 + self.mark.minute
        return any(start <= minute < end for start, end in spans)

    def step(self) -> None:
        self.t += MINUTE


def brute_due(cal: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    walk = MinuteWalk(cal, start)
    while True:
        if walk.working():
            if minutes == 0:
                return walk.t
            minutes -= 1
            if minutes == 0:
                return walk.t + MINUTE
        walk.step()


def brute_between(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    walk, count = MinuteWalk(cal, start), 0
    while walk.t < end:
        count += walk.working()
        walk.step()
    return count


def weekly_minutes(cal: BusinessCalendar) -> int:
    return sum(end - start for day in cal.weekly for start, end in map(MinuteWalk.minutes, day))


@PROPERTIES
@given(data=st.data(), minutes=st.integers(0, 3000))
def test_add_matches_a_minute_walk(data: st.DataObject, minutes: int) -> None:
    start = data.draw(instants(), label="start")
    cal = data.draw(calendars_near(start), label="calendar")
    # Keep the walk short: sparse calendars get proportionally smaller targets.
    assume(weekly_minutes(cal) >= 240)
    minutes = min(minutes, 2 * weekly_minutes(cal))
    due = add_business_minutes(cal, start, minutes)
    assert due.astimezone(UTC) == brute_due(cal, start, minutes)
    assert due.tzinfo == ZoneInfo(cal.timezone)
    assert due >= start
    assert business_minutes_between(cal, start, due) == minutes


@PROPERTIES
@given(data=st.data(), length=st.integers(0, 3 * 1440))
def test_between_matches_a_minute_walk(data: st.DataObject, length: int) -> None:
    start = data.draw(instants(), label="start")
    cal = data.draw(calendars_near(start), label="calendar")
    assume(weekly_minutes(cal) > 0 or cal.open_dates)  # else the calendar is invalid
    end = start + length * MINUTE
    assert business_minutes_between(cal, start, end) == brute_between(cal, start, end)


# Seconds: for clocks that resume mid-minute after a pause.
def test_add_business_seconds_agrees_with_minutes_and_handles_part_minutes() -> None:
    cal = default_calendar()
    start = warsaw(2026, 1, 16, 15, 59, 30)  # Friday, 30 s before closing
    assert add_business_seconds(cal, start, 30) == warsaw(2026, 1, 16, 16, 0)
    assert add_business_seconds(cal, start, 31) == warsaw(2026, 1, 19, 8, 0, 1)  # Monday
    for minutes in (0, 1, 59, 480, 4_800):
        assert add_business_seconds(cal, start, minutes * 60) == add_business_minutes(cal, start, minutes)
    with pytest.raises(CalendarError, match="cannot be negative") as caught:
        add_business_seconds(cal, start, -1)
    assert caught.value.code == "negative"


@pytest.mark.parametrize(
    ("cal", "code", "params"),
    [
        (weekdays("08:00-12:00", "11:00-13:00"), "overlap", {"first": "08:00-12:00", "second": "11:00-13:00"}),
        (weekdays("16:00-08:00"), "ends_before_start", {"span": "16:00-08:00"}),
        (weekdays("08:00-16:00", timezone="Mars/Olympus"), "unknown_timezone", {"zone": "Mars/Olympus"}),
        (weekdays("08:00-16:00", country="XX"), "unknown_country", {"country": "XX"}),
        (BusinessCalendar("x", "Europe/Warsaw", ((),) * 7), "no_working_time", {}),
    ],
)
def test_calendar_errors_carry_a_code_for_translation(cal: BusinessCalendar, code: str, params: dict) -> None:
    with pytest.raises(CalendarError) as caught:
        cal.validate()
    assert caught.value.code == code
    assert params.items() <= caught.value.params.items()
