"""Ticket SLA clocks: which policy applies, due instants, pauses, warnings and breaches, timers.

Every ticket has two clocks: first response (met by the first public agent reply) and
resolution (met by resolving or closing). Both start when the ticket is filed, pause while it
waits on the client, and count business time on the calendar of the ticket's SLA policy. The
clock history is what the ticket records anyway (created_at, first_responded_at, resolved_at or
closed_at) plus `SlaPause` rows; `refresh` derives everything else from it with the pure rules
in `tickets.sla_clock`, inside the transaction of the change that calls it:

- the due instants on the ticket (`first_response_due_at`, `resolution_due_at`), the nearest
  one still running (`next_deadline_at`, for the queue) and the next instant something is to
  be recorded (`sla_check_at`, for the sweep);
- the facts: a warning at the policy's share of a target, a breach at the due instant, each
  stored once as an `SlaEvent`, with its history row and its notification;
- the timers: one RQ job per clock and fact, with a deterministic id, scheduled (or moved, or
  cancelled) after the commit. A sweep every minute catches whatever a lost timer missed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from rq import get_current_job
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError

from helpdesk.accounts import User
from helpdesk.business_calendars import business_calendar, business_calendars
from helpdesk.calendars import BusinessCalendar, business_seconds_between
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.jobs import get_queue
from helpdesk.notifications import notify, recipients_for_ids
from helpdesk.sla_policies import SlaPolicy, default_policy, policy_for_source
from helpdesk.transactions import on_commit_batch
from plans.models import CoverageDecision, PlanVersion, Subscription
from tickets.models import CLOCKS, OPEN_STATUSES, SlaClock, SlaEvent, SlaPause, Ticket, TicketEvent
from tickets.sla_clock import ClockHistory, ClockReading, Pause, read_clock

log = logging.getLogger(__name__)

TIMER_JOB = "tickets.sla_jobs.sla_timer"
# Finished timer jobs leave nothing behind for long; failed ones stay a week for a look.
TIMER_RESULT_TTL = 60
TIMER_FAILURE_TTL = 7 * 24 * 3600


# -- which policy ----------------------------------------------------------------------------


def policy_for_ticket(ticket: Ticket) -> tuple[str, SlaPolicy | None]:
    """The ticket's coverage source and the SLA policy that applies to it (None: no SLA).

    The one place that decides it. The source is the ticket's copy of its current coverage
    decision (`coverage_source`); a ticket whose coverage is still undecided (the decision failed
    when it was filed) is treated as what it would most likely be: a bug is the bug-fix
    guarantee, a client in onboarding gets onboarding, anything else is not covered.

    - `support_plan`: the policy of the plan's terms in force for the decision's period (see
      `plan_policy`), else what `policy_for_source` gives support plans (the default policy).
    - `none`: the manager's choice for uncovered tickets (the default policy or none), until a
      manager approves the work as billable or goodwill: then it is work the vendor took on, and
      it runs on the default policy. A decline leaves it uncovered.
    - every other source: `policy_for_source`.
    """
    source = ticket.coverage_source
    if source is None:
        if ticket.category == "bug":
            source = "bug_fix"
        else:
            client = db.session.get(Client, ticket.client_id)
            source = "onboarding" if client is not None and client.phase == "onboarding" else "none"
    if source == "support_plan":
        policy = plan_policy(ticket.id)
        if policy is not None:
            return source, policy
    elif source == "none" and ticket.coverage_approval in ("billable", "goodwill"):
        return source, default_policy()
    return source, policy_for_source(source)


def plan_policy(ticket_id: int) -> SlaPolicy | None:
    """The SLA policy named by the plan that covers the ticket now, in one query (None: the plan
    names none, or the ticket is not on a plan).

    The plan is the one of the subscription in the ticket's latest coverage decision; its terms
    are the version in force on the first day of the decision's period (the latest version
    effective by then, else the first), exactly as the coverage engine chose them.
    """
    latest = (
        select(CoverageDecision.id)
        .where(CoverageDecision.ticket_id == ticket_id)
        .order_by(CoverageDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    in_force = PlanVersion.effective_from <= CoverageDecision.period_start
    query = (
        select(SlaPolicy)
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
    return db.session.scalars(query).first()


# -- the history -----------------------------------------------------------------------------


def pauses_of(ticket_id: int) -> list[SlaPause]:
    return list(db.session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id).order_by(SlaPause.id)))


def histories(ticket: Ticket, pauses: list[SlaPause]) -> dict[str, ClockHistory]:
    """Each clock's history: started when filed, paused by `pauses`, stopped when met."""
    resolution_stop = None
    if ticket.status in ("resolved", "closed"):
        resolution_stop = ticket.resolved_at or ticket.closed_at
    first_stop = ticket.first_responded_at
    if resolution_stop is not None and (first_stop is None or resolution_stop < first_stop):
        first_stop = resolution_stop  # resolving without a reply answers the client too
    spans = tuple(Pause(p.started_at, p.ended_at) for p in pauses)
    return {
        "first_response": ClockHistory(ticket.created_at, spans, first_stop),
        "resolution": ClockHistory(ticket.created_at, spans, resolution_stop),
    }


