"""Onboarding: one record per client company, from the kickoff to the signed acceptance protocol.

Models and the services that change them. Every change goes through a service here, once, for
the web pages and the CLI; each service checks who acts and what was asked, writes the change
and an event of the onboarding's history, and commits (one transaction per call). The rules that
decide (stage order, meeting rhythm, reminder dates) are the pure functions of
`plans.onboarding_rules`; services hand them `today` and `now`.

Guardian and phase live on `helpdesk.companies.Client` (`guardian_id`, `phase`,
`protocol_signed_on`): recording the signed protocol moves the client to production there, which
is what the ticket routing and the coverage engine read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from flask import current_app
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
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from helpdesk.accounts import User
from helpdesk.companies import Client
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.notifications import ONBOARDING_MEETING_REMINDER, notify, recipients_for_ids
from helpdesk.storage import storage
from helpdesk.text import is_blank, one_line_error, whole_number
from helpdesk.uploads import UploadError, check_file
from plans import onboarding_rules as rules
from plans.onboarding_labels import (
    CONFIGURATION_ITEMS,
    INTEGRATION_ACCESS,
    INTEGRATION_KIND_LABELS,
    MEETING_KIND_LABELS,
    PROTOCOL_FUNCTIONS,
    STAGE_LABELS,
    START_DATA_ITEMS,
    TEST_STEPS,
)

STAGES = rules.STAGES
STAGE_STATES = rules.STAGE_STATES
ITEM_KINDS = ("start_data", "configuration", "test", "protocol")
ITEM_STATES = ("open", "done", "not_applicable")
PLAN_SECTIONS = ("integration", "process", "courier")
INTEGRATION_KINDS = ("marketplace", "shop", "erp", "courier", "other")
TIMINGS = ("at_start", "later")
MEETING_KINDS = ("kickoff", "training", "follow_up", "recurring", "other")
GUARDIAN_ROLES = ("agent", "manager")
EDITOR_ROLES = ("manager", "admin")


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# -- models ----------------------------------------------------------------------------------


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
        CheckConstraint(_in("key", STAGES), name="key"),
        CheckConstraint(_in("state", STAGE_STATES), name="state"),
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
        CheckConstraint(_in("kind", ITEM_KINDS), name="kind"),
        CheckConstraint(_in("state", ITEM_STATES), name="state"),
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
            kind = INTEGRATION_KIND_LABELS.get(self.plan_item.kind or "other", "")
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
        CheckConstraint(_in("section", PLAN_SECTIONS), name="section"),
        CheckConstraint(_in("timing", TIMINGS), name="timing"),
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
        CheckConstraint(_in("kind", MEETING_KINDS), name="kind"),
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


# -- errors ----------------------------------------------------------------------------------


class OnboardingError(ServiceError):
    """A request about an onboarding was refused. `fields` maps form fields to messages."""


class NotFound(OnboardingError):
    """No such onboarding (or meeting, item) for this user; also what another company's ids get."""

    status = 404


class Forbidden(OnboardingError):
    status = 403


class Conflict(OnboardingError):
    status = 409


def _raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise OnboardingError(_("Please correct the marked fields."), fields)


# -- time ------------------------------------------------------------------------------------


def business_zone() -> ZoneInfo:
    """The timezone of the onboarding team's calendar (dates of meetings, reminders, protocol)."""
    return ZoneInfo(current_app.config["ONBOARDING_TIMEZONE"])


def local_today(now: datetime) -> date:
    return now.astimezone(business_zone()).date()


def local_instant(day: date, at: time, timezone: str | None = None) -> datetime:
    """The instant a wall-clock date and time in `timezone` (default: the team's) stand for."""
    zone = ZoneInfo(timezone) if timezone else business_zone()
    return datetime.combine(day, at, tzinfo=zone)


# -- reading ---------------------------------------------------------------------------------


def can_edit(user: User, onboarding: Onboarding) -> bool:
    """The client's guardian and managers run an onboarding; other staff may look."""
    if user.role in EDITOR_ROLES:
        return True
    return user.is_staff and onboarding.client.guardian_id == user.id


def _require_edit(user: User, onboarding: Onboarding) -> None:
    if not can_edit(user, onboarding):
        raise Forbidden(_("Only the client's guardian or a manager can change this onboarding."))


def _lock(onboarding: Onboarding) -> None:
    """Serialise changes to one onboarding (PostgreSQL row lock; SQLite serialises writes anyway).

    Two guardians submitting the same step at once then see each other's result instead of
    both passing the checks: one protocol, one version number, one completion.
    """
    db.session.execute(select(Onboarding.id).where(Onboarding.id == onboarding.id).with_for_update())
    db.session.refresh(onboarding)  # what the previous holder of the lock committed


def _require_manager(user: User) -> None:
    if user.role not in EDITOR_ROLES:
        raise Forbidden(_("Only managers can do this."))


def get_onboarding(user: User, onboarding_id: int) -> Onboarding:
    """An onboarding for staff; anyone else gets NotFound, whatever the id."""
    if not user.is_staff:
        raise NotFound(_("There is no such onboarding."))
    found = db.session.scalar(select(Onboarding).where(Onboarding.id == onboarding_id))
    if found is None:
        raise NotFound(_("There is no such onboarding."))
    return found


def onboarding_of_client(user: User) -> Onboarding | None:
    """The onboarding of a client user's own company (never any other)."""
    if not user.is_client or user.client_id is None:
        return None
    return db.session.scalar(select(Onboarding).where(Onboarding.client_id == user.client_id))


def list_onboardings(*, guardian_id: int | None = None, active_only: bool = False) -> list[Onboarding]:
    query = select(Onboarding).join(Client, Client.id == Onboarding.client_id).order_by(Client.name)
    if guardian_id is not None:
        query = query.where(Client.guardian_id == guardian_id)
    if active_only:
        query = query.where(Onboarding.completed_at.is_(None))
    return list(db.session.scalars(query))


