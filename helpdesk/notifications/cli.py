"""`flask notifications ...`: relay what is pending, and send a dead notification again."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from helpdesk.extensions import db
from helpdesk.notifications.delivery import retry_entry
from helpdesk.notifications.models import OutboxEntry
from helpdesk.notifications.outbox import sweep

notifications_cli = AppGroup("notifications", help="The notification outbox.")


@notifications_cli.command("sweep")
def sweep_command() -> None:
    """Relay pending notifications whose relay is overdue (workers do this on their own)."""
    click.echo(f"Relayed {sweep()} notification(s).")


@notifications_cli.command("retry")
@click.argument("entry_id", type=int)
def retry_command(entry_id: int) -> None:
    """Send a dead or partly refused notification again."""
    entry = db.session.get(OutboxEntry, entry_id)
    if entry is None:
        raise click.ClickException(f"There is no notification {entry_id}.")
    retry_entry(entry)
    click.echo(f"Notification {entry_id} is pending again.")
