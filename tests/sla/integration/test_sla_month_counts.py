"""sla_month_counts (the SLA report's numbers per month, client, category, priority, SLA source
and plan, kept by database triggers) always equals a recount from the tickets and their clocks, whatever changed
them; and the SLA report reads it, with the same numbers as the recount."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import _empty_tables

SUMMARY = ("SELECT month, client_id, category, priority, source, plan_id, tickets, first_met, first_decided, resolution_met, "
           "resolution_decided, paused_seconds FROM sla_month_counts")


def _recount() -> dict[tuple, tuple]:
    """The report's numbers from the tickets and both clocks, grouped in Python (any database)."""
    from helpdesk.extensions import db
    from tickets.sla.report import REPORT_ZONE

    # The plan: the latest coverage decision's subscription's, read from the decisions themselves.
    rows = db.session.execute(text(
        "SELECT t.created_at, t.client_id, t.category, t.priority, t.sla_source, "
        "(SELECT s.plan_id FROM coverage_decisions d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
        " WHERE d.ticket_id = t.id ORDER BY d.id DESC LIMIT 1), t.sla_paused_seconds, f.outcome, r.outcome "
        "FROM tickets t JOIN sla_clocks f ON f.ticket_id = t.id AND f.kind = 'first_response' "
        "JOIN sla_clocks r ON r.ticket_id = t.id AND r.kind = 'resolution'")).all()
    out: dict[tuple, list[int]] = {}
    for created, client_id, category, priority, source, plan, paused, first, resolution in rows:
        if isinstance(created, str):  # SQLite's text
            from datetime import UTC, datetime
            created = datetime.fromisoformat(created).replace(tzinfo=UTC)
        month = created.astimezone(REPORT_ZONE).strftime("%Y-%m")
        plan_id = (plan or 0) if source == "support_plan" else 0
        n = out.setdefault((month, client_id, category, priority, source or "", plan_id), [0] * 6)
        for i, value in enumerate((1, first == "met", first is not None, resolution == "met", resolution is not None,
                                   paused)):
            n[i] += int(value)
    return {k: tuple(v) for k, v in out.items() if any(v)}


def assert_summary_equals_recount() -> None:
    from helpdesk.extensions import db

    db.session.rollback()  # what is committed
    summary = {tuple(r[:6]): tuple(int(x) for x in r[6:]) for r in db.session.execute(text(SUMMARY))}
    assert summary == _recount()


STATUSES = ("new", "open", "waiting_on_client", "resolved", "closed")
operation = st.one_of(
    st.tuples(st.just("file"), st.sampled_from(["acme_user", "globex_user"]),
              st.sampled_from(["question", "bug", "configuration_change"]), st.sampled_from(["low", "urgent"])),
    st.tuples(st.just("status"), st.integers(0, 50), st.sampled_from(STATUSES)),
    st.tuples(st.just("status_rolled_back"), st.integers(0, 50), st.sampled_from(STATUSES)),
    st.tuples(st.just("reply"), st.integers(0, 50)),  # the first public reply meets the first-response clock
    st.tuples(st.just("client_reply"), st.integers(0, 50)),
    st.tuples(st.just("priority"), st.integers(0, 50), st.sampled_from(["low", "normal", "high", "urgent"])),
    st.tuples(st.just("category"), st.integers(0, 50), st.sampled_from(["question", "bug", "configuration_change"])),
    # time passes: a refresh days later finds clocks breached
    st.tuples(st.just("later"), st.integers(0, 50), st.integers(1, 60)),
    # manual fixes in SQL: another client, another filing month, a ticket deleted
    st.tuples(st.just("move_in_sql"), st.integers(0, 50)),
    st.tuples(st.just("refile_in_sql"), st.integers(0, 50), st.integers(1, 400)),
    st.tuples(st.just("delete_in_sql"), st.integers(0, 50)),
    # the plan of the latest coverage decision: a new decision under another subscription (or
    # none), the latest decision taken away, the SLA source changed by hand
    st.tuples(st.just("decide_in_sql"), st.integers(0, 50), st.sampled_from(["standard", "premium", None])),
    st.tuples(st.just("undecide_in_sql"), st.integers(0, 50)),
    st.tuples(st.just("source_in_sql"), st.integers(0, 50), st.sampled_from(["support_plan", "bug_fix", None])),
)