def clients_without_onboarding() -> list[Client]:
    has_one = select(Onboarding.client_id)
    return list(
        db.session.scalars(
            select(Client)
            .where(Client.phase == "onboarding", Client.active.is_(True), Client.id.not_in(has_one))
            .order_by(Client.name)
        )
    )


def guardian_candidates() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_(GUARDIAN_ROLES), User.active.is_(True))
            .order_by(User.name, User.email)
        )
    )


def people_for(onboarding: Onboarding) -> list[User]:
    """Who may own a stage or attend a meeting: active staff and the client's own active users."""
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                (User.role != "client") | (User.client_id == onboarding.client_id),
            )
            .order_by(User.role != "client", User.name, User.email)
        )
    )


def checklist(onboarding: Onboarding, kind: str) -> list[ChecklistItem]:
    return list(
        db.session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.onboarding_id == onboarding.id, ChecklistItem.kind == kind)
            .order_by(ChecklistItem.position, ChecklistItem.id)
        )
    )


def get_item(onboarding: Onboarding, item_id: Any) -> ChecklistItem:
    """A checklist item of this onboarding (an item of another one is NotFound)."""
    try:
        item = db.session.get(ChecklistItem, int(item_id))
    except (TypeError, ValueError):
        item = None
    if item is None or item.onboarding_id != onboarding.id:
        raise NotFound(_("There is no such checklist item."))
    return item


def missing_start_data(onboarding: Onboarding) -> list[str]:
    """What the client still has to send before configuration may start, in plain words."""
    items = checklist(onboarding, "start_data")
    return [i.title for i in rules.missing_items((i, i.required, i.complete) for i in items)]


def plan_versions(onboarding: Onboarding) -> list[SuccessPlanVersion]:
    return list(
        db.session.scalars(
            select(SuccessPlanVersion)
            .where(SuccessPlanVersion.onboarding_id == onboarding.id)
            .order_by(SuccessPlanVersion.version)
        )
    )


def latest_plan_version(onboarding: Onboarding) -> int:
    return db.session.scalar(
        select(func.coalesce(func.max(SuccessPlanVersion.version), 0)).where(
            SuccessPlanVersion.onboarding_id == onboarding.id
        )
    )


def plan_items(onboarding: Onboarding, version: int | None = None) -> list[SuccessPlanItem]:
    """The Success Plan as it stood in `version` (default: the latest)."""
    query = select(SuccessPlanItem).where(SuccessPlanItem.onboarding_id == onboarding.id)
    if version is not None:
        query = query.where(SuccessPlanItem.version <= version)
    return list(
        db.session.scalars(
            query.order_by(SuccessPlanItem.section, SuccessPlanItem.timing, SuccessPlanItem.id)
        )
    )


def meetings(onboarding: Onboarding, *, include_cancelled: bool = True) -> list[OnboardingMeeting]:
    query = select(OnboardingMeeting).where(OnboardingMeeting.onboarding_id == onboarding.id)
    if not include_cancelled:
        query = query.where(OnboardingMeeting.cancelled.is_(False))
    return list(db.session.scalars(query.order_by(OnboardingMeeting.starts_at, OnboardingMeeting.id)))


def get_meeting(onboarding: Onboarding, meeting_id: int) -> OnboardingMeeting:
    """A meeting of this onboarding (a meeting of another one is NotFound)."""
    found = db.session.get(OnboardingMeeting, meeting_id)
    if found is None or found.onboarding_id != onboarding.id:
        raise NotFound(_("There is no such meeting."))
    return found


def next_meeting(onboarding: Onboarding, now: datetime) -> OnboardingMeeting | None:
    return db.session.scalar(
        select(OnboardingMeeting)
        .where(
            OnboardingMeeting.onboarding_id == onboarding.id,
            OnboardingMeeting.cancelled.is_(False),
            OnboardingMeeting.starts_at > now,
        )
        .order_by(OnboardingMeeting.starts_at)
        .limit(1)
    )


def item_titles(onboarding: Onboarding) -> dict[int, str]:
    """Every checklist item's name by id (the history refers to items by id)."""
    return {
        item.id: item.title
        for item in db.session.scalars(select(ChecklistItem).where(ChecklistItem.onboarding_id == onboarding.id))
    }


def history(onboarding: Onboarding) -> list[OnboardingEvent]:
    return list(
        db.session.scalars(
            select(OnboardingEvent)
            .where(OnboardingEvent.onboarding_id == onboarding.id)
            .order_by(OnboardingEvent.id.desc())
        )
    )


def stage_gaps(onboarding: Onboarding) -> list[str]:
    """What keeps the current stage from being done, in plain words (shown to staff and client)."""
    stage = onboarding.current_stage
    gaps: list[str] = []
    if stage == "kickoff":
        if latest_plan_version(onboarding) == 0:
            gaps.append(_("The Success Plan is not recorded yet."))
    elif stage == "configuration":
        missing = missing_start_data(onboarding)
        if missing:
            gaps.append(_("Configuration can start once these start data are complete:"))
            gaps.extend(missing)
        else:
            items = checklist(onboarding, "configuration") + checklist(onboarding, "test")
            open_items = [i for i in items if not i.complete]
            if open_items:
                gaps.append(
                    _("%(open)s of %(all)s configuration items and tests are still open.",
                      open=len(open_items), all=len(items))
                )
    elif stage == "training":
        if not onboarding.training_plan_checked:
            gaps.append(_("The Success Plan has not been checked at a training yet."))
        if not onboarding.training_access_handed_over:
            gaps.append(_("Access to the panel has not been handed over yet."))
    elif stage == "protocol":
        gaps.append(_("The signed acceptance protocol has not been received yet."))
    elif stage == "follow_up":
        gaps.append(_("The follow-up meeting has not taken place yet."))
    return gaps


# -- changing --------------------------------------------------------------------------------


