"""The queue's filtered pages in the "due" order read one page from an index, on both databases
(issue 12: every queue page flat from 10,000 to 100,000 tickets and more).

Each half of a page (the tickets with a due instant, then those without one: tickets.queue
.due_halves) must be a range on an index that serves the filter AND the order: the plan names
that index and sorts nothing. Without the open-by-status/priority/SLA-state indexes (migration
0026) the planner walked the open tickets by due instant, reading each for the filter, and the
page grew with the open backlog. The statement around the halves sorts their at most two pages
of ids, whatever the number of tickets, and is not what these tests look at.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

# The queue's arguments and the index (a pattern) each half of its page reads; the open tickets
# without a due instant may also come from their own index (ix_tickets_open_undated_id).
ANY_OPEN = "(ix_tickets_open_next_deadline_at_id|ix_tickets_open_undated_id)"
QUEUES = [
    pytest.param({}, ANY_OPEN, id="default"),
    pytest.param({"status": "new"}, "ix_tickets_open_status_due_id", id="status-new"),
    pytest.param({"status": "waiting_on_client"}, "ix_tickets_open_status_due_id", id="status-waiting"),
    pytest.param({"priority": "urgent"}, "ix_tickets_open_priority_due_id", id="priority-urgent"),
    pytest.param({"breached": "1"}, "ix_tickets_open_sla_state_due_id", id="breached"),
    pytest.param({"breaching_within": "24"}, ANY_OPEN, id="breaching-24h"),
]

# sqlite_stat1 for tickets as ANALYZE writes it for the demo seed at 100,000 tickets (5,656
# open): the statistics under which SQLite's planner chose to walk every open ticket.
STATS_100K = {
    "ix_tickets_assignee_id_id": "100000 50000 1",
    "ix_tickets_category_id": "100000 33334 1",
    "ix_tickets_category_to_confirm_id": "100000 100000 1",
    "ix_tickets_client_id_id": "100000 10000 1",
    "ix_tickets_closed_at": "100000 2",
    "ix_tickets_coverage_approval_id": "100000 100000 1",
    "ix_tickets_coverage_source_id": "100000 25000 1",
    "ix_tickets_created_at": "100000 1",
    "ix_tickets_first_response_due_at": "100000 4",
    "ix_tickets_next_deadline_at_id": "100000 77 1",
    "ix_tickets_open_assignee_due_id": "5656 2828 5 1",
    "ix_tickets_open_next_deadline_at_id": "5656 5 1",
    "ix_tickets_open_priority_due_id": "5656 1414 4 1",
    "ix_tickets_open_sla_state_due_id": "5656 1414 5 1",
    "ix_tickets_open_status_due_id": "5656 1886 5 1",
    "ix_tickets_open_undated_id": "1543 1",
    "ix_tickets_priority_id": "100000 25000 1",
    "ix_tickets_requester_id_id": "100000 9091 1",
    "ix_tickets_resolution_due_at": "100000 4",
    "ix_tickets_resolved_at": "100000 1",
    "ix_tickets_sla_check_at": "100000 326",
    "ix_tickets_sla_policy_id": "100000 100000",
    "ix_tickets_status_id": "100000 20000 1",
}


def _halves(world: Any, args: dict[str, str]) -> list[str]:
    """The SQL of both halves of the queue's first page for these arguments, as the agent queue
    reads them (the "due" order is its default)."""
    from helpdesk.extensions import db
    from tickets.queue import due_halves, filtered_tickets, parse_queue_filters

    filters = parse_queue_filters({"sort": "due", **args})
    query = filtered_tickets(world.agent, filters)
    return [str(half.compile(db.engine, compile_kwargs={"literal_binds": True}))
            for half in due_halves(query, filters)]


@pytest.mark.parametrize(("args", "index"), QUEUES)
def test_sqlite_reads_each_half_of_a_filtered_due_page_from_one_index(app, world, args, index):
    from helpdesk.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner; PostgreSQL's is the next test")
    db.session.execute(text("ANALYZE"))  # creates sqlite_stat1
    db.session.execute(text("DELETE FROM sqlite_stat1 WHERE tbl = 'tickets'"))
    for name, stat in STATS_100K.items():
        db.session.execute(text("INSERT INTO sqlite_stat1 VALUES ('tickets', :idx, :stat)"), {"idx": name, "stat": stat})
    db.session.commit()
    try:
        db.session.execute(text("ANALYZE sqlite_schema"))  # the planner reloads the statistics
        for sql in _halves(world, args):
            plan = " | ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert re.search(rf"SEARCH tickets USING (COVERING )?INDEX {index} \(", plan), plan
            assert "TEMP B-TREE" not in plan and "SCAN tickets" not in plan, plan
    finally:
        db.session.rollback()
        db.session.execute(text("DELETE FROM sqlite_stat1"))
        db.session.commit()


@pytest.mark.parametrize(("args", "index"), QUEUES)
def test_postgresql_can_read_each_half_of_a_filtered_due_page_from_one_index(app, world, args, index):
    """PostgreSQL chooses by its own statistics, which a test database this small cannot have
    (empty, every index that matches a condition costs about the same). So, inside a transaction
    rolled back afterwards, the tickets' other plain indexes are dropped and scans of the whole
    table, bitmap scans and sorts priced out: the plan left shows whether the expected index
    exists and serves the filter AND the order, its partial WHERE matched by the query (with
    status=new too), with no sort and no row filtered. Without it there is no plan but the
    primary key's walk with a filter, or a sort."""
    from helpdesk.extensions import db

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner; SQLite's is the test above")
    try:
        others = db.session.scalars(text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'tickets'::regclass AND NOT i.indisunique AND NOT i.indisprimary")).all()
        for name in others:
            if not re.fullmatch(index, name):
                db.session.execute(text(f'DROP INDEX "{name}"'))
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            db.session.execute(text(f"SET LOCAL {setting} = off"))
        for sql in _halves(world, args):
            plan = " | ".join(row[0] for row in db.session.execute(text(f"EXPLAIN (COSTS OFF) {sql}")))
            assert re.search(rf"Index (Only )?Scan using {index} on tickets", plan), plan
            assert "Sort" not in plan and "Filter" not in plan, plan
    finally:
        db.session.rollback()
