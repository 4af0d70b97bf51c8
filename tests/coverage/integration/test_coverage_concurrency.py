"""Two agents logging the last minutes of an allowance at the same moment: only one is covered.

Each agent works in its own thread, app context, session and database connection. A barrier
right after each has read the period's usage makes the race certain: without the per-client
lock both read "30 minutes left" and both take them (the control test shows exactly that);
with it the second waits for the first to commit, reads what is left, and gets overage.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.models import UsageEntry

pytestmark = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def _postgres_only(is_postgres):
    if not is_postgres:
        pytest.skip("row locks and concurrent transactions need PostgreSQL")


def race(app, cov, world, clock, monkeypatch):
    from plans.services import time_entries as engine  # where charge_time_entry looks names up

    plan = cov.plan(allowance_minutes=60, overage_policy="approval", hourly_rate="")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    first = cov.file(world.acme_user, "question", "First")
    second = cov.file(world.acme_colleague, "question", "Second")
    cov.log(first, 30)  # 30 minutes left
    jobs = [(first.id, world.agent.id), (second.id, world.agent2.id)]
    db.session.commit()
    db.session.remove()

    barrier = threading.Barrier(2, timeout=1.5)
    real_situation = engine.situation

    def situation_then_wait(*args, **kwargs):
        found = real_situation(*args, **kwargs)
        try:
            barrier.wait()  # both have read the usage (only possible without the lock)
        except threading.BrokenBarrierError:
            pass  # the other agent is waiting for our lock: go on alone
        return found

    monkeypatch.setattr(engine, "situation", situation_then_wait)
    errors: list[BaseException] = []

    def agent_logs(ticket_id: int, agent_id: int) -> None:
        from helpdesk.accounts import User
        from tickets.access import get_ticket
        from tickets.coverage import log_time
        from tickets.services import Actor

        try:
            with app.app_context():
                agent = db.session.get(User, agent_id)
                log_time(Actor(agent), get_ticket(agent, ticket_id), minutes="30", work_date="2026-11-10")
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=agent_logs, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    monkeypatch.setattr(engine, "situation", real_situation)
    allowance = db.session.scalar(
        select(func.sum(UsageEntry.minutes)).where(UsageEntry.charge == "allowance", UsageEntry.period_label == "2026-11")
    )
    pending = db.session.scalar(select(func.coalesce(func.sum(UsageEntry.minutes), 0)).where(UsageEntry.charge == "pending"))
    return allowance, pending


def test_only_one_of_two_concurrent_entries_gets_the_last_minutes(app, cov, world, clock, monkeypatch):
    assert race(app, cov, world, clock, monkeypatch) == (60, 30)


def test_control_without_the_lock_both_would_be_covered(app, cov, world, clock, monkeypatch):
    """Shows the race above is real: with the lock removed, the allowance is overspent."""
    from plans.services import time_entries as engine  # where charge_time_entry looks names up

    monkeypatch.setattr(engine, "lock_client", lambda client_id: None)
    assert race(app, cov, world, clock, monkeypatch) == (90, 0)
