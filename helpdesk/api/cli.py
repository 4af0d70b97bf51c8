"""`flask tokens create`: a personal API token for a user, printed once."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from helpdesk.accounts import user_by_email
from helpdesk.api.tokens import TokenError, issue_token

tokens_cli = AppGroup("tokens", help="Personal API tokens.")


@tokens_cli.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="CLI token", show_default=True, help="What uses the token.")
def tokens_create(email: str, name: str) -> None:
    """Make a token and print it (stdout: the token alone). It cannot be shown again."""
    user = user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user has the e-mail {email}.")
    try:
        token, secret = issue_token(user, name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Token {token.name!r} for {user.email} ({user.role}); copy it now, it is shown once:", err=True)
    click.echo(secret)
