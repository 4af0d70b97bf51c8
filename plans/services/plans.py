"""Plans, subscriptions, the post-onboarding package, and the coverage engine's database side.

Two kinds of functions live here:

- Manager services (``create_plan``, ``change_plan_terms``, ``update_plan``, ``subscribe``,
  ``end_subscription``, ``set_package``) validate raw form values, write, and commit.
- The engine (``decide_for_ticket``, ``charge_time_entry``, ``settle_approval``) is called by
  tickets/ inside the ticket's own transaction. It serialises per client (so two agents cannot
  both spend the last minutes of an allowance), reads usage from the ledger, asks the pure rules
  in ``plans.coverage``, and writes an immutable ``CoverageDecision`` with its ``UsageEntry``
  rows. It never commits: the caller commits the ticket change and its coverage together.

Tickets are known only by id; nothing here imports ``tickets``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import func, or_, select, text

from helpdesk.accounts import User
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.clock import utcnow
from helpdesk.companies import Client, vendor_today
from helpdesk.date_bounds import DateOutOfBounds, out_of_bounds_message, parse_day, within_bounds
from helpdesk.errors import BadRequest, Conflict, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _, format_date
from helpdesk.notifications import notify, recipients_for
from helpdesk.text import is_blank, one_line_error, whole_number
from plans.coverage import (
    CATEGORIES,
    FREE_SOURCES,
    MAX_ENTRY_MINUTES,
    OVERAGE_POLICIES,
    ClientState,
    Decision,
    PlanTerms,
    SubscriptionTerms,
    TimeCharge,
    Usage,
    charge_time,
    decide,
    inputs_to_dict,
    rollover,
)
from plans.models import (
    SETTLEMENTS,
    CoverageDecision,
    PlanVersion,
    Subscription,
    SupportPlan,
    UsageEntry,
)
from plans.periods import PERIOD_KINDS, Period, add_months, period_boundary, period_containing

log = logging.getLogger(__name__)

MAX_ALLOWANCE_MINUTES = 100_000  # about 1,666 hours a period
MAX_ALLOWANCE_TICKETS = 10_000
MAX_RATE = Decimal(100_000)
MAX_PACKAGE_MONTHS = 24
WARNING_SHARE = Decimal("0.8")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# pg_advisory_xact_lock(namespace, client_id): one namespace for the coverage of a client.
_LOCK_NAMESPACE = 0x434F56  # "COV"

MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
_Row = TypeVar("_Row", SupportPlan, Client, Subscription)  # what `_by_id` finds


class CoverageError(Invalid, ValueError):
    """Values about plans or coverage were refused. ``fields`` maps form fields to messages."""


__all__ = ["BadRequest", "Conflict", "CoverageError", "NotFound"]  # re-exported for callers


def coverage_today() -> date:
    """Today on the vendor's calendar (``COVERAGE_TIMEZONE``, Europe/Warsaw by default)."""
    return vendor_today()


def lock_client(client_id: int) -> None:
    """Serialise coverage work for one client until the transaction ends (PostgreSQL).

    Reading usage and writing the ledger happen under this lock, so two agents logging the last
    minutes of an allowance at once are decided one after the other. SQLite runs one writer at a
    time anyway.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :client_id)"),
            {"namespace": _LOCK_NAMESPACE, "client_id": client_id},
        )


# -- parsing form values ---------------------------------------------------------------------


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_int(fields: dict[str, str], name: str, raw: Any, *, low: int, high: int, required: bool) -> int | None:
    """A whole number in low..high, or None when blank and optional; else a message in fields."""
    if _blank(raw):
        if required:
            fields[name] = _("This field is required.")
        return None
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else whole_number(str(raw), signed=True)
    if value is None:
        fields[name] = _("Enter a whole number with the digits 0-9.")
        return None
    if not low <= value <= high:
        fields[name] = _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return value


def parse_date(fields: dict[str, str], name: str, raw: Any, *, required: bool) -> date | None:
    if isinstance(raw, date):
        if not within_bounds(raw):
            fields[name] = out_of_bounds_message()
            return None
        return raw
    if _blank(raw):
        if required:
            fields[name] = _("This field is required.")
        return None
    try:
        return parse_day(raw)
    except DateOutOfBounds as exc:
        fields[name] = str(exc)
        return None
    except ValueError:
        fields[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def parse_money(fields: dict[str, str], name: str, raw: Any) -> Decimal | None:
    """An amount from 0 to MAX_RATE with at most two decimals (comma or point), or None."""
    if _blank(raw):
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        fields[name] = _("Enter an amount such as 180 or 180.50.")
        return None
    if not value.is_finite() or not 0 <= value <= MAX_RATE or value != value.quantize(Decimal("0.01")):
        fields[name] = _("Enter an amount from 0 to %(max)s with at most two decimals.", max=MAX_RATE)
        return None
    return value.quantize(Decimal("0.01"))


def parse_currency(fields: dict[str, str], name: str, raw: Any) -> str:
    value = (str(raw or "PLN")).strip().upper()
    if not CURRENCY_RE.match(value):
        fields[name] = _("Enter a three-letter currency code, e.g. PLN.")
    return value


def parse_sla_policy(fields: dict[str, str], name: str, raw: Any) -> int | None:
    """An SLA policy's id, or None when blank (the policy support plans get by default)."""
    if _blank(raw):
        return None
    text_value = str(raw).strip()
    policy = None
    if text_value.isascii() and text_value.isdigit() and len(text_value) < 10:
        policy = db.session.get(SlaPolicy, int(text_value))
    if policy is None:
        fields[name] = _("Choose an SLA policy from the list.")
        return None
    return policy.id


