"""What a ticket is made of: the ticket, its thread, attachments and append-only history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, Unmapped, mapped_column, relationship, unmapped_column

from helpdesk.accounts import User
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from tickets.vocabulary import OPEN_STATUSES, Category, Clock, Priority, SlaState, Status

# The codes of each vocabulary as plain strings (tickets/vocabulary.py defines them, with labels).
CATEGORIES = Category.values()
PRIORITIES = Priority.values()
STATUSES = Status.values()
CLOCKS = Clock.values()
PAUSE_REASONS = ("waiting_on_client", "resolved")
SLA_FACTS = ("warning", "breach")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


OPEN_CONDITION = _in("status", OPEN_STATUSES)


def ticket_number(ticket_id: int) -> str:
    """What people call a ticket, e.g. OP-42."""
    return f"OP-{ticket_id}"


class Ticket(db.Model):
    """A client's report. It is never deleted: whatever else fails, the report is kept."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(Category.check("category"), name="category"),
        CheckConstraint(Priority.check("priority"), name="priority"),
        CheckConstraint(Status.check("status"), name="status"),
        # Keyset pagination: each filter of the queue walks its own index newest first.
        Index("ix_tickets_status_id", "status", "id"),
        Index("ix_tickets_client_id_id", "client_id", "id"),
        Index("ix_tickets_assignee_id_id", "assignee_id", "id"),
        Index("ix_tickets_requester_id_id", "requester_id", "id"),
        Index("ix_tickets_category_id", "category", "id"),
        Index("ix_tickets_priority_id", "priority", "id"),
        # The current coverage, copied from the latest decision (plans.models.CoverageDecision).
        Index("ix_tickets_coverage_source_id", "coverage_source", "id"),
        Index("ix_tickets_coverage_approval_id", "coverage_approval", "id"),
        # The queue sorts by the nearest due instant: keyset on (next_deadline_at, id).
        Index("ix_tickets_next_deadline_at_id", "next_deadline_at", "id"),
        # The SLA report reads the tickets filed in its months: a range on created_at.
        Index("ix_tickets_created_at", "created_at"),
        # The queue's "due" order over open tickets only (migration 0014): those with a due
        # instant by (next_deadline_at, id), then those without one by id.
        Index("ix_tickets_open_next_deadline_at_id", "next_deadline_at", "id",
              postgresql_where=text(OPEN_CONDITION), sqlite_where=text(OPEN_CONDITION)),
        # The "Mine" and "Unassigned" views (migration 0023): one assignee's open tickets, due order.
        Index("ix_tickets_open_assignee_due_id", "assignee_id", "next_deadline_at", "id",
              postgresql_where=text(OPEN_CONDITION), sqlite_where=text(OPEN_CONDITION)),
        # The queue's filters over open tickets in its "due" order (migration 0026): one status,
        # one priority, one SLA state (breached), each page a range read a page long.
        Index("ix_tickets_open_status_due_id", "status", "next_deadline_at", "id",
              postgresql_where=text(OPEN_CONDITION), sqlite_where=text(OPEN_CONDITION)),
        Index("ix_tickets_open_priority_due_id", "priority", "next_deadline_at", "id",
              postgresql_where=text(OPEN_CONDITION), sqlite_where=text(OPEN_CONDITION)),
        Index("ix_tickets_open_sla_state_due_id", "sla_state", "next_deadline_at", "id",
              postgresql_where=text(OPEN_CONDITION), sqlite_where=text(OPEN_CONDITION)),
        Index("ix_tickets_open_undated_id", "id",
              postgresql_where=text(f"next_deadline_at IS NULL AND {OPEN_CONDITION}"),
              sqlite_where=text(f"next_deadline_at IS NULL AND {OPEN_CONDITION}")),
        CheckConstraint(SlaState.check("sla_state"), name="sla_state"),
        # The "Category to confirm" view (tickets.saved_views) walks this one.
        Index("ix_tickets_category_to_confirm_id", "category_to_confirm", "id"),
        # Full-text search (tickets.search), PostgreSQL only: SQLite keeps its FTS5 table instead.
        Index("ix_tickets_search_public", "search_public", postgresql_using="gin"),
        Index("ix_tickets_search_staff", "search_staff", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(30))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(20), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Denormalised from the ticket's latest coverage decision, for lists (no query per row).
    coverage_source: Mapped[str | None] = mapped_column(String(30))
    coverage_covered: Mapped[bool | None]
    coverage_approval: Mapped[str | None] = mapped_column(String(10))
    # SLA: the history the clocks are computed from is created_at, first_responded_at,
    # resolved_at/closed_at and the SlaPause rows; the columns below are derived from it
    # (tickets.sla.refresh) in the transaction of every change, and read by the queue.
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"), index=True)
    sla_source: Mapped[str | None] = mapped_column(String(30))
    sla_state: Mapped[str | None] = mapped_column(String(10))
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The nearest due instant of a clock still running (breached ones included), for the queue.
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The next instant a warning or breach is to be recorded: what the sweep reads.
    sla_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Business seconds spent waiting on the client, on the policy's calendar.
    sla_paused_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    # The plan of the latest coverage decision's subscription (None: none), copied here by
    # database triggers on coverage_decisions (migration 0023) for the SLA report by plan.
    # Read-only here; no foreign key, like the summaries' keys.
    sla_plan_id: Mapped[int | None] = mapped_column(Integer)
    # Filed by e-mail: the category came from the mailbox, so an agent confirms it (reclassify);
    # the "Category to confirm" view lists these.
    category_to_confirm: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Search documents (PostgreSQL; see tickets.search and migration 0014): kept by database
    # triggers in the same transaction as every ticket and message written. `search_public` is
    # the number, subject, description and public replies; `search_staff` adds internal notes.
    # Table columns the ORM never loads nor writes (unmapped columns; read them
    # as `Ticket.__table__.c.search_public`); absent on SQLite, whose FTS5 table `ticket_fts`
    # holds the same two documents.
    search_public: Unmapped[Any] = unmapped_column(TSVECTOR, nullable=True)
    search_staff: Unmapped[Any] = unmapped_column(TSVECTOR, nullable=True)

    client: Mapped[Client] = relationship(lazy="raise")
    sla_policy: Mapped[SlaPolicy | None] = relationship(lazy="raise")
    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="raise")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="raise")

    @property
    def number(self) -> str:
        return ticket_number(self.id)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketCount(db.Model):
    """How many tickets a client has in one status, for pages that would otherwise count them all.

    Read-only here: database triggers on `tickets` (migration 0013) keep it current in the same
    transaction as every insert, change of status or client, and delete, whoever writes the
    ticket (services, raw SQL, bulk loads). A count that falls to zero is removed, so a missing
    row means none.
    """

    __tablename__ = "ticket_counts"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int]


