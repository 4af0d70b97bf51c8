"""SLA policies: per priority, targets in business minutes on a business calendar.

Why the kernel keeps them. Two floors use a policy: plans/ (a plan version names its SLA policy,
the plan forms list the policies) and tickets/ (a ticket's clocks run on one). The import rule is
tickets -> plans -> helpdesk, and plans may not import tickets, so the table both refer to lives
here, beside the calendars its targets are counted on. What lives here is generic: a name, a
calendar, a warning share and targets per priority for each clock; it names no coverage source.

Which policy a ticket gets (the mapping of coverage sources to policies, and a plan's own
policy) is decided in `tickets.sla.policies`, next to the code that chooses: that is the only
place that knows the coverage vocabulary. The default policy (`Standard`) is reference data
stored by the migrations (`helpdesk.calendars.seed`); this module only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.calendars.models import Calendar, ReferenceDataMissing
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import check_text, whole_number
from helpdesk.vocabulary import Clock, Priority

PRIORITIES = Priority.values()
CLOCKS = Clock.values()
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
        CheckConstraint(Priority.check("priority"), name="priority"),
        CheckConstraint("first_response_minutes > 0", name="first_response_minutes"),
        CheckConstraint("resolution_minutes > 0", name="resolution_minutes"),
    )

    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id", ondelete="CASCADE"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]


class PolicyError(Invalid):
    """A policy or the source mapping was not saved; `fields` maps form fields to messages."""


# -- reading ---------------------------------------------------------------------------------


def default_policy() -> SlaPolicy:
    """The default policy (reference data the migrations store); ReferenceDataMissing if absent."""
    policy = db.session.scalar(select(SlaPolicy).where(SlaPolicy.is_default.is_(True)).order_by(SlaPolicy.id))
    if policy is None:
        raise ReferenceDataMissing("The default SLA policy")
    return policy


def all_policies() -> list[SlaPolicy]:
    return list(db.session.scalars(select(SlaPolicy).order_by(SlaPolicy.name)))


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


def whole_value(value: object) -> int | None:
    """An int as given, or a whole number written in ASCII digits (a form's text); None otherwise."""
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
    name = check_text(fields, "name", data.name, limit=80, required=True, one_line=True)
    if "name" not in fields:
        clash = db.session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name))
        if clash is not None and (policy is None or clash != policy.id):
            fields["name"] = _("A policy with this name already exists.")
    calendar_id = whole_value(data.calendar_id)
    if calendar_id is None or db.session.get(Calendar, calendar_id) is None:
        fields["calendar_id"] = _("Choose a calendar.")
    percent = whole_value(data.warning_percent)
    if percent is None or not 1 <= percent <= 99:
        fields["warning_percent"] = _("A whole number of percent from 1 to 99.")
    minutes: dict[str, int] = {}
    for priority in PRIORITIES:
        for clock in CLOCKS:
            key = target_field(clock, priority)
            value = whole_value(data.targets.get(key))
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
