"""The plans' vocabularies: ticket categories, coverage sources, charges, approvals and the terms
of a plan. One definition each, with its label (see helpdesk/vocabulary.py for how labels stay
lazy without importing Flask, so the pure rule modules plans/coverage.py and plans/periods.py
can import this module).

Category lives here, not in tickets/: the coverage rules decide by category and plans/ may not
import tickets/. The kernel never names these (mail templates reach them through the ``label``
filter by vocabulary name).
"""

from __future__ import annotations

from helpdesk.vocabulary import Label, Vocabulary, _l, vocabulary


@vocabulary("category")
class Category(Vocabulary):
    """What a ticket is about. ``word`` is the lower-case word used inside a coverage reason."""

    word: Label

    def __new__(cls, value: str, label: Label, help: Label, word: Label):  # noqa: A002
        member = str.__new__(cls, value)
        member._value_, member.label, member.help, member.word = value, label, help, word
        return member

    QUESTION = (
        "question", _l("Question"),
        _l("How does something work? Ask us how to use a feature or where to find it."),
        _l("question"),
    )
    CONFIGURATION_CHANGE = (
        "configuration_change", _l("Configuration change"),
        _l("Change my setup: integrations, mappings, processes, accounts."),
        _l("configuration change"),
    )
    BUG = (
        "bug", _l("Bug"),
        _l("The product misbehaves: an error, wrong data, something that used to work. Always free."),
        _l("bug"),
    )


@vocabulary("coverage_source")
class CoverageSource(Vocabulary):
    """What covers a ticket (DESIGN.md "Coverage rules", in the order the rules are tried)."""

    BUG_FIX = "bug_fix", _l("Bug-fix guarantee")
    ONBOARDING = "onboarding", _l("Onboarding")
    POST_ONBOARDING_PACKAGE = "post_onboarding_package", _l("Post-onboarding package")
    SUPPORT_PLAN = "support_plan", _l("Support plan")
    NONE = "none", _l("Not covered")


@vocabulary("charge")
class Charge(Vocabulary):
    """How the minutes of a usage ledger row are charged."""

    ALLOWANCE = "allowance", _l("From the allowance")
    FREE = "free", _l("Free")
    BILLABLE = "billable", _l("Billable")
    PENDING = "pending", _l("Awaiting approval")
    GOODWILL = "goodwill", _l("Goodwill")
    UNBILLED = "unbilled", _l("Not billed")


@vocabulary("approval")
class Approval(Vocabulary):
    """A manager's decision on uncovered work (``pending`` until made)."""

    PENDING = "pending", _l("Awaiting a manager's approval")
    BILLABLE = "billable", _l("Approved as billable work")
    GOODWILL = "goodwill", _l("Approved as goodwill (free of charge)")
    DECLINED = "declined", _l("Declined by a manager")


@vocabulary("ledger_kind")
class LedgerKind(Vocabulary):
    """What a usage ledger row records."""

    CONSUMPTION = "consumption", _l("Consumption")
    OVERAGE = "overage", _l("Overage")
    REFUND = "refund", _l("Refund")
    APPROVAL = "approval", _l("Approval")


@vocabulary("trigger")
class Trigger(Vocabulary):
    """What made the coverage be decided again."""

    FILED = "filed", _l("Ticket filed")
    RECLASSIFIED = "reclassified", _l("Category changed")
    TIME_ENTRY = "time_entry", _l("Time logged")
    APPROVAL = "approval", _l("Manager's decision")


@vocabulary("overage_policy")
class OveragePolicy(Vocabulary):
    """What a plan does once its allowance is used up."""

    BILL = "bill", _l("Bill at the hourly rate")
    APPROVAL = "approval", _l("A manager approves")
    REJECT = "reject", _l("Not covered")


@vocabulary("period_kind")
class PeriodKind(Vocabulary):
    """The length of a plan's allowance period."""

    MONTH = "month", _l("Month")
    QUARTER = "quarter", _l("Quarter")
