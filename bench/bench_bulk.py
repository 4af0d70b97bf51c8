"""Benchmark: a bulk action on 100 tickets (issue 14: under 2 s), through the web form, in process.

Seeds a SQLite file with `flask demo seed --tickets N` (kept under bench/.data/ and reused, like
bench/run's), logs in as the demo agent with the Flask test client and posts the queue's bulk
form for 100 open tickets, switching their priority between high and low, so every run changes
every ticket (its own savepoint, history rows, SLA recomputation and coverage checks). Prints
the median and the worst of RUNS posts and exits with status 1 when the median is above 2 s.

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
RUNS = int(os.environ.get("BENCH_RUNS", 6))
LIMIT_SECONDS = 2.0


def measure(size: int) -> list[float]:
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.extensions import db

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"manager_home_{size}.sqlite3"  # the same seeded file as bench_manager_home.py
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
        "MAIL_OUTBOX_DIR": tempfile.mkdtemp(prefix="bench-outbox-"),
    })
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        have = db.session.execute(text("SELECT count(*) FROM tickets")).scalar()
        if have < size:
            print(f"  seeding {size - have:,} tickets into {path.name}...", flush=True)
            result = app.test_cli_runner().invoke(args=["demo", "seed", "--tickets", str(size)])
            assert result.exit_code == 0, result.output
        ids = [str(i) for i in db.session.execute(text(
            "SELECT id FROM tickets WHERE status IN ('new', 'open') ORDER BY id DESC LIMIT 100")).scalars()]
        assert len(ids) == 100, len(ids)
        db.session.remove()
        web = app.test_client()
        response = web.post("/login", data={"email": "agent@opiekun.example", "password": "opiekun-demo"})
        assert response.status_code == 302, response.status_code
        times = []
        for run in range(RUNS):
            started = time.perf_counter()
            response = web.post("/agent/queue/bulk", data={"ticket": ids, "priority": ("high", "low")[run % 2]})
            times.append(time.perf_counter() - started)
            assert response.status_code == 302, response.status_code
        with web.session_transaction() as session:
            flashes = session.get("_flashes", [])
        assert any("Tickets changed: 100." in message for _category, message in flashes), flashes
        db.session.remove()
        db.engine.dispose()
    return times


def main() -> int:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    times = measure(size)
    median = statistics.median(times)
    print(f"bulk priority change of 100 tickets at {size:,} tickets (SQLite): "
          f"median {median:.2f} s, worst {max(times):.2f} s over {len(times)} posts (goal: under {LIMIT_SECONDS} s)")
    return 0 if median < LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
