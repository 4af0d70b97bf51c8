"""Business calendars: when the support team works, and business-time arithmetic on it.

- `arithmetic`: the pure rules (no Flask, no ORM, no clock): `BusinessCalendar`, due instants,
  business time between two instants, exact across DST. Its public names are re-exported here,
  so `from helpdesk.calendars import add_business_minutes` keeps this package import pure.
- `models`: calendars as stored and edited by admins, and their conversion to the pure form.
- `policies`: SLA policies, targets per priority on a calendar (see its docstring for why the
  kernel keeps them).
- `admin`: the admin's calendar pages.
"""

from helpdesk.calendars.arithmetic import (
    HORIZON_YEARS,
    MAX_MINUTES,
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

__all__ = [
    "HORIZON_YEARS",
    "MAX_MINUTES",
    "BusinessCalendar",
    "CalendarError",
    "add_business_minutes",
    "add_business_seconds",
    "always_open",
    "business_minutes_between",
    "business_seconds_between",
    "default_calendar",
    "next_business_instant",
]
