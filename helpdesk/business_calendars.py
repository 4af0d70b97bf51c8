"""Business calendars kept in the database, and their conversion to the pure `BusinessCalendar`.

The arithmetic lives in `helpdesk.calendars` (pure); this module stores what admins edit: a
calendar's time zone, country, working hours per weekday (several intervals a day), extra closed
dates and extra open dates with their own hours. Two calendars always exist: `default` (Monday
to Friday 08:00-16:00 Europe/Warsaw, Polish holidays) and `24/7`; they are created on first use.

Saving a calendar validates each field on its own through `BusinessCalendar.validate`, so a bad
value gets its message next to the field it came from, and nothing is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from helpdesk.calendars import BusinessCalendar, CalendarError, always_open, default_calendar
from helpdesk.clock import utcnow
from helpdesk.date_bounds import DateOutOfBounds, parse_day
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _, _l
from helpdesk.text import is_blank, one_line_error

DEFAULT = "default"
ALWAYS_OPEN = "24/7"
KINDS = ("closed", "open")
WEEKDAY_FIELDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_LABELS = {
    "monday": _l("Monday"),
    "tuesday": _l("Tuesday"),
    "wednesday": _l("Wednesday"),
    "thursday": _l("Thursday"),
    "friday": _l("Friday"),
    "saturday": _l("Saturday"),
    "sunday": _l("Sunday"),
}
_DAY = 24 * 60


def _builtins() -> dict[str, BusinessCalendar]:
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


def _rows_of(cal: BusinessCalendar) -> tuple[list[CalendarHours], list[CalendarDate]]:
    hours = [
        CalendarHours(weekday=i, start_minute=_minute(a), end_minute=_minute(b) or _DAY)
        for i, day in enumerate(cal.weekly)
        for a, b in day
    ]
    dates = [CalendarDate(day=d, kind="closed") for d in sorted(cal.closed_dates)]
    dates += [
        CalendarDate(day=d, kind="open", start_minute=_minute(a), end_minute=_minute(b) or _DAY)
        for d, spans in cal.open_dates
        for a, b in spans
    ]
    return hours, dates


# Pure calendars by (id, version, created_at): building one costs a few queries and its year
# tables. created_at tells apart a calendar from an earlier one that had the same id.
_CACHE: dict[tuple[int, int, datetime], BusinessCalendar] = {}


def business_calendars(ids: set[int] | list[int]) -> dict[int, BusinessCalendar]:
    """The pure calendars with these ids: one query, plus one load for any not cached yet."""
    wanted = set(ids)
    if not wanted:
        return {}
    keys = {
        row.id: (row.id, row.version, row.created_at)
        for row in db.session.execute(
            select(Calendar.id, Calendar.version, Calendar.created_at).where(Calendar.id.in_(wanted))
        )
    }
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
    """The pure calendar of this name; `default` and `24/7` exist even before they are stored."""
    row_id = db.session.scalar(select(Calendar.id).where(Calendar.name == name))
    if row_id is not None:
        return business_calendar(row_id)
    return _builtins().get(name)


def calendar_names() -> list[str]:
    stored = list(db.session.scalars(select(Calendar.name).order_by(Calendar.name)))
    return sorted(set(stored) | set(_builtins()))


def ensure_builtin_calendars() -> dict[str, Calendar]:
    """Store `default` and `24/7` if they are missing (flushes; the caller commits)."""
    out: dict[str, Calendar] = {}
    for name, cal in _builtins().items():
        row = db.session.scalar(select(Calendar).where(Calendar.name == name))
        if row is None:
            hours, dates = _rows_of(cal)
            now = utcnow()
            row = Calendar(name=name, timezone=cal.timezone, country=cal.country, created_at=now, updated_at=now)
            try:
                with db.session.begin_nested():
                    db.session.add(row)
                    db.session.flush()
                    for child in (*hours, *dates):
                        child.calendar_id = row.id
                        db.session.add(child)
                    db.session.flush()
            except IntegrityError:  # created at the same moment by another transaction
                row = db.session.scalar(select(Calendar).where(Calendar.name == name))
                assert row is not None
        out[name] = row
    return out


def all_calendars() -> list[Calendar]:
    ensure_builtin_calendars()
    return list(db.session.scalars(select(Calendar).order_by(Calendar.name)))


def get_calendar(calendar_id: int) -> Calendar | None:
    return db.session.scalar(
        select(Calendar)
        .where(Calendar.id == calendar_id)
        .options(selectinload(Calendar.hours), selectinload(Calendar.dates))
    )


# -- editing ---------------------------------------------------------------------------------


class CalendarFormError(Invalid):
    """A calendar was not saved; `fields` maps form fields to messages."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(_("Please correct the marked fields."), fields)


