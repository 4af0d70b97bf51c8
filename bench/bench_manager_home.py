"""Benchmark: the manager home at 10k and 100k tickets on SQLite, in process (issue 12: flat pages).

Seeds two SQLite files with `flask demo seed --tickets N` (kept under bench/.data/ and reused,
like bench/run's), logs in as the demo manager with the Flask test client and times GET /manager/
(median of RUNS requests after a warm-up). Beside it, it times the GROUP BY over every ticket that
the page ran before ticket_counts, to show what the summary saves. Prints the medians and the
ratio of the biggest size to the smallest, and exits with status 1 above MAX_RATIO.

    .venv/bin/python bench/bench_manager_home.py              # 10,000 and 100,000 tickets
    .venv/bin/python bench/bench_manager_home.py 10000 1000000
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
RUNS = int(os.environ.get("BENCH_RUNS", 200))
MAX_RATIO = 1.3
OLD_QUERY = """SELECT clients.slug, tickets.status, count(tickets.id) FROM clients
               LEFT OUTER JOIN tickets ON tickets.client_id = clients.id
               GROUP BY clients.slug, clients.name, clients.phase, tickets.status ORDER BY clients.name"""


def _median_ms(action, runs: int) -> float:
    for _ in range(min(10, runs)):
        action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(size: int) -> tuple[float, float]:
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.extensions import db

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"manager_home_{size}.sqlite3"
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
        db.session.remove()
        web = app.test_client()
        response = web.post("/login", data={"email": "manager@opiekun.example", "password": "opiekun-demo"})
        assert response.status_code == 302, response.status_code

        def page() -> None:
            assert web.get("/manager/").status_code == 200

        def old_query() -> None:
            db.session.execute(text(OLD_QUERY)).all()
            db.session.rollback()

        page_ms = _median_ms(page, RUNS)
        old_ms = _median_ms(old_query, max(5, RUNS // 20))
        db.session.remove()
        db.engine.dispose()
    return page_ms, old_ms


def main(sizes: list[int]) -> int:
    results = {size: measure(size) for size in sizes}
    print(f"{'tickets':>10} {'manager home p50 ms':>20} {'old GROUP BY alone ms':>22}")
    for size, (page_ms, old_ms) in results.items():
        print(f"{size:>10,} {page_ms:>20.2f} {old_ms:>22.2f}")
    small, big = min(sizes), max(sizes)
    ratio = results[big][0] / results[small][0]
    verdict = "ok" if ratio <= MAX_RATIO else f"ABOVE the goal of {MAX_RATIO}"
    print(f"manager home p50 ratio {big:,}/{small:,}: {ratio:.2f} ({verdict})")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main([int(n) for n in sys.argv[1:]] or [10_000, 100_000]))
