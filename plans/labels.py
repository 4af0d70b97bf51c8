"""What coverage sources, ledger charges, triggers and approvals are called, in the user's language."""

from __future__ import annotations

from typing import Any

from flask_babel import format_decimal

from helpdesk.i18n import _, _l, format_date
from plans.coverage import Reason

SOURCE_LABELS = {
    "bug_fix": _l("Bug-fix guarantee"),
    "onboarding": _l("Onboarding"),
    "post_onboarding_package": _l("Post-onboarding package"),
    "support_plan": _l("Support plan"),
    "none": _l("Not covered"),
}
CHARGE_LABELS = {
    "allowance": _l("From the allowance"),
    "free": _l("Free"),
    "billable": _l("Billable"),
    "pending": _l("Awaiting approval"),
    "goodwill": _l("Goodwill"),
    "unbilled": _l("Not billed"),
}
KIND_LABELS = {
    "consumption": _l("Consumption"),
    "overage": _l("Overage"),
    "refund": _l("Refund"),
    "approval": _l("Approval"),
}
TRIGGER_LABELS = {
    "filed": _l("Ticket filed"),
    "reclassified": _l("Category changed"),
    "time_entry": _l("Time logged"),
    "approval": _l("Manager's decision"),
}
APPROVAL_LABELS = {
    "pending": _l("Awaiting a manager's approval"),
    "billable": _l("Approved as billable work"),
    "goodwill": _l("Approved as goodwill (free of charge)"),
    "declined": _l("Declined by a manager"),
}
POLICY_LABELS = {
    "bill": _l("Bill at the hourly rate"),
    "approval": _l("A manager approves"),
    "reject": _l("Not covered"),
}
PERIOD_KIND_LABELS = {"month": _l("Month"), "quarter": _l("Quarter")}


def format_minutes(minutes: int | None) -> str:
    """``450`` -> "7 h 30 min", ``60`` -> "1 h", ``20`` -> "20 min"; "—" for None."""
    if minutes is None:
        return "—"
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours and rest:
        text = _("%(hours)s h %(minutes)s min", hours=hours, minutes=rest)
    elif hours:
        text = _("%(hours)s h", hours=hours)
    else:
        text = _("%(minutes)s min", minutes=rest)
    return sign + text


def long_date(day) -> str:
    return format_date(day, "long")


def render_reason(reason: Any) -> str:
    """A decision's reason in the reader's language: from a ``Reason``, a stored
    ``CoverageDecision`` (msgid and params) or a ``{"msgid", "params"}`` dict."""
    if isinstance(reason, dict):
        reason = Reason.from_dict(reason)
    elif not isinstance(reason, Reason):
        reason = Reason.from_dict({"msgid": reason.reason_msgid, "params": reason.reason_params})
    return reason.render(gettext=_, format_date=long_date, format_decimal=format_decimal)


def template_globals() -> dict:
    return {
        "SOURCE_LABELS": SOURCE_LABELS,
        "CHARGE_LABELS": CHARGE_LABELS,
        "KIND_LABELS": KIND_LABELS,
        "TRIGGER_LABELS": TRIGGER_LABELS,
        "APPROVAL_LABELS": APPROVAL_LABELS,
        "POLICY_LABELS": POLICY_LABELS,
        "PERIOD_KIND_LABELS": PERIOD_KIND_LABELS,
        "format_minutes": format_minutes,
        "format_decimal": format_decimal,
    }