@pytest.fixture
def subscriptions(cov, world) -> dict[str, int]:
    """ACME on "Standard" and Globex on "Premium", both in production (their question tickets
    are support-plan work under them)."""
    from datetime import date

    cov.production(world.acme, date(2025, 11, 1))
    cov.production(world.globex, date(2025, 11, 1))
    standard = cov.subscribe(world.acme, cov.plan("Standard", on=date(2025, 12, 1)), date(2026, 1, 1))
    premium = cov.subscribe(world.globex, cov.plan("Premium", on=date(2025, 12, 1)), date(2026, 1, 1))
    return {"standard": standard.id, "premium": premium.id}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_the_summary_equals_a_recount_after_random_operations(app, world, make_ticket, subscriptions, operations):
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.models import Ticket
    from tickets.services import TRANSITIONS, Actor, add_message, change_priority, change_status, reclassify
    from tickets.sla.refresh import refresh

    tickets = list(db.session.scalars(db.select(Ticket.id).order_by(Ticket.id)))
    for op, *args in operations:
        if op == "file":
            tickets.append(make_ticket(getattr(world, args[0]), category=args[1], priority=args[2]).id)
            continue
        if not tickets:
            continue
        ticket = db.session.get(Ticket, tickets[args[0] % len(tickets)])
        if ticket is None:
            continue
        if op in ("status", "status_rolled_back"):
            if args[1] in TRANSITIONS[ticket.status]:
                change_status(Actor(world.agent), ticket, args[1], commit=op == "status")
                if op == "status_rolled_back":
                    db.session.rollback()
        elif op == "reply":
            add_message(Actor(world.agent), ticket, body="Looking into it.")
        elif op == "client_reply" and ticket.status in ("waiting_on_client", "resolved"):
            requester = world.acme_user if ticket.client_id == world.acme.id else world.globex_user
            add_message(Actor(requester), ticket, body="Still broken.")
        elif op == "priority" and args[1] != ticket.priority:
            change_priority(Actor(world.agent), ticket, args[1])
        elif op == "category" and args[1] != ticket.category:
            reclassify(Actor(world.agent), ticket, args[1], "Wrong category.")
        elif op == "later":
            refresh(ticket, utcnow() + timedelta(days=args[1]))
            db.session.commit()
        elif op == "move_in_sql":
            other = world.globex.id if ticket.client_id == world.acme.id else world.acme.id
            db.session.execute(text("UPDATE tickets SET client_id = :c WHERE id = :id"), {"c": other, "id": ticket.id})
            db.session.commit()
        elif op == "refile_in_sql":
            db.session.execute(text("UPDATE tickets SET created_at = :at WHERE id = :id"),
                               {"at": ticket.created_at - timedelta(days=args[1]), "id": ticket.id})
            db.session.commit()
        elif op == "delete_in_sql":
            # the coverage records refuse the cascade; the clocks, history and thread go with it
            for table in ("usage_entries", "coverage_decisions"):
                db.session.execute(text(f"DELETE FROM {table} WHERE ticket_id = :id"), {"id": ticket.id})
            db.session.execute(text("DELETE FROM tickets WHERE id = :id"), {"id": ticket.id})
            db.session.commit()
        elif op == "decide_in_sql":
            latest = db.session.execute(text("SELECT max(id) FROM coverage_decisions WHERE ticket_id = :id"),
                                        {"id": ticket.id}).scalar()
            if latest is not None:
                columns = ("ticket_id, client_id, time_entry_id, trigger, why, category, source, covered, "
                           "needs_approval, billable, approval, approval_rate, approval_currency, reason_msgid, "
                           "reason_params, period_label, period_start, inputs, decision, charge, actor_id, created_at")
                db.session.execute(text(
                    f"INSERT INTO coverage_decisions ({columns}, subscription_id) SELECT {columns}, :sub "
                    "FROM coverage_decisions WHERE id = :latest"),
                    {"sub": subscriptions.get(args[1]) if args[1] else None, "latest": latest})
                db.session.commit()
        elif op == "undecide_in_sql":
            ids = list(db.session.scalars(text("SELECT id FROM coverage_decisions WHERE ticket_id = :id "
                                               "ORDER BY id DESC"), {"id": ticket.id}))
            if len(ids) > 1 and not db.session.execute(text("SELECT 1 FROM usage_entries WHERE decision_id = :d"),
                                                       {"d": ids[0]}).first():
                db.session.execute(text("DELETE FROM coverage_decisions WHERE id = :d"), {"d": ids[0]})
                db.session.commit()
        elif op == "source_in_sql":
            db.session.execute(text("UPDATE tickets SET sla_source = :s WHERE id = :id"),
                               {"s": args[1], "id": ticket.id})
            db.session.commit()
        assert_summary_equals_recount()
    assert_summary_equals_recount()


def test_emptying_the_tables_empties_the_summary(app, world, make_ticket):
    from helpdesk.extensions import db

    make_ticket(world.acme_user)
    assert db.session.execute(text("SELECT count(*) FROM sla_month_counts")).scalar() == 1
    _empty_tables()  # DELETE FROM every table, children first, as between tests
    assert db.session.execute(text("SELECT count(*) FROM sla_month_counts")).scalar() == 0


