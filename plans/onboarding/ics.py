"""Onboarding meetings as iCalendar (.ics) files, one meeting or a whole series.

Built from plain values (no Flask, no ORM, no clock read): the caller passes `now` for DTSTAMP.
Times are written in UTC, which every calendar understands; a moved meeting keeps its UID and
carries a higher SEQUENCE so calendars replace their copy, and a cancelled one is STATUS:CANCELLED.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Opiekun//Onboarding meetings//EN"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class CalendarMeeting:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    location: str
    organizer: Person | None
    attendees: tuple[Person, ...]
    sequence: int = 0
    cancelled: bool = False


def _address(person: Person, *, role: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    if person.name:
        address.params["CN"] = vText(person.name)
    if role:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
    return address


def calendar_file(meetings: Iterable[CalendarMeeting], *, now: datetime, name: str = "") -> bytes:
    """An .ics file with one VEVENT per meeting."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    for meeting in meetings:
        event = Event()
        event.add("uid", meeting.uid)
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", meeting.starts_at.astimezone(UTC))
        event.add("dtend", meeting.ends_at.astimezone(UTC))
        event.add("summary", meeting.summary)
        if meeting.description:
            event.add("description", meeting.description)
        if meeting.location:
            event.add("location", meeting.location)
        event.add("sequence", meeting.sequence)
        event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
        if meeting.organizer is not None:
            event.add("organizer", _address(meeting.organizer))
        for person in meeting.attendees:
            event.add("attendee", _address(person, role="REQ-PARTICIPANT"))
        calendar.add_component(event)
    return calendar.to_ical()
