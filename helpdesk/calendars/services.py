"""Editing business calendars: the admin's form as texts, checked field by field, then saved.

Saving a calendar validates each field on its own through `BusinessCalendar.validate`, so a bad
value gets its message next to the field it came from, and nothing is saved. The stored form is
`helpdesk.calendars.models`; the arithmetic is `helpdesk.calendars.arithmetic`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from sqlalchemy import select

from helpdesk.calendars.arithmetic import BusinessCalendar, CalendarError, default_calendar
from helpdesk.calendars.models import Calendar, rows_of, to_business_calendar
from helpdesk.clock import utcnow
from helpdesk.date_bounds import DateOutOfBounds, parse_day
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _, _l
from helpdesk.text import check_text

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
    name = check_text(fields, "name", data.name, limit=80, required=True, one_line=True)
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
    hours, dates = rows_of(cal)
    row.hours[:] = hours
    row.dates[:] = dates
    db.session.commit()
    return row
