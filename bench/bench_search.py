"""Benchmark: search, view counts and a bulk update at two sizes on PostgreSQL (issue 14).

Seeds one PostgreSQL database per size with `flask demo seed --tickets N` (databases named
`opiekun_bench_search_<N>` on BENCH_DATABASE_URL's server (BENCH_DB_PREFIX: `opiekun_bench` shares
bench/run's), kept and reused; the seed's bulk
inserts fill the search documents through the triggers of migration 0014, set-based), then
times, in process, as the demo agent:

- search p50: the agent queue's page for a common word ("courier", in about 1 ticket of 6 of
  the seed) and for a rare one ("allegro", one sample ticket), through tickets.queue (the same
  function as /agent/queue?q=..., newest first, every status);
- view counts p50: the six built-in views counted in one statement (tickets.saved_views.counts);
- bulk of 100: a priority change of 100 open tickets through tickets.bulk.bulk_update, the
  queue's bulk form's function (each ticket through tickets.services.change_priority in its own
  savepoint, with its history row and SLA refresh; one commit), total time; SLA timers and
  notifications go to the Redis of BENCH_REDIS_URL after the commit, as with REDIS_URL in
  production.

Prints each measure at both sizes with the ratio, and exits with status 1 when search or counts
at the big size take more than 3x the small size, or the bulk of 100 takes 2 s or more.

    .venv/bin/python bench/bench_search.py                  # 10,000 and 100,000 tickets
    .venv/bin/python bench/bench_search.py 10000 1000000
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

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# As in production, notifications are enqueued on RQ after each commit (nobody works them off
# here); without Redis they would be delivered inline, inside the measured time.
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
RUNS = int(os.environ.get("BENCH_RUNS", 50))
# BENCH_DB_PREFIX=opiekun_bench reuses bench/run's PostgreSQL databases (the same seed).
PREFIX = os.environ.get("BENCH_DB_PREFIX", "opiekun_bench_search")
MAX_RATIO = 3.0
MAX_BULK_S = 2.0
COMMON, RARE = "courier", "allegro"


def _median_ms(action, runs: int) -> float:
    for _ in range(min(5, runs)):
        action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _database(size: int) -> str:
    url = make_url(SERVER).set(drivername="postgresql+psycopg")
    name = f"{PREFIX}_{size}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def measure(size: int) -> dict[str, float]:
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.accounts import user_by_email
    from helpdesk.extensions import db
    from tickets import saved_views, services
    from tickets.bulk import bulk_update
    from tickets.models import Ticket
    from tickets.queue import parse_queue_filters, queue_page

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": _database(size), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
        "MAIL_OUTBOX_DIR": tempfile.mkdtemp(prefix="bench-outbox-"), "REDIS_URL": REDIS,
    })
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        have = db.session.execute(text("SELECT count(*) FROM tickets")).scalar()
        if have < size:
            print(f"  seeding {size - have:,} tickets (PostgreSQL, {size:,})...", flush=True)
            started = time.perf_counter()
            result = app.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(size)])
            assert result.exit_code == 0, result.output
            print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
            db.session.execute(text("ANALYZE tickets"))
            db.session.commit()
        missing = db.session.execute(text("SELECT count(*) FROM tickets WHERE search_public IS NULL")).scalar()
        assert missing == 0, f"{missing} tickets without a search document"
        agent = user_by_email("agent@opiekun.example")

        def search(word: str):
            def run() -> None:
                rows, _cursor = queue_page(agent, parse_queue_filters({"q": word, "sort": "newest"}))
                assert rows, word
                db.session.rollback()
            return run

        views = saved_views.builtin_views()

        def counts() -> None:
            found = saved_views.counts(agent, views)
            assert len(found) == 6
            db.session.rollback()

        results = {
            "search p50, common word (ms)": _median_ms(search(COMMON), RUNS),
            "search p50, rare word (ms)": _median_ms(search(RARE), RUNS),
            "counts of 6 views p50 (ms)": _median_ms(counts, RUNS),
        }
        ids = db.session.scalars(select(Ticket.id).where(Ticket.status == "open").order_by(Ticket.id.desc()).limit(100)).all()
        db.session.rollback()
        actor = services.Actor(agent, via="bench")
        bulk_update(actor, ids, priority="normal")  # untimed: every later round changes all 100
        bulk = []
        for round_ in range(3):
            started = time.perf_counter()
            summary = bulk_update(actor, ids, priority=("high", "normal")[round_ % 2])
            bulk.append(time.perf_counter() - started)
            assert summary.changed == len(ids), summary
        results["bulk update of 100 (s)"] = statistics.median(bulk)
        db.session.remove()
        db.engine.dispose()
    return results


def main(sizes: list[int]) -> int:
    small, big = min(sizes), max(sizes)
    results = {size: measure(size) for size in sorted(set(sizes))}
    failed = False
    print(f"{'measure':<32} {small:>12,} {big:>12,} {'ratio':>7}  goal")
    for name in results[small]:
        a, b = results[small][name], results[big][name]
        if name.startswith("bulk"):
            ok = b < MAX_BULK_S
            goal = f"< {MAX_BULK_S:.0f} s at {big:,}"
        else:
            ok = b <= MAX_RATIO * a
            goal = f"<= {MAX_RATIO:.0f}x"
        failed |= not ok
        print(f"{name:<32} {a:>12.2f} {b:>12.2f} {b / a:>6.2f}x  {goal} {'ok' if ok else 'ABOVE THE GOAL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main([int(n) for n in sys.argv[1:]] or [10_000, 100_000]))
