"""SLA timers on RQ: one job per clock and fact, set after the commit.

`tickets.sla.refresh` works out, inside the transaction of a change, which warning and breach
timers each ticket needs (`timers_for`) and leaves them with the session (`defer_timers`); they
are scheduled, moved or cancelled only after the outermost commit (a job must never see an
uncommitted row), and forgotten on a rollback. Job ids are deterministic, so setting a timer
twice is setting it once. The job itself (`sla_timer`) is in `tickets.sla.jobs`, named here by
its import path: this module imports neither it nor the refresh, so the imports run one way
(refresh -> timers, jobs -> refresh). The sweep that catches a lost timer is a periodic job
(`tickets.sla.init_app`), not a chain of its own.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from flask import has_app_context
from rq import get_current_job
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from helpdesk.jobs import get_queue
from helpdesk.transactions import on_commit_batch
from tickets.models import CLOCKS
from tickets.sla.clock import ClockReading, pending_facts

log = logging.getLogger(__name__)

TIMER_JOB = "tickets.sla.jobs.sla_timer"
# Finished timer jobs leave nothing behind for long; failed ones stay a week for a look.
TIMER_RESULT_TTL = 60
TIMER_FAILURE_TTL = 7 * 24 * 3600


def timer_job_id(ticket_id: int, clock: str, kind: str) -> str:
    """The RQ job id of one clock's warning or breach timer: the same for the same fact."""
    return f"sla-{ticket_id}-{clock}-{kind}"


def timers_for(
    ticket_id: int, readings: dict[str, ClockReading], facts: set[tuple[str, str]], now: datetime
) -> dict[str, Any]:
    """Per timer job id: when it is to fire (None: cancel it) and its arguments."""
    out: dict[str, Any] = {}
    for clock in CLOCKS:
        reading = readings.get(clock)
        pending = pending_facts(clock, reading, facts, now) if reading else {"warning": None, "breach": None}
        for kind, at in pending.items():
            out[timer_job_id(ticket_id, clock, kind)] = (at, (ticket_id, clock, kind))
    return out


def defer_timers(timers: dict[str, Any]) -> None:
    """Set the timers after the outermost commit: a job must never see an uncommitted row."""
    on_commit_batch(_set_timers, timers)


def _set_timers(batches: list[dict[str, Any]]) -> None:
    timers: dict[str, Any] = {}
    for batch in batches:
        timers.update(batch)  # the latest refresh of a clock wins
    if timers and has_app_context():
        apply_timers(timers)


def _whole_second_after(at: datetime) -> datetime:
    # RQ schedules to the whole second, rounding down: round up, so a timer never fires early.
    return datetime.fromtimestamp(math.ceil(at.timestamp()), UTC)


def apply_timers(timers: dict[str, Any]) -> None:
    """Schedule, move or cancel timer jobs; deterministic ids make each call idempotent."""
    queue = get_queue()
    if queue is None or not timers:
        return
    running = get_current_job()
    registry = ScheduledJobRegistry(queue=queue)
    try:
        for job_id, (at, args) in timers.items():
            if running is not None and running.id == job_id:
                continue  # never move the job that is running now; the sweep is the safety net
            if at is None:
                registry.remove(job_id)
                queue.connection.delete(Job.key_for(job_id))
            else:
                queue.enqueue_at(
                    _whole_second_after(at), TIMER_JOB, *args, job_id=job_id,
                    result_ttl=TIMER_RESULT_TTL, failure_ttl=TIMER_FAILURE_TTL,
                )
    except Exception:  # Redis down: the sweep records what the timers would have
        log.warning("Could not set SLA timers; the sweep will catch up.", exc_info=True)
