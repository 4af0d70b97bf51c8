"""Fixtures for the integration tests: tickets made through the services, row counts, a settable
clock and short ways to set up plans and work."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest


@pytest.fixture
def make_ticket(app: Any) -> Any:
    """make_ticket(user, **fields) files a ticket through the service, as the web form does."""
    from tickets.services import Actor, file_ticket

    def _make(user: Any, subject: str = "Printer station offline", **fields: Any) -> Any:
        values = {"description": "It stopped this morning.", "category": "question", "priority": "normal"}
        values.update(fields)
        return file_ticket(Actor(user), subject=subject, **values)

    return _make


@pytest.fixture
def count_rows(app: Any) -> Any:
    """count_rows(Model) -> number of rows in its table."""
    from sqlalchemy import func, select

    from helpdesk.extensions import db

    def _count(model: Any) -> int:
        db.session.rollback()
        return db.session.scalar(select(func.count()).select_from(model)) or 0

    return _count


class Clock:
    """Sets the instant `helpdesk.clock.utcnow()` returns (noon UTC: the same day in Warsaw)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def on(self, day: date, hour: int = 12) -> date:
        import helpdesk.clock

        self.monkeypatch.setattr(helpdesk.clock, "_frozen", datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
        return day


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


class Coverage:
    """Short ways to set up plans, subscriptions and work, all through the real services."""

    def __init__(self, world: Any, clock: Clock) -> None:
        self.world = world
        self.clock = clock

    def plan(self, name: str = "Standard", *, period: str = "month", on: date = date(2026, 1, 1), **terms: Any) -> Any:
        """A plan created (its first terms in force) on `on`."""
        from plans import services

        self.clock.on(on)
        values = {
            "covered_categories": ["question", "configuration_change"],
            "allowance_minutes": "600",
            "allowance_tickets": "",
            "billing_increment": "15",
            "rollover_cap_minutes": "0",
            "overage_policy": "bill",
            "hourly_rate": "180",
            "currency": "PLN",
        }
        values.update({k: ("" if v is None else v if isinstance(v, list) else str(v)) for k, v in terms.items()})
        return services.create_plan(actor_id=self.world.manager.id, name=name, period=period, values=values)

    def subscribe(self, client: Any, plan: Any, starts_on: date, ends_on: date | None = None) -> Any:
        from plans import services

        self.clock.on(starts_on)
        return services.subscribe(
            actor_id=self.world.manager.id, client_id=client.id, plan_id=plan.id, starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat() if ends_on else "",
        )

    def production(self, client: Any, signed_on: date, months: int = 1) -> Any:
        from plans import services

        self.clock.on(signed_on)
        return services.set_package(client.id, signed_on=signed_on.isoformat(), months=str(months))

    def file(self, user: Any, category: str = "question", subject: str = "Help") -> Any:
        from tickets.services import Actor, file_ticket

        return file_ticket(Actor(user), subject=subject, description="Please help.", category=category)

    def log(self, ticket: Any, minutes: int, day: date | None = None, agent: Any = None) -> Any:
        from plans.services import coverage_today
        from tickets.access import get_ticket
        from tickets.coverage import log_time
        from tickets.services import Actor

        agent = agent or self.world.agent
        ticket = get_ticket(agent, ticket.id)
        return log_time(Actor(agent), ticket, minutes=str(minutes), work_date=(day or coverage_today()).isoformat())

    def reclassify(self, ticket: Any, category: str, why: str = "") -> Any:
        from tickets.access import get_ticket
        from tickets.services import Actor, reclassify

        return reclassify(Actor(self.world.agent), get_ticket(self.world.agent, ticket.id), category, why)

    def ledger(self, ticket: Any = None) -> list[Any]:
        from sqlalchemy import select

        from helpdesk.extensions import db
        from plans.models import UsageEntry

        query = select(UsageEntry).order_by(UsageEntry.id)
        if ticket is not None:
            query = query.where(UsageEntry.ticket_id == ticket.id)
        return list(db.session.scalars(query))

    def decisions(self, ticket: Any) -> list[Any]:
        from plans.services import decisions_for_ticket

        return decisions_for_ticket(ticket.id)


@pytest.fixture
def cov(world: Any, clock: Clock) -> Coverage:
    return Coverage(world, clock)
