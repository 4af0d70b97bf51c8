"""The onboarding's tables and their vocabulary: one onboarding per client, its stages, checklist
items, Success Plan versions and entries, meetings and the append-only history.

The codes and their words are in `vocabulary`, the checklists of the seed in `labels`, the
pure rules in `rules`. `record`
adds a row to the history and is how every service marks progress.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.accounts import User
from helpdesk.companies import Client
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from plans.onboarding import rules
from plans.onboarding.labels import (
    CONFIGURATION_ITEMS,
    INTEGRATION_ACCESS,
    PROTOCOL_FUNCTIONS,
    START_DATA_ITEMS,
    TEST_STEPS,
)
from plans.onboarding.vocabulary import (
    IntegrationKind,
    ItemKind,
    ItemState,
    MeetingKind,
    PlanSection,
    Stage,
    StageState,
    Timing,
)

STAGES = rules.STAGES


STAGE_STATES = rules.STAGE_STATES


ITEM_KINDS = ItemKind.values()


ITEM_STATES = ItemState.values()


PLAN_SECTIONS = PlanSection.values()


INTEGRATION_KINDS = IntegrationKind.values()


TIMINGS = Timing.values()


MEETING_KINDS = MeetingKind.values()


GUARDIAN_ROLES = ("agent", "manager")


EDITOR_ROLES = ("manager", "admin")


class Onboarding(db.Model):
    """A client's onboarding. Its guardian is the client's `guardian_id`."""

    __tablename__ = "onboardings"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Any recorded step by a person counts as progress; the managers' overview reads this.
    last_progress_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Success Plan version in force when the kickoff was completed: what was agreed at start.
    agreed_plan_version: Mapped[int | None]
    training_plan_checked: Mapped[bool] = mapped_column(default=False)
    training_access_handed_over: Mapped[bool] = mapped_column(default=False)
    protocol_signed_on: Mapped[date | None] = mapped_column(Date)
    protocol_scan_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    protocol_scan_name: Mapped[str | None] = mapped_column(String(200))
    protocol_scan_size: Mapped[int | None]
    protocol_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    protocol_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    client: Mapped[Client] = relationship(lazy="joined")
    stages: Mapped[list[OnboardingStage]] = relationship(
        order_by="OnboardingStage.position", lazy="selectin", back_populates="onboarding"
    )

    def stage(self, key: str) -> OnboardingStage:
        for found in self.stages:
            if found.key == key:
                return found
        raise KeyError(key)

    @property
    def states(self) -> dict[str, str]:
        return {s.key: s.state for s in self.stages}

    @property
    def current_stage(self) -> str | None:
        return rules.current_stage(self.states)

    @property
    def guardian_id(self) -> int | None:
        return self.client.guardian_id


class OnboardingStage(db.Model):
    """One of the six stages: planned and actual dates, an owner, notes (staff only), a state."""

    __tablename__ = "onboarding_stages"
    __table_args__ = (
        UniqueConstraint("onboarding_id", "key", name="uq_onboarding_stages_onboarding_key"),
        CheckConstraint(Stage.check("key"), name="key"),
        CheckConstraint(StageState.check("state"), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("onboardings.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(20))
    position: Mapped[int]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    planned_on: Mapped[date | None] = mapped_column(Date)
    started_on: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")
    out_of_order_reason: Mapped[str | None] = mapped_column(String(500))

    onboarding: Mapped[Onboarding] = relationship(back_populates="stages", lazy="raise")
    owner: Mapped[User | None] = relationship(lazy="joined")


class ChecklistItem(db.Model):
    """An item of a checklist: start data, configuration, test steps, protocol's basic functions."""

    __tablename__ = "onboarding_checklist_items"
    __table_args__ = (
        CheckConstraint(ItemKind.check("kind"), name="kind"),
        CheckConstraint(ItemState.check("state"), name="state"),
        Index("ix_onboarding_checklist_items_onboarding_kind", "onboarding_id", "kind", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("onboardings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # A key of the seed's checklists, "integration_access" or "custom".
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200), default="")
    required: Mapped[bool] = mapped_column(default=True)
    state: Mapped[str] = mapped_column(String(20), default="open")
    position: Mapped[int] = mapped_column(default=0)
    plan_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("success_plan_items.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    plan_item: Mapped[SuccessPlanItem | None] = relationship(lazy="joined")

    @property
    def complete(self) -> bool:
        return self.state in ("done", "not_applicable")

    @property
    def title(self) -> str:
        """The item's name in the user's language."""
        catalog = {
            "start_data": START_DATA_ITEMS,
            "configuration": CONFIGURATION_ITEMS,
            "test": TEST_STEPS,
            "protocol": PROTOCOL_FUNCTIONS,
        }[self.kind]
        if self.key in catalog:
            return str(catalog[self.key])
        if self.key == "integration_access" and self.plan_item is not None:
            kind = IntegrationKind.label_of(self.plan_item.kind or "other", "")
            return str(INTEGRATION_ACCESS) % {"kind": kind, "name": self.plan_item.name}
        return self.label


class SuccessPlanVersion(db.Model):
    """A version of the Success Plan: the entries added in it, and why. Never changed afterwards."""

    __tablename__ = "success_plan_versions"
    __table_args__ = (
        UniqueConstraint("onboarding_id", "version", name="uq_success_plan_versions_onboarding_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("onboardings.id", ondelete="CASCADE"))
    version: Mapped[int]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship(lazy="joined")


class SuccessPlanItem(db.Model):
    """An entry of the Success Plan. Version N is every entry added in versions 1..N."""

    __tablename__ = "success_plan_items"
    __table_args__ = (
        CheckConstraint(PlanSection.check("section"), name="section"),
        CheckConstraint(Timing.check("timing"), name="timing"),
        Index("ix_success_plan_items_onboarding_version", "onboarding_id", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("onboardings.id", ondelete="CASCADE"))
    version: Mapped[int]
    section: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(20))  # integrations only
    name: Mapped[str] = mapped_column(String(200))
    timing: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str] = mapped_column(String(500), default="")


meeting_participants = Table(
    "onboarding_meeting_participants",
    db.metadata,
    Column("meeting_id", Integer, ForeignKey("onboarding_meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class OnboardingMeeting(db.Model):
    """A dated meeting of the onboarding; moving it bumps `sequence` and re-arms its reminder."""

    __tablename__ = "onboarding_meetings"
    __table_args__ = (
        CheckConstraint(MeetingKind.check("kind"), name="kind"),
        CheckConstraint("duration_minutes > 0", name="duration"),
        Index("ix_onboarding_meetings_onboarding_starts", "onboarding_id", "starts_at"),
        Index("ix_onboarding_meetings_reminder", "reminder_sent_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("onboardings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(default=60)
    location: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    cancelled: Mapped[bool] = mapped_column(default=False)
    sequence: Mapped[int] = mapped_column(default=0)
    # The "sent" marker: set once per date, so a reminder never goes out twice.
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    participants: Mapped[list[User]] = relationship(
        secondary=meeting_participants, lazy="selectin", order_by="User.email"
    )

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class OnboardingEvent(db.Model):
    """Append-only history of the onboarding: who did what, when."""

    __tablename__ = "onboarding_events"
    __table_args__ = (Index("ix_onboarding_events_onboarding_id_id", "onboarding_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    onboarding_id: Mapped[int] = mapped_column(ForeignKey("onboardings.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    via: Mapped[str] = mapped_column(String(100), default="web")
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship(lazy="joined")


def record(
    onboarding: Onboarding, user: User | None, kind: str, now: datetime, *, progress: bool = True,
    via: str = "web", **data: Any,
) -> None:
    db.session.add(
        OnboardingEvent(
            onboarding_id=onboarding.id,
            actor_id=user.id if user else None,
            via=via if user else "system",
            kind=kind,
            data=data,
            created_at=now,
        )
    )
    if progress:
        onboarding.last_progress_at = now
