"""The e-mail channel's vocabulary: where an incoming message was placed (its outcome)."""

from __future__ import annotations

from helpdesk.vocabulary import Vocabulary, _l, vocabulary

__all__ = ["MailOutcome"]


@vocabulary("mail_outcome")
class MailOutcome(Vocabulary):
    """What became of one incoming message; the record's `reason` says why in words."""

    TICKET_CREATED = "ticket_created", _l("Ticket created")
    REPLY_ADDED = "reply_added", _l("Reply added")
    REOPENED = "reopened", _l("Ticket reopened")
    LINKED_TICKET_CREATED = "linked_ticket_created", _l("New linked ticket")
    PENDING_CONTACT = "pending_contact", _l("Pending contact")
    UNRECOGNISED = "unrecognised", _l("Unrecognised sender")
    AUTO_REPLY_IGNORED = "auto_reply_ignored", _l("Automatic reply ignored")
    BOUNCE = "bounce", _l("Bounce")
    HELD_LOOP = "held_loop", _l("Held: too many messages")
    DUPLICATE = "duplicate", _l("Duplicate")
    FAILED = "failed", _l("Failed")


# Outcomes an agent still has to act on (the "Unrecognised mail" list), until handled.
WAITING_FOR_AGENT = (MailOutcome.UNRECOGNISED.value, MailOutcome.PENDING_CONTACT.value, MailOutcome.HELD_LOOP.value)
