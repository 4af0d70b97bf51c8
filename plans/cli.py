"""Commands about coverage: `flask coverage explain TICKET_ID`."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from plans.services import decisions_for_ticket

coverage_cli = AppGroup("coverage", help="Coverage decisions and usage.")


@coverage_cli.command("explain")
@click.argument("ticket_id", type=click.IntRange(min=1))
def explain(ticket_id: int) -> None:
    """Print a ticket's coverage decision history, oldest first, as JSON."""
    records = decisions_for_ticket(ticket_id)
    if not records:
        raise click.ClickException(f"Ticket {ticket_id} has no coverage decisions (or does not exist).")
    click.echo(json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False))