def _raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise CoverageError(_("Please correct the marked fields."), fields)


# -- plans -----------------------------------------------------------------------------------


def parse_terms(values: Mapping[str, Any], period: str) -> dict[str, Any]:
    """Plan terms from form values, checked field by field; raises CoverageError.

    ``sla_policy_id`` (blank: the default for support plans) names the SLA policy, and with it
    the business calendar, of the tickets the plan covers.
    """
    fields: dict[str, str] = {}
    raw_categories = values.get("covered_categories") or []
    if isinstance(raw_categories, str):
        raw_categories = [raw_categories]
    categories = sorted({c for c in raw_categories if c in CATEGORIES})
    if unknown := sorted(set(raw_categories) - set(CATEGORIES)):
        fields["covered_categories"] = _("Unknown category: %(value)s", value=", ".join(map(str, unknown)))
    elif not categories:
        fields["covered_categories"] = _("Choose at least one category the plan covers.")
    allowance_minutes = parse_int(
        fields, "allowance_minutes", values.get("allowance_minutes"), low=0, high=MAX_ALLOWANCE_MINUTES, required=False
    )
    allowance_tickets = parse_int(
        fields, "allowance_tickets", values.get("allowance_tickets"), low=0, high=MAX_ALLOWANCE_TICKETS, required=False
    )
    increment = parse_int(fields, "billing_increment", values.get("billing_increment"), low=1, high=30, required=True)
    if increment is not None and increment not in (1, 15, 30):
        fields["billing_increment"] = _("Bill every started 1, 15 or 30 minutes.")
    cap = parse_int(
        fields, "rollover_cap_minutes", values.get("rollover_cap_minutes") or 0, low=0, high=MAX_ALLOWANCE_MINUTES,
        required=False,
    ) or 0
    if cap and "allowance_minutes" not in fields:
        if allowance_minutes is None:
            fields["rollover_cap_minutes"] = _("A rollover cap needs an allowance in minutes.")
        elif cap > allowance_minutes:
            fields["rollover_cap_minutes"] = _("The rollover cap cannot be larger than the allowance.")
    policy = values.get("overage_policy")
    if policy not in OVERAGE_POLICIES:
        fields["overage_policy"] = _("Choose what happens when the allowance is used up.")
    rate = parse_money(fields, "hourly_rate", values.get("hourly_rate"))
    if policy == "bill" and rate is None and "hourly_rate" not in fields:
        fields["hourly_rate"] = _("Billing extra time needs an hourly rate.")
    currency = parse_currency(fields, "currency", values.get("currency"))
    sla_policy_id = parse_sla_policy(fields, "sla_policy_id", values.get("sla_policy_id"))
    if period not in PERIOD_KINDS:
        fields["period"] = _("Choose a month or a quarter.")
    _raise_if(fields)
    terms = {
        "covered_categories": categories,
        "allowance_minutes": allowance_minutes,
        "allowance_tickets": allowance_tickets,
        "billing_increment": increment,
        "rollover_cap_minutes": cap,
        "overage_policy": policy,
        "hourly_rate": rate,
        "currency": currency,
    }
    try:
        PlanTerms(name="check", period=period, **{**terms, "covered_categories": frozenset(categories)})
    except ValueError as exc:  # every rule is checked above; this is the pure rules' last word
        raise CoverageError(str(exc)) from exc
    terms["sla_policy_id"] = sla_policy_id  # no coverage rule reads it: the SLA engine does
    return terms


def _check_name(fields: dict[str, str], name: Any, plan_id: int | None = None) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    problem = one_line_error(name)
    if problem:
        fields["name"] = problem
        return name
    if is_blank(name) or len(name) > 100:
        fields["name"] = _("A name of 1 to 100 characters is required.")
        return name
    taken = db.session.scalar(select(SupportPlan.id).where(func.lower(SupportPlan.name) == name.lower()))
    if taken is not None and taken != plan_id:
        fields["name"] = _("A plan with this name already exists.")
    return name


def _by_id(model: type[_Row], row_id: int, missing: str) -> _Row:
    """The row of `model` with this id, or NotFound saying `missing`."""
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    return row


def get_plan(plan_id: int) -> SupportPlan:
    return _by_id(SupportPlan, plan_id, _("There is no such plan."))


def list_plans() -> list[SupportPlan]:
    return list(db.session.scalars(select(SupportPlan).order_by(SupportPlan.active.desc(), SupportPlan.name)))


