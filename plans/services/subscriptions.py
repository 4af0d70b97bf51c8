"""Subscriptions of clients to support plans: subscribe, end, list, and the one active on a day.

A client's subscriptions never overlap, so coverage names at most one plan for every day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.errors import Conflict
from helpdesk.extensions import db
from helpdesk.i18n import _, format_date
from helpdesk.text import whole_number
from plans.models import Subscription, SupportPlan
from plans.services.clients import coverage_today, lock_client
from plans.services.parsing import MAX_ID, by_id, parse_date, raise_if


def client_subscriptions(client_id: int) -> list[Subscription]:
    return list(
        db.session.scalars(
            select(Subscription).where(Subscription.client_id == client_id).order_by(Subscription.starts_on)
        )
    )


def _overlapping(client_id: int, starts_on: date, ends_on: date | None, exclude_id: int | None = None) -> Subscription | None:
    query = select(Subscription).where(
        Subscription.client_id == client_id,
        or_(Subscription.ends_on.is_(None), Subscription.ends_on >= starts_on),
    )
    if ends_on is not None:
        query = query.where(Subscription.starts_on <= ends_on)
    if exclude_id is not None:
        query = query.where(Subscription.id != exclude_id)
    return db.session.scalars(query.order_by(Subscription.starts_on).limit(1)).first()


def _overlap_message(other: Subscription) -> str:
    if other.ends_on is None:
        return _(
            "This client already has the %(plan)s plan from %(start)s with no end date; end it first.",
            plan=other.plan.name, start=format_date(other.starts_on, "long"),
        )
    return _(
        "This client already has the %(plan)s plan from %(start)s to %(end)s; the dates overlap.",
        plan=other.plan.name, start=format_date(other.starts_on, "long"), end=format_date(other.ends_on, "long"),
    )


def subscribe(*, actor_id: int | None, client_id: Any, plan_id: Any, starts_on: Any, ends_on: Any) -> Subscription:
    """Subscribe a client to a plan from a start date (today or later); commits.

    A client's subscriptions never overlap: coverage must name one plan for every day.
    """
    fields: dict[str, str] = {}
    client = plan = None
    if (wanted := whole_number(str(client_id or ""))) is not None and wanted <= MAX_ID:
        client = db.session.get(Client, wanted)
    if client is None:
        fields["client"] = _("Choose a client.")
    if (wanted := whole_number(str(plan_id or ""))) is not None and wanted <= MAX_ID:
        plan = db.session.get(SupportPlan, wanted)
    if plan is None or not plan.active:
        fields["plan"] = _("Choose a plan that is on sale.")
    start = parse_date(fields, "starts_on", starts_on, required=True)
    end = parse_date(fields, "ends_on", ends_on, required=False)
    today = coverage_today()
    if start is not None and start < today:
        fields["starts_on"] = _("A subscription starts today or later; coverage already decided is never rewritten.")
    if start is not None and end is not None and end < start:
        fields["ends_on"] = _("The end date cannot be before the start date.")
    raise_if(fields)
    assert client is not None and plan is not None and start is not None
    lock_client(client.id)
    other = _overlapping(client.id, start, end)
    if other is not None:
        raise Conflict(_overlap_message(other), {"starts_on": _("Overlaps another subscription.")})
    subscription = Subscription(
        client_id=client.id, plan_id=plan.id, starts_on=start, ends_on=end, created_by_id=actor_id, created_at=utcnow()
    )
    db.session.add(subscription)
    db.session.commit()
    return subscription


def get_subscription(subscription_id: int) -> Subscription:
    return by_id(Subscription, subscription_id, _("There is no such subscription."))


def end_subscription(subscription_id: int, *, ends_on: Any) -> Subscription:
    """Set (or clear) the last day of a subscription that has not ended yet; commits."""
    subscription = get_subscription(subscription_id)
    fields: dict[str, str] = {}
    end = parse_date(fields, "ends_on", ends_on, required=False)
    today = coverage_today()
    if subscription.ends_on is not None and subscription.ends_on < today:
        raise Conflict(_("This subscription has ended; subscribe the client again instead."))
    if end is not None and end < max(today, subscription.starts_on):
        fields["ends_on"] = _("The last day is today or later, and not before the start.")
    raise_if(fields)
    lock_client(subscription.client_id)
    other = _overlapping(subscription.client_id, subscription.starts_on, end, exclude_id=subscription.id)
    if other is not None:
        raise Conflict(_overlap_message(other), {"ends_on": _("Overlaps another subscription.")})
    subscription.ends_on = end
    db.session.commit()
    return subscription


def subscription_on(client_id: int, day: date) -> Subscription | None:
    """The client's subscription active on ``day`` (at most one: they never overlap), with its
    plan and the plan's versions read in the same statement (every coverage decision needs them;
    a second SELECT for the versions cost a filing more than the join)."""
    return db.session.scalars(
        select(Subscription)
        .where(
            Subscription.client_id == client_id,
            Subscription.starts_on <= day,
            or_(Subscription.ends_on.is_(None), Subscription.ends_on >= day),
        )
        .options(joinedload(Subscription.plan).joinedload(SupportPlan.versions))
    ).unique().first()
