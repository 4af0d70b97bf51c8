"""A bulk reclassification decides each ticket's coverage exactly as the same reclassifications
made one ticket at a time, although it reads the clients' subscriptions, usage and the tickets'
ledger once for all of them (plans.services.batch) and keeps the usage in memory: the same
decisions (with the usage they were decided on), the same ledger rows, the same ticket copies.
A ticket refused in the bulk (a closed one cannot wait on the client) is rolled back alone, and
its usage with it: the next tickets of its client are decided as if it had not been tried."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from plans.coverage import CATEGORIES

_counter = itertools.count()

ticket_plan = st.tuples(
    st.integers(0, 1),  # which of the side's two clients
    st.sampled_from(CATEGORIES),  # filed as
    st.sampled_from([0, 0, 20, 45]),  # minutes logged in October (the previous period)
    st.sampled_from([0, 15, 30, 90]),  # minutes logged in November
    st.booleans(),  # closed before the bulk (refused when the bulk also asks for a status)
)


def _side(cov: Any, clock: Any, plan: Any, tickets: list[tuple[int, str, int, int, bool]]) -> list[int]:
    """Two fresh clients subscribed to the plan, and the tickets filed and worked on for them."""
    from helpdesk.accounts import create_user
    from helpdesk.companies import create_client
    from helpdesk.extensions import db
    from tickets.services import Actor, change_status

    users = []
    for _ in range(2):
        n = next(_counter)
        client = create_client(f"bulk-{n}", f"Bulk {n}")
        users.append(create_user(email=f"u{n}@bulk{n}.example", password="correct horse battery", role="client",
                                 client_slug=client.slug))
        cov.production(client, date(2026, 1, 5))
        cov.subscribe(client, plan, date(2026, 9, 1))
    db.session.commit()
    ids = []
    for which, category, october, november, closed in tickets:
        clock.on(date(2026, 10, 15))
        ticket = cov.file(users[which], category)
        if october:
            cov.log(ticket, october)
        clock.on(date(2026, 11, 10))
        if november:
            cov.log(ticket, november)
        if closed:
            change_status(Actor(cov.world.agent), ticket, "closed")
        ids.append(ticket.id)
    return ids


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "subscription_id")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _state(ticket_ids: list[int], after: int) -> list[Any]:
    """Per ticket: its decisions since ``after`` and their ledger rows, and its own copy."""
    from helpdesk.extensions import db
    from plans.models import CoverageDecision, UsageEntry
    from tickets.models import Ticket

    db.session.expire_all()
    found = []
    for ticket_id in ticket_ids:
        ticket = db.session.get(Ticket, ticket_id)
        decisions = list(db.session.scalars(select(CoverageDecision).where(
            CoverageDecision.ticket_id == ticket_id, CoverageDecision.id > after).order_by(CoverageDecision.id)))
        rows = list(db.session.scalars(select(UsageEntry).where(
            UsageEntry.decision_id.in_([d.id for d in decisions])).order_by(UsageEntry.id)))
        found.append((
            (ticket.category, ticket.status, ticket.coverage_source, ticket.coverage_covered, ticket.coverage_approval),
            [(d.trigger, d.category, d.source, d.covered, d.needs_approval, d.billable, d.approval, d.why,
              d.reason_msgid, d.reason_params, d.period_label, _without_ids(d.inputs), _without_ids(d.decision))
             for d in decisions],
            sorted((e.kind, e.charge, e.source, e.period_label, e.minutes, e.tickets, str(e.amount), e.currency)
                   for e in rows),
        ))
    return found


# Each example builds two clients' histories and reclassifies their tickets twice (about half a
# second): the thorough profile's 300 examples made it the suite's longest test by minutes, so
# it draws at most 60 (a quick run 25); each run draws new ones.
@settings(max_examples=min(60, settings().max_examples),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    tickets=st.lists(ticket_plan, min_size=1, max_size=6),
    category=st.sampled_from(CATEGORIES),
    with_status=st.booleans(),
    allowance_minutes=st.sampled_from([30, 60, 120]),
    allowance_tickets=st.sampled_from(["", "1", "2"]),
    rollover_cap=st.sampled_from([0, 30]),  # not above the smallest allowance
    overage=st.sampled_from(["bill", "approval"]),
)
def test_a_bulk_reclassification_decides_as_one_by_one(
        world, cov, clock, tickets, category, with_status, allowance_minutes, allowance_tickets, rollover_cap,
        overage):
    from helpdesk.errors import ServiceError
    from helpdesk.extensions import db
    from plans.models import CoverageDecision
    from tickets.access import get_ticket
    from tickets.bulk import bulk_update
    from tickets.services import UNSET, Actor, change_status, reclassify

    plan = cov.plan(f"Plan {next(_counter)}", allowance_minutes=allowance_minutes, allowance_tickets=allowance_tickets,
                    rollover_cap_minutes=rollover_cap, overage_policy=overage,
                    hourly_rate="180" if overage == "bill" else "")
    in_bulk = _side(cov, clock, plan, tickets)
    one_by_one = _side(cov, clock, plan, tickets)
    after = db.session.scalar(select(db.func.max(CoverageDecision.id)))
    actor = Actor(world.agent)
    status = "waiting_on_client" if with_status else UNSET

    summary = bulk_update(actor, in_bulk, category=category, reason="Sorted out", status=status)

    for ticket_id in one_by_one:
        ticket = get_ticket(world.agent, ticket_id)
        if ticket.category == category and (status is UNSET or ticket.status == status):
            continue
        try:
            reclassify(actor, ticket, category, "Sorted out", commit=False)
            if status is not UNSET:
                change_status(actor, ticket, status, commit=False)
            db.session.commit()
        except ServiceError:
            db.session.rollback()
    assert _state(in_bulk, after) == _state(one_by_one, after)
    assert summary.failed == sum(1 for *_rest, closed in tickets if closed and with_status)
