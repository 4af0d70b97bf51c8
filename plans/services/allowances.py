"""Periods of a subscription and the allowance in each, and the client's situation on a day.

``allowance_history`` carries the rollover from one period into the next, from the ledger's sums
per period (``allowance_used``, read from ``usage_totals``); ``situation`` gathers everything the pure rules in ``plans.coverage`` need
about a client on a day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from helpdesk.companies import Client
from helpdesk.extensions import db
from plans.coverage import ClientState, PlanTerms, SubscriptionTerms, Usage, rollover
from plans.models import Subscription, UsageEntry, UsageTotal
from plans.periods import Period, add_months, period_boundary, period_containing
from plans.services.clients import get_client
from plans.services.subscriptions import subscription_on


def calendar_month(day: date) -> Period:
    first = day.replace(day=1)
    return Period(first, add_months(first, 1))


def period_of(subscription: Subscription, day: date) -> Period:
    return period_containing(subscription.starts_on, subscription.plan.period, day)


def periods_of(subscription: Subscription, until: date) -> Iterator[Period]:
    """The subscription's periods that start on or before ``until`` (and before it ends)."""
    step = 1 if subscription.plan.period == "month" else 3
    last = until if subscription.ends_on is None else min(until, subscription.ends_on)
    k = 0
    start = subscription.starts_on
    while start <= last:
        end = period_boundary(subscription.starts_on, (k + 1) * step)
        yield Period(start, end)
        k, start = k + 1, end


def subscription_terms(subscription: Subscription, period: Period) -> SubscriptionTerms:
    """The subscription with the plan terms in force on the period's first day."""
    return SubscriptionTerms(
        subscription.id, subscription.starts_on, subscription.ends_on, subscription.plan.terms_on(period.start)
    )


@dataclass(frozen=True)
class PeriodAllowance:
    """One period of a subscription: its terms, the minutes rolled in, and what was used."""

    period: Period
    terms: PlanTerms
    rollover_in: int
    minutes_used: int
    tickets_used: int

    @property
    def available_minutes(self) -> int | None:
        if self.terms.allowance_minutes is None:
            return None
        return self.terms.allowance_minutes + self.rollover_in

    @property
    def remaining_minutes(self) -> int | None:
        available = self.available_minutes
        return None if available is None else max(0, available - self.minutes_used)

    @property
    def rollover_out(self) -> int:
        return rollover(
            allowance_minutes=self.terms.allowance_minutes,
            minutes_used=max(0, self.minutes_used),
            rollover_in=self.rollover_in,
            cap=self.terms.rollover_cap_minutes,
        )


def allowance_history(
    subscription: Subscription, until: date, used: Mapping[date, tuple[int, int]], since: date | None = None
) -> list[PeriodAllowance]:
    """Every period of the subscription up to the one containing ``until``, oldest first, with
    the rollover carried from one into the next. ``used`` maps a period start to the (minutes,
    tickets) taken from the allowance, summed from the ledger. With ``since``, only the periods
    starting on or after it are returned (the earlier ones still carry their rollover, in a
    tight loop: a few arithmetic steps each, no objects)."""
    plan = subscription.plan
    step = 1 if plan.period == "month" else 3
    last = until if subscription.ends_on is None else min(until, subscription.ends_on)
    anchor = subscription.starts_on
    versions = plan.versions
    k = 0
    start = anchor
    rollover_in = 0
    if since is not None:
        effective = [v.effective_from for v in versions]
        allowances = [v.allowance_minutes for v in versions]
        caps = [v.rollover_cap_minutes for v in versions]
        choice = 0
        first_month = anchor.year * 12 + anchor.month - 1  # period_boundary without a day to clamp
        while start < since and start <= last:
            while choice + 1 < len(effective) and effective[choice + 1] <= start:
                choice += 1
            allowance, cap = allowances[choice], caps[choice]
            if allowance is None:
                rollover_in = 0
            else:  # plans.coverage.rollover, inlined
                own_used = max(0, max(0, used.get(start, (0, 0))[0]) - rollover_in)
                rollover_in = max(0, min(cap, allowance - own_used))
            k += 1
            year, month = divmod(first_month + k * step, 12)
            start = date(year, month + 1, anchor.day) if anchor.day <= 28 else period_boundary(anchor, k * step)
    history: list[PeriodAllowance] = []
    terms: dict[int, PlanTerms] = {}
    while start <= last:
        end = period_boundary(anchor, (k + 1) * step)
        period = Period(start, end)
        minutes, tickets = used.get(start, (0, 0))
        version = plan.version_on(start)
        if version.id not in terms:
            terms[version.id] = version.terms(plan)
        entry = PeriodAllowance(period, terms[version.id], rollover_in, minutes, tickets)
        history.append(entry)
        rollover_in = entry.rollover_out
        k, start = k + 1, end
    return history


