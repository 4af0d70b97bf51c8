"""What categories, priorities, statuses and history events are called, in the user's language."""

from __future__ import annotations

from helpdesk.calendars.policies import CLOCK_LABELS
from helpdesk.i18n import _l
from plans.labels import SOURCE_LABELS

CATEGORY_LABELS = {
    "question": _l("Question"),
    "configuration_change": _l("Configuration change"),
    "bug": _l("Bug"),
}
CATEGORY_HELP = {
    "question": _l("How does something work? Ask us how to use a feature or where to find it."),
    "configuration_change": _l("Change my setup: integrations, mappings, processes, accounts."),
    "bug": _l("The product misbehaves: an error, wrong data, something that used to work. Always free."),
}
PRIORITY_LABELS = {
    "low": _l("Low"),
    "normal": _l("Normal"),
    "high": _l("High"),
    "urgent": _l("Urgent"),
}
STATUS_LABELS = {
    "new": _l("New"),
    "open": _l("Open"),
    "waiting_on_client": _l("Waiting on client"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
EVENT_LABELS = {
    "created": _l("filed the ticket"),
    "replied": _l("replied"),
    "note_added": _l("added an internal note"),
    "status_changed": _l("changed the status"),
    "priority_changed": _l("changed the priority"),
    "category_changed": _l("changed the category"),
    "assigned": _l("changed the assignee"),
    "time_logged": _l("logged time"),
    "coverage_settled": _l("settled the coverage"),
    "sla_recomputed": _l("recomputed the SLA due times"),
    "sla_warning": _l("recorded an SLA warning"),
    "sla_breached": _l("recorded an SLA breach"),
}
SLA_STATE_LABELS = {
    "breached": _l("Breached"),
    "paused": _l("Paused"),
    "warning": _l("Warning"),
    "running": _l("Within target"),
    "stopped": _l("Stopped"),
}
SLA_REASON_LABELS = {
    "priority": _l("priority changed"),
    "category": _l("category changed"),
    "coverage": _l("coverage changed"),
}


def template_globals() -> dict:
    from tickets.sla.display import duration_text

    return {
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "CATEGORY_HELP": CATEGORY_HELP,
        "PRIORITY_LABELS": PRIORITY_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "EVENT_LABELS": EVENT_LABELS,
        "SLA_STATE_LABELS": SLA_STATE_LABELS,
        "SLA_REASON_LABELS": SLA_REASON_LABELS,
        "CLOCK_LABELS": CLOCK_LABELS,
        "SOURCE_LABELS": SOURCE_LABELS,
        "sla_duration": duration_text,
    }
