"""filed_ticket_counts (the tickets filed per period and client by their current category and
source, kept by database triggers on coverage_decisions) always equals a recount from the
decisions, whatever wrote them: filing, reclassifying one ticket or many at once, logging time,
settling an approval, a rolled-back change, or SQL by hand (decisions inserted in bulk, changed,
moved to another ticket, deleted); and the usage report's ticket counts read from it are what the
previous query found by reading every filing decision of the period."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from tests.conftest import _empty_tables, base_config
from tests.coverage.integration.test_usage_totals import REPORT_PERIODS, old_ticket_counts

MONTHS = [date(2026, m, 1) for m in range(1, 7)]
SUMMARY = "SELECT period_start, client_id, category, source, tickets FROM filed_ticket_counts"
CATEGORY_NAMES = ["question", "bug", "configuration_change"]


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _recount() -> dict[tuple[Any, ...], int]:
    """Every filing decision under its ticket's latest decision's category and source, counted in
    Python from the decisions themselves (not the migration's SQL)."""
    from helpdesk.extensions import db

    rows = db.session.execute(text(
        'SELECT id, ticket_id, "trigger", period_start, client_id, category, source FROM coverage_decisions')).all()
    latest: dict[int, tuple[int, str, str]] = {}
    for decision_id, ticket_id, _trigger, _start, _client, category, source in rows:
        if ticket_id not in latest or decision_id > latest[ticket_id][0]:
            latest[ticket_id] = (decision_id, category, source)
    counts: dict[tuple[Any, ...], int] = {}
    for _id, ticket_id, trigger, start, client_id, _category, _source in rows:
        if trigger == "filed":
            _, category, source = latest[ticket_id]
            key = (_day(start), client_id, category, source)
            counts[key] = counts.get(key, 0) + 1
    return counts


def _summary() -> dict[tuple[Any, ...], int]:
    from helpdesk.extensions import db

    return {(_day(start), client_id, category, source): int(n)
            for start, client_id, category, source, n in db.session.execute(text(SUMMARY))}


def assert_summary_equals_recount() -> None:
    from helpdesk.extensions import db

    db.session.rollback()  # what is committed
    assert _summary() == _recount()


def previous_ticket_counts(period: Any) -> dict[int, list[tuple[str, str, int]]]:
    """The report's ticket counts as they were read before the summary (the reference): every
    filing decision of the period, under its ticket's latest decision's category and source.
    (A ticket with two filing decisions, which only SQL by hand makes, counts twice, as it did.)"""
    from sqlalchemy import func
    from sqlalchemy.orm import aliased

    from helpdesk.extensions import db
    from plans.models import CoverageDecision

    latest = aliased(CoverageDecision)
    current = (select(latest.category + ":" + latest.source).where(latest.ticket_id == CoverageDecision.ticket_id)
               .order_by(latest.id.desc()).limit(1).scalar_subquery())
    filed = select(CoverageDecision.client_id, current.label("current")).where(
        CoverageDecision.trigger == "filed", CoverageDecision.period_start >= period.start,
        CoverageDecision.period_start < period.end).subquery()
    counts: dict[int, list[tuple[str, str, int]]] = {}
    for client, current_value, count in db.session.execute(
            select(filed.c.client_id, filed.c.current, func.count()).group_by(filed.c.client_id, filed.c.current)):
        category, _, source = current_value.partition(":")
        counts.setdefault(client, []).append((category, source, int(count)))
    return counts


def _report_equals_previous_path(one_filing_each: bool) -> None:
    from helpdesk.extensions import db
    from plans import reports

    for period in REPORT_PERIODS:
        new = {c: sorted(v) for c, v in reports.ticket_counts(period).items()}
        assert new == {c: sorted(v) for c, v in previous_ticket_counts(period).items()}
        if one_filing_each:  # then also what the report's first version read (tickets, not filings)
            assert new == {c: sorted(v) for c, v in old_ticket_counts(period).items()}
        lines = {line.client_id: line for line in reports.usage_report(period)}
        for client_id, counts in new.items():
            assert lines[client_id].tickets == sum(n for _c, _s, n in counts)
    db.session.rollback()


@pytest.fixture
def plans(cov, world, clock) -> None:
    """ACME in production on a monthly plan whose overage waits for a manager (30 minutes); Globex
    with no plan. Questions and changes are plan work for ACME, bugs are bug fixes."""
    plan = cov.plan(allowance_minutes=30, overage_policy="approval", hourly_rate="200", on=date(2025, 12, 1))
    cov.production(world.acme, date(2025, 12, 1))
    cov.subscribe(world.acme, plan, date(2026, 1, 1))


ticket = st.integers(0, 100)
operation = st.one_of(
    st.tuples(st.just("file"), st.sampled_from(["acme", "globex"]), st.sampled_from(CATEGORY_NAMES),
              st.integers(0, len(MONTHS) - 1)),
    st.tuples(st.just("reclassify"), ticket, st.sampled_from(CATEGORY_NAMES)),
    st.tuples(st.just("reclassify_rolled_back"), ticket, st.sampled_from(CATEGORY_NAMES)),
    st.tuples(st.just("bulk_reclassify"), st.lists(ticket, min_size=1, max_size=4), st.sampled_from(CATEGORY_NAMES)),
    st.tuples(st.just("log_time"), ticket, st.integers(15, 90)),
    st.tuples(st.just("settle"), ticket, st.sampled_from(["billable", "goodwill", "declined"])),
    # by hand: a copy of every decision of a ticket in one statement (a filing among them), the
    # latest one recategorised, one moved to another ticket or made a filing, one deleted
    st.tuples(st.just("copy_in_sql"), ticket),
    st.tuples(st.just("recategorise_in_sql"), ticket, st.sampled_from(CATEGORY_NAMES),
              st.sampled_from(["support_plan", "bug_fix", "none"])),
    st.tuples(st.just("move_in_sql"), ticket, ticket),
    st.tuples(st.just("refile_in_sql"), ticket, st.integers(0, len(MONTHS) - 1)),
    st.tuples(st.just("delete_in_sql"), ticket),
)

_COLUMNS = ("ticket_id, client_id, time_entry_id, \"trigger\", why, category, source, covered, needs_approval, "
            "billable, approval, approval_rate, approval_currency, reason_msgid, reason_params, period_label, "
            "period_start, subscription_id, inputs, decision, charge, actor_id, created_at")


# About 0.25 s an example (72 s for the thorough profile's 300 on PostgreSQL, 2026-12-05 CI): at
# most 150 (a quick run 25), new ones each run.
@settings(max_examples=min(150, settings().max_examples),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(operations=st.lists(operation, min_size=1, max_size=10))
def test_the_summary_equals_a_recount_after_random_operations(app, world, cov, clock, plans, operations):
    from helpdesk.errors import ServiceError
    from helpdesk.extensions import db
    from plans.models import CoverageDecision
    from tickets.access import get_ticket
    from tickets.bulk import bulk_update
    from tickets.coverage import settle
    from tickets.models import Ticket
    from tickets.services import Actor, reclassify

    def nth(i: int) -> Ticket | None:
        ids = db.session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
        return get_ticket(world.agent, ids[i % len(ids)]) if ids else None

    def decision_ids(ticket_id: int) -> list[int]:
        return list(db.session.scalars(select(CoverageDecision.id).where(CoverageDecision.ticket_id == ticket_id)
                                       .order_by(CoverageDecision.id.desc())))

    def unreferenced(decision_id: int) -> bool:
        return not db.session.execute(text("SELECT 1 FROM usage_entries WHERE decision_id = :d"),
                                      {"d": decision_id}).first()

    for op, *args in operations:
        if op == "file":
            clock.on(MONTHS[args[2]] + timedelta(days=12))
            cov.file(world.acme_user if args[0] == "acme" else world.globex_user, args[1], "Filed")
            assert_summary_equals_recount()
            continue
        target = nth(args[0]) if op != "bulk_reclassify" else None
        if op != "bulk_reclassify" and target is None:
            continue
        try:
            if op in ("reclassify", "reclassify_rolled_back") and target.category != args[1]:
                reclassify(Actor(world.agent), target, args[1], "Checked", commit=op == "reclassify")
                if op == "reclassify_rolled_back":
                    db.session.rollback()
            elif op == "bulk_reclassify":
                ids = db.session.scalars(select(Ticket.id).order_by(Ticket.id)).all()
                if ids:
                    bulk_update(Actor(world.agent), sorted({ids[i % len(ids)] for i in args[0]}), category=args[1],
                                reason="Sorted out")
            elif op == "log_time":
                cov.log(target, args[1])
            elif op == "settle":
                settle(Actor(world.manager), target, outcome=args[1], message="Settled.")
        except ServiceError:
            db.session.rollback()
        latest = decision_ids(target.id)[:1] if target is not None else []
        # The examples share one database: a copy doubles a ticket's decisions, so only small
        # ones are copied (unbounded, the thorough profile grew a ticket to 4 million rows).
        if op == "copy_in_sql" and len(decision_ids(target.id)) <= 8:
            db.session.execute(text(f"INSERT INTO coverage_decisions ({_COLUMNS}) SELECT {_COLUMNS} "
                                    "FROM coverage_decisions WHERE ticket_id = :t ORDER BY id"), {"t": target.id})
            db.session.commit()
        elif op == "recategorise_in_sql" and latest:
            db.session.execute(text("UPDATE coverage_decisions SET category = :c, source = :s WHERE id = :d"),
                               {"c": args[1], "s": args[2], "d": latest[0]})
            db.session.commit()
        elif op == "move_in_sql":
            other = nth(args[1])
            ids = decision_ids(target.id)
            if other.id != target.id and len(ids) > 1:
                db.session.execute(text("UPDATE coverage_decisions SET ticket_id = :o WHERE id = :d"),
                                   {"o": other.id, "d": ids[-1 if len(ids) % 2 else 0]})
                db.session.commit()
        elif op == "refile_in_sql" and latest:
            start = MONTHS[args[1]]
            db.session.execute(text(
                "UPDATE coverage_decisions SET \"trigger\" = 'filed', period_start = :p WHERE id = :d"),
                {"p": start, "d": latest[0]})
            db.session.commit()
        elif op == "delete_in_sql":
            ids = [d for d in decision_ids(target.id) if unreferenced(d)]
            if ids:
                db.session.execute(text("DELETE FROM coverage_decisions WHERE id = :d"), {"d": ids[0]})
                db.session.commit()
        assert_summary_equals_recount()
    twice = db.session.execute(text('SELECT ticket_id FROM coverage_decisions WHERE "trigger" = \'filed\' '
                                    "GROUP BY ticket_id HAVING count(*) > 1")).first()
    _report_equals_previous_path(one_filing_each=twice is None)


def test_a_reclassification_moves_the_ticket_to_its_new_category_and_source(app, world, cov, clock, plans):
    """The ticket stays in its filing period and client; only the key it is counted under moves,
    and the key left empty is removed."""
    from helpdesk.extensions import db
    from plans import reports
    from plans.periods import Period

    clock.on(date(2026, 2, 10))
    filed = cov.file(world.acme_user, "question", "Filed in February")
    february = Period.from_label("2026-02")
    assert reports.ticket_counts(february) == {world.acme.id: [("question", "support_plan", 1)]}
    clock.on(date(2026, 3, 10))
    cov.reclassify(filed, "bug", "A bug after all")
    assert _summary() == {(date(2026, 2, 1), world.acme.id, "bug", "bug_fix"): 1}
    assert reports.ticket_counts(february) == {world.acme.id: [("bug", "bug_fix", 1)]}
    assert reports.ticket_counts(Period.from_label("2026-03")) == {}
    db.session.rollback()


def test_the_check_sees_a_summary_that_is_off(app, world, cov, clock, plans):
    """Control: the recount comparison fails when the summary is one ticket off."""
    from helpdesk.extensions import db

    clock.on(date(2026, 2, 10))
    cov.file(world.acme_user, "question", "One")
    assert_summary_equals_recount()
    db.session.execute(text("UPDATE filed_ticket_counts SET tickets = tickets + 1"))
    db.session.commit()
    with pytest.raises(AssertionError):
        assert_summary_equals_recount()


def test_emptying_the_tables_empties_the_summary(app, world, cov, clock, plans):
    """Whichever is deleted first, the summary or the decisions, nothing is left (a decrement of a
    key already gone leaves no row behind)."""
    from helpdesk.extensions import db

    clock.on(date(2026, 2, 10))
    cov.file(world.acme_user, "question", "One")
    cov.file(world.globex_user, "bug", "Two")
    assert db.session.execute(text("SELECT count(*) FROM filed_ticket_counts")).scalar() == 2
    db.session.execute(text("DELETE FROM filed_ticket_counts"))
    db.session.execute(text("DELETE FROM usage_entries"))
    db.session.execute(text("DELETE FROM coverage_decisions"))
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM filed_ticket_counts")).scalar() == 0
    _empty_tables()
    assert db.session.execute(text("SELECT count(*) FROM filed_ticket_counts")).scalar() == 0


def test_the_migration_counts_the_decisions_already_there(own_database_url, tmp_path, translations):
    """Up to head, tickets filed and reclassified by the services; down to 0026 (the table and its
    triggers go) and up again: 0027 counts the decisions it finds, and its triggers keep counting."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from app import create_app
    from helpdesk.accounts import User, create_user
    from helpdesk.companies import create_client
    from helpdesk.extensions import db
    from tests.conftest import PASSWORD, ROOT
    from tickets.models import Ticket
    from tickets.services import Actor, file_ticket, reclassify

    directory = str(ROOT / "migrations")
    other = create_app(base_config(own_database_url, tmp_path))
    with other.app_context():
        try:
            upgrade(directory=directory)
            create_client("initech", "Initech")
            create_client("hooli", "Hooli")
            agent = create_user(email="agent@example.com", password=PASSWORD, role="agent")
            users = [create_user(email=f"p@{slug}.example", password=PASSWORD, role="client", client_slug=slug)
                     for slug in ("initech", "hooli")]
            tickets = [file_ticket(Actor(user), subject="s", description="d", category=category)
                       for user in users for category in ("question", "bug", "question")]
            reclassify(Actor(agent), tickets[0], "bug", "A bug")
            reclassify(Actor(agent), tickets[1], "configuration_change", "A change")
            before = _summary()
            assert before == _recount() and sum(before.values()) == 6
            agent_id, first, third = agent.id, tickets[0].id, tickets[2].id
            db.session.remove()

            downgrade(directory=directory, revision="0026")
            assert "filed_ticket_counts" not in inspect(db.engine).get_table_names()
            # without the triggers, a change of the decisions goes unseen
            db.session.execute(text("UPDATE coverage_decisions SET category = 'configuration_change' "
                                    "WHERE ticket_id = :t"), {"t": first})
            db.session.commit()
            db.session.remove()

            upgrade(directory=directory)
            assert_summary_equals_recount()
            after = _summary()
            assert after != before and sum(after.values()) == 6
            agent = db.session.get(User, agent_id)
            reclassify(Actor(agent), db.session.get(Ticket, third), "bug", "A bug too")
            assert_summary_equals_recount()
            assert _summary() != after
        finally:
            db.session.remove()
            db.engine.dispose()
