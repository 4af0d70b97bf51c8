"""Coverage chooses the SLA policy: each source its own, each support plan the policy its terms
name; a change of coverage (reclassification, time entry, approval, retry) recomputes the clocks
and the history says so. Every policy here runs on the 24/7 calendar with its own targets, so a
due instant is the filing instant plus the target and tells which policy was applied."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from helpdesk.extensions import db

# (first response, resolution) in minutes, the same for every priority.
TARGETS = {
    "Bugs": (30, 120),
    "Onboarding care": (45, 300),
    "Package": (60, 480),
    "Gold": (15, 90),
    "Silver": (120, 960),
    "Round the clock": (240, 1920),
}
SOURCES = {"Bugs": "bug_fix", "Onboarding care": "onboarding", "Package": "post_onboarding_package"}


def noon(day: date) -> datetime:
    """What the `clock` fixture freezes: noon UTC of the day."""
    return datetime.combine(day, time(12), UTC)


@pytest.fixture
def policies(app: Any) -> dict[str, Any]:
    """One policy per name in TARGETS; three mapped to their sources, "Round the clock" the
    default (what `none` and plans naming no policy follow), Gold and Silver free for plans."""
    from helpdesk.calendars.models import builtin_calendars
    from helpdesk.calendars.policies import PRIORITIES, PolicyInput, save_policy
    from tickets.sla.policies import save_source_mapping

    calendar = builtin_calendars()["24/7"]
    db.session.commit()
    made = {}
    for name, (first, resolution) in TARGETS.items():
        targets: dict[str, str | int | None] = {}
        for priority in PRIORITIES:
            targets[f"first_response_{priority}"] = first
            targets[f"resolution_{priority}"] = resolution
        made[name] = save_policy(None, PolicyInput(name, calendar.id, 80, targets,
                                                   is_default=name == "Round the clock"))
    mapping = {source: str(made[name].id) for name, source in SOURCES.items()}
    save_source_mapping({**mapping, "none": "default"})
    return made


def plan_with(cov: Any, name: str, policy: Any, **terms: Any) -> Any:
    """A monthly plan covering questions and configuration changes, naming `policy` (or none)."""
    return cov.plan(name, sla_policy_id="" if policy is None else policy.id, **terms)


def fresh(ticket: Any) -> Any:
    from tickets.models import Ticket

    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def assert_runs_on(ticket: Any, source: str, policy: Any, filed: datetime) -> None:
    first, resolution = TARGETS[policy.name]
    ticket = fresh(ticket)
    assert (ticket.sla_source, ticket.sla_policy_id) == (source, policy.id)
    assert ticket.first_response_due_at == filed + timedelta(minutes=first)
    assert ticket.resolution_due_at == filed + timedelta(minutes=resolution)


def recomputed(ticket: Any) -> list[Any]:
    from tickets.models import TicketEvent

    db.session.expire_all()
    return list(db.session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "sla_recomputed")
        .order_by(TicketEvent.id)
    ))


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


# -- which policy ----------------------------------------------------------------------------


def test_a_bug_gets_the_bug_fix_policy_in_every_phase_and_on_any_plan(cov, world, clock, policies):
    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    day = clock.on(date(2026, 11, 10))
    on_plan = cov.file(world.acme_user, "bug")
    onboarding = cov.file(world.globex_user, "bug")
    assert_runs_on(on_plan, "bug_fix", policies["Bugs"], noon(day))
    assert_runs_on(onboarding, "bug_fix", policies["Bugs"], noon(day))


def test_an_onboarding_clients_question_gets_the_onboarding_policy(cov, world, clock, policies):
    day = clock.on(date(2026, 11, 10))
    ticket = cov.file(world.globex_user, "question")
    assert fresh(ticket).coverage_source == "onboarding"
    assert_runs_on(ticket, "onboarding", policies["Onboarding care"], noon(day))


def test_a_question_in_the_post_onboarding_package_gets_the_package_policy(cov, world, clock, policies):
    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 11, 2))  # the package runs until 1 December
    cov.subscribe(world.acme, plan, date(2026, 11, 2))  # the package covers first
    day = clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user, "configuration_change")
    assert_runs_on(ticket, "post_onboarding_package", policies["Package"], noon(day))


def test_a_support_plan_question_gets_its_plans_policy(cov, world, clock, policies):
    from helpdesk.accounts import create_user
    from helpdesk.companies import create_client
    from tests.conftest import PASSWORD

    gold = plan_with(cov, "Gold", policies["Gold"])
    silver = plan_with(cov, "Silver", policies["Silver"])
    basic = plan_with(cov, "Basic", None)
    initech = create_client("initech", "Initech")
    initech_user = create_user(email="ian@initech.example", password=PASSWORD, role="client", client_slug="initech")
    for client, plan in ((world.acme, gold), (world.globex, silver), (initech, basic)):
        cov.production(client, date(2026, 1, 5))
        cov.subscribe(client, plan, date(2026, 10, 1))
    day = clock.on(date(2026, 11, 10))
    on_gold = cov.file(world.acme_user, "question")
    on_silver = cov.file(world.globex_user, "question")
    on_basic = cov.file(initech_user, "question")
    # Filed at the same instant, due at different ones: each plan's own targets.
    assert_runs_on(on_gold, "support_plan", policies["Gold"], noon(day))
    assert_runs_on(on_silver, "support_plan", policies["Silver"], noon(day))
    assert fresh(on_gold).first_response_due_at != fresh(on_silver).first_response_due_at
    # A plan that names no policy follows the default policy.
    assert_runs_on(on_basic, "support_plan", policies["Round the clock"], noon(day))


def test_a_plan_not_covering_the_category_leaves_the_ticket_uncovered(cov, world, clock, policies):
    from tickets.sla.policies import save_source_mapping

    save_source_mapping({source: str(policies[name].id) for name, source in SOURCES.items()} | {"none": ""})
    plan = plan_with(cov, "Gold", policies["Gold"], covered_categories=["question"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket = fresh(cov.file(world.acme_user, "configuration_change"))
    assert (ticket.coverage_source, ticket.sla_source, ticket.sla_policy_id) == ("none", "none", None)
    assert ticket.first_response_due_at is None


def test_the_plans_policy_changes_from_a_date_never_for_a_period_begun(cov, world, clock, policies):
    from plans import services

    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    november = clock.on(date(2026, 11, 10))
    services.change_plan_terms(plan.id, actor_id=world.manager.id, effective_from="2026-12-01", values={
        "covered_categories": ["question", "configuration_change"], "allowance_minutes": "600",
        "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill", "hourly_rate": "180",
        "currency": "PLN", "sla_policy_id": str(policies["Silver"].id),
    })
    before = cov.file(world.acme_user, "question", "Filed in November")
    assert_runs_on(before, "support_plan", policies["Gold"], noon(november))
    december = clock.on(date(2026, 12, 2))
    after = cov.file(world.acme_user, "question", "Filed in December")
    assert_runs_on(after, "support_plan", policies["Silver"], noon(december))
    # November's ticket keeps November's terms while nothing about its coverage changes.
    from tickets.sla.jobs import process_ticket

    process_ticket(before.id, noon(december))
    assert fresh(before).sla_policy_id == policies["Gold"].id


def test_the_plans_policy_is_found_in_one_query(cov, world, clock, policies):
    from tickets.sla.policies import policy_terms_for_ticket, sla_reference

    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket = fresh(cov.file(world.acme_user, "question"))
    reference = sla_reference()
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        source, policy = policy_terms_for_ticket(ticket, reference)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert (source, policy.id) == ("support_plan", policies["Gold"].id)
    # One statement finds the policy's id from the latest decision; its terms are the reference's.
    (finding,) = seen
    assert all(table in finding for table in ("coverage_decisions", "subscriptions", "plan_versions"))
    assert "sla_targets" not in finding


def test_the_plans_policies_of_many_tickets_are_those_of_each_alone(cov, world, clock, policies):
    """`plan_policy_ids` (a bulk action's read, one query) chooses as `plan_policy_id` does for one."""
    from plans import services
    from tickets.sla.policies import plan_policy_id, plan_policy_ids

    gold = plan_with(cov, "Gold", policies["Gold"])
    basic = plan_with(cov, "Basic", None)
    cov.production(world.acme, date(2026, 1, 5))
    cov.production(world.globex, date(2026, 1, 5))
    cov.subscribe(world.acme, gold, date(2026, 10, 1))
    cov.subscribe(world.globex, basic, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    services.change_plan_terms(gold.id, actor_id=world.manager.id, effective_from="2026-12-01", values={
        "covered_categories": ["question", "configuration_change"], "allowance_minutes": "600",
        "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill", "hourly_rate": "180",
        "currency": "PLN", "sla_policy_id": str(policies["Silver"].id),
    })
    tickets = [cov.file(world.acme_user, "question", "November"), cov.file(world.globex_user, "question"),
               cov.file(world.acme_user, "bug")]
    clock.on(date(2026, 12, 2))
    tickets.append(cov.file(world.acme_user, "question", "December"))
    ids = [t.id for t in tickets]
    found = plan_policy_ids(ids + [2_000_000_000])
    assert found == {**{i: plan_policy_id(i) for i in ids}, 2_000_000_000: None}
    assert list(found.values())[:2] == [policies["Gold"].id, None]
    assert found[ids[3]] == policies["Silver"].id


def test_a_bulk_change_reads_only_its_tickets_plan_policy_ids_and_the_per_process_reference(
        cov, world, clock, policies):
    """The bulk's policy choice: the policies, targets and source mapping come from this process's
    copy (`sla_reference`); what it reads for its tickets is their plan policy ids, in one query.
    A ticket reclassified in the bulk reads its new plan policy afresh, and lands on it."""
    from tickets.bulk import bulk_update
    from tickets.services import Actor

    gold = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, gold, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    on_plan = [cov.file(world.acme_user, "question", f"Plan {i}") for i in range(3)]
    bug = cov.file(world.acme_user, "bug", "Not a bug after all")
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        summary = bulk_update(Actor(world.agent), [t.id for t in on_plan], priority="urgent")
        moved = bulk_update(Actor(world.agent), [bug.id], category="question", reason="A question")
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert (summary.changed, moved.changed) == (3, 1)
    # (the reference's stamp names these tables too, in subqueries of one SELECT (SELECT ...))
    rows_of = ("SELECT sla_source_policies.", "SELECT sla_policies.", "SELECT sla_targets.")
    assert not [s for s in seen if s.startswith(rows_of) and not s.startswith("SELECT sla_policies.id FROM")], seen
    plan_reads = [s for s in seen if s.startswith((
        "SELECT coverage_decisions.ticket_id, coverage_decisions.period_start, plan_versions.effective_from",
        "SELECT sla_policies.id FROM coverage_decisions"))]
    # One read for each bulk's tickets, and one more for the ticket whose coverage was decided again.
    assert len(plan_reads) == 3, plan_reads
    assert_runs_on(fresh(on_plan[0]), "support_plan", policies["Gold"], noon(date(2026, 11, 10)))
    assert (fresh(bug).sla_source, fresh(bug).sla_policy_id) == ("support_plan", policies["Gold"].id)


# -- coverage changes recompute ----------------------------------------------------------------


def test_reclassifying_a_question_as_a_bug_switches_policy_and_due_instants(cov, world, clock, policies, web,
                                                                             login):
    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    day = clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user, "question")
    assert_runs_on(ticket, "support_plan", policies["Gold"], noon(day))
    cov.reclassify(ticket, "bug", "It is a defect.")
    assert_runs_on(ticket, "bug_fix", policies["Bugs"], noon(day))  # from the filing instant
    (row,) = recomputed(ticket)
    assert row.actor_id == world.agent.id and row.internal
    assert row.data["reason"] == "category"
    assert row.data["source"] == {"from": "support_plan", "to": "bug_fix"}
    assert row.data["policy"] == {"from": policies["Gold"].id, "to": policies["Bugs"].id}
    assert row.data["first_response_due"] == {"from": iso(noon(day) + timedelta(minutes=15)),
                                              "to": iso(noon(day) + timedelta(minutes=30))}
    assert row.data["resolution_due"] == {"from": iso(noon(day) + timedelta(minutes=90)),
                                          "to": iso(noon(day) + timedelta(minutes=120))}
    login(world.agent)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert "Support plan → Bug-fix guarantee" in page and "Gold → Bugs" in page


def test_a_time_entry_that_changes_the_coverage_recomputes(cov, world, clock, policies):
    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 10, 5))  # the package runs until 4 November
    cov.subscribe(world.acme, plan, date(2026, 11, 5))
    filed = clock.on(date(2026, 10, 20))
    ticket = cov.file(world.acme_user, "question")
    assert_runs_on(ticket, "post_onboarding_package", policies["Package"], noon(filed))
    cov.log(ticket, 20, date(2026, 10, 20))  # still the package: nothing moves, nothing said
    assert recomputed(ticket) == []
    clock.on(date(2026, 11, 6))
    cov.log(ticket, 30)  # work on the plan now
    assert fresh(ticket).coverage_source == "support_plan"
    assert_runs_on(ticket, "support_plan", policies["Gold"], noon(filed))
    (row,) = recomputed(ticket)
    assert row.data["reason"] == "coverage" and row.actor_id == world.agent.id
    assert row.data["source"] == {"from": "post_onboarding_package", "to": "support_plan"}
    assert row.data["policy"] == {"from": policies["Package"].id, "to": policies["Gold"].id}


