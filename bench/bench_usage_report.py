"""Benchmark: the manager's usage report over a year of ledger data, against a bare GROUP BY.

Builds 200 clients x 12 months of work (about a million ``usage_entries`` rows, bulk-loaded with
COPY) on PostgreSQL, then times ``plans.reports.usage_report`` for the last month and the last
quarter against two bare aggregations of the same ledger:

- ``SELECT client_id, period_start, sum(minutes) FROM usage_entries GROUP BY 1, 2`` (the whole
  ledger), and
- the same GROUP BY restricted to the report's period.

It prints the medians and both ratios and exits with status 1 if the report is more than
MAX_RATIO (1.5) times slower than the bare GROUP BY over the same period, the fair comparison (the
ratio to the whole ledger is printed for reference only). The report reads ``usage_totals``, the
ledger summed per period by database triggers; the build time printed includes what they cost
the COPY.

    .venv/bin/python bench/bench_usage_report.py            # creates and drops its own database
    DATABASE_URL=postgresql://... .venv/bin/python bench/bench_usage_report.py   # an empty database

Without DATABASE_URL it creates a database next to BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and drops it afterwards.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", 200))
MONTHS = 12
TICKETS_PER_PERIOD = 30
ENTRIES_PER_TICKET = 13  # plus the row that counts the ticket: 14 rows a ticket
MAX_RATIO = 1.5  # the report over a GROUP BY of the same period (issue 12)
RUNS = 5
FIRST_DAY = date(2025, 1, 1)


@contextmanager
def database() -> Iterator[str]:
    from tests.conftest import _postgres_database

    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    base = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    generator = _postgres_database(base)
    url = next(generator)
    try:
        yield url
    finally:
        generator.close()  # drops the database


def build() -> int:
    """Load a year of coverage data with COPY; returns the number of ledger rows."""
    from helpdesk.extensions import db
    from plans.models import PlanVersion, SupportPlan
    from plans.periods import period_containing

    rng = random.Random(7)
    now = datetime(2026, 1, 15, tzinfo=UTC)
    plan = SupportPlan(name="Standard", period="month", active=True, created_at=now)
    db.session.add(plan)
    db.session.flush()
    db.session.add(PlanVersion(
        plan_id=plan.id, effective_from=FIRST_DAY, covered_categories=["question", "configuration_change"],
        allowance_minutes=600, allowance_tickets=None, billing_increment=15, rollover_cap_minutes=60,
        overage_policy="bill", hourly_rate=Decimal(180), currency="PLN", created_at=now,
    ))
    db.session.commit()
    plan_id = plan.id

    # Anchors on different days, so most clients' periods are not calendar months.
    anchors = {c: FIRST_DAY + timedelta(days=(c * 7) % 28) for c in range(1, CLIENTS + 1)}
    tickets = []  # (ticket id, client, period, filed day, category, source)
    for c, anchor in anchors.items():
        day = anchor
        for _month in range(MONTHS):
            period = period_containing(anchor, "month", day)
            for _t in range(TICKETS_PER_PERIOD):
                bug = rng.random() < 0.3
                category = "bug" if bug else rng.choice(("question", "configuration_change"))
                filed = period.start + timedelta(days=rng.randrange(period.days))
                tickets.append((len(tickets) + 1, c, period, filed, category, "bug_fix" if bug else "support_plan"))
            day = period.end

    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY clients (id, slug, name, phase, protocol_signed_on, package_months, active, "
                         "created_at) FROM STDIN") as copy:
            for c in anchors:
                copy.write_row((c, f"client-{c}", f"Client {c:03d}", "production", date(2024, 6, 1), 1, True, now))
        with cursor.copy("COPY users (id, email, name, password_hash, role, client_id, is_client_admin, timezone, "
                         "active, created_at) FROM STDIN") as copy:
            copy.write_row((1, "agent@bench.example", "Agent", "-", "agent", None, False, "Europe/Warsaw", True, now))
            for c in anchors:
                copy.write_row((c + 1, f"user@client-{c}.example", "", "-", "client", c, True, "Europe/Warsaw",
                                True, now))
        with cursor.copy("COPY subscriptions (id, client_id, plan_id, starts_on, created_at) FROM STDIN") as copy:
            for c, anchor in anchors.items():
                copy.write_row((c, c, plan_id, anchor, now))
        with cursor.copy("COPY tickets (id, client_id, requester_id, subject, description, category, priority, "
                         "status, created_at, updated_at, coverage_source, coverage_covered) FROM STDIN") as copy:
            for tid, c, _period, filed, category, source in tickets:
                created = datetime(filed.year, filed.month, filed.day, 9, tzinfo=UTC)
                copy.write_row((tid, c, c + 1, "Bench", "-", category, "normal", "closed", created, created, source,
                                True))
        with cursor.copy("COPY coverage_decisions (id, ticket_id, client_id, trigger, category, source, covered, "
                         "needs_approval, billable, reason_msgid, reason_params, period_label, period_start, "
                         "subscription_id, inputs, decision, created_at) FROM STDIN") as copy:
            for tid, c, period, filed, category, source in tickets:
                created = datetime(filed.year, filed.month, filed.day, 9, tzinfo=UTC)
                copy.write_row((tid, tid, c, "filed", category, source, True, False, False,
                                "Covered by your %(plan)s plan for %(period)s", "{}", period.label, period.start, c,
                                "{}", "{}", created))
        ledger = 0
        left: dict[tuple[int, date], int] = {}
        with cursor.copy(
            "COPY usage_entries (client_id, subscription_id, period_label, period_start, work_date, source, kind, "
            "charge, minutes, tickets, amount, rate, currency, ticket_id, decision_id, author_id, created_at) "
            "FROM STDIN"
        ) as copy:
            for tid, c, period, filed, _category, source in tickets:
                created = datetime(filed.year, filed.month, filed.day, 9, tzinfo=UTC)
                head = (c, c, period.label, period.start, filed, source)
                tail = (tid, tid, 1, created)
                bug = source == "bug_fix"
                key = (c, period.start)
                left.setdefault(key, 600 + rng.choice((0, 30, 60)))
                copy.write_row((*head, "consumption", "free" if bug else "allowance", 0, 0 if bug else 1, 0, None,
                                None, *tail))
                for _e in range(ENTRIES_PER_TICKET):
                    minutes = rng.choice((15, 15, 30, 45, 60))
                    if bug:
                        row = ("consumption", "free", minutes, 0, None, None)
                    elif left[key] >= minutes:
                        left[key] -= minutes
                        row = ("consumption", "allowance", minutes, 0, None, None)
                    else:
                        row = ("overage", "billable", minutes, minutes * 3, Decimal(180), "PLN")
                    copy.write_row((*head, *row[:2], row[2], 0, row[3], row[4], row[5], *tail))
                ledger += 1 + ENTRIES_PER_TICKET
        for table in ("clients", "users", "subscriptions", "tickets", "coverage_decisions"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
        # What autovacuum does to a settled table: statistics and a visibility map, so index-only
        # scans work as they would in production.
        raw.driver_connection.autocommit = True
        cursor.execute("VACUUM ANALYZE")
        raw.driver_connection.autocommit = False
    finally:
        raw.close()
    return ledger


def median_seconds(action: Callable[[], object]) -> float:
    action()  # warm the cache
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> int:
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.config import normalise_database_url
    from helpdesk.extensions import db
    from plans import reports
    from plans.periods import Period

    with database() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": normalise_database_url(url), "SECRET_KEY": "bench"})
        with app.app_context():
            if db.engine.dialect.name != "postgresql":
                print("The benchmark needs PostgreSQL.", file=sys.stderr)
                return 2
            upgrade(directory=str(ROOT / "migrations"))
            started = time.perf_counter()
            rows = build()
            print(f"built {CLIENTS} clients x {MONTHS} months: {rows:,} ledger rows "
                  f"in {time.perf_counter() - started:.1f} s")

            def bare_group_by(period: Period | None = None) -> Callable[[], object]:
                where = "" if period is None else "WHERE period_start >= :start AND period_start < :end"
                sql = text(f"SELECT client_id, period_start, sum(minutes) FROM usage_entries {where} GROUP BY 1, 2")
                params = {} if period is None else {"start": period.start, "end": period.end}
                return lambda: db.session.execute(sql, params).all()

            bare = median_seconds(bare_group_by())
            print(f"bare GROUP BY over the whole ledger: {bare * 1000:8.1f} ms")
            worst = 0.0
            for label in ("2025-12", "2025-Q4"):
                period = Period.from_label(label)
                lines = reports.usage_report(period)
                report = median_seconds(lambda p=period: reports.usage_report(p))
                same = median_seconds(bare_group_by(period))
                db.session.rollback()
                ratio = report / same
                worst = max(worst, ratio)
                print(f"usage report {label:8} ({len(lines)} clients): {report * 1000:8.1f} ms  "
                      f"ratio to the GROUP BY of the same period ({same * 1000:6.1f} ms): {ratio:5.2f}  "
                      f"to the whole-ledger GROUP BY: {report / bare:5.2f}")
            db.session.remove()
            db.engine.dispose()
    verdict = "ok" if worst <= MAX_RATIO else "TOO SLOW"
    print(f"worst ratio to the same period's GROUP BY {worst:.2f} (goal at most {MAX_RATIO}): {verdict}")
    return 0 if worst <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
