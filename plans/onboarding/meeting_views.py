"""Meeting pages of an onboarding, and its meetings as .ics files (for staff and for the client).

Routes of the blueprints in `views`; the same thin-view rules apply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.forms import submit
from helpdesk.i18n import _
from helpdesk.security import client_required
from plans.onboarding import meetings as meeting_services
from plans.onboarding.access import can_edit
from plans.onboarding.dates import local_instant
from plans.onboarding.errors import NotFound
from plans.onboarding.forms import (
    ConfirmForm,
    MeetingForm,
)
from plans.onboarding.ics import CalendarMeeting, Person, calendar_file
from plans.onboarding.models import Onboarding, OnboardingMeeting
from plans.onboarding.overview import client_meeting
from plans.onboarding.views import (
    bp,
    onboarding_or_404,
    own_onboarding_or_404,
    people_choices,
    portal_bp,
    staff_or_404,
)


def _meeting_or_404(onboarding: Onboarding, meeting_id: int) -> OnboardingMeeting:
    try:
        return meeting_services.get_meeting(onboarding, meeting_id)
    except NotFound:
        abort(404)


def _user_zone() -> str:
    return current_user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _meeting_starts(form: MeetingForm) -> datetime | None:
    if form.day.data is None or form.start_time.data is None:
        return None
    return local_instant(form.day.data, form.start_time.data, _user_zone())


def _meetings_page(onboarding: Onboarding, *, form=None, status: int = 200):
    if form is None:
        form = MeetingForm(participants=[str(p.id) for p in meeting_services.default_participants(onboarding)])
    form.participants.choices = people_choices(onboarding)
    return render_template(
        "onboarding/meetings.html",
        onboarding=onboarding,
        meetings=meeting_services.meetings(onboarding),
        form=form,
        confirm_form=ConfirmForm(),
        can_edit=can_edit(current_user, onboarding),
        now=utcnow(),
    ), status


# -- meeting pages ---------------------------------------------------------------------------------


@bp.route("/<int:onboarding_id>/meetings", methods=["GET", "POST"])
@staff_or_404
def meetings(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    if request.method == "GET":
        return _meetings_page(onboarding)
    form = MeetingForm()
    form.participants.choices = people_choices(onboarding)
    outcome = submit(form, lambda: meeting_services.schedule_meeting(
        current_user, onboarding, kind=form.kind.data, starts_at=_meeting_starts(form),
        duration=form.duration_minutes.data, location=form.location.data, notes=form.notes.data,
        participant_ids=form.participants.data, now=utcnow(),
    ))
    if outcome.done:
        flash(_("The meeting is scheduled."), "success")
        return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    return _meetings_page(onboarding_or_404(onboarding_id), form=form, status=outcome.status)


def _confirmed(onboarding: Onboarding, action: Callable[[], object], done: str):
    """An action with nothing to fill in but its CSRF token, from the meetings page, and back to it."""
    outcome = submit(ConfirmForm(), action)
    if outcome.done:
        flash(done, "success")
        return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    if outcome.invalid:
        flash(_("The form has expired; please try again."), "error")
    return _meetings_page(onboarding_or_404(onboarding.id), status=outcome.status)


@bp.route("/<int:onboarding_id>/meetings/next", methods=["POST"])
@staff_or_404
def next_recurring(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    return _confirmed(
        onboarding, lambda: meeting_services.add_recurring_meeting(current_user, onboarding, utcnow()),
        _("The next recurring meeting is scheduled."),
    )


@bp.route("/<int:onboarding_id>/meetings/<int:meeting_id>", methods=["GET", "POST"])
@staff_or_404
def meeting(onboarding_id: int, meeting_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    found = _meeting_or_404(onboarding, meeting_id)
    zone = ZoneInfo(_user_zone())
    status = 200
    if request.method == "GET":
        local = found.starts_at.astimezone(zone)
        form = MeetingForm(
            kind=found.kind, day=local.date(), start_time=local.time().replace(second=0, microsecond=0),
            duration_minutes=found.duration_minutes, location=found.location, notes=found.notes,
            participants=[str(p.id) for p in found.participants],
        )
    else:
        form = MeetingForm()
        form.participants.choices = people_choices(onboarding)
        outcome = submit(form, lambda: meeting_services.update_meeting(
            current_user, onboarding, found, starts_at=_meeting_starts(form),
            duration=form.duration_minutes.data, location=form.location.data, notes=form.notes.data,
            participant_ids=form.participants.data, now=utcnow(),
        ))
        if outcome.done:
            flash(_("The meeting is saved."), "success")
            return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
        status = outcome.status
        onboarding = onboarding_or_404(onboarding_id)
        found = _meeting_or_404(onboarding, meeting_id)
    form.participants.choices = people_choices(onboarding)
    return render_template(
        "onboarding/meeting.html", onboarding=onboarding, meeting=found, form=form,
        confirm_form=ConfirmForm(), can_edit=can_edit(current_user, onboarding),
    ), status


@bp.route("/<int:onboarding_id>/meetings/<int:meeting_id>/cancel", methods=["POST"])
@staff_or_404
def cancel_meeting(onboarding_id: int, meeting_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    found = _meeting_or_404(onboarding, meeting_id)
    return _confirmed(
        onboarding, lambda: meeting_services.cancel_meeting(current_user, onboarding, found, utcnow()),
        _("The meeting is cancelled."),
    )


# -- .ics files ------------------------------------------------------------------------------------


def _calendar_entry(onboarding: Onboarding, meeting: OnboardingMeeting, host: str) -> CalendarMeeting:
    guardian = db.session.get(User, onboarding.client.guardian_id) if onboarding.client.guardian_id else None
    description = meeting.notes if current_user.is_staff else ""
    return CalendarMeeting(
        uid=f"onboarding-meeting-{meeting.id}@{host}",
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        summary=meeting_services.meeting_title(onboarding, meeting),
        description=description,
        location=meeting.location,
        organizer=Person(guardian.display_name, guardian.email) if guardian else None,
        attendees=tuple(Person(p.display_name, p.email) for p in meeting.participants),
        sequence=meeting.sequence,
        cancelled=meeting.cancelled,
    )


def _ics(onboarding: Onboarding, chosen: list[OnboardingMeeting], filename: str) -> Response:
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "opiekun"
    body = calendar_file(
        [_calendar_entry(onboarding, m, host) for m in chosen],
        now=utcnow(),
        name=_("Onboarding · %(client)s", client=onboarding.client.name),
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _series(onboarding: Onboarding) -> list[OnboardingMeeting]:
    return meeting_services.meetings(onboarding)


@bp.route("/<int:onboarding_id>/meetings/<int:meeting_id>.ics")
@staff_or_404
def meeting_ics(onboarding_id: int, meeting_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    found = _meeting_or_404(onboarding, meeting_id)
    return _ics(onboarding, [found], f"meeting-{found.id}.ics")


@bp.route("/<int:onboarding_id>/meetings.ics")
@staff_or_404
def series_ics(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    return _ics(onboarding, _series(onboarding), f"onboarding-{onboarding.client.slug}.ics")


@portal_bp.route("/meetings/<int:meeting_id>.ics", endpoint="meeting_ics")
@client_required
def portal_meeting_ics(meeting_id: int):
    try:
        onboarding, found = client_meeting(current_user, meeting_id)
    except NotFound:
        abort(404)
    return _ics(onboarding, [found], f"meeting-{found.id}.ics")


@portal_bp.route("/meetings.ics", endpoint="series_ics")
@client_required
def portal_series_ics():
    onboarding = own_onboarding_or_404()
    return _ics(onboarding, _series(onboarding), f"onboarding-{onboarding.client.slug}.ics")
