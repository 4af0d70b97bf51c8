"""Plans over the API: support plans, a client's subscriptions and its usage report.

The endpoints call the services the manager's pages call (`plans.services` to create plans and
subscribe clients, `plans.reports` for usage), so every rule and every figure exists once.
Usage is also open to the client's own admins, as their portal's usage page is.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Flask
from marshmallow import fields as ma

from helpdesk.accounts import User
from helpdesk.api import ApiBlueprint, ApiCall, ApiError, Body, Query, Shape, register_api
from helpdesk.api import fields as f
from helpdesk.api.errors import service_error_response
from helpdesk.companies import SLUG_RE, Client, client_by_slug
from helpdesk.errors import ServiceError
from helpdesk.i18n import _
from plans import reports, services
from plans.coverage import CATEGORIES, OVERAGE_POLICIES, SOURCES
from plans.models import SupportPlan
from plans.periods import PERIOD_KINDS, Period
from plans.services import MAX_ALLOWANCE_MINUTES, MAX_ALLOWANCE_TICKETS, MAX_RATE

MANAGERS = ("manager", "admin")
SLUG = SLUG_RE.pattern
# A calendar month (2026-11) or quarter (2026-Q4), as the manager's usage page takes.
REPORT_PERIOD = r"^[0-9]{4}-(?:0[1-9]|1[0-2]|Q[1-4])$"
AMOUNT = r"^[0-9]{1,6}(?:\.[0-9]{1,2})?$"
MONEY = r"^-?[0-9]+\.[0-9]{2}$"
CURRENCY = "^[A-Z]{3}$"
BILLING_INCREMENTS = (1, 15, 30)

bp = ApiBlueprint(
    "plans_api", __name__, tag="plans", tag_description="Support plans, subscriptions and usage (managers)."
)


def _count(**kwargs: Any) -> f.Integer:
    return f.Integer(validate=f.Between(0, None), **kwargs)


def _nullable_count(description: str | None = None) -> f.Integer:
    return _count(allow_none=True, **({"metadata": {"description": description}} if description else {}))


# -- what plans, subscriptions and usage look like ---------------------------------------------


class PlanView:
    """A plan as the Plan shape reads it: its row and the terms in force today."""

    def __init__(self, plan: SupportPlan) -> None:
        self.plan = plan
        self.terms = plan.version_on(services.coverage_today())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.terms if hasattr(self.terms, name) else self.plan, name)

    id = property(lambda self: self.plan.id)
    name = property(lambda self: self.plan.name)
    period = property(lambda self: self.plan.period)
    active = property(lambda self: self.plan.active)
    created_at = property(lambda self: self.plan.created_at)

    @property
    def covered_categories(self) -> list[str]:
        return [c for c in CATEGORIES if c in self.terms.covered_categories]


class PlanShape(Shape):
    """A support plan with the terms in force today (changes from a later day are not shown)."""

    component = "Plan"
    id = f.Integer()
    name = f.Text()
    period = f.choice(PERIOD_KINDS)
    active = f.Boolean(metadata={"description": "On sale: new subscriptions may take it."})
    terms_from = ma.Date(attribute="effective_from", metadata={"description": "The day these terms took effect."})
    covered_categories = ma.List(f.choice(CATEGORIES))
    allowance_minutes = _nullable_count("Per period; null: no minutes allowance.")
    allowance_tickets = _nullable_count("Per period; null: no ticket allowance.")
    billing_increment = f.Integer(validate=f.Among(BILLING_INCREMENTS))
    rollover_cap_minutes = _count()
    overage_policy = f.choice(OVERAGE_POLICIES)
    hourly_rate = f.Money(allow_none=True, validate=f.Pattern(MONEY), metadata={"description": 'Decimal, e.g. "180.00".'})
    currency = f.text(pattern=CURRENCY)
    created_at = f.Instant()


class PlanList(Shape):
    component = "PlanList"
    items = ma.List(ma.Nested(PlanShape))


class SubscriptionShape(Shape):
    component = "Subscription"
    id = f.Integer()
    client = f.Text(attribute="client_slug", metadata={"description": "The client company's slug."})
    plan_id = f.Integer()
    plan = f.Text(attribute="plan.name", metadata={"description": "The plan's name."})
    starts_on = ma.Date()
    ends_on = ma.Date(allow_none=True, metadata={"description": "The last day; null: open-ended."})
    created_at = f.Instant()


class SubscriptionList(Shape):
    component = "SubscriptionList"
    items = ma.List(ma.Nested(SubscriptionShape))


class PlanPeriod(Shape):
    plan = f.Text()
    label = f.Text()
    starts_on = ma.Date()
    ends_on = ma.Date(metadata={"description": "The last day, inclusive."})
    allowance_minutes = _nullable_count()
    rollover_in_minutes = _count()
    used_minutes = f.Integer()
    remaining_minutes = _nullable_count()
    allowance_tickets = _nullable_count()
    used_tickets = f.Integer()


class UsageMinutes(Shape):
    allowance = _nullable_count("Null: no minutes allowance in the period.")
    rollover = _nullable_count("Rolled in from earlier periods.")
    used = f.Integer(metadata={"description": "Taken from the allowance."})
    remaining = _nullable_count()
    free = f.Integer(metadata={"description": "Bug fixes, onboarding, the package."})
    overage = f.Integer(metadata={"description": "Beyond coverage: billable + pending + goodwill + unbilled."})
    billable = f.Integer()
    pending = f.Integer(metadata={"description": "Waiting for a manager's approval."})
    goodwill = f.Integer()
    unbilled = f.Integer()


ByCategory = Shape.from_dict({name: _count() for name in CATEGORIES}, name="ByCategory")
BySource = Shape.from_dict({name: _count() for name in SOURCES}, name="BySource")


class UsageTickets(Shape):
    filed = _count()
    allowance = _nullable_count("Null: no ticket allowance.")
    counted = f.Integer(metadata={"description": "Counted against the ticket allowance."})
    by_category = ma.Nested(ByCategory)
    by_source = ma.Nested(BySource, metadata={"description": "By current coverage source."})


class OverageValue(Shape):
    amount = f.Money(validate=f.Pattern(MONEY), metadata={"description": 'Billable overage, decimal, e.g. "90.00".'})
    currency = f.text(pattern=CURRENCY, allow_none=True)
    mixed_currencies = f.Boolean(metadata={"description": "The amount adds up several currencies."})


class UsageShape(Shape):
    """A client's usage in a calendar month or quarter: sums of the usage ledger for the plan
    periods that start in it, the figures of the manager's usage report."""

    component = "Usage"
    client = f.Text()
    period = f.text(pattern=REPORT_PERIOD)
    starts_on = ma.Date()
    ends_on = ma.Date(metadata={"description": "The last day, inclusive."})
    plans = ma.List(f.Text())
    plan_periods = ma.List(ma.Nested(PlanPeriod), metadata={
        "description": "The subscription periods that start in the report period."})
    minutes = ma.Nested(UsageMinutes)
    tickets = ma.Nested(UsageTickets)
    overage_value = ma.Nested(OverageValue)


