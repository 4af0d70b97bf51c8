"""SLA clock arithmetic: a clock's due instant, warning instant and state from its history.

Pure: plain values in, plain values out; no Flask, no ORM, no clock reads (callers pass `now`).
A clock's history is when it started, the intervals it was paused (while waiting on the client,
or between a resolution and the reopening that undid it) and when it stopped, if it has. The
clock counts business time of its calendar, minus the business time inside pauses. So a change
of target (priority, category, coverage) is answered from the history alone: walk the history
with the new target.

All instants returned are in UTC, ready to store, compare and subtract. Which warning or breach
is due by `now`, and which is still ahead (for its timer), is decided here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from helpdesk.calendars.arithmetic import BusinessCalendar, add_business_seconds, business_seconds_between


@dataclass(frozen=True)
class Pause:
    """The clock did not run from `start` to `end`; no `end`: it is paused now."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class ClockHistory:
    started_at: datetime
    pauses: tuple[Pause, ...] = ()
    stopped_at: datetime | None = None


@dataclass(frozen=True)
class ClockReading:
    """A clock as seen at `now`.

    `due_at` is None only while the clock is paused before reaching its target (the due instant
    is unknown until it resumes). Seconds are business seconds.
    """

    state: str  # running | paused | stopped
    due_at: datetime | None
    warning_at: datetime | None
    elapsed_seconds: int
    remaining_seconds: int  # negative once overdue
    paused_seconds: int
    outcome: str | None  # met | breached | None while undecided


def warning_seconds(target_minutes: int, percent: int) -> int:
    """Business seconds into the target at which the warning share is reached."""
    return target_minutes * 60 * percent // 100


def _normalised(history: ClockHistory) -> list[Pause]:
    """Pauses in order, clipped to the clock's start, overlapping ones merged."""
    out: list[Pause] = []
    for pause in sorted(history.pauses, key=lambda p: p.start):
        start = max(pause.start, history.started_at)
        end = pause.end
        if end is not None and end <= start:
            continue
        if out and (out[-1].end is None or start <= out[-1].end):
            last = out[-1]
            merged_end = None if last.end is None or end is None else max(last.end, end)
            out[-1] = Pause(last.start, merged_end)
        else:
            out.append(Pause(start, end))
    return out


def instant_after(cal: BusinessCalendar, history: ClockHistory, seconds: int) -> datetime | None:
    """When the clock will have counted `seconds` business seconds; None if it is paused first.

    Walks the pauses in order: a pause that starts after the instant is reached changes nothing.
    """
    cursor = history.started_at
    remaining = seconds
    for pause in _normalised(history):
        if pause.end is not None and pause.end <= cursor:
            continue
        start = max(pause.start, cursor)
        candidate = add_business_seconds(cal, cursor, remaining).astimezone(UTC)
        if candidate <= start:
            return candidate
        remaining -= business_seconds_between(cal, cursor, start)
        if pause.end is None:
            return None
        cursor = pause.end
    return add_business_seconds(cal, cursor, max(remaining, 0)).astimezone(UTC)


def counted_seconds(cal: BusinessCalendar, history: ClockHistory, until: datetime) -> tuple[int, int]:
    """(business seconds counted, business seconds paused) from the start to `until`."""
    total = business_seconds_between(cal, history.started_at, until)
    paused = 0
    for pause in _normalised(history):
        if pause.start >= until:
            break
        end = until if pause.end is None else min(pause.end, until)
        paused += business_seconds_between(cal, pause.start, end)
    return total - paused, paused


def read_clock(
    cal: BusinessCalendar, history: ClockHistory, target_minutes: int, warning_percent: int, now: datetime
) -> ClockReading:
    """The clock at `now` for this target and warning share."""
    if target_minutes <= 0:
        raise ValueError("An SLA target must be more than zero minutes.")
    target = target_minutes * 60
    due = instant_after(cal, history, target)
    warning = instant_after(cal, history, warning_seconds(target_minutes, warning_percent))
    stopped = history.stopped_at
    until = min(stopped, now) if stopped is not None else now
    elapsed, paused = counted_seconds(cal, history, until)
    if stopped is not None:
        state = "stopped"
        outcome: str | None = "met" if due is None or stopped <= due else "breached"
    else:
        open_pause = any(p.end is None and p.start <= now for p in _normalised(history))
        state = "paused" if open_pause else "running"
        outcome = "breached" if due is not None and due <= now else None
    return ClockReading(
        state=state,
        due_at=due,
        warning_at=warning,
        elapsed_seconds=elapsed,
        remaining_seconds=target - elapsed,
        paused_seconds=paused,
        outcome=outcome,
    )


# -- facts: a warning and a breach per clock, each recorded once ----------------------------
# `facts` holds the (clock, kind) pairs already recorded for the ticket.


def facts_due(kind: str, reading: ClockReading, facts: set[tuple[str, str]], now: datetime) -> list[tuple[str, datetime]]:
    """The facts of this clock that have happened by `now` and are not recorded yet."""
    out: list[tuple[str, datetime]] = []
    due, warning = reading.due_at, reading.warning_at
    breached = due is not None and due <= now and (reading.state != "stopped" or reading.outcome == "breached")
    if breached and (kind, "breach") not in facts:
        out.append(("breach", due))
    # A warning is worth raising only while the clock runs and before its breach; one that a
    # late sweep finds after the due instant is superseded by the breach.
    elif (
        reading.state != "stopped"
        and not breached
        and warning is not None
        and warning <= now
        and (kind, "warning") not in facts
        and (kind, "breach") not in facts
    ):
        out.append(("warning", warning))
    return out


def pending_facts(kind: str, reading: ClockReading, facts: set[tuple[str, str]], now: datetime) -> dict[str, datetime | None]:
    """When this clock's warning and breach are to be recorded, if still ahead and running."""
    pending: dict[str, datetime | None] = {"warning": None, "breach": None}
    if reading.state != "running" or reading.due_at is None:
        return pending
    if (kind, "breach") not in facts and reading.due_at > now:
        pending["breach"] = reading.due_at
        warning = reading.warning_at
        if warning is not None and warning > now and warning < reading.due_at and (kind, "warning") not in facts:
            pending["warning"] = warning
    return pending
