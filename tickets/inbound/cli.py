"""`flask mail import`: one message from a file or standard input, for an MTA pipe (as RT's
mailgate): exit 0 once the message is recorded, whatever its outcome; non-zero only when it could
not be recorded (the database is down), so the MTA keeps it and tries again."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

mail_cli = AppGroup("mail", help="The e-mail channel: receiving mail.")

EX_TEMPFAIL = 75  # sysexits.h: the MTA queues the message and tries again later


@mail_cli.command("import")
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--mailbox", default=None, help="The address the message arrived at (selects its category).")
def import_message(source: str, mailbox: str | None) -> None:
    """Receive one message from SOURCE (a file, or - for standard input)."""
    from tickets.inbound.receive import receive_message

    try:
        if source == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as handle:
                raw = handle.read()
    except OSError as exc:
        click.echo(f"cannot read {source}: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    try:
        receipt = receive_message(raw, mailbox_address=mailbox)
    except Exception as exc:  # infrastructure: the message was not recorded, the MTA retries
        click.echo(f"not recorded, try again later: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    ticket = f" ticket {receipt.ticket_id}" if receipt.ticket_id else ""
    click.echo(f"{receipt.outcome.value}{ticket} {receipt.message_id}: {receipt.reason}")
