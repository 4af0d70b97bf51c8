"""Onboarding meetings: scheduling, moving, cancelling, and the rhythm after the training.

A moved meeting bumps its `sequence` (calendars replace their copy, see `ics`) and re-arms its
reminder (see `reminders`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from helpdesk.accounts import User
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import whole_number
from plans.onboarding import rules
from plans.onboarding.access import lock, people_for, pick, require_edit
from plans.onboarding.dates import business_zone, local_instant, local_today
from plans.onboarding.errors import Conflict, NotFound, check_text, raise_if
from plans.onboarding.models import MEETING_KINDS, Onboarding, OnboardingMeeting, record
from plans.onboarding.vocabulary import MeetingKind


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


def _meeting_fields(
    onboarding: Onboarding, fields: dict[str, str], *, starts_at: datetime | None, duration: Any,
    location: Any, notes: Any, participant_ids: Iterable[Any] | None,
) -> tuple[int, str, str, list[User]]:
    if starts_at is None:
        fields["day"] = _("Enter the date and time of the meeting.")
    minutes = duration if isinstance(duration, int) else whole_number(str(duration or "")) or 0
    if not 5 <= minutes <= 8 * 60:
        fields["duration_minutes"] = _("A meeting lasts from 5 to 480 minutes.")
    location = check_text(fields, "location", location, limit=500, one_line=True)
    notes = check_text(fields, "notes", notes, limit=5000)
    allowed = {p.id: p for p in people_for(onboarding)}
    chosen: list[User] = []
    for raw in participant_ids or ():
        person = pick(allowed, raw)
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
    require_edit(user, onboarding)
    fields: dict[str, str] = {}
    if kind not in MEETING_KINDS:
        fields["kind"] = _("Choose the kind of meeting.")
    minutes, location, notes, chosen = _meeting_fields(
        onboarding, fields, starts_at=starts_at, duration=duration, location=location, notes=notes,
        participant_ids=participant_ids,
    )
    if starts_at is not None and not rules.meeting_time_allowed(starts_at, now):
        fields["day"] = _("A meeting cannot be scheduled in the past.")
    raise_if(fields)
    assert starts_at is not None
    meeting = OnboardingMeeting(
        onboarding_id=onboarding.id, kind=kind, starts_at=starts_at, duration_minutes=minutes,
        location=location, notes=notes, created_at=now, updated_at=now, created_by_id=user.id,
        participants=chosen,
    )
    db.session.add(meeting)
    db.session.flush()
    _plan_stage_from_meeting(onboarding, meeting)
    record(onboarding, user, "meeting_scheduled", now, meeting=meeting.id, meeting_kind=kind,
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
    require_edit(user, onboarding)
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
    raise_if(fields)
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
    record(onboarding, user, "meeting_changed", now, meeting=meeting.id, **changed)
    db.session.commit()
    return meeting


def cancel_meeting(user: User, onboarding: Onboarding, meeting: OnboardingMeeting, now: datetime) -> None:
    """Call a meeting off; it stays listed (and in calendars, as cancelled); commits."""
    require_edit(user, onboarding)
    if meeting.onboarding_id != onboarding.id:
        raise NotFound(_("There is no such meeting."))
    if meeting.cancelled:
        return
    meeting.cancelled = True
    meeting.sequence += 1
    meeting.updated_at = now
    record(onboarding, user, "meeting_cancelled", now, meeting=meeting.id)
    db.session.commit()


def add_recurring_meeting(user: User, onboarding: Onboarding, now: datetime) -> OnboardingMeeting:
    """One more meeting on the two-week rhythm, after the last one planned; commits."""
    require_edit(user, onboarding)
    lock(onboarding)
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
        participant_ids=[p.id for p in default_participants(onboarding)], now=now,
    )


def meeting_title(onboarding: Onboarding, meeting: OnboardingMeeting) -> str:
    return _("%(meeting)s · %(client)s", meeting=MeetingKind(meeting.kind).label, client=onboarding.client.name)


def default_participants(onboarding: Onboarding) -> list[User]:
    people = [p for p in people_for(onboarding) if p.is_client]
    guardian = db.session.get(User, onboarding.client.guardian_id) if onboarding.client.guardian_id else None
    return ([guardian] if guardian else []) + people


def schedule_rhythm(onboarding: Onboarding, training_on: date, user: User, now: datetime) -> None:
    config = current_app.config
    plan = rules.meeting_plan(training_on, local_today(now), config["ONBOARDING_RECURRING_MEETINGS"])
    at = time.fromisoformat(config["ONBOARDING_MEETING_TIME"])
    participants = default_participants(onboarding)
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
    record(onboarding, user, "meeting_scheduled", now, automatic=True, count=len(dates))
