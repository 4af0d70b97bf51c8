"""Coverage rules: every phase x category x plan state, literal reasons, hypothesis properties."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from hypothesis import given, settings
from hypothesis import strategies as st

import plans.coverage
import plans.vocabulary
from plans.coverage import (
    CATEGORIES,
    MONTH_NAMES,
    REASON_MSGIDS,
    SOURCES,
    ClientState,
    Decision,
    PlanTerms,
    Reason,
    SubscriptionTerms,
    Usage,
    billed_minutes,
    charge_time,
    decide,
    inputs_to_dict,
    rollover,
)
from plans.periods import Period
from plans.vocabulary import Category

PROPERTIES = settings(deadline=None, database=None)  # as many examples as the profile says


def make_plan(**changes: object) -> PlanTerms:
    terms: dict[str, object] = {
        "name": "Standard",
        "covered_categories": frozenset({"question", "configuration_change"}),
        "allowance_minutes": 600,
        "allowance_tickets": 10,
        "period": "month",
        "billing_increment": 15,
        "rollover_cap_minutes": 120,
        "overage_policy": "bill",
        "hourly_rate": Decimal(180),
    }
    terms.update(changes)
    return PlanTerms(**terms)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The table: every phase x category x plan state.
# ---------------------------------------------------------------------------------------------

TODAY = date(2027, 2, 10)
SUBSCRIPTION_ID = 7
FEBRUARY = Period(date(2027, 2, 1), date(2027, 3, 1))
PACKAGE = Period(date(2027, 1, 20), date(2027, 2, 20))

PHASES = {
    "onboarding": ClientState("onboarding", None),
    "in_package": ClientState("production", date(2027, 1, 20)),
    "after_package": ClientState("production", date(2026, 11, 15)),
}


def _with(category: str) -> frozenset[str]:
    return frozenset({category, "question"})


def _without(category: str) -> frozenset[str]:
    return frozenset(CATEGORIES) - {category}


def _subscription(
    plan: PlanTerms, starts_on: date = date(2027, 1, 1), ends_on: date | None = None
) -> SubscriptionTerms:
    return SubscriptionTerms(SUBSCRIPTION_ID, starts_on, ends_on, plan)


# plan state -> category -> (subscription, usage this period)
PLAN_STATES: dict[str, Callable[[str], tuple[SubscriptionTerms | None, Usage]]] = {
    "no_subscription": lambda c: (None, Usage()),
    "not_started": lambda c: (
        _subscription(make_plan(covered_categories=_with(c)), starts_on=date(2027, 3, 1)),
        Usage(),
    ),
    "ended": lambda c: (
        _subscription(make_plan(covered_categories=_with(c)), date(2026, 1, 1), date(2027, 2, 9)),
        Usage(),
    ),
    "allowance_left": lambda c: (
        _subscription(make_plan(covered_categories=_with(c))),
        Usage(minutes_used=300, tickets_used=2, rollover_minutes=60),
    ),
    "category_not_in_plan": lambda c: (
        _subscription(make_plan(covered_categories=_without(c))),
        Usage(),
    ),
    "used_up_bill": lambda c: (
        _subscription(make_plan(covered_categories=_with(c), overage_policy="bill")),
        Usage(minutes_used=600),
    ),
    "used_up_approval": lambda c: (
        _subscription(make_plan(covered_categories=_with(c), overage_policy="approval")),
        Usage(minutes_used=660, rollover_minutes=60),
    ),
    "used_up_reject": lambda c: (
        _subscription(make_plan(covered_categories=_with(c), overage_policy="reject")),
        Usage(minutes_used=610),
    ),
    "tickets_used_up": lambda c: (
        _subscription(
            make_plan(
                covered_categories=_with(c),
                allowance_minutes=None,
                allowance_tickets=5,
                rollover_cap_minutes=0,
                overage_policy="reject",
            )
        ),
        Usage(tickets_used=5),
    ),
    "unlimited": lambda c: (
        _subscription(
            make_plan(
                covered_categories=_with(c),
                allowance_minutes=None,
                allowance_tickets=None,
                rollover_cap_minutes=0,
                overage_policy="reject",
                hourly_rate=None,
            )
        ),
        Usage(minutes_used=100_000, tickets_used=1_000),
    ),
}


@dataclass(frozen=True)
class Expected:
    source: str
    covered: bool
    needs_approval: bool
    billable: bool
    reason: str  # rendered in English; {category} is the category's label
    period: Period | None = None
    subscription_id: int | None = None
    remaining_minutes: int | None = None
    remaining_tickets: int | None = None


NOT_COVERED = "Not covered by a support plan; you can ask for paid handling"
USED_UP = "Your Standard plan's 10 hours for February are used up"
S = SUBSCRIPTION_ID

# Questions and configuration changes of a client whose package has ended, by plan state.
AFTER_PACKAGE = {
    "no_subscription": Expected("none", False, False, False, NOT_COVERED),
    "not_started": Expected("none", False, False, False, NOT_COVERED),
    "ended": Expected("none", False, False, False, NOT_COVERED),
    "allowance_left": Expected(
        "support_plan", True, False, False, "Covered by your Standard plan for February",
        FEBRUARY, S, 360, 7,
    ),
    "category_not_in_plan": Expected(
        "none", False, False, False, "Your Standard plan does not include {category} requests",
        FEBRUARY, S,
    ),
    "used_up_bill": Expected(
        "support_plan", True, False, True, f"{USED_UP}; extra time is billed at 180 PLN/h",
        FEBRUARY, S, 0, 10,
    ),
    "used_up_approval": Expected(
        "support_plan", False, True, False, f"{USED_UP}; a manager must approve further work",
        FEBRUARY, S, 0, 10,
    ),
    "used_up_reject": Expected(
        "support_plan", False, False, False, f"{USED_UP} and extra work is not included",
        FEBRUARY, S, 0, 10,
    ),
    "tickets_used_up": Expected(
        "support_plan", False, False, False,
        "Your Standard plan's 5 tickets for February are used up and extra work is not included",
        FEBRUARY, S, None, 0,
    ),
    "unlimited": Expected(
        "support_plan", True, False, False, "Covered by your Standard plan for February",
        FEBRUARY, S, None, None,
    ),
}
BUG_FIX = Expected("bug_fix", True, False, False, "Bug fixes are always free")
ONBOARDING = Expected(
    "onboarding", True, False, False,
    "Covered as onboarding work until your acceptance protocol is signed",
)
IN_PACKAGE = Expected(
    "post_onboarding_package", True, False, False,
    "Covered by your post-onboarding package until 19 February 2027", PACKAGE,
)


def expected(phase: str, category: str, plan_state: str) -> Expected:
    """The rules as a table: bug first, then onboarding, then the package, then the plan."""
    if category == "bug":
        return BUG_FIX
    if phase == "onboarding":
        return ONBOARDING
    if phase == "in_package":
        return IN_PACKAGE
    return AFTER_PACKAGE[plan_state]


ENGLISH_LABELS = {"question": "question", "configuration_change": "configuration change"}


@pytest.mark.parametrize(
    ("phase", "category", "plan_state"),
    list(itertools.product(PHASES, CATEGORIES, PLAN_STATES)),
)
def test_every_phase_category_and_plan_state(phase: str, category: str, plan_state: str) -> None:
    subscription, usage = PLAN_STATES[plan_state](category)
    decision = decide(
        category=category,
        client=PHASES[phase],
        subscription=subscription,
        usage=usage,
        today=TODAY,
    )
    want = expected(phase, category, plan_state)
    assert (decision.source, decision.covered, decision.needs_approval, decision.billable) == (
        want.source,
        want.covered,
        want.needs_approval,
        want.billable,
    )
    assert decision.reason.render() == want.reason.format(category=ENGLISH_LABELS.get(category))
    assert decision.period == want.period
    assert decision.subscription_id == want.subscription_id
    assert (decision.remaining_minutes, decision.remaining_tickets) == (
        want.remaining_minutes,
        want.remaining_tickets,
    )


def test_table_covers_every_combination() -> None:
    cases = list(itertools.product(PHASES, CATEGORIES, PLAN_STATES))
    assert len(cases) == 3 * 3 * 10
    assert {expected(*case).source for case in cases} == set(SOURCES)


# ---------------------------------------------------------------------------------------------
# Literal reasons and edge cases.
# ---------------------------------------------------------------------------------------------

PRODUCTION = ClientState("production", date(2025, 1, 1))


def standard_subscription(rate: Decimal = Decimal(180), **changes: object) -> SubscriptionTerms:
    plan = make_plan(hourly_rate=rate, rollover_cap_minutes=0, **changes)
    return SubscriptionTerms(1, date(2026, 1, 1), None, plan)


def test_bug_fixes_are_always_free() -> None:
    decision = decide(
        category="bug", client=PRODUCTION, subscription=None, usage=Usage(), today=TODAY
    )
    assert decision.reason.render() == "Bug fixes are always free"


@pytest.mark.parametrize("today", [date(2026, 11, 15), date(2026, 11, 30), date(2026, 12, 14)])
def test_package_reason_names_the_last_covered_day(today: date) -> None:
    client = ClientState("production", date(2026, 11, 15))
    decision = decide(
        category="question", client=client, subscription=None, usage=Usage(), today=today
    )
    assert decision.source == "post_onboarding_package"
    assert decision.reason.render() == (
        "Covered by your post-onboarding package until 14 December 2026"
    )
    assert decision.period == Period(date(2026, 11, 15), date(2026, 12, 15))


def test_package_ends_the_day_before_the_same_day_next_month() -> None:
    client = ClientState("production", date(2026, 11, 15))
    decision = decide(
        category="question", client=client, subscription=None, usage=Usage(),
        today=date(2026, 12, 15),
    )
    assert decision.source == "none"


@pytest.mark.parametrize(
    ("signed_on", "last_day", "rendered"),
    [
        (date(2026, 1, 31), date(2026, 2, 28), "28 February 2026"),
        (date(2028, 1, 31), date(2028, 2, 29), "29 February 2028"),
        (date(2026, 1, 30), date(2026, 2, 28), "28 February 2026"),
        (date(2026, 1, 28), date(2026, 2, 27), "27 February 2026"),
    ],
)
def test_package_month_ends(signed_on: date, last_day: date, rendered: str) -> None:
    client = ClientState("production", signed_on)

    def source_on(day: date) -> str:
        return decide(
            category="configuration_change", client=client, subscription=None, usage=Usage(),
            today=day,
        ).source

    assert source_on(last_day) == "post_onboarding_package"
    assert source_on(last_day + timedelta(days=1)) == "none"
    decision = decide(
        category="question", client=client, subscription=None, usage=Usage(), today=signed_on
    )
    assert decision.reason.render() == f"Covered by your post-onboarding package until {rendered}"


def test_longer_package_and_no_package() -> None:
    three = ClientState("production", date(2026, 11, 15), package_months=3)
    none = ClientState("production", date(2026, 11, 15), package_months=0)
    day = date(2027, 2, 14)
    assert decide(
        category="question", client=three, subscription=None, usage=Usage(), today=day
    ).source == "post_onboarding_package"
    assert decide(
        category="question", client=none, subscription=None, usage=Usage(),
        today=date(2026, 11, 15),
    ).source == "none"


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Decimal(180), "180"),
        (Decimal("180.00"), "180"),
        (Decimal("180.50"), "180.50"),
        (Decimal("180.5"), "180.5"),
    ],
)
def test_used_up_reason_with_the_rate(rate: Decimal, text: str) -> None:
    decision = decide(
        category="question",
        client=PRODUCTION,
        subscription=standard_subscription(rate),
        usage=Usage(minutes_used=600),
        today=date(2026, 11, 20),
    )
    assert decision.reason.render() == (
        "Your Standard plan's 10 hours for November are used up; "
        f"extra time is billed at {text} PLN/h"
    )
    assert decision.covered and decision.billable


def test_used_up_reason_for_fractional_hours_and_anchored_periods() -> None:
    subscription = SubscriptionTerms(
        1, date(2026, 1, 15), None, make_plan(allowance_minutes=90, overage_policy="reject")
    )
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription,
        usage=Usage(minutes_used=90), today=date(2026, 11, 20),
    )
    assert decision.reason.render() == (
        "Your Standard plan's 1.5 hours for 15 November 2026 – 14 December 2026 are used up "
        "and extra work is not included"
    )


def test_quarter_reason() -> None:
    subscription = SubscriptionTerms(
        1, date(2026, 1, 1), None, make_plan(period="quarter", overage_policy="approval")
    )
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription,
        usage=Usage(minutes_used=700), today=date(2026, 11, 20),
    )
    assert decision.period == Period(date(2026, 10, 1), date(2027, 1, 1))
    assert decision.reason.render() == (
        "Your Standard plan's 10 hours for Q4 2026 are used up; "
        "a manager must approve further work"
    )


def test_render_goes_through_the_translation_functions() -> None:
    polish = {
        "Your %(plan)s plan does not include %(category)s requests":
            "Plan %(plan)s nie obejmuje zgłoszeń typu: %(category)s",
        "configuration change": "zmiana konfiguracji",
        "Covered by your post-onboarding package until %(until)s":
            "Objęte pakietem powdrożeniowym do %(until)s",
        "Covered by your %(plan)s plan for %(period)s": "Objęte planem %(plan)s za %(period)s",
        "November": "listopad",
    }

    def gettext(text: str) -> str:
        return polish.get(text, text)

    reason = Reason(
        "Your %(plan)s plan does not include %(category)s requests",
        {"plan": "Standard", "category": "configuration_change"},
    )
    assert reason.render(gettext) == "Plan Standard nie obejmuje zgłoszeń typu: zmiana konfiguracji"
    package = Reason(
        "Covered by your post-onboarding package until %(until)s", {"until": date(2026, 12, 14)}
    )
    assert package.render(gettext, lambda d: d.strftime("%d.%m.%Y")) == (
        "Objęte pakietem powdrożeniowym do 14.12.2026"
    )
    plan = Reason(
        "Covered by your %(plan)s plan for %(period)s", {"plan": "S", "period": "2026-11"}
    )
    assert plan.render(gettext) == "Objęte planem S za listopad"


def test_rollover_extends_the_allowance() -> None:
    subscription = standard_subscription()
    usage = Usage(minutes_used=600, rollover_minutes=45)
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription, usage=usage,
        today=date(2026, 11, 20),
    )
    assert decision.within_allowance
    assert decision.remaining_minutes == 45


def test_subscription_is_active_from_its_first_to_its_last_day() -> None:
    plan = make_plan()
    subscription = SubscriptionTerms(3, date(2026, 3, 1), date(2026, 5, 31), plan)

    def source_on(day: date) -> str:
        return decide(
            category="question", client=PRODUCTION, subscription=subscription, usage=Usage(),
            today=day,
        ).source

    assert source_on(date(2026, 2, 28)) == "none"
    assert source_on(date(2026, 3, 1)) == "support_plan"
    assert source_on(date(2026, 5, 31)) == "support_plan"
    assert source_on(date(2026, 6, 1)) == "none"


def test_onboarding_until_the_protocol_is_signed() -> None:
    future = ClientState("production", date(2027, 3, 1))
    unsigned = ClientState("production", None)
    onboarding_but_signed = ClientState("onboarding", date(2026, 1, 1))
    for client in (future, unsigned, onboarding_but_signed):
        decision = decide(
            category="question", client=client, subscription=None, usage=Usage(), today=TODAY
        )
        assert decision.source == "onboarding"


def test_ticket_limit_counts_this_ticket() -> None:
    subscription = standard_subscription(allowance_tickets=3)
    left = [
        decide(
            category="question", client=PRODUCTION, subscription=subscription,
            usage=Usage(tickets_used=used), today=TODAY,
        )
        for used in range(5)
    ]
    assert [d.within_allowance for d in left] == [True, True, True, False, False]
    assert [d.remaining_tickets for d in left] == [2, 1, 0, 0, 0]


def test_zero_minute_allowance_is_used_up_at_once() -> None:
    subscription = standard_subscription(allowance_minutes=0, overage_policy="reject")
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription, usage=Usage(),
        today=TODAY,
    )
    assert (decision.source, decision.covered) == ("support_plan", False)


def test_decide_rejects_an_unknown_category() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        decide(category="feature", client=PRODUCTION, subscription=None, usage=Usage(), today=TODAY)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"covered_categories": frozenset({"feature"})}, "unknown categories"),
        ({"period": "week"}, "period"),
        ({"billing_increment": 20}, "billing increment"),
        ({"overage_policy": "ignore"}, "overage policy"),
        ({"allowance_minutes": -1}, "allowance_minutes"),
        ({"allowance_tickets": -1}, "allowance_tickets"),
        ({"rollover_cap_minutes": -1}, "rollover cap"),
        ({"allowance_minutes": None, "rollover_cap_minutes": 60}, "rollover cap needs"),
        ({"hourly_rate": None}, "needs an hourly rate"),
        ({"hourly_rate": Decimal(-1)}, "hourly rate"),
    ],
)
def test_plan_terms_are_validated(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_plan(**changes)


def test_other_terms_are_validated() -> None:
    with pytest.raises(ValueError, match="phase"):
        ClientState("trial", None)
    with pytest.raises(ValueError, match="package months"):
        ClientState("production", date(2026, 1, 1), package_months=-1)
    with pytest.raises(ValueError, match="minutes_used"):
        Usage(minutes_used=-1)
    with pytest.raises(ValueError, match="cannot end before"):
        SubscriptionTerms(1, date(2026, 2, 1), date(2026, 1, 31), make_plan())


def test_plan_accepts_any_iterable_of_categories() -> None:
    plan = make_plan(covered_categories=["question"])
    assert plan.covered_categories == frozenset({"question"})


def test_decision_and_inputs_serialise_to_json() -> None:
    subscription = standard_subscription(Decimal("180.50"))
    usage = Usage(minutes_used=600)
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription, usage=usage,
        today=date(2026, 11, 20),
    )
    stored = json.loads(json.dumps(decision.to_dict()))
    assert stored["period"] == {"start": "2026-11-01", "end": "2026-12-01", "label": "2026-11"}
    assert stored["reason"]["params"]["rate"] == "180.50"
    assert Decision.from_dict(stored) == decision
    inputs = json.loads(json.dumps(inputs_to_dict(
        category="question", client=PRODUCTION, subscription=subscription, usage=usage,
        today=date(2026, 11, 20),
    )))
    assert inputs["subscription"]["plan"]["covered_categories"] == [
        "configuration_change", "question",
    ]
    assert inputs["subscription"]["plan"]["hourly_rate"] == "180.50"
    assert inputs["today"] == "2026-11-20"


# ---------------------------------------------------------------------------------------------
# Time entries and rollover.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "increment", "billed"),
    [(1, 15, 15), (15, 15, 15), (16, 15, 30), (1, 30, 30), (31, 30, 60), (7, 1, 7),
     (1439, 30, 1440), (1440, 15, 1440)],
)
def test_billed_minutes(minutes: int, increment: int, billed: int) -> None:
    assert billed_minutes(minutes, increment) == billed


@pytest.mark.parametrize("minutes", [0, -5, 1441, 100_000])
def test_billed_minutes_rejects_absurd_entries(minutes: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 1440"):
        billed_minutes(minutes, 15)


def test_time_entry_is_split_at_the_end_of_the_allowance() -> None:
    subscription = standard_subscription()
    usage = Usage(minutes_used=590)
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription, usage=usage,
        today=TODAY,
    )
    charge = charge_time(decision=decision, minutes=20, plan=subscription.plan, usage=usage)
    assert (charge.billed_minutes, charge.covered_minutes, charge.overage_minutes) == (30, 10, 20)
    assert charge.consumes_allowance and charge.billable_overage and not charge.needs_approval


def test_bug_time_consumes_nothing() -> None:
    subscription = standard_subscription()
    usage = Usage(minutes_used=600)
    decision = decide(
        category="bug", client=PRODUCTION, subscription=subscription, usage=usage, today=TODAY
    )
    charge = charge_time(decision=decision, minutes=20, plan=subscription.plan, usage=usage)
    assert (charge.billed_minutes, charge.covered_minutes, charge.overage_minutes) == (30, 30, 0)
    assert not charge.consumes_allowance
    no_plan = charge_time(decision=decision, minutes=20, plan=None, usage=usage)
    assert no_plan.billed_minutes == 20


def test_support_plan_time_needs_the_plan() -> None:
    subscription = standard_subscription()
    decision = decide(
        category="question", client=PRODUCTION, subscription=subscription, usage=Usage(),
        today=TODAY,
    )
    with pytest.raises(ValueError, match="plan's terms"):
        charge_time(decision=decision, minutes=5, plan=None, usage=Usage())


@pytest.mark.parametrize(
    ("allowance", "used", "rollover_in", "cap", "carried"),
    [
        (600, 500, 0, 120, 100),
        (600, 300, 0, 120, 120),
        (600, 0, 0, 0, 0),
        (600, 700, 120, 120, 20),  # rolled-in minutes are spent first
        (600, 100, 120, 600, 600),  # unused rolled-in minutes do not roll again
        (600, 900, 0, 120, 0),
        (None, 0, 0, 0, 0),
    ],
)
def test_rollover(
    allowance: int | None, used: int, rollover_in: int, cap: int, carried: int
) -> None:
    assert rollover(
        allowance_minutes=allowance, minutes_used=used, rollover_in=rollover_in, cap=cap
    ) == carried


def test_rollover_rejects_negative_values() -> None:
    with pytest.raises(ValueError):
        rollover(allowance_minutes=600, minutes_used=-1, rollover_in=0, cap=0)


# ---------------------------------------------------------------------------------------------
# Properties.
# ---------------------------------------------------------------------------------------------

dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
categories = st.sampled_from(CATEGORIES)
small = st.integers(min_value=0, max_value=2_000)


@st.composite
def plans_(draw: st.DrawFn) -> PlanTerms:
    allowance_minutes = draw(st.none() | st.integers(min_value=0, max_value=1_200))
    policy = draw(st.sampled_from(["bill", "approval", "reject"]))
    rate = draw(st.decimals(min_value=0, max_value=500, places=2))
    return PlanTerms(
        name=draw(st.sampled_from(["Standard", "Premium", "Basic"])),
        covered_categories=draw(st.frozensets(categories)),
        allowance_minutes=allowance_minutes,
        allowance_tickets=draw(st.none() | st.integers(min_value=0, max_value=20)),
        period=draw(st.sampled_from(["month", "quarter"])),
        billing_increment=draw(st.sampled_from([1, 15, 30])),
        rollover_cap_minutes=0 if allowance_minutes is None else draw(small),
        overage_policy=policy,
        hourly_rate=rate if policy == "bill" else draw(st.none() | st.just(rate)),
        currency=draw(st.sampled_from(["PLN", "EUR"])),
    )


@st.composite
def subscriptions(draw: st.DrawFn) -> SubscriptionTerms | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    starts_on = draw(dates)
    length = draw(st.none() | st.integers(min_value=0, max_value=800))
    ends_on = None if length is None else starts_on + timedelta(days=length)
    return SubscriptionTerms(draw(st.integers(1, 10_000)), starts_on, ends_on, draw(plans_()))


clients = st.builds(
    ClientState,
    phase=st.sampled_from(["onboarding", "production"]),
    protocol_signed_on=st.none() | dates,
    package_months=st.integers(min_value=0, max_value=3),
)
usages = st.builds(
    Usage, minutes_used=small, tickets_used=st.integers(0, 30), rollover_minutes=small
)
anything = st.fixed_dictionaries(
    {
        "category": categories,
        "client": clients,
        "subscription": subscriptions(),
        "usage": usages,
        "today": dates,
    }
)


@st.composite
def after_the_package(draw: st.DrawFn) -> dict:
    """A client in production past its package, mostly with a subscription active today."""
    today = draw(dates)
    category = draw(st.sampled_from(["question", "configuration_change"]))
    plan = draw(plans_())
    if draw(st.integers(0, 3)):
        plan = replace(plan, covered_categories=plan.covered_categories | {category})
    starts_on = today - timedelta(days=draw(st.integers(0, 1_500)))
    ends_on = draw(st.none() | st.integers(-10, 400).map(lambda d: today + timedelta(days=d)))
    ends_on = None if ends_on is not None and ends_on < starts_on else ends_on
    return {
        "category": category,
        "client": ClientState("production", date(2023, 6, 30), draw(st.integers(0, 3))),
        "subscription": SubscriptionTerms(1, starts_on, ends_on, plan),
        "usage": draw(usages),
        "today": today,
    }


# Half arbitrary input, half the support-plan cases that arbitrary input rarely reaches.
inputs = anything | after_the_package()

def test_babel_extracts_every_msgid() -> None:
    """Every msgid is written as N_("literal"), so `pybabel extract` finds it."""
    path = Path(plans.coverage.__file__)
    extracted = {message for _, message, _, _ in extract_from_file("python", path)}
    assert set(REASON_MSGIDS) <= extracted
    vocabulary = Path(plans.vocabulary.__file__)
    words = {message for _, message, _, _ in extract_from_file("python", vocabulary, keywords={"_l": None})}
    assert {category.word.msgid for category in Category} <= words
    assert set(MONTH_NAMES) <= extracted


@PROPERTIES
@given(inputs)
def test_bug_is_always_a_free_bug_fix(case: dict) -> None:
    decision = decide(**{**case, "category": "bug"})
    assert (decision.source, decision.covered, decision.billable) == ("bug_fix", True, False)
    assert not decision.needs_approval
    assert decision.remaining_minutes is None and decision.remaining_tickets is None


@PROPERTIES
@given(inputs)
def test_decision_invariants(case: dict) -> None:
    decision = decide(**case)
    subscription: SubscriptionTerms | None = case["subscription"]
    plan = subscription.plan if subscription is not None else None
    policy = plan.overage_policy if plan is not None else None
    assert decision.source in SOURCES
    if not decision.covered:
        assert decision.source == "none" or (
            decision.source == "support_plan" and policy in ("approval", "reject")
        )
    if decision.needs_approval:
        assert decision.source == "support_plan" and not decision.covered
        assert policy == "approval"
    if decision.billable:
        assert decision.source == "support_plan" and decision.covered and policy == "bill"
    for remaining in (decision.remaining_minutes, decision.remaining_tickets):
        if remaining is not None:
            assert remaining >= 0
            assert decision.source == "support_plan"
    if decision.subscription_id is not None:
        assert subscription is not None and subscription.is_active_on(case["today"])
        assert decision.subscription_id == subscription.id
    if decision.period is not None:
        assert case["today"] in decision.period
    if decision.source == "support_plan":
        assert plan is not None and case["category"] in plan.covered_categories
    assert decision.reason.msgid in REASON_MSGIDS
    rendered = decision.reason.render()
    assert rendered and "%(" not in rendered
    assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision


@PROPERTIES
@given(inputs)
def test_inactive_subscription_counts_as_none(case: dict) -> None:
    subscription = case["subscription"]
    if subscription is not None and not subscription.is_active_on(case["today"]):
        assert decide(**case) == decide(**{**case, "subscription": None})


@PROPERTIES
@given(inputs, st.integers(0, 2_000), st.integers(0, 30))
def test_less_usage_never_covers_less(case: dict, fewer_minutes: int, fewer_tickets: int) -> None:
    usage: Usage = case["usage"]
    less = replace(
        usage,
        minutes_used=max(0, usage.minutes_used - fewer_minutes),
        tickets_used=max(0, usage.tickets_used - fewer_tickets),
    )
    if decide(**case).within_allowance:
        assert decide(**{**case, "usage": less}).within_allowance


@PROPERTIES
@given(inputs, st.integers(min_value=1, max_value=1_440))
def test_time_charge_invariants(case: dict, minutes: int) -> None:
    decision = decide(**case)
    subscription = case["subscription"]
    plan = subscription.plan if subscription is not None else None
    charge = charge_time(decision=decision, minutes=minutes, plan=plan, usage=case["usage"])
    increment = plan.billing_increment if plan is not None else 1
    assert charge.covered_minutes + charge.overage_minutes == charge.billed_minutes
    assert charge.covered_minutes >= 0 and charge.overage_minutes >= 0
    assert charge.billed_minutes % increment == 0
    assert minutes <= charge.billed_minutes < minutes + increment
    if decision.source in ("bug_fix", "onboarding", "post_onboarding_package"):
        assert charge.covered_minutes == charge.billed_minutes
        assert not charge.consumes_allowance
    if decision.source == "none":
        assert charge.covered_minutes == 0 and not charge.consumes_allowance
    if charge.consumes_allowance:
        assert decision.within_allowance
        if decision.remaining_minutes is not None:
            assert charge.covered_minutes <= decision.remaining_minutes
    if charge.needs_approval:
        assert plan is not None and plan.overage_policy == "approval"
    if charge.billable_overage:
        assert plan is not None and plan.overage_policy == "bill"


@PROPERTIES
@given(
    plans_(),
    st.integers(0, 600),
    st.lists(st.integers(min_value=1, max_value=240), min_size=1, max_size=15),
)
def test_entries_never_take_more_than_the_allowance(
    plan: PlanTerms, rollover_in: int, entries: list[int]
) -> None:
    plan = replace(plan, covered_categories=frozenset({"question"}), allowance_tickets=None)
    subscription = SubscriptionTerms(1, date(2026, 1, 1), None, plan)
    usage = Usage(rollover_minutes=rollover_in if plan.allowance_minutes is not None else 0)
    covered = 0
    for minutes in entries:
        decision = decide(
            category="question", client=PRODUCTION, subscription=subscription, usage=usage,
            today=TODAY,
        )
        charge = charge_time(decision=decision, minutes=minutes, plan=plan, usage=usage)
        covered += charge.covered_minutes
        usage = replace(usage, minutes_used=usage.minutes_used + charge.covered_minutes)
    if plan.allowance_minutes is None:
        assert covered == sum(billed_minutes(m, plan.billing_increment) for m in entries)
    else:
        assert covered <= plan.allowance_minutes + usage.rollover_minutes


@PROPERTIES
@given(st.none() | small, small, small, small)
def test_rollover_is_capped(allowance: int | None, used: int, rollover_in: int, cap: int) -> None:
    carried = rollover(
        allowance_minutes=allowance, minutes_used=used, rollover_in=rollover_in, cap=cap
    )
    assert 0 <= carried <= cap
    if allowance is None:
        assert carried == 0
    else:
        assert carried <= allowance
        assert carried <= max(0, allowance + rollover_in - used)