def create_plan(*, actor_id: int | None, name: Any, period: Any, values: Mapping[str, Any]) -> SupportPlan:
    """A new plan whose first terms are in force from today; commits."""
    fields: dict[str, str] = {}
    name = _check_name(fields, name)
    if period not in PERIOD_KINDS:
        fields["period"] = _("Choose a month or a quarter.")
    try:
        terms = parse_terms(values, period if period in PERIOD_KINDS else "month")
    except CoverageError as exc:
        fields.update(exc.fields)
    _raise_if(fields)
    plan = SupportPlan(name=name, period=period, active=True, created_at=utcnow())
    db.session.add(plan)
    db.session.flush()
    db.session.add(
        PlanVersion(plan_id=plan.id, effective_from=coverage_today(), created_by_id=actor_id, created_at=utcnow(), **terms)
    )
    db.session.commit()
    return plan


def update_plan(plan_id: int, *, name: Any, active: bool) -> SupportPlan:
    """Rename a plan or take it off sale (existing subscriptions go on); commits.

    Decisions already stored keep the name they were made with.
    """
    plan = get_plan(plan_id)
    fields: dict[str, str] = {}
    name = _check_name(fields, name, plan.id)
    _raise_if(fields)
    plan.name, plan.active = name, bool(active)
    db.session.commit()
    return plan


def change_plan_terms(
    plan_id: int, *, actor_id: int | None, effective_from: Any, values: Mapping[str, Any]
) -> PlanVersion:
    """New terms for a plan from a date (today or later); commits.

    A subscription's period uses the terms in force on the period's first day, so a period that
    has already begun keeps its terms and past periods are never rewritten.
    """
    plan = get_plan(plan_id)
    fields: dict[str, str] = {}
    day = parse_date(fields, "effective_from", effective_from, required=True)
    today = coverage_today()
    if day is not None and day < today:
        fields["effective_from"] = _(
            "Changes take effect from today or later; past periods are never rewritten."
        )
    elif day is not None and any(v.effective_from == day for v in plan.versions):
        fields["effective_from"] = _("This plan already has terms from %(day)s; pick another day.",
                                     day=format_date(day, "long"))
    try:
        terms = parse_terms(values, plan.period)
    except CoverageError as exc:
        fields.update(exc.fields)
    _raise_if(fields)
    version = PlanVersion(plan_id=plan.id, effective_from=day, created_by_id=actor_id, created_at=utcnow(), **terms)
    db.session.add(version)
    db.session.commit()
    return version


# -- subscriptions and the package ----------------------------------------------------------


def get_client(client_id: int) -> Client:
    return _by_id(Client, client_id, _("There is no such client."))


def client_subscriptions(client_id: int) -> list[Subscription]:
    return list(
        db.session.scalars(
            select(Subscription).where(Subscription.client_id == client_id).order_by(Subscription.starts_on)
        )
    )


def _overlapping(client_id: int, starts_on: date, ends_on: date | None, exclude_id: int | None = None) -> Subscription | None:
    query = select(Subscription).where(
        Subscription.client_id == client_id,
        or_(Subscription.ends_on.is_(None), Subscription.ends_on >= starts_on),
    )
    if ends_on is not None:
        query = query.where(Subscription.starts_on <= ends_on)
    if exclude_id is not None:
        query = query.where(Subscription.id != exclude_id)
    return db.session.scalars(query.order_by(Subscription.starts_on).limit(1)).first()


def _overlap_message(other: Subscription) -> str:
    if other.ends_on is None:
        return _(
            "This client already has the %(plan)s plan from %(start)s with no end date; end it first.",
            plan=other.plan.name, start=format_date(other.starts_on, "long"),
        )
    return _(
        "This client already has the %(plan)s plan from %(start)s to %(end)s; the dates overlap.",
        plan=other.plan.name, start=format_date(other.starts_on, "long"), end=format_date(other.ends_on, "long"),
    )


def subscribe(*, actor_id: int | None, client_id: Any, plan_id: Any, starts_on: Any, ends_on: Any) -> Subscription:
    """Subscribe a client to a plan from a start date (today or later); commits.

    A client's subscriptions never overlap: coverage must name one plan for every day.
    """
    fields: dict[str, str] = {}
    client = plan = None
    if (wanted := whole_number(str(client_id or ""))) is not None and wanted <= MAX_ID:
        client = db.session.get(Client, wanted)
    if client is None:
        fields["client"] = _("Choose a client.")
    if (wanted := whole_number(str(plan_id or ""))) is not None and wanted <= MAX_ID:
        plan = db.session.get(SupportPlan, wanted)
    if plan is None or not plan.active:
        fields["plan"] = _("Choose a plan that is on sale.")
    start = parse_date(fields, "starts_on", starts_on, required=True)
    end = parse_date(fields, "ends_on", ends_on, required=False)
    today = coverage_today()
    if start is not None and start < today:
        fields["starts_on"] = _("A subscription starts today or later; coverage already decided is never rewritten.")
    if start is not None and end is not None and end < start:
        fields["ends_on"] = _("The end date cannot be before the start date.")
    _raise_if(fields)
    assert client is not None and plan is not None and start is not None
    lock_client(client.id)
    other = _overlapping(client.id, start, end)
    if other is not None:
        raise Conflict(_overlap_message(other), {"starts_on": _("Overlaps another subscription.")})
    subscription = Subscription(
        client_id=client.id, plan_id=plan.id, starts_on=start, ends_on=end, created_by_id=actor_id, created_at=utcnow()
    )
    db.session.add(subscription)
    db.session.commit()
    return subscription


