"""What the notification machinery stores: the outbox, the delivery log, webhooks, mutes.

An `OutboxEntry` is written in the same transaction as the change it reports and carries all a
message needs. Each of its `Delivery` rows is one channel to one target (an e-mail address or a
webhook endpoint), unique per entry, so a job run twice finds the delivery already sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db

ENTRY_STATES = ("pending", "done", "dead")
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "dead")
CHANNELS = ("email", "webhook")


class OutboxEntry(db.Model):
    """One event to tell people about: who, what, and the values to show them.

    `state` is pending until every delivery is final; `due_at` is when the sweep should relay it
    again if it is still pending then (the relay after commit may have been lost).
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'done', 'dead')", name="state"),
        Index("ix_notification_outbox_state_due_at", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(60))
    ticket_id: Mapped[int | None] = mapped_column(index=True)  # a plain value: no domain import
    thread: Mapped[str | None] = mapped_column(String(120))
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="entry", order_by="Delivery.id", lazy="raise", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<OutboxEntry {self.id} {self.event} {self.state}>"


class Delivery(db.Model):
    """The delivery log: one channel to one target for one outbox entry.

    pending -> sending (leased until `lease_until`) -> sent | failed (refused for good) | dead
    (out of attempts); a transient failure puts it back to pending for the next attempt.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_id", "channel", "target", name="uq_notification_deliveries_key"),
        CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed', 'dead')", name="state"),
        CheckConstraint("channel IN ('email', 'webhook')", name="channel"),
        Index("ix_notification_deliveries_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notification_outbox.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(300))  # e-mail address, or "endpoint:<id>"
    recipient_index: Mapped[int | None]  # position in the entry's recipients (e-mail only)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[OutboxEntry] = relationship(back_populates="deliveries", lazy="raise")


class WebhookEndpoint(db.Model):
    """An HTTPS endpoint an admin registered for some event types; deliveries are signed."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationMute(db.Model):
    """A user turned off one kind of non-essential notice."""

    __tablename__ = "notification_mutes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    event: Mapped[str] = mapped_column(String(60), primary_key=True)


class InboxItem(db.Model):
    """One in-app notification of a staff member (an assignment, a mention, a client's reply, an
    SLA warning or breach), written in the transaction of the event with the outbox row.

    `values` are the outbox row's (number, subject, who); `read_at` is empty while unread. The
    header's unread count walks (user_id, read_at); the list walks (user_id, id) newest first.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_user_id_id", "user_id", "id"),
        Index("ix_inbox_items_user_id_read_at", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(60))
    ticket_id: Mapped[int | None]  # a plain value: no domain import
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
