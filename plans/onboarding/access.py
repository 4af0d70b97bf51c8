"""Finding onboardings and the people around them, and who may change one.

Staff see every onboarding; a client user only its own company's (anything else is NotFound).
The client's guardian and managers change an onboarding; `lock` serialises changes to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.onboarding.errors import Forbidden, NotFound
from plans.onboarding.models import EDITOR_ROLES, GUARDIAN_ROLES, Onboarding, OnboardingEvent


def can_edit(user: User, onboarding: Onboarding) -> bool:
    """The client's guardian and managers run an onboarding; other staff may look."""
    if user.role in EDITOR_ROLES:
        return True
    return user.is_staff and onboarding.client.guardian_id == user.id


def require_edit(user: User, onboarding: Onboarding) -> None:
    if not can_edit(user, onboarding):
        raise Forbidden(_("Only the client's guardian or a manager can change this onboarding."))


def lock(onboarding: Onboarding) -> None:
    """Serialise changes to one onboarding (PostgreSQL row lock; SQLite serialises writes anyway).

    Two guardians submitting the same step at once then see each other's result instead of
    both passing the checks: one protocol, one version number, one completion.
    """
    db.session.execute(select(Onboarding.id).where(Onboarding.id == onboarding.id).with_for_update())
    db.session.refresh(onboarding)  # what the previous holder of the lock committed


def require_manager(user: User) -> None:
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


def pick(people: Mapping[int, User], raw_id: Any) -> User | None:
    """The one of `people` whose id was sent (as text or a number); None for anything else."""
    try:
        return people.get(int(raw_id))
    except (TypeError, ValueError):
        return None


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


def history(onboarding: Onboarding) -> list[OnboardingEvent]:
    return list(
        db.session.scalars(
            select(OnboardingEvent)
            .where(OnboardingEvent.onboarding_id == onboarding.id)
            .order_by(OnboardingEvent.id.desc())
        )
    )
