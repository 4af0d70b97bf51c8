"""Auto-assignment rules: which agent gets a new ticket. Pure: no Flask, no database, no clock.

An admin's rule names a team (agents), a strategy and what it applies to (a category and/or a
priority; empty means any; and/or a shared saved view of the queue, whose filters the ticket
must match: the caller evaluates those, see `views_to_check`). The first enabled rule, in order, that matches a new ticket picks
one agent of its team who is *available* now:

- not away (the agent's own switch in the header), and
- on duty: `now` falls in a working interval of the agent's business calendar (each agent may
  have their own calendar, in their time zone; without one, the team's `default` calendar).

Strategies:

- round-robin: the next available agent after the one the rule assigned last, in user-id order
  (wrapping around), so over any run of tickets with the same people available each gets
  a turn before anyone gets a second;
- least-loaded: the available agent with the fewest open tickets assigned; ties go round-robin
  from the last one assigned, so equal loads spread too.

No available agent: nobody (the ticket stays unassigned and shows in the "Unassigned" view).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from helpdesk.calendars.arithmetic import BusinessCalendar

# The strategies' codes (labelled in tickets/vocabulary.py as AssignmentStrategy).
ROUND_ROBIN = "round_robin"
LEAST_LOADED = "least_loaded"
STRATEGIES = (ROUND_ROBIN, LEAST_LOADED)


@dataclass(frozen=True)
class Candidate:
    """An agent of a rule's team, with what decides whether they can take a ticket now."""

    user_id: int
    calendar: BusinessCalendar
    away: bool = False
    active: bool = True


@dataclass(frozen=True)
class RuleSpec:
    """What a rule applies to (None: any) and how it picks; `rule_id` names it back to the caller."""

    rule_id: int
    enabled: bool
    category: str | None = None
    priority: str | None = None
    view_id: int | None = None  # a saved view whose filters the ticket must match too


@dataclass(frozen=True)
class Choice:
    """The chosen agent and why (for the history: the strategy and how many were available)."""

    user_id: int
    strategy: str
    available: int
    load: int


def on_duty(calendar: BusinessCalendar, now: datetime) -> bool:
    """Whether `now` (aware) lies in a working interval of the calendar's local day."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware instant")
    local_day = now.astimezone(ZoneInfo(calendar.timezone)).date()
    return any(start <= now < end for start, end in calendar.intervals_on(local_day))


def available(candidates: Iterable[Candidate], now: datetime) -> list[Candidate]:
    """The candidates who may take a ticket now, in user-id order."""
    return sorted(
        (c for c in candidates if c.active and not c.away and on_duty(c.calendar, now)),
        key=lambda c: c.user_id,
    )


def _turn_order(ids: Sequence[int], last_assigned: int | None) -> list[int]:
    """`ids` (ascending) starting after `last_assigned`, wrapping around."""
    if last_assigned is None:
        return list(ids)
    after = [i for i in ids if i > last_assigned]
    return after + [i for i in ids if i <= last_assigned]


def choose_assignee(
    strategy: str,
    candidates: Iterable[Candidate],
    loads: Mapping[int, int],
    last_assigned: int | None,
    now: datetime,
) -> Choice | None:
    """The agent a new ticket goes to under `strategy`, or None when nobody is available.

    `loads` maps a user id to their open tickets assigned (missing: 0); `last_assigned` is whom
    this rule assigned last (its round-robin pointer).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    ready = available(candidates, now)
    if not ready:
        return None
    order = _turn_order([c.user_id for c in ready], last_assigned)
    if strategy == ROUND_ROBIN:
        chosen = order[0]
    else:
        chosen = min(order, key=lambda i: (loads.get(i, 0), order.index(i)))
    return Choice(user_id=chosen, strategy=strategy, available=len(ready), load=loads.get(chosen, 0))


def _fits(rule: RuleSpec, category: str, priority: str) -> bool:
    return (rule.enabled and (rule.category is None or rule.category == category)
            and (rule.priority is None or rule.priority == priority))


def matching_rule(
    rules: Iterable[RuleSpec], *, category: str, priority: str, views: Collection[int] = ()
) -> RuleSpec | None:
    """The first enabled rule (in the order given) whose category and priority fit the ticket,
    and whose view, if it names one, is among `views` (the views the ticket matches)."""
    for rule in rules:
        if _fits(rule, category, priority) and (rule.view_id is None or rule.view_id in views):
            return rule
    return None


def views_to_check(rules: Iterable[RuleSpec], *, category: str, priority: str) -> list[int]:
    """The views whose filters decide which rule takes the ticket: those of the enabled rules
    that fit its category and priority, up to the first fitting rule that names no view (the
    rules after it are never reached). The caller checks them all at once."""
    wanted: list[int] = []
    for rule in rules:
        if not _fits(rule, category, priority):
            continue
        if rule.view_id is None:
            break
        wanted.append(rule.view_id)
    return list(dict.fromkeys(wanted))
