"""Bulk actions on queue rows: each ticket through the same service, its own history and savepoint,
a summary of what failed and why, idempotent, without JavaScript (a plain form post)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from tests.samples import text_of


def _events(ticket_id: int, kind: str | None = None) -> list[Any]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if kind:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def _ticket(ticket_id: int) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket_id, populate_existing=True)


def _post(web: Any, ids: list[Any], **fields: str) -> Any:
    data = {"ticket": [str(i) for i in ids], "back": "sort=newest&status=all", **fields}
    return web.post("/agent/queue/bulk", data=data)


def test_queue_rows_carry_a_checkbox_of_the_bulk_form(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.agent)
    page = text_of(web.get("/agent/queue?sort=newest"))
    assert '<form id="bulk"' in page and 'action="/agent/queue/bulk"' in page
    assert f'<input type="checkbox" form="bulk" name="ticket" value="{ticket.id}"' in page
    assert 'name="idempotency_key"' in page.split('<form id="bulk"')[1].split("</form>")[0]


def test_bulk_assign_and_status_changes_each_ticket_and_reports_the_refused(web, world, login, make_ticket):
    from tickets import services

    a = make_ticket(world.acme_user, "a")
    b = make_ticket(world.globex_user, "b")
    closed = make_ticket(world.acme_colleague, "closed one")
    services.change_status(services.Actor(world.agent), closed, "closed")
    login(world.agent)

    response = _post(web, [a.id, closed.id, b.id], assignee=str(world.agent2.id), status="waiting_on_client")
    assert response.status_code == 302
    assert response.headers["Location"] == "/agent/queue?sort=newest&status=all"
    page = text_of(web.get(response.headers["Location"]))
    assert "Tickets changed: 2." in page
    assert f"Not changed: {closed.number}. A ticket cannot go from Closed to Waiting on client." in page

    for ticket in (a, b):
        fresh = _ticket(ticket.id)
        assert (fresh.assignee_id, fresh.status) == (world.agent2.id, "waiting_on_client")
        assert [e.data["to"] for e in _events(ticket.id, "assigned")] == [world.agent2.id]
        assert [e.data["to"] for e in _events(ticket.id, "status_changed")] == ["waiting_on_client"]
        assert {e.actor_id for e in _events(ticket.id, "assigned")} == {world.agent.id}
    # The refused ticket is rolled back whole: its assignment (which passed) is undone too.
    fresh = _ticket(closed.id)
    assert (fresh.assignee_id, fresh.status) == (None, "closed")
    assert _events(closed.id, "assigned") == []


def test_bulk_reclassify_goes_through_the_coverage_decision_with_the_reason(web, world, login, make_ticket):
    from helpdesk.extensions import db
    from plans.models import CoverageDecision

    a = make_ticket(world.acme_user, "a", category="question")
    b = make_ticket(world.acme_user, "b", category="question")
    decisions = lambda t: db.session.scalar(  # noqa: E731
        select(func.count()).select_from(CoverageDecision).where(CoverageDecision.ticket_id == t.id))
    before = (decisions(a), decisions(b))
    login(world.agent)
    response = _post(web, [a.id, b.id], category="bug", reason="Crashes on save")
    assert response.status_code == 302
    for ticket, count in zip((a, b), before, strict=True):
        assert _ticket(ticket.id).category == "bug"
        (event,) = _events(ticket.id, "category_changed")
        assert event.data == {"from": "question", "to": "bug", "reason": "Crashes on save"}
        assert decisions(ticket) == count + 1


def test_priority_and_unassign_and_unchanged_tickets(web, world, login, make_ticket):
    from tickets import services

    a = make_ticket(world.acme_user, "a", priority="normal")
    b = make_ticket(world.acme_user, "b", priority="urgent")
    services.assign(services.Actor(world.agent), a, world.agent.id)
    login(world.agent)
    page = text_of(web.get(_post(web, [a.id, b.id], priority="urgent").headers["Location"]))
    assert "Tickets changed: 1." in page and "Tickets that already had these values: 1." in page
    assert _ticket(a.id).priority == "urgent" and len(_events(b.id, "priority_changed")) == 0
    _post(web, [a.id], assignee="none")
    assert _ticket(a.id).assignee_id is None


def test_bad_bulk_input_is_refused_with_a_message_and_the_selection_kept(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.agent)
    response = _post(web, [], status="open")
    assert response.status_code == 422
    assert "Select at least one ticket." in text_of(response)
    response = _post(web, [a.id])
    assert response.status_code == 422
    page = text_of(response)
    assert "Choose what to change." in page
    assert f'name="ticket" value="{a.id}" aria-label="Select {a.number}" checked' in page
    response = _post(web, ["12x"], status="open")
    assert response.status_code == 422 and "Unknown ticket." in text_of(response)
    response = _post(web, [a.id], status="sleeping")
    assert response.status_code == 422 and "Choose one of:" in text_of(response)
    response = _post(web, [a.id], assignee="999999")
    assert response.status_code == 302
    assert "Unknown agent." in text_of(web.get(response.headers["Location"]))
    assert _ticket(a.id).status == "new" and _ticket(a.id).assignee_id is None


def test_a_ticket_the_user_cannot_see_is_reported_not_changed(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.agent)
    page = text_of(web.get(_post(web, [a.id, 2_000_000_000], status="open").headers["Location"]))
    assert "Tickets changed: 1." in page and "Not changed: OP-2000000000. There is no such ticket." in page


def test_bulk_is_idempotent(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.agent)
    key = str(uuid.uuid4())
    first = _post(web, [a.id], assignee=str(world.agent.id), idempotency_key=key)
    web.post(f"/agent/tickets/{a.id}/assign", data={"assignee": ""})  # someone undoes it meanwhile
    again = _post(web, [a.id], assignee=str(world.agent.id), idempotency_key=key)
    assert first.status_code == again.status_code == 302
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _ticket(a.id).assignee_id is None  # the repeat changed nothing
    assert len(_events(a.id, "assigned")) == 2


def test_clients_cannot_bulk_change(web, world, login, make_ticket):
    a = make_ticket(world.acme_user, "a")
    login(world.acme_admin)
    assert _post(web, [a.id], status="closed").status_code == 403
    assert _ticket(a.id).status == "new"


# -- speed without other semantics (issue 14): what the services read is read once ------------


def _sla_state(ticket_id: int) -> tuple:
    from helpdesk.extensions import db
    from tickets.models import SlaClock, SlaPause

    t = _ticket(ticket_id)
    clocks = sorted((c.kind, c.policy_id, c.target_minutes, c.state, c.due_at, c.warning_at, c.stopped_at)
                    for c in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id)))
    pauses = sorted((p.reason, p.started_at, p.ended_at)
                    for p in db.session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id)))
    return (t.sla_policy_id, t.sla_source, t.sla_state, t.first_response_due_at, t.resolution_due_at,
            t.next_deadline_at, t.sla_check_at, t.sla_paused_seconds, clocks, pauses)


def test_several_changes_at_once_leave_the_clocks_a_fresh_refresh_would_compute(web, world, login, make_ticket):
    """Category, priority and status in one post: three refreshes of each ticket from the data read
    before the loop, each seeing what the one before it wrote (new pauses, clocks, policy)."""
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets import services
    from tickets.sla import refresh as sla

    waiting = make_ticket(world.acme_user, "waiting", category="question")
    services.change_status(services.Actor(world.agent), waiting, "waiting_on_client")
    fresh = make_ticket(world.globex_user, "fresh", category="question", priority="low")
    resolved = make_ticket(world.acme_user, "resolved", category="question")
    services.change_status(services.Actor(world.agent), resolved, "resolved")
    ids = [waiting.id, fresh.id, resolved.id]
    login(world.agent)

    page = text_of(web.get(_post(web, ids, category="bug", priority="urgent", status="open",
                                 reason="Reproduced").headers["Location"]))
    assert "Tickets changed: 3." in page
    after = {i: _sla_state(i) for i in ids}
    for ticket_id in ids:  # the same history read again from the database gives the same clocks
        sla.refresh(_ticket(ticket_id), utcnow())
    db.session.commit()
    assert {i: _sla_state(i) for i in ids} == after
    for ticket_id in ids:
        t = _ticket(ticket_id)
        assert (t.category, t.priority, t.status) == ("bug", "urgent", "open")
        assert t.first_response_due_at is not None
    # The pauses the status changes made: the wait ended, the resolved span recorded once.
    assert [(reason, end is not None) for reason, _start, end in after[waiting.id][-1]] == [("waiting_on_client", True)]
    assert [reason for reason, _start, _end in after[resolved.id][-1]] == ["resolved"]


def test_a_refused_ticket_leaves_no_notice_and_does_not_change_the_reason_of_the_next(
        web, world, login, make_ticket):
    from helpdesk.extensions import db
    from helpdesk.notifications import TICKET_ASSIGNED, OutboxEntry
    from tickets import services

    closed = make_ticket(world.acme_user, "closed", category="question")
    services.change_status(services.Actor(world.agent), closed, "closed")
    a = make_ticket(world.acme_user, "a", category="question")
    b = make_ticket(world.globex_user, "b", category="question")
    login(world.agent)

    page = text_of(web.get(_post(web, [a.id, closed.id, b.id], category="bug", reason="Crashes on save",
                                 assignee=str(world.agent2.id), status="waiting_on_client").headers["Location"]))
    assert "Tickets changed: 2." in page and f"Not changed: {closed.number}." in page
    notices = {t: db.session.scalar(select(func.count()).select_from(OutboxEntry).where(
        OutboxEntry.event == TICKET_ASSIGNED, OutboxEntry.ticket_id == t)) for t in (a.id, closed.id, b.id)}
    assert notices == {a.id: 1, closed.id: 0, b.id: 1}
    for ticket in (a, b):  # the refusal between them did not become b's reason
        (event,) = _events(ticket.id, "category_changed")
        assert event.data["reason"] == "Crashes on save"
    assert _events(closed.id, "category_changed") == [] and _ticket(closed.id).category == "question"


def test_statements_per_ticket_do_not_grow_with_reads(web, world, login, make_ticket, app):
    """No query per ticket for what the services read: each more ticket costs its own writes
    (savepoint, ticket, history, clocks), not its clocks', policies' or calendars' reads."""
    from sqlalchemy import event

    from helpdesk.extensions import db

    tickets = [make_ticket(world.acme_user if i % 2 else world.globex_user, f"t{i}", priority="low")
               for i in range(12)]
    login(world.agent)
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    def statements(ids: list[int], priority: str) -> tuple[int, int]:
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert _post(web, ids, priority=priority).status_code == 302
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(seen), sum(1 for s in seen if s.lstrip().upper().startswith("SELECT"))

    few, few_reads = statements([t.id for t in tickets[:4]], "high")
    many, many_reads = statements([t.id for t in tickets[4:]], "high")
    assert many_reads == few_reads, seen  # the reads are the same for 4 tickets as for 8
    assert (many - few) / 4 <= 7, (few, many)  # a savepoint, its release, and the writes


def test_a_category_change_reads_the_coverage_once_per_bulk(web, world, login, make_ticket, cov, clock):
    """The coverage decisions of a bulk reclassification read the clients' subscriptions, usage
    and the tickets' ledger once for the bulk: 8 tickets cost no more reads than 4."""
    from datetime import date

    from sqlalchemy import event

    from helpdesk.extensions import db

    plan = cov.plan(allowance_minutes=60, allowance_tickets=3)
    for client in (world.acme, world.globex):
        cov.production(client, date(2026, 1, 5))
        cov.subscribe(client, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    tickets = [cov.file(world.acme_user if i % 2 else world.globex_user, "question", f"t{i}") for i in range(12)]
    for ticket in tickets[::3]:
        cov.log(ticket, 30)
    login(world.agent)
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    def reads(ids: list[int]) -> int:
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert _post(web, ids, category="bug", reason="A crash").status_code == 302
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT"))

    few = reads([t.id for t in tickets[:4]])
    assert reads([t.id for t in tickets[4:]]) == few, seen
    assert all(_ticket(t.id).coverage_source == "bug_fix" for t in tickets)
