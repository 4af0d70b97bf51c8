"""Benchmark: notifications delivered per second through outbox -> RQ -> SMTP, against RQ's own rate.

Starts a Redis of its own, an aiosmtpd server on loopback and two `flask worker` processes on a
fresh PostgreSQL database (TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres).
Then, for the default in-process workers (and with BENCH_FORK=1 also for workers that fork a work
horse per job), steps 1 and 2 ROUNDS times (each pair back to back, since the machine may be
shared; the ratio printed is the median of the pairs), then step 3:

1. RQ's yardstick: N no-op jobs enqueued while the workers are suspended, then timed from the
   first job taken to the queue drained.
2. Notifications: N outbox entries, each written and committed in its own transaction as a
   service does (the commit relays it to RQ), while the workers are suspended; then timed from
   the first job taken to the last message accepted by the SMTP server.
3. Latency: notifications committed at a steady rate below capacity (at most half the measured
   rate); commit-to-SMTP-accept p50/p95.

Prints the rates and the ratio notifications/no-op, and exits with status 1 when the ratio of the
default workers is below MIN_RATIO (0.5, the goal of issue 12).
Run: `.venv/bin/python bench/bench_notifications.py`.
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from rq.registry import StartedJobRegistry  # noqa: E402
from rq.suspension import resume, suspend  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.notifications.support import RedisServer, Workers, free_port, wait_until  # noqa: E402

JOBS = int(os.environ.get("BENCH_JOBS", "600"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
FORK_TOO = os.environ.get("BENCH_FORK") == "1"  # also measure WORKER_FORK=1 (adds about a minute)
MIN_RATIO = 0.5  # notifications delivered / RQ no-op jobs, default workers (issue 12)
LATENCY_RATE = 25  # notifications per second in the latency phase
LATENCY_SECONDS = 4
MESSAGE_ID = re.compile(rb"^Message-ID: <opiekun\.(\d+)\.\d+@", re.MULTILINE | re.IGNORECASE)


class CountingSink:
    """Accepts everything; notes when each outbox entry's message arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.lock = threading.Lock()
        port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.url = f"smtp://127.0.0.1:{port}"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        if found:
            with self.lock:
                self.arrived[int(found.group(1))] = time.perf_counter()
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)