def test_an_approval_that_settles_coverage_recomputes_the_clocks(cov, world, clock, policies):
    from tickets.access import get_ticket
    from tickets.coverage import settle
    from tickets.services import Actor
    from tickets.sla.policies import save_source_mapping

    # Uncovered tickets get no SLA; approved work runs on the default policy.
    save_source_mapping({source: str(policies[name].id) for name, source in SOURCES.items()} | {"none": ""})
    cov.production(world.acme, date(2026, 1, 5))  # no plan: questions are not covered
    day = clock.on(date(2026, 11, 10))
    approved = cov.file(world.acme_user, "question", "Please do it anyway")
    declined = cov.file(world.acme_user, "question", "And this too")
    for ticket in (approved, declined):
        ticket = fresh(ticket)
        assert (ticket.coverage_approval, ticket.sla_policy_id, ticket.first_response_due_at) == ("pending", None, None)
    clock.on(day)
    settle(Actor(world.manager), get_ticket(world.manager, approved.id), outcome="goodwill",
           message="We will do it as goodwill.")
    settle(Actor(world.manager), get_ticket(world.manager, declined.id), outcome="declined",
           message="This needs a support plan.")
    assert_runs_on(approved, "none", policies["Round the clock"], noon(day))
    (row,) = recomputed(approved)
    assert row.data["reason"] == "coverage" and row.actor_id == world.manager.id
    assert row.data["policy"] == {"from": None, "to": policies["Round the clock"].id}
    assert row.data["first_response_due"]["from"] is None
    # The manager's message is the first public reply: the new clock is met at once.
    assert fresh(approved).first_responded_at == noon(day)
    assert fresh(declined).sla_policy_id is None and recomputed(declined) == []


