"""Coverage (entitlement) rules: is the work on a ticket covered, and by what?

Pure rules from DESIGN.md "Coverage (entitlement) rules". ``decide`` takes plain frozen values
(ticket category, client phase and dates, the subscription and its plan terms, usage so far in
the period, and ``today``) and returns a ``Decision``; ``charge_time`` splits one time entry into
covered and overage minutes. Nothing here reads the clock, the database or Flask.

The first rule that applies wins:

1. ``bug_fix``: a bug is always covered, free and unlimited.
2. ``onboarding``: until the acceptance protocol is signed (phase "onboarding", no signing date,
   or a signing date still in the future), questions and configuration changes are covered.
3. ``post_onboarding_package``: from the signing day for ``package_months`` months (see
   ``plans.periods`` for month ends); ``package_months == 0`` means the client has no package.
4. ``support_plan``: a subscription active today whose plan lists the category covers it within
   the allowance of the current period (anchored on the subscription start); once the allowance is
   used up the plan's overage policy applies. A plan that does not list the category gives
   ``none`` with a reason naming the plan.
5. ``none``: not covered; the client can ask for paid handling.

Usage convention: ``Usage.minutes_used`` is every billed minute already taken from the allowance
this period; ``Usage.tickets_used`` counts the *other* tickets already counted against it this
period (leave the ticket being decided out, so re-deciding it for a time entry does not count it
twice). A ticket within the allowance counts as one ticket, which ``remaining_tickets`` reflects.

Reasons are ``Reason(msgid, params)``: the msgid is English text with ``%(name)s`` placeholders,
written as ``N_("...")`` so Babel extracts it; ``Reason.render`` translates it at display time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from plans.periods import PERIOD_KINDS, Period, package_period, period_containing
from plans.vocabulary import Category, CoverageSource, OveragePolicy


def N_(s: str) -> str:
    """Mark ``s`` for extraction by Babel (keyword ``N_``) without translating it now."""
    return s


# The codes as plain strings; plans/vocabulary.py defines each vocabulary once, with its labels.
CATEGORIES = Category.values()
SOURCES = CoverageSource.values()
OVERAGE_POLICIES = OveragePolicy.values()
PHASES = ("onboarding", "production")
BILLING_INCREMENTS = (1, 15, 30)
MAX_ENTRY_MINUTES = 24 * 60
FREE_SOURCES = (CoverageSource.BUG_FIX.value, CoverageSource.ONBOARDING.value, CoverageSource.POST_ONBOARDING_PACKAGE.value)
MONTH_NAMES = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)
QUARTER_NAME = N_("Q%(quarter)s %(year)s")
DATE_RANGE = N_("%(start)s – %(end)s")

BUG_FIX_REASON = N_("Bug fixes are always free")
ONBOARDING_REASON = N_("Covered as onboarding work until your acceptance protocol is signed")
PACKAGE_REASON = N_("Covered by your post-onboarding package until %(until)s")
PLAN_REASON = N_("Covered by your %(plan)s plan for %(period)s")
NOT_IN_PLAN_REASON = N_("Your %(plan)s plan does not include %(category)s requests")
NO_PLAN_REASON = N_("Not covered by a support plan; you can ask for paid handling")
USED_UP_REASONS = {
    ("minutes", "bill"): N_(
        "Your %(plan)s plan's %(hours)s hours for %(period)s are used up; "
        "extra time is billed at %(rate)s %(currency)s/h"
    ),
    ("minutes", "approval"): N_(
        "Your %(plan)s plan's %(hours)s hours for %(period)s are used up; "
        "a manager must approve further work"
    ),
    ("minutes", "reject"): N_(
        "Your %(plan)s plan's %(hours)s hours for %(period)s are used up "
        "and extra work is not included"
    ),
    ("tickets", "bill"): N_(
        "Your %(plan)s plan's %(tickets)s tickets for %(period)s are used up; "
        "extra time is billed at %(rate)s %(currency)s/h"
    ),
    ("tickets", "approval"): N_(
        "Your %(plan)s plan's %(tickets)s tickets for %(period)s are used up; "
        "a manager must approve further work"
    ),
    ("tickets", "reject"): N_(
        "Your %(plan)s plan's %(tickets)s tickets for %(period)s are used up "
        "and extra work is not included"
    ),
}

# How JSON-stored reason params are turned back into values (see Reason.from_dict).
_PARAM_TYPES: dict[str, Callable[[Any], Any]] = {
    "until": date.fromisoformat,
    "hours": Decimal,
    "rate": Decimal,
    "tickets": int,
}


def _identity(text: str) -> str:
    return text


def _english_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def plain_decimal(value: Decimal) -> str:
    """``180`` for a whole amount, otherwise the digits as given (``180.50``, ``1.5``)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value, "f")