def allowance_used(subscription_ids: list[int], before: date) -> dict[int, dict[date, tuple[int, int]]]:
    """(minutes, tickets) taken from the allowance, by subscription and period start, in periods
    starting before a day. Read from ``usage_totals`` (the ledger summed per period by database
    triggers): one row per earlier period, not every ledger row since the subscription began."""
    if not subscription_ids:
        return {}
    rows = db.session.execute(
        select(
            UsageTotal.subscription_id,
            UsageTotal.period_start,
            func.coalesce(func.sum(UsageTotal.minutes), 0),
            func.coalesce(func.sum(UsageTotal.tickets), 0),
        )
        .where(
            UsageTotal.subscription_id.in_(subscription_ids),
            UsageTotal.period_start < before,
            UsageTotal.charge == "allowance",
        )
        .group_by(UsageTotal.subscription_id, UsageTotal.period_start)
    ).all()
    used: dict[int, dict[date, tuple[int, int]]] = {}
    for sid, start, minutes, tickets in rows:
        used.setdefault(sid, {})[start] = (int(minutes), int(tickets))
    return used


def period_allowance(subscription: Subscription, day: date) -> PeriodAllowance:
    """The allowance of the subscription's period containing ``day``."""
    used = allowance_used([subscription.id], period_of(subscription, day).end)
    return allowance_history(subscription, day, used.get(subscription.id, {}))[-1]


@dataclass
class Situation:
    """Everything the rules need about a client on a day, read from the database."""

    client: Client
    state: ClientState
    subscription: Subscription | None
    terms: SubscriptionTerms | None
    period: Period  # the accounting period: the subscription's, else the calendar month
    allowance: PeriodAllowance | None
    usage: Usage


def situation(client_id: int, day: date, ticket_id: int | None) -> Situation:
    """Read the client's state, subscription and usage on ``day``; ``ticket_id`` is left out of
    the tickets counted (see ``plans.coverage.Usage``)."""
    client = get_client(client_id)
    subscription = subscription_on(client_id, day)
    if subscription is None:
        return situation_of(client, None, {}, day, 0)
    period = period_of(subscription, day)
    used = allowance_used([subscription.id], period.end).get(subscription.id, {})
    counted = 0 if ticket_id is None else tickets_counted(ticket_id, subscription.id, period.start)
    return situation_of(client, subscription, used, day, counted)


def situation_of(
    client: Client, subscription: Subscription | None, used: Mapping[date, tuple[int, int]], day: date, counted: int
) -> Situation:
    """The situation from what ``situation`` reads (no query): the client, its subscription on
    ``day``, the allowance used per period start (``allowance_used``, periods starting before the
    end of the one containing ``day``) and the tickets the ticket decided already counts there."""
    state = ClientState(client.phase, client.protocol_signed_on, client.package_months)
    if subscription is None:
        return Situation(client, state, None, None, calendar_month(day), None, Usage())
    allowance = allowance_history(subscription, day, used)[-1]
    period = allowance.period
    usage = Usage(
        minutes_used=max(0, allowance.minutes_used),
        tickets_used=max(0, allowance.tickets_used - counted),
        rollover_minutes=allowance.rollover_in,
    )
    return Situation(client, state, subscription, subscription_terms(subscription, period), period, allowance, usage)


def tickets_counted(ticket_id: int, subscription_id: int, period_start: date) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(UsageEntry.tickets), 0)).where(
                UsageEntry.ticket_id == ticket_id,
                UsageEntry.subscription_id == subscription_id,
                UsageEntry.period_start == period_start,
                UsageEntry.charge == "allowance",
            )
        )
    )
