"""Benchmark: due-time computations per second on the default calendar.

Prints the rate for targets of 1, 8, 100 and 1,000 business hours, and the
ratio of the 1,000-hour rate to the 1-hour rate (close to 1.0 means flat).
Run with `.venv/bin/python bench/bench_due.py` from anywhere.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from helpdesk.calendars.arithmetic import add_business_minutes, default_calendar  # noqa: E402

TARGET_HOURS = (1, 8, 100, 1_000)
SECONDS_PER_TARGET = 2.0
STARTS = 2_000


def starts(count: int) -> list[datetime]:
    """Whole-minute UTC instants spread over 2025-2027, the same for every target."""
    rng = random.Random(4)
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    span = 3 * 365 * 24 * 60
    return [origin + timedelta(minutes=rng.randrange(span)) for _ in range(count)]


def rate(minutes: int, instants: list[datetime]) -> float:
    """Computations per second for one target, timed over about SECONDS_PER_TARGET."""
    cal = default_calendar()
    done = 0
    began = time.perf_counter()
    while True:
        for instant in instants:
            add_business_minutes(cal, instant, minutes)
        done += len(instants)
        elapsed = time.perf_counter() - began
        if elapsed >= SECONDS_PER_TARGET:
            return done / elapsed


def main() -> None:
    instants = starts(STARTS)
    cal = default_calendar()
    began = time.perf_counter()
    add_business_minutes(cal, instants[0], 60)
    cold = (time.perf_counter() - began) * 1000
    print(f"first call, cold caches: {cold:.1f} ms (builds the year's intervals and holiday list once)")
    for instant in instants:  # warm the year tables and holiday lists
        add_business_minutes(cal, instant, 1_000 * 60)
    rates = {}
    for hours in TARGET_HOURS:
        rates[hours] = rate(hours * 60, instants)
        print(f"target {hours:>5,} h: {rates[hours]:>10,.0f} due times/s")
    print(f"ratio 1,000 h / 1 h: {rates[1_000] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