def test_a_plans_overage_approval_keeps_the_plans_policy(cov, world, clock, policies):
    from tickets.access import get_ticket
    from tickets.coverage import settle
    from tickets.services import Actor

    plan = plan_with(cov, "Gold", policies["Gold"], allowance_minutes=30, overage_policy="approval")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    day = clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user, "question")
    cov.log(ticket, 60)  # 30 minutes over: waiting for approval, still on the plan
    assert fresh(ticket).coverage_approval == "pending"
    settle(Actor(world.manager), get_ticket(world.manager, ticket.id), outcome="billable",
           message="Extra time is billed.")
    assert_runs_on(ticket, "support_plan", policies["Gold"], noon(day))
    assert recomputed(ticket) == []


def test_retrying_an_undecided_filing_recomputes(cov, world, clock, policies, monkeypatch, expect_errors):
    import plans.services
    from tickets.access import get_ticket
    from tickets.coverage import retry_coverage
    from tickets.services import Actor

    plan = plan_with(cov, "Gold", policies["Gold"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    day = clock.on(date(2026, 11, 10))

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("the coverage engine is down")

    monkeypatch.setattr(plans.services, "decide_for_ticket", broken)
    expect_errors("could not be decided", reason="the coverage engine is broken on purpose")
    ticket = cov.file(world.acme_user, "question")
    monkeypatch.undo()
    clock.on(day)
    # Undecided: the clocks run on a guess (a production client's question: not covered).
    assert fresh(ticket).coverage_source is None
    assert_runs_on(ticket, "none", policies["Round the clock"], noon(day))
    retry_coverage(Actor(world.manager), get_ticket(world.manager, ticket.id))
    assert_runs_on(ticket, "support_plan", policies["Gold"], noon(day))
    (row,) = recomputed(ticket)
    assert row.data["reason"] == "coverage"
    assert row.data["source"] == {"from": "none", "to": "support_plan"}


# -- the plan forms ----------------------------------------------------------------------------


NEW_PLAN = {
    "name": "Premium", "period": "month", "covered_categories": ["question", "configuration_change"],
    "allowance_minutes": "600", "allowance_tickets": "", "billing_increment": "15", "rollover_cap_minutes": "0",
    "overage_policy": "bill", "hourly_rate": "180", "currency": "PLN",
}


def test_managers_choose_a_plans_sla_policy_on_the_plan_forms(cov, world, clock, policies, web, login, count_rows):
    from plans.models import PlanVersion, SupportPlan

    clock.on(date(2026, 11, 10))
    login(world.manager)
    page = web.get("/manager/plans/new").get_data(as_text=True)
    assert 'name="sla_policy_id"' in page
    assert re.search(r'<option (selected )?value="">—</option>', page)  # "—", the default policy, chosen by default
    assert f'<option value="{policies["Gold"].id}">Gold</option>' in page
    for bad in ("999999", "abc", "-1", "²", "1" * 30):
        response = web.post("/manager/plans/new", data={**NEW_PLAN, "sla_policy_id": bad})
        assert response.status_code == 422, bad
        assert "Choose an SLA policy from the list." in response.get_data(as_text=True)
    assert count_rows(SupportPlan) == 0 and count_rows(PlanVersion) == 0
    response = web.post("/manager/plans/new", data={**NEW_PLAN, "sla_policy_id": str(policies["Gold"].id)})
    assert response.status_code == 302
    plan = db.session.scalar(select(SupportPlan))
    assert [v.sla_policy_id for v in plan.versions] == [policies["Gold"].id]
    page = web.get(f"/manager/plans/{plan.id}").get_data(as_text=True)
    assert '<td class="sla-policy">Gold</td>' in page
    assert f'<option selected value="{policies["Gold"].id}">Gold</option>' in page
    assert "Gold" in web.get("/manager/plans").get_data(as_text=True)

    terms = {k: v for k, v in NEW_PLAN.items() if k not in ("name", "period")}
    response = web.post(f"/manager/plans/{plan.id}/terms",
                        data={**terms, "effective_from": "2026-12-01", "sla_policy_id": "424242"})
    assert response.status_code == 422
    assert "Choose an SLA policy from the list." in response.get_data(as_text=True)
    assert count_rows(PlanVersion) == 1
    response = web.post(f"/manager/plans/{plan.id}/terms",
                        data={**terms, "effective_from": "2026-12-01", "sla_policy_id": ""})
    assert response.status_code == 302
    db.session.expire_all()
    versions = db.session.scalars(select(PlanVersion).order_by(PlanVersion.effective_from)).all()
    assert [(v.effective_from, v.sla_policy_id) for v in versions] == [
        (date(2026, 11, 10), policies["Gold"].id), (date(2026, 12, 1), None),
    ]
    page = web.get(f"/manager/plans/{plan.id}").get_data(as_text=True)
    assert "default policy" in page


def test_the_sla_report_groups_plan_work_by_the_plans_name(cov, world, clock, policies):
    from tickets.sla.report import report_rows

    gold = plan_with(cov, "Gold", policies["Gold"])
    silver = plan_with(cov, "Silver", policies["Silver"])
    cov.production(world.acme, date(2026, 1, 5))
    cov.production(world.globex, date(2026, 1, 5))
    cov.subscribe(world.acme, gold, date(2026, 10, 1))
    cov.subscribe(world.globex, silver, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    cov.file(world.acme_user, "question")
    cov.file(world.acme_user, "configuration_change")
    cov.file(world.globex_user, "question")
    cov.file(world.globex_user, "bug")
    rows = {row.key: row.tickets for row in report_rows("plan", [date(2026, 11, 1)])}
    assert rows == {"Gold": 2, "Silver": 1, "bug_fix": 1}
