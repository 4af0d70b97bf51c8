"""Business calendars kept in the database, and their conversion to the pure `BusinessCalendar`.

The arithmetic lives in `helpdesk.calendars.arithmetic` (pure); this module stores what admins edit: a
calendar's time zone, country, working hours per weekday (several intervals a day), extra closed
dates and extra open dates with their own hours. Two calendars always exist: `default` (Monday
to Friday 08:00-16:00 Europe/Warsaw, Polish holidays) and `24/7`. They are reference data,
stored by the migrations (`helpdesk.calendars.seed`); this module only reads them.

Editing them (the admin's form, validated field by field) is `helpdesk.calendars.services`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from helpdesk.calendars.arithmetic import BusinessCalendar, always_open, default_calendar
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db

DEFAULT = "default"
ALWAYS_OPEN = "24/7"
KINDS = ("closed", "open")
_DAY = 24 * 60


class ReferenceDataMissing(LookupError):
    """A calendar or policy that the migrations store is not in the database."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} is missing from the database. It is reference data that the migrations store: "
            "run `flask db upgrade` (or `flask demo seed`) on this database."
        )


def builtin_definitions() -> dict[str, BusinessCalendar]:
    """The built-in calendars, as the seed stores them."""
    return {DEFAULT: default_calendar(), ALWAYS_OPEN: always_open(ALWAYS_OPEN, "Europe/Warsaw")}


class Calendar(db.Model):
    """A business calendar as admins edit it; `business_calendar()` gives its pure form."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Warsaw")
    country: Mapped[str | None] = mapped_column(String(10))
    # Bumped on every save: cached pure calendars are keyed by (id, version).
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    hours: Mapped[list[CalendarHours]] = relationship(
        cascade="all, delete-orphan", order_by="(CalendarHours.weekday, CalendarHours.start_minute)",
        lazy="raise",
    )
    dates: Mapped[list[CalendarDate]] = relationship(
        cascade="all, delete-orphan", order_by="(CalendarDate.day, CalendarDate.start_minute)", lazy="raise"
    )

    @property
    def is_builtin(self) -> bool:
        return self.name in (DEFAULT, ALWAYS_OPEN)


class CalendarHours(db.Model):
    """One working interval of a weekday (0 = Monday), in minutes since local midnight."""

    __tablename__ = "business_calendar_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute", name="span"),
        Index("ix_business_calendar_hours_calendar_id_weekday", "calendar_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendars.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]  # 1440 means midnight at the end of the day


class CalendarDate(db.Model):
    """An extra closed date, or one interval of an extra open date."""

    __tablename__ = "business_calendar_dates"
    __table_args__ = (
        CheckConstraint("kind IN ('closed', 'open')", name="kind"),
        CheckConstraint(
            "(kind = 'closed' AND start_minute IS NULL AND end_minute IS NULL) OR "
            "(kind = 'open' AND start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute)",
            name="span",
        ),
        Index("ix_business_calendar_dates_calendar_id_day", "calendar_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendars.id", ondelete="CASCADE"))
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(10))
    start_minute: Mapped[int | None]
    end_minute: Mapped[int | None]


# -- the pure form ---------------------------------------------------------------------------


def _time(minute: int) -> time:
    return time(0, 0) if minute == _DAY else time(minute // 60, minute % 60)


def _minute(value: time) -> int:
    return value.hour * 60 + value.minute


def to_business_calendar(row: Calendar) -> BusinessCalendar:
    """The pure calendar of a stored one (its hours and dates must be loaded)."""
    weekly: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for hours in row.hours:
        weekly[hours.weekday].append((_time(hours.start_minute), _time(hours.end_minute)))
    closed: set[date] = set()
    opened: dict[date, list[tuple[time, time]]] = {}
    for entry in row.dates:
        if entry.kind == "closed":
            closed.add(entry.day)
        else:
            assert entry.start_minute is not None and entry.end_minute is not None
            opened.setdefault(entry.day, []).append((_time(entry.start_minute), _time(entry.end_minute)))
    return BusinessCalendar(
        name=row.name,
        timezone=row.timezone,
        weekly=tuple(tuple(day) for day in weekly),
        country=row.country,
        closed_dates=frozenset(closed),
        open_dates=tuple((day, tuple(spans)) for day, spans in sorted(opened.items())),
    )


def row_values(cal: BusinessCalendar) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The column values of a pure calendar's hours and dates rows (without `calendar_id`)."""
    hours = [
        {"weekday": i, "start_minute": _minute(a), "end_minute": _minute(b) or _DAY}
        for i, day in enumerate(cal.weekly)
        for a, b in day
    ]
    dates: list[dict[str, Any]] = [
        {"day": d, "kind": "closed", "start_minute": None, "end_minute": None} for d in sorted(cal.closed_dates)
    ]
    dates += [
        {"day": d, "kind": "open", "start_minute": _minute(a), "end_minute": _minute(b) or _DAY}
        for d, spans in cal.open_dates
        for a, b in spans
    ]
    return hours, dates


