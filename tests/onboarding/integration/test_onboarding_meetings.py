"""Onboarding meetings: .ics files read back with icalendar, editing, and reminders sent once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from helpdesk.extensions import db
from plans.onboarding import meetings, reminders, stages
from plans.onboarding.models import OnboardingEvent, OnboardingMeeting
from tests.onboarding.support import NOW, at, reload, start, walk_to


def rhythm(onboarding) -> list[OnboardingMeeting]:
    return meetings.meetings(onboarding)


def events(data: bytes):
    calendar = Calendar.from_ical(data)
    return calendar, list(calendar.walk("VEVENT"))


def attendee_emails(event) -> set[str]:
    return {str(a).removeprefix("mailto:") for a in event.attendees}


def test_one_meeting_as_ics(web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        follow_up = rhythm(onboarding)[0]
        login(world.agent)
        response = web.get(f"/onboarding/{onboarding.id}/meetings/{follow_up.id}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"].startswith("attachment")
    calendar, found = events(response.data)
    assert len(found) == 1
    event = found[0]
    assert event.start == datetime(2026, 3, 9, 9, tzinfo=UTC)  # 10:00 Warsaw, a week after training
    assert event.end == datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert "Follow-up meeting" in str(event["summary"]) and "ACME Logistics" in str(event["summary"])
    assert attendee_emails(event) == {
        world.agent.email, world.acme_user.email, world.acme_colleague.email, world.acme_admin.email,
    }
    assert str(event["organizer"]) == f"mailto:{world.agent.email}"
    assert str(event["uid"]) == f"onboarding-meeting-{follow_up.id}@127.0.0.1"
    assert int(event["sequence"]) == 0 and str(event["status"]) == "CONFIRMED"


def test_series_as_ics_for_staff_and_client(web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        meetings = rhythm(onboarding)
        login(world.agent)
        staff = web.get(f"/onboarding/{onboarding.id}/meetings.ics")
        login(world.acme_user)
        client = web.get("/portal/onboarding/meetings.ics")
        single = web.get(f"/portal/onboarding/meetings/{meetings[1].id}.ics")
    for response in (staff, client):
        assert response.status_code == 200
        _, found = events(response.data)
        assert [e.start for e in found] == [m.starts_at for m in meetings]
        assert str(found[1]["summary"]).startswith("Onboarding meeting")
    _, found = events(single.data)
    assert found[0].start == datetime(2026, 3, 23, 9, tzinfo=UTC)


def test_moving_a_meeting_bumps_the_sequence_and_rearms_the_reminder(web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        follow_up = rhythm(onboarding)[0]
        follow_up.reminder_sent_at = NOW
        db.session.commit()
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/meetings/{follow_up.id}", data={
            "day": "2026-03-10", "start_time": "14:30", "duration_minutes": "45", "location": "Teams",
            "notes": "", "participants": [str(world.agent.id), str(world.acme_admin.id)],
        })
        assert response.status_code == 302, response.data[:500]
        moved = reload(follow_up)
        # The agent's timezone is Europe/Warsaw: 14:30 local is 13:30 UTC in March.
        assert moved.starts_at == datetime(2026, 3, 10, 13, 30, tzinfo=UTC)
        assert moved.reminder_sent_at is None and moved.sequence == 1
        assert reload(onboarding).stage("follow_up").planned_on == date(2026, 3, 10)
        _, found = events(web.get(f"/onboarding/{onboarding.id}/meetings/{follow_up.id}.ics").data)
    assert int(found[0]["sequence"]) == 1 and str(found[0]["location"]) == "Teams"
    assert attendee_emails(found[0]) == {world.agent.email, world.acme_admin.email}


def test_cancelled_meeting_stays_in_the_calendar_as_cancelled(web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        last = rhythm(onboarding)[-1]
        login(world.agent)
        assert web.post(f"/onboarding/{onboarding.id}/meetings/{last.id}/cancel").status_code == 302
        _, found = events(web.get(f"/onboarding/{onboarding.id}/meetings/{last.id}.ics").data)
        assert str(found[0]["status"]) == "CANCELLED"
        assert reminders.due_meeting_reminders(date(2026, 5, 1)) == []
        # Another recurring meeting after the last one still planned, on the rhythm.
        assert web.post(f"/onboarding/{onboarding.id}/meetings/next").status_code == 302
        newest = max(rhythm(onboarding), key=lambda m: m.id)
        assert newest.starts_at == datetime(2026, 5, 4, 8, tzinfo=UTC)


def test_reminders_are_due_the_working_day_before_and_sent_once(app, world):
    onboarding = walk_to(world, "protocol")
    follow_up, first_recurring, after_easter = rhythm(onboarding)[:3]
    # The follow-up is on Monday 9 March: its reminder goes out on Friday 6 March.
    assert reminders.due_meeting_reminders(date(2026, 3, 5)) == []
    due = reminders.due_meeting_reminders(date(2026, 3, 6))
    assert [r.meeting_id for r in due] == [follow_up.id]
    reminder = due[0]
    assert reminder.client_name == "ACME Logistics" and reminder.kind == "follow_up"
    assert set(reminder.recipients) == {
        world.agent.email, world.acme_user.email, world.acme_colleague.email, world.acme_admin.email,
    }
    assert reminder.values()["starts_at"] == "2026-03-09T09:00:00+00:00"
    # Tuesday 7 April follows Easter Monday: reminded on Good Friday, 3 April (a working day).
    assert [r.meeting_id for r in reminders.due_meeting_reminders(date(2026, 4, 3))] == [after_easter.id]

    runner = app.test_cli_runner()
    sent_at = datetime(2026, 3, 6, 7, tzinfo=UTC)
    with at(sent_at):
        result = runner.invoke(args=["onboarding", "remind", "--today", "2026-03-06"])
        assert result.exit_code == 0, result.output
        assert "Sent 1 reminder(s)" in result.output
        again = runner.invoke(args=["onboarding", "remind", "--today", "2026-03-06"])
        assert "Sent 0 reminder(s)" in again.output
    assert reload(follow_up).reminder_sent_at == sent_at
    assert reload(first_recurring).reminder_sent_at is None
    sent = db.session.scalars(select(OnboardingEvent).where(OnboardingEvent.kind == "reminder_sent")).all()
    assert len(sent) == 1 and sent[0].via == "system"
    # A direct second send of the same meeting does nothing either.
    assert reminders.send_meeting_reminder(follow_up.id, date(2026, 3, 6), sent_at) is False
    # Sending a reminder is not progress of the onboarding.
    assert reload(onboarding).last_progress_at == NOW


def test_remind_defaults_to_today_in_warsaw_and_can_dry_run(app, world):
    onboarding = walk_to(world, "protocol")
    follow_up = rhythm(onboarding)[0]
    runner = app.test_cli_runner()
    # 23:30 UTC on Thursday 5 March is already Friday 6 March in Warsaw.
    with at(datetime(2026, 3, 5, 23, 30, tzinfo=UTC)):
        dry = runner.invoke(args=["onboarding", "remind", "--dry-run"])
        assert f"due: meeting {follow_up.id}" in dry.output and "1 reminder(s) due on 2026-03-06" in dry.output
        assert reload(follow_up).reminder_sent_at is None
        assert "Sent 1" in runner.invoke(args=["onboarding", "remind"]).output
    bad = runner.invoke(args=["onboarding", "remind", "--today", "6 March"])
    assert bad.exit_code != 0


def test_training_recorded_late_schedules_nothing_in_the_past(app, world):
    onboarding = walk_to(world, "training")
    late = NOW + timedelta(days=12)  # Saturday 14 March
    stages.record_training(world.agent, onboarding, held_on=date(2026, 3, 2), plan_checked=True,
                           access_handed_over=True, notes="", reason="", now=late)
    meetings = rhythm(onboarding)
    assert all(m.starts_at > late for m in meetings)
    assert meetings[0].kind == "follow_up"
    assert meetings[0].starts_at == datetime(2026, 3, 16, 9, tzinfo=UTC)  # first working day from today
    assert meetings[1].starts_at == datetime(2026, 3, 23, 9, tzinfo=UTC)  # still on the rhythm


def test_a_new_meeting_is_scheduled_with_its_participants(web, world, login):
    with at():
        onboarding = start(world)
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "2026-03-04", "start_time": "11:00", "duration_minutes": "90",
            "location": "https://meet.example/kickoff", "notes": "Scope",
            "participants": [str(world.agent.id), str(world.acme_admin.id)],
        })
        assert response.status_code == 302, response.data[:800]
    meeting = db.session.scalar(select(OnboardingMeeting))
    assert meeting.starts_at == datetime(2026, 3, 4, 10, tzinfo=UTC)
    assert {p.id for p in meeting.participants} == {world.agent.id, world.acme_admin.id}
    assert reload(onboarding).stage("kickoff").planned_on == date(2026, 3, 4)
