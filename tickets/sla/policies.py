"""Which SLA policy a ticket gets: the one place that maps coverage to policies.

The policies themselves (targets per priority on a calendar) are the kernel's
(`helpdesk.calendars.policies`), because plans/ refers to them too (a plan version names its
policy) and may not import tickets/. What names the coverage vocabulary lives here instead,
beside the code that chooses: the manager's mapping of the four sources that are not support
plans to a policy (`sla_source_policies`: no row follows the default policy; `none`, for
uncovered tickets, may also map to no policy at all), and the choice for a ticket, which reads a
support plan's own policy from plans/. So helpdesk/ names no coverage source, and every import
still points down: tickets.sla -> plans -> helpdesk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, case, func, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.calendars.arithmetic import BusinessCalendar
from helpdesk.calendars.models import Calendar, ReferenceDataMissing, business_calendars
from helpdesk.calendars.policies import PolicyError, SlaPolicy, SlaTarget, default_policy, whole_value
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.coverage import SOURCES
from plans.models import CoverageDecision, PlanVersion, Subscription
from tickets.models import Ticket

#: The sources a manager maps to a policy; support-plan work gets its plan's policy instead.
MAPPED_SOURCES = tuple(source for source in SOURCES if source != "support_plan")


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


# -- choosing ----------------------------------------------------------------------------------


def sla_source_of(ticket: Ticket) -> str:
    """The coverage source the ticket's clocks follow: its current decision's, or, while its
    coverage is undecided, what it would most likely be (a bug is the bug-fix guarantee, a client
    in onboarding gets onboarding, anything else is not covered)."""
    if ticket.coverage_source is not None:
        return ticket.coverage_source
    if ticket.category == "bug":
        return "bug_fix"
    client = db.session.get(Client, ticket.client_id)
    return "onboarding" if client is not None and client.phase == "onboarding" else "none"


def plan_policy_ids(ticket_ids: Iterable[int]) -> dict[int, int | None]:
    """`plan_policy_id` for many tickets, in one query (a bulk action's read: the only part of a
    policy choice that is not reference data, since it follows each ticket's coverage decision).

    The same choice per ticket: its latest coverage decision's plan, the version in force on the
    first day of the decision's period (the latest effective by then), else the first version.
    """
    ids = sorted(set(ticket_ids))
    found: dict[int, int | None] = {i: None for i in ids}
    if not ids:
        return found
    latest = (
        select(func.max(CoverageDecision.id).label("id"))
        .where(CoverageDecision.ticket_id.in_(ids))
        .group_by(CoverageDecision.ticket_id)
        .subquery()
    )
    rows = db.session.execute(
        select(CoverageDecision.ticket_id, CoverageDecision.period_start, PlanVersion.effective_from,
               PlanVersion.sla_policy_id)
        .join(latest, latest.c.id == CoverageDecision.id)
        .join(Subscription, Subscription.id == CoverageDecision.subscription_id)
        .join(PlanVersion, PlanVersion.plan_id == Subscription.plan_id)
    ).all()
    chosen: dict[int, tuple[bool, date, int | None]] = {}
    for ticket_id, period_start, effective_from, policy_id in rows:
        in_force = effective_from <= period_start
        best = chosen.get(ticket_id)
        if (best is None or (in_force and (not best[0] or effective_from > best[1]))
                or (not in_force and not best[0] and effective_from < best[1])):
            chosen[ticket_id] = (in_force, effective_from, policy_id)
    for ticket_id, (_in_force, _from, policy_id) in chosen.items():
        found[ticket_id] = policy_id
    return found


def plan_policy_id(ticket_id: int) -> int | None:
    """The id of the SLA policy named by the plan that covers the ticket now, in one query (None:
    the plan names none, or the ticket is not on a plan).

    The plan is the one of the subscription in the ticket's latest coverage decision; its terms
    are the version in force on the first day of the decision's period (the latest version
    effective by then, else the first), exactly as the coverage engine chose them.
    """
    return db.session.scalars(plan_policy_query(ticket_id)).first()


def plan_policy_query(ticket_id: int) -> Any:
    latest = (
        select(CoverageDecision.id)
        .where(CoverageDecision.ticket_id == ticket_id)
        .order_by(CoverageDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    in_force = PlanVersion.effective_from <= CoverageDecision.period_start
    query = (
        select(SlaPolicy.id)
        .select_from(CoverageDecision)
        .join(Subscription, Subscription.id == CoverageDecision.subscription_id)
        .join(PlanVersion, PlanVersion.plan_id == Subscription.plan_id)
        .outerjoin(SlaPolicy, SlaPolicy.id == PlanVersion.sla_policy_id)
        .where(CoverageDecision.id == latest)
        # Versions in force first, the latest of them first; failing those, the first version.
        .order_by(case((in_force, 0), else_=1), case((in_force, PlanVersion.effective_from)).desc(),
                  PlanVersion.effective_from)
        .limit(1)
    )
    return query


def policy_for_source(source: str) -> SlaPolicy | None:
    """The policy of a non-plan coverage source (None: this source has no SLA)."""
    mapping = db.session.get(SlaSourcePolicy, source)
    if mapping is None:
        return default_policy()
    if mapping.policy_id is None:
        return None
    return db.session.get(SlaPolicy, mapping.policy_id)


# -- the same choice from a per-process copy of the reference data ------------------------------


@dataclass(frozen=True)
class PolicyTerms:
    """A policy as the clocks read it: its id, calendar (pure), warning share and targets."""

    id: int
    calendar_id: int
    calendar: BusinessCalendar
    warning_percent: int
    targets: tuple[tuple[str, int, int], ...]  # (priority, first response, resolution) minutes

    def minutes(self, clock: str, priority: str) -> int:
        for name, first_response, resolution in self.targets:
            if name == priority:
                return first_response if clock == "first_response" else resolution
        raise LookupError(f"policy {self.id} has no target for priority {priority!r}")


@dataclass(frozen=True)
class SlaReference:
    """The policies, the source mapping and their calendars, as of one `stamp`."""

    stamp: tuple[Any, ...]
    mapping: dict[str, int | None]  # the stored rows only (no row: the default policy)
    default_id: int | None
    policies: dict[int, PolicyTerms]

    def for_source(self, source: str) -> PolicyTerms | None:
        """What `policy_for_source` gives, from this copy."""
        if source in self.mapping:
            policy_id = self.mapping[source]
            return None if policy_id is None else self.policies[policy_id]
        return self.default()

    def default(self) -> PolicyTerms:
        if self.default_id is None:
            raise ReferenceDataMissing("The default SLA policy")
        return self.policies[self.default_id]


_REFERENCE: list[SlaReference] = []  # this process's copy (at most one)


def _stamp() -> tuple[Any, ...]:
    """One query that changes whenever a policy, its targets (saving a policy stamps it), the
    source mapping or a calendar changes: the per-process copy is good while it is the same."""
    if not _STAMP:
        _STAMP.append(_stamp_query())
    return tuple(db.session.execute(_STAMP[0]).one())


_STAMP: list[Any] = []  # the stamp's statement, built once


def _stamp_query() -> Any:
    def of(*columns: Any) -> Any:
        return select(*columns).scalar_subquery()

    return select(
        of(func.max(SlaPolicy.updated_at)), of(func.count(SlaPolicy.id)), of(func.max(SlaPolicy.id)),
        # and a little of the content, so that equal times (a frozen test clock) still differ
        of(func.sum(SlaPolicy.calendar_id + SlaPolicy.warning_percent)),
        of(func.sum(case((SlaPolicy.is_default, SlaPolicy.id), else_=0))),
        of(func.sum(SlaTarget.first_response_minutes)), of(func.sum(SlaTarget.resolution_minutes)),
        of(func.sum(SlaTarget.policy_id * (SlaTarget.first_response_minutes + 3 * SlaTarget.resolution_minutes))),
        of(func.max(SlaSourcePolicy.updated_at)), of(func.count(SlaSourcePolicy.source)),
        of(func.sum(func.coalesce(SlaSourcePolicy.policy_id, -1) * func.length(SlaSourcePolicy.source))),
        of(func.sum(Calendar.version)), of(func.count(Calendar.id)), of(func.max(Calendar.created_at)),
    )


def sla_reference() -> SlaReference:
    """The SLA reference data, read again only when its stamp changed (a few small tables)."""
    stamp = _stamp()
    if _REFERENCE and _REFERENCE[0].stamp == stamp:
        return _REFERENCE[0]
    mapping = {m.source: m.policy_id for m in db.session.scalars(select(SlaSourcePolicy))}
    rows = list(db.session.scalars(select(SlaPolicy).order_by(SlaPolicy.id)))
    calendars = business_calendars({p.calendar_id for p in rows})
    policies = {
        p.id: PolicyTerms(p.id, p.calendar_id, calendars[p.calendar_id], p.warning_percent,
                          tuple((t.priority, t.first_response_minutes, t.resolution_minutes) for t in p.targets))
        for p in rows
    }
    default_id = next((p.id for p in rows if p.is_default), None)
    reference = SlaReference(stamp, mapping, default_id, policies)
    _REFERENCE[:] = [reference]
    return reference


def policy_terms_for_ticket(
    ticket: Ticket, reference: SlaReference | None = None, plan_ids: dict[int, int | None] | None = None
) -> tuple[str, PolicyTerms | None]:
    """The ticket's coverage source and the SLA policy that applies to it (None: no SLA).

    The one place that decides it. The source is `sla_source_of` the ticket: its copy of its
    current coverage decision (`coverage_source`), or, while undecided, the likely one.

    - `support_plan`: the policy of the plan's terms in force for the decision's period (see
      `plan_policy_id`), else what the mapping gives support plans (the default policy).
    - `none`: the manager's choice for uncovered tickets (the default policy or none), until a
      manager approves the work as billable or goodwill: then it is work the vendor took on, and
      it runs on the default policy. A decline leaves it uncovered.
    - every other source: the manager's mapping (`SlaReference.for_source`).

    Answered from `sla_reference`, this process's copy of the reference data (one query for its
    stamp); only a ticket on a support plan reads its plan's policy id. A bulk action passes the
    `reference` it read once and `plan_ids`, its tickets' plan policy ids (`plan_policy_ids`,
    tickets.sla.refresh.prefetched); a ticket missing there is read and added to it.
    """
    reference = reference or sla_reference()
    source = sla_source_of(ticket)
    if source == "support_plan":
        if plan_ids is None:
            policy_id = plan_policy_id(ticket.id)
        else:
            if ticket.id not in plan_ids:
                plan_ids[ticket.id] = plan_policy_id(ticket.id)
            policy_id = plan_ids[ticket.id]
        if policy_id is not None:
            return source, reference.policies[policy_id]
    elif source == "none" and ticket.coverage_approval in ("billable", "goodwill"):
        return source, reference.default()
    return source, reference.for_source(source)


# -- the mapping ------------------------------------------------------------------------------


def source_mapping() -> dict[str, int | None | str]:
    """Per mapped source: a policy id, None (no SLA) or "default" (follows the default policy)."""
    rows = {m.source: m.policy_id for m in db.session.scalars(select(SlaSourcePolicy))}
    return {source: rows[source] if source in rows else "default" for source in MAPPED_SOURCES}


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
            policy_id = whole_value(value)
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
