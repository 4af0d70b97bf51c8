"""Views of the agent queue (tickets/saved_views.py) on both databases: built-in views, saved
personal and shared views, their counts (one statement per page, equal to a recount), and who
may change which view."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.samples import recorded_statements, text_of

OPEN = ("new", "open", "waiting_on_client")


def _queue_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a href="/agent/tickets/(\d+)(?:\?[^"]*)?">', page)]


def _sidebar(page: str) -> dict[str, str]:
    """The views' counts as the page shows them, by view key."""
    return dict(re.findall(r'data-view="([^"]+)">\s*<span>.*?</span>\s*<span class="count">([^<]*)</span>', page, re.S))


@pytest.fixture
def varied(world, make_ticket):
    """30 tickets with random assignees, statuses, due instants, approvals and unconfirmed categories."""
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.models import Ticket

    rng = random.Random(14)
    requesters = (world.acme_user, world.acme_colleague, world.globex_user)
    now = utcnow()
    for n in range(30):
        ticket = make_ticket(rng.choice(requesters), f"Ticket {n} {rng.choice(['żółw', 'kurier', 'faktura'])}")
        db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(
            status=rng.choice(("new", "open", "waiting_on_client", "resolved", "closed")),
            assignee_id=rng.choice((None, world.agent.id, world.agent2.id)),
            # away from the 2-hour edge, so the page's own clock reads the same
            next_deadline_at=rng.choice((None, now - timedelta(hours=1), now + timedelta(minutes=30),
                                         now + timedelta(hours=5))),
            sla_check_at=None,  # the page's inline SLA sweep leaves these tickets alone
            coverage_approval=rng.choice((None, None, "pending", "billable")),
            category_to_confirm=rng.random() < 0.3,
        ))
    db.session.commit()
    return now


def _recount(world: Any, now: Any, who: Any) -> dict[str, int]:
    """The built-in views' numbers, counted here in Python from every ticket."""
    from helpdesk.extensions import db
    from tickets.models import Ticket

    rows = db.session.scalars(select(Ticket)).all()
    open_ = [t for t in rows if t.status in OPEN]
    return {
        "mine": sum(t.assignee_id == who.id for t in open_),
        "unassigned": sum(t.assignee_id is None for t in open_),
        "breaching": sum(t.next_deadline_at is not None and now < t.next_deadline_at <= now + timedelta(hours=2)
                         for t in open_),
        "waiting": sum(t.status == "waiting_on_client" for t in rows),
        "category_to_confirm": sum(t.category_to_confirm for t in open_),
        "awaiting_approval": sum(t.coverage_approval == "pending" for t in rows),
    }


def test_counts_equal_a_recount(app, world, varied):
    from tickets.saved_views import counts, save_view, views_for

    expected = _recount(world, varied, world.agent)
    assert all(expected.values()), expected  # the sample exercises every view
    save_view(world.agent, name="Żółwie", args={"q": "zolw", "status": "all"})
    save_view(world.agent2, name="Kurier shared", args={"q": "kurier"}, shared=True)
    views = views_for(world.agent)
    found = counts(world.agent, views, varied)
    for key, n in expected.items():
        assert found[key] == n, key
    by_name = {v.name: v.key for v in views}
    assert found[by_name["Żółwie"]] == sum(" żółw" in t for t in _subjects(None))
    # a search without a status looks through every status
    assert found[by_name["Kurier shared"]] == sum(" kurier" in t for t in _subjects(None))
    # another agent: "Mine" is theirs
    assert counts(world.agent2, views_for(world.agent2), varied)["mine"] == _recount(world, varied, world.agent2)["mine"]


def _subjects(statuses: tuple[str, ...] | None) -> list[str]:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    query = select(Ticket.subject)
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    return list(db.session.scalars(query))