def get_subscription(subscription_id: int) -> Subscription:
    return _by_id(Subscription, subscription_id, _("There is no such subscription."))


def end_subscription(subscription_id: int, *, ends_on: Any) -> Subscription:
    """Set (or clear) the last day of a subscription that has not ended yet; commits."""
    subscription = get_subscription(subscription_id)
    fields: dict[str, str] = {}
    end = parse_date(fields, "ends_on", ends_on, required=False)
    today = coverage_today()
    if subscription.ends_on is not None and subscription.ends_on < today:
        raise Conflict(_("This subscription has ended; subscribe the client again instead."))
    if end is not None and end < max(today, subscription.starts_on):
        fields["ends_on"] = _("The last day is today or later, and not before the start.")
    _raise_if(fields)
    lock_client(subscription.client_id)
    other = _overlapping(subscription.client_id, subscription.starts_on, end, exclude_id=subscription.id)
    if other is not None:
        raise Conflict(_overlap_message(other), {"ends_on": _("Overlaps another subscription.")})
    subscription.ends_on = end
    db.session.commit()
    return subscription


def set_package(client_id: int, *, signed_on: Any, months: Any) -> Client:
    """Record the acceptance protocol's signing day and the package length; commits.

    A signing day puts the client in production (the package runs from that day); clearing it
    puts the client back in onboarding.
    """
    client = get_client(client_id)
    fields: dict[str, str] = {}
    day = parse_date(fields, "protocol_signed_on", signed_on, required=False)
    length = parse_int(fields, "package_months", months, low=1, high=MAX_PACKAGE_MONTHS, required=True)
    if day is not None and day > coverage_today():
        fields["protocol_signed_on"] = _("The protocol cannot be signed in the future.")
    _raise_if(fields)
    lock_client(client.id)
    client.protocol_signed_on = day
    client.package_months = length
    client.phase = "production" if day is not None else "onboarding"
    db.session.commit()
    return client


# -- periods ---------------------------------------------------------------------------------


def calendar_month(day: date) -> Period:
    first = day.replace(day=1)
    return Period(first, add_months(first, 1))


def subscription_on(client_id: int, day: date) -> Subscription | None:
    """The client's subscription active on ``day`` (at most one: they never overlap)."""
    return db.session.scalars(
        select(Subscription)
        .where(
            Subscription.client_id == client_id,
            Subscription.starts_on <= day,
            or_(Subscription.ends_on.is_(None), Subscription.ends_on >= day),
        )
        .limit(1)
    ).first()


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
    subscription: Subscription, until: date, used: Mapping[date, tuple[int, int]]
) -> list[PeriodAllowance]:
    """Every period of the subscription up to the one containing ``until``, oldest first, with
    the rollover carried from one into the next. ``used`` maps a period start to the (minutes,
    tickets) taken from the allowance, summed from the ledger."""
    history: list[PeriodAllowance] = []
    rollover_in = 0
    terms: dict[int, PlanTerms] = {}
    for period in periods_of(subscription, until):
        minutes, tickets = used.get(period.start, (0, 0))
        version = subscription.plan.version_on(period.start)
        if version.id not in terms:
            terms[version.id] = version.terms(subscription.plan)
        entry = PeriodAllowance(period, terms[version.id], rollover_in, minutes, tickets)
        history.append(entry)
        rollover_in = entry.rollover_out
    return history


def allowance_used(subscription_ids: list[int], before: date) -> dict[int, dict[date, tuple[int, int]]]:
    """(minutes, tickets) taken from the allowance, by subscription and period start, in periods
    starting before a day. One GROUP BY, answered from the (subscription, period, charge, minutes,
    tickets) index."""
    if not subscription_ids:
        return {}
    rows = db.session.execute(
        select(
            UsageEntry.subscription_id,
            UsageEntry.period_start,
            func.coalesce(func.sum(UsageEntry.minutes), 0),
            func.coalesce(func.sum(UsageEntry.tickets), 0),
        )
        .where(
            UsageEntry.subscription_id.in_(subscription_ids),
            UsageEntry.period_start < before,
            UsageEntry.charge == "allowance",
        )
        .group_by(UsageEntry.subscription_id, UsageEntry.period_start)
    ).all()
    used: dict[int, dict[date, tuple[int, int]]] = {}
    for sid, start, minutes, tickets in rows:
        used.setdefault(sid, {})[start] = (int(minutes), int(tickets))
    return used


def period_allowance(subscription: Subscription, day: date) -> PeriodAllowance:
    """The allowance of the subscription's period containing ``day``."""
    used = allowance_used([subscription.id], period_of(subscription, day).end)
    return allowance_history(subscription, day, used.get(subscription.id, {}))[-1]


