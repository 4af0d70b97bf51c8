"""Reclassification re-decides coverage with a new record that says why; a question that turns
out to be a bug gets its minutes back as negative ledger rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.models import UsageEntry
from tickets.models import TicketEvent


def setup_plan(cov, world, clock, **terms):
    plan = cov.plan(**terms)
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    return plan


def allowance_used(period_label="2026-11"):
    return db.session.scalar(
        select(func.coalesce(func.sum(UsageEntry.minutes), 0))
        .where(UsageEntry.charge == "allowance", UsageEntry.period_label == period_label)
    )


def test_question_reclassified_as_bug_gets_its_minutes_back(cov, world, clock):
    setup_plan(cov, world, clock, allowance_minutes=60, hourly_rate="180")
    ticket = cov.file(world.acme_user, "question")
    cov.log(ticket, 45)
    cov.log(ticket, 30)  # 15 from the allowance, 15 billed as overage
    assert allowance_used() == 60
    kept = [r.to_dict() for r in cov.decisions(ticket)]
    kept_rows = [(e.id, e.kind, e.charge, e.minutes, e.tickets, e.amount) for e in cov.ledger(ticket)]

    cov.reclassify(ticket, "bug", "The label module crashes: a bug, not a question")

    records = cov.decisions(ticket)
    assert [r.to_dict() for r in records[:-1]] == kept  # the old records stay as they were
    last = records[-1]
    assert (last.trigger, last.source, last.covered, last.category) == ("reclassified", "bug_fix", True, "bug")
    assert last.why == "The label module crashes: a bug, not a question"
    assert last.actor_id == world.agent.id
    rows = cov.ledger(ticket)
    assert [(e.id, e.kind, e.charge, e.minutes, e.tickets, e.amount) for e in rows[: len(kept_rows)]] == kept_rows
    new = [(e.kind, e.charge, e.source, e.minutes, e.tickets, e.amount, e.decision_id) for e in rows[len(kept_rows):]]
    assert new == [
        ("refund", "allowance", "support_plan", -60, -1, Decimal("0.00"), last.id),
        ("refund", "billable", "support_plan", -15, 0, Decimal("-45.00"), last.id),
        ("consumption", "free", "bug_fix", 75, 0, Decimal("0.00"), last.id),
    ]
    assert allowance_used() == 0
    assert sum(e.amount for e in rows) == 0
    event = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "category_changed")).one()
    assert event.data == {"from": "question", "to": "bug", "reason": "The label module crashes: a bug, not a question"}
    other = cov.file(world.acme_colleague, "question")
    cov.log(other, 60)
    assert [(e.charge, e.minutes) for e in cov.ledger(other) if e.minutes] == [("allowance", 60)]


def test_refunds_are_sums_so_reclassifying_back_and_forth_refunds_once(cov, world, clock):
    setup_plan(cov, world, clock)
    ticket = cov.file(world.acme_user, "question")
    cov.log(ticket, 30)
    cov.reclassify(ticket, "bug", "bug")
    cov.reclassify(ticket, "question", "it was a question after all")
    cov.log(ticket, 15)
    cov.reclassify(ticket, "bug", "no, a bug")
    assert allowance_used() == 0
    free = db.session.scalar(select(func.sum(UsageEntry.minutes)).where(UsageEntry.charge == "free"))
    assert free == 45
    assert [r.trigger for r in cov.decisions(ticket)] == [
        "filed", "time_entry", "reclassified", "reclassified", "time_entry", "reclassified"
    ]


def test_reclassifying_into_a_paid_category_only_changes_what_comes_next(cov, world, clock):
    setup_plan(cov, world, clock, covered_categories=["question"])
    ticket = cov.file(world.acme_user, "bug")
    cov.log(ticket, 30)
    cov.reclassify(ticket, "configuration_change", "a setup change")
    db.session.refresh(ticket)
    assert (ticket.coverage_source, ticket.coverage_approval) == ("none", "pending")
    assert [(e.charge, e.minutes) for e in cov.ledger(ticket)] == [("free", 30)]
    cov.reclassify(ticket, "question", "")
    db.session.refresh(ticket)
    assert (ticket.coverage_source, ticket.coverage_covered, ticket.coverage_approval) == ("support_plan", True, None)


def test_pending_overage_is_refunded_and_the_ticket_leaves_the_queue(cov, world, clock):
    from tickets.coverage import approval_queue

    setup_plan(cov, world, clock, allowance_minutes=30, overage_policy="approval", hourly_rate="")
    ticket = cov.file(world.acme_user, "question")
    cov.log(ticket, 60)
    assert [t.id for t in approval_queue()[0]] == [ticket.id]
    cov.reclassify(ticket, "bug", "bug")
    db.session.refresh(ticket)
    assert ticket.coverage_approval is None and approval_queue()[0] == []
    pending = db.session.scalar(select(func.sum(UsageEntry.minutes)).where(UsageEntry.charge == "pending"))
    assert pending == 0


def test_agent_reclassifies_on_the_ticket_page(cov, world, clock, web, login):
    setup_plan(cov, world, clock)
    ticket = cov.file(world.acme_user, "question")
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/category", data={"category": "bug", "reason": "Crash"})
    assert response.status_code == 302
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert "Category changed" in page and "Crash" in page and "Bug fixes are always free" in page
