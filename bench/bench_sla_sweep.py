"""Benchmark: the SLA sweep's query at 10,000 and at 1,000,000 open tickets, the same number due.

The sweep asks for tickets whose `sla_check_at` (the next warning or breach to record) has
passed; an index on that column makes the cost depend on how many are due, not on how many
tickets are open. This creates a PostgreSQL database of its own (dropped at the end), builds
the schema through the Alembic revisions, bulk-inserts open tickets (INSERT ... SELECT over
generate_series: about a minute for the million), and prints the median time of the sweep's
query at both sizes and their ratio (expected within 2x), its plan, and the time of a whole
sweep of the due tickets at both sizes.

    .venv/bin/python bench/bench_sla_sweep.py [postgresql://postgres@127.0.0.1:5432/postgres]
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SIZES = (10_000, 1_000_000)
DUE = 100  # tickets with something to record, at every size
BATCH = 200  # the sweep's page size
RUNS = 200


def bulk_insert(db, count: int, now: datetime, client_id: int, user_id: int) -> None:
    """`count` open tickets, none due: half with a check ahead (up to 30 days), half without."""
    db.session.execute(text("""
        INSERT INTO tickets (client_id, requester_id, subject, description, category, priority, status,
                             created_at, updated_at, sla_state, sla_check_at, next_deadline_at, sla_paused_seconds)
        SELECT :client, :user, 'Bench ticket', 'Generated.', 'question', 'normal', 'open',
               :now - interval '1 day', :now - interval '1 day',
               CASE WHEN g % 2 = 0 THEN 'running' END,
               CASE WHEN g % 2 = 0 THEN :now + (1 + g % 43200) * interval '1 minute' END,
               CASE WHEN g % 2 = 0 THEN :now + (1 + g % 43200) * interval '1 minute' END,
               0
        FROM generate_series(1, :count) AS g
    """), {"client": client_id, "user": user_id, "now": now, "count": count})
    db.session.commit()


def insert_due(db, now: datetime, client_id: int, user_id: int) -> None:
    """DUE open tickets whose next check passed in the last few minutes (filed a week ago)."""
    db.session.execute(text("""
        INSERT INTO tickets (client_id, requester_id, subject, description, category, priority, status,
                             created_at, updated_at, sla_state, sla_check_at, next_deadline_at, sla_paused_seconds)
        SELECT :client, :user, 'Due ticket', 'Generated.', 'question', 'urgent', 'new',
               :now - interval '7 days', :now - interval '7 days', 'running',
               :now - g * interval '1 second', :now - g * interval '1 second', 0
        FROM generate_series(1, :count) AS g
    """), {"client": client_id, "user": user_id, "now": now, "count": DUE})
    db.session.commit()


def time_query(db, now: datetime) -> tuple[float, int, str]:
    """Median milliseconds of the sweep's query, the rows it found, and its plan."""
    from tickets.sla.jobs import due_for_check

    query = due_for_check(now, BATCH)
    found = len(db.session.execute(query).all())
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        db.session.execute(query).all()
        samples.append((time.perf_counter() - began) * 1000)
        db.session.rollback()
    compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))
    db.session.rollback()
    return statistics.median(samples), found, plan


def main() -> None:
    from app import create_app
    from helpdesk.config import normalise_database_url

    base = make_url(normalise_database_url(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_DATABASE_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres")))
    name = f"opiekun_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "REDIS_URL": None})
        with app.app_context():
            run(app)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def run(app) -> None:
    from flask_migrate import upgrade

    from helpdesk.accounts import create_user
    from helpdesk.companies import create_client
    from helpdesk.extensions import db
    from tickets.sla.jobs import sweep

    upgrade(directory=str(ROOT / "migrations"))
    app.config["PASSWORD_HASH"] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    client = create_client("bench", "Bench Ltd")
    user = create_user(email="bench@bench.example", password="bench-password", role="client", client_slug="bench")
    now = datetime.now(UTC).replace(microsecond=0)
    results = {}
    for size in SIZES:
        began = time.perf_counter()
        existing = db.session.scalar(text("SELECT count(*) FROM tickets"))
        bulk_insert(db, size - existing - DUE, now, client.id, user.id)
        insert_due(db, now, client.id, user.id)
        db.session.execute(text("ANALYZE tickets"))
        db.session.commit()
        have = db.session.scalar(text("SELECT count(*) FROM tickets WHERE status IN ('new', 'open')"))
        due = db.session.scalar(text("SELECT count(*) FROM tickets WHERE sla_check_at <= :now"), {"now": now})
        print(f"{have:>9,} open tickets, {due} due (inserted in {time.perf_counter() - began:.1f} s)")
        median, found, plan = time_query(db, now)
        print(f"  sweep query: median {median:.3f} ms over {RUNS} runs, {found} rows")
        print("  plan: " + plan.replace("\n", "\n        "))
        began = time.perf_counter()
        swept = sweep(now + timedelta(seconds=1))
        print(f"  whole sweep: {swept.tickets} tickets, {swept.facts} facts recorded in "
              f"{time.perf_counter() - began:.2f} s")
        results[size] = median
    small, large = results[SIZES[0]], results[SIZES[1]]
    print(f"ratio {SIZES[1]:,} / {SIZES[0]:,} open tickets: {large / small:.2f} (expected within 2x)")


if __name__ == "__main__":
    main()
