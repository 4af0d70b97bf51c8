"""Auto-assignment of new tickets: the admins' rules, each agent's duty settings, and the step
of `file_ticket` that applies them (the decision itself is tickets/assignment.py, pure).

Order on filing: an onboarding client's ticket goes to its guardian first (services.
_route_to_guardian); only a ticket still unassigned after that is auto-assigned. Auto-assignment
runs only when a ticket is created, so an agent's later (re)assignment is never overridden.

A rule may name a shared saved view of the queue (tickets.saved_views): it then takes only the
new tickets that view would show, judged by the view's own query for that one ticket (all the
views that can decide, in ONE statement; see `views_matching`). A personal view cannot be chosen,
and a view a rule uses can be neither deleted nor made personal until an admin changes the rule
(tickets.saved_views refuses it with a message naming the rule; the foreign key restricts too).

The round-robin pointer (`assignment_rules.last_assigned_id`) is read under a row lock
(`SELECT ... FOR UPDATE` on PostgreSQL) and written in the filing's transaction, so two
filings at the same moment queue on the rule's row and take consecutive turns. SQLite has one
writer at a time, and the filing has written (holds the lock) before it gets here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.accounts import User
from helpdesk.calendars.models import (
    DEFAULT,
    Calendar,
    ReferenceDataMissing,
    business_calendars,
    calendar_by_name,
)
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import check_text
from helpdesk.unique_names import flush_or_name_taken, name_taken
from tickets.access import MAX_ID
from tickets.assignment import (
    STRATEGIES,
    Candidate,
    Choice,
    RuleSpec,
    choose_assignee,
    matching_rule,
    views_to_check,
)
from tickets.models import CATEGORIES, OPEN_STATUSES, PRIORITIES, SavedView, Ticket
from tickets.queue import filtered_tickets, parse_queue_filters
from tickets.saved_views import expand, view_of


class AgentDuty(db.Model):
    """A staff member's duty settings: the "away" switch and their own working calendar.

    No row, or no calendar: on duty by the team's `default` calendar, not away.
    """

    __tablename__ = "agent_duty"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    away: Mapped[bool] = mapped_column(default=False)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssignmentRule(db.Model):
    """An admin's rule: new tickets of this category/priority (empty: any) go to one of `members`."""

    __tablename__ = "assignment_rules"
    __table_args__ = (
        CheckConstraint("strategy IN ('round_robin', 'least_loaded')", name="strategy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    category: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(20))
    # A shared saved view the ticket must match too (None: category and priority only).
    saved_view_id: Mapped[int | None] = mapped_column(ForeignKey("saved_views.id", ondelete="RESTRICT"), index=True)
    strategy: Mapped[str] = mapped_column(String(20), default="least_loaded")
    # The round-robin pointer: whom this rule assigned last.
    last_assigned_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssignmentRuleMember(db.Model):
    """An agent of a rule's team."""

    __tablename__ = "assignment_rule_members"

    rule_id: Mapped[int] = mapped_column(ForeignKey("assignment_rules.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


# -- duty ----------------------------------------------------------------------------------------


def duty_of(user_id: int) -> AgentDuty | None:
    return db.session.get(AgentDuty, user_id)


def _duty_row(user_id: int) -> AgentDuty:
    row = duty_of(user_id)
    if row is None:
        row = AgentDuty(user_id=user_id, away=False)
        db.session.add(row)
    return row


def set_away(user: User, away: bool) -> None:
    """The agent's own switch: while away, no ticket is auto-assigned to them. Commits."""
    if not user.is_staff:
        raise Invalid(_("Only staff have a duty status."))
    row = _duty_row(user.id)
    row.away, row.updated_at = bool(away), utcnow()
    db.session.commit()


def set_calendar(user: User, calendar_id: Any) -> None:
    """The agent's working calendar (empty: the team's `default`). Commits."""
    if not user.is_staff:
        raise Invalid(_("Only staff have a duty status."))
    chosen = None
    if calendar_id not in (None, ""):
        try:
            chosen = db.session.get(Calendar, int(calendar_id))
        except (TypeError, ValueError):
            chosen = None
        if chosen is None:
            raise Invalid(_("Choose a calendar from the list."), {"calendar": _("Choose a calendar from the list.")})
    row = _duty_row(user.id)
    row.calendar_id, row.updated_at = (chosen.id if chosen else None), utcnow()
    db.session.commit()


# -- applying the rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    rule: AssignmentRule
    choice: Choice


def _candidates(user_ids: list[int]) -> list[Candidate]:
    rows = db.session.execute(
        select(User.id, User.active, User.role, AgentDuty.away, AgentDuty.calendar_id)
        .outerjoin(AgentDuty, AgentDuty.user_id == User.id)
        .where(User.id.in_(user_ids))
    ).all()
    calendars = business_calendars({r.calendar_id for r in rows if r.calendar_id is not None})
    team = calendar_by_name(DEFAULT)
    if team is None:
        raise ReferenceDataMissing(f"The business calendar {DEFAULT!r}")
    return [
        Candidate(user_id=r.id, calendar=calendars.get(r.calendar_id, team) if r.calendar_id else team,
                  away=bool(r.away), active=bool(r.active) and r.role != "client")
        for r in rows
    ]


def open_loads(user_ids: Iterable[int]) -> dict[int, int]:
    """Open tickets assigned, per user (one GROUP BY over the assignee index)."""
    ids = list(user_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id)
    ).all())


def enabled_rules() -> list[RuleSpec]:
    """The enabled rules, in the order they are tried (a filing reads them before its first write)."""
    return [
        RuleSpec(rule_id=r.id, enabled=r.enabled, category=r.category, priority=r.priority, view_id=r.saved_view_id)
        for r in db.session.execute(
            select(AssignmentRule.id, AssignmentRule.enabled, AssignmentRule.category, AssignmentRule.priority,
                   AssignmentRule.saved_view_id)
            .where(AssignmentRule.enabled.is_(True))
            .order_by(AssignmentRule.position, AssignmentRule.id)
        )
    ]


def auto_assign(ticket: Ticket, now: datetime, specs: list[RuleSpec] | None = None) -> Assignment | None:
    """Apply the first matching enabled rule to a new, unassigned ticket (the caller commits).

    `specs`: `enabled_rules()` read by the caller already. The rule chosen is read again (locked)
    before it is used, so one disabled or deleted meanwhile assigns nothing.
    Returns what was done, or None (no rule, or nobody of the team available: unassigned).
    """
    if ticket.assignee_id is not None:
        return None
    if specs is None:
        specs = enabled_rules()
    views = views_matching(ticket, views_to_check(specs, category=ticket.category, priority=ticket.priority), now)
    spec = matching_rule(specs, category=ticket.category, priority=ticket.priority, views=views)
    if spec is None:
        return None
    # The row lock serialises concurrent filings on this rule's pointer (PostgreSQL).
    rule = db.session.scalar(
        select(AssignmentRule).where(AssignmentRule.id == spec.rule_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if rule is None or not rule.enabled:
        return None
    member_ids = list(db.session.scalars(
        select(AssignmentRuleMember.user_id).where(AssignmentRuleMember.rule_id == rule.id)
    ))
    if not member_ids:
        return None
    choice = choose_assignee(rule.strategy, _candidates(member_ids), open_loads(member_ids),
                             rule.last_assigned_id, now)
    if choice is None:
        return None
    rule.last_assigned_id = choice.user_id
    ticket.assignee_id = choice.user_id
    return Assignment(rule=rule, choice=choice)


def views_matching(ticket: Ticket, view_ids: list[int], now: datetime) -> set[int]:
    """Which of these saved views show the ticket: each view's own queue query (its filters,
    "me" being its owner, as its owner sees the queue) narrowed to this ticket, all of them in
    ONE statement of EXISTS columns, after one read of the views. A view that is not shared (any
    more), whose owner is no active staff member, or whose filters no longer parse, shows nothing.
    """
    if not view_ids:
        return set()
    rows = db.session.execute(
        select(SavedView, User).join(User, User.id == SavedView.owner_id).where(SavedView.id.in_(view_ids))
    ).all()
    columns, keys = [], []
    for row, owner in rows:
        if not row.shared or not owner.active or not owner.is_staff:
            continue
        filters = parse_queue_filters(expand(view_of(row), owner))
        if filters.errors:
            continue
        shown = filtered_tickets(owner, filters, now=now).where(Ticket.id == ticket.id).with_only_columns(Ticket.id)
        columns.append(shown.exists().label(f"v{row.id}"))
        keys.append(row.id)
    if not columns:
        return set()
    found = db.session.execute(select(*columns)).one()
    return {view_id for view_id, shown in zip(keys, found, strict=True) if shown}


# -- the admins' rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    name: Any
    category: Any
    priority: Any
    strategy: Any
    enabled: bool
    position: Any
    members: list[Any]
    view: Any = None  # a shared saved view's id (text from the form), or empty


def all_rules() -> list[AssignmentRule]:
    return list(db.session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)))


def members_of(rule_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(rule_ids)
    found: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for rule_id, user_id in db.session.execute(
            select(AssignmentRuleMember.rule_id, AssignmentRuleMember.user_id)
            .where(AssignmentRuleMember.rule_id.in_(ids))
        ):
            found[rule_id].append(user_id)
    return found


def save_rule(rule: AssignmentRule | None, data: RuleInput) -> AssignmentRule:
    """Create or change a rule (the admin's form; checked again here). Commits."""
    fields: dict[str, str] = {}
    name = check_text(fields, "name", data.name, required=True, limit=80, one_line=True)
    if data.category not in (None, "", *CATEGORIES):
        fields["category"] = _("Choose a category from the list.")
    if data.priority not in (None, "", *PRIORITIES):
        fields["priority"] = _("Choose a priority from the list.")
    if data.strategy not in STRATEGIES:
        fields["strategy"] = _("Choose a strategy from the list.")
    view = _chosen_view(fields, data.view)
    position = data.position if isinstance(data.position, int) else 0
    wanted: set[int] = set()
    for value in data.members:
        try:
            wanted.add(int(value))
        except (TypeError, ValueError):
            fields["members"] = _("Choose agents from the list.")
    staff = set(db.session.scalars(
        select(User.id).where(User.id.in_(wanted), User.role != "client", User.active.is_(True))
    )) if wanted else set()
    if wanted - staff:
        fields["members"] = _("Choose agents from the list.")
    if not fields and name:
        if name_taken(AssignmentRule, name, rule.id if rule is not None else None):
            fields["name"] = _("Another rule has this name.")
    if fields:
        raise Invalid(_("Please correct the marked fields."), fields)
    now = utcnow()
    if rule is None:
        rule = AssignmentRule(name=name, created_at=now)
        db.session.add(rule)
    rule.name, rule.position, rule.enabled = name, position, bool(data.enabled)
    rule.category, rule.priority, rule.strategy = data.category or None, data.priority or None, data.strategy
    rule.saved_view_id = view.id if view is not None else None
    rule.updated_at = now
    flush_or_name_taken(lambda: _refuse({"name": _("Another rule has this name.")}))
    current = set(members_of([rule.id])[rule.id])
    for user_id in current - staff:
        db.session.delete(db.session.get(AssignmentRuleMember, (rule.id, user_id)))
    for user_id in sorted(staff - current):
        db.session.add(AssignmentRuleMember(rule_id=rule.id, user_id=user_id))
    db.session.commit()
    return rule


def _refuse(fields: dict[str, str]) -> None:
    raise Invalid(_("Please correct the marked fields."), fields)


def _chosen_view(fields: dict[str, str], value: Any) -> SavedView | None:
    """The rule's saved view: none, or a shared view whose filters still parse."""
    if value in (None, ""):
        return None
    try:
        view_id = int(value)
    except (TypeError, ValueError):
        view_id = 0
    row = db.session.get(SavedView, view_id) if 0 < view_id <= MAX_ID else None
    if row is None:
        fields["view"] = _("Choose a view from the list.")
        return None
    if not row.shared:
        fields["view"] = _("This view is personal: only a view shared with all staff can route tickets. "
                           "Its owner can share it.")
        return None
    if parse_queue_filters(dict(row.args)).errors:
        fields["view"] = _("This view's filters are no longer valid; choose another view.")
        return None
    return row


def shared_views() -> list[tuple[int, str]]:
    """(id, "name (owner)") of every shared saved view, by name: the form's choices."""
    return [
        (view_id, f"{name} ({owner})")
        for view_id, name, owner in db.session.execute(
            select(SavedView.id, SavedView.name, func.coalesce(func.nullif(User.name, ""), User.email))
            .join(User, User.id == SavedView.owner_id)
            .where(SavedView.shared.is_(True))
            .order_by(SavedView.name, SavedView.id)
        )
    ]


def rules_using_view(view_id: int) -> list[str]:
    """The names of the rules that route by this saved view."""
    return list(db.session.scalars(
        select(AssignmentRule.name).where(AssignmentRule.saved_view_id == view_id).order_by(AssignmentRule.name)
    ))


def view_names(view_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in view_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(SavedView.id, SavedView.name).where(SavedView.id.in_(ids))).all())


def delete_rule(rule: AssignmentRule) -> None:
    db.session.delete(rule)
    db.session.commit()
