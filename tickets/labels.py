"""What categories, priorities, statuses and history events are called, in the user's language."""

from __future__ import annotations

from helpdesk.i18n import _l

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
}


def template_globals() -> dict:
    return {
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "CATEGORY_HELP": CATEGORY_HELP,
        "PRIORITY_LABELS": PRIORITY_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "EVENT_LABELS": EVENT_LABELS,
    }
