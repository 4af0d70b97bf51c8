"""Benchmark: bulk actions on 100 tickets (issue 14: under 2 s), through the web form, in process.

Seeds a SQLite file with `flask demo seed --tickets N` (kept under bench/.data/ and reused, like
bench/run's), logs in as the demo agent with the Flask test client and posts the queue's bulk
form for 100 open tickets, once per action of the form (priority, status, category with a reason,
assignee), switching between two values so every run changes every ticket (its own savepoint,
history rows, SLA recomputation, coverage decision, notification). Notifications and SLA timers
go to the Redis of BENCH_REDIS_URL, as with REDIS_URL in production (nobody works them off).

The baseline: the same change to the same 100 tickets made one ticket at a time through the
ticket page's own form (100 posts, each its own request and commit), which is what an agent
does without the bulk form, and what the bulk form's per-ticket loop must not cost more than.

With BENCH_DATABASE_URL (a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432/postgres)
the same runs go to a database `opiekun_bench_bulk_<N>` on it, seeded once and kept.

Prints, per action, the median and the worst of RUNS bulk posts, the baseline and the ratio,
with the machine's load; exits with status 1 when any median is 2 s or more.

    .venv/bin/python bench/bench_bulk.py            # 10,000 tickets
    .venv/bin/python bench/bench_bulk.py 100000
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

DATA = ROOT / "bench" / ".data"
RUNS = int(os.environ.get("BENCH_RUNS", 4))
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
LIMIT_SECONDS = 2.0
# Per action: the bulk form's field, the two values taken in turn, and the single-ticket form.
ACTIONS = {
    "priority": ("priority", ("high", "low"), "priority"),
    "status": ("status", ("waiting_on_client", "open"), "status"),
    "category": ("category", ("bug", "question"), "category"),
    "assign": ("assignee", ("MANAGER", "none"), "assign"),
}


SERVER = os.environ.get("BENCH_DATABASE_URL")


def _database(size: int) -> tuple[str, str]:
    """(URL, name) of the benchmark's database: the SQLite file, or one on SERVER."""
    if not SERVER:
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / f"manager_home_{size}.sqlite3"  # the same seeded file as bench_manager_home.py
        return f"sqlite:///{path}", "SQLite"
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(SERVER).set(drivername="postgresql+psycopg")
    name = f"opiekun_bench_bulk_{size}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), "PostgreSQL"


def measure(size: int) -> dict[str, tuple[list[float], float]]:
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.extensions import db

    url, _kind = _database(size)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
        "MAIL_OUTBOX_DIR": tempfile.mkdtemp(prefix="bench-outbox-"), "REDIS_URL": REDIS,
    })
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        have = db.session.execute(text("SELECT count(*) FROM tickets")).scalar()
        if have < size:
            print(f"  seeding {size - have:,} tickets...", flush=True)
            result = app.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(size)])
            assert result.exit_code == 0, result.output
        ids = [str(i) for i in db.session.execute(text(
            "SELECT id FROM tickets WHERE status IN ('new', 'open') ORDER BY id DESC LIMIT 100")).scalars()]
        assert len(ids) == 100, len(ids)
        manager = str(db.session.execute(text("SELECT id FROM users WHERE email = 'manager@opiekun.example'")).scalar())
        db.session.remove()
    # The requests run outside this script's app context, each in its own, as under a server.
    web = app.test_client()
    response = web.post("/login", data={"email": "agent@opiekun.example", "password": "opiekun-demo"})
    assert response.status_code == 302, response.status_code
    results = {}
    for action, (field, values, single) in ACTIONS.items():
        values = tuple(manager if v == "MANAGER" else v for v in values)
        extra = {"reason": "Bench: reclassified in bulk"} if field == "category" else {}
        # Untimed: every ticket takes the second value, so each timed post changes all 100.
        assert web.post("/agent/queue/bulk", data={"ticket": ids, field: values[1], **extra}).status_code == 302
        times = []
        for run in range(RUNS):
            data = {"ticket": ids, field: values[run % 2], **extra}
            started = time.perf_counter()
            response = web.post("/agent/queue/bulk", data=data)
            times.append(time.perf_counter() - started)
            assert response.status_code == 302, response.status_code
            with web.session_transaction() as session:
                flashes = session.pop("_flashes", [])
            assert any("Tickets changed: 100." in message for _category, message in flashes), (action, flashes)
        # The baseline: the next value, one ticket page's form at a time.
        value = values[RUNS % 2]  # the other one than the last post's
        started = time.perf_counter()
        for ticket_id in ids:
            response = web.post(f"/agent/tickets/{ticket_id}/{single}", data={field: "" if value == "none" else value,
                                                                            **extra})
            assert response.status_code == 302, (action, response.status_code)
        baseline = time.perf_counter() - started
        with web.session_transaction() as session:
            session.pop("_flashes", None)
        results[action] = (times, baseline)
        if action == "status":  # untimed: the tickets open again, so the next run finds 100 open ones
            assert web.post("/agent/queue/bulk", data={"ticket": ids, "status": "open"}).status_code == 302
    with app.app_context():
        db.engine.dispose()
    return results


def main() -> int:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    results = measure(size)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bulk actions on 100 tickets at {size:,} tickets ({_database(size)[1]}), {RUNS} posts each; load average {load}")
    print(f"{'action':<10} {'median s':>9} {'worst s':>8} {'100 single posts s':>19} {'ratio':>7}  goal")
    failed = False
    for action, (times, baseline) in results.items():
        median = statistics.median(times)
        ok = median < LIMIT_SECONDS
        failed |= not ok
        print(f"{action:<10} {median:>9.2f} {max(times):>8.2f} {baseline:>19.2f} {median / baseline:>6.2f}x  "
              f"< {LIMIT_SECONDS:.0f} s {'ok' if ok else 'ABOVE THE GOAL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