def rows_of(cal: BusinessCalendar) -> tuple[list[CalendarHours], list[CalendarDate]]:
    hours, dates = row_values(cal)
    return [CalendarHours(**values) for values in hours], [CalendarDate(**values) for values in dates]


# Pure calendars by (id, version, created_at): building one costs a few queries and its year
# tables. created_at tells apart a calendar from an earlier one that had the same id.
_CACHE: dict[tuple[int, int, datetime], BusinessCalendar] = {}


def business_calendars(ids: set[int] | list[int]) -> dict[int, BusinessCalendar]:
    """The pure calendars with these ids: one query, plus one load for any not cached yet."""
    wanted = set(ids)
    if not wanted:
        return {}
    return calendars_from_keys(db.session.execute(
        select(*calendar_key_columns()).where(Calendar.id.in_(wanted))
    ).all())


def calendar_key_columns() -> tuple[Any, Any, Any]:
    """The columns that tell whether a cached pure calendar is current: a statement selecting
    them (joined to what names the calendar, e.g. a policy) feeds `calendars_from_keys`."""
    return Calendar.id, Calendar.version, Calendar.created_at


def calendars_from_keys(rows: Sequence[Any]) -> dict[int, BusinessCalendar]:
    """The pure calendars of rows of `calendar_key_columns`, loading any not cached yet."""
    keys = {row[0]: (row[0], row[1], row[2]) for row in rows}
    found = {i: _CACHE.get(key) for i, key in keys.items()}
    missing = [i for i, cal in found.items() if cal is None]
    if missing:
        rows = db.session.scalars(
            select(Calendar)
            .where(Calendar.id.in_(missing))
            .options(selectinload(Calendar.hours), selectinload(Calendar.dates))
        )
        for row in rows:
            found[row.id] = _CACHE[(row.id, row.version, row.created_at)] = to_business_calendar(row)
    if len(_CACHE) > 256:
        _CACHE.clear()
    return {i: cal for i, cal in found.items() if cal is not None}


def business_calendar(calendar_id: int) -> BusinessCalendar:
    return business_calendars([calendar_id])[calendar_id]


def calendar_by_name(name: str) -> BusinessCalendar | None:
    """The pure calendar of this name, None if there is none."""
    row_id = db.session.scalar(select(Calendar.id).where(Calendar.name == name))
    return business_calendar(row_id) if row_id is not None else None


def calendar_names() -> list[str]:
    return list(db.session.scalars(select(Calendar.name).order_by(Calendar.name)))


def builtin_calendars() -> dict[str, Calendar]:
    """The stored `default` and `24/7` calendars; ReferenceDataMissing if one is not there."""
    rows = {row.name: row for row in db.session.scalars(select(Calendar).where(Calendar.name.in_(builtin_definitions())))}
    for name in builtin_definitions():
        if name not in rows:
            raise ReferenceDataMissing(f"The built-in calendar {name!r}")
    return rows


def all_calendars() -> list[Calendar]:
    return list(db.session.scalars(select(Calendar).order_by(Calendar.name)))


def get_calendar(calendar_id: int) -> Calendar | None:
    return db.session.scalar(
        select(Calendar)
        .where(Calendar.id == calendar_id)
        .options(selectinload(Calendar.hours), selectinload(Calendar.dates))
    )
