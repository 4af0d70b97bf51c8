"""Demo data: a few companies, one user of every role, and as many tickets as asked for.

`flask demo seed` is idempotent: it creates what is missing and tops tickets up to N.
Large N goes through `tickets.demo_bulk`: a year of history shaped like production (coverage
decisions, ledger rows, SLA clocks, replies, events), written in batches of a few thousand rows.
"""

from __future__ import annotations

import os
from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from helpdesk.accounts import User, create_user, user_by_email
from helpdesk.calendars.seed import seed_reference_data
from helpdesk.clock import utcnow
from helpdesk.companies import client_by_slug, create_client
from helpdesk.extensions import db, refresh_statistics
from knowledge.demo import seed_articles
from plans.onboarding.demo import seed_demo_onboarding
from tickets.demo_bulk import seed_history
from tickets.macros import Macro, save_macro
from tickets.models import Ticket
from tickets.services import Actor, add_message, file_ticket

DEMO_PASSWORD = "opiekun-demo"
DEMO_CLIENTS = (
    ("acme", "ACME Logistics", "production"),
    ("globex", "Globex Trading", "onboarding"),
)
DEMO_USERS = (
    # email, role, client, client admin, name
    ("client@acme.example", "client", "acme", False, "Anna Kowalska"),
    ("clientadmin@acme.example", "client", "acme", True, "Piotr Nowak"),
    ("client@globex.example", "client", "globex", False, "Ewa Wiśniewska"),
    ("agent@opiekun.example", "agent", None, False, "Jan Agent"),
    ("manager@opiekun.example", "manager", None, False, "Maria Manager"),
    ("admin@opiekun.example", "admin", None, False, "Adam Admin"),
)
SAMPLE_TICKETS = (
    ("client@acme.example", "How do I map delivery methods?", "Where do I set which courier is used for which delivery method in the shop?", "question", "normal"),
    ("clientadmin@acme.example", "Please add a second Allegro account", "We opened a second marketplace account and want orders from it imported too.", "configuration_change", "high"),
    ("client@acme.example", "Labels print blank", "Since this morning every label from the printing station is blank. **Urgent**: the courier comes at 15:00.", "bug", "urgent"),
    ("client@globex.example", "Which files do you still need?", "We sent the ERP export; is anything else missing before configuration starts?", "question", "normal"),
)


def seed_base() -> dict[str, User]:
    """Companies and one user of each role; returns users by e-mail."""
    for slug, name, phase in DEMO_CLIENTS:
        client = client_by_slug(slug) or create_client(slug, name)
        if phase == "production" and client.phase != "production":
            client.phase = "production"
            client.protocol_signed_on = (utcnow() - timedelta(days=10)).date()
    users = {}
    for email, role, client_slug, client_admin, name in DEMO_USERS:
        users[email] = user_by_email(email) or create_user(
            email=email, password=DEMO_PASSWORD, role=role, client_slug=client_slug,
            client_admin=client_admin, name=name, commit=False,
        )
    db.session.flush()
    globex = client_by_slug("globex")
    if globex.guardian_id is None:
        globex.guardian_id = users["agent@opiekun.example"].id
    db.session.commit()
    return users


def seed_plan(users: dict[str, User]) -> None:
    """A Standard support plan, and ACME subscribed to it from today (its package covers first)."""
    from plans import services as plans

    plan = next((p for p in plans.list_plans() if p.name == "Standard"), None)
    if plan is None:
        plan = plans.create_plan(
            actor_id=users["manager@opiekun.example"].id, name="Standard", period="month",
            values={"covered_categories": ["question", "configuration_change"], "allowance_minutes": "600",
                    "allowance_tickets": "", "billing_increment": "15", "rollover_cap_minutes": "120",
                    "overage_policy": "bill", "hourly_rate": "180", "currency": "PLN"},
        )
    acme = client_by_slug("acme")
    if not plans.client_subscriptions(acme.id):
        plans.subscribe(actor_id=users["manager@opiekun.example"].id, client_id=acme.id, plan_id=plan.id,
                        starts_on=plans.coverage_today(), ends_on=None)