@dataclass
class CalendarInput:
    """What the admin typed: texts per weekday and per kind of date, as in the form."""

    name: str
    timezone: str
    country: str = ""
    weekly: dict[str, str] = field(default_factory=dict)  # "monday" -> "08:00-12:00, 12:30-16:00"
    closed_dates: str = ""  # one date per line
    open_dates: str = ""  # "2026-12-27 10:00-14:00" per line


_SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")


def _parse_spans(text: str) -> tuple[tuple[time, time], ...]:
    spans = []
    for chunk in re.split(r"[,;]", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        match = _SPAN_RE.match(chunk)
        if not match:
            raise ValueError(chunk)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(chunk)
        spans.append((time(h1, m1), time(0, 0) if h2 == 24 else time(h2, m2)))
    return tuple(spans)


def format_spans(spans: tuple[tuple[time, time], ...] | list[tuple[time, time]]) -> str:
    def fmt(value: time, end: bool) -> str:
        return "24:00" if end and value == time(0, 0) else value.strftime("%H:%M")

    return ", ".join(f"{fmt(a, False)}-{fmt(b, True)}" for a, b in spans)


def _parse_date(text: str) -> date:
    return parse_day(text)


def input_of(row: Calendar | None) -> CalendarInput:
    """The form's texts for a stored calendar (or the default's hours for a new one)."""
    cal = to_business_calendar(row) if row is not None else default_calendar()
    return CalendarInput(
        name=row.name if row is not None else "",
        timezone=cal.timezone,
        country=cal.country or "",
        weekly={name: format_spans(day) for name, day in zip(WEEKDAY_FIELDS, cal.weekly, strict=True)},
        closed_dates="\n".join(d.isoformat() for d in sorted(cal.closed_dates)),
        open_dates="\n".join(f"{d.isoformat()} {format_spans(spans)}" for d, spans in cal.open_dates),
    )


def calendar_error_message(error: CalendarError) -> str:
    """A CalendarError in the user's language (the pure module speaks English)."""
    params = dict(error.params)  # the field the message stands next to says which day
    messages = {
        "unknown_timezone": _("The time zone %(zone)s is unknown; use a name such as Europe/Warsaw.", **params)
        if "zone" in params else None,
        "unknown_country": _("There is no public holiday list for the country code %(country)s.", **params)
        if "country" in params else None,
        "ends_before_start": _("%(span)s ends before it starts.", **params) if "span" in params else None,
        "overlap": _("%(first)s and %(second)s overlap.", **params) if "first" in params else None,
        "order": _("List the hours in order: %(second)s comes before %(first)s.", **params)
        if "first" in params else None,
        "whole_minutes": _("Use whole minutes."),
        "open_date_twice": _("The date %(day)s is listed twice.", **params) if "day" in params else None,
        "open_date_no_hours": _("The date %(day)s has no working hours.", **params) if "day" in params else None,
        "no_working_time": _("This calendar has no working time: give at least one day some working hours."),
    }
    return messages.get(error.code) or str(error)


_PROBE_DAY = ((time(0, 0), time(0, 0)),)


def _probe(fields: dict[str, str], name: str, **parts: Any) -> None:
    """Validate one part of a calendar on its own, inside an otherwise valid calendar."""
    values: dict[str, Any] = {"name": "probe", "timezone": "UTC", "weekly": (_PROBE_DAY,) * 7}
    values.update(parts)
    try:
        BusinessCalendar(**values).validate()
    except CalendarError as exc:
        fields[name] = calendar_error_message(exc)


def check_calendar(data: CalendarInput) -> BusinessCalendar:
    """The pure calendar the admin described, or CalendarFormError with a message per field."""
    fields: dict[str, str] = {}
    name = (data.name or "").strip()
    if problem := one_line_error(name):
        fields["name"] = problem
    elif is_blank(name):
        fields["name"] = _("This field is required.")
    elif len(name) > 80:
        fields["name"] = _("At most %(limit)s characters.", limit=80)
    timezone = (data.timezone or "").strip()
    _probe(fields, "timezone", timezone=timezone)
    country = (data.country or "").strip().upper() or None
    if country is not None:
        _probe(fields, "country", country=country)
    weekly: list[tuple[tuple[time, time], ...]] = []
    for index, day in enumerate(WEEKDAY_FIELDS):
        try:
            spans = _parse_spans(data.weekly.get(day, "") or "")
        except ValueError as exc:
            fields[day] = _("Write working hours as 08:00-16:00, several separated by commas (not %(text)s).",
                            text=str(exc))
            spans = ()
        else:
            if spans:  # an empty day is a day off, not an error on its own
                probe_week = [_PROBE_DAY] * 7
                probe_week[index] = spans
                _probe(fields, day, weekly=tuple(probe_week))
        weekly.append(spans)
    closed: set[date] = set()
    for line in (data.closed_dates or "").replace(",", "\n").splitlines():
        if not line.strip():
            continue
        try:
            closed.add(_parse_date(line))
        except DateOutOfBounds as exc:
            fields["closed_dates"] = str(exc)
            break
        except ValueError:
            fields["closed_dates"] = _("Write one date per line, as 2026-12-24 (not %(text)s).", text=line.strip())
            break
    opened: list[tuple[date, tuple[tuple[time, time], ...]]] = []
    for line in (data.open_dates or "").splitlines():
        if not line.strip():
            continue
        day_text, _sep, spans_text = line.strip().partition(" ")
        try:
            entry = (_parse_date(day_text), _parse_spans(spans_text))
        except DateOutOfBounds as exc:
            fields["open_dates"] = str(exc)
            break
        except ValueError:
            fields["open_dates"] = _(
                "Write one date per line with its hours, as 2026-12-27 10:00-14:00 (not %(text)s).", text=line.strip()
            )
            break
        opened.append(entry)
    if "open_dates" not in fields and opened:
        _probe(fields, "open_dates", open_dates=tuple(opened))
    cal = BusinessCalendar(
        name=name or "unnamed",
        timezone=timezone,
        weekly=tuple(weekly),
        country=country,
        closed_dates=frozenset(closed),
        open_dates=tuple(opened),
    )
    if not fields:
        try:
            cal.validate()
        except CalendarError as exc:
            fields["monday" if exc.code == "no_working_time" else "name"] = calendar_error_message(exc)
    if fields:
        raise CalendarFormError(fields)
    return cal


def save_calendar(row: Calendar | None, data: CalendarInput) -> Calendar:
    """Create (row None) or replace a calendar from the form; commits. CalendarFormError: nothing saved."""
    if row is not None and row.is_builtin:
        data.name = row.name  # the built-in names are what the code and the CLI look for
    cal = check_calendar(data)
    clash = db.session.scalar(select(Calendar.id).where(Calendar.name == cal.name))
    if clash is not None and (row is None or clash != row.id):
        raise CalendarFormError({"name": _("A calendar with this name already exists.")})
    now = utcnow()
    if row is None:
        row = Calendar(name=cal.name, created_at=now, version=0)
        row.hours, row.dates = [], []
        db.session.add(row)
    row.name, row.timezone, row.country = cal.name, cal.timezone, cal.country
    row.version = (row.version or 0) + 1
    row.updated_at = now
    hours, dates = _rows_of(cal)
    row.hours[:] = hours
    row.dates[:] = dates
    db.session.commit()
    return row
