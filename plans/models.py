"""What coverage is made of: support plans and their versioned terms, subscriptions, the stored
coverage decisions and the usage ledger.

Nothing here imports ``tickets``: tickets and time entries are referred to by id, through plain
``ForeignKey("tickets.id")`` strings. Decisions and ledger rows are immutable once written (an
ORM update or delete raises); corrections are new rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.calendars.policies import SlaPolicy  # noqa: F401  (the table sla_policy_id refers to)
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from plans.coverage import CATEGORIES, PlanTerms
from plans.vocabulary import (
    Approval,
    Category,
    Charge,
    CoverageSource,
    LedgerKind,
    OveragePolicy,
    PeriodKind,
    Trigger,
)

# The codes as plain strings; plans/vocabulary.py defines each vocabulary once, with its labels.
TRIGGERS = Trigger.values()
# The approval state a decision leaves its ticket in: None (nothing to approve), "pending" (in
# the manager's queue), or a manager's settlement, which holds until the category changes.
APPROVALS = Approval.values()
SETTLEMENTS = APPROVALS[1:]
KINDS = LedgerKind.values()
# Who pays for the minutes of a ledger row: the plan's allowance, nobody (a free source), or,
# for work beyond coverage, the client (billable), the vendor (goodwill), nobody yet (pending a
# manager's approval) or nobody (unbilled: declined, rejected or uncovered and refused).
CHARGES = Charge.values()
OVERAGE_CHARGES = CHARGES[2:]


class SupportPlan(db.Model):
    """A support plan managers sell. Its terms live in versions; the period kind is fixed because
    periods are anchored on each subscription's start and must tile without gaps."""

    __tablename__ = "support_plans"
    __table_args__ = (CheckConstraint(PeriodKind.check("period"), name="period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    period: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", order_by="PlanVersion.effective_from", lazy="selectin"
    )

    def version_on(self, day: date) -> PlanVersion:
        """The terms in force on ``day``: the latest version effective by then, else the first."""
        chosen = self.versions[0]
        for version in self.versions:
            if version.effective_from <= day:
                chosen = version
        return chosen

    def terms_on(self, day: date) -> PlanTerms:
        return self.version_on(day).terms(self)


class PlanVersion(db.Model):
    """The terms of a plan from ``effective_from`` on. A subscription's period uses the version
    in force on the period's first day, so a change never rewrites a period already begun.

    The SLA policy (which brings its business calendar) is one of the terms: a better or worse
    response time is part of what a client buys, so it changes from a date like the allowance,
    and a ticket decided in a period keeps the policy of that period's terms. None: the policy
    every support plan gets by default (``tickets.sla.policies.policy_for_source``).
    """

    __tablename__ = "plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "effective_from", name="uq_plan_versions_plan_id_effective_from"),
        CheckConstraint(OveragePolicy.check("overage_policy"), name="overage_policy"),
        CheckConstraint("billing_increment IN (1, 15, 30)", name="billing_increment"),
        CheckConstraint("allowance_minutes IS NULL OR allowance_minutes >= 0", name="allowance_minutes"),
        CheckConstraint("allowance_tickets IS NULL OR allowance_tickets >= 0", name="allowance_tickets"),
        CheckConstraint(
            "rollover_cap_minutes = 0 OR allowance_minutes IS NOT NULL", name="rollover_needs_allowance"
        ),
        CheckConstraint("rollover_cap_minutes >= 0", name="rollover_cap_minutes"),
        CheckConstraint("hourly_rate IS NULL OR hourly_rate >= 0", name="hourly_rate"),
        CheckConstraint("overage_policy <> 'bill' OR hourly_rate IS NOT NULL", name="bill_needs_rate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("support_plans.id", ondelete="RESTRICT"))
    effective_from: Mapped[date]
    covered_categories: Mapped[list[str]] = mapped_column(JSON)
    allowance_minutes: Mapped[int | None]
    allowance_tickets: Mapped[int | None]
    billing_increment: Mapped[int] = mapped_column(default=15)
    rollover_cap_minutes: Mapped[int] = mapped_column(default=0)
    overage_policy: Mapped[str] = mapped_column(String(10))
    hourly_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    sla_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[SupportPlan] = relationship(back_populates="versions", lazy="raise")

    def terms(self, plan: SupportPlan) -> PlanTerms:
        return PlanTerms(
            name=plan.name,
            covered_categories=frozenset(c for c in self.covered_categories if c in CATEGORIES),
            allowance_minutes=self.allowance_minutes,
            allowance_tickets=self.allowance_tickets,
            period=plan.period,
            billing_increment=self.billing_increment,
            rollover_cap_minutes=self.rollover_cap_minutes,
            overage_policy=self.overage_policy,
            hourly_rate=self.hourly_rate,
            currency=self.currency,
        )


class Subscription(db.Model):
    """A client's subscription to a plan from ``starts_on`` to the inclusive ``ends_on``
    (None: open-ended). A client's subscriptions never overlap."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        Index("ix_subscriptions_client_id_starts_on", "client_id", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("support_plans.id", ondelete="RESTRICT"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[SupportPlan] = relationship(lazy="joined")

    def is_active_on(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class CoverageDecision(db.Model):
    """One immutable coverage decision about a ticket, with everything it was made from.

    ``inputs`` holds ``inputs_to_dict(...)`` and ``decision`` holds ``Decision.to_dict()``; the
    columns beside them are copies for queries. ``period_*`` is the accounting period of the day
    decided (the subscription's period, or the calendar month without one).
    """

    __tablename__ = "coverage_decisions"
    __table_args__ = (
        CheckConstraint(Trigger.check("trigger"), name="trigger"),
        CheckConstraint(CoverageSource.check("source"), name="source"),
        CheckConstraint(Category.check("category"), name="category"),
        CheckConstraint(f"approval IS NULL OR {Approval.check('approval')}", name="approval"),
        # A ticket's decisions newest first; category and source too, so that the usage report
        # finds each ticket's current ones from the index alone.
        Index("ix_coverage_decisions_ticket_id_id_category_source", "ticket_id", "id", "category", "source"),
        Index("ix_coverage_decisions_client_id_period_start", "client_id", "period_start"),
        Index("ix_coverage_decisions_period_start", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    time_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("time_entries.id", ondelete="RESTRICT"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(20))
    why: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(30))
    covered: Mapped[bool]
    needs_approval: Mapped[bool]
    billable: Mapped[bool]
    approval: Mapped[str | None] = mapped_column(String(10))
    approval_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    approval_currency: Mapped[str | None] = mapped_column(String(3))
    reason_msgid: Mapped[str] = mapped_column(Text)
    reason_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    period_label: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date]
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="RESTRICT"))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    charge: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        """The whole record as JSON-friendly values (for `flask coverage explain`)."""
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "client_id": self.client_id,
            "time_entry_id": self.time_entry_id,
            "trigger": self.trigger,
            "why": self.why,
            "category": self.category,
            "source": self.source,
            "covered": self.covered,
            "needs_approval": self.needs_approval,
            "billable": self.billable,
            "approval": self.approval,
            "approval_rate": None if self.approval_rate is None else str(self.approval_rate),
            "approval_currency": self.approval_currency,
            "reason": {"msgid": self.reason_msgid, "params": self.reason_params},
            "period": {"label": self.period_label, "start": self.period_start.isoformat()},
            "subscription_id": self.subscription_id,
            "inputs": self.inputs,
            "decision": self.decision,
            "charge": self.charge,
            "actor_id": self.actor_id,
            "created_at": self.created_at.isoformat(),
        }


class UsageEntry(db.Model):
    """One row of the usage ledger: a consumption, overage, refund or approval of minutes (and of
    tickets counted against a ticket allowance). Totals are sums of these rows, never counters.

    A refund is a negative copy, in the refunded row's period; an approval moves minutes out of
    ``pending`` (a negative row) into ``billable``, ``goodwill`` or ``unbilled`` (a positive one).
    """

    __tablename__ = "usage_entries"
    __table_args__ = (
        CheckConstraint(LedgerKind.check("kind"), name="kind"),
        CheckConstraint(Charge.check("charge"), name="charge"),
        CheckConstraint(CoverageSource.check("source"), name="source"),
        # Per client (statements, drill-down, the client's page) and per period (the report).
        Index("ix_usage_entries_client_id_period_start", "client_id", "period_start"),
        Index("ix_usage_entries_period_start_client_id", "period_start", "client_id"),
        # Covers the rollover history (allowance used per subscription and period) on its own.
        Index(
            "ix_usage_entries_subscription_id_period_start",
            "subscription_id", "period_start", "charge", "minutes", "tickets",
        ),
        Index("ix_usage_entries_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id", ondelete="RESTRICT"))
    period_label: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date]
    work_date: Mapped[date]
    source: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(12))
    charge: Mapped[str] = mapped_column(String(12))
    minutes: Mapped[int] = mapped_column(default=0)
    tickets: Mapped[int] = mapped_column(default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"))
    time_entry_id: Mapped[int | None] = mapped_column(ForeignKey("time_entries.id", ondelete="RESTRICT"))
    decision_id: Mapped[int] = mapped_column(ForeignKey("coverage_decisions.id", ondelete="RESTRICT"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageTotal(db.Model):
    """The ledger summed per (period start, client, subscription, charge, currency): what the usage
    report and the rollover history read instead of every ledger row since a subscription began.

    Read-only here: database triggers on `usage_entries` (migration 0017) keep it in the
    same transaction as every insert (and delete or update in raw SQL), whoever writes the ledger.
    No subscription is stored as 0 and no currency as "" (key columns cannot be NULL). A key whose
    last row goes is removed, so a missing row means no ledger rows.
    """

    __tablename__ = "usage_totals"
    __table_args__ = (Index("ix_usage_totals_subscription_id_period_start", "subscription_id", "period_start"),)

    period_start: Mapped[date] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(primary_key=True)  # 0: rows without a subscription
    charge: Mapped[str] = mapped_column(String(12), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)  # "": rows without a currency
    minutes: Mapped[int]
    tickets: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    entries: Mapped[int]


class FiledTicketCount(db.Model):
    """The tickets filed per (period start, client, current category, current source): what the
    usage report's ticket counts read instead of every ticket filed in the period and its
    latest coverage decision.

    A "filed" coverage decision fixes the period and the client; the ticket's latest decision
    (highest id) gives the category and source it is counted under now. Read-only here: database
    triggers on `coverage_decisions` (migration 0027) move a ticket's count from its old key to
    its new one in the same transaction as every decision written (or deleted, or changed in SQL).
    A key whose count reaches zero is removed.
    """

    __tablename__ = "filed_ticket_counts"

    period_start: Mapped[date] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(30), primary_key=True)
    source: Mapped[str] = mapped_column(String(30), primary_key=True)
    tickets: Mapped[int]


def _refuse_change(mapper: Any, connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are immutable; write a new row instead")


for _model in (CoverageDecision, UsageEntry):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
