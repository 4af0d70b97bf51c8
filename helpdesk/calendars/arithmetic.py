"""Business calendars and the due-time arithmetic of SLA targets.

A business calendar says when the support team works: a time zone, working
intervals per weekday in local wall-clock time (several a day, for a lunch
break), the public holidays of a country, extra closed dates and extra open
dates. A 24/7 calendar is one too.

This module is pure: it imports nothing from Flask or the ORM and never reads
the clock; callers hand it the instants. All instants it takes must be aware.
Due instants come back in the calendar's time zone, for display; working
intervals come back in UTC, for arithmetic. Compare and subtract instants in
UTC: Python subtracts datetimes of one zone by wall clock, and a datetime in
an autumn repeated hour is never == to one in another zone (PEP 495).

Daylight-saving changes are exact. A working interval on a date starts at the
first instant the wall clock shows its start time, and ends at the first
instant the wall clock shows its end time. So a wall time repeated in autumn
means its first occurrence, and a wall time skipped in spring means the
instant of the jump: on a spring-forward night 01:00-03:00 lasts one real
hour, on a fall-back night three.

Cost: the first use of a year builds that year's working intervals for the
calendar, day by day with running totals (a few milliseconds, plus tens of
milliseconds for the country's holiday list, cached per country and year).
After that, adding minutes is a binary search over the days, never a walk: a
1,000-hour target costs about what a 1-hour one does.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

#: The largest target accepted by `add_business_minutes` (about 16,667 hours).
MAX_MINUTES = 1_000_000
#: Dates outside these years are refused rather than computed.
MIN_YEAR = 1900
MAX_YEAR = 2200
#: A due instant further than this many years after its start is refused.
HORIZON_YEARS = 10

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_DAY_MINUTES = 24 * 60
_US_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)
# Zone keys that exist on disk but do not name a place.
_NOT_PLACES = frozenset({"localtime", "Factory"})

Interval = tuple[time, time]
# A working interval in minutes since local midnight; an end of 1440 means 24:00.
_Span = tuple[int, int]


class CalendarError(ValueError):
    """A calendar, or a question put to it, is invalid; the message is for the user.

    `code` names the kind of problem and `params` its details, so a user interface can show
    the message in the user's language (the message itself is English).
    """

    def __init__(self, message: str, code: str = "invalid", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class BusinessCalendar:
    """When the support team works; see the module docstring for the rules.

    `weekly` has seven entries, Monday to Sunday, each a tuple of (start, end)
    working intervals in local wall time, in order and not overlapping; an end
    of 00:00 means midnight at the end of the day. `open_dates` gives dates
    with their own intervals; they win over `closed_dates` and public holidays,
    which win over `weekly`.
    """

    name: str
    timezone: str
    weekly: tuple[tuple[Interval, ...], ...]
    country: str | None = None
    closed_dates: frozenset[date] = frozenset()
    open_dates: tuple[tuple[date, tuple[Interval, ...]], ...] = ()

    def validate(self) -> None:
        """Raise CalendarError with a readable message if the calendar is unusable."""
        _compile(self)

    def is_holiday(self, day: date) -> bool:
        """Whether `day` is a public holiday of the calendar's country."""
        if self.country is None:
            return False
        _check_country(self.country)
        _check_year(day.year)
        return day in _public_holidays(self.country, day.year)

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of local date `day`, as (start, end) in UTC.

        UTC so that `end - start` is the real length: Python subtracts two
        datetimes of the same zone by their wall-clock readings.
        """
        compiled = _compile(self)
        bounds = compiled.day_bounds(day)
        return [(_utc(bounds[i]), _utc(bounds[i + 1])) for i in range(0, len(bounds), 2)]


def default_calendar() -> BusinessCalendar:
    """Monday to Friday 08:00-16:00 in Warsaw, closed on Polish public holidays."""
    office = ((time(8, 0), time(16, 0)),)
    return BusinessCalendar(
        name="default",
        timezone="Europe/Warsaw",
        weekly=(office,) * 5 + ((),) * 2,
        country="PL",
    )


def always_open(name: str = "24/7", timezone: str = "UTC") -> BusinessCalendar:
    """A calendar that is open every minute of every day."""
    whole_day = ((time(0, 0), time(0, 0)),)
    return BusinessCalendar(name=name, timezone=timezone, weekly=(whole_day,) * 7)


def add_business_minutes(cal: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    """The instant at which the `minutes`-th business minute after `start` ends.

    A target that ends exactly at closing time is due at closing time. Zero
    minutes gives the first business instant at or after `start`.
    """
    _check_count(minutes, "minutes", MAX_MINUTES)
    return _advance(cal, start, minutes * _US_PER_MINUTE)


def add_business_seconds(cal: BusinessCalendar, start: datetime, seconds: int) -> datetime:
    """Like `add_business_minutes`, in whole seconds: for clocks that resume mid-minute."""
    _check_count(seconds, "seconds", MAX_MINUTES * 60)
    return _advance(cal, start, seconds * 1_000_000)


def _check_count(value: object, unit: str, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalendarError(f"The number of business {unit} must be a whole number.", "not_whole")
    if value < 0:
        raise CalendarError(f"The number of business {unit} cannot be negative.", "negative")
    if value > limit:
        raise CalendarError(
            f"A target longer than {MAX_MINUTES:,} business minutes is not supported.", "too_long"
        )


def _advance(cal: BusinessCalendar, start: datetime, us: int) -> datetime:
    compiled = _compile(cal)
    _check_aware(start, "start")
    due = compiled.advance((start - _EPOCH) // _ONE_US, start.astimezone(compiled.tz).date(), us)
    return compiled.to_local(due)


def next_business_instant(cal: BusinessCalendar, at: datetime) -> datetime:
    """The first business instant at or after `at`."""
    return add_business_minutes(cal, at, 0)


def business_seconds_between(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Whole business seconds in [start, end), rounded down; 0 if `end` <= `start`."""
    return _business_us_between(cal, start, end) // 1_000_000


