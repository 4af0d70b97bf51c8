"""Filing a ticket stores the right immutable coverage decision in every phase and plan state."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, func, select

from helpdesk.extensions import db
from plans.models import CoverageDecision, UsageEntry

SIGNED = date(2026, 1, 5)  # package: 5 January - 4 February 2026
PLAN_START = date(2026, 10, 1)
TODAY = date(2026, 11, 10)


def in_production_with_plan(cov, world, clock, **terms):
    plan = cov.plan(**terms)
    cov.production(world.acme, SIGNED)
    cov.subscribe(world.acme, plan, PLAN_START)
    clock.on(TODAY)
    return plan


def use_up(cov, world, minutes=60):
    """Another ticket of the same client takes `minutes` from the allowance."""
    other = cov.file(world.acme_colleague, "question", "Earlier question")
    cov.log(other, minutes)
    return other


@pytest.mark.parametrize("category", ["question", "configuration_change"])
def test_onboarding_covers_questions_and_configuration(cov, world, clock, category):
    clock.on(TODAY)
    ticket = cov.file(world.acme_user, category)
    (record,) = cov.decisions(ticket)
    assert (record.trigger, record.source, record.covered, record.approval) == ("filed", "onboarding", True, None)
    assert record.reason_msgid == "Covered as onboarding work until your acceptance protocol is signed"
    assert record.inputs["client"] == {"phase": "onboarding", "protocol_signed_on": None, "package_months": 1}
    assert record.inputs["category"] == category and record.inputs["today"] == "2026-11-10"
    assert record.decision["source"] == "onboarding"
    assert record.period_label == "2026-11" and record.subscription_id is None
    assert (ticket.coverage_source, ticket.coverage_covered, ticket.coverage_approval) == ("onboarding", True, None)
    assert cov.ledger() == []


@pytest.mark.parametrize("phase", ["onboarding", "package", "plan_used_up", "no_plan"])
def test_bugs_are_always_free(cov, world, clock, phase):
    if phase == "package":
        cov.production(world.acme, date(2026, 11, 1))
    elif phase == "plan_used_up":
        in_production_with_plan(cov, world, clock, allowance_minutes=60, overage_policy="reject", hourly_rate="")
        use_up(cov, world)
    elif phase == "no_plan":
        cov.production(world.acme, SIGNED)
    clock.on(TODAY)
    ticket = cov.file(world.acme_user, "bug")
    record = cov.decisions(ticket)[-1]
    assert (record.source, record.covered, record.approval) == ("bug_fix", True, None)
    assert record.reason_msgid == "Bug fixes are always free"
    assert not [e for e in cov.ledger(ticket) if e.charge != "free"]


def test_post_onboarding_package_runs_one_month_from_signing(cov, world, clock):
    cov.production(world.acme, date(2026, 1, 31))
    clock.on(date(2026, 2, 28))
    inside = cov.file(world.acme_user, "configuration_change")
    record = cov.decisions(inside)[0]
    assert record.source == "post_onboarding_package" and record.covered
    assert record.reason_params == {"until": "2026-02-28"}
    clock.on(date(2026, 3, 1))
    after = cov.file(world.acme_user, "question")
    assert cov.decisions(after)[0].source == "none"


def test_package_length_is_per_client(cov, world, clock):
    cov.production(world.acme, date(2026, 9, 15), months=3)
    clock.on(date(2026, 12, 14))
    assert cov.file(world.acme_user).coverage_source == "post_onboarding_package"
    clock.on(date(2026, 12, 15))
    assert cov.file(world.acme_user).coverage_source == "none"


def test_plan_within_allowance_counts_the_ticket(cov, world, clock):
    in_production_with_plan(cov, world, clock, allowance_tickets=5)
    ticket = cov.file(world.acme_user, "question")
    record = cov.decisions(ticket)[0]
    assert (record.source, record.covered, record.billable, record.approval) == ("support_plan", True, False, None)
    assert record.reason_params == {"plan": "Standard", "period": "2026-11"}
    assert record.inputs["subscription"]["plan"]["allowance_minutes"] == 600
    assert record.decision["remaining_tickets"] == 4
    (row,) = cov.ledger(ticket)
    assert (row.kind, row.charge, row.minutes, row.tickets, row.period_label) == ("consumption", "allowance", 0, 1, "2026-11")
    assert row.decision_id == record.id and row.subscription_id == record.subscription_id


@pytest.mark.parametrize(
    ("policy", "covered", "billable", "approval"),
    [("bill", True, True, None), ("approval", False, False, "pending"), ("reject", False, False, "pending")],
)
def test_used_up_allowance_follows_the_overage_policy(cov, world, clock, policy, covered, billable, approval):
    rate = "" if policy == "reject" else "200"
    in_production_with_plan(cov, world, clock, allowance_minutes=60, overage_policy=policy, hourly_rate=rate)
    use_up(cov, world)
    ticket = cov.file(world.acme_user, "question")
    record = cov.decisions(ticket)[0]
    assert (record.source, record.covered, record.billable, record.approval) == ("support_plan", covered, billable, approval)
    assert record.needs_approval == (policy == "approval")
    assert record.reason_params["hours"] == "1"
    assert ticket.coverage_approval == approval
    assert cov.ledger(ticket) == []  # nothing taken from the allowance


def test_used_up_ticket_allowance(cov, world, clock):
    in_production_with_plan(cov, world, clock, allowance_minutes="", allowance_tickets=1, overage_policy="approval",
                            hourly_rate="")
    first = cov.file(world.acme_user)
    second = cov.file(world.acme_colleague)
    assert first.coverage_source == "support_plan" and first.coverage_covered
    record = cov.decisions(second)[0]
    assert (record.covered, record.needs_approval, record.approval) == (False, True, "pending")
    assert record.reason_params["tickets"] == 1


def test_category_not_in_plan_and_no_plan_are_uncovered(cov, world, clock):
    in_production_with_plan(cov, world, clock, covered_categories=["question"])
    ticket = cov.file(world.acme_user, "configuration_change")
    record = cov.decisions(ticket)[0]
    assert (record.source, record.covered, record.approval) == ("none", False, "pending")
    assert record.reason_params == {"plan": "Standard", "category": "configuration_change"}
    cov.production(world.globex, SIGNED)
    clock.on(TODAY)
    other = cov.file(world.globex_user, "question")
    assert (other.coverage_source, other.coverage_covered, other.coverage_approval) == ("none", False, "pending")


def test_a_failing_decision_never_loses_the_report(cov, world, clock, monkeypatch, expect_errors):
    import plans.services

    clock.on(TODAY)
    expect_errors("could not be decided", reason="the coverage engine is broken on purpose")

    def broken(**kwargs):
        db.session.add(CoverageDecision())  # half-written work that the savepoint must undo
        db.session.flush()

    monkeypatch.setattr(plans.services, "decide_for_ticket", broken)
    ticket = cov.file(world.acme_user, "question")
    db.session.expire_all()
    assert ticket.subject == "Help" and ticket.coverage_source is None and ticket.coverage_approval == "pending"
    assert db.session.scalar(select(func.count(CoverageDecision.id))) == 0
    monkeypatch.undo()
    clock.on(TODAY)
    from tickets.coverage import approval_queue, retry_coverage
    from tickets.services import Actor

    assert [t.id for t in approval_queue()[0]] == [ticket.id]
    retry_coverage(Actor(world.manager), ticket)
    assert ticket.coverage_source == "onboarding" and ticket.coverage_approval is None


def test_decisions_are_immutable(cov, world, clock):
    clock.on(TODAY)
    ticket = cov.file(world.acme_user)
    record = cov.decisions(ticket)[0]
    record.source = "none"
    with pytest.raises(RuntimeError, match="immutable"):
        db.session.flush()
    db.session.rollback()


def _count_queries(callable_):
    callable_()  # warm up: the user and the session are loaded the same way every time after this
    engine = db.engine
    count = 0

    def before(*args):
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        callable_()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count


def test_lists_show_coverage_without_a_query_per_row(cov, world, clock, web, login):
    clock.on(TODAY)
    cov.file(world.acme_user, "question")
    cov.file(world.acme_user, "bug")
    login(world.acme_user)
    page = web.get("/portal/").get_data(as_text=True)
    assert "Onboarding" in page and "Bug-fix guarantee" in page
    few = _count_queries(lambda: web.get("/portal/"))
    for _ in range(5):
        cov.file(world.acme_user, "question")
    assert _count_queries(lambda: web.get("/portal/")) == few
    login(world.agent)
    queue = web.get("/agent/queue").get_data(as_text=True)
    assert queue.count("Onboarding") >= 6
    few = _count_queries(lambda: web.get("/agent/queue"))
    cov.file(world.acme_user, "bug")
    assert _count_queries(lambda: web.get("/agent/queue")) == few


def test_client_sees_coverage_on_the_ticket_and_before_filing(cov, world, clock, web, login):
    in_production_with_plan(cov, world, clock, allowance_tickets=3, covered_categories=["question"])
    login(world.acme_user)
    form = web.get("/portal/tickets/new").get_data(as_text=True)
    assert "Covered by your Standard plan for November" in form
    assert "10 h left this period" in form and "2 tickets left after this one" in form
    assert "Your Standard plan does not include configuration change requests" in form
    assert "Bug fixes are always free" in form
    ticket = cov.file(world.acme_user, "configuration_change")
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "Your Standard plan does not include configuration change requests" in page
    assert "Awaiting a manager" in page and "Your report is kept" in page
    assert db.session.scalar(select(func.count(UsageEntry.id))) == 0
