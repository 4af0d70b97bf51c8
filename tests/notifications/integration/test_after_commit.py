"""Side effects run once, after the outermost commit (helpdesk.transactions.on_commit).

SQLAlchemy's `after_commit` also fires when a savepoint is released; coverage decisions and SLA
facts run in savepoints while a ticket is filed. These tests hold the helper to its rule on the
real databases, then show the two users of it (the notification relay, the SLA timers) waiting
for the real commit, and a client's filing that once waited 5 s on SQLite's write lock.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.notifications import TICKET_FILED, notify, recipient_for
from helpdesk.notifications.models import OutboxEntry
from helpdesk.transactions import on_commit, on_commit_batch


def _begin() -> None:
    db.session.execute(select(1))  # autobegin: a transaction is open from here


def test_callbacks_wait_for_the_outermost_commit_and_run_once(app):
    calls: list[str] = []
    _begin()
    on_commit(lambda: calls.append("outer"))
    with db.session.begin_nested():
        on_commit(lambda: calls.append("released savepoint"))
        with db.session.begin_nested():
            on_commit(lambda: calls.append("savepoint in a savepoint"))
    assert calls == []  # two savepoints released, the transaction still open
    with pytest.raises(RuntimeError), db.session.begin_nested():
        on_commit(lambda: calls.append("rolled-back savepoint"))
        raise RuntimeError("refused")
    savepoint = db.session.begin_nested()
    with db.session.begin_nested():
        on_commit(lambda: calls.append("released inside a rolled-back savepoint"))
    savepoint.rollback()
    assert calls == []
    db.session.commit()
    assert calls == ["outer", "released savepoint", "savepoint in a savepoint"]
    _begin()
    db.session.commit()
    assert calls == ["outer", "released savepoint", "savepoint in a savepoint"]  # once


def test_a_rollback_or_a_close_drops_the_callbacks(app):
    calls: list[str] = []
    _begin()
    on_commit(lambda: calls.append("rolled back"))
    db.session.rollback()
    _begin()
    on_commit(lambda: calls.append("closed"))
    db.session.close()
    _begin()
    db.session.commit()
    assert calls == []


def test_outside_a_transaction_a_callback_runs_at_once(app):
    calls: list[str] = []
    db.session.close()
    assert not db.session().in_transaction()
    on_commit(lambda: calls.append("now"))
    assert calls == ["now"]


def test_a_batch_is_called_once_with_the_items_that_survived(app):
    batches: list[list[int]] = []
    _begin()
    on_commit_batch(batches.append, 1)
    with db.session.begin_nested():
        on_commit_batch(batches.append, 2)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        on_commit_batch(batches.append, 3)
        raise RuntimeError("refused")
    on_commit_batch(batches.append, 4)
    db.session.commit()
    assert batches == [[1, 2, 4]]


def test_a_callback_may_use_the_session_and_a_failing_one_is_logged_not_raised(app, world, expect_errors):
    from helpdesk.accounts import User

    expect_errors("after-commit callback", reason="the callback below fails on purpose")
    seen: list[str] = []

    def fail() -> None:
        raise RuntimeError("boom")

    _begin()
    on_commit(fail)
    on_commit(lambda: seen.append(db.session.get(User, world.agent.id).email))
    db.session.commit()  # does not raise: the data is committed whatever a callback does
    assert seen == ["agent@vendor.example"]


@pytest.fixture
def with_redis(app: Any, redis_url: str) -> Any:
    app.config["REDIS_URL"] = redis_url
    from helpdesk.jobs import redis_connection

    return redis_connection(redis_url)


def test_an_outbox_row_written_in_a_savepoint_is_relayed_after_the_outer_commit(app, world, with_redis):
    queue = Queue("notifications", connection=with_redis)
    _begin()
    with db.session.begin_nested():
        entry = notify(TICKET_FILED, recipients=[recipient_for(world.agent)], values={"subject": "x"})
        db.session.flush()
    assert queue.count == 0  # released, not committed: no job may look for this row yet
    db.session.commit()
    assert queue.job_ids and queue.fetch_job(queue.job_ids[0]).args == (entry.id,)


def test_sla_timers_set_in_a_savepoint_wait_for_the_outer_commit(app, world, make_ticket, with_redis):
    from helpdesk.clock import utcnow
    from helpdesk.jobs import get_queue
    from tickets.sla import refresh as sla

    ticket = make_ticket(world.acme_user, category="bug", priority="urgent")
    registry = ScheduledJobRegistry(queue=get_queue())
    for job_id in registry.get_job_ids():  # the filing's own timers, set after its commit
        registry.remove(job_id, delete_job=True)
    assert registry.count == 0
    with db.session.begin_nested():
        sla.refresh(ticket, utcnow())
    assert registry.count == 0
    db.session.commit()
    assert any(job_id.startswith(f"sla-{ticket.id}-") for job_id in registry.get_job_ids())


def test_a_client_over_the_ticket_allowance_files_and_the_manager_is_told_after_the_commit(
    app, world, cov, clock, login, web
):
    """The coverage decision runs in a savepoint: its notice once went out before the commit."""
    plan = cov.plan(allowance_minutes="", allowance_tickets=1, overage_policy="approval", hourly_rate="")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    cov.file(world.acme_user, subject="The one the plan covers")
    login(world.acme_user)
    started = time.monotonic()
    response = web.post("/portal/tickets/new", data={
        "subject": "One more question", "description": "How do I print labels?",
        "category": "question", "priority": "normal"})
    took = time.monotonic() - started
    assert response.status_code == 302
    db.session.rollback()
    [approval] = db.session.scalars(select(OutboxEntry).where(OutboxEntry.event == "approval.needed")).all()
    assert approval.state == "done"  # delivered inline, after the commit, by a session that could see it
    mails = [p.read_text() for p in Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")]
    assert any("manager@vendor.example" in m for m in mails)
    assert took < 3.0  # no wait on SQLite's write lock (it was 5 s: the busy timeout)
