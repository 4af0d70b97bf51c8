"""How many statements the agent's two busiest pages send: pinned, so a regression fails.

The agent queue and the ticket page are the pages agents load all day; on PostgreSQL each
statement is a round trip, so their number is part of their speed (bench/run measures the rest).
The counts are exact: a new read on either page must lower another or change the number here,
deliberately. A page with more rows (queue rows, a ticket's history, replies, time entries)
sends as many statements as one with few: no query per row.
"""

from __future__ import annotations

from datetime import date

from tests.samples import history_shared_by_two_agents, recorded_statements

# Statements per page, after a first request (the SLA engine's inline sweep, at most once a
# minute, and a calendar's first load are not part of every page).
# user, tickets (with their policies' calendars' keys: tickets.queue.queue_listing), clients, staff,
# saved views, views' counts, header
QUEUE = 7
# user, ticket, presence (SQLite: upsert, prune, others present; PostgreSQL: one statement),
# history, staff (the forms' choices, and the names in the history), thread, help suggestions,
# attachments, SLA clocks, SLA facts, the policy's calendar, macros, time entries, their charges,
# coverage decisions, header
TICKET_PAGE = {"postgresql": 16, "sqlite": 18}




def _count(web, db, path: str) -> tuple[int, list[str]]:  # noqa: ANN001
    web.get(path)  # the first: the inline sweep and calendar loads happen here, if at all
    with recorded_statements(db.engine) as seen:
        response = web.get(path)
    assert response.status_code == 200
    return len(seen), seen


def _listing(seen: list[str]) -> str:
    return "\n".join(" ".join(s.split())[:160] for s in seen)


def test_queue_statements_are_pinned_and_do_not_grow_with_rows(app, web, world, login):
    from helpdesk.extensions import db

    history_shared_by_two_agents(world, 60)
    login(world.agent)

    few, seen = _count(web, db, "/agent/queue?status=all&limit=10")
    assert few == QUEUE, _listing(seen)
    many, seen = _count(web, db, "/agent/queue?status=all&limit=50")
    assert many == QUEUE, _listing(seen)
    default, seen = _count(web, db, "/agent/queue")  # the bench's page: open tickets, nearest due first
    assert default == QUEUE, _listing(seen)


def test_ticket_page_statements_are_pinned_and_do_not_grow_with_its_history(app, web, world, login, make_ticket):
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets import coverage, presence, services

    quiet = make_ticket(world.acme_user, "A quiet ticket")
    busy = make_ticket(world.acme_user, "A busy ticket with a long history")
    agent = services.Actor(world.agent)
    for n in range(4):
        services.assign(agent, busy, world.agent2.id if n % 2 == 0 else world.agent.id)
        services.add_message(agent, busy, body=f"Reply number {n}")
        services.add_message(agent, busy, body=f"Note number {n}", internal=True)
        coverage.log_time(agent, busy, minutes=15, work_date=date.today().isoformat(), note=f"work {n}")
    presence.mark_present(busy.id, world.agent2.id, utcnow())  # someone else has it open
    login(world.agent)

    dialect = db.engine.dialect.name
    few, seen = _count(web, db, f"/agent/tickets/{quiet.id}")
    assert few == TICKET_PAGE[dialect], _listing(seen)
    many, seen = _count(web, db, f"/agent/tickets/{busy.id}")
    assert many == TICKET_PAGE[dialect], _listing(seen)
    page = web.get(f"/agent/tickets/{busy.id}").get_data(as_text=True)
    assert "Artur Agent" in page  # the assignee's name (the staff list) and who else is here