def _last_day(period: Period) -> date:
    return period.end - timedelta(days=1)


def usage_values(line: reports.ClientUsage, period: Period) -> dict[str, Any]:
    """The report's line in the names of the Usage shape."""
    sums = line.sums
    return {
        "client": line.slug,
        "period": period.label,
        "starts_on": period.start,
        "ends_on": _last_day(period),
        "plans": list(line.plans),
        "plan_periods": [
            {
                "plan": p.terms.name, "label": p.period.label, "starts_on": p.period.start,
                "ends_on": _last_day(p.period), "allowance_minutes": p.terms.allowance_minutes,
                "rollover_in_minutes": p.rollover_in, "used_minutes": p.minutes_used,
                "remaining_minutes": p.remaining_minutes, "allowance_tickets": p.terms.allowance_tickets,
                "used_tickets": p.tickets_used,
            }
            for p in line.periods
        ],
        "minutes": {
            "allowance": line.allowance_minutes, "rollover": line.rollover_minutes, "used": sums.used,
            "remaining": line.remaining_minutes, "free": sums.free, "overage": sums.overage,
            "billable": sums.billable, "pending": sums.pending, "goodwill": sums.goodwill,
            "unbilled": sums.unbilled,
        },
        "tickets": {
            "filed": line.tickets, "allowance": line.allowance_tickets, "counted": sums.tickets_counted,
            "by_category": dict(line.by_category), "by_source": dict(line.by_source),
        },
        "overage_value": {"amount": sums.value, "currency": sums.currency, "mixed_currencies": sums.mixed_currencies},
    }


# -- what a request may carry ------------------------------------------------------------------


class NewPlan(Body):
    name = f.text(min_length=1, max_length=100, blank=False, single_line=True, required=True,
                  metadata={"description": "Unique, whatever the case."})
    period = f.choice(PERIOD_KINDS, required=True)
    covered_categories = f.UniqueList(f.choice(CATEGORIES), min_items=1, max_items=len(CATEGORIES), required=True)
    allowance_minutes = f.Integer(validate=f.Between(0, MAX_ALLOWANCE_MINUTES), allow_none=True,
                                  metadata={"description": "Per period; null or absent: none."})
    allowance_tickets = f.Integer(validate=f.Between(0, MAX_ALLOWANCE_TICKETS), allow_none=True,
                                  metadata={"description": "Per period; null or absent: none."})
    billing_increment = f.Integer(validate=f.Among(BILLING_INCREMENTS), metadata={
        "default": 15, "description": "Each time entry is billed per started increment."})
    rollover_cap_minutes = f.Integer(validate=f.Between(0, MAX_ALLOWANCE_MINUTES), metadata={"default": 0})
    overage_policy = f.choice(OVERAGE_POLICIES, required=True, metadata={"description": "When the allowance is used up."})
    hourly_rate = f.AnyOf(
        f.Integer(validate=f.Between(0, int(MAX_RATE))),
        f.text(pattern=AMOUNT),
        allow_none=True,
        metadata={"description": 'Of billed overage: a whole number or a decimal string such as "180.50".'},
    )
    currency = f.text(pattern=CURRENCY, metadata={"default": "PLN"})