# -- the engine ------------------------------------------------------------------------------


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
    state = ClientState(client.phase, client.protocol_signed_on, client.package_months)
    subscription = subscription_on(client_id, day)
    if subscription is None:
        return Situation(client, state, None, None, calendar_month(day), None, Usage())
    allowance = period_allowance(subscription, day)
    period = allowance.period
    tickets_used = allowance.tickets_used
    if ticket_id is not None:
        tickets_used -= _tickets_counted(ticket_id, subscription.id, period.start)
    usage = Usage(
        minutes_used=max(0, allowance.minutes_used),
        tickets_used=max(0, tickets_used),
        rollover_minutes=allowance.rollover_in,
    )
    return Situation(client, state, subscription, subscription_terms(subscription, period), period, allowance, usage)


def _tickets_counted(ticket_id: int, subscription_id: int, period_start: date) -> int:
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


def _pending_minutes(ticket_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(UsageEntry.minutes), 0)).where(
                UsageEntry.ticket_id == ticket_id, UsageEntry.charge == "pending"
            )
        )
    )


def current_decision(ticket_id: int) -> CoverageDecision | None:
    """The ticket's latest coverage decision."""
    return db.session.scalars(
        select(CoverageDecision).where(CoverageDecision.ticket_id == ticket_id).order_by(CoverageDecision.id.desc()).limit(1)
    ).first()


def current_decisions(ticket_ids: list[int]) -> dict[int, CoverageDecision]:
    """The latest decision of each ticket, in one query."""
    if not ticket_ids:
        return {}
    latest = (
        select(func.max(CoverageDecision.id))
        .where(CoverageDecision.ticket_id.in_(ticket_ids))
        .group_by(CoverageDecision.ticket_id)
    )
    return {d.ticket_id: d for d in db.session.scalars(select(CoverageDecision).where(CoverageDecision.id.in_(latest)))}


def time_entry_decision(time_entry_id: int) -> CoverageDecision:
    """The decision a time entry's minutes got (each entry has exactly one)."""
    return db.session.scalars(
        select(CoverageDecision).where(CoverageDecision.time_entry_id == time_entry_id)
    ).one()


def decisions_for_ticket(ticket_id: int) -> list[CoverageDecision]:
    """The ticket's decision history, oldest first."""
    return list(
        db.session.scalars(
            select(CoverageDecision).where(CoverageDecision.ticket_id == ticket_id).order_by(CoverageDecision.id)
        )
    )


def next_approval(previous: str | None, *, uncovered: bool, trigger: str, pending_minutes: int) -> str | None:
    """The approval state a new decision leaves the ticket in.

    A manager's settlement (billable, goodwill, declined) holds for the ticket until its category
    changes; otherwise the ticket waits for approval while some of its work is uncovered or
    minutes are still pending.
    """
    if trigger != "reclassified" and previous in SETTLEMENTS:
        return previous
    if uncovered or (previous == "pending" and pending_minutes > 0):
        return "pending"
    return None


@dataclass(frozen=True)
class AllowanceLevel:
    """How much of a period's allowance is used: minutes and tickets (None: no such limit)."""

    minutes_used: int = 0
    minutes_available: int | None = None
    tickets_used: int = 0
    tickets_available: int | None = None


def allowance_thresholds_crossed(before: AllowanceLevel, after: AllowanceLevel) -> list[str]:
    """Which notification events a change of usage from ``before`` to ``after`` crosses:
    ``allowance.exhausted`` when the minutes or tickets reach the allowance, else
    ``allowance.warning`` when they reach WARNING_SHARE (80 %) of it. Pure; at most one event."""
    exhausted = warning = False
    pairs = (
        (before.minutes_used, after.minutes_used, after.minutes_available),
        (before.tickets_used, after.tickets_used, after.tickets_available),
    )
    for used_before, used_after, available in pairs:
        if not available:
            continue
        if used_before < available <= used_after:
            exhausted = True
        elif used_before < WARNING_SHARE * available <= used_after:
            warning = True
    if exhausted:
        return ["allowance.exhausted"]
    return ["allowance.warning"] if warning else []


def _level(s: Situation, minutes: int = 0, tickets: int = 0) -> AllowanceLevel:
    if s.allowance is None:
        return AllowanceLevel()
    return AllowanceLevel(
        minutes_used=s.allowance.minutes_used + minutes,
        minutes_available=s.allowance.available_minutes,
        tickets_used=s.allowance.tickets_used + tickets,
        tickets_available=s.allowance.terms.allowance_tickets,
    )


def _recipients(client_id: int | None) -> list[User]:
    """Client admins of a client (allowance events) or, for None, the managers (approvals)."""
    query = select(User).where(User.active.is_(True))
    if client_id is None:
        query = query.where(User.role == "manager")
    else:
        query = query.where(User.client_id == client_id, User.is_client_admin.is_(True))
    return list(db.session.scalars(query.order_by(User.id)))


def announce(event: str, *, client: Client, ticket_id: int, values: dict[str, Any]) -> None:
    """The one place coverage emits notifications, inside the caller's transaction.

    NOTIFY(lead): after merging the notifications branch, call
    ``helpdesk.notifications.notify(event, recipients=recipients, values=values, ticket_id=ticket_id)``
    here. Events: ``approval.needed`` (to managers), ``allowance.warning`` and
    ``allowance.exhausted`` (to the client's admins).
    """
    recipients = _recipients(None if event == "approval.needed" else client.id)
    values = {"client": client.name, **values}
    log.info("coverage event %s for ticket %s to %s: %s", event, ticket_id, [u.email for u in recipients], values)
    notify(event, recipients=recipients_for(recipients), values=values, ticket_id=ticket_id)


