"""notify_many: the rows notify writes, for any number of notices, each notice's deliveries and
inbox items on its own outbox row (on PostgreSQL the ids come back from one statement in the
notices' order; on SQLite they are matched by content)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select


@pytest.fixture
def rq_app_config(app_config, redis_url):
    """With Redis the outbox rows are handed to RQ after the commit, not delivered here."""
    app_config["REDIS_URL"] = redis_url
    return app_config


def _row(entry) -> dict:
    from helpdesk.extensions import db
    from helpdesk.notifications.models import Delivery

    deliveries = sorted(db.session.execute(
        select(Delivery.channel, Delivery.target, Delivery.recipient_index, Delivery.endpoint_id, Delivery.state,
               Delivery.attempts).where(Delivery.outbox_id == entry.id)).all(), key=repr)
    return {"event": entry.event, "ticket_id": entry.ticket_id, "thread": entry.thread,
            "recipients": entry.recipients, "values": entry.values, "state": entry.state,
            "finished": entry.finished_at is not None, "deliveries": deliveries}


def test_notify_many_writes_what_notify_writes_each_notice_on_its_own_row(rq_app_config, app, world):
    from helpdesk.extensions import db
    from helpdesk.notifications import SLA_BREACHED, TICKET_FILED, Notice, notify, notify_many, recipients_for
    from helpdesk.notifications.models import Delivery, InboxItem, OutboxEntry, WebhookEndpoint

    endpoint = WebhookEndpoint(url="https://hooks.example/sla", events=[SLA_BREACHED], secret="s" * 32)
    db.session.add(endpoint)
    db.session.commit()
    staff, client = recipients_for([world.manager, world.agent]), recipients_for([world.acme_user])
    notices = [
        Notice(SLA_BREACHED if n % 3 else TICKET_FILED, staff if n % 3 else client,
               {"n": n, "subject": f'Printer "{n}" says \\ and ü', "instant": datetime(2026, 1, n % 28 + 1, tzinfo=UTC)},
               ticket_id=1000 + n, thread=None if n % 5 else f"thread-{n}")
        for n in range(40)
    ] + [Notice(TICKET_FILED, [], {"n": 40}, ticket_id=1040)]  # nobody to send to: kept as done
    ids = notify_many(notices)
    db.session.commit()
    singles = [notify(n.event, recipients=n.recipients, values=n.values, ticket_id=n.ticket_id, thread=n.thread)
               for n in notices]
    db.session.commit()

    assert len(ids) == len(set(ids)) == len(notices)
    for entry_id, single, notice in zip(ids, singles, notices, strict=True):
        entry = db.session.get(OutboxEntry, entry_id)
        assert entry.values["n"] == notice.values["n"]
        assert _row(entry) == _row(single)
        assert entry.state == ("done" if not notice.recipients else "pending")
        items = db.session.execute(select(InboxItem.user_id, InboxItem.ticket_id, InboxItem.values).where(
            InboxItem.ticket_id == notice.ticket_id).order_by(InboxItem.id)).all()
        expected = [(u.id, notice.ticket_id, entry.values) for u in (world.manager, world.agent)]
        assert items == (expected * 2 if notice.event == SLA_BREACHED else [])  # notify_many's, then notify's
    webhooks = set(db.session.scalars(
        select(Delivery.outbox_id).where(Delivery.outbox_id.in_(ids), Delivery.channel == "webhook")))
    assert webhooks == {i for i, n in zip(ids, notices, strict=True) if n.event == SLA_BREACHED}