class NewSubscription(Body):
    plan_id = f.Integer(validate=f.Between(1, f.MAX_ID), required=True)
    starts_on = f.Day(required=True)
    ends_on = f.Day(allow_none=True, metadata={"description": "The last day; null: open-ended."})


class UsagePeriod(Query):
    period = f.text(pattern=REPORT_PERIOD, metadata={
        "description": "A month such as 2026-11 or a quarter such as 2026-Q4; this month when absent."})


# -- errors and look-ups -----------------------------------------------------------------------

# The services name some fields as the manager's forms do; the API names them as its bodies do.
_FIELD_NAMES = {"plan": "plan_id", "client": "slug"}


@bp.errorhandler(ServiceError)
def coverage_error(error: ServiceError):
    return service_error_response(error, _FIELD_NAMES)


def _with_slug(subscription: Any, client: Client) -> Any:
    """The subscription with its client's slug, for the Subscription shape."""
    subscription.client_slug = client.slug
    return subscription


def _client_or_404(slug: str) -> Client:
    client = client_by_slug(slug)
    if client is None:
        raise ApiError(404, _("There is no such client."))
    return client


def _client_for_usage(user: User, slug: str) -> Client:
    """Managers see every client; a client user only their own company, and only as its admin.
    Another company's slug is simply not found, as another company's ticket is."""
    client = _client_or_404(slug)
    if user.is_staff:
        return client
    if client.id != user.client_id:
        raise ApiError(404, _("There is no such client."))
    if not user.is_client_admin:
        raise ApiError(403, _("Only your company's admins see its usage."))
    return client


# -- endpoints ---------------------------------------------------------------------------------


@bp.endpoint("GET", "/plans", summary="List support plans", roles=MANAGERS, response=(200, PlanList))
def list_plans(call: ApiCall):
    return {"items": [PlanView(plan) for plan in services.list_plans()]}


@bp.endpoint(
    "POST",
    "/plans",
    summary="Create a support plan",
    description=(
        "Its terms are in force from today. The period (month or quarter) is anchored on each "
        "subscription's start. An hourly rate is needed when the overage policy is `bill`; a "
        "rollover cap needs a minutes allowance and is at most that allowance."
    ),
    roles=MANAGERS,
    body=NewPlan,
    response=(201, PlanShape),
)
def create_plan(call: ApiCall):
    values = dict(call.body)
    name, period = values.pop("name"), values.pop("period")
    values.setdefault("billing_increment", 15)
    plan = services.create_plan(actor_id=call.user.id, name=name, period=period, values=values)
    return PlanView(plan)


@bp.endpoint(
    "GET",
    "/clients/<slug>/subscriptions",
    summary="A client's subscriptions",
    description="Oldest first.",
    roles=MANAGERS,
    path={"slug": SLUG},
    response=(200, SubscriptionList),
)
def list_subscriptions(call: ApiCall, slug: str):
    client = _client_or_404(slug)
    return {"items": [_with_slug(s, client) for s in services.client_subscriptions(client.id)]}


@bp.endpoint(
    "POST",
    "/clients/<slug>/subscriptions",
    summary="Subscribe a client to a plan",
    description=(
        "From `starts_on` (today or later) to the inclusive `ends_on` (absent or null: "
        "open-ended). The plan must be on sale. A client's subscriptions never overlap: an "
        "overlap answers 409 and names the subscription in the way."
    ),
    roles=MANAGERS,
    path={"slug": SLUG},
    body=NewSubscription,
    response=(201, SubscriptionShape),
    errors=(409,),
)
def subscribe_client(call: ApiCall, slug: str):
    client = _client_or_404(slug)
    subscription = services.subscribe(
        actor_id=call.user.id, client_id=client.id, plan_id=call.body["plan_id"],
        starts_on=call.body["starts_on"], ends_on=call.body.get("ends_on"),
    )
    return _with_slug(subscription, client)


@bp.endpoint(
    "GET",
    "/clients/<slug>/usage",
    summary="A client's usage in a month or quarter",
    description=(
        "The client's line of the manager's usage report: minutes used against the allowance "
        "and rollover, free work, overage and its value, tickets by category and by coverage "
        "source. Managers see every client; a client admin their own company (a client user "
        "gets 403, another company's slug 404)."
    ),
    roles=(*MANAGERS, "client"),
    path={"slug": SLUG},
    query=UsagePeriod,
    response=(200, UsageShape),
    errors=(403,),
)
def client_usage(call: ApiCall, slug: str):
    client = _client_for_usage(call.user, slug)
    try:
        period = reports.report_period(call.query.get("period"), services.coverage_today())
    except ServiceError as exc:
        raise ApiError(422, exc.message, fields={"period": exc.message}) from exc
    lines = reports.usage_report(period, client.id)
    line = lines[0] if lines else reports.ClientUsage(client.id, client.name, client.slug)
    return usage_values(line, period)


def init_app(app: Flask) -> None:
    register_api(app, bp)
