"""The manager's approval queue: uncovered work and used-up allowances wait for a decision."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.models import CoverageDecision, UsageEntry
from tickets.models import Message, Ticket


def approval_plan(cov, world, clock, **terms):
    values = {"allowance_minutes": 30, "overage_policy": "approval", "hourly_rate": "200", **terms}
    plan = cov.plan(**values)
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    return plan


def charges(cov, ticket):
    totals: dict[str, int] = {}
    for e in cov.ledger(ticket):
        totals[e.charge] = totals.get(e.charge, 0) + e.minutes
    return {k: v for k, v in totals.items() if v}


def test_queue_lists_uncovered_and_used_up_tickets_only(cov, world, clock, web, login):
    approval_plan(cov, world, clock, covered_categories=["question"])
    covered = cov.file(world.acme_user, "question", "Covered question")
    cov.log(covered, 60)  # 30 over the allowance: waits for approval
    uncovered = cov.file(world.acme_user, "configuration_change", "Not in the plan")
    cov.file(world.acme_user, "bug", "A bug")
    cov.production(world.globex, date(2026, 1, 5))
    clock.on(date(2026, 11, 10))
    no_plan = cov.file(world.globex_user, "question", "Globex without a plan")
    login(world.manager)
    page = web.get("/manager/approvals").get_data(as_text=True)
    assert "Covered question" in page and "Not in the plan" in page and "Globex without a plan" in page
    assert "A bug" not in page
    assert "Allowance used up" in page
    assert {covered.id, uncovered.id, no_plan.id} == set(
        db.session.scalars(select(Ticket.id).where(Ticket.coverage_approval == "pending"))
    )


def test_approve_billable_moves_pending_minutes_and_tells_the_client(cov, world, clock, web, login):
    approval_plan(cov, world, clock)
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 60)
    assert charges(cov, ticket) == {"allowance": 30, "pending": 30}
    login(world.manager)
    response = web.post(f"/manager/approvals/{ticket.id}", data={
        "outcome": "billable", "message": "We will do it; extra time is billed at 200 PLN/h.", "rate": "", "currency": "PLN",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    assert charges(cov, ticket) == {"allowance": 30, "billable": 30}
    pair = [(e.kind, e.charge, e.minutes, e.amount) for e in cov.ledger(ticket) if e.kind == "approval"]
    assert pair == [("approval", "pending", -30, Decimal("0.00")), ("approval", "billable", 30, Decimal("100.00"))]
    record = cov.decisions(ticket)[-1]
    assert (record.trigger, record.approval, record.approval_rate, record.actor_id) == (
        "approval", "billable", Decimal("200.00"), world.manager.id)
    assert record.why == "We will do it; extra time is billed at 200 PLN/h."
    assert record.source == "support_plan" and record.reason_msgid == cov.decisions(ticket)[-2].reason_msgid
    db.session.refresh(ticket)
    assert ticket.coverage_approval == "billable" and ticket.status == "open"
    login(world.acme_user)
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "extra time is billed at 200 PLN/h" in page and "Approved as billable work" in page
    clock.on(date(2026, 11, 12))
    cov.log(ticket, 15)  # later work on the approved ticket is billed at once
    last = cov.ledger(ticket)[-1]
    assert (last.kind, last.charge, last.minutes, last.amount) == ("overage", "billable", 15, Decimal("50.00"))
    db.session.refresh(ticket)
    assert ticket.coverage_approval == "billable"


def test_goodwill_and_decline(cov, world, clock):
    from tickets.coverage import settle
    from tickets.services import Actor

    approval_plan(cov, world, clock)
    kind = cov.file(world.acme_user, "question", "Goodwill")
    no = cov.file(world.acme_colleague, "question", "Declined")
    cov.log(kind, 45)
    cov.log(no, 30)
    settle(Actor(world.manager), kind, outcome="goodwill", message="On us this time.")
    settle(Actor(world.manager), no, outcome="declined", message="This is beyond your plan; we can quote it.")
    assert charges(cov, kind) == {"allowance": 30, "goodwill": 15}
    assert charges(cov, no) == {"unbilled": 30}
    assert sum(e.amount for e in cov.ledger()) == 0
    cov.log(no, 15)
    assert cov.ledger(no)[-1].charge == "unbilled"
    db.session.expire_all()
    declined = db.session.get(Ticket, no.id)
    assert declined.coverage_approval == "declined" and declined.subject == "Declined"  # the report is kept
    reply = db.session.scalars(select(Message).where(Message.ticket_id == no.id)).one()
    assert reply.body == "This is beyond your plan; we can quote it." and not reply.internal


def test_uncovered_ticket_without_a_plan_needs_a_rate_to_bill(cov, world, clock, web, login):
    cov.production(world.acme, date(2026, 1, 5))
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user, "question")
    cov.log(ticket, 40)
    assert charges(cov, ticket) == {"pending": 40}
    login(world.manager)
    refused = web.post(f"/manager/approvals/{ticket.id}", data={"outcome": "billable", "message": "Billed.", "rate": ""})
    assert refused.status_code == 422 and "Enter the hourly rate" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(CoverageDecision.id)).where(CoverageDecision.trigger == "approval")) == 0
    assert db.session.scalar(select(func.count(Message.id))) == 0
    ok = web.post(f"/manager/approvals/{ticket.id}", data={"outcome": "billable", "message": "Billed.",
                                                           "rate": "150", "currency": "eur"})
    assert ok.status_code == 302
    billed = [e for e in cov.ledger(ticket) if e.charge == "billable"]
    assert [(e.minutes, e.amount, e.currency) for e in billed] == [(40, Decimal("100.00"), "EUR")]


def test_bad_settlements_are_refused_and_store_nothing(cov, world, clock, web, login):
    approval_plan(cov, world, clock)
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 60)
    covered = cov.file(world.acme_colleague, "bug")
    login(world.manager)
    no_message = web.post(f"/manager/approvals/{ticket.id}", data={"outcome": "goodwill", "message": "  "})
    assert no_message.status_code == 422 and "Write a message to the client" in no_message.get_data(as_text=True)
    bad_outcome = web.post(f"/manager/approvals/{ticket.id}", data={"outcome": "maybe", "message": "Hm."})
    assert bad_outcome.status_code == 422
    bad_rate = web.post(f"/manager/approvals/{ticket.id}", data={"outcome": "billable", "message": "x", "rate": "-5"})
    assert bad_rate.status_code == 422
    not_waiting = web.post(f"/manager/approvals/{covered.id}", data={"outcome": "goodwill", "message": "Hm."})
    assert not_waiting.status_code == 409
    assert db.session.scalar(select(func.count(UsageEntry.id)).where(UsageEntry.kind == "approval")) == 0
    assert db.session.scalar(select(func.count(Message.id))) == 0
    login(world.agent)
    assert web.post(f"/manager/approvals/{ticket.id}", data={"outcome": "goodwill", "message": "x"}).status_code == 403
    assert web.get("/manager/approvals").status_code == 403


def test_uncovered_work_always_leaves_the_ticket_with_an_approval_state():
    """Every decision that leaves work uncovered (filed, reclassified, a time entry beyond coverage)
    leaves the ticket pending or with a manager's settlement, never without an approval state; a
    settlement records its outcome. So the client's coverage card has no case for uncovered work
    nobody is to approve (templates/_coverage.html: it once offered to 'ask for paid handling')."""
    from plans.models import APPROVALS, TRIGGERS
    from plans.services.approvals import next_approval

    states = {
        (previous, trigger, pending): next_approval(previous, uncovered=True, trigger=trigger, pending_minutes=pending)
        for previous in (None, *APPROVALS) for trigger in TRIGGERS for pending in (0, 15)
    }
    assert None not in states.values(), [case for case, state in states.items() if state is None]
    # The control: covered work with nothing pending is left without one.
    assert next_approval(None, uncovered=False, trigger="filed", pending_minutes=0) is None
