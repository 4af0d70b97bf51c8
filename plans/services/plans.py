"""Support plans and their versioned terms: create, rename or take off sale, and change the
terms from a day on (a period keeps the terms in force on its first day). Each service validates
raw form values, writes and commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.i18n import _, format_date
from helpdesk.text import is_blank, one_line_error
from helpdesk.unique_names import flush_or_name_taken, name_taken
from plans.coverage import CATEGORIES, OVERAGE_POLICIES, PlanTerms
from plans.models import PlanVersion, SupportPlan
from plans.periods import PERIOD_KINDS
from plans.services.clients import coverage_today
from plans.services.parsing import (
    CoverageError,
    by_id,
    parse_currency,
    parse_date,
    parse_int,
    parse_money,
    parse_sla_policy,
    raise_if,
)

MAX_ALLOWANCE_MINUTES = 100_000  # about 1,666 hours a period
MAX_ALLOWANCE_TICKETS = 10_000


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
    raise_if(fields)
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
    if name_taken(SupportPlan, name, plan_id):
        fields["name"] = _name_taken()
    return name


def _name_taken() -> str:
    return _("A plan with this name already exists.")


def _refuse_taken_name() -> None:
    raise_if({"name": _name_taken()})


def get_plan(plan_id: int) -> SupportPlan:
    return by_id(SupportPlan, plan_id, _("There is no such plan."))


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
    raise_if(fields)
    plan = SupportPlan(name=name, period=period, active=True, created_at=utcnow())
    db.session.add(plan)
    flush_or_name_taken(_refuse_taken_name)
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
    raise_if(fields)
    plan.name, plan.active = name, bool(active)
    flush_or_name_taken(_refuse_taken_name)
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
    raise_if(fields)
    version = PlanVersion(plan_id=plan.id, effective_from=day, created_by_id=actor_id, created_at=utcnow(), **terms)
    db.session.add(version)
    db.session.commit()
    return version


# -- subscriptions and the package ----------------------------------------------------------
