"""`flask demo seed --tickets N` writes a history shaped like production's, consistent the way the
services keep it: every ticket decided, with the inputs that reproduce its decision; ledger rows
that account for every charge and for the allowance each later decision saw; two SLA clocks per
ticket that agree with the ticket's columns; the ticket counts equal to a recount; and every
manager and agent page renders on it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

N = 300


@pytest.fixture
def seeded(app):
    # two generating processes, as a big seed has them (each owns a share of the clients)
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(N), "--workers", "2"])
    assert result.exit_code == 0, result.output
    return app


def _terms(data):
    from plans.coverage import PlanTerms, SubscriptionTerms

    if data is None:
        return None
    plan = data["plan"]
    return SubscriptionTerms(
        data["id"], date.fromisoformat(data["starts_on"]),
        None if data["ends_on"] is None else date.fromisoformat(data["ends_on"]),
        PlanTerms(name=plan["name"], covered_categories=frozenset(plan["covered_categories"]),
                  allowance_minutes=plan["allowance_minutes"], allowance_tickets=plan["allowance_tickets"],
                  period=plan["period"], billing_increment=plan["billing_increment"],
                  rollover_cap_minutes=plan["rollover_cap_minutes"], overage_policy=plan["overage_policy"],
                  hourly_rate=None if plan["hourly_rate"] is None else Decimal(plan["hourly_rate"]),
                  currency=plan["currency"]),
    )


def test_every_ticket_is_decided_from_inputs_that_reproduce_its_decision(seeded):
    from helpdesk.extensions import db
    from plans.coverage import ClientState, Usage, decide
    from plans.models import CoverageDecision
    from tickets.models import Ticket

    tickets = {t.id: t for t in db.session.scalars(select(Ticket))}
    assert len(tickets) >= N
    decisions = db.session.scalars(select(CoverageDecision).order_by(CoverageDecision.id)).all()
    latest = {d.ticket_id: d for d in decisions}
    filed = {d.ticket_id for d in decisions if d.trigger == "filed"}
    assert filed == set(tickets), "every ticket has its decision from when it was filed"
    for ticket in tickets.values():
        d = latest[ticket.id]
        assert (ticket.coverage_source, ticket.coverage_covered, ticket.coverage_approval) == (
            d.source, d.covered, d.approval)
    sources = {d.source for d in decisions}
    assert {"bug_fix", "support_plan"} <= sources, sources
    for d in decisions:
        i = d.inputs
        client = {**i["client"], "protocol_signed_on": i["client"]["protocol_signed_on"]
                  and date.fromisoformat(i["client"]["protocol_signed_on"])}
        again = decide(category=i["category"], client=ClientState(**client), subscription=_terms(i["subscription"]),
                       usage=Usage(**i["usage"]), today=date.fromisoformat(i["today"]))
        assert again.to_dict() == d.decision, d.id
        assert (d.source, d.covered, d.category) == (again.source, again.covered, i["category"])


def test_the_ledger_accounts_for_every_charge_and_for_the_allowance_each_decision_saw(seeded):
    from helpdesk.extensions import db
    from plans.models import CoverageDecision, UsageEntry
    from tickets.models import TimeEntry

    decisions = db.session.scalars(select(CoverageDecision).order_by(CoverageDecision.id)).all()
    rows = db.session.scalars(select(UsageEntry).order_by(UsageEntry.id)).all()
    assert {"allowance", "free"} <= {r.charge for r in rows}
    by_decision = defaultdict(list)
    for r in rows:
        by_decision[r.decision_id].append(r)
    entries = {e.id: e for e in db.session.scalars(select(TimeEntry))}
    assert entries, "some tickets have time logged"
    used = defaultdict(int)  # (subscription, period start) -> allowance minutes so far
    for d in decisions:
        mine = by_decision[d.id]
        assert all((r.ticket_id, r.client_id) == (d.ticket_id, d.client_id) for r in mine)
        if d.source == "support_plan" and d.subscription_id is not None:
            # the usage stored with the decision is the sum of the ledger rows before it
            assert d.inputs["usage"]["minutes_used"] == max(0, used[d.subscription_id, d.period_start]), d.id
        if d.trigger == "time_entry":
            entry = entries[d.time_entry_id]
            assert sum(r.minutes for r in mine) == d.charge["billed_minutes"] >= entry.minutes
            assert d.charge["covered_minutes"] + d.charge["overage_minutes"] == d.charge["billed_minutes"]
            for r in mine:
                if r.charge == "billable":
                    assert r.amount == (Decimal(r.minutes) * r.rate / 60).quantize(Decimal("0.01"))
        for r in mine:
            if r.charge == "allowance":
                used[r.subscription_id, r.period_start] += r.minutes


def test_every_ticket_has_two_clocks_that_agree_with_its_columns(seeded):
    from helpdesk.extensions import db
    from tickets.models import SlaClock, SlaEvent, Ticket

    tickets = {t.id: t for t in db.session.scalars(select(Ticket))}
    clocks = defaultdict(dict)
    for c in db.session.scalars(select(SlaClock)):
        clocks[c.ticket_id][c.kind] = c
    facts = {(e.ticket_id, e.clock, e.kind) for e in db.session.scalars(select(SlaEvent))}
    states = defaultdict(int)
    for ticket in tickets.values():
        if ticket.sla_policy_id is None:
            continue
        pair = clocks[ticket.id]
        assert set(pair) == {"first_response", "resolution"}, ticket.id
        assert pair["first_response"].due_at == ticket.first_response_due_at
        assert pair["resolution"].due_at == ticket.resolution_due_at
        for kind, clock in pair.items():
            if clock.state == "stopped":
                assert clock.outcome == ("met" if clock.due_at is None or clock.stopped_at <= clock.due_at
                                         else "breached")
            if clock.outcome == "breached":
                assert (ticket.id, kind, "breach") in facts
        if ticket.status in ("resolved", "closed"):
            assert pair["resolution"].state == "stopped" and ticket.sla_state == "stopped"
        states[ticket.sla_state] += 1
    assert states["stopped"] > N / 2, states  # most tickets are resolved...
    assert states["breached"] and states["paused"], states  # ...some breached, some waiting on the client


def test_the_ticket_counts_equal_a_recount_and_a_second_seed_tops_up(seeded):
    from helpdesk.extensions import db
    from tests.tickets.integration.test_ticket_counts import assert_summary_equals_recount
    from tickets.models import Message, Ticket, TicketEvent

    assert_summary_equals_recount()
    assert db.session.scalar(select(db.func.count(Message.id))) > N / 2
    kinds = set(db.session.scalars(select(TicketEvent.kind).distinct()))
    assert {"created", "replied", "status_changed", "time_logged", "sla_breached"} <= kinds
    again = seeded.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(N + 40)])
    assert again.exit_code == 0, again.output
    assert db.session.scalar(select(db.func.count(Ticket.id))) == N + 40
    assert_summary_equals_recount()
    # new ids keep counting after the explicit ones (PostgreSQL sequences moved past them)
    highest = db.session.scalar(text("SELECT max(id) FROM tickets"))
    assert highest >= N + 40


@pytest.mark.parametrize("email,paths", [
    ("agent@opiekun.example", ["/agent/queue", "/agent/queue?sort=due", "/agent/queue?status=all",
                               "/agent/queue?breached=1", "/agent/queue?breaching_within=24&sort=due",
                               "/agent/queue?category=bug&priority=high", "/agent/queue?client=demo-01",
                               "/agent/queue?assignee=none", "/agent/tickets/{ticket_id}"]),
    ("manager@opiekun.example", ["/manager/", "/manager/sla/", "/manager/sla/?by=client", "/manager/sla/?by=plan",
                                 "/manager/usage", "/manager/approvals"]),
])
def test_the_pages_render_on_seeded_data(seeded, web, email, paths):
    from helpdesk.extensions import db
    from tickets.demo import DEMO_PASSWORD
    from tickets.models import Ticket

    ticket_id = db.session.scalar(select(Ticket.id).where(Ticket.description == "Generated demo ticket.")
                                  .order_by(Ticket.id.desc()).limit(1).offset(N // 2))
    assert web.post("/login", data={"email": email, "password": DEMO_PASSWORD}).status_code == 302
    for path in paths:
        response = web.get(path.format(ticket_id=ticket_id))
        assert response.status_code == 200, (path, response.data[:300])
