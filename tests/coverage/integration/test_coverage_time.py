"""Time entries: increments, the allowance split, overage policies, rollover and plan versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.models import CoverageDecision, UsageEntry
from tickets.access import TicketError
from tickets.models import TimeEntry

SIGNED = date(2026, 1, 5)


def plan_client(cov, world, clock, start=date(2026, 10, 1), **terms):
    plan = cov.plan(**terms)
    cov.production(world.acme, SIGNED)
    cov.subscribe(world.acme, plan, start)
    return plan


def rows(cov, ticket=None):
    return [(e.kind, e.charge, e.minutes) for e in cov.ledger(ticket) if e.minutes or e.kind != "consumption"]


@pytest.mark.parametrize(
    ("increment", "minutes", "billed"),
    [(15, 1, 15), (15, 15, 15), (15, 16, 30), (30, 31, 60), (30, 30, 30), (1, 7, 7)],
)
def test_time_is_billed_in_increments_per_entry(cov, world, clock, increment, minutes, billed):
    plan_client(cov, world, clock, billing_increment=increment)
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    cov.log(ticket, minutes)
    assert rows(cov, ticket) == [("consumption", "allowance", billed)]
    record = cov.decisions(ticket)[-1]
    assert record.trigger == "time_entry" and record.time_entry_id is not None
    assert record.charge["billed_minutes"] == billed and record.charge["covered_minutes"] == billed
    entry = db.session.get(TimeEntry, record.time_entry_id)
    assert entry.minutes == minutes and entry.work_date == date(2026, 11, 10)


def test_free_work_is_recorded_exactly_and_consumes_nothing(cov, world, clock):
    plan_client(cov, world, clock, allowance_minutes=60)
    clock.on(date(2026, 11, 10))
    bug = cov.file(world.acme_user, "bug")
    cov.log(bug, 7)
    cov.log(bug, 200)
    assert [(e.source, e.charge, e.minutes) for e in cov.ledger(bug)] == [("bug_fix", "free", 7), ("bug_fix", "free", 200)]
    question = cov.file(world.acme_user, "question")
    cov.log(question, 60)
    assert rows(cov, question) == [("consumption", "allowance", 60)]


def test_an_entry_is_split_at_the_end_of_the_allowance(cov, world, clock):
    plan_client(cov, world, clock, allowance_minutes=60, hourly_rate="180")
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 45)
    cov.log(ticket, 30)
    assert rows(cov, ticket) == [("consumption", "allowance", 45), ("consumption", "allowance", 15),
                                 ("overage", "billable", 15)]
    overage = cov.ledger(ticket)[-1]
    assert overage.amount == Decimal("45.00") and overage.rate == Decimal("180.00") and overage.currency == "PLN"
    assert ticket.coverage_approval is None  # policy "bill": nothing to approve
    cov.log(ticket, 20)  # used up: the decision itself says "billed"
    assert rows(cov, ticket)[-1] == ("overage", "billable", 30)
    assert cov.decisions(ticket)[-1].billable


@pytest.mark.parametrize("policy", ["approval", "reject"])
def test_overage_waits_for_a_manager_under_approval_and_reject(cov, world, clock, policy):
    plan_client(cov, world, clock, allowance_minutes=30, overage_policy=policy, hourly_rate="")
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    assert ticket.coverage_approval is None
    cov.log(ticket, 45)
    assert rows(cov, ticket) == [("consumption", "allowance", 30), ("overage", "pending", 15)]
    db.session.refresh(ticket)
    assert ticket.coverage_approval == "pending"
    assert cov.decisions(ticket)[-1].charge["needs_approval"] == (policy == "approval")


def test_unused_minutes_roll_over_up_to_the_cap(cov, world, clock):
    plan_client(cov, world, clock, allowance_minutes=60, rollover_cap_minutes=30)
    clock.on(date(2026, 10, 20))
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 15)  # October: 45 unused, 30 roll over
    clock.on(date(2026, 11, 3))
    cov.log(ticket, 90)
    cov.log(ticket, 15)
    november = [(e.charge, e.minutes, e.tickets) for e in cov.ledger(ticket) if e.period_label == "2026-11"]
    assert november == [("allowance", 90, 1), ("billable", 15, 0)]
    record = cov.decisions(ticket)[-2]
    assert record.inputs["usage"] == {"minutes_used": 0, "tickets_used": 0, "rollover_minutes": 30}
    clock.on(date(2026, 12, 1))  # November's rolled-in minutes do not roll again; all 60 of its own were used
    cov.log(ticket, 60)
    cov.log(ticket, 15)
    december = [(e.charge, e.minutes) for e in cov.ledger(ticket) if e.period_label == "2026-12"]
    assert december == [("allowance", 60), ("billable", 15)]


def test_time_in_a_later_period_counts_the_ticket_again(cov, world, clock):
    plan_client(cov, world, clock, allowance_tickets=2)
    clock.on(date(2026, 10, 30))
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 15)
    clock.on(date(2026, 11, 2))
    cov.log(ticket, 15)
    cov.log(ticket, 15)
    counted = db.session.execute(
        select(UsageEntry.period_label, func.sum(UsageEntry.tickets)).where(UsageEntry.ticket_id == ticket.id)
        .group_by(UsageEntry.period_label).order_by(UsageEntry.period_label)
    ).all()
    assert counted == [("2026-10", 1), ("2026-11", 1)]


def test_a_plan_change_never_rewrites_a_period_already_begun(cov, world, clock):
    from plans import services

    plan = plan_client(cov, world, clock, allowance_minutes=60)
    clock.on(date(2026, 10, 10))
    ticket = cov.file(world.acme_user)
    cov.log(ticket, 30)
    before = [r.to_dict() for r in cov.decisions(ticket)]
    clock.on(date(2026, 10, 20))
    with pytest.raises(services.CoverageError) as refused:
        services.change_plan_terms(plan.id, actor_id=world.manager.id, effective_from="2026-10-01",
                                   values=_terms(allowance_minutes="120"))
    assert "past periods are never rewritten" in refused.value.fields["effective_from"]
    db.session.rollback()
    services.change_plan_terms(plan.id, actor_id=world.manager.id, effective_from="2026-10-20",
                               values=_terms(allowance_minutes="120"))
    cov.log(ticket, 45)  # October keeps 60 minutes: 30 left, 15 beyond
    assert rows(cov, ticket)[-2:] == [("consumption", "allowance", 30), ("overage", "billable", 15)]
    assert [r.to_dict() for r in cov.decisions(ticket)][: len(before)] == before
    clock.on(date(2026, 11, 5))
    cov.log(ticket, 120)
    assert rows(cov, ticket)[-1] == ("consumption", "allowance", 120)
    assert cov.decisions(ticket)[-1].inputs["subscription"]["plan"]["allowance_minutes"] == 120


def _terms(**changes):
    values = {"covered_categories": ["question", "configuration_change"], "allowance_minutes": "600",
              "allowance_tickets": "", "billing_increment": "15", "rollover_cap_minutes": "0",
              "overage_policy": "bill", "hourly_rate": "180", "currency": "PLN"}
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("minutes", "day", "field"),
    [("0", "2026-11-10", "minutes"), ("-30", "2026-11-10", "minutes"), ("1441", "2026-11-10", "minutes"),
     ("99999999999", "2026-11-10", "minutes"), ("abc", "2026-11-10", "minutes"), ("", "2026-11-10", "minutes"),
     ("30", "2026-11-11", "work_date"), ("30", "2026-09-01", "work_date"), ("30", "10/11/2026", "work_date")],
)
def test_bad_time_entries_are_refused_and_nothing_is_stored(cov, world, clock, minutes, day, field):
    from tickets.coverage import log_time
    from tickets.services import Actor

    plan_client(cov, world, clock)
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    decisions = db.session.scalar(select(func.count(CoverageDecision.id)))
    with pytest.raises(TicketError) as refused:
        log_time(Actor(world.agent), ticket, minutes=minutes, work_date=day)
    assert field in refused.value.fields and refused.value.status == 422
    db.session.rollback()
    assert db.session.scalar(select(func.count(TimeEntry.id))) == 0
    assert db.session.scalar(select(func.count(CoverageDecision.id))) == decisions


def test_agent_logs_time_on_the_ticket_page(cov, world, clock, web, login):
    plan_client(cov, world, clock, allowance_minutes=60)
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/time", data={"minutes": "20", "work_date": "2026-11-10",
                                                                  "note": "Showed the mapping screen"})
    assert response.status_code == 302
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert "Showed the mapping screen" in page and "From the allowance: 30 min" in page
    assert "Time logged" in page  # the decision history names the trigger
    bad = web.post(f"/agent/tickets/{ticket.id}/time", data={"minutes": "-5", "work_date": "2026-11-10"})
    assert bad.status_code == 422 and "from 1 to 1440" in bad.get_data(as_text=True)
    login(world.acme_user)
    assert web.post(f"/agent/tickets/{ticket.id}/time", data={"minutes": "5", "work_date": "2026-11-10"}).status_code == 403
    assert db.session.scalar(select(func.count(TimeEntry.id))) == 1