def _record(
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


def _check_text(
    fields: dict[str, str], name: str, value: Any, *, limit: int, required: bool = False, one_line: bool = False
) -> str:
    if value is not None and not isinstance(value, str):
        fields[name] = _("Must be text.")
        return ""
    value = (value or "").strip()
    if one_line and (problem := one_line_error(value)):
        fields[name] = problem
    elif required and is_blank(value):
        fields[name] = _("This field is required.")
    elif len(value) > limit:
        fields[name] = _("At most %(limit)s characters.", limit=limit)
    return value


def _staff_user(fields: dict[str, str], name: str, user_id: Any, roles: tuple[str, ...]) -> User | None:
    try:
        found = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        found = None
    if found is None or not found.active or found.role not in roles:
        fields[name] = _("Choose an active agent.")
        return None
    return found


def start_onboarding(
    user: User, *, client_id: Any, guardian_id: Any, kickoff_planned_on: date | None, now: datetime
) -> Onboarding:
    """A manager opens the onboarding of a client in onboarding, with its guardian; commits."""
    _require_manager(user)
    fields: dict[str, str] = {}
    try:
        client = db.session.get(Client, int(client_id))
    except (TypeError, ValueError):
        client = None
    if client is None:
        fields["client"] = _("Choose a client.")
    elif client.phase != "onboarding":
        fields["client"] = _("This client is already in production.")
    elif db.session.scalar(select(Onboarding.id).where(Onboarding.client_id == client.id)):
        fields["client"] = _("This client's onboarding is already open.")
    guardian = _staff_user(fields, "guardian", guardian_id, GUARDIAN_ROLES)
    if kickoff_planned_on is not None and kickoff_planned_on < local_today(now):
        fields["kickoff_planned_on"] = _("The kickoff cannot be planned in the past.")
    _raise_if(fields)
    assert client is not None and guardian is not None
    client.guardian_id = guardian.id
    onboarding = Onboarding(client=client, started_at=now, started_by_id=user.id, last_progress_at=now)
    db.session.add(onboarding)
    db.session.flush()
    for position, key in enumerate(STAGES):
        db.session.add(
            OnboardingStage(
                onboarding_id=onboarding.id, key=key, position=position, state="pending",
                owner_id=guardian.id, notes="",
                planned_on=kickoff_planned_on if key == "kickoff" else None,
            )
        )
    for kind, catalog in (
        ("start_data", START_DATA_ITEMS),
        ("configuration", CONFIGURATION_ITEMS),
        ("test", TEST_STEPS),
        ("protocol", PROTOCOL_FUNCTIONS),
    ):
        for position, key in enumerate(catalog):
            db.session.add(
                ChecklistItem(onboarding_id=onboarding.id, kind=kind, key=key, required=True,
                              state="open", position=position)
            )
    _record(onboarding, user, "started", now, guardian=guardian.id)
    db.session.commit()
    db.session.refresh(onboarding)
    return onboarding


def change_guardian(user: User, onboarding: Onboarding, guardian_id: Any, now: datetime) -> Onboarding:
    """A manager hands the client to another guardian; stages the old one owned follow; commits."""
    _require_manager(user)
    fields: dict[str, str] = {}
    guardian = _staff_user(fields, "guardian", guardian_id, GUARDIAN_ROLES)
    _raise_if(fields)
    assert guardian is not None
    old = onboarding.client.guardian_id
    if old == guardian.id:
        return onboarding
    onboarding.client.guardian_id = guardian.id
    for stage in onboarding.stages:
        if stage.state != "done" and stage.owner_id in (None, old):
            stage.owner_id = guardian.id
    _record(onboarding, user, "guardian_changed", now, **{"from": old, "to": guardian.id})
    db.session.commit()
    return onboarding


def update_stage(
    user: User, onboarding: Onboarding, key: str, *, planned_on: date | None, owner_id: Any,
    notes: Any, now: datetime,
) -> OnboardingStage:
    """Edit a stage's planned date, owner and notes; commits."""
    _require_edit(user, onboarding)
    stage = _stage(onboarding, key)
    fields: dict[str, str] = {}
    notes = _check_text(fields, "notes", notes, limit=5000)
    owner = None
    if owner_id not in (None, ""):
        allowed = {p.id: p for p in people_for(onboarding)}
        try:
            owner = allowed.get(int(owner_id))
        except (TypeError, ValueError):
            owner = None
        if owner is None:
            fields["owner"] = _("Choose a member of staff or a user of this client.")
    _raise_if(fields)
    changed = {}
    if stage.planned_on != planned_on:
        changed["planned_on"] = planned_on.isoformat() if planned_on else None
    new_owner = owner.id if owner else None
    if stage.owner_id != new_owner:
        changed["owner"] = new_owner
    if stage.notes != notes:
        changed["notes"] = True
    if not changed:
        return stage
    stage.planned_on, stage.owner_id, stage.notes = planned_on, new_owner, notes
    _record(onboarding, user, "stage_updated", now, stage=key, **changed)
    db.session.commit()
    return stage


def _stage(onboarding: Onboarding, key: Any) -> OnboardingStage:
    try:
        return onboarding.stage(key)
    except KeyError:
        raise NotFound(_("There is no such stage.")) from None


STAGE_PROBLEMS = {
    "unknown_state": ("to_state", lambda: _("Choose to start or to complete the stage.")),
    "already_done": ("to_state", lambda: _("This stage is already done.")),
    "actual_date_required": ("actual_on", lambda: _("Enter the date the stage was completed.")),
    "actual_date_in_future": ("actual_on", lambda: _("The date cannot be in the future.")),
}


def _check_change(
    onboarding: Onboarding, key: str, to_state: str, actual_on: date | None, reason: str, today: date
) -> rules.StageCheck:
    check = rules.check_stage_change(
        key, to_state, onboarding.states, actual_on=actual_on, today=today, reason=reason
    )
    fields: dict[str, str] = {}
    for problem in check.problems:
        if problem == "reason_required":
            names = ", ".join(str(STAGE_LABELS[s]) for s in check.out_of_order)
            fields["reason"] = _(
                "%(stages)s not done yet: say why this stage goes out of order.", stages=names
            )
        else:
            name, message = STAGE_PROBLEMS[problem]
            fields[name] = message()
    if "already_done" in check.problems:
        raise Conflict(fields["to_state"], fields)
    _raise_if(fields)
    return check


def _gate(onboarding: Onboarding, key: str, to_state: str) -> None:
    """Hard conditions of the seed that no reason overrides."""
    if key == "configuration":
        missing = missing_start_data(onboarding)
        if missing:
            raise Conflict(
                _("Configuration can start only when all start data is complete. Missing: %(items)s",
                  items="; ".join(missing)),
                {"to_state": _("Start data missing: %(items)s", items="; ".join(missing))},
            )
        if to_state == "done":
            items = checklist(onboarding, "configuration") + checklist(onboarding, "test")
            still_open = [i.title for i in items if not i.complete]
            if still_open:
                raise Conflict(
                    _("Configuration is done when every item and test is done or not applicable. "
                      "Open: %(items)s", items="; ".join(still_open)),
                    {"to_state": _("Still open: %(items)s", items="; ".join(still_open))},
                )
    if key == "kickoff" and to_state == "done" and latest_plan_version(onboarding) == 0:
        raise Conflict(
            _("Record the Success Plan before completing the kickoff."),
            {"to_state": _("Record the Success Plan before completing the kickoff.")},
        )
    if key == "training" and to_state == "done":
        raise Conflict(
            _("The training is completed with the training record (Success Plan checked, access handed over)."),
            {"to_state": _("Use the training record below.")},
        )
    if key == "protocol" and to_state == "done":
        raise Conflict(
            _("The protocol is completed by recording the signed protocol with its scan."),
            {"to_state": _("Use the acceptance protocol page.")},
        )


def _advance(
    onboarding: Onboarding, stage: OnboardingStage, to_state: str, actual_on: date | None,
    reason: str, check: rules.StageCheck, user: User, now: datetime,
) -> None:
    today = local_today(now)
    if to_state == "in_progress":
        stage.state = "in_progress"
        stage.started_on = actual_on or today
        kind = "stage_started"
    else:
        stage.state = "done"
        stage.started_on = stage.started_on or actual_on
        stage.done_on = actual_on
        kind = "stage_done"
    if check.out_of_order:
        stage.out_of_order_reason = reason[:500]
    _record(
        onboarding, user, kind, now, stage=stage.key,
        on=(actual_on or today).isoformat(),
        **({"out_of_order": list(check.out_of_order), "reason": reason} if check.out_of_order else {}),
    )
    if all(s.state == "done" for s in onboarding.stages) and onboarding.completed_at is None:
        onboarding.completed_at = now
        _record(onboarding, user, "completed", now)


def change_stage_state(
    user: User, onboarding: Onboarding, key: str, *, to_state: Any, actual_on: date | None,
    reason: Any, now: datetime,
) -> OnboardingStage:
    """Start or complete a stage. Out of order needs a reason; the seed's gates always hold."""
    _require_edit(user, onboarding)
    _lock(onboarding)
    stage = _stage(onboarding, key)
    fields: dict[str, str] = {}
    reason = _check_text(fields, "reason", reason, limit=500)
    _raise_if(fields)
    check = _check_change(onboarding, key, to_state, actual_on, reason, local_today(now))
    _gate(onboarding, key, to_state)
    if to_state == "done" and key == "kickoff":
        onboarding.agreed_plan_version = latest_plan_version(onboarding)
    _advance(onboarding, stage, to_state, actual_on, reason, check, user, now)
    db.session.commit()
    return stage


def add_plan_version(
    user: User, onboarding: Onboarding, *, entries: list[dict[str, Any]], note: Any, now: datetime
) -> SuccessPlanVersion:
    """Add entries to the Success Plan as a new version; earlier versions are never rewritten.

    Once the kickoff is done, what was agreed at start is closed: new entries are "later" ones.
    An integration agreed at start adds its access data to the start-data checklist.
    """
    _require_edit(user, onboarding)
    _lock(onboarding)
    fields: dict[str, str] = {}
    note = _check_text(fields, "note", note, limit=500)
    kickoff_done = onboarding.stage("kickoff").state == "done"
    clean: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        prefix = f"entries-{index}-"
        name = _check_text(fields, prefix + "name", entry.get("name"), limit=200, one_line=True)
        if not name:
            continue  # a blank row of the form
        section, kind, timing = entry.get("section"), entry.get("kind") or None, entry.get("timing")
        if section not in PLAN_SECTIONS:
            fields[prefix + "section"] = _("Choose an integration, an automated process or a courier service.")
        if section == "integration" and kind not in INTEGRATION_KINDS:
            fields[prefix + "kind"] = _("Choose what kind of integration this is.")
        if section != "integration":
            kind = None
        if timing not in TIMINGS:
            fields[prefix + "timing"] = _("Choose at start or later.")
        elif kickoff_done and timing == "at_start":
            fields[prefix + "timing"] = _(
                "The scope agreed at start is closed since the kickoff; add this as a later entry."
            )
        notes = _check_text(fields, prefix + "notes", entry.get("notes"), limit=500)
        clean.append({"section": section, "kind": kind, "name": name, "timing": timing, "notes": notes})
    if not clean and not fields:
        fields["entries-0-name"] = _("Add at least one entry.")
    _raise_if(fields)
    number = latest_plan_version(onboarding) + 1
    version = SuccessPlanVersion(
        onboarding_id=onboarding.id, version=number, note=note, created_at=now, created_by_id=user.id
    )
    db.session.add(version)
    position = len(checklist(onboarding, "start_data"))
    for values in clean:
        item = SuccessPlanItem(onboarding_id=onboarding.id, version=number, **values)
        db.session.add(item)
        if values["section"] == "integration" and values["timing"] == "at_start":
            db.session.flush()
            db.session.add(
                ChecklistItem(onboarding_id=onboarding.id, kind="start_data", key="integration_access",
                              required=True, state="open", position=position, plan_item_id=item.id)
            )
            position += 1
    _record(onboarding, user, "plan_version", now, version=number, entries=len(clean))
    db.session.commit()
    return version


def set_item_state(
    user: User, onboarding: Onboarding, item_id: Any, state: Any, now: datetime
) -> ChecklistItem:
    """Tick, untick or mark not applicable a checklist item; commits.

    Configuration items and tests change only while configuration is in progress: that is what
    makes the start-data gate mean something. Protocol functions are ticked with the protocol.
    """
    _require_edit(user, onboarding)
    item = get_item(onboarding, item_id)
    if state not in ITEM_STATES:
        raise OnboardingError(_("Unknown state."), {"state": _("Choose open, done or not applicable.")})
    if item.kind in ("configuration", "test") and onboarding.stage("configuration").state != "in_progress":
        raise Conflict(
            _("Configuration items and tests are ticked while configuration is in progress."),
            {"state": _("Start the configuration first.")},
        )
    if item.kind == "protocol":
        raise Conflict(_("Basic functions are ticked when the protocol is recorded."))
    if item.kind == "start_data" and onboarding.stage("configuration").state != "pending" and state == "open":
        raise Conflict(_("Configuration has started; its start data cannot be reopened."))
    if item.state == state:
        return item
    old, item.state = item.state, state
    item.updated_at, item.updated_by_id = now, user.id
    _record(onboarding, user, "item_changed", now, item=item.id, item_kind=item.kind,
            **{"from": old, "to": state})
    db.session.commit()
    return item


def add_start_data_item(
    user: User, onboarding: Onboarding, *, label: Any, required: bool, now: datetime
) -> ChecklistItem:
    """The guardian asks the client for one more piece of start data; commits."""
    _require_edit(user, onboarding)
    fields: dict[str, str] = {}
    label = _check_text(fields, "label", label, limit=200, required=True, one_line=True)
    _raise_if(fields)
    if required and onboarding.stage("configuration").state != "pending":
        raise Conflict(
            _("Configuration has started; new start data can only be optional."),
            {"required": _("Configuration has started; new start data can only be optional.")},
        )
    item = ChecklistItem(
        onboarding_id=onboarding.id, kind="start_data", key="custom", label=label,
        required=bool(required), state="open", position=len(checklist(onboarding, "start_data")),
        updated_at=now, updated_by_id=user.id,
    )
    db.session.add(item)
    db.session.flush()
    _record(onboarding, user, "item_added", now, item=item.id, required=bool(required))
    db.session.commit()
    return item


def record_training(
    user: User, onboarding: Onboarding, *, held_on: date | None, plan_checked: bool,
    access_handed_over: bool, notes: Any, reason: Any, now: datetime,
) -> OnboardingStage:
    """Complete the training; schedules the follow-up a week later and the recurring meetings.

    The follow-up and the recurring meetings are dated entries like any other (editable, with
    their own reminders); the follow-up and recurring stages get them as their planned dates.
    """
    _require_edit(user, onboarding)
    _lock(onboarding)
    fields: dict[str, str] = {}
    notes = _check_text(fields, "notes", notes, limit=5000)
    reason = _check_text(fields, "reason", reason, limit=500)
    if not plan_checked:
        fields["plan_checked"] = _("The training checks the integrations against the Success Plan.")
    if not access_handed_over:
        fields["access_handed_over"] = _("The training hands over access to the panel.")
    today = local_today(now)
    try:
        check = _check_change(onboarding, "training", "done", held_on, reason, today)
    except Conflict:
        raise
    except OnboardingError as exc:
        fields.update({("held_on" if k == "actual_on" else k): v for k, v in exc.fields.items()})
        check = None
    _raise_if(fields)
    assert check is not None and held_on is not None
    stage = onboarding.stage("training")
    onboarding.training_plan_checked = True
    onboarding.training_access_handed_over = True
    if notes:
        stage.notes = (stage.notes + "\n\n" + notes).strip()
    _advance(onboarding, stage, "done", held_on, reason, check, user, now)
    _record(onboarding, user, "training_recorded", now, on=held_on.isoformat())
    _schedule_rhythm(onboarding, held_on, user, now)
    db.session.commit()
    return stage


def _default_participants(onboarding: Onboarding) -> list[User]:
    people = [p for p in people_for(onboarding) if p.is_client]
    guardian = db.session.get(User, onboarding.client.guardian_id) if onboarding.client.guardian_id else None
    return ([guardian] if guardian else []) + people


def _schedule_rhythm(onboarding: Onboarding, training_on: date, user: User, now: datetime) -> None:
    config = current_app.config
    plan = rules.meeting_plan(training_on, local_today(now), config["ONBOARDING_RECURRING_MEETINGS"])
    at = time.fromisoformat(config["ONBOARDING_MEETING_TIME"])
    participants = _default_participants(onboarding)
    dates = [("follow_up", plan.follow_up)] + [("recurring", day) for day in plan.recurring]
    for kind, day in dates:
        starts_at = local_instant(day, at)
        if not rules.meeting_time_allowed(starts_at, now):
            # Recorded late in the day: the proposed slot today has passed; take the next working day.
            starts_at = local_instant(rules.working_day_on_or_after(day + timedelta(days=1)), at)
        meeting = OnboardingMeeting(
            onboarding_id=onboarding.id, kind=kind, starts_at=starts_at,
            duration_minutes=config["ONBOARDING_MEETING_MINUTES"], location="", notes="",
            created_at=now, updated_at=now, created_by_id=user.id, participants=list(participants),
        )
        db.session.add(meeting)
    onboarding.stage("follow_up").planned_on = plan.follow_up
    if plan.recurring:
        onboarding.stage("recurring").planned_on = plan.recurring[0]
    _record(onboarding, user, "meeting_scheduled", now, automatic=True, count=len(dates))


@dataclass(frozen=True)
class ScanUpload:
    """A file as the browser sent it (at most the size limit plus one byte read)."""

    filename: str
    data: bytes


def check_scan(scan: ScanUpload | None) -> tuple[str | None, str | None]:
    """(display name, None) for an acceptable PDF scan, else (None, message)."""
    limit = current_app.config["PROTOCOL_SCAN_MAX_BYTES"]
    if scan is None or not scan.filename:
        return None, _("Attach the scan of the signed protocol (PDF).")
    try:
        checked = check_file(scan.filename, scan.data, limit)
    except UploadError as exc:
        return None, str(exc)
    if checked.content_type != "application/pdf":
        return None, _("The signed protocol must be a PDF file; %(name)s is not one.", name=checked.filename)
    return checked.filename, None


def record_protocol(
    user: User, onboarding: Onboarding, *, signed_on: date | None, functions: Iterable[str],
    scan: ScanUpload | None, now: datetime,
) -> Onboarding:
    """Record the signed acceptance protocol; the client goes to production from the signing date.

    The client's phase and `protocol_signed_on` change in the same transaction, so from then on
    its tickets go to the normal queue and the post-onboarding package runs from that date.
    """
    _require_edit(user, onboarding)
    _lock(onboarding)
    if onboarding.protocol_signed_on is not None:
        raise Conflict(_("The acceptance protocol is already recorded."))
    fields: dict[str, str] = {}
    training = onboarding.stage("training")
    if signed_on is None:
        fields["signed_on"] = _("Enter the date the protocol was signed.")
    else:
        problem = rules.check_protocol_date(
            signed_on, training.done_on if training.state == "done" else None, local_today(now)
        )
        if problem == "training_not_done":
            fields["signed_on"] = _("The protocol follows the training; record the training first.")
        elif problem == "before_training":
            fields["signed_on"] = _(
                "The protocol cannot be signed before the training (%(day)s).", day=training.done_on.isoformat()
            )
        elif problem == "in_future":
            fields["signed_on"] = _("The signing date cannot be in the future.")
    ticked = set(functions or ())
    if not ticked <= set(PROTOCOL_FUNCTIONS):
        fields["functions"] = _("Unknown basic function.")
    filename, scan_error = check_scan(scan)
    if scan_error:
        fields["scan"] = scan_error
    _raise_if(fields)
    assert scan is not None and signed_on is not None
    key = storage().save(scan.data)
    try:
        onboarding.protocol_signed_on = signed_on
        onboarding.protocol_scan_key = key
        onboarding.protocol_scan_name = filename
        onboarding.protocol_scan_size = len(scan.data)
        onboarding.protocol_recorded_at = now
        onboarding.protocol_recorded_by_id = user.id
        for item in checklist(onboarding, "protocol"):
            item.state = "done" if item.key in ticked else "open"
            item.updated_at, item.updated_by_id = now, user.id
        client = onboarding.client
        client.phase = "production"
        client.protocol_signed_on = signed_on
        stage = onboarding.stage("protocol")
        check = rules.check_stage_change(
            "protocol", "done", onboarding.states, actual_on=signed_on, today=local_today(now)
        )
        _advance(onboarding, stage, "done", signed_on, "", check, user, now)
        _record(onboarding, user, "protocol_recorded", now, signed_on=signed_on.isoformat(),
                functions=sorted(ticked))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        storage().delete(key)
        raise
    return onboarding


def open_scan(onboarding: Onboarding) -> BinaryIO:
    if not onboarding.protocol_scan_key:
        raise NotFound(_("No scan of the protocol is stored."))
    try:
        return storage().open(onboarding.protocol_scan_key)
    except KeyError:
        raise NotFound(_("No scan of the protocol is stored.")) from None


# -- meetings --------------------------------------------------------------------------------


def _meeting_fields(
    onboarding: Onboarding, fields: dict[str, str], *, starts_at: datetime | None, duration: Any,
    location: Any, notes: Any, participant_ids: Iterable[Any] | None,
) -> tuple[int, str, str, list[User]]:
    if starts_at is None:
        fields["day"] = _("Enter the date and time of the meeting.")
    minutes = duration if isinstance(duration, int) else whole_number(str(duration or "")) or 0
    if not 5 <= minutes <= 8 * 60:
        fields["duration_minutes"] = _("A meeting lasts from 5 to 480 minutes.")
    location = _check_text(fields, "location", location, limit=500, one_line=True)
    notes = _check_text(fields, "notes", notes, limit=5000)
    allowed = {p.id: p for p in people_for(onboarding)}
    chosen: list[User] = []
    for raw in participant_ids or ():
        try:
            person = allowed.get(int(raw))
        except (TypeError, ValueError):
            person = None
        if person is None:
            fields["participants"] = _("Choose participants among staff and this client's users.")
            break
        if person not in chosen:
            chosen.append(person)
    return minutes, location, notes, chosen


def schedule_meeting(
    user: User, onboarding: Onboarding, *, kind: Any, starts_at: datetime | None, duration: Any,
    location: Any = "", notes: Any = "", participant_ids: Iterable[Any] | None = None, now: datetime,
) -> OnboardingMeeting:
    """Put a meeting in the onboarding's calendar; only in the future; commits."""
    _require_edit(user, onboarding)
    fields: dict[str, str] = {}
    if kind not in MEETING_KINDS:
        fields["kind"] = _("Choose the kind of meeting.")
    minutes, location, notes, chosen = _meeting_fields(
        onboarding, fields, starts_at=starts_at, duration=duration, location=location, notes=notes,
        participant_ids=participant_ids,
    )
    if starts_at is not None and not rules.meeting_time_allowed(starts_at, now):
        fields["day"] = _("A meeting cannot be scheduled in the past.")
    _raise_if(fields)
    assert starts_at is not None
    meeting = OnboardingMeeting(
        onboarding_id=onboarding.id, kind=kind, starts_at=starts_at, duration_minutes=minutes,
        location=location, notes=notes, created_at=now, updated_at=now, created_by_id=user.id,
        participants=chosen,
    )
    db.session.add(meeting)
    db.session.flush()
    _plan_stage_from_meeting(onboarding, meeting)
    _record(onboarding, user, "meeting_scheduled", now, meeting=meeting.id, meeting_kind=kind,
            starts_at=starts_at.isoformat())
    db.session.commit()
    return meeting


def _plan_stage_from_meeting(onboarding: Onboarding, meeting: OnboardingMeeting) -> None:
    """A kickoff, training or follow-up meeting dates its stage's plan (while it is not done)."""
    if meeting.kind in ("kickoff", "training", "follow_up"):
        stage = onboarding.stage(meeting.kind)
        if stage.state != "done":
            stage.planned_on = meeting.starts_at.astimezone(business_zone()).date()


def update_meeting(
    user: User, onboarding: Onboarding, meeting: OnboardingMeeting, *, starts_at: datetime | None,
    duration: Any, location: Any, notes: Any, participant_ids: Iterable[Any] | None, now: datetime,
) -> OnboardingMeeting:
    """Edit a meeting. A new date must be in the future, and re-arms the reminder; commits."""
    _require_edit(user, onboarding)
    if meeting.onboarding_id != onboarding.id:
        raise NotFound(_("There is no such meeting."))
    if meeting.cancelled:
        raise Conflict(_("This meeting is cancelled."))
    fields: dict[str, str] = {}
    minutes, location, notes, chosen = _meeting_fields(
        onboarding, fields, starts_at=starts_at, duration=duration, location=location, notes=notes,
        participant_ids=participant_ids,
    )
    moved = starts_at is not None and starts_at != meeting.starts_at
    if moved and not rules.meeting_time_allowed(starts_at, now):
        fields["day"] = _("A meeting cannot be moved into the past.")
    _raise_if(fields)
    assert starts_at is not None
    changed: dict[str, Any] = {}
    if moved:
        changed["starts_at"] = {"from": meeting.starts_at.isoformat(), "to": starts_at.isoformat()}
        meeting.starts_at = starts_at
        meeting.reminder_sent_at = None
    if minutes != meeting.duration_minutes:
        changed["duration_minutes"] = minutes
    if location != meeting.location:
        changed["location"] = True
    if notes != meeting.notes:
        changed["notes"] = True
    if {p.id for p in chosen} != {p.id for p in meeting.participants}:
        changed["participants"] = sorted(p.id for p in chosen)
    if not changed:
        return meeting
    meeting.duration_minutes, meeting.location, meeting.notes = minutes, location, notes
    meeting.participants = chosen
    if set(changed) - {"notes"}:
        meeting.sequence += 1  # calendars replace their copy when the sequence grows
    meeting.updated_at = now
    if moved:
        _plan_stage_from_meeting(onboarding, meeting)
    _record(onboarding, user, "meeting_changed", now, meeting=meeting.id, **changed)
    db.session.commit()
    return meeting


def cancel_meeting(user: User, onboarding: Onboarding, meeting: OnboardingMeeting, now: datetime) -> None:
    """Call a meeting off; it stays listed (and in calendars, as cancelled); commits."""
    _require_edit(user, onboarding)
    if meeting.onboarding_id != onboarding.id:
        raise NotFound(_("There is no such meeting."))
    if meeting.cancelled:
        return
    meeting.cancelled = True
    meeting.sequence += 1
    meeting.updated_at = now
    _record(onboarding, user, "meeting_cancelled", now, meeting=meeting.id)
    db.session.commit()


def add_recurring_meeting(user: User, onboarding: Onboarding, now: datetime) -> OnboardingMeeting:
    """One more meeting on the two-week rhythm, after the last one planned; commits."""
    _require_edit(user, onboarding)
    _lock(onboarding)
    training = onboarding.stage("training")
    if training.state != "done" or training.done_on is None:
        raise Conflict(_("Recurring meetings follow the training; record the training first."))
    zone = business_zone()
    last = db.session.scalar(
        select(func.max(OnboardingMeeting.starts_at)).where(
            OnboardingMeeting.onboarding_id == onboarding.id,
            OnboardingMeeting.kind.in_(("follow_up", "recurring")),
            OnboardingMeeting.cancelled.is_(False),
        )
    )
    after = max(last.astimezone(zone).date() if last else training.done_on, local_today(now))
    day = rules.next_recurring_date(training.done_on, after)
    at = time.fromisoformat(current_app.config["ONBOARDING_MEETING_TIME"])
    return schedule_meeting(
        user, onboarding, kind="recurring", starts_at=local_instant(day, at),
        duration=current_app.config["ONBOARDING_MEETING_MINUTES"],
        participant_ids=[p.id for p in _default_participants(onboarding)], now=now,
    )


def meeting_title(onboarding: Onboarding, meeting: OnboardingMeeting) -> str:
    return _("%(meeting)s · %(client)s", meeting=MEETING_KIND_LABELS[meeting.kind], client=onboarding.client.name)


# -- reminders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingReminder:
    """Everything a reminder message needs, as plain values (what an outbox row carries)."""

    meeting_id: int
    onboarding_id: int
    client_id: int
    client_name: str
    kind: str
    starts_at: datetime
    duration_minutes: int
    location: str
    recipients: tuple[str, ...]  # e-mail addresses of the participants
    recipient_ids: tuple[int, ...] = field(default=())

    def values(self) -> dict[str, Any]:
        return {
            "meeting_id": self.meeting_id,
            "onboarding_id": self.onboarding_id,
            "client": self.client_name,
            "kind": self.kind,
            "starts_at": self.starts_at.isoformat(),
            "duration_minutes": self.duration_minutes,
            "location": self.location,
        }


def _reminder_candidates(today: date):
    """Meetings that could be reminded about today: not cancelled, not reminded, in the next days.

    A reminder date is at most a few days before its meeting (the longest run of closed days),
    so ten days ahead is a safe bound; the pure rule then decides each one.
    """
    zone = business_zone()
    start = datetime.combine(today + timedelta(days=1), time(), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=10), time(), tzinfo=zone)
    return (
        select(OnboardingMeeting)
        .where(
            OnboardingMeeting.cancelled.is_(False),
            OnboardingMeeting.reminder_sent_at.is_(None),
            OnboardingMeeting.starts_at >= start,
            OnboardingMeeting.starts_at < end,
        )
        .order_by(OnboardingMeeting.starts_at, OnboardingMeeting.id)
    )


