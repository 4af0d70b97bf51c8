"""Pure rules of the onboarding process: stage order, the meeting rhythm, reminder dates.

Nothing here touches Flask, the database or the clock: callers pass `today` / `now` and plain
values, and get plain values back. Working days are Monday to Friday minus the public holidays
of Poland (the `holidays` package, which knows 24 December since 2025) unless the caller passes
another set of closed days.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

import holidays

from plans.onboarding.vocabulary import Stage, StageState

T = TypeVar("T")

# The six stages of the seed, in the order they are normally worked.
STAGES = Stage.values()
STAGE_STATES = StageState.values()

# What must be done before a stage is started or completed in order. The follow-up meeting is
# keyed on the training (one week after it), not on the protocol, which may be signed later.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "kickoff": (),
    "configuration": ("kickoff",),
    "training": ("configuration",),
    "protocol": ("training",),
    "follow_up": ("training",),
    "recurring": ("follow_up",),
}

FOLLOW_UP_AFTER = timedelta(days=7)
RECURRING_EVERY = timedelta(days=14)
# Longest run of closed days in Poland is about five (24-26 December around a weekend); the
# search for a working day gives up well beyond that rather than looping forever.
_SEARCH_LIMIT = 31

_POLISH_HOLIDAYS = holidays.country_holidays("PL")


def polish_holidays() -> Container[date]:
    """Public holidays of Poland, for any year asked about."""
    return _POLISH_HOLIDAYS


def is_working_day(day: date, closed: Container[date] | None = None) -> bool:
    """Monday to Friday and not a public holiday (or a day in `closed`)."""
    closed = _POLISH_HOLIDAYS if closed is None else closed
    return day.weekday() < 5 and day not in closed


def previous_working_day(day: date, closed: Container[date] | None = None) -> date:
    """The last working day strictly before `day`."""
    candidate = day - timedelta(days=1)
    for _ in range(_SEARCH_LIMIT):
        if is_working_day(candidate, closed):
            return candidate
        candidate -= timedelta(days=1)
    raise ValueError(f"no working day within {_SEARCH_LIMIT} days before {day}")


def working_day_on_or_after(day: date, closed: Container[date] | None = None) -> date:
    """`day` itself if it is a working day, else the next one."""
    candidate = day
    for _ in range(_SEARCH_LIMIT):
        if is_working_day(candidate, closed):
            return candidate
        candidate += timedelta(days=1)
    raise ValueError(f"no working day within {_SEARCH_LIMIT} days from {day}")


# -- the meeting rhythm ----------------------------------------------------------------------


def reminder_date(meeting_on: date, closed: Container[date] | None = None) -> date:
    """A meeting's reminder goes out on the working day before it."""
    return previous_working_day(meeting_on, closed)


def reminder_due(
    meeting_on: date, today: date, closed: Container[date] | None = None
) -> bool:
    """Is the reminder for a meeting on `meeting_on` due today?

    Due from its reminder date until the day before the meeting, so a run that was missed (or a
    meeting scheduled after its reminder date) still gets its reminder, but never on the day of
    the meeting itself.
    """
    return reminder_date(meeting_on, closed) <= today < meeting_on


def follow_up_anchor(training_on: date) -> date:
    """One week after the training: the day the rhythm is counted from."""
    return training_on + FOLLOW_UP_AFTER


@dataclass(frozen=True)
class MeetingPlan:
    """Dates proposed for the follow-up meeting and the first recurring meetings."""

    follow_up: date
    recurring: tuple[date, ...]


def meeting_plan(
    training_on: date, today: date, recurring_count: int, closed: Container[date] | None = None
) -> MeetingPlan:
    """The follow-up one week after the training, then recurring meetings every two weeks.

    Each date moves forward to a working day; the two-week cadence stays anchored on the
    unmoved dates so a holiday never makes the series drift. Nothing is proposed in the past:
    a late follow-up moves to the first working day from `today`, and recurring meetings that
    would fall on or before the follow-up are left out.
    """
    if recurring_count < 0:
        raise ValueError("recurring_count must not be negative")
    anchor = follow_up_anchor(training_on)
    follow_up = working_day_on_or_after(max(anchor, today), closed)
    recurring = []
    step = 1
    while len(recurring) < recurring_count:
        day = working_day_on_or_after(anchor + step * RECURRING_EVERY, closed)
        if day > follow_up:
            recurring.append(day)
        step += 1
    return MeetingPlan(follow_up, tuple(recurring))


def next_recurring_date(
    training_on: date, after: date, closed: Container[date] | None = None
) -> date:
    """The first date of the two-week rhythm (anchored on the follow-up) strictly after `after`."""
    anchor = follow_up_anchor(training_on)
    step = 1
    if after > anchor:
        step = max(1, (after - anchor).days // RECURRING_EVERY.days)
    while True:
        day = working_day_on_or_after(anchor + step * RECURRING_EVERY, closed)
        if day > after:
            return day
        step += 1


def meeting_time_allowed(starts_at: datetime, now: datetime) -> bool:
    """A meeting is scheduled (or moved) only into the future."""
    return starts_at > now


# -- stages ------------------------------------------------------------------------------------


def missing_prerequisites(stage: str, states: Mapping[str, str]) -> tuple[str, ...]:
    """The stages that should be done before `stage` but are not."""
    if stage not in PREREQUISITES:
        raise ValueError(f"unknown stage {stage!r}")
    return tuple(s for s in PREREQUISITES[stage] if states.get(s) != "done")


def current_stage(states: Mapping[str, str]) -> str | None:
    """The stage being worked on: the first in order that is not done (None when all are)."""
    for stage in STAGES:
        if states.get(stage) != "done":
            return stage
    return None


@dataclass(frozen=True)
class StageCheck:
    """The verdict on a requested stage change; `problems` are codes the caller words."""

    problems: tuple[str, ...] = ()
    out_of_order: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.problems


def check_stage_change(
    stage: str,
    to_state: str,
    states: Mapping[str, str],
    *,
    actual_on: date | None,
    today: date,
    reason: str = "",
) -> StageCheck:
    """May `stage` move to `to_state`? Out of order needs a reason; dates are never in the future.

    Problem codes: unknown_state, already_done, back_to_pending, actual_date_required,
    actual_date_in_future, reason_required.
    """
    if to_state not in ("in_progress", "done"):
        return StageCheck(("unknown_state",))
    current = states.get(stage, "pending")
    if current == "done":
        return StageCheck(("already_done",))
    problems: list[str] = []
    if to_state == "done":
        if actual_on is None:
            problems.append("actual_date_required")
        elif actual_on > today:
            problems.append("actual_date_in_future")
    elif actual_on is not None and actual_on > today:
        problems.append("actual_date_in_future")
    missing = missing_prerequisites(stage, states)
    if missing and not reason.strip():
        problems.append("reason_required")
    return StageCheck(tuple(problems), missing)


def check_protocol_date(signed_on: date, training_on: date | None, today: date) -> str | None:
    """Why the protocol cannot carry this signing date, as a code, or None when it can.

    Codes: training_not_done, before_training, in_future.
    """
    if training_on is None:
        return "training_not_done"
    if signed_on < training_on:
        return "before_training"
    if signed_on > today:
        return "in_future"
    return None


def is_stalled(last_progress_at: datetime, now: datetime, days: int) -> bool:
    """No progress for at least `days` days."""
    return now - last_progress_at >= timedelta(days=days)


def missing_items(items: Iterable[tuple[T, bool, bool]]) -> list[T]:
    """The required items not complete, from (item, required, complete) triples, in order."""
    return [item for item, required, complete in items if required and not complete]
