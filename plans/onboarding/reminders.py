"""Meeting reminders: due the working day before a meeting, sent once.

The periodic job `onboarding-reminders` (`send_reminders_job`, every ONBOARDING_REMIND_SECONDS,
hourly by default, on one worker) sends what is due; `flask onboarding remind` does the same by
hand. No system cron is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.jobs import app_job
from helpdesk.notifications import ONBOARDING_MEETING_REMINDER, notify, recipients_for_ids
from plans.onboarding import rules
from plans.onboarding.dates import business_zone, local_today
from plans.onboarding.models import Onboarding, OnboardingMeeting, record


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
        db.session.rollback()  # release the row lock now: the caller goes on to the next meeting
        return False
    if not rules.reminder_due(meeting.starts_at.astimezone(business_zone()).date(), today):
        db.session.rollback()  # as above
        return False
    # The claim: SQLite ignores FOR UPDATE, so two workers may both have read "not sent"; only
    # the one whose conditional UPDATE changes the row sends (on PostgreSQL the lock already
    # serialised them and this always succeeds).
    claimed = db.session.execute(
        update(OnboardingMeeting)
        .where(OnboardingMeeting.id == meeting.id, OnboardingMeeting.reminder_sent_at.is_(None))
        .values(reminder_sent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return False
    meeting.reminder_sent_at = now  # what the row now holds
    onboarding = db.session.get(Onboarding, meeting.onboarding_id)
    reminder = _reminder(meeting, onboarding)
    deliver_meeting_reminder(reminder)
    record(onboarding, None, "reminder_sent", now, progress=False, meeting=meeting.id,
            recipients=len(reminder.recipients))
    db.session.commit()
    return True


def send_due_reminders(today: date, now: datetime) -> int:
    """Every reminder due today, each in its own transaction; returns how many went out."""
    return sum(send_meeting_reminder(r.meeting_id, today, now) for r in due_meeting_reminders(today))


@app_job
def send_reminders_job() -> int:
    """The periodic job: send the reminders due today in the team's calendar; returns how many."""
    now = utcnow()
    return send_due_reminders(local_today(now), now)