def _reminder(meeting: OnboardingMeeting, onboarding: Onboarding) -> MeetingReminder:
    people = [p for p in meeting.participants if p.active]
    return MeetingReminder(
        meeting_id=meeting.id,
        onboarding_id=onboarding.id,
        client_id=onboarding.client_id,
        client_name=onboarding.client.name,
        kind=meeting.kind,
        starts_at=meeting.starts_at,
        duration_minutes=meeting.duration_minutes,
        location=meeting.location,
        recipients=tuple(p.email for p in people),
        recipient_ids=tuple(p.id for p in people),
    )


def due_meeting_reminders(today: date) -> list[MeetingReminder]:
    """Reminders due on `today` (a date of the team's calendar): the working day before a meeting."""
    zone = business_zone()
    found = []
    for meeting in db.session.scalars(_reminder_candidates(today)):
        if rules.reminder_due(meeting.starts_at.astimezone(zone).date(), today):
            onboarding = db.session.get(Onboarding, meeting.onboarding_id)
            found.append(_reminder(meeting, onboarding))
    return found


def deliver_meeting_reminder(reminder: MeetingReminder) -> None:
    """Hand a reminder to the notifications mechanism, inside the caller's transaction.

    notify() writes its outbox row in the same transaction that sets the meeting's sent marker,
    so a reminder is sent once or not at all.
    """
    notify(ONBOARDING_MEETING_REMINDER, recipients=recipients_for_ids(reminder.recipient_ids),
           values=reminder.values())


