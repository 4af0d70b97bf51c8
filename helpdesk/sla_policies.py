"""SLA policies: per priority, targets in business minutes on a business calendar.

Each coverage source has a policy. The four sources that are not support plans map to a policy
in `sla_source_policies` (a source without a row follows the default policy; `none`, for
uncovered tickets, may also map to no policy at all); each support plan names its own policy
(the plans package stores `sla_policy_id`). A policy is the kernel's: tickets and plans both
refer to it, neither owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.business_calendars import DEFAULT, Calendar, ensure_builtin_calendars
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _, _l
from helpdesk.text import is_blank, one_line_error, whole_number

PRIORITIES = ("low", "normal", "high", "urgent")
CLOCKS = ("first_response", "resolution")
SOURCES = ("bug_fix", "onboarding", "post_onboarding_package", "support_plan", "none")
MAPPED_SOURCES = ("bug_fix", "onboarding", "post_onboarding_package", "none")
SOURCE_LABELS = {
    "bug_fix": _l("Bug-fix guarantee"),
    "onboarding": _l("Onboarding"),
    "post_onboarding_package": _l("Post-onboarding package"),
    "support_plan": _l("Support plan"),
    "none": _l("Not covered"),
}
CLOCK_LABELS = {"first_response": _l("First response"), "resolution": _l("Resolution")}
DEFAULT_POLICY_NAME = "Standard"
DEFAULT_WARNING_PERCENT = 80
# (first response, resolution) in business minutes on the default calendar (8-hour days).
DEFAULT_TARGETS = {"urgent": (60, 480), "high": (120, 960), "normal": (240, 1920), "low": (480, 4800)}
MAX_TARGET_MINUTES = 1_000_000


class SlaPolicy(db.Model):
    """Targets per priority on a calendar, and when to warn (a share of each target)."""

    __tablename__ = "sla_policies"
    __table_args__ = (CheckConstraint("warning_percent BETWEEN 1 AND 99", name="warning_percent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("business_calendars.id", ondelete="RESTRICT"), index=True)
    warning_percent: Mapped[int] = mapped_column(default=DEFAULT_WARNING_PERCENT)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    calendar: Mapped[Calendar] = relationship(lazy="joined")
    targets: Mapped[list[SlaTarget]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SlaTarget.priority"
    )

    def target(self, priority: str) -> SlaTarget:
        for target in self.targets:
            if target.priority == priority:
                return target
        raise LookupError(f"policy {self.name!r} has no target for priority {priority!r}")

    def minutes(self, clock: str, priority: str) -> int:
        target = self.target(priority)
        return target.first_response_minutes if clock == "first_response" else target.resolution_minutes


class SlaTarget(db.Model):
    """A policy's targets for one priority, in business minutes (both required, above zero)."""

    __tablename__ = "sla_targets"
    __table_args__ = (
        CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority"),
        CheckConstraint("first_response_minutes > 0", name="first_response_minutes"),
        CheckConstraint("resolution_minutes > 0", name="resolution_minutes"),
    )

    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id", ondelete="CASCADE"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]


class SlaSourcePolicy(db.Model):
    """Which policy a coverage source gets. No row: the default policy; a NULL policy: no SLA."""

    __tablename__ = "sla_source_policies"
    __table_args__ = (
        CheckConstraint("source IN ('bug_fix', 'onboarding', 'post_onboarding_package', 'none')", name="source"),
        CheckConstraint("policy_id IS NOT NULL OR source = 'none'", name="policy_required"),
    )

    source: Mapped[str] = mapped_column(String(30), primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="RESTRICT"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PolicyError(Invalid):
    """A policy or the source mapping was not saved; `fields` maps form fields to messages."""


# -- reading ---------------------------------------------------------------------------------


def default_policy() -> SlaPolicy:
    """The default policy, created with the built-in calendars on first use (flushes only)."""
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.is_default.is_(True)).order_by(SlaPolicy.id))
    if policy is not None:
        return policy
    calendars = ensure_builtin_calendars()
    existing = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == DEFAULT_POLICY_NAME))
    if existing is not None:  # renamed defaults aside, the standard policy becomes the default again
        existing.is_default = True
        db.session.flush()
        return existing
    now = utcnow()
    policy = SlaPolicy(
        name=DEFAULT_POLICY_NAME,
        calendar_id=calendars[DEFAULT].id,
        warning_percent=DEFAULT_WARNING_PERCENT,
        is_default=True,
        created_at=now,
        updated_at=now,
        targets=[
            SlaTarget(priority=p, first_response_minutes=fr, resolution_minutes=res)
            for p, (fr, res) in DEFAULT_TARGETS.items()
        ],
    )
    try:
        with db.session.begin_nested():
            db.session.add(policy)
            db.session.flush()
    except IntegrityError:  # another transaction created it at the same moment
        found = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == DEFAULT_POLICY_NAME))
        assert found is not None
        return found
    return policy


def policy_for_source(source: str) -> SlaPolicy | None:
    """The policy of a non-plan coverage source (None: this source has no SLA)."""
    mapping = db.session.get(SlaSourcePolicy, source)
    if mapping is None:
        return default_policy()
    if mapping.policy_id is None:
        return None
    return db.session.get(SlaPolicy, mapping.policy_id)


