"""Benchmark: recording 5,000 tickets whose SLA breaches all fall due at once (the set-based sweep).

The goal (issue 12): at least 1,000 due tickets per second, so 5,000 due at once are recorded
within 10 s. This builds a database of its own through the Alembic revisions (a temporary SQLite
file by default, or a new PostgreSQL database named after a URL given, dropped at the end),
bulk-inserts DUE open tickets filed five hours ago on a 24/7 policy (first response 60 min,
resolution 240 min: both clocks breached, 2 facts and 2 notifications per ticket) with their stored
clocks, as filing leaves them, and times `tickets.sla.jobs.sweep` until every fact and its outbox rows are committed (the goal),
and apart the hand-off of the outbox rows to RQ after each commit (Redis db BENCH_REDIS_URL,
default .../15, flushed after).

For the same work done the old way it times the one-ticket-per-transaction path
(`_sweep_one_by_one`: re-read, refresh, commit) on BASELINE more tickets and prints the ratio.
Beside the wall time it prints what does not depend on the machine's load: the statements the
sweep sent and its CPU time in this process (without the hand-off). Exits 1 below the goal: under
GOAL tickets/s recording, or over GOAL_SECONDS for the DUE tickets with the hand-off to RQ.
BENCH_PROFILE=1 prints a cProfile of the sweep (then the times include the profiler's).

    .venv/bin/python bench/bench_sla_sweep_bulk.py [postgresql://postgres@127.0.0.1:5432/postgres]
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import secrets  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DUE = 5_000
BASELINE = 300
GOAL = 1_000  # due tickets per second, recording (facts and outbox rows committed)
GOAL_SECONDS = 10.0  # for the DUE tickets, with the hand-off of their notifications to RQ


def insert_due(db, count: int, now: datetime, client_id: int, user_id: int, policy) -> list[int]:
    """`count` open tickets filed 5 h ago with both clocks stored as filing computed them."""
    from sqlalchemy import insert, select

    from tickets.models import SlaClock, Ticket

    filed = now - timedelta(hours=5)
    first, resolution = filed + timedelta(minutes=60), filed + timedelta(minutes=240)
    first_warning, resolution_warning = filed + timedelta(minutes=48), filed + timedelta(minutes=192)
    before = db.session.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) or 0
    db.session.execute(insert(Ticket), [{
        "client_id": client_id, "requester_id": user_id, "subject": f"Station {n} offline",
        "description": "Generated.", "category": "question", "priority": "normal", "status": "new",
        "created_at": filed, "updated_at": filed, "sla_policy_id": policy.id, "sla_state": "running",
        "first_response_due_at": first, "resolution_due_at": resolution, "next_deadline_at": first,
        "sla_check_at": first_warning, "sla_paused_seconds": 0,
    } for n in range(count)])
    ids = list(db.session.scalars(select(Ticket.id).where(Ticket.id > before).order_by(Ticket.id)))
    db.session.execute(insert(SlaClock), [{
        "ticket_id": ticket_id, "kind": kind, "policy_id": policy.id, "target_minutes": minutes,
        "warning_percent": 80, "state": "running", "due_at": due, "warning_at": warning, "stopped_at": None,
        "outcome": None, "elapsed_seconds": 0, "paused_seconds": 0, "updated_at": filed,
    } for ticket_id in ids for kind, minutes, due, warning in (
        ("first_response", 60, first, first_warning), ("resolution", 240, resolution, resolution_warning))])
    db.session.commit()
    return ids


def main() -> None:
    from app import create_app
    from helpdesk.config import normalise_database_url

    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    config = {"SECRET_KEY": "bench", "REDIS_URL": redis_url, "SLA_INLINE_SWEEP": False}
    if len(sys.argv) > 1:
        base = make_url(normalise_database_url(sys.argv[1]))
        name = f"opiekun_bench_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            config["SQLALCHEMY_DATABASE_URI"] = base.set(database=name).render_as_string(hide_password=False)
            ok = run(create_app(config), "PostgreSQL")
        finally:
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                             {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as folder:
            config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder}/bench.sqlite3"
            ok = run(create_app(config), "SQLite")
    sys.exit(0 if ok else 1)


def run(app, label: str) -> bool:
    from flask_migrate import upgrade
    from sqlalchemy import event

    from helpdesk.accounts import create_user
    from helpdesk.calendars.models import builtin_calendars
    from helpdesk.calendars.policies import PRIORITIES, PolicyInput, save_policy
    from helpdesk.companies import create_client
    from helpdesk.extensions import db
    from helpdesk.jobs import redis_connection
    from helpdesk.notifications import outbox
    from tickets.sla.jobs import SweepResult, _sweep_one_by_one, sweep

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        redis_connection().flushdb()
        app.config["PASSWORD_HASH"] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
        client = create_client("bench", "Bench Ltd")
        user = create_user(email="bench@bench.example", password="bench-password", role="client",
                           client_slug="bench")
        create_user(email="lead@opiekun.example", password="bench-password", role="manager")
        targets = {f"{clock}_{p}": m for p in PRIORITIES for clock, m in (("first_response", 60), ("resolution", 240))}
        policy = save_policy(None, PolicyInput("Bench 24/7", builtin_calendars()["24/7"].id, 80, targets,
                                               is_default=True))
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            insert_due(db, BASELINE, now, client.id, user.id, policy)
            began = time.perf_counter()
            old = _sweep_one_by_one(now, SweepResult(), set())
            old_rate = old.tickets / (time.perf_counter() - began)
            print(f"{label}: one ticket per transaction (before): {old.tickets} tickets, {old.facts} facts, "
                  f"{old_rate:,.0f} tickets/s")
            insert_due(db, DUE, now, client.id, user.id, policy)
            handoff = [0.0, 0.0]  # wall, CPU
            enqueue = outbox.enqueue

            def timed_enqueue(ids, connection=None):  # the real enqueue, timed: the hand-off to RQ
                started, cpu = time.perf_counter(), time.process_time()
                try:
                    return enqueue(ids, connection)
                finally:
                    handoff[0] += time.perf_counter() - started
                    handoff[1] += time.process_time() - cpu

            statements = [0]

            def count(*_args):
                statements[0] += 1

            outbox.enqueue = timed_enqueue
            event.listen(db.engine, "before_cursor_execute", count)
            began, cpu_began = time.perf_counter(), time.process_time()
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats
                profile = cProfile.Profile()
                result = profile.runcall(sweep, now)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
            else:
                result = sweep(now)
            elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began - handoff[1]
            event.remove(db.engine, "before_cursor_execute", count)
            outbox.enqueue = enqueue
            recording = elapsed - handoff[0]
            rate = result.tickets / recording
            print(f"{label}: set-based sweep: {result.tickets} tickets, {result.facts} facts and their outbox rows "
                  f"committed in {recording:.2f} s: {rate:,.0f} tickets/s "
                  f"({rate / old_rate:.1f}x the old path; goal {GOAL:,}/s)")
            print(f"{label}: then {handoff[0]:.2f} s handing {2 * DUE:,} notifications to RQ (one job each), "
                  f"{result.tickets / elapsed:,.0f} tickets/s with it: {elapsed:.2f} s in all (goal {GOAL_SECONDS:.0f} s)")
            print(f"{label}: load-independent: {statements[0]} statements, {cpu:.2f} s of CPU in this process "
                  f"without the hand-off ({result.tickets / cpu:,.0f} tickets per CPU-second); load average "
                  f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
            again = sweep(now)
            print(f"{label}: a second sweep records {again.facts} facts")
        finally:
            redis_connection().flushdb()
        ok = (result.tickets == DUE and result.facts == 2 * DUE and again.facts == 0
              and rate >= GOAL and elapsed <= GOAL_SECONDS)
        print("PASS" if ok else "FAIL")
        return ok


if __name__ == "__main__":
    main()
