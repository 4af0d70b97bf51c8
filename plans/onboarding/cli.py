"""Commands for operators and schedulers: `flask onboarding remind`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from helpdesk.clock import utcnow
from helpdesk.date_bounds import DateOutOfBounds, parse_day
from plans.onboarding.dates import local_today
from plans.onboarding.reminders import due_meeting_reminders, send_meeting_reminder

onboarding_cli = AppGroup("onboarding", help="Client onboardings.")


@onboarding_cli.command("remind")
@click.option(
    "--today",
    "today_text",
    default=None,
    help="Act as if today were this date (YYYY-MM-DD); default: today in the team's timezone.",
)
@click.option("--dry-run", is_flag=True, help="List the reminders due without sending them.")
def remind(today_text: str | None, dry_run: bool) -> None:
    """Send the meeting reminders due today (the working day before each meeting).

    `flask worker` does this every hour; run it by hand to send now. Safe to run as often as you
    like: each meeting is reminded once.
    """
    now = utcnow()
    try:
        today = parse_day(today_text) if today_text else local_today(now)
    except DateOutOfBounds as exc:
        raise click.BadParameter(str(exc), param_hint="--today") from exc
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--today") from exc
    due = due_meeting_reminders(today)
    sent = 0
    for reminder in due:
        if dry_run:
            click.echo(f"due: meeting {reminder.meeting_id} ({reminder.client_name}, "
                       f"{reminder.starts_at.isoformat()}) to {', '.join(reminder.recipients) or 'nobody'}")
        elif send_meeting_reminder(reminder.meeting_id, today, now):
            sent += 1
    if dry_run:
        click.echo(f"{len(due)} reminder(s) due on {today.isoformat()}.")
    else:
        click.echo(f"Sent {sent} reminder(s) for {today.isoformat()}.")
