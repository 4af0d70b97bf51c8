"""Business calendars: when the support team works, and business-time arithmetic on it.

- `arithmetic`: the pure rules (no Flask, no ORM, no clock): `BusinessCalendar`, due instants,
  business time between two instants, exact across DST. Its public names are re-exported here,
  so `from helpdesk.calendars import add_business_minutes` keeps this package import pure.
- `models`: calendars as stored, their conversion to the pure form, cached reads.
- `services`: editing a calendar: the admin's form checked field by field, then saved.
- `policies`: SLA policies, targets per priority on a calendar (see its docstring for why the
  kernel keeps them, and tickets/sla/ chooses among them).
- `seed`: the reference data every installation has (the `default` and `24/7` calendars, the
  default policy), stored by a migration and never made on read.
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