@dataclass
class Outcome:
    """What the engine wrote for one event on a ticket, and which notifications it raised."""

    record: CoverageDecision
    entries: list[UsageEntry] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


def _store_decision(
    *,
    ticket_id: int,
    s: Situation,
    category: str,
    decision: Decision,
    day: date,
    trigger: str,
    approval: str | None,
    actor_id: int | None,
    why: str | None = None,
    time_entry_id: int | None = None,
    charge: TimeCharge | None = None,
) -> CoverageDecision:
    record = CoverageDecision(
        ticket_id=ticket_id,
        client_id=s.client.id,
        time_entry_id=time_entry_id,
        trigger=trigger,
        why=why or None,
        category=category,
        source=decision.source,
        covered=decision.covered,
        needs_approval=decision.needs_approval,
        billable=decision.billable,
        approval=approval,
        reason_msgid=decision.reason.msgid,
        reason_params=decision.reason.to_dict()["params"],
        period_label=s.period.label,
        period_start=s.period.start,
        subscription_id=s.subscription.id if s.subscription else None,
        inputs=inputs_to_dict(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=day),
        decision=decision.to_dict(),
        charge=None if charge is None else {
            "billed_minutes": charge.billed_minutes,
            "covered_minutes": charge.covered_minutes,
            "overage_minutes": charge.overage_minutes,
            "consumes_allowance": charge.consumes_allowance,
            "needs_approval": charge.needs_approval,
            "billable_overage": charge.billable_overage,
        },
        actor_id=actor_id,
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    return record


def _entry(record: CoverageDecision, s: Situation, **values: Any) -> UsageEntry:
    values.setdefault("period_label", s.period.label)
    values.setdefault("period_start", s.period.start)
    values.setdefault("subscription_id", s.subscription.id if s.subscription else None)
    entry = UsageEntry(
        client_id=s.client.id,
        ticket_id=record.ticket_id,
        decision_id=record.id,
        created_at=utcnow(),
        **values,
    )
    db.session.add(entry)
    return entry


def _amount(minutes: int, rate: Decimal | None) -> Decimal:
    if rate is None or not minutes:
        return Decimal(0)
    return (Decimal(minutes) * rate / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _finish(
    record: CoverageDecision, s: Situation, entries: list[UsageEntry], previous: CoverageDecision | None
) -> Outcome:
    """Flush the rows, work out which notifications they raise and announce them."""
    db.session.flush()
    events: list[str] = []
    if record.approval == "pending" and (previous is None or previous.approval != "pending"):
        events.append("approval.needed")
    if s.allowance is not None:
        minutes = sum(e.minutes for e in entries if e.charge == "allowance" and e.period_start == s.period.start)
        tickets = sum(e.tickets for e in entries if e.charge == "allowance" and e.period_start == s.period.start)
        events += allowance_thresholds_crossed(_level(s), _level(s, minutes, tickets))
    for name in events:
        announce(name, client=s.client, ticket_id=record.ticket_id, values={
            "ticket_id": record.ticket_id,
            "period": record.period_label,
            "source": record.source,
            "reason": {"msgid": record.reason_msgid, "params": record.reason_params},
        })
    return Outcome(record, entries, events)


def decide_for_ticket(
    *,
    ticket_id: int,
    client_id: int,
    category: str,
    trigger: str,
    actor_id: int | None,
    today: date,
    why: str | None = None,
) -> Outcome:
    """Decide a ticket's coverage when it is filed or reclassified; does not commit.

    A ticket covered by a plan's allowance is counted against the period's ticket allowance
    (once per period). Reclassified into a free source (a question that is really a bug), the
    ticket gets back every minute and ticket it took: negative rows in the periods they came
    from, and the same minutes recorded again as free work.
    """
    if trigger not in ("filed", "reclassified"):
        raise ValueError(f"unexpected trigger {trigger!r}")
    lock_client(client_id)
    s = situation(client_id, today, ticket_id)
    decision = decide(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=today)
    previous = current_decision(ticket_id)
    refund_rows = _refundable(ticket_id) if trigger == "reclassified" and decision.source in FREE_SOURCES else []
    pending = 0 if refund_rows else _pending_minutes(ticket_id)
    approval = next_approval(
        previous.approval if previous else None,
        uncovered=not decision.covered,
        trigger=trigger,
        pending_minutes=pending,
    )
    record = _store_decision(
        ticket_id=ticket_id, s=s, category=category, decision=decision, day=today, trigger=trigger,
        approval=approval, actor_id=actor_id, why=why,
    )
    entries: list[UsageEntry] = []
    if decision.within_allowance and s.subscription is not None:
        if _tickets_counted(ticket_id, s.subscription.id, s.period.start) <= 0:
            entries.append(_entry(record, s, work_date=today, source="support_plan", kind="consumption",
                                  charge="allowance", minutes=0, tickets=1, author_id=actor_id))
    entries += _refund(record, s, refund_rows, today, actor_id)
    return _finish(record, s, entries, previous)


def _refundable(ticket_id: int) -> list[Any]:
    """The ticket's net non-free usage, per period, subscription, charge, source and currency."""
    per = (
        UsageEntry.subscription_id,
        UsageEntry.period_label,
        UsageEntry.period_start,
        UsageEntry.charge,
        UsageEntry.source,
        UsageEntry.currency,
    )
    return [
        row
        for row in db.session.execute(
            select(
                *per,
                func.coalesce(func.sum(UsageEntry.minutes), 0).label("minutes"),
                func.coalesce(func.sum(UsageEntry.tickets), 0).label("tickets"),
                func.coalesce(func.sum(UsageEntry.amount), 0).label("amount"),
            )
            .where(UsageEntry.ticket_id == ticket_id, UsageEntry.charge != "free")
            .group_by(*per)
            .order_by(UsageEntry.period_start, UsageEntry.charge)
        ).all()
        if row.minutes or row.tickets or row.amount
    ]


def _refund(
    record: CoverageDecision, s: Situation, rows: list[Any], today: date, actor_id: int | None
) -> list[UsageEntry]:
    entries = []
    work: dict[tuple[int | None, str, date], int] = {}
    for row in rows:
        where = {"subscription_id": row.subscription_id, "period_label": row.period_label,
                 "period_start": row.period_start}
        entries.append(_entry(record, s, **where, work_date=today, source=row.source, kind="refund",
                              charge=row.charge, minutes=-int(row.minutes), tickets=-int(row.tickets),
                              amount=-Decimal(row.amount), currency=row.currency, author_id=actor_id))
        key = (row.subscription_id, row.period_label, row.period_start)
        work[key] = work.get(key, 0) + int(row.minutes)
    for (subscription_id, label, start), minutes in work.items():
        if minutes > 0:
            entries.append(_entry(record, s, subscription_id=subscription_id, period_label=label,
                                  period_start=start, work_date=today, source=record.source,
                                  kind="consumption", charge="free", minutes=minutes, author_id=actor_id))
    return entries


def _approval_terms(ticket_id: int) -> tuple[Decimal | None, str | None]:
    """The rate and currency of the ticket's latest billable approval."""
    row = db.session.execute(
        select(CoverageDecision.approval_rate, CoverageDecision.approval_currency)
        .where(CoverageDecision.ticket_id == ticket_id, CoverageDecision.trigger == "approval")
        .order_by(CoverageDecision.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def charge_time_entry(
    *,
    ticket_id: int,
    client_id: int,
    category: str,
    time_entry_id: int,
    minutes: int,
    work_date: date,
    author_id: int | None,
) -> Outcome:
    """Decide and charge one time entry; does not commit.

    The rules decide as of the work date with the usage of that day's period; ``charge_time``
    rounds the minutes up to the plan's increment and splits them at the end of the allowance.
    Overage is billable (policy ``bill``, or a ticket a manager approved as billable), goodwill,
    unbilled (declined) or pending a manager's approval.
    """
    if not 1 <= minutes <= MAX_ENTRY_MINUTES:
        raise CoverageError(_("Enter from 1 to %(max)s minutes.", max=MAX_ENTRY_MINUTES), {"minutes": _("Out of range.")})
    lock_client(client_id)
    s = situation(client_id, work_date, ticket_id)
    decision = decide(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=work_date)
    plan = s.terms.plan if s.terms is not None and decision.source in ("support_plan", "none") else None
    charge = charge_time(decision=decision, minutes=minutes, plan=plan, usage=s.usage)
    previous = current_decision(ticket_id)
    approval = next_approval(
        previous.approval if previous else None,
        uncovered=charge.overage_minutes > 0 and not charge.billable_overage,
        trigger="time_entry",
        pending_minutes=_pending_minutes(ticket_id),
    )
    record = _store_decision(
        ticket_id=ticket_id, s=s, category=category, decision=decision, day=work_date, trigger="time_entry",
        approval=approval, actor_id=author_id, time_entry_id=time_entry_id, charge=charge,
    )
    common = {"work_date": work_date, "time_entry_id": time_entry_id, "author_id": author_id}
    entries: list[UsageEntry] = []
    if charge.covered_minutes and charge.consumes_allowance:
        assert s.subscription is not None
        counted = _tickets_counted(ticket_id, s.subscription.id, s.period.start) > 0
        entries.append(_entry(record, s, **common, source=decision.source, kind="consumption", charge="allowance",
                              minutes=charge.covered_minutes, tickets=0 if counted else 1))
    elif charge.covered_minutes:
        entries.append(_entry(record, s, **common, source=decision.source, kind="consumption", charge="free",
                              minutes=charge.covered_minutes))
    if charge.overage_minutes:
        rate: Decimal | None = None
        currency: str | None = None
        if charge.billable_overage and plan is not None:
            bucket, rate, currency = "billable", plan.hourly_rate, plan.currency
        elif approval == "billable":
            bucket, (rate, currency) = "billable", _approval_terms(ticket_id)
        elif approval in ("goodwill", "pending"):
            bucket = approval
        else:
            bucket = "unbilled"
        entries.append(_entry(record, s, **common, source=decision.source, kind="overage", charge=bucket,
                              minutes=charge.overage_minutes, amount=_amount(charge.overage_minutes, rate),
                              rate=rate, currency=currency))
    return _finish(record, s, entries, previous)


# The columns of a coverage decision that say what was decided and why; a settlement copies them.
_ENTITLEMENT = (
    "category", "source", "covered", "needs_approval", "billable", "reason_msgid", "reason_params",
    "period_label", "period_start", "subscription_id", "inputs", "decision",
)


def settle_approval(
    *,
    ticket_id: int,
    client_id: int,
    outcome: Any,
    actor_id: int | None,
    message: str,
    rate: Any = None,
    currency: Any = None,
) -> Outcome:
    """A manager settles a ticket waiting for approval: ``billable``, ``goodwill`` or
    ``declined``; does not commit.

    The entitlement decision stays as it was; a new record says who settled it and how. Minutes
    pending approval move (two rows of kind ``approval``) to billable at the rate given or the
    plan's rate, to goodwill, or to unbilled. Later overage on the ticket follows the settlement.
    """
    fields: dict[str, str] = {}
    if outcome not in SETTLEMENTS:
        fields["outcome"] = _("Choose billable, goodwill or decline.")
    amount_rate = parse_money(fields, "rate", rate)
    _raise_if(fields)
    lock_client(client_id)
    previous = current_decision(ticket_id)
    if previous is None or previous.approval != "pending":
        raise Conflict(_("This ticket is not waiting for a manager's approval."))
    plan_terms = ((previous.inputs.get("subscription") or {}).get("plan")) or {}
    currency_code = None
    if outcome == "billable":
        if amount_rate is None and plan_terms.get("hourly_rate") is not None:
            amount_rate = Decimal(plan_terms["hourly_rate"])  # the plan's rate, in the plan's currency
            currency = plan_terms.get("currency")
        if amount_rate is None:
            fields["rate"] = _("Enter the hourly rate to bill this work at.")
        currency_code = parse_currency(fields, "currency", currency)
        _raise_if(fields)
    s = situation(client_id, coverage_today(), ticket_id)
    record = CoverageDecision(
        ticket_id=ticket_id,
        client_id=client_id,
        trigger="approval",
        why=message,
        **{name: getattr(previous, name) for name in _ENTITLEMENT},
        approval=outcome,
        approval_rate=amount_rate if outcome == "billable" else None,
        approval_currency=currency_code,
        actor_id=actor_id,
        created_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    bucket = {"billable": "billable", "goodwill": "goodwill", "declined": "unbilled"}[outcome]
    pending = db.session.execute(
        select(
            UsageEntry.subscription_id,
            UsageEntry.period_label,
            UsageEntry.period_start,
            UsageEntry.source,
            func.sum(UsageEntry.minutes).label("minutes"),
        )
        .where(UsageEntry.ticket_id == ticket_id, UsageEntry.charge == "pending")
        .group_by(UsageEntry.subscription_id, UsageEntry.period_label, UsageEntry.period_start, UsageEntry.source)
        .order_by(UsageEntry.period_start)
    ).all()
    entries = []
    today = coverage_today()
    for row in pending:
        if not row.minutes:
            continue
        where = {"subscription_id": row.subscription_id, "period_label": row.period_label,
                 "period_start": row.period_start, "work_date": today, "source": row.source,
                 "kind": "approval", "author_id": actor_id}
        entries.append(_entry(record, s, **where, charge="pending", minutes=-int(row.minutes)))
        rate_here = amount_rate if outcome == "billable" else None
        entries.append(_entry(record, s, **where, charge=bucket, minutes=int(row.minutes),
                              amount=_amount(int(row.minutes), rate_here), rate=rate_here,
                              currency=currency_code if outcome == "billable" else None))
    return _finish(record, s, entries, previous)


def preview(client_id: int, today: date) -> tuple[Situation, dict[str, Decision]]:
    """What would cover a new ticket of each category filed today (read-only)."""
    s = situation(client_id, today, None)
    return s, {
        category: decide(category=category, client=s.state, subscription=s.terms, usage=s.usage, today=today)
        for category in CATEGORIES
    }


def time_entry_charges(ticket_id: int) -> dict[int, list[tuple[str, int]]]:
    """(charge, minutes) per time entry of a ticket, as first charged."""
    rows = db.session.execute(
        select(UsageEntry.time_entry_id, UsageEntry.charge, func.sum(UsageEntry.minutes))
        .where(UsageEntry.ticket_id == ticket_id, UsageEntry.time_entry_id.is_not(None),
               UsageEntry.kind.in_(("consumption", "overage")))
        .group_by(UsageEntry.time_entry_id, UsageEntry.charge)
        .order_by(UsageEntry.time_entry_id, UsageEntry.charge)
    ).all()
    charges: dict[int, list[tuple[str, int]]] = {}
    for entry_id, charge, minutes in rows:
        charges.setdefault(entry_id, []).append((charge, int(minutes)))
    return charges