def fresh_database() -> tuple[str, str]:
    from helpdesk.config import normalise_database_url

    base = make_url(normalise_database_url(
        os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"))
    name = f"opiekun_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def drop_database(name: str) -> None:
    from helpdesk.config import normalise_database_url

    base = make_url(normalise_database_url(
        os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def wait_first_taken(queue: Queue, total: int) -> float:
    """The moment the workers take the first of `total` queued jobs (polled every millisecond)."""
    while queue.count >= total:
        time.sleep(0.001)
    return time.perf_counter()


def noop_rate(queue: Queue, jobs: int) -> float:
    from helpdesk.notifications.delivery import noop_job

    connection = queue.connection
    suspend(connection)
    time.sleep(1.2)  # a worker that was waiting for a job sees the suspension before it takes one
    prepared = [Queue.prepare_data(noop_job, (), result_ttl=0) for _ in range(jobs)]
    with connection.pipeline() as pipe:
        queue.enqueue_many(prepared, pipeline=pipe)
        pipe.execute()
    resume(connection)
    began = wait_first_taken(queue, jobs)
    started = StartedJobRegistry(queue=queue)
    while queue.count or started.count:
        time.sleep(0.002)
    return (jobs - 1) / (time.perf_counter() - began)


def write_notifications(app, count: int, recipient) -> list[tuple[int, float]]:
    """Each notification in its own transaction, as a service commits; returns (id, commit time)."""
    from helpdesk.extensions import db
    from helpdesk.notifications import SLA_WARNING, notify

    written = []
    for number in range(count):
        entry = notify(SLA_WARNING, recipients=[recipient], ticket_id=number + 1,
                       values={"number": f"OP-{number + 1}", "subject": "Printer station offline",
                               "priority": "high", "clock": "first_response",
                               "instant": "2026-12-01T10:00:00+00:00", "links": {"staff": f"/agent/tickets/{number + 1}"}})
        db.session.commit()
        written.append((entry.id, time.perf_counter()))
    return written


def notification_rate(app, queue: Queue, sink: CountingSink, recipient, jobs: int) -> float:
    connection = queue.connection
    suspend(connection)
    time.sleep(1.2)
    before = sink.count()
    with app.app_context():
        write_notifications(app, jobs, recipient)
    resume(connection)
    began = wait_first_taken(queue, jobs)
    wait_until(lambda: sink.count() >= before + jobs, timeout=120, interval=0.002)
    return (jobs - 1) / (time.perf_counter() - began)


def latency(app, sink: CountingSink, recipient, rate: float) -> tuple[float, float]:
    from helpdesk.extensions import db
    from helpdesk.notifications import SLA_WARNING, notify

    commits: dict[int, float] = {}
    with app.app_context():
        began = time.perf_counter()
        for number in range(int(rate * LATENCY_SECONDS)):
            pause = began + number / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            entry = notify(SLA_WARNING, recipients=[recipient], ticket_id=number + 1,
                           values={"number": f"OP-{number + 1}", "subject": "Latency", "priority": "high",
                                   "clock": "resolution", "instant": "2026-12-01T10:00:00+00:00"})
            db.session.commit()
            commits[entry.id] = time.perf_counter()
    wait_until(lambda: all(i in sink.arrived for i in commits), timeout=60, interval=0.01)
    waits = sorted((sink.arrived[i] - t) * 1000 for i, t in commits.items())
    return statistics.median(waits), waits[int(len(waits) * 0.95) - 1]


def run_mode(fork: bool, database_url: str, redis: RedisServer, sink: CountingSink, tmp: Path) -> dict[str, float]:
    from app import create_app
    from helpdesk.jobs import redis_connection
    from helpdesk.notifications import Recipient

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "REDIS_URL": redis.url,
        "SMTP_URL": sink.url, "MAIL_OUTBOX_DIR": str(tmp / "outbox"),
    })
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis.url, "SMTP_URL": sink.url, "SECRET_KEY": "bench",
           "WORKER_FORK": "1" if fork else "0", "MAIL_OUTBOX_DIR": str(tmp / "outbox")}
    workers = Workers(tmp / ("fork" if fork else "nofork"), env)
    recipient = Recipient(email="agent@vendor.example", name="Agnes Agent", language="pl", role="agent")
    try:
        with app.app_context():
            connection = redis_connection()
            queue = Queue("notifications", connection=connection)
            workers.start()
            workers.start()
            wait_until(lambda: len(Worker.all(connection=connection)) == 2, timeout=30)
            write_notifications(app, 20, recipient)  # warm up: imports, templates, connections
        wait_until(lambda: sink.count() >= 20, timeout=30)
        jobs = JOBS if not fork else max(100, JOBS // 5)  # forking is slow: fewer jobs, same method
        rounds = []  # the machine may be shared: pair each no-op run with a delivery run right after
        for _ in range(ROUNDS):
            with app.app_context():
                noop = noop_rate(queue, jobs)
            rounds.append((noop, notification_rate(app, queue, sink, recipient, jobs)))
        ratios = [delivered / noop for noop, delivered in rounds]
        noop = statistics.median(n for n, _ in rounds)
        delivered = statistics.median(d for _, d in rounds)
        rate = min(LATENCY_RATE, delivered / 2)
        p50, p95 = latency(app, sink, recipient, rate)
        return {"noop": noop, "delivered": delivered, "ratio": statistics.median(ratios), "ratios": ratios,
                "p50": p50, "p95": p95, "rate": rate}
    finally:
        workers.stop_all()
        with app.app_context():
            leftovers = connection.keys("rq:*")
            if leftovers:
                connection.delete(*leftovers)
            from helpdesk.extensions import db

            db.session.remove()
            db.engine.dispose()


def main() -> int:
    import tempfile

    from flask_migrate import upgrade

    from app import create_app

    database_url, name = fresh_database()
    tmp = Path(tempfile.mkdtemp(prefix="opiekun-bench-"))
    redis = RedisServer(tmp / "redis")
    sink = CountingSink()
    began = time.perf_counter()
    try:
        migrate_app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"})
        with migrate_app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            from helpdesk.extensions import db

            db.engine.dispose()
        redis.start()
        sink.controller.start()
        print(f"notifications benchmark: 2 flask workers, PostgreSQL, Redis, aiosmtpd; {JOBS} jobs per run, "
              f"{ROUNDS} rounds")
        results = {}
        for fork in (False, True) if FORK_TOO else (False,):
            mode = "forking workers (WORKER_FORK=1)" if fork else "in-process workers (default)"
            r = results[fork] = run_mode(fork, database_url, redis, sink, tmp)
            print(f"\n{mode}")
            print(f"  RQ no-op jobs:              {r['noop']:8.1f} /s   (median of {ROUNDS} runs)")
            print(f"  notifications delivered:    {r['delivered']:8.1f} /s   (outbox -> RQ -> SMTP, 1 recipient each)")
            print(f"  ratio delivered / no-op:    {r['ratio']:8.2f}     (median; runs: "
                  f"{', '.join(f'{x:.2f}' for x in r['ratios'])})")
            print(f"  commit-to-delivery latency: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms "
                  f"(at {r['rate']:.0f}/s)")
        default = results[False]
        verdict = "ok" if default["ratio"] >= MIN_RATIO else "TOO SLOW"
        print(f"\nratio (default workers): {default['ratio']:.2f} (goal at least {MIN_RATIO}): {verdict}   "
              f"p95 latency: {default['p95']:.1f} ms   total {time.perf_counter() - began:.0f} s")
        return 0 if default["ratio"] >= MIN_RATIO else 1
    finally:
        try:
            sink.controller.stop()
        except (RuntimeError, AssertionError):
            pass
        redis.kill()
        drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
