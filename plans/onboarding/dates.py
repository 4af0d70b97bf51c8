"""The onboarding team's calendar: its timezone (`ONBOARDING_TIMEZONE`), its today, local instants.

No clock is read here: callers pass `now`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def business_zone() -> ZoneInfo:
    """The timezone of the onboarding team's calendar (dates of meetings, reminders, protocol)."""
    return ZoneInfo(current_app.config["ONBOARDING_TIMEZONE"])


def local_today(now: datetime) -> date:
    return now.astimezone(business_zone()).date()


def local_instant(day: date, at: time, timezone: str | None = None) -> datetime:
    """The instant a wall-clock date and time in `timezone` (default: the team's) stand for."""
    zone = ZoneInfo(timezone) if timezone else business_zone()
    return datetime.combine(day, at, tzinfo=zone)