def test_the_report_shows_the_summary_s_numbers(app, world, make_ticket, web, login):
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.services import Actor, add_message, change_status
    from tickets.sla.report import report_rows

    one = make_ticket(world.acme_user, category="bug", priority="urgent")
    make_ticket(world.globex_user, category="question")
    add_message(Actor(world.agent), one, body="On it.")
    change_status(Actor(world.agent), one, "resolved")
    month = utcnow().date().replace(day=1)
    by_client = {r.label: r for r in report_rows("client", [month])}
    assert by_client["ACME Logistics"].tickets == 1
    assert (by_client["ACME Logistics"].first_met, by_client["ACME Logistics"].resolution_met) == (1, 1)
    assert by_client["Globex Trading"].tickets == 1 and by_client["Globex Trading"].first_decided == 0
    by_month = report_rows("month", [month])
    assert [(r.key, r.tickets) for r in by_month] == [(month.strftime("%Y-%m"), 2)]
    db.session.rollback()
    login(world.manager)
    assert web.get("/manager/sla/?by=priority").status_code == 200


def test_the_report_by_plan_follows_the_latest_decision_s_plan(app, world, make_ticket, subscriptions):
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.sla.report import report_rows

    ticket = make_ticket(world.acme_user, category="question")
    month = [utcnow().date().replace(day=1)]
    assert ticket.sla_source == "support_plan"
    assert {r.key: r.tickets for r in report_rows("plan", month)} == {"Standard": 1}
    latest = db.session.execute(text("SELECT max(id) FROM coverage_decisions WHERE ticket_id = :id"),
                                {"id": ticket.id}).scalar()
    db.session.execute(text(
        "INSERT INTO coverage_decisions (ticket_id, client_id, time_entry_id, trigger, why, category, source, covered, "
        "needs_approval, billable, approval, approval_rate, approval_currency, reason_msgid, reason_params, "
        "period_label, period_start, inputs, decision, charge, actor_id, created_at, subscription_id) "
        "SELECT ticket_id, client_id, time_entry_id, trigger, why, category, source, covered, needs_approval, "
        "billable, approval, approval_rate, approval_currency, reason_msgid, reason_params, period_label, "
        "period_start, inputs, decision, charge, actor_id, created_at, :sub FROM coverage_decisions WHERE id = :d"),
        {"sub": subscriptions["premium"], "d": latest})
    db.session.commit()
    assert {r.key: r.tickets for r in report_rows("plan", month)} == {"Premium": 1}
    db.session.execute(text("UPDATE tickets SET sla_source = 'bug_fix' WHERE id = :id"), {"id": ticket.id})
    db.session.commit()
    assert {r.key: r.tickets for r in report_rows("plan", month)} == {"bug_fix": 1}
    assert_summary_equals_recount()


def test_the_sweep_s_breaches_leave_the_summary_equal_to_a_recount(app, world, make_ticket):
    """The sweep decides many clocks in one UPDATE (one statement trigger on PostgreSQL, 0028)."""
    from helpdesk.clock import frozen
    from tests.sla.integration.test_sla import MINUTE, MON_9, make_policy, utc
    from tickets.sla.jobs import sweep

    make_policy("Fast", "24/7", first=10, resolution=20, sources=("onboarding",))
    with frozen(MON_9):
        for n in range(12):
            make_ticket(world.acme_user if n % 2 else world.globex_user, category="bug" if n % 3 else "question")
    assert sweep(utc(MON_9 + 30 * MINUTE)).facts > 0
    assert_summary_equals_recount()
    assert sum(n[4] for n in _recount().values()) > 0  # resolution clocks were decided by the sweep


def test_one_statement_deciding_many_clocks_writes_each_summary_row_once(app, world, make_ticket):
    """0028: per statement, each summary row has its old numbers taken once and its new ones added
    once, whatever the number of clocks (a row trigger wrote it twice per clock, and every write
    walked the row versions left by the ones before it: seconds for the sweep's 2,000 clocks)."""
    from helpdesk.extensions import db

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its row triggers: it has no statement triggers and leaves no row versions")
    for _ in range(20):
        make_ticket(world.acme_user)  # one summary key
    for _ in range(6):
        make_ticket(world.globex_user, category="bug")  # another
    db.session.commit()

    def summary_writes() -> int:  # this backend's count (it may include transactions not yet flushed)
        return db.session.execute(text(
            "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'sla_month_counts'")).scalar()

    written = []
    for statement in ("UPDATE sla_clocks SET outcome = 'breached' WHERE kind = 'resolution'",
                      "UPDATE sla_clocks SET outcome = 'met' WHERE kind = 'first_response' AND ticket_id % 2 = 0",
                      "UPDATE sla_clocks SET outcome = NULL WHERE kind = 'resolution' AND ticket_id % 3 = 0",
                      "UPDATE sla_clocks SET updated_at = now()"):  # nothing the summary counts
        before = summary_writes()
        db.session.execute(text(statement))
        written.append(summary_writes() - before)
    db.session.commit()
    assert written == [4, 4, 4, 0]  # two keys, each taken from and added to once per statement
    assert_summary_equals_recount()
