"""What the e-mail channel keeps: the mailboxes it reads, every message it received (the record
that makes receiving idempotent), and the e-mail domains of client companies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from tickets.inbound.vocabulary import MailOutcome
from tickets.vocabulary import Category


class InboundMailbox(db.Model):
    """An address clients write to; mail arriving there is filed in its default category.

    The IMAP settings are for the poller; `imap_password_ref` names an environment variable that
    holds the password (the database never holds it).
    """

    __tablename__ = "inbound_mailboxes"
    __table_args__ = (CheckConstraint(Category.check("category"), name="category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)
    category: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(default=True)
    imap_url: Mapped[str | None] = mapped_column(String(500))
    imap_user: Mapped[str | None] = mapped_column(String(254))
    imap_password_ref: Mapped[str | None] = mapped_column(String(100))
    folder_inbox: Mapped[str] = mapped_column(String(200), default="INBOX")
    folder_processed: Mapped[str] = mapped_column(String(200), default="Processed")
    folder_failed: Mapped[str] = mapped_column(String(200), default="Failed")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundMessage(db.Model):
    """One message received, whatever became of it. `message_id` is unique: the same message
    received twice (a poller killed before it moved the message, two pollers) adds nothing."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        CheckConstraint(MailOutcome.check("outcome"), name="outcome"),
        Index("ix_inbound_messages_outcome_id", "outcome", "id"),
        Index("ix_inbound_messages_sender_received_at", "sender", "received_at"),
        Index("ix_inbound_messages_client_id_id", "client_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    outcome: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(254), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(200), default="")
    mailbox_address: Mapped[str | None] = mapped_column(String(254))
    size: Mapped[int] = mapped_column(default=0)
    # The raw message in storage (helpdesk.storage), to file it later or to look at it.
    storage_key: Mapped[str | None] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An agent filed (assigned to a client) or discarded a message waiting for review.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_action: Mapped[str | None] = mapped_column(String(20))


class ClientEmailDomain(db.Model):
    """An e-mail domain of a client company: mail from an unknown address there makes a
    pending contact of that company instead of landing with the unrecognised mail."""

    __tablename__ = "client_email_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
