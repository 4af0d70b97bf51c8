"""Recovery with real processes: a SIGKILLed `flask worker` and a Redis that was down.

A killed worker must leave nothing running that holds the scheduler's locks, and its successor
must schedule within a bounded time; notifications whose relay Redis refused must go out with
the next sweep once Redis is back, not after the relay grace period.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from typing import Any

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.notifications.models import OutboxEntry
from tests.notifications.support import RedisServer, Workers, wait_until, worker_env
from tickets.services import Actor, file_ticket


@pytest.fixture
def redis_server(tmp_path: Any):
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def workers(app: Any, migrated: str, redis_server: RedisServer, tmp_path: Any):
    found = Workers(tmp_path / "workers", worker_env(
        migrated, redis_server.url, None, tmp_path / "outbox",
        NOTIFY_RELAY_GRACE_SECONDS="120", NOTIFY_SWEEP_SECONDS="0.5"))
    try:
        yield found
    finally:
        found.stop_all()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_sigkilled_worker_leaves_no_scheduler_behind_and_its_successor_schedules(
    app, redis_server, workers
):
    import redis

    connection = redis.Redis.from_url(redis_server.url)
    first = workers.start()
    lock = "rq:scheduler-lock:opiekun"
    wait_until(lambda: connection.exists(lock), timeout=30)
    os.kill(first.pid, signal.SIGKILL)  # the worker alone, as the OOM killer or `kill -9 PID` would
    first.wait(timeout=10)
    time.sleep(0.5)
    orphans = _group_alive(first.pid)
    # Whatever a supervisor does with leftovers (systemd kills the rest of the unit), the
    # successor must not wait long for the dead worker's locks.
    workers.kill(first)
    assert not orphans, "a process of the killed worker (its scheduler) is still running\n" + workers.logs()
    workers.start()
    from helpdesk.notifications.delivery import noop_job

    job = Queue("opiekun", connection=connection).enqueue_in(timedelta(seconds=3), noop_job, result_ttl=600)
    started = time.monotonic()
    wait_until(lambda: Job.fetch(job.id, connection=connection).get_status() == JobStatus.FINISHED,
               timeout=40, interval=0.2)
    assert time.monotonic() - started < 40
    connection.close()


def test_notifications_redis_refused_go_out_with_the_next_sweep_once_it_is_back(
    app, world, redis_server, workers, tmp_path
):
    app.config.update(REDIS_URL=redis_server.url, NOTIFY_RELAY_GRACE_SECONDS=120)
    redis_server.kill()
    file_ticket(Actor(world.acme_user), subject="Redis is down", description="Keep it.", category="bug",
                priority="high")
    db.session.rollback()
    entries = list(db.session.scalars(select(OutboxEntry)))
    assert entries and all(e.state == "pending" for e in entries)
    assert all(e.due_at <= utcnow() for e in entries)  # due now: the grace is for relays in flight
    redis_server.start()
    workers.start()
    outbox = tmp_path / "outbox"

    def sent() -> bool:
        db.session.rollback()
        return all(e.state == "done" for e in db.session.scalars(select(OutboxEntry)))

    wait_until(sent, timeout=20, interval=0.2)  # a few sweep intervals; the grace period is 120 s
    assert len(list(outbox.glob("*.eml"))) == 3