def send_meeting_reminder(meeting_id: int, today: date, now: datetime) -> bool:
    """Send one meeting's reminder if it is still due; True when sent. Running twice sends once."""
    query = select(OnboardingMeeting).where(OnboardingMeeting.id == meeting_id).with_for_update()
    meeting = db.session.scalar(query)
    if meeting is None or meeting.cancelled or meeting.reminder_sent_at is not None:
        db.session.rollback()
        return False
    if not rules.reminder_due(meeting.starts_at.astimezone(business_zone()).date(), today):
        db.session.rollback()
        return False
    onboarding = db.session.get(Onboarding, meeting.onboarding_id)
    reminder = _reminder(meeting, onboarding)
    deliver_meeting_reminder(reminder)
    meeting.reminder_sent_at = now
    _record(onboarding, None, "reminder_sent", now, progress=False, meeting=meeting.id,
            recipients=len(reminder.recipients))
    db.session.commit()
    return True


def send_due_reminders(today: date, now: datetime) -> int:
    """Every reminder due today, each in its own transaction; returns how many went out."""
    return sum(send_meeting_reminder(r.meeting_id, today, now) for r in due_meeting_reminders(today))


# -- the managers' overview ------------------------------------------------------------------


@dataclass
class GuardianLoad:
    guardian: User | None
    active: int = 0
    before_protocol: int = 0
    stalled: int = 0
    meetings_next_14_days: int = 0


