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
    from sqlalchemy import event

    from helpdesk.extensions import db

    headers = {"Authorization": f"Bearer {tokens.acme_user}"}
    app.test_client().post("/api/v1/tickets", json=NEW, headers=headers)  # warm the caches
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        response = app.test_client().post("/api/v1/tickets", json=NEW, headers=headers, buffered=False)
        response.get_data()
        inside = len(seen)
        response.close()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert response.status_code == 201
    assert inside <= 28, "\n".join(seen[:inside])  # 28: one more for the auto-assignment rules
    assert sum(s.lstrip().upper().startswith("UPDATE TICKETS") for s in seen[:inside]) == 1
    assert len(seen) > inside  # the e-mails were written, after the response
