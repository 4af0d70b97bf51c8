"""The set-based SLA sweep: many tickets due at once, each fact recorded and announced once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event, select

from helpdesk.clock import frozen
from tests.sla.integration.test_sla import MINUTE, MON_9, make_policy, utc

COUNT = 300


@pytest.fixture
def rq_app_config(app_config, redis_url):
    """With Redis the outbox rows are handed to RQ after the commit: the statements counted are
    the sweep's own, not the inline delivery of the embedded default."""
    app_config["REDIS_URL"] = redis_url
    return app_config


def test_many_due_tickets_get_one_warning_one_breach_and_one_notification_each(rq_app_config, app, world,
                                                                               make_ticket):
    from helpdesk.extensions import db
    from helpdesk.notifications import OutboxEntry
    from tickets.models import SlaEvent, Ticket, TicketEvent
    from tickets.sla.jobs import sweep

    make_policy("Fast", "24/7", first=10, resolution=600, sources=("onboarding",))
    with frozen(MON_9):
        ids = {make_ticket(world.acme_user, subject=f"Station {n} offline").id for n in range(COUNT)}
    statements: list[str] = []
    sizes: list[tuple[int, bool]] = []  # each statement's parameters, and whether it ran once per row

    def listen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
        rows = parameters if executemany and isinstance(parameters, list) else [parameters]  # one row, or many
        sizes.append((sum(len(row) for row in rows), executemany))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        first = sweep(utc(MON_9 + 8 * MINUTE))  # 80 % of 10 minutes: the warnings
        during_warnings = len(statements)
        again = sweep(utc(MON_9 + 8 * MINUTE))
        breaches = sweep(utc(MON_9 + 10 * MINUTE))
        once_more = sweep(utc(MON_9 + 11 * MINUTE))
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert (first.tickets, first.facts) == (COUNT, COUNT)
    assert again.facts == 0 and once_more.facts == 0
    assert (breaches.tickets, breaches.facts) == (COUNT, COUNT)
    # Set-based: a handful of statements for the whole batch, not ~30 per ticket.
    assert during_warnings <= 13, during_warnings
    if db.engine.dialect.name == "postgresql":
        # ... and each of a size that does not grow with the batch: one array per column, not
        # 5 placeholders per row (insertmanyvalues) or one execution per row (executemany).
        assert max(size for size, _ in sizes) <= 12, max(sizes)
        assert not any(many for _, many in sizes)

    db.session.expire_all()
    facts = Counter(db.session.execute(select(SlaEvent.ticket_id, SlaEvent.clock, SlaEvent.kind)).all())
    assert set(facts) == {(i, "first_response", k) for i in ids for k in ("warning", "breach")}
    assert set(facts.values()) == {1}
    history = Counter(db.session.execute(
        select(TicketEvent.ticket_id, TicketEvent.kind).where(TicketEvent.kind.in_(["sla_warning", "sla_breached"]))
    ).all())
    assert set(history) == {(i, k) for i in ids for k in ("sla_warning", "sla_breached")}
    assert set(history.values()) == {1}
    notices = Counter(db.session.execute(
        select(OutboxEntry.ticket_id, OutboxEntry.event).where(OutboxEntry.event.like("sla.%"))
    ).all())
    assert set(notices) == {(i, e) for i in ids for e in ("sla.warning", "sla.breached")}
    assert set(notices.values()) == {1}
    entry = db.session.scalar(select(OutboxEntry).where(OutboxEntry.event == "sla.breached").limit(1))
    assert [r["email"] for r in entry.recipients] == [world.manager.email]
    assert entry.values["number"] == f"OP-{entry.ticket_id}" and entry.values["clock"] == "first_response"
    tickets = db.session.scalars(select(Ticket).where(Ticket.id.in_(ids))).all()
    assert {t.sla_state for t in tickets} == {"breached"}
    assert {t.sla_check_at for t in tickets} == {utc(MON_9 + 480 * MINUTE)}  # the resolution's warning


def test_a_fact_already_recorded_by_a_timer_is_not_recorded_or_announced_again(app, world, make_ticket):
    """The sweep reads, then a timer records the same fact: ON CONFLICT DO NOTHING keeps one."""
    from helpdesk.extensions import db
    from helpdesk.notifications import OutboxEntry
    from tickets.models import SlaEvent
    from tickets.sla.refresh import _insert_facts

    make_policy("Fast", "24/7", first=10, resolution=600, sources=("onboarding",))
    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    row = {"ticket_id": ticket.id, "clock": "first_response", "kind": "breach",
           "instant": utc(MON_9 + 10 * MINUTE), "recorded_at": utc(MON_9 + 10 * MINUTE)}
    assert len(_insert_facts([row])) == 1
    assert _insert_facts([row]) == []
    db.session.commit()
    assert db.session.scalar(select(SlaEvent.id).where(SlaEvent.ticket_id == ticket.id)) is not None
    assert db.session.scalar(select(OutboxEntry.id).where(OutboxEntry.event == "sla.breached")) is None
