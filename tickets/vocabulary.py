"""The tickets' vocabularies: status, history events and SLA states, each defined once with its
label (see helpdesk/vocabulary.py for the design). Category is the plans' (coverage decides by
it) and priority the kernel's (SLA policies set targets by it); both are re-exported here so
ticket code finds every ticket field's vocabulary in one place.
"""

from __future__ import annotations

from helpdesk.vocabulary import Clock, Priority, Vocabulary, _l, vocabulary
from plans.vocabulary import Category, CoverageSource

__all__ = ["OPEN_STATUSES", "Category", "Clock", "CoverageSource", "Priority", "SlaReason", "SlaState", "Status", "TicketEventKind"]


@vocabulary("status")
class Status(Vocabulary):
    """A ticket's place in its workflow (DESIGN.md "Tickets")."""

    NEW = "new", _l("New")
    OPEN = "open", _l("Open")
    WAITING_ON_CLIENT = "waiting_on_client", _l("Waiting on client")
    RESOLVED = "resolved", _l("Resolved")
    CLOSED = "closed", _l("Closed")


OPEN_STATUSES = (Status.NEW.value, Status.OPEN.value, Status.WAITING_ON_CLIENT.value)


@vocabulary("ticket_event")
class TicketEventKind(Vocabulary):
    """An entry of a ticket's history; the label reads after the actor's name."""

    CREATED = "created", _l("filed the ticket")
    REPLIED = "replied", _l("replied")
    NOTE_ADDED = "note_added", _l("added an internal note")
    STATUS_CHANGED = "status_changed", _l("changed the status")
    PRIORITY_CHANGED = "priority_changed", _l("changed the priority")
    CATEGORY_CHANGED = "category_changed", _l("changed the category")
    CATEGORY_CONFIRMED = "category_confirmed", _l("confirmed the category")
    LINKED = "linked", _l("linked a follow-up ticket")
    ASSIGNED = "assigned", _l("changed the assignee")
    TIME_LOGGED = "time_logged", _l("logged time")
    COVERAGE_SETTLED = "coverage_settled", _l("settled the coverage")
    SLA_RECOMPUTED = "sla_recomputed", _l("recomputed the SLA due times")
    SLA_WARNING = "sla_warning", _l("recorded an SLA warning")
    SLA_BREACHED = "sla_breached", _l("recorded an SLA breach")


@vocabulary("sla_state")
class SlaState(Vocabulary):
    """What the queue shows of a ticket's SLA: a breach recorded on a clock still running, a pause,
    a warning recorded, running within target, or every clock stopped (NULL: no SLA)."""

    BREACHED = "breached", _l("Breached")
    PAUSED = "paused", _l("Paused")
    WARNING = "warning", _l("Warning")
    RUNNING = "running", _l("Within target")
    STOPPED = "stopped", _l("Stopped")


@vocabulary("sla_reason")
class SlaReason(Vocabulary):
    """Why the SLA due times were recomputed."""

    PRIORITY = "priority", _l("priority changed")
    CATEGORY = "category", _l("category changed")
    COVERAGE = "coverage", _l("coverage changed")