def test_the_page_counts_every_view_in_one_statement(app, web, world, login, varied):
    from helpdesk.extensions import db
    from tickets.saved_views import save_view

    for n in range(4):
        save_view(world.agent, name=f"View {n}", args={"priority": "normal", "q": f"ticket {n}"})
    login(world.agent)
    web.get("/agent/queue")  # the inline SLA sweep runs at most once a minute: let it run now
    with recorded_statements(db.engine, parameters=True) as statements:
        page = text_of(web.get("/agent/queue"))
    # (the header's unread notifications are counted too, from inbox_items: not a view)
    counting = [s for s, _ in statements if "count(*)" in s and "FROM tickets" in s]
    assert len(counting) == 1, counting
    shown = _sidebar(page)
    assert len(shown) == 10, shown
    expected = _recount(world, varied, world.agent)
    for key, n in expected.items():
        assert shown[key] == str(n), key


def test_counts_stop_at_the_cap(app_config, app, web, world, login, varied):
    app.config["VIEW_COUNT_CAP"] = 2
    login(world.agent)
    shown = _sidebar(text_of(web.get("/agent/queue")))
    expected = _recount(world, varied, world.agent)
    for key, n in expected.items():
        assert shown[key] == ("2+" if n > 2 else str(n)), key


def test_a_builtin_view_is_the_queue_with_its_filters(app, web, world, login, varied):
    from helpdesk.extensions import db
    from tickets.models import Ticket

    login(world.agent)
    mine = _queue_ids(text_of(web.get("/agent/queue?view=mine&sort=newest")))
    expected = db.session.scalars(select(Ticket.id).where(Ticket.assignee_id == world.agent.id,
                                                          Ticket.status.in_(OPEN)).order_by(Ticket.id.desc())).all()
    assert mine == list(expected)
    confirm = _queue_ids(text_of(web.get("/agent/queue?view=category_to_confirm&sort=newest")))
    assert confirm == list(db.session.scalars(select(Ticket.id).where(
        Ticket.category_to_confirm.is_(True), Ticket.status.in_(OPEN)).order_by(Ticket.id.desc())))
    approval = _queue_ids(text_of(web.get("/agent/queue?view=awaiting_approval&sort=newest")))
    assert approval == list(db.session.scalars(select(Ticket.id).where(
        Ticket.coverage_approval == "pending").order_by(Ticket.id.desc())))
    # an argument beside the view narrows it (a search within the view)
    within = _queue_ids(text_of(web.get("/agent/queue", query_string={"view": "mine", "q": "kurier", "sort": "newest"})))
    assert set(within) <= set(mine)
    assert web.get("/agent/queue?view=nonsense").status_code == 404
    assert web.get("/agent/queue?view=424242").status_code == 404