def business_minutes_between(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Whole business minutes in [start, end), rounded down; 0 if `end` <= `start`."""
    return _business_us_between(cal, start, end) // _US_PER_MINUTE


def _business_us_between(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    compiled = _compile(cal)
    _check_aware(start, "start")
    _check_aware(end, "end")
    if end <= start:
        return 0
    start_year, start_pos = compiled.position(
        (start - _EPOCH) // _ONE_US, start.astimezone(compiled.tz).date()
    )
    end_year, end_pos = compiled.position((end - _EPOCH) // _ONE_US, end.astimezone(compiled.tz).date())
    years_between = sum(compiled.year(y).cum[-1] for y in range(start_year, end_year))
    return end_pos - start_pos + years_between


def _utc(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise CalendarError(f"The {what} must be a date and time, not {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarError(
            f"The {what} time must include a time zone offset, for example 2026-03-27T15:30:00+01:00."
        )


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CalendarError(f"Dates before {MIN_YEAR} or after {MAX_YEAR} are not supported.")


def _check_country(country: str) -> None:
    if country not in _supported_countries():
        raise CalendarError(
            f"There is no public holiday list for the country code {country!r}.", "unknown_country", country=country
        )


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


@cache
def _public_holidays(country: str, year: int) -> frozenset[date]:
    # Building a holidays object is slow (tens of milliseconds): once per country and year.
    return frozenset(holidays.country_holidays(country, years=year))


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _fmt_span(span: _Span) -> str:
    return f"{_fmt(span[0])}-{_fmt(span[1])}"


def _minute_of(value: object, where: str) -> int:
    if not isinstance(value, time):
        raise CalendarError(f"Working hours on {where} must be times of day.")
    if value.tzinfo is not None:
        raise CalendarError(f"Working hours on {where} must be local wall-clock times, without a time zone.")
    if value.second or value.microsecond:
        raise CalendarError(f"Working hours on {where} must be whole minutes.", "whole_minutes", where=where)
    return value.hour * 60 + value.minute


def _parse_intervals(intervals: object, where: str) -> tuple[_Span, ...]:
    """Check one day's intervals and return them in minutes, touching ones merged."""
    if not isinstance(intervals, tuple | list):
        raise CalendarError(f"Working hours on {where} must be a list of intervals.")
    spans: list[_Span] = []
    for interval in intervals:
        if not isinstance(interval, tuple | list) or len(interval) != 2:
            raise CalendarError(f"Working hours on {where} must be pairs of start and end times.")
        start = _minute_of(interval[0], where)
        end = _minute_of(interval[1], where)
        if end == 0:
            end = _DAY_MINUTES  # 00:00 as an end means midnight at the end of the day
        if end <= start:
            raise CalendarError(
                f"Working hours on {where}: {_fmt_span((start, end))} ends before it starts.",
                "ends_before_start",
                where=where,
                span=_fmt_span((start, end)),
            )
        spans.append((start, end))
    for previous, current in zip(spans, spans[1:], strict=False):
        if current[0] < previous[1] and current[1] > previous[0]:
            raise CalendarError(
                f"Working hours on {where} overlap: {_fmt_span(previous)} and {_fmt_span(current)}.",
                "overlap",
                where=where,
                first=_fmt_span(previous),
                second=_fmt_span(current),
            )
        if current[0] < previous[0]:
            raise CalendarError(
                f"Working hours on {where} must be listed in order: "
                f"{_fmt_span(current)} comes before {_fmt_span(previous)}.",
                "order",
                where=where,
                first=_fmt_span(previous),
                second=_fmt_span(current),
            )
    merged: list[_Span] = []
    for span in spans:
        if merged and merged[-1][1] == span[0]:
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return tuple(merged)


def _zone(key: object) -> ZoneInfo:
    if not isinstance(key, str) or not key or key in _NOT_PLACES:
        raise CalendarError(
            f"The time zone {key!r} is unknown; use a name such as 'Europe/Warsaw'.", "unknown_timezone", zone=key
        )
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarError(
            f"The time zone {key!r} is unknown; use a name such as 'Europe/Warsaw'.", "unknown_timezone", zone=key
        ) from None


def _compile(cal: BusinessCalendar) -> _Compiled:
    """Validate `cal` and build its arithmetic, cached per calendar value."""
    try:
        return _compile_cached(cal)
    except TypeError:
        # A calendar built from lists is unhashable: build it without the cache.
        return _build(cal)


@lru_cache(maxsize=128)
def _compile_cached(cal: BusinessCalendar) -> _Compiled:
    return _build(cal)


def _build(cal: BusinessCalendar) -> _Compiled:
    if not isinstance(cal.name, str) or not cal.name.strip():
        raise CalendarError("A business calendar needs a name.", "no_name")
    tz = _zone(cal.timezone)
    if not isinstance(cal.weekly, tuple | list) or len(cal.weekly) != 7:
        raise CalendarError(
            "A business calendar needs working hours for each of the seven weekdays, Monday to Sunday."
        )
    weekly = tuple(_parse_intervals(day, WEEKDAY_NAMES[i]) for i, day in enumerate(cal.weekly))
    if cal.country is not None:
        _check_country(cal.country)
    for day in cal.closed_dates:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError("Closed dates must be dates, without a time of day.")
    open_days: dict[date, tuple[_Span, ...]] = {}
    for entry in cal.open_dates:
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise CalendarError("Each extra open date needs a date and its working hours.")
        day, intervals = entry
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError("Extra open dates must be dates, without a time of day.")
        if day in open_days:
            raise CalendarError(
                f"The extra open date {day.isoformat()} is listed twice.", "open_date_twice", day=day.isoformat()
            )
        spans = _parse_intervals(intervals, day.isoformat())
        if not spans:
            raise CalendarError(
                f"The extra open date {day.isoformat()} has no working hours.", "open_date_no_hours", day=day.isoformat()
            )
        open_days[day] = spans
    if not any(weekly) and not open_days:
        raise CalendarError("This calendar has no working time.", "no_working_time")
    return _Compiled(tz, weekly, frozenset(cal.closed_dates), open_days, cal.country)


class _Year:
    """One calendar year of working intervals, as epoch microseconds, with running totals."""

    __slots__ = ("first", "days", "cum")

    def __init__(self, first: int, days: list[tuple[int, ...]], cum: list[int]) -> None:
        self.first = first  # ordinal of 1 January
        self.days = days  # per day: flat (start, end, start, end, ...) in epoch microseconds
        self.cum = cum  # cum[i]: business microseconds of the year's days before day i


class _Compiled:
    """A validated calendar ready for arithmetic; year tables are built on first use."""

    def __init__(
        self,
        tz: ZoneInfo,
        weekly: tuple[tuple[_Span, ...], ...],
        closed: frozenset[date],
        open_days: dict[date, tuple[_Span, ...]],
        country: str | None,
    ) -> None:
        self.tz = tz
        self.weekly = weekly
        self.closed = closed
        self.open_days = open_days
        self.country = country
        self.has_weekly_time = any(weekly)
        self.last_open = max(open_days) if open_days else None
        self.years: dict[int, _Year] = {}

    # --- building -------------------------------------------------------

    def year(self, year: int) -> _Year:
        table = self.years.get(year)
        if table is None:
            table = self.years[year] = self._build_year(year)
        return table

    def _build_year(self, year: int) -> _Year:
        _check_year(year)
        public = _public_holidays(self.country, year) if self.country else frozenset()
        first = date(year, 1, 1).toordinal()
        days: list[tuple[int, ...]] = []
        cum = [0]
        total = 0
        for ordinal in range(first, date(year + 1, 1, 1).toordinal()):
            day = date.fromordinal(ordinal)
            spans = self.open_days.get(day)
            if spans is None:
                spans = () if day in self.closed or day in public else self.weekly[day.weekday()]
            bounds = self._bounds(day, spans)
            days.append(bounds)
            total += sum(bounds[i + 1] - bounds[i] for i in range(0, len(bounds), 2))
            cum.append(total)
        return _Year(first, days, cum)

    def _bounds(self, day: date, spans: tuple[_Span, ...]) -> tuple[int, ...]:
        midnight = datetime(day.year, day.month, day.day)
        out: list[int] = []
        for start, end in spans:
            begin = self._instant(midnight + timedelta(minutes=start))
            finish = self._instant(midnight + timedelta(minutes=end))
            if finish <= begin:
                continue  # the whole interval fell into a spring-forward gap
            if out and out[-1] == begin:
                out[-1] = finish
            else:
                out += (begin, finish)
        return tuple(out)

    def _instant(self, wall: datetime) -> int:
        """Epoch microseconds of the first instant the wall clock shows `wall` or later."""
        local = wall.replace(tzinfo=self.tz)
        before = local.utcoffset()
        after = local.replace(fold=1).utcoffset()
        assert before is not None and after is not None
        if before >= after:
            # Unambiguous, or repeated in autumn: fold=0 is the first occurrence.
            return (local - _EPOCH) // _ONE_US
        # Skipped in spring: the answer is the instant of the jump, which lies
        # between the two readings; find it to the second.
        low = (wall - after - _EPOCH_NAIVE) // _ONE_SECOND  # still the old offset
        high = (wall - before - _EPOCH_NAIVE) // _ONE_SECOND  # already the new offset
        while high - low > 1:
            middle = (low + high) // 2
            if (_EPOCH + timedelta(seconds=middle)).astimezone(self.tz).utcoffset() == after:
                high = middle
            else:
                low = middle
        return high * 1_000_000

    # --- queries ----------------------------------------------------------

    def day_bounds(self, day: date) -> tuple[int, ...]:
        table = self.year(day.year)
        return table.days[day.toordinal() - table.first]

    def to_local(self, us: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=us)).astimezone(self.tz)

    def advance(self, cur: int, day: date, remaining: int) -> int:
        """The instant `remaining` business microseconds after `cur` (local date `day`)."""
        # The start's own day, clipped at `cur`. The next day is clipped too if
        # it begins before `cur`, which happens only when clocks fall back
        # across midnight.
        first_day = True
        while True:
            bounds = self.day_bounds(day)
            if not first_day and (not bounds or bounds[0] >= cur):
                break
            first_day = False
            for i in range(0, len(bounds), 2):
                end = bounds[i + 1]
                if end <= cur:
                    continue
                begin = max(bounds[i], cur)
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
            day += _ONE_DAY
        # Whole days from `day` on: binary search in the running totals.
        horizon = day.year + HORIZON_YEARS
        while True:
            table = self.year(day.year)
            index = day.toordinal() - table.first
            cum = table.cum
            base = cum[index]
            if remaining == 0:
                if cum[-1] > base:
                    return table.days[bisect_right(cum, base, index) - 1][0]
            elif base + remaining <= cum[-1]:
                target = base + remaining
                index = bisect_left(cum, target, index + 1) - 1
                left = target - cum[index]
                bounds = table.days[index]
                for i in range(0, len(bounds), 2):
                    length = bounds[i + 1] - bounds[i]
                    if left <= length:
                        return bounds[i] + left
                    left -= length
                raise AssertionError("running totals disagree with the day's intervals")
            else:
                remaining -= cum[-1] - base
            day = date(day.year + 1, 1, 1)
            if not self.has_weekly_time and (self.last_open is None or day > self.last_open):
                raise CalendarError(f"This calendar has no working time after {self.last_open}.")
            if day.year > horizon:
                raise CalendarError(
                    f"The due time would be more than {HORIZON_YEARS} years away: "
                    "this calendar has too little working time for such a target."
                )

    def position(self, cur: int, day: date) -> tuple[int, int]:
        """Business microseconds from the start of `day`'s year to instant `cur`."""
        table = self.year(day.year)
        index = day.toordinal() - table.first
        total = table.cum[index]
        for offset in (0, 1):  # the next day counts only when clocks fall back across midnight
            bounds = self.day_bounds(day + timedelta(days=offset))
            for i in range(0, len(bounds), 2):
                if bounds[i] < cur:
                    total += min(bounds[i + 1], cur) - bounds[i]
        return day.year, total