def status_changing(ticket: Ticket, old: str, new: str, now: datetime) -> None:
    """Record what a status change means for the clocks; call it before the ticket changes."""
    if old == new:
        return
    if old == "waiting_on_client":
        for pause in pauses_of(ticket.id):
            if pause.ended_at is None:
                pause.ended_at = now
    if new == "waiting_on_client":
        db.session.add(SlaPause(ticket_id=ticket.id, reason="waiting_on_client", started_at=now))
    if old in ("resolved", "closed") and new in OPEN_STATUSES:
        stopped = ticket.resolved_at or ticket.closed_at
        if stopped is not None and stopped < now:
            # Reopened: the clocks resume where they stopped; the time resolved does not count.
            db.session.add(SlaPause(ticket_id=ticket.id, reason="resolved", started_at=stopped, ended_at=now))


def first_public_reply(ticket: Ticket, now: datetime) -> None:
    """An agent's public reply: the first one meets the first-response clock."""
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now


# -- recomputing -----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def refresh(ticket: Ticket, now: datetime, *, actor: User | None = None, via: str = "system",
            reason: str | None = None) -> int:
    """Recompute the ticket's clocks from their history at `now`; returns facts recorded.

    With a `reason` ("priority", "category", "coverage"), a change of policy or due instants is
    written to the ticket's history, with the coverage source it came from and went to (a new
    category usually means a new source). Flushes; the caller commits.
    """
    source, policy = policy_for_ticket(ticket)
    before = (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at)
    source_before = ticket.sla_source
    ticket.sla_source = source
    clocks = {c.kind: c for c in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id))}
    facts = {tuple(row) for row in db.session.execute(
        select(SlaEvent.clock, SlaEvent.kind).where(SlaEvent.ticket_id == ticket.id)
    )}
    recorded = 0
    readings: dict[str, ClockReading] = {}
    waiting_seconds = 0
    if policy is None:
        ticket.sla_policy_id = None
        ticket.sla_state = None
        ticket.first_response_due_at = ticket.resolution_due_at = None
        ticket.next_deadline_at = ticket.sla_check_at = None
        ticket.sla_paused_seconds = 0
        for row in clocks.values():
            db.session.delete(row)
    else:
        cal = business_calendar(policy.calendar_id)
        pauses = pauses_of(ticket.id)
        for kind, history in histories(ticket, pauses).items():
            reading = read_clock(cal, history, policy.minutes(kind, ticket.priority), policy.warning_percent, now)
            readings[kind] = reading
            row = clocks.get(kind)
            if row is None:
                row = SlaClock(ticket_id=ticket.id, kind=kind)
                db.session.add(row)
            row.policy_id = policy.id
            row.target_minutes = policy.minutes(kind, ticket.priority)
            row.warning_percent = policy.warning_percent
            row.state, row.due_at, row.warning_at = reading.state, reading.due_at, reading.warning_at
            row.stopped_at = history.stopped_at
            row.outcome = reading.outcome
            row.elapsed_seconds, row.paused_seconds = reading.elapsed_seconds, reading.paused_seconds
            row.updated_at = now
        waiting_seconds = sum(
            business_seconds_between(cal, p.started_at, p.ended_at or now)
            for p in pauses
            if p.reason == "waiting_on_client"
        )
        ticket.sla_policy_id = policy.id
        ticket.first_response_due_at = readings["first_response"].due_at
        ticket.resolution_due_at = readings["resolution"].due_at
        ticket.sla_paused_seconds = waiting_seconds
        db.session.flush()
        for kind, reading in readings.items():
            for fact_kind, instant in _facts_due(kind, reading, facts, now):
                if _record(ticket, kind, fact_kind, instant, now):
                    recorded += 1
                facts.add((kind, fact_kind))
        _derive_ticket_state(ticket, readings, facts, now)
    if reason is not None and before != (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at):
        db.session.add(TicketEvent(
            ticket_id=ticket.id,
            actor_id=actor.id if actor else None,
            via=via if actor else "system",
            kind="sla_recomputed",
            internal=True,
            created_at=now,
            data={
                "reason": reason,
                "source": {"from": source_before, "to": source},
                "policy": {"from": before[0], "to": ticket.sla_policy_id},
                "first_response_due": {"from": _iso(before[1]), "to": _iso(ticket.first_response_due_at)},
                "resolution_due": {"from": _iso(before[2]), "to": _iso(ticket.resolution_due_at)},
            },
        ))
    _defer_timers(ticket.id, _timers(ticket.id, readings, facts, now))
    db.session.flush()
    return recorded