def test_saving_renaming_and_deleting_views(app, web, world, login, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import SavedView

    urgent = make_ticket(world.acme_user, "Żółw urgent", priority="urgent")
    make_ticket(world.acme_user, "Żółw normal")
    login(world.agent)
    # blank name: 422, the message by the field, the filters kept
    refused = web.post("/agent/views", data={"name": "  ", "q": "zolw", "priority": "urgent"})
    assert refused.status_code == 422
    assert "This field is required." in text_of(refused)
    assert db.session.scalar(select(SavedView.id)) is None
    saved = web.post("/agent/views", data={"name": "Pilne żółwie", "q": "zolw", "priority": "urgent",
                                           "cursor": "ignored", "limit": "3"})
    assert saved.status_code == 302
    view = db.session.scalars(select(SavedView)).one()
    assert view.args == {"q": "zolw", "priority": "urgent"} and not view.shared
    page = text_of(web.get(saved.headers["Location"]))
    assert _queue_ids(page) == [urgent.id] and "Pilne żółwie" in page
    # bad filters are refused, not saved
    assert web.post("/agent/views", data={"name": "Bad", "priority": "sometimes"}).status_code == 400
    # personal: another agent neither sees nor uses nor changes it
    login(world.agent2)
    assert "Pilne żółwie" not in text_of(web.get("/agent/queue"))
    assert web.get(f"/agent/queue?view={view.id}").status_code == 404
    assert web.post(f"/agent/views/{view.id}/rename", data={"name": "Mine now"}).status_code == 404
    assert web.post(f"/agent/views/{view.id}/delete").status_code == 404
    # shared: visible to all staff, still changed by its owner only
    login(world.agent)
    assert web.post(f"/agent/views/{view.id}/rename", data={"name": "Żółwie pilne", "shared": "y"}).status_code == 302
    login(world.agent2)
    assert "Żółwie pilne" in text_of(web.get("/agent/queue"))
    assert _queue_ids(text_of(web.get(f"/agent/queue?view={view.id}"))) == [urgent.id]
    assert web.post(f"/agent/views/{view.id}/rename", data={"name": "Mine now"}).status_code == 403
    assert web.post(f"/agent/views/{view.id}/delete").status_code == 403
    db.session.expire_all()
    assert db.session.get(SavedView, view.id).name == "Żółwie pilne"
    # rename refused: 422 and the typed name kept
    login(world.agent)
    blank = web.post(f"/agent/views/{view.id}/rename", data={"name": "x" * 81})
    assert blank.status_code == 422 and 'value="' + "x" * 81 + '"' in text_of(blank)
    assert web.post(f"/agent/views/{view.id}/delete").status_code == 302
    assert db.session.scalar(select(SavedView.id)) is None
    # clients have no views
    login(world.acme_user)
    assert web.post("/agent/views", data={"name": "Mine"}).status_code == 403


@pytest.mark.parametrize(("args", "index"), [
    ({"approval": "pending", "status": "all"}, "ix_tickets_coverage_approval_id"),
    ({"unconfirmed": "1"}, "ix_tickets_category_to_confirm_id"),
    # the assignee's index, or (with its statistics, as at 100,000) the open tickets' by assignee (0024)
    ({"assignee": "none"}, "(ix_tickets_assignee_id_id|ix_tickets_open_assignee_due_id)"),
])
def test_sqlite_reads_a_rare_value_s_index_whatever_its_statistics_say(app, world, args, index):
    """sqlite_stat1 as ANALYZE writes it at 100,000 tickets, where almost every ticket has no
    approval, a confirmed category and an assignee: one average per index, the whole table
    for these three. The planner still reads the rare value's index (likelihood), not every
    open ticket or the whole table. PostgreSQL keeps the most common values and needs no hint."""
    from sqlalchemy import func, text

    from helpdesk.extensions import db
    from tickets.queue import filtered_tickets, parse_queue_filters

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner only")
    stats = {"ix_tickets_coverage_approval_id": "100000 100000 1", "ix_tickets_category_to_confirm_id": "100000 100000 1",
             "ix_tickets_assignee_id_id": "100000 50000 1", "ix_tickets_status_id": "100000 20000 1",
             # the open tickets' indexes by status, priority and SLA state (migration 0026)
             "ix_tickets_open_status_due_id": "5656 1886 5 1", "ix_tickets_open_priority_due_id": "5656 1414 4 1",
             "ix_tickets_open_sla_state_due_id": "5656 1414 5 1", "ix_tickets_open_assignee_due_id": "5656 2828 5 1"}
    db.session.execute(text("ANALYZE"))  # creates sqlite_stat1
    db.session.execute(text("DELETE FROM sqlite_stat1 WHERE tbl = 'tickets'"))
    for name, stat in stats.items():
        db.session.execute(text("INSERT INTO sqlite_stat1 VALUES ('tickets', :idx, :stat)"), {"idx": name, "stat": stat})
    db.session.commit()
    try:
        db.session.execute(text("ANALYZE sqlite_schema"))  # the planner reloads the statistics
        query = select(func.count()).select_from(
            filtered_tickets(world.agent, parse_queue_filters(args)).limit(1001).subquery())
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert re.search(rf"USING (COVERING )?INDEX {index} ", plan), plan
    finally:
        db.session.rollback()
        db.session.execute(text("DELETE FROM sqlite_stat1"))
        db.session.commit()
