"""Plans over the API: support plans, a client's subscriptions and its usage report.

The endpoints call the services the manager's pages call (`plans.services` to create plans and
subscribe clients, `plans.reports` for usage), so every rule and every figure exists once.
Usage is also open to the client's own admins, as their portal's usage page is.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask

from helpdesk.accounts import User
from helpdesk.api import (
    AnyOf,
    ApiBlueprint,
    ApiCall,
    ApiError,
    Array,
    Body,
    Choice,
    Date,
    Integer,
    Query,
    String,
    register_api,
)
from helpdesk.api.errors import service_error_response
from helpdesk.api.schemas import instant
from helpdesk.companies import SLUG_RE, Client, client_by_slug
from helpdesk.errors import ServiceError
from helpdesk.i18n import _
from plans import reports, services
from plans.coverage import CATEGORIES, OVERAGE_POLICIES, SOURCES
from plans.models import Subscription, SupportPlan
from plans.periods import PERIOD_KINDS, Period
from plans.services import MAX_ALLOWANCE_MINUTES, MAX_ALLOWANCE_TICKETS, MAX_RATE

MANAGERS = ("manager", "admin")
SLUG = SLUG_RE.pattern
# A calendar month (2026-11) or quarter (2026-Q4), as the manager's usage page takes.
REPORT_PERIOD = r"^[0-9]{4}-(?:0[1-9]|1[0-2]|Q[1-4])$"
AMOUNT = r"^[0-9]{1,6}(?:\.[0-9]{1,2})?$"

bp = ApiBlueprint(
    "plans_api", __name__, tag="plans", tag_description="Support plans, subscriptions and usage (managers)."
)

_nullable_int = lambda **kw: {"type": ["integer", "null"], **kw}  # noqa: E731
_money = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}

PLAN = bp.component(
    "Plan",
    {
        "type": "object",
        "description": "A support plan with the terms in force today (changes from a later day are not shown).",
        "required": [
            "id", "name", "period", "active", "terms_from", "covered_categories", "allowance_minutes",
            "allowance_tickets", "billing_increment", "rollover_cap_minutes", "overage_policy", "hourly_rate",
            "currency", "created_at",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "period": {"type": "string", "enum": list(PERIOD_KINDS)},
            "active": {"type": "boolean", "description": "On sale: new subscriptions may take it."},
            "terms_from": {"type": "string", "format": "date", "description": "The day these terms took effect."},
            "covered_categories": {"type": "array", "items": {"type": "string", "enum": list(CATEGORIES)}},
            "allowance_minutes": _nullable_int(minimum=0, description="Per period; null: no minutes allowance."),
            "allowance_tickets": _nullable_int(minimum=0, description="Per period; null: no ticket allowance."),
            "billing_increment": {"type": "integer", "enum": [1, 15, 30]},
            "rollover_cap_minutes": {"type": "integer", "minimum": 0},
            "overage_policy": {"type": "string", "enum": list(OVERAGE_POLICIES)},
            "hourly_rate": {**_money, "type": ["string", "null"], "description": "Decimal, e.g. \"180.00\"."},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
PLAN_LIST = bp.component(
    "PlanList",
    {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": PLAN}},
    },
)
SUBSCRIPTION = bp.component(
    "Subscription",
    {
        "type": "object",
        "required": ["id", "client", "plan_id", "plan", "starts_on", "ends_on", "created_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "client": {"type": "string", "description": "The client company's slug."},
            "plan_id": {"type": "integer"},
            "plan": {"type": "string", "description": "The plan's name."},
            "starts_on": {"type": "string", "format": "date"},
            "ends_on": {"type": ["string", "null"], "format": "date", "description": "The last day; null: open-ended."},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
SUBSCRIPTION_LIST = bp.component(
    "SubscriptionList",
    {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": SUBSCRIPTION}},
    },
)
_count_by = lambda names: {  # noqa: E731
    "type": "object",
    "required": list(names),
    "additionalProperties": False,
    "properties": {name: {"type": "integer", "minimum": 0} for name in names},
}
USAGE = bp.component(
    "Usage",
    {
        "type": "object",
        "description": (
            "A client's usage in a calendar month or quarter: sums of the usage ledger for the plan "
            "periods that start in it, the figures of the manager's usage report."
        ),
        "required": ["client", "period", "starts_on", "ends_on", "plans", "plan_periods", "minutes", "tickets",
                     "overage_value"],
        "additionalProperties": False,
        "properties": {
            "client": {"type": "string"},
            "period": {"type": "string", "pattern": REPORT_PERIOD},
            "starts_on": {"type": "string", "format": "date"},
            "ends_on": {"type": "string", "format": "date", "description": "The last day, inclusive."},
            "plans": {"type": "array", "items": {"type": "string"}},
            "plan_periods": {
                "type": "array",
                "description": "The subscription periods that start in the report period.",
                "items": {
                    "type": "object",
                    "required": ["plan", "label", "starts_on", "ends_on", "allowance_minutes", "rollover_in_minutes",
                                 "used_minutes", "remaining_minutes", "allowance_tickets", "used_tickets"],
                    "additionalProperties": False,
                    "properties": {
                        "plan": {"type": "string"},
                        "label": {"type": "string"},
                        "starts_on": {"type": "string", "format": "date"},
                        "ends_on": {"type": "string", "format": "date", "description": "The last day, inclusive."},
                        "allowance_minutes": _nullable_int(minimum=0),
                        "rollover_in_minutes": {"type": "integer", "minimum": 0},
                        "used_minutes": {"type": "integer"},
                        "remaining_minutes": _nullable_int(minimum=0),
                        "allowance_tickets": _nullable_int(minimum=0),
                        "used_tickets": {"type": "integer"},
                    },
                },
            },
            "minutes": {
                "type": "object",
                "required": ["allowance", "rollover", "used", "remaining", "free", "overage", "billable", "pending",
                             "goodwill", "unbilled"],
                "additionalProperties": False,
                "properties": {
                    "allowance": _nullable_int(minimum=0, description="Null: no minutes allowance in the period."),
                    "rollover": _nullable_int(minimum=0, description="Rolled in from earlier periods."),
                    "used": {"type": "integer", "description": "Taken from the allowance."},
                    "remaining": _nullable_int(minimum=0),
                    "free": {"type": "integer", "description": "Bug fixes, onboarding, the package."},
                    "overage": {"type": "integer", "description": "Beyond coverage: billable + pending + goodwill + unbilled."},
                    "billable": {"type": "integer"},
                    "pending": {"type": "integer", "description": "Waiting for a manager's approval."},
                    "goodwill": {"type": "integer"},
                    "unbilled": {"type": "integer"},
                },
            },
            "tickets": {
                "type": "object",
                "required": ["filed", "allowance", "counted", "by_category", "by_source"],
                "additionalProperties": False,
                "properties": {
                    "filed": {"type": "integer", "minimum": 0},
                    "allowance": _nullable_int(minimum=0, description="Null: no ticket allowance."),
                    "counted": {"type": "integer", "description": "Counted against the ticket allowance."},
                    "by_category": _count_by(CATEGORIES),
                    "by_source": {**_count_by(SOURCES), "description": "By current coverage source."},
                },
            },
            "overage_value": {
                "type": "object",
                "required": ["amount", "currency", "mixed_currencies"],
                "additionalProperties": False,
                "properties": {
                    "amount": {**_money, "description": "Billable overage, decimal, e.g. \"90.00\"."},
                    "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"},
                    "mixed_currencies": {"type": "boolean", "description": "The amount adds up several currencies."},
                },
            },
        },
    },
)


# -- serializers -------------------------------------------------------------------------------


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def plan_json(plan: SupportPlan) -> dict[str, Any]:
    terms = plan.version_on(services.coverage_today())
    return {
        "id": plan.id,
        "name": plan.name,
        "period": plan.period,
        "active": plan.active,
        "terms_from": terms.effective_from.isoformat(),
        "covered_categories": [c for c in CATEGORIES if c in terms.covered_categories],
        "allowance_minutes": terms.allowance_minutes,
        "allowance_tickets": terms.allowance_tickets,
        "billing_increment": terms.billing_increment,
        "rollover_cap_minutes": terms.rollover_cap_minutes,
        "overage_policy": terms.overage_policy,
        "hourly_rate": _money_text(terms.hourly_rate),
        "currency": terms.currency,
        "created_at": instant(plan.created_at),
    }


def subscription_json(subscription: Subscription, client: Client) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "client": client.slug,
        "plan_id": subscription.plan_id,
        "plan": subscription.plan.name,
        "starts_on": subscription.starts_on.isoformat(),
        "ends_on": subscription.ends_on.isoformat() if subscription.ends_on else None,
        "created_at": instant(subscription.created_at),
    }


def _last_day(period: Period) -> str:
    return (period.end - timedelta(days=1)).isoformat()


def usage_json(line: reports.ClientUsage, period: Period) -> dict[str, Any]:
    sums = line.sums
    return {
        "client": line.slug,
        "period": period.label,
        "starts_on": period.start.isoformat(),
        "ends_on": _last_day(period),
        "plans": list(line.plans),
        "plan_periods": [
            {
                "plan": p.terms.name,
                "label": p.period.label,
                "starts_on": p.period.start.isoformat(),
                "ends_on": _last_day(p.period),
                "allowance_minutes": p.terms.allowance_minutes,
                "rollover_in_minutes": p.rollover_in,
                "used_minutes": p.minutes_used,
                "remaining_minutes": p.remaining_minutes,
                "allowance_tickets": p.terms.allowance_tickets,
                "used_tickets": p.tickets_used,
            }
            for p in line.periods
        ],
        "minutes": {
            "allowance": line.allowance_minutes,
            "rollover": line.rollover_minutes,
            "used": sums.used,
            "remaining": line.remaining_minutes,
            "free": sums.free,
            "overage": sums.overage,
            "billable": sums.billable,
            "pending": sums.pending,
            "goodwill": sums.goodwill,
            "unbilled": sums.unbilled,
        },
        "tickets": {
            "filed": line.tickets,
            "allowance": line.allowance_tickets,
            "counted": sums.tickets_counted,
            "by_category": dict(line.by_category),
            "by_source": dict(line.by_source),
        },
        "overage_value": {
            "amount": _money_text(sums.value),
            "currency": sums.currency,
            "mixed_currencies": sums.mixed_currencies,
        },
    }


# -- errors and look-ups -----------------------------------------------------------------------

# The services name some fields as the manager's forms do; the API names them as its bodies do.
_FIELD_NAMES = {"plan": "plan_id", "client": "slug"}


@bp.errorhandler(ServiceError)
def coverage_error(error: ServiceError):
    return service_error_response(error, _FIELD_NAMES)


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


@bp.endpoint("GET", "/plans", summary="List support plans", roles=MANAGERS, response=(200, PLAN_LIST))
def list_plans(call: ApiCall):
    return {"items": [plan_json(plan) for plan in services.list_plans()]}


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
    body=Body(
        {
            "name": String(min_length=1, max_length=100, blank=False, description="Unique, whatever the case."),
            "period": Choice(PERIOD_KINDS),
            "covered_categories": Array(Choice(CATEGORIES), min_items=1, max_items=len(CATEGORIES)),
            "allowance_minutes": Integer(
                minimum=0, maximum=MAX_ALLOWANCE_MINUTES, nullable=True, description="Per period; null or absent: none."
            ),
            "allowance_tickets": Integer(
                minimum=0, maximum=MAX_ALLOWANCE_TICKETS, nullable=True, description="Per period; null or absent: none."
            ),
            "billing_increment": Integer(
                values=(1, 15, 30), default=15, description="Each time entry is billed per started increment."
            ),
            "rollover_cap_minutes": Integer(minimum=0, maximum=MAX_ALLOWANCE_MINUTES, default=0),
            "overage_policy": Choice(OVERAGE_POLICIES, description="When the allowance is used up."),
            "hourly_rate": AnyOf(
                Integer(minimum=0, maximum=int(MAX_RATE)),
                String(pattern=AMOUNT),
                nullable=True,
                description="Of billed overage: a whole number or a decimal string such as \"180.50\".",
            ),
            "currency": String(pattern="^[A-Z]{3}$", default="PLN"),
        },
        required=("name", "period", "covered_categories", "overage_policy"),
    ),
    response=(201, PLAN),
)
def create_plan(call: ApiCall):
    values = dict(call.body)
    name, period = values.pop("name"), values.pop("period")
    values.setdefault("billing_increment", 15)
    plan = services.create_plan(actor_id=call.user.id, name=name, period=period, values=values)
    return 201, plan_json(plan)


@bp.endpoint(
    "GET",
    "/clients/<slug>/subscriptions",
    summary="A client's subscriptions",
    description="Oldest first.",
    roles=MANAGERS,
    path={"slug": String(pattern=SLUG, example="acme")},
    response=(200, SUBSCRIPTION_LIST),
)
def list_subscriptions(call: ApiCall, slug: str):
    client = _client_or_404(slug)
    return {"items": [subscription_json(s, client) for s in services.client_subscriptions(client.id)]}


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
    path={"slug": String(pattern=SLUG, example="acme")},
    body=Body(
        {
            "plan_id": Integer(minimum=1, maximum=2**31 - 1),
            "starts_on": Date(),
            "ends_on": Date(nullable=True, description="The last day; null: open-ended."),
        },
        required=("plan_id", "starts_on"),
    ),
    response=(201, SUBSCRIPTION),
    errors=(409,),
)
def subscribe_client(call: ApiCall, slug: str):
    client = _client_or_404(slug)
    subscription = services.subscribe(
        actor_id=call.user.id, client_id=client.id, plan_id=call.body["plan_id"],
        starts_on=call.body["starts_on"], ends_on=call.body.get("ends_on"),
    )
    return 201, subscription_json(subscription, client)


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
    path={"slug": String(pattern=SLUG, example="acme")},
    query=Query(
        {
            "period": String(
                pattern=REPORT_PERIOD,
                description="A month such as 2026-11 or a quarter such as 2026-Q4; this month when absent.",
            ),
        }
    ),
    response=(200, USAGE),
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
    return usage_json(line, period)


def init_app(app: Flask) -> None:
    register_api(app, bp)
