"""The events that notify people, and which of their notices a person may turn off.

Callers name an event with one of these constants; the e-mail templates live in
templates/email/<event with dots as underscores>.{txt,html}.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.i18n import _l

TICKET_FILED = "ticket.filed"
TICKET_AGENT_REPLIED = "ticket.agent_replied"
TICKET_CLIENT_REPLIED = "ticket.client_replied"
TICKET_ASSIGNED = "ticket.assigned"
TICKET_RESOLVED = "ticket.resolved"
TICKET_MENTIONED = "ticket.mentioned"
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
APPROVAL_NEEDED = "approval.needed"
ALLOWANCE_WARNING = "allowance.warning"
ALLOWANCE_EXHAUSTED = "allowance.exhausted"
ONBOARDING_MEETING_REMINDER = "onboarding.meeting_reminder"
PASSWORD_RESET = "account.password_reset"
INVITATION = "account.invitation"
TICKET_RATED_LOW = "ticket.rated_low"


@dataclass(frozen=True)
class EventType:
    name: str
    label: object  # lazy string: what the preferences page calls it
    # Roles for whom the notice is essential (cannot be turned off); everyone else may mute it.
    essential_for: frozenset[str]
    # Roles that may receive it, so the preferences page shows only what concerns the user.
    audience: frozenset[str]
    # Private notices (a password-reset link) go to the person only, never to webhooks.
    private: bool = False

    @property
    def template(self) -> str:
        return self.name.replace(".", "_")


CLIENTS = frozenset({"client"})
STAFF = frozenset({"agent", "manager", "admin"})
MANAGERS = frozenset({"manager", "admin"})
EVERYONE = CLIENTS | STAFF

EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        # A client's receipt that the report is saved is essential; the staff notice is not.
        EventType(TICKET_FILED, _l("A ticket is filed"), CLIENTS, EVERYONE),
        EventType(TICKET_AGENT_REPLIED, _l("Support replies to my ticket"), EVERYONE, CLIENTS),
        EventType(TICKET_CLIENT_REPLIED, _l("A client replies to a ticket assigned to me"), frozenset(), STAFF),
        EventType(TICKET_ASSIGNED, _l("A ticket is assigned to me"), frozenset(), STAFF),
        EventType(TICKET_MENTIONED, _l("Someone mentions me in an internal note"), frozenset(), STAFF),
        EventType(TICKET_RESOLVED, _l("My ticket is resolved"), EVERYONE, CLIENTS),
        EventType(SLA_WARNING, _l("A ticket is close to its SLA target"), frozenset(), STAFF),
        EventType(SLA_BREACHED, _l("A ticket breached its SLA target"), EVERYONE, STAFF),
        EventType(APPROVAL_NEEDED, _l("Uncovered work waits for approval"), EVERYONE, MANAGERS),
        EventType(ALLOWANCE_WARNING, _l("A support allowance reaches 80 percent"), frozenset(), EVERYONE),
        EventType(ALLOWANCE_EXHAUSTED, _l("A support allowance is used up"), EVERYONE, EVERYONE),
        EventType(ONBOARDING_MEETING_REMINDER, _l("Onboarding meeting reminders"), frozenset(), EVERYONE),
        EventType(PASSWORD_RESET, _l("Password reset link"), EVERYONE, EVERYONE, private=True),
        # An invitation goes to an address with no account yet (no role: always delivered).
        EventType(INVITATION, _l("Invitation to a company account"), EVERYONE, frozenset(), private=True),
        EventType(TICKET_RATED_LOW, _l("A client gives a low satisfaction rating"), frozenset(), STAFF),
    )
}

# What a webhook endpoint may subscribe to: every event but the private ones.
WEBHOOK_EVENT_TYPES: dict[str, EventType] = {n: e for n, e in EVENT_TYPES.items() if not e.private}


def is_essential(event: str, role: str | None) -> bool:
    """Whether a person of `role` always gets this notice (recipients without a role always do)."""
    return role is None or role in EVENT_TYPES[event].essential_for


def optional_events_for(role: str, *, client_admin: bool = False) -> list[EventType]:
    """The notices a person of this role receives and may turn off, in a stable order."""
    found = []
    for event in EVENT_TYPES.values():
        if role not in event.audience or role in event.essential_for:
            continue
        if role == "client" and event.name == ALLOWANCE_WARNING and not client_admin:
            continue
        found.append(event)
    return found
