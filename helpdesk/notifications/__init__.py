"""Notifications that are never lost: a transactional outbox, RQ jobs, e-mail and signed webhooks.

Callers use one function, in the transaction of the change they report:

    notify(TICKET_FILED, recipients=recipients_for([user]), values={...}, ticket_id=ticket.id)
    db.session.commit()   # the caller's own commit; the relay happens after it

The outbox row carries everything the message needs, so the jobs here render and send without
importing tickets/ or plans/.
"""

from __future__ import annotations

from flask import Flask

from helpdesk.notifications.events import (
    ALLOWANCE_EXHAUSTED,
    ALLOWANCE_WARNING,
    APPROVAL_NEEDED,
    EVENT_TYPES,
    INVITATION,
    ONBOARDING_MEETING_REMINDER,
    PASSWORD_RESET,
    SLA_BREACHED,
    SLA_WARNING,
    TICKET_AGENT_REPLIED,
    TICKET_ASSIGNED,
    TICKET_CLIENT_REPLIED,
    TICKET_FILED,
    TICKET_MENTIONED,
    TICKET_RATED_LOW,
    TICKET_RESOLVED,
)
from helpdesk.notifications.models import Delivery, OutboxEntry, WebhookEndpoint
from helpdesk.notifications.outbox import (
    Audience,
    Notice,
    NoticeBatch,
    Recipient,
    audience,
    collected,
    notify,
    notify_many,
    recipient_for,
    recipients_for,
    recipients_for_ids,
)

__all__ = [
    "Audience",
    "audience",
    "NoticeBatch",
    "collected",
    "ALLOWANCE_EXHAUSTED",
    "ALLOWANCE_WARNING",
    "APPROVAL_NEEDED",
    "EVENT_TYPES",
    "INVITATION",
    "ONBOARDING_MEETING_REMINDER",
    "PASSWORD_RESET",
    "SLA_BREACHED",
    "SLA_WARNING",
    "TICKET_AGENT_REPLIED",
    "TICKET_ASSIGNED",
    "TICKET_CLIENT_REPLIED",
    "TICKET_FILED",
    "TICKET_MENTIONED",
    "TICKET_RATED_LOW",
    "TICKET_RESOLVED",
    "Delivery",
    "Notice",
    "OutboxEntry",
    "Recipient",
    "WebhookEndpoint",
    "init_app",
    "notify",
    "notify_many",
    "recipient_for",
    "recipients_for",
    "recipients_for_ids",
]


def init_app(app: Flask) -> None:
    """Register the admin pages, the preferences form and the `flask notifications` commands."""
    from helpdesk.jobs import periodic
    from helpdesk.notifications import delivery  # noqa: F401  (the job functions RQ imports)
    from helpdesk.notifications.cli import notifications_cli
    from helpdesk.notifications.outbox import deliver_leftovers, hand_over
    from helpdesk.notifications.views import admin_bp, inbox_bp, preferences_bp, template_globals

    # Relay rows whose relay is overdue (Redis was down, a process died): how each worker looks
    # for what to relay again.
    periodic(app, "notifications-sweep", func="helpdesk.notifications.outbox.sweep", every=15,
             setting="NOTIFY_SWEEP_SECONDS")
    app.register_blueprint(admin_bp)
    app.register_blueprint(preferences_bp)
    app.register_blueprint(inbox_bp)
    app.cli.add_command(notifications_cli)
    app.after_request(hand_over)
    app.teardown_request(deliver_leftovers)
    app.jinja_env.globals.update(template_globals())