class SlaMonthCount(db.Model):
    """The SLA report's numbers for the tickets filed in one month (in the report's time zone),
    of one client, category and priority: tickets, clocks met of those decided, paused time.

    Read-only here: database triggers on `sla_clocks` and `tickets` (migration 0014) keep it
    current in the same transaction as every change, whoever writes (0015, key extended by 0023). A ticket counts once it
    has its first-response clock, as the report's join did. Rows of all zeros are removed.
    """

    __tablename__ = "sla_month_counts"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(30), primary_key=True)
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    # The source that set the tickets' SLA ("": none) and, for support-plan work, the plan of
    # the latest coverage decision's subscription (0: none or another source). Migration 0023.
    source: Mapped[str] = mapped_column(String(30), primary_key=True)
    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tickets: Mapped[int]
    first_met: Mapped[int]
    first_decided: Mapped[int]
    resolution_met: Mapped[int]
    resolution_decided: Mapped[int]
    paused_seconds: Mapped[int] = mapped_column(BigInteger)


class Message(db.Model):
    """One entry of a ticket's thread: a public reply or an internal note (staff only)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    via: Mapped[str] = mapped_column(String(10), default="web")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")


class Attachment(db.Model):
    """A file attached to a ticket (and to the message it came with), kept in storage by key."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimeEntry(db.Model):
    """Minutes an agent worked on a ticket on a given day. Each entry gets its own coverage
    decision and usage ledger rows in plans/, which refer to it by id."""

    __tablename__ = "time_entries"
    __table_args__ = (
        CheckConstraint("minutes BETWEEN 1 AND 1440", name="minutes"),
        Index("ix_time_entries_ticket_id_id", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    minutes: Mapped[int]
    work_date: Mapped[date]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")


class TicketEvent(db.Model):
    """Append-only history: who changed what, when, and through which channel."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    via: Mapped[str] = mapped_column(String(100), default="web")
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="raise")


class SlaPause(db.Model):
    """An interval in which a ticket's SLA clocks did not run.

    `waiting_on_client` while the ticket waited for the client; `resolved` from a resolution
    to the reopening that undid it. An open pause (no end) is the one running now.
    """

    __tablename__ = "sla_pauses"
    __table_args__ = (
        CheckConstraint(_in("reason", PAUSE_REASONS), name="reason"),
        Index("ix_sla_pauses_ticket_id_id", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SlaClock(db.Model):
    """A ticket's first-response or resolution clock as last computed (for pages and reports).

    `outcome` is `met` once the clock stopped within target, `breached` once its due instant
    passed before it stopped; NULL while undecided.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind"),
        CheckConstraint(Clock.check("kind"), name="kind"),
        CheckConstraint(_in("state", ("running", "paused", "stopped")), name="state"),
        CheckConstraint(_in("outcome", ("met", "breached")), name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"), index=True)
    target_minutes: Mapped[int]
    warning_percent: Mapped[int]
    state: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))
    elapsed_seconds: Mapped[int] = mapped_column(default=0)
    paused_seconds: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaEvent(db.Model):
    """A fact: a clock reached its warning share or its due instant. Raised once per clock."""

    __tablename__ = "sla_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "clock", "kind"),
        CheckConstraint(Clock.check("clock"), name="clock"),
        CheckConstraint(_in("kind", SLA_FACTS), name="kind"),
        Index("ix_sla_events_recorded_at", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    instant: Mapped[datetime] = mapped_column(UTCDateTime)  # when it happened
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when we noticed


class SavedView(db.Model):
    """A named set of queue filters (the queue's query arguments, `q` included): the owner's,
    or shared with all staff. Built-in views are not rows (tickets.saved_views.BUILTIN)."""

    __tablename__ = "saved_views"
    __table_args__ = (
        Index("ix_saved_views_owner_id_id", "owner_id", "id"),
        Index("ix_saved_views_shared_id", "shared", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    shared: Mapped[bool] = mapped_column(default=False, server_default=false())
    args: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
class TicketLink(db.Model):
    """A ticket filed by a client's reply to one resolved too long ago (or closed): the new ticket
    names the one it follows up, so agents see the history (tickets.services.client_reply)."""

    __tablename__ = "ticket_links"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    reopened_from_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketFollower(db.Model):
    """A colleague of the requester (same company) who follows a ticket: they get its notices and,
    if a plain client user, may see it (tickets.access.visible_tickets)."""

    __tablename__ = "ticket_followers"
    __table_args__ = (Index("ix_ticket_followers_user_id_ticket_id", "user_id", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")


class TicketRating(db.Model):
    """The client's satisfaction rating of a resolved ticket (CSAT): one per ticket, 1 to 5.

    The agent, client, category and month are copied at rating time so the report groups one
    table (tickets.csat); `month` is the first day of the rating's month in the default zone.
    """

    __tablename__ = "ticket_ratings"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        Index("ix_ticket_ratings_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(30))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    via: Mapped[str] = mapped_column(String(10), default="web")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    month: Mapped[date]
