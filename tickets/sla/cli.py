"""`flask sla ...`: due times by hand, and the sweep for set-ups without a worker."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from helpdesk.calendars.arithmetic import CalendarError, add_business_minutes
from helpdesk.calendars.models import calendar_by_name, calendar_names
from helpdesk.clock import utcnow
from helpdesk.date_bounds import DateOutOfBounds, check_instant
from tickets.sla.jobs import sweep

sla_cli = AppGroup("sla", help="SLA due times, clocks and the breach sweep.")


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date and time, such as 2026-03-27T15:30:00+01:00.", param_hint="START"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise click.BadParameter(
            f"{text!r} has no time zone offset; write it as, for example, 2026-03-27T15:30:00+01:00.",
            param_hint="START",
        )
    try:
        return check_instant(value)
    except DateOutOfBounds as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint="START") from None


@sla_cli.command("due")
@click.option("--calendar", "calendar_name", required=True, help="The business calendar's name, e.g. default or 24/7.")
@click.option("--minutes", required=True, type=int, help="Business minutes to add (0: the next business instant).")
@click.argument("starts", metavar="START [START ...]", nargs=-1, required=True)
def due(calendar_name: str, minutes: int, starts: tuple[str, ...]) -> None:
    """Print, for each START (ISO 8601 with offset), its due instant in the calendar's time zone."""
    cal = calendar_by_name(calendar_name)
    if cal is None:
        known = ", ".join(calendar_names())
        raise click.BadParameter(
            f"There is no calendar named {calendar_name!r}. Calendars: {known}.", param_hint="--calendar"
        )
    if minutes < 0:
        raise click.BadParameter("The number of business minutes cannot be negative.", param_hint="--minutes")
    instants = [_instant(text) for text in starts]
    try:
        lines = [add_business_minutes(cal, start, minutes).isoformat() for start in instants]
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)


@sla_cli.command("sweep")
def sweep_command() -> None:
    """Record every SLA warning and breach that is due (what the worker does every minute)."""
    result = sweep(utcnow())
    click.echo(f"Checked {result.tickets} tickets, recorded {result.facts} warnings and breaches.")