def _facts_due(kind: str, reading: ClockReading, facts: set, now: datetime) -> list[tuple[str, datetime]]:
    """The facts of this clock that have happened by `now` and are not recorded yet."""
    out: list[tuple[str, datetime]] = []
    due, warning = reading.due_at, reading.warning_at
    breached = due is not None and due <= now and (reading.state != "stopped" or reading.outcome == "breached")
    if breached and (kind, "breach") not in facts:
        out.append(("breach", due))
    # A warning is worth raising only while the clock runs and before its breach; one that a
    # late sweep finds after the due instant is superseded by the breach.
    elif (
        reading.state != "stopped"
        and not breached
        and warning is not None
        and warning <= now
        and (kind, "warning") not in facts
        and (kind, "breach") not in facts
    ):
        out.append(("warning", warning))
    return out


def _pending(kind: str, reading: ClockReading, facts: set, now: datetime) -> dict[str, datetime | None]:
    """When this clock's warning and breach are to be recorded, if still ahead and running."""
    pending: dict[str, datetime | None] = {"warning": None, "breach": None}
    if reading.state != "running" or reading.due_at is None:
        return pending
    if (kind, "breach") not in facts and reading.due_at > now:
        pending["breach"] = reading.due_at
        warning = reading.warning_at
        if warning is not None and warning > now and warning < reading.due_at and (kind, "warning") not in facts:
            pending["warning"] = warning
    return pending


def _derive_ticket_state(ticket: Ticket, readings: dict[str, ClockReading], facts: set, now: datetime) -> None:
    live = [k for k, r in readings.items() if r.state != "stopped"]
    if not live:
        state = "stopped"
    elif any((k, "breach") in facts for k in live):
        state = "breached"
    elif any(readings[k].state == "paused" for k in live):
        state = "paused"
    elif any((k, "warning") in facts for k in live):
        state = "warning"
    else:
        state = "running"
    ticket.sla_state = state
    dues = [r.due_at for r in readings.values() if r.state == "running" and r.due_at is not None]
    ticket.next_deadline_at = min(dues) if dues else None
    checks = [at for k, r in readings.items() for at in _pending(k, r, facts, now).values() if at is not None]
    ticket.sla_check_at = min(checks) if checks else None


def coverage_changed(ticket: Ticket, now: datetime, *, actor: User | None = None, via: str = "system") -> int:
    """The ticket's coverage was decided again (a time entry, a manager's approval, a retry of
    an undecided filing): recompute in the same transaction, and say so if the clocks moved.
    Filing and reclassifying refresh on their own (the latter with the reason "category")."""
    return refresh(ticket, now, actor=actor, via=via, reason="coverage")


# -- facts -----------------------------------------------------------------------------------


