"""What one delivery job costs the database, and that its shortened path keeps every outcome.

On PostgreSQL a one-recipient job is two statements, each committed by itself: the claim (with
its entry), then the result with the entry's closing or, for a retry, its next relay.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.notifications import SLA_WARNING, Recipient, notify
from helpdesk.notifications.delivery import DONE, NOTHING, RETRY, deliver
from helpdesk.notifications.models import Delivery, OutboxEntry
from tests.samples import recorded_statements

AGENT = Recipient(email="agent@vendor.example", name="Agnes Agent", language="pl", role="agent")


def _queued_entry(app, redis_url, recipients=(AGENT,)) -> int:
    """An outbox entry committed with Redis configured: enqueued, not delivered inline."""
    app.config["REDIS_URL"] = redis_url
    entry = notify(SLA_WARNING, recipients=list(recipients), ticket_id=7,
                   values={"number": "OP-7", "subject": "Printer station offline", "priority": "high",
                           "clock": "first_response", "instant": "2026-12-01T10:00:00+00:00"})
    db.session.commit()
    return entry.id


def _states(entry_id: int) -> tuple[str, list[str]]:
    db.session.rollback()
    entry = db.session.get(OutboxEntry, entry_id)
    return entry.state, list(db.session.scalars(
        select(Delivery.state).where(Delivery.outbox_id == entry_id).order_by(Delivery.id)))


def test_a_one_recipient_delivery_is_two_statements_on_postgresql(app, world, sink, redis_url, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite has no data-modifying WITH and no RETURNING from a joined table")
    app.config["SMTP_URL"] = sink.url
    entry_id = _queued_entry(app, redis_url)
    with recorded_statements(db.engine) as seen:
        assert deliver(entry_id) == DONE
    assert len(seen) == 2, seen  # the claim with its entry; the result with the closing
    assert seen[1].lstrip().upper().startswith("WITH RECORDED AS")
    assert _states(entry_id) == ("done", ["sent"])
    assert sink.count() == 1
    assert deliver(entry_id) == NOTHING and sink.count() == 1  # run twice, sent once


def test_a_refused_message_is_recorded_for_a_retry_and_the_entry_relayed_later(app, world, sink, redis_url):
    app.config["SMTP_URL"] = sink.url
    sink.refuse_data = 1  # 451: try again later
    entry_id = _queued_entry(app, redis_url)
    before = utcnow()
    assert deliver(entry_id) == RETRY
    assert _states(entry_id) == ("pending", ["pending"])
    wait = app.config["NOTIFY_RETRY_INTERVALS"][0] + app.config["NOTIFY_RELAY_GRACE_SECONDS"]
    assert db.session.get(OutboxEntry, entry_id).due_at >= before + timedelta(seconds=wait)
    assert deliver(entry_id) == DONE
    assert _states(entry_id) == ("done", ["sent"]) and sink.count() == 1


def test_an_entry_closes_dead_when_its_last_delivery_dies(app, world, sink, redis_url):
    app.config["SMTP_URL"] = sink.url
    app.config["NOTIFY_RETRY_INTERVALS"] = ()  # one attempt only: a refusal for now is the last
    sink.refuse_data = 1
    entry_id = _queued_entry(app, redis_url)
    assert deliver(entry_id) == DONE
    assert _states(entry_id) == ("dead", ["dead"])


def test_an_entry_stays_open_while_another_job_holds_one_of_its_deliveries(app, world, sink, redis_url):
    """The last result written by this job does not close an entry whose other delivery another
    job holds under a lease (that job closes it)."""
    from sqlalchemy import update

    app.config["SMTP_URL"] = sink.url
    other = Recipient(email="agent2@vendor.example", name="Otto Agent", language="en", role="agent")
    entry_id = _queued_entry(app, redis_url, recipients=(AGENT, other))
    held = db.session.scalars(select(Delivery.id).where(Delivery.outbox_id == entry_id)
                              .order_by(Delivery.id)).first()
    db.session.execute(update(Delivery).where(Delivery.id == held).values(
        state="sending", attempts=1, lease_until=utcnow() + timedelta(minutes=5)))
    db.session.commit()
    assert deliver(entry_id) != DONE
    assert _states(entry_id) == ("pending", ["sending", "sent"])
    db.session.execute(update(Delivery).where(Delivery.id == held).values(state="sent", lease_until=None))
    db.session.commit()
    assert deliver(entry_id) == DONE  # nothing left to claim: settled as finished
    assert _states(entry_id) == ("done", ["sent", "sent"])


def test_inline_delivery_to_files_closes_many_entries_in_one_statement(app, world):
    """The embedded default's pass over several entries (a sweep, a bulk action's notices): one
    read, one executemany of the results, one UPDATE closing every entry, one commit; an entry
    with a delivery that died before closes as dead, the others as done."""
    from flask import g
    from sqlalchemy import update

    from helpdesk.notifications.outbox import _PENDING, deliver_inline

    assert not app.config.get("REDIS_URL") and not app.config.get("SMTP_URL")
    other = Recipient(email="agent2@vendor.example", name="Otto Agent", language="en", role="agent")
    with app.test_request_context("/"):  # the commits' relays wait for a response that never comes
        ids = []
        for number in range(3):
            entry = notify(SLA_WARNING, recipients=[AGENT, other], ticket_id=number + 1,
                           values={"number": f"OP-{number + 1}", "subject": "Offline", "priority": "high",
                                   "clock": "resolution", "instant": "2026-12-01T10:00:00+00:00"})
            db.session.commit()
            ids.append(entry.id)
        g.pop(_PENDING)
    died = db.session.scalars(select(Delivery.id).where(Delivery.outbox_id == ids[0]).order_by(Delivery.id)).first()
    db.session.execute(update(Delivery).where(Delivery.id == died).values(state="dead", attempts=6))
    db.session.commit()
    with recorded_statements(db.engine) as seen:
        deliver_inline(ids)
    closing = [s for s in seen if s.lstrip().upper().startswith("UPDATE NOTIFICATION_OUTBOX")]
    assert len(seen) == 3 and len(closing) == 1, seen
    assert _states(ids[0]) == ("dead", ["dead", "sent"])
    assert _states(ids[1]) == ("done", ["sent", "sent"]) and _states(ids[2]) == ("done", ["sent", "sent"])
    assert len(list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))) == 5