def seed_samples(users: dict[str, User]) -> None:
    """A handful of realistic tickets with a thread, once."""
    if db.session.scalar(select(func.count(Ticket.id))):
        return
    for email, subject, description, category, priority in SAMPLE_TICKETS:
        ticket = file_ticket(Actor(users[email]), subject=subject, description=description,
                             category=category, priority=priority)
        if category == "question" and email.endswith("acme.example"):
            add_message(Actor(users["agent@opiekun.example"]), ticket,
                        body="Settings → Delivery → Mapping. I can show you on a short call.")


demo_cli = AppGroup("demo", help="Demo data.")


DEMO_MACROS = (
    # name, English, Polish, status, assignee
    ("Ask for logs",
     "Hello {client_name},\n\nthank you for {ticket_number}. Could you send us the application log from the time it happened?",
     "Dzień dobry {client_name},\n\ndziękujemy za zgłoszenie {ticket_number}. Prosimy o przesłanie logu aplikacji z chwili wystąpienia problemu.",
     "waiting_on_client", "me"),
    ("Fixed, please check",
     "Hello {client_name},\n\nthe fix for {ticket_number} is live ({coverage}). Please let us know if anything is still wrong.",
     "Dzień dobry {client_name},\n\npoprawka do {ticket_number} jest wdrożona ({coverage}). Prosimy o informację, jeśli coś nadal nie działa.",
     "resolved", ""),
)


def seed_macros(users: dict[str, User]) -> None:
    """Two shared macros (kept by the demo manager), each once."""
    have = set(db.session.scalars(select(Macro.name).where(Macro.owner_id.is_(None))))
    for name, english, polish, status, assignee in DEMO_MACROS:
        if name not in have:
            save_macro(users["manager@opiekun.example"], None, {
                "name": name, "body_en": english, "body_pl": polish, "set_status": status, "set_assignee": assignee,
            }, shared=True)


def _vacuum_tickets() -> None:
    """VACUUM the tickets after a load, as autovacuum would soon after: until then every
    index-only scan of the queue visits the table for each index entry (the visibility map is
    empty), so the unassigned queue at a million tickets read 15,000 heap pages, 10 ms, instead of
    2 ms. VACUUM cannot run inside a transaction, hence a connection of its own."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) tickets")


@demo_cli.command("seed")
@click.option("--tickets", "tickets", type=click.IntRange(0, 10_000_000), default=0,
              help="Make sure at least this many tickets exist (bulk-inserted with a year of history).")
@click.option("--workers", type=click.IntRange(0, 32), default=0,
              help="Processes generating the history (default: one per core, at most 4, from 20,000 tickets).")
def seed(tickets: int, workers: int) -> None:
    """Create demo companies, users of every role and tickets; safe to run again."""
    seed_reference_data(db.session.connection())  # a no-op on a migrated database
    db.session.commit()
    users = seed_base()
    seed_plan(users)
    seed_demo_onboarding(client_by_slug("globex"), users["manager@opiekun.example"])
    seed_samples(users)
    seed_macros(users)
    seed_articles(users["agent@opiekun.example"])
    if not workers:
        workers = min(4, os.cpu_count() or 1) if tickets >= 20_000 else 1
    added = seed_history(tickets, workers=workers) if tickets else 0
    refresh_statistics(db.session.connection())  # the planner should know the new sizes at once
    db.session.commit()
    if added and db.engine.dialect.name == "postgresql":
        _vacuum_tickets()
    click.echo(f"Demo data ready ({added} tickets added).")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, role, client_slug, client_admin, _name in DEMO_USERS:
        what = role + (" admin" if client_admin else "") + (f" of {client_slug}" if client_slug else "")
        click.echo(f"  {what:<22} {email}")