def all_policies() -> list[SlaPolicy]:
    default_policy()
    return list(db.session.scalars(select(SlaPolicy).order_by(SlaPolicy.name)))


def source_mapping() -> dict[str, int | None | str]:
    """Per mapped source: a policy id, None (no SLA) or "default" (follows the default policy)."""
    rows = {m.source: m.policy_id for m in db.session.scalars(select(SlaSourcePolicy))}
    return {source: rows[source] if source in rows else "default" for source in MAPPED_SOURCES}


# -- editing ---------------------------------------------------------------------------------


@dataclass
class PolicyInput:
    """What the manager typed. Targets are texts per field name, e.g. "first_response_urgent"."""

    name: str
    calendar_id: str | int | None
    warning_percent: str | int | None = DEFAULT_WARNING_PERCENT
    targets: dict[str, str | int | None] = field(default_factory=dict)
    is_default: bool = False


def target_field(clock: str, priority: str) -> str:
    return f"{clock}_{priority}"


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return whole_number(str(value or ""), signed=True)


def save_policy(policy: SlaPolicy | None, data: PolicyInput) -> SlaPolicy:
    """Create (policy None) or change a policy; commits. PolicyError: nothing saved.

    Tickets keep the due times computed so far; a policy change applies to tickets filed
    afterwards and to a ticket whose priority, category or coverage changes.
    """
    fields: dict[str, str] = {}
    name = (data.name or "").strip()
    if problem := one_line_error(name):
        fields["name"] = problem
    elif is_blank(name):
        fields["name"] = _("This field is required.")
    elif len(name) > 80:
        fields["name"] = _("At most %(limit)s characters.", limit=80)
    else:
        clash = db.session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name))
        if clash is not None and (policy is None or clash != policy.id):
            fields["name"] = _("A policy with this name already exists.")
    calendar_id = _whole(data.calendar_id)
    if calendar_id is None or db.session.get(Calendar, calendar_id) is None:
        fields["calendar_id"] = _("Choose a calendar.")
    percent = _whole(data.warning_percent)
    if percent is None or not 1 <= percent <= 99:
        fields["warning_percent"] = _("A whole number of percent from 1 to 99.")
    minutes: dict[str, int] = {}
    for priority in PRIORITIES:
        for clock in CLOCKS:
            key = target_field(clock, priority)
            value = _whole(data.targets.get(key))
            if value is None:
                fields[key] = _("A whole number of business minutes.")
            elif value <= 0:
                fields[key] = _("A target must be more than zero minutes.")
            elif value > MAX_TARGET_MINUTES:
                fields[key] = _("At most %(limit)s minutes.", limit=MAX_TARGET_MINUTES)
            else:
                minutes[key] = value
    if policy is not None and policy.is_default and not data.is_default:
        fields["is_default"] = _("To change the default policy, make another policy the default.")
    if fields:
        raise PolicyError(_("Please correct the marked fields."), fields)
    now = utcnow()
    if policy is None:
        policy = SlaPolicy(created_at=now, targets=[])
        db.session.add(policy)
    policy.name, policy.calendar_id, policy.warning_percent = name, calendar_id, percent
    policy.updated_at = now
    by_priority = {t.priority: t for t in policy.targets}
    for priority in PRIORITIES:
        target = by_priority.get(priority)
        if target is None:
            target = SlaTarget(priority=priority)
            policy.targets.append(target)
        target.first_response_minutes = minutes[target_field("first_response", priority)]
        target.resolution_minutes = minutes[target_field("resolution", priority)]
    if data.is_default and not policy.is_default:
        db.session.flush()
        db.session.execute(update(SlaPolicy).where(SlaPolicy.id != policy.id).values(is_default=False))
        policy.is_default = True
    db.session.commit()
    return policy


def save_source_mapping(choices: dict[str, str | None]) -> None:
    """Set each mapped source to "default", a policy id, or "" (no SLA, for `none` only); commits."""
    fields: dict[str, str] = {}
    wanted: dict[str, int | None | str] = {}
    for source in MAPPED_SOURCES:
        value = (choices.get(source) or "").strip()
        if value == "default":
            wanted[source] = "default"
        elif value == "":
            if source != "none":
                fields[source] = _("This source needs a policy.")
            wanted[source] = None
        else:
            policy_id = _whole(value)
            if policy_id is None or db.session.get(SlaPolicy, policy_id) is None:
                fields[source] = _("Choose a policy.")
            wanted[source] = policy_id
    if fields:
        raise PolicyError(_("Please correct the marked fields."), fields)
    now = utcnow()
    for source, choice in wanted.items():
        row = db.session.get(SlaSourcePolicy, source)
        if choice == "default":
            if row is not None:
                db.session.delete(row)
            continue
        if row is None:
            row = SlaSourcePolicy(source=source)
            db.session.add(row)
        row.policy_id = choice if isinstance(choice, int) else None
        row.updated_at = now
    db.session.commit()