def _hours(minutes: int) -> Decimal:
    """Minutes as hours with at most two decimals: 600 -> 10, 90 -> 1.5, 100 -> 1.67."""
    hours = (Decimal(minutes) / 60).quantize(Decimal("0.01"))
    return hours.quantize(Decimal(1)) if hours == hours.to_integral_value() else hours.normalize()


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    return value


@dataclass(frozen=True)
class PlanTerms:
    """The terms of a support plan that coverage depends on."""

    name: str
    covered_categories: frozenset[str]
    allowance_minutes: int | None  # None: no minute allowance
    allowance_tickets: int | None  # None: no ticket limit
    period: str  # "month" | "quarter"
    billing_increment: int  # every started increment is billed: 1, 15 or 30
    rollover_cap_minutes: int  # 0: no rollover
    overage_policy: str  # bill | approval | reject
    hourly_rate: Decimal | None  # required for "bill"
    currency: str = "PLN"

    def __post_init__(self) -> None:
        categories = frozenset(self.covered_categories)
        object.__setattr__(self, "covered_categories", categories)
        if unknown := categories - set(CATEGORIES):
            raise ValueError(f"unknown categories: {sorted(unknown)}")
        if self.period not in PERIOD_KINDS:
            raise ValueError(f"period must be one of {PERIOD_KINDS}, not {self.period!r}")
        if self.billing_increment not in BILLING_INCREMENTS:
            raise ValueError(f"billing increment must be one of {BILLING_INCREMENTS}")
        if self.overage_policy not in OVERAGE_POLICIES:
            raise ValueError(f"overage policy must be one of {OVERAGE_POLICIES}")
        for name in ("allowance_minutes", "allowance_tickets"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        if self.rollover_cap_minutes < 0:
            raise ValueError("rollover cap must not be negative")
        if self.rollover_cap_minutes and self.allowance_minutes is None:
            raise ValueError("a rollover cap needs an allowance in minutes")
        if self.hourly_rate is not None and self.hourly_rate < 0:
            raise ValueError("hourly rate must not be negative")
        if self.overage_policy == "bill" and self.hourly_rate is None:
            raise ValueError("overage policy 'bill' needs an hourly rate")

    @property
    def is_unlimited(self) -> bool:
        """True when the plan limits neither minutes nor tickets."""
        return self.allowance_minutes is None and self.allowance_tickets is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly terms, for the record of a decision's inputs."""
        return {name: _jsonable(getattr(self, name)) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class SubscriptionTerms:
    """A client's subscription to a plan: ``ends_on`` is the inclusive last day, None = open."""

    id: int
    starts_on: date
    ends_on: date | None
    plan: PlanTerms

    def __post_init__(self) -> None:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("a subscription cannot end before it starts")

    def is_active_on(self, day: date) -> bool:
        """True when ``day`` falls between the start and the (inclusive) end."""
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly terms, for the record of a decision's inputs."""
        return {
            "id": self.id,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": _jsonable(self.ends_on),
            "plan": self.plan.to_dict(),
        }


@dataclass(frozen=True)
class ClientState:
    """Where the client is in its life: onboarding or production, and the package length."""

    phase: str  # "onboarding" | "production"
    protocol_signed_on: date | None
    package_months: int = 1  # 0: no post-onboarding package

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, not {self.phase!r}")
        if self.package_months < 0:
            raise ValueError("package months must not be negative")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly state, for the record of a decision's inputs."""
        return {name: _jsonable(getattr(self, name)) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Usage:
    """Usage so far in the period, summed from the ledger by the caller (see module docstring)."""

    minutes_used: int = 0  # billed minutes already taken from the allowance this period
    tickets_used: int = 0  # other tickets already counted against the allowance this period
    rollover_minutes: int = 0  # carried in from the previous period, already capped

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly usage, for the record of a decision's inputs."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Reason:
    """A translatable explanation: an ``N_`` msgid and the plain values for its placeholders.

    Params hold str, int, date or Decimal. ``category`` is a category code and ``period`` a
    ``Period.label``; ``render`` turns both into words.
    """

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(
        self,
        gettext: Callable[[str], str] = _identity,
        format_date: Callable[[date], str] = _english_date,
        format_decimal: Callable[[Decimal], str] = plain_decimal,
    ) -> str:
        """The reason in the reader's language, through the given translation functions."""
        values: dict[str, Any] = {}
        for key, value in self.params.items():
            if key == "category":
                values[key] = gettext(Category(value).word.msgid)
            elif key == "period":
                values[key] = _render_period(Period.from_label(value), gettext, format_date)
            elif isinstance(value, date):
                values[key] = format_date(value)
            elif isinstance(value, Decimal):
                values[key] = format_decimal(value)
            else:
                values[key] = value
        return gettext(self.msgid) % values

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: dates as ISO strings, decimals as strings."""
        return {"msgid": self.msgid, "params": {k: _jsonable(v) for k, v in self.params.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        """Rebuild a reason stored with ``to_dict``, restoring dates and decimals."""
        params = {
            key: _PARAM_TYPES.get(key, _identity)(value) for key, value in data["params"].items()
        }
        return cls(data["msgid"], params)


def _render_period(
    period: Period, gettext: Callable[[str], str], format_date: Callable[[date], str]
) -> str:
    if period.is_calendar_month:
        return gettext(MONTH_NAMES[period.start.month - 1])
    if period.is_calendar_quarter:
        quarter = (period.start.month - 1) // 3 + 1
        return gettext(QUARTER_NAME) % {"quarter": quarter, "year": period.start.year}
    return gettext(DATE_RANGE) % {
        "start": format_date(period.start),
        "end": format_date(period.last_day),
    }


@dataclass(frozen=True)
class Decision:
    """What covers a ticket and why; stored on the ticket as an immutable record."""

    source: str  # one of SOURCES
    covered: bool
    needs_approval: bool  # overage policy "approval" applies
    billable: bool  # overage billed at the plan's hourly rate
    reason: Reason
    period: Period | None  # the support-plan period or the package period that applied
    subscription_id: int | None
    remaining_minutes: int | None  # allowance + rollover - used, never negative; None if no plan
    remaining_tickets: int | None  # tickets left after this one, never negative; None if no limit

    @property
    def within_allowance(self) -> bool:
        """True when a support plan covers the work from its allowance (not as overage)."""
        return self.source == "support_plan" and self.covered and not self.billable

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates as ISO strings) for the stored record."""
        period = None
        if self.period is not None:
            period = {
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
                "label": self.period.label,
            }
        return {
            "source": self.source,
            "covered": self.covered,
            "needs_approval": self.needs_approval,
            "billable": self.billable,
            "reason": self.reason.to_dict(),
            "period": period,
            "subscription_id": self.subscription_id,
            "remaining_minutes": self.remaining_minutes,
            "remaining_tickets": self.remaining_tickets,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """Rebuild a decision stored with ``to_dict``."""
        period = data["period"]
        return cls(
            source=data["source"],
            covered=data["covered"],
            needs_approval=data["needs_approval"],
            billable=data["billable"],
            reason=Reason.from_dict(data["reason"]),
            period=None
            if period is None
            else Period(date.fromisoformat(period["start"]), date.fromisoformat(period["end"])),
            subscription_id=data["subscription_id"],
            remaining_minutes=data["remaining_minutes"],
            remaining_tickets=data["remaining_tickets"],
        )


def inputs_to_dict(
    *,
    category: str,
    client: ClientState,
    subscription: SubscriptionTerms | None,
    usage: Usage,
    today: date,
) -> dict[str, Any]:
    """The arguments of ``decide`` in JSON-friendly form, stored next to the decision."""
    return {
        "category": category,
        "client": client.to_dict(),
        "subscription": None if subscription is None else subscription.to_dict(),
        "usage": usage.to_dict(),
        "today": today.isoformat(),
    }


def _outside_allowance(
    source: str, covered: bool, reason: Reason, period: Period | None, subscription_id: int | None
) -> Decision:
    """A decision that draws on no allowance: free work (covered), or work no plan covers."""
    return Decision(
        source=source, covered=covered, needs_approval=False, billable=False, reason=reason, period=period,
        subscription_id=subscription_id, remaining_minutes=None, remaining_tickets=None,
    )


def _free(source: str, reason: Reason, period: Period | None = None) -> Decision:
    return _outside_allowance(source, True, reason, period, None)


def _not_covered(
    reason: Reason, period: Period | None = None, subscription_id: int | None = None
) -> Decision:
    return _outside_allowance("none", False, reason, period, subscription_id)


def _minutes_left(plan: PlanTerms, usage: Usage) -> int | None:
    """Allowance plus rollover minus use (may be negative); None without a minute allowance."""
    if plan.allowance_minutes is None:
        return None
    return plan.allowance_minutes + usage.rollover_minutes - usage.minutes_used


def decide(
    *,
    category: str,
    client: ClientState,
    subscription: SubscriptionTerms | None,
    usage: Usage,
    today: date,
) -> Decision:
    """Decide what covers a ticket of ``category`` today; the first rule that applies wins.

    Raises ValueError for an unknown category. A subscription not active today counts as none.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    if category == "bug":
        return _free("bug_fix", Reason(BUG_FIX_REASON, {}))

    signed_on = client.protocol_signed_on
    if client.phase == "onboarding" or signed_on is None or today < signed_on:
        return _free("onboarding", Reason(ONBOARDING_REASON, {}))

    if client.package_months:
        package = package_period(signed_on, client.package_months)
        if today in package:
            reason = Reason(PACKAGE_REASON, {"until": package.last_day})
            return _free("post_onboarding_package", reason, package)

    if subscription is None or not subscription.is_active_on(today):
        return _not_covered(Reason(NO_PLAN_REASON, {}))

    plan = subscription.plan
    period = period_containing(subscription.starts_on, plan.period, today)
    if category not in plan.covered_categories:
        reason = Reason(NOT_IN_PLAN_REASON, {"plan": plan.name, "category": category})
        return _not_covered(reason, period, subscription.id)

    minutes_left = _minutes_left(plan, usage)
    tickets_left = None
    if plan.allowance_tickets is not None:
        tickets_left = plan.allowance_tickets - usage.tickets_used
    minutes_out = minutes_left is not None and minutes_left <= 0
    tickets_out = tickets_left is not None and tickets_left <= 0

    if not (minutes_out or tickets_out):
        return Decision(
            source="support_plan",
            covered=True,
            needs_approval=False,
            billable=False,
            reason=Reason(PLAN_REASON, {"plan": plan.name, "period": period.label}),
            period=period,
            subscription_id=subscription.id,
            remaining_minutes=minutes_left,
            remaining_tickets=None if tickets_left is None else tickets_left - 1,
        )

    # Used up: report what was there, not this ticket, and name the exhausted allowance.
    params: dict[str, Any] = {"plan": plan.name, "period": period.label}
    if minutes_out and plan.allowance_minutes is not None:
        limit = "minutes"
        params["hours"] = _hours(plan.allowance_minutes)
    else:
        limit = "tickets"
        params["tickets"] = plan.allowance_tickets
    if plan.overage_policy == "bill":
        params["rate"] = plan.hourly_rate
        params["currency"] = plan.currency
    policy = plan.overage_policy
    return Decision(
        source="support_plan",
        covered=policy == "bill",
        needs_approval=policy == "approval",
        billable=policy == "bill",
        reason=Reason(USED_UP_REASONS[limit, policy], params),
        period=period,
        subscription_id=subscription.id,
        remaining_minutes=None if minutes_left is None else max(0, minutes_left),
        remaining_tickets=None if tickets_left is None else max(0, tickets_left),
    )


def billed_minutes(minutes: int, increment: int) -> int:
    """Round a time entry up to every started ``increment``: 1 -> 15, 15 -> 15, 16 -> 30 at 15.

    Raises ValueError for minutes outside 1..1440 (one day) or an increment below 1.
    """
    if not 1 <= minutes <= MAX_ENTRY_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_ENTRY_MINUTES}, not {minutes}")
    if increment < 1:
        raise ValueError("billing increment must be at least 1 minute")
    return -(-minutes // increment) * increment


@dataclass(frozen=True)
class TimeCharge:
    """How one time entry is charged: ``covered_minutes + overage_minutes == billed_minutes``."""

    billed_minutes: int
    covered_minutes: int  # from the allowance (support_plan) or from a free source (all of it)
    overage_minutes: int  # not covered: beyond the allowance, or everything when source is none
    consumes_allowance: bool  # True when covered minutes come from a support plan's allowance
    needs_approval: bool  # overage waits for a manager (policy "approval")
    billable_overage: bool  # overage billed at the plan's rate (policy "bill")


def charge_time(
    *, decision: Decision, minutes: int, plan: PlanTerms | None, usage: Usage
) -> TimeCharge:
    """Charge a time entry of ``minutes`` under ``decision``, made with the same ``usage``.

    Minutes are rounded up to the plan's billing increment (1 without a plan). Free sources cover
    everything and consume nothing; a support plan covers what its allowance has left and the rest
    is overage under the plan's policy; source ``none`` leaves everything uncovered.
    """
    billed = billed_minutes(minutes, plan.billing_increment if plan is not None else 1)
    if decision.source in FREE_SOURCES:
        return TimeCharge(billed, billed, 0, False, False, False)
    if decision.source == "none":
        return TimeCharge(billed, 0, billed, False, False, False)
    if plan is None:
        raise ValueError("a support-plan decision needs the plan's terms to charge time")

    covered = 0
    if decision.within_allowance:
        minutes_left = _minutes_left(plan, usage)
        covered = billed if minutes_left is None else min(billed, max(0, minutes_left))
    overage = billed - covered
    return TimeCharge(
        billed_minutes=billed,
        covered_minutes=covered,
        overage_minutes=overage,
        consumes_allowance=covered > 0,
        needs_approval=overage > 0 and plan.overage_policy == "approval",
        billable_overage=overage > 0 and plan.overage_policy == "bill",
    )


def rollover(
    *, allowance_minutes: int | None, minutes_used: int, rollover_in: int, cap: int
) -> int:
    """Unused minutes carried into the next period, at most ``cap``; 0 without an allowance.

    Minutes rolled in are spent first and do not roll over again: only the unused part of this
    period's own allowance is carried.
    """
    if min(minutes_used, rollover_in, cap) < 0:
        raise ValueError("minutes used, rollover and cap must not be negative")
    if allowance_minutes is None:
        return 0
    if allowance_minutes < 0:
        raise ValueError("allowance must not be negative")
    own_used = max(0, minutes_used - rollover_in)
    return max(0, min(cap, allowance_minutes - own_used))


REASON_MSGIDS = frozenset(
    {
        BUG_FIX_REASON,
        ONBOARDING_REASON,
        PACKAGE_REASON,
        PLAN_REASON,
        NOT_IN_PLAN_REASON,
        NO_PLAN_REASON,
        *USED_UP_REASONS.values(),
    }
)