@dataclass
class Overview:
    by_stage: dict[str, list[Onboarding]]
    completed: list[Onboarding]
    stalled: list[Onboarding]
    load: list[GuardianLoad]
    stale_days: int


def overview(now: datetime, stale_days: int) -> Overview:
    """All onboardings by current stage, the stalled ones and each guardian's load."""
    onboardings = list(
        db.session.scalars(
            select(Onboarding)
            .join(Client, Client.id == Onboarding.client_id)
            .options(selectinload(Onboarding.stages))
            .order_by(Onboarding.last_progress_at)
        )
    )
    by_stage: dict[str, list[Onboarding]] = {key: [] for key in STAGES}
    completed, stalled = [], []
    guardians = {u.id: u for u in guardian_candidates()}
    load: dict[int | None, GuardianLoad] = {}
    for onboarding in onboardings:
        stage = onboarding.current_stage
        if stage is None:
            completed.append(onboarding)
            continue
        by_stage[stage].append(onboarding)
        gid = onboarding.client.guardian_id
        if gid is not None and gid not in guardians:
            guardians[gid] = db.session.get(User, gid)
        entry = load.setdefault(gid, GuardianLoad(guardians.get(gid) if gid else None))
        entry.active += 1
        if onboarding.protocol_signed_on is None:
            entry.before_protocol += 1
        if rules.is_stalled(onboarding.last_progress_at, now, stale_days):
            stalled.append(onboarding)
            entry.stalled += 1
    upcoming = db.session.execute(
        select(Client.guardian_id, func.count(OnboardingMeeting.id))
        .join(Onboarding, Onboarding.id == OnboardingMeeting.onboarding_id)
        .join(Client, Client.id == Onboarding.client_id)
        .where(
            OnboardingMeeting.cancelled.is_(False),
            OnboardingMeeting.starts_at > now,
            OnboardingMeeting.starts_at <= now + timedelta(days=14),
        )
        .group_by(Client.guardian_id)
    ).all()
    for gid, count in upcoming:
        entry = load.setdefault(gid, GuardianLoad(guardians.get(gid) if gid else None))
        entry.meetings_next_14_days = count
    rows = sorted(load.values(), key=lambda g: (-g.active, g.guardian.display_name if g.guardian else ""))
    return Overview(by_stage, completed, stalled, rows, stale_days)


# -- what the client sees --------------------------------------------------------------------


@dataclass
class ClientProgress:
    onboarding: Onboarding
    current_stage: str | None
    gaps: list[str]
    missing_start_data: list[str]
    next_meeting: OnboardingMeeting | None
    upcoming: list[OnboardingMeeting]


def client_progress(onboarding: Onboarding, now: datetime) -> ClientProgress:
    upcoming = [m for m in meetings(onboarding, include_cancelled=False) if m.starts_at > now]
    return ClientProgress(
        onboarding=onboarding,
        current_stage=onboarding.current_stage,
        gaps=stage_gaps(onboarding),
        missing_start_data=missing_start_data(onboarding),
        next_meeting=upcoming[0] if upcoming else None,
        upcoming=upcoming,
    )


def client_meeting(user: User, meeting_id: int) -> tuple[Onboarding, OnboardingMeeting]:
    """A meeting of the client user's own company's onboarding, else NotFound."""
    onboarding = onboarding_of_client(user)
    if onboarding is None:
        raise NotFound(_("There is no such meeting."))
    return onboarding, get_meeting(onboarding, meeting_id)
