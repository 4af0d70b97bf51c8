"""Commands for operators: `flask clients ...` and `flask users ...`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from helpdesk.accounts import ROLES, AccountError, create_user
from helpdesk.companies import ClientError, create_client

clients_cli = AppGroup("clients", help="Client companies.")
users_cli = AppGroup("users", help="User accounts.")


@clients_cli.command("create")
@click.option("--slug", required=True, help="Short name used in URLs and the API, e.g. acme.")
@click.option("--name", required=True, help="The company's name.")
def clients_create(slug: str, name: str) -> None:
    """Add a client company (it starts in onboarding)."""
    try:
        client = create_client(slug, name)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created client {client.slug} (id {client.id}).")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--client", "client_slug", help="The client company's slug (client users only).")
@click.option("--client-admin", is_flag=True, help="The client user sees all company tickets.")
@click.option("--name", default="")
def users_create(
    email: str, password: str, role: str, client_slug: str | None, client_admin: bool, name: str
) -> None:
    """Add a user."""
    try:
        user = create_user(
            email=email,
            password=password,
            role=role,
            client_slug=client_slug,
            client_admin=client_admin,
            name=name,
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


def init_cli(app: Flask) -> None:
    app.cli.add_command(clients_cli)
    app.cli.add_command(users_cli)
