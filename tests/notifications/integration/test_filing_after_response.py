"""Filing in the embedded default: e-mails are written after the response, not inside the request."""

from __future__ import annotations

from sqlalchemy import select

NEW = {"subject": "Labels print blank", "description": "Since 9:00 every label is blank.", "category": "question"}


def _states(ticket_id: int) -> list[str]:
    from helpdesk.extensions import db
    from helpdesk.notifications import Delivery, OutboxEntry

    db.session.rollback()
    return list(db.session.scalars(
        select(Delivery.state).join(OutboxEntry, OutboxEntry.id == Delivery.outbox_id)
        .where(OutboxEntry.ticket_id == ticket_id).order_by(Delivery.id)
    ))


def test_api_filing_answers_before_the_e_mails_are_written_and_they_follow_on_close(app, world, tokens):
    assert not app.config.get("REDIS_URL")
    # Not buffered: the body is not read and the response not closed until we say so.
    response = app.test_client().post("/api/v1/tickets", json=NEW, buffered=False,
                                      headers={"Authorization": f"Bearer {tokens.acme_user}"})
    assert response.status_code == 201
    ticket_id = response.get_json()["id"]
    pending = _states(ticket_id)
    assert pending and set(pending) == {"pending"}  # committed with the ticket, not sent yet
    response.close()  # what the server does once the client has the response
    assert set(_states(ticket_id)) == {"sent"}


def test_a_request_that_fails_after_its_commit_still_delivers_at_teardown(app, world):
    """No response built (an unhandled error after the commit): teardown delivers what committed."""
    from flask import g

    from helpdesk.notifications.outbox import _PENDING, deliver_after_response, deliver_leftovers

    with app.test_request_context("/"):
        deliver_after_response([987654])  # an id with no row: delivery finds nothing, quietly
        assert g.get(_PENDING) == [987654]
        deliver_leftovers(None)
        assert g.get(_PENDING) is None


def test_an_api_filing_runs_few_statements_inside_the_request(app, world, tokens):
    """No reads of clocks, facts or pauses a new ticket cannot have, one UPDATE of the ticket for
    its coverage and clocks, and no e-mail work before the response (39 statements before)."""
    inside, after = _statements_of_a_filing(app, tokens)
    statements = [s for s in inside if s != "COMMIT"]
    # 16 on SQLite, 17 on PostgreSQL (the advisory lock on the client for its coverage); 28 was the old bound
    assert len(statements) <= 17, "\n".join(statements)
    assert sum(s.startswith("UPDATE TICKETS") for s in statements) == 1
    assert any(s != "COMMIT" for s in after)  # the e-mails were written, after the response


def _statements_of_a_filing(app, tokens):
    """The statements and commits of one API filing: (inside the request, after the response)."""
    from sqlalchemy import event

    from helpdesk.extensions import db

    headers = {"Authorization": f"Bearer {tokens.acme_user}"}
    app.test_client().post("/api/v1/tickets", json=NEW, headers=headers)  # warm the caches
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()).upper())

    def committed(conn):
        seen.append("COMMIT")

    event.listen(db.engine, "before_cursor_execute", listen)
    event.listen(db.engine, "commit", committed)
    try:
        response = app.test_client().post("/api/v1/tickets", json=NEW, headers=headers, buffered=False)
        response.get_data()
        inside = len(seen)
        response.close()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
        event.remove(db.engine, "commit", committed)
    assert response.status_code == 201
    return seen[:inside], seen[inside:]


def test_a_filing_reads_what_needs_no_write_lock_before_its_first_write(app, world, tokens):
    """SQLite has one writer, locked from the first write to the commit: the staff told, their
    mutes, the webhook endpoints, the assignment rules and the SLA stamp are read before it."""
    inside, _ = _statements_of_a_filing(app, tokens)
    first_write = next(i for i, s in enumerate(inside) if s.startswith("INSERT INTO TICKETS"))
    for table in ("NOTIFICATION_MUTES", "WEBHOOK_ENDPOINTS", "ASSIGNMENT_RULES", "SLA_POLICIES"):
        at = next(i for i, s in enumerate(inside) if s.startswith("SELECT") and table in s)
        assert at < first_write, (table, inside)


def test_a_filing_writes_its_clocks_after_the_tickets_sla_source(app, world, tokens):
    """The clocks' trigger counts the ticket in sla_month_counts under the ticket's SLA source:
    written after the ticket's UPDATE, once under the right source (before, under no source, then
    moved by the UPDATE's trigger: three writes to the summary instead of one)."""
    inside, _ = _statements_of_a_filing(app, tokens)
    update = next(i for i, s in enumerate(inside) if s.startswith("UPDATE TICKETS"))
    clocks = next(i for i, s in enumerate(inside) if s.startswith("INSERT INTO SLA_CLOCKS"))
    assert update < clocks, inside


def test_the_e_mails_of_a_filing_are_written_in_one_commit_after_the_response(app, world, tokens):
    """To files, a delivery needs no lease of its own: every result and the entry's closing in one
    short transaction (the claim, and one commit per recipient, before)."""
    _, after = _statements_of_a_filing(app, tokens)
    assert after.count("COMMIT") == 1, after
    assert sum(s.startswith("UPDATE NOTIFICATION_DELIVERIES") for s in after) == 1, after  # one executemany


def test_a_delivery_another_job_holds_is_left_to_it(app, world, tokens):
    """Inline delivery to files skips an entry with a delivery in another job's lease (`deliver`
    takes it over once the lease runs out)."""
    from datetime import timedelta

    from sqlalchemy import update

    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from helpdesk.notifications import Delivery, OutboxEntry
    from helpdesk.notifications.outbox import deliver_inline

    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens.acme_user}"}
    response = client.post("/api/v1/tickets", json=NEW, headers=headers, buffered=False)
    ticket_id = response.get_json()["id"]
    with app.app_context():
        entry_id = db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.ticket_id == ticket_id))
        first, *others = db.session.scalars(select(Delivery.id).where(Delivery.outbox_id == entry_id)
                                            .order_by(Delivery.id))
        db.session.execute(update(Delivery).where(Delivery.id == first).values(
            state="sending", attempts=1, lease_until=utcnow() + timedelta(minutes=5)))
        db.session.commit()
        deliver_inline([entry_id])
        db.session.rollback()
        rows = {d.id: d.state for d in db.session.scalars(select(Delivery).where(Delivery.outbox_id == entry_id))}
        # Left to `deliver`, which sends the others under its lease and leaves the one held
        assert others and rows[first] == "sending" and all(rows[i] == "sent" for i in others), rows
        assert db.session.scalar(select(OutboxEntry.state).where(OutboxEntry.id == entry_id)) == "pending"
        db.session.execute(update(Delivery).where(Delivery.id == first).values(
            state="sent", lease_until=None))
        db.session.commit()
    response.close()  # the entry's own delivery after the response now finds it all sent: closed
    assert set(_states(ticket_id)) == {"sent"}
    with app.app_context():
        assert db.session.scalar(select(OutboxEntry.state).where(OutboxEntry.id == entry_id)) == "done"
