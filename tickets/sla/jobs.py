"""SLA jobs on RQ: a timer per clock and fact, and the sweep every minute that backs them up.

Both take ids (or nothing), re-read the tickets, and record only what is due and not recorded
yet, so running one twice, late or after a lost timer changes nothing but the outcome's time.
The sweep reschedules itself for the next whole minute, under an id made of that minute, before
it does its work: a failing sweep cannot break the chain, and scheduling the same minute twice
(a worker start, another sweep) is the same job. `flask worker` schedules it on start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from rq import Queue

from helpdesk.clock import utcnow
from helpdesk.jobs import app_job, get_queue

log = logging.getLogger(__name__)

SWEEP_JOB = "tickets.sla.jobs.sla_sweep"


@app_job
def sla_timer(ticket_id: int, clock: str, kind: str) -> int:
    """A clock's warning or breach instant has come: record what is due on that ticket."""
    from tickets.sla.refresh import process_ticket

    return process_ticket(ticket_id, utcnow())


def sweep_job_id(minute: datetime) -> str:
    return "sla-sweep-" + minute.astimezone(UTC).strftime("%Y%m%d%H%M")


def schedule_next_sweep(queue: Queue | None = None, now: datetime | None = None) -> str | None:
    """Make sure a sweep is scheduled at the start of the next minute; returns its job id."""
    queue = queue or get_queue()
    if queue is None:
        return None
    now = now or utcnow()
    minute = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    job_id = sweep_job_id(minute)
    queue.enqueue_at(minute, SWEEP_JOB, job_id=job_id, result_ttl=60, failure_ttl=24 * 3600)
    return job_id


@app_job
def sla_sweep() -> int:
    """Record every warning and breach that is due (a timer may have been lost); returns facts."""
    from tickets.sla.refresh import sweep

    try:
        schedule_next_sweep()
    except Exception:  # Redis hiccup: the next worker start or ticket change schedules it again
        log.warning("Could not schedule the next SLA sweep.", exc_info=True)
    return sweep(utcnow()).facts
