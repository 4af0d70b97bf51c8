"""Plans, subscriptions, the post-onboarding package, and the coverage engine's database side.

Callers import from ``plans.services``; each concept lives in its own module:

- ``parsing``: raw form values read into checked ones, ``CoverageError``, look-ups by id
- ``clients``: today on the vendor's calendar, the per-client lock, the post-onboarding package
- ``plans``: support plans and their versioned terms
- ``subscriptions``: a client's subscriptions to plans (never overlapping)
- ``allowances``: a subscription's periods, the allowance in each, the client's situation on a day
- ``announcements``: approval-needed and allowance-warning/exhausted notifications
- ``ledger``: the coverage decision record and the usage ledger rows
- ``batch``: the reads of a bulk reclassification's decisions, made once for all its tickets
- ``decisions``: deciding a ticket's coverage when filed or reclassified, refunds, the preview
- ``time_entries``: charging a time entry, and the charges each entry got
- ``approvals``: the approval state of a ticket and a manager's settlement

Manager services (plans, subscriptions, the package) validate, write and commit. The engine
(``decide_for_ticket``, ``charge_time_entry``, ``settle_approval``) is called by tickets/ inside
the ticket's own transaction and never commits. Nothing here imports ``tickets``.
"""

from helpdesk.errors import BadRequest, Conflict, NotFound
from plans.services.allowances import PeriodAllowance, allowance_history, allowance_used, calendar_month
from plans.services.announcements import AllowanceLevel, allowance_thresholds_crossed
from plans.services.approvals import settle_approval
from plans.services.batch import Batch, prepared
from plans.services.clients import MAX_PACKAGE_MONTHS, coverage_today, get_client, set_package
from plans.services.decisions import decide_for_ticket, preview
from plans.services.ledger import (
    current_decision,
    current_decisions,
    decisions_for_ticket,
    time_entry_decision,
)
from plans.services.parsing import MAX_RATE, CoverageError, parse_date, parse_int
from plans.services.plans import (
    MAX_ALLOWANCE_MINUTES,
    MAX_ALLOWANCE_TICKETS,
    change_plan_terms,
    create_plan,
    get_plan,
    list_plans,
    update_plan,
)
from plans.services.subscriptions import client_subscriptions, end_subscription, subscribe
from plans.services.time_entries import charge_time_entry, time_entry_charges

__all__ = [
    "MAX_ALLOWANCE_MINUTES",
    "MAX_ALLOWANCE_TICKETS",
    "MAX_PACKAGE_MONTHS",
    "MAX_RATE",
    "AllowanceLevel",
    "Batch",
    "BadRequest",
    "Conflict",
    "CoverageError",
    "NotFound",
    "PeriodAllowance",
    "allowance_history",
    "allowance_thresholds_crossed",
    "allowance_used",
    "calendar_month",
    "change_plan_terms",
    "charge_time_entry",
    "client_subscriptions",
    "coverage_today",
    "create_plan",
    "current_decision",
    "current_decisions",
    "decide_for_ticket",
    "decisions_for_ticket",
    "end_subscription",
    "get_client",
    "get_plan",
    "list_plans",
    "parse_date",
    "parse_int",
    "prepared",
    "preview",
    "set_package",
    "settle_approval",
    "subscribe",
    "time_entry_charges",
    "time_entry_decision",
    "update_plan",
]
