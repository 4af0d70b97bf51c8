"""Reference data: the `default` and `24/7` calendars and the default SLA policy, stored once.

Every installation needs them (a ticket's clocks fall back on the default policy, which counts on
the default calendar), so they are stored by a migration (0009) and never made while a page is
read. `seed_reference_data` is the one function that stores them: the migration calls it, so do
`flask demo seed` and the tests after they empty the tables. It adds only what is missing, so
running it again changes nothing; a `Standard` policy that lost its default flag gets it back.

It writes through a plain connection with the columns named here rather than through the ORM
models, so that the migration inserts exactly these columns whatever later revisions add to
the models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Date, Integer, String, column, select, table, update
from sqlalchemy.engine import Connection

from helpdesk.calendars.models import DEFAULT, builtin_definitions, row_values
from helpdesk.calendars.policies import (
    DEFAULT_POLICY_NAME,
    DEFAULT_TARGETS,
    DEFAULT_WARNING_PERCENT,
)
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime

_calendars = table(
    "business_calendars",
    column("id", Integer), column("name", String), column("timezone", String), column("country", String),
    column("version", Integer), column("created_at", UTCDateTime), column("updated_at", UTCDateTime),
)
_hours = table(
    "business_calendar_hours",
    column("calendar_id", Integer), column("weekday", Integer),
    column("start_minute", Integer), column("end_minute", Integer),
)
_dates = table(
    "business_calendar_dates",
    column("calendar_id", Integer), column("day", Date), column("kind", String),
    column("start_minute", Integer), column("end_minute", Integer),
)
_policies = table(
    "sla_policies",
    column("id", Integer), column("name", String), column("calendar_id", Integer),
    column("warning_percent", Integer), column("is_default", Boolean),
    column("created_at", UTCDateTime), column("updated_at", UTCDateTime),
)
_targets = table(
    "sla_targets",
    column("policy_id", Integer), column("priority", String),
    column("first_response_minutes", Integer), column("resolution_minutes", Integer),
)


def _calendar_id(connection: Connection, name: str) -> int | None:
    return connection.scalar(select(_calendars.c.id).where(_calendars.c.name == name))


def seed_reference_data(connection: Connection, now: datetime | None = None) -> None:
    """Store the built-in calendars and the default policy where missing (the caller commits)."""
    now = now or utcnow()
    for name, cal in builtin_definitions().items():
        if _calendar_id(connection, name) is not None:
            continue
        connection.execute(_calendars.insert().values(
            name=name, timezone=cal.timezone, country=cal.country, version=1, created_at=now, updated_at=now,
        ))
        calendar_id = _calendar_id(connection, name)
        hours, dates = row_values(cal)
        if hours:
            connection.execute(_hours.insert(), [{"calendar_id": calendar_id, **values} for values in hours])
        if dates:
            connection.execute(_dates.insert(), [{"calendar_id": calendar_id, **values} for values in dates])

    if connection.scalar(select(_policies.c.id).where(_policies.c.is_default.is_(True)).limit(1)) is not None:
        return
    standard = connection.scalar(select(_policies.c.id).where(_policies.c.name == DEFAULT_POLICY_NAME))
    if standard is not None:
        connection.execute(update(_policies).where(_policies.c.id == standard).values(is_default=True))
        return
    connection.execute(_policies.insert().values(
        name=DEFAULT_POLICY_NAME, calendar_id=_calendar_id(connection, DEFAULT),
        warning_percent=DEFAULT_WARNING_PERCENT, is_default=True, created_at=now, updated_at=now,
    ))
    policy_id = connection.scalar(select(_policies.c.id).where(_policies.c.name == DEFAULT_POLICY_NAME))
    connection.execute(_targets.insert(), [
        {"policy_id": policy_id, "priority": priority, "first_response_minutes": first, "resolution_minutes": resolution}
        for priority, (first, resolution) in DEFAULT_TARGETS.items()
    ])
