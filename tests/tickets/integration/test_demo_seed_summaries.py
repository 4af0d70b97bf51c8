"""The bulk seed's summaries equal what the triggers would have kept.

On PostgreSQL `flask demo seed` loads without per-row triggers (session_replication_role =
replica), makes the search documents as it inserts the tickets and recounts every summary
set-based; on SQLite the triggers run as the rows arrive. Either way every summary table equals
a recount, the search documents equal what the triggers make of the same rows, and the triggers
are on again afterwards."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.coverage.integration.test_filed_ticket_counts import (
    assert_summary_equals_recount as filed_equal_recount,
)
from tests.coverage.integration.test_usage_totals import assert_summary_equals_recount as usage_equals_recount
from tests.sla.integration.test_sla_month_counts import assert_summary_equals_recount as sla_equals_recount
from tests.tickets.integration.test_ticket_counts import assert_summary_equals_recount as counts_equal_recount

N = 250


@pytest.fixture
def seeded(app, is_postgres):
    from helpdesk.extensions import db
    from tickets.demo_bulk import _FastLoad

    if is_postgres:
        # the tests' role is a superuser, so the seed takes the trigger-less path this file checks
        assert _FastLoad().on
        db.session.rollback()
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(N), "--workers", "2"])
    assert result.exit_code == 0, result.output
    return app


def _all_summaries_equal_a_recount() -> None:
    counts_equal_recount()
    sla_equals_recount()
    usage_equals_recount()
    filed_equal_recount()


def _documents(is_postgres: bool) -> dict[int, tuple]:
    from helpdesk.extensions import db

    db.session.rollback()
    if is_postgres:
        rows = db.session.execute(text("SELECT id, search_public::text, search_staff::text FROM tickets"))
        return {r[0]: (r[1], r[2]) for r in rows}
    # FTS5 keeps the text; the insert path and the rebuild differ in spaces only
    rows = db.session.execute(text("SELECT rowid, public, staff FROM ticket_fts"))
    return {r[0]: (tuple(r[1].split()), tuple(r[2].split())) for r in rows}


def test_every_summary_and_search_document_equals_what_the_triggers_make(seeded, is_postgres):
    from helpdesk.extensions import db

    _all_summaries_equal_a_recount()
    assert db.session.execute(text("SELECT sum(tickets) FROM filed_ticket_counts")).scalar() == N
    seeded_documents = _documents(is_postgres)
    assert len(seeded_documents) >= N
    public_differs = [t for t, (public, staff) in seeded_documents.items() if public != staff]
    assert not public_differs, "the seed writes public replies only"
    with_replies = db.session.execute(text(
        "SELECT count(DISTINCT ticket_id) FROM messages")).scalar()
    assert with_replies > N / 2

    # The trigger path: a change of subject makes both documents again from the ticket and its messages.
    db.session.execute(text("UPDATE tickets SET subject = subject"))
    db.session.commit()
    assert _documents(is_postgres) == seeded_documents

    # The triggers are on after the seed: changes in SQL keep every summary equal to a recount.
    db.session.execute(text(
        "UPDATE tickets SET status = 'open', priority = 'urgent' WHERE id IN "
        "(SELECT id FROM tickets WHERE status = 'closed' ORDER BY id LIMIT 20)"))
    db.session.execute(text(
        "UPDATE sla_clocks SET outcome = NULL, state = 'running' WHERE id IN "
        "(SELECT id FROM sla_clocks WHERE outcome = 'met' ORDER BY id LIMIT 20)"))
    db.session.execute(text("DELETE FROM usage_entries WHERE id IN (SELECT id FROM usage_entries ORDER BY id LIMIT 5)"))
    # the latest decisions of some tickets (and some filings) recategorised in one statement
    db.session.execute(text(
        "UPDATE coverage_decisions SET category = 'bug', source = 'bug_fix' WHERE id IN "
        "(SELECT id FROM coverage_decisions ORDER BY id DESC LIMIT 30)"))
    db.session.commit()
    _all_summaries_equal_a_recount()


def test_a_top_up_keeps_the_summaries_and_documents(seeded, is_postgres):
    from helpdesk.extensions import db
    from tickets.models import Ticket

    before = _documents(is_postgres)
    again = seeded.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(N + 60)])
    assert again.exit_code == 0, again.output
    assert db.session.scalar(db.select(db.func.count(Ticket.id))) == N + 60
    _all_summaries_equal_a_recount()
    after = _documents(is_postgres)
    assert {k: after[k] for k in before} == before and len(after) == N + 60
    db.session.execute(text("UPDATE tickets SET subject = subject"))
    db.session.commit()
    assert _documents(is_postgres) == after


def _definitions(rows: list) -> list[tuple[str, str]]:
    return [(name, re.sub(r"[()]|::[a-z ]+(\[\])?", "", definition)) for name, definition in rows]


def test_a_large_load_builds_every_index_again(app, is_postgres):
    """From REBUILD_INDEXES_FROM tickets (here: from 1) the PostgreSQL load drops the secondary
    indexes of the tables it writes and builds them after it: every index is back, as defined."""
    from helpdesk.extensions import db
    from tickets.demo import seed_base, seed_plan
    from tickets.demo_bulk import seed_history

    if not is_postgres:
        pytest.skip("SQLite keeps its indexes and triggers during the load")
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    before = db.session.execute(text(indexes)).all()
    seed_plan(seed_base())
    assert seed_history(120, workers=2, rebuild_indexes_from=1) == 120
    db.session.rollback()
    # the same indexes; a partial index's predicate reads back with its casts written differently
    assert _definitions(db.session.execute(text(indexes)).all()) == _definitions(before)
    assert db.session.execute(text(
        "SELECT count(*) FROM pg_index WHERE NOT indisvalid OR NOT indisready")).scalar() == 0
    _all_summaries_equal_a_recount()
    documents = _documents(is_postgres)
    db.session.execute(text("UPDATE tickets SET subject = subject"))
    db.session.commit()
    assert _documents(is_postgres) == documents