def _record(ticket: Ticket, clock: str, kind: str, instant: datetime, now: datetime) -> bool:
    """Store one fact unless it is stored already (by us earlier, or by a concurrent job)."""
    fact = SlaEvent(ticket_id=ticket.id, clock=clock, kind=kind, instant=instant, recorded_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(fact)
            db.session.flush()
    except IntegrityError:
        return False
    sla_fact_recorded(ticket, fact)
    return True


def sla_fact_recorded(ticket: Ticket, fact: SlaEvent) -> None:
    """A warning or a breach has just been recorded, once: write the history and notify.

    Runs in the transaction that stores the fact, so whatever the notification writes (its
    outbox row) commits with the fact or not at all.
    """
    db.session.add(TicketEvent(
        ticket_id=ticket.id,
        actor_id=None,
        via="system",
        kind="sla_breached" if fact.kind == "breach" else "sla_warning",
        internal=True,
        created_at=fact.recorded_at,
        data={"clock": fact.clock, "instant": _iso(fact.instant)},
    ))
    event_name, recipients, values = notification_for(ticket, fact)
    notify(event_name, recipients=recipients_for_ids(recipients), values=values, ticket_id=ticket.id)


def notification_for(ticket: Ticket, fact: SlaEvent) -> tuple[str, list[int], dict[str, Any]]:
    """The event, recipient user ids and values of a fact's notification.

    Recipients: the assignee; else the client's onboarding guardian; else every active manager.
    """
    recipients: list[int] = []
    if ticket.assignee_id is not None:
        recipients = [ticket.assignee_id]
    else:
        client = db.session.get(Client, ticket.client_id)
        if client is not None and client.guardian_id is not None:
            recipients = [client.guardian_id]
        else:
            recipients = list(db.session.scalars(
                select(User.id).where(User.role == "manager", User.active.is_(True)).order_by(User.id)
            ))
    values = {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "priority": ticket.priority,
        "clock": fact.clock,
        "instant": _iso(fact.instant),
    }
    return ("sla.breached" if fact.kind == "breach" else "sla.warning"), recipients, values


# -- timers ----------------------------------------------------------------------------------


def timer_job_id(ticket_id: int, clock: str, kind: str) -> str:
    """The RQ job id of one clock's warning or breach timer: the same for the same fact."""
    return f"sla-{ticket_id}-{clock}-{kind}"


def _timers(ticket_id: int, readings: dict[str, ClockReading], facts: set, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for clock in CLOCKS:
        reading = readings.get(clock)
        pending = _pending(clock, reading, facts, now) if reading else {"warning": None, "breach": None}
        for kind, at in pending.items():
            out[timer_job_id(ticket_id, clock, kind)] = (at, (ticket_id, clock, kind))
    return out


def _defer_timers(ticket_id: int, timers: dict[str, Any]) -> None:
    """Set the timers after the outermost commit: a job must never see an uncommitted row."""
    on_commit_batch(_set_timers, timers)


def _set_timers(batches: list[dict[str, Any]]) -> None:
    timers: dict[str, Any] = {}
    for batch in batches:
        timers.update(batch)  # the latest refresh of a clock wins
    if timers and has_app_context():
        apply_timers(timers)


def _whole_second_after(at: datetime) -> datetime:
    # RQ schedules to the whole second, rounding down: round up, so a timer never fires early.
    return datetime.fromtimestamp(math.ceil(at.timestamp()), UTC)


def apply_timers(timers: dict[str, Any]) -> None:
    """Schedule, move or cancel timer jobs; deterministic ids make each call idempotent."""
    queue = get_queue()
    if queue is None or not timers:
        return
    running = get_current_job()
    registry = ScheduledJobRegistry(queue=queue)
    try:
        for job_id, (at, args) in timers.items():
            if running is not None and running.id == job_id:
                continue  # never move the job that is running now; the sweep is the safety net
            if at is None:
                registry.remove(job_id)
                queue.connection.delete(Job.key_for(job_id))
            else:
                queue.enqueue_at(
                    _whole_second_after(at), TIMER_JOB, *args, job_id=job_id,
                    result_ttl=TIMER_RESULT_TTL, failure_ttl=TIMER_FAILURE_TTL,
                )
        from tickets.sla_jobs import schedule_next_sweep

        schedule_next_sweep(queue)  # the sweep's chain heals with any ticket change
    except Exception:  # Redis down: the sweep records what the timers would have
        log.warning("Could not set SLA timers; the sweep will catch up.", exc_info=True)


# -- the sweep -------------------------------------------------------------------------------


def due_for_check(now: datetime, limit: int):
    """Ids of tickets with a warning or breach to record by `now`: a range on an index."""
    return select(Ticket.id).where(Ticket.sla_check_at <= now).order_by(Ticket.sla_check_at).limit(limit)


def process_ticket(ticket_id: int, now: datetime) -> int:
    """Record whatever is due on one ticket and commit; returns facts recorded.

    Another transaction working on the ticket right now (PostgreSQL row lock) makes us skip it:
    that transaction refreshes the clocks itself.
    """
    query = select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True)
    ticket = db.session.scalar(query)
    if ticket is None:
        db.session.rollback()  # end this ticket's transaction: the sweep goes on to the next one
        return 0
    recorded = refresh(ticket, now)
    db.session.commit()
    return recorded


@dataclass
class SweepResult:
    tickets: int = 0
    facts: int = 0


def sweep(now: datetime, batch: int = 200) -> SweepResult:
    """Record every warning and breach due by `now`; safe to run at any time, any number of times."""
    result = SweepResult()
    seen: set[int] = set()
    while True:
        ids = [i for i in db.session.scalars(due_for_check(now, batch)) if i not in seen]
        db.session.rollback()  # end the read; each ticket gets a transaction of its own
        if not ids:
            return result
        for ticket_id in ids:
            seen.add(ticket_id)
            result.tickets += 1
            try:
                result.facts += process_ticket(ticket_id, now)
            except Exception:
                db.session.rollback()  # the failed ticket's work is undone; the loop goes on
                log.exception("SLA sweep failed on ticket %s", ticket_id)


def inline_sweep(now: datetime) -> None:
    """Without Redis nothing runs on a timer: sweep from a page view, at most once a minute."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("REDIS_URL") or not app.config.get("SLA_INLINE_SWEEP", True):
        return
    state = app.extensions.setdefault("sla", {})
    last = state.get("last_inline_sweep")
    if last is not None and now - last < timedelta(minutes=1):
        return
    state["last_inline_sweep"] = now
    try:
        sweep(now)
    except Exception:
        db.session.rollback()  # the request that ran the sweep goes on with this session
        log.exception("Inline SLA sweep failed")


# -- showing ---------------------------------------------------------------------------------


def duration_text(seconds: int) -> str:
    """Business time as people say it: 2 h 05 min, 45 min."""
    minutes = max(0, seconds) // 60
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)
    return _("%(minutes)d min", minutes=minutes)


@dataclass(frozen=True)
class SlaBadge:
    """What the queue shows for a ticket: a state and the business time left (or overdue)."""

    state: str | None
    due_at: datetime | None
    seconds_left: int | None  # business seconds; negative when overdue

    @property
    def text(self) -> str:
        if self.state is None:
            return _("No SLA")
        if self.state == "paused":
            return _("Paused")
        if self.state == "stopped":
            return _("Stopped")
        if self.seconds_left is None:
            return _("Breached") if self.state == "breached" else ""
        if self.seconds_left < 0:
            return _("Overdue by %(time)s", time=duration_text(-self.seconds_left))
        return _("%(time)s left", time=duration_text(self.seconds_left))


def _business_seconds_left(cal: BusinessCalendar, due: datetime, now: datetime) -> int:
    if due >= now:
        return business_seconds_between(cal, now, due)
    return -business_seconds_between(cal, due, now)


def badges(tickets: list[Ticket], now: datetime) -> dict[int, SlaBadge]:
    """Badges for a page of tickets (their policies loaded): one query for the calendars."""
    calendar_ids = {t.sla_policy.calendar_id for t in tickets if t.sla_policy is not None}
    calendars = business_calendars(calendar_ids)
    out: dict[int, SlaBadge] = {}
    for t in tickets:
        left = None
        if t.next_deadline_at is not None and t.sla_policy is not None:
            cal = calendars.get(t.sla_policy.calendar_id)
            if cal is not None:
                left = _business_seconds_left(cal, t.next_deadline_at, now)
        out[t.id] = SlaBadge(t.sla_state, t.next_deadline_at, left)
    return out


@dataclass(frozen=True)
class ClockView:
    kind: str
    clock: SlaClock
    seconds_left: int | None
    breached_at: datetime | None
    warned_at: datetime | None


def ticket_clocks(ticket: Ticket, now: datetime) -> list[ClockView]:
    """The ticket's clocks for its page: state, due, business time left, recorded facts."""
    rows = {c.kind: c for c in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id))}
    facts = {(e.clock, e.kind): e.instant for e in db.session.scalars(
        select(SlaEvent).where(SlaEvent.ticket_id == ticket.id)
    )}
    cal = None
    if ticket.sla_policy_id is not None:
        policy = db.session.get(SlaPolicy, ticket.sla_policy_id)
        cal = business_calendar(policy.calendar_id) if policy is not None else None
    out = []
    for kind in CLOCKS:
        row = rows.get(kind)
        if row is None:
            continue
        left = None
        if cal is not None and row.due_at is not None and row.state == "running":
            left = _business_seconds_left(cal, row.due_at, now)
        elif row.state == "paused":
            left = row.target_minutes * 60 - row.elapsed_seconds
        out.append(ClockView(kind, row, left, facts.get((kind, "breach")), facts.get((kind, "warning"))))
    return out
