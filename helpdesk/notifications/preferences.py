"""Each user's choice of which non-essential notices to receive."""

from __future__ import annotations

from sqlalchemy import delete, select

from helpdesk.accounts import User
from helpdesk.extensions import db
from helpdesk.notifications.events import EventType, optional_events_for
from helpdesk.notifications.models import NotificationMute


def optional_events(user: User) -> list[EventType]:
    return optional_events_for(user.role, client_admin=user.is_client_admin)


def muted_events(user: User) -> set[str]:
    return set(db.session.scalars(select(NotificationMute.event).where(NotificationMute.user_id == user.id)))


def save_choices(user: User, wanted: set[str]) -> None:
    """Receive the optional notices in `wanted`, mute the others; essential ones stay on. Commits."""
    optional = {e.name for e in optional_events(user)}
    db.session.execute(delete(NotificationMute).where(NotificationMute.user_id == user.id))
    for name in sorted(optional - wanted):
        db.session.add(NotificationMute(user_id=user.id, event=name))
    db.session.commit()
