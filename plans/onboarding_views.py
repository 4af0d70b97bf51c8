"""Onboarding pages: staff run an onboarding, managers overview them all, clients follow their own.

Views are thin: parse the form, call one service, redirect; on refusal show the page again with
the message next to the field and a 4xx status. Staff pages answer 404 to anyone who is not staff
(a client never learns which onboarding ids exist); the portal pages only ever read the client
user's own company.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import FieldList, FormField

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.security import client_required, manager_required
from helpdesk.text import whole_number
from plans import onboarding as svc
from plans.onboarding import Onboarding, OnboardingError, OnboardingMeeting
from plans.onboarding_calendar import CalendarMeeting, Person, calendar_file
from plans.onboarding_forms import (
    ConfirmForm,
    GuardianForm,
    ItemStateForm,
    MeetingForm,
    PlanForm,
    ProtocolForm,
    StageForm,
    StageProgressForm,
    StartDataItemForm,
    StartOnboardingForm,
    TrainingForm,
    choices,
    uploaded_scan,
)
from plans.onboarding_labels import STAGE_LABELS
from plans.onboarding_rules import missing_prerequisites

bp = Blueprint("onboarding", __name__, url_prefix="/onboarding")
manager_bp = Blueprint("onboarding_manager", __name__, url_prefix="/manager/onboarding")
portal_bp = Blueprint("portal_onboarding", __name__, url_prefix="/portal/onboarding")


def staff_or_404(view: Callable[..., Any]) -> Callable[..., Any]:
    """Staff only; to anyone else these pages do not exist."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_staff:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def _onboarding_or_404(onboarding_id: int) -> Onboarding:
    try:
        return svc.get_onboarding(current_user, onboarding_id)
    except svc.NotFound:
        abort(404)


def _meeting_or_404(onboarding: Onboarding, meeting_id: int) -> OnboardingMeeting:
    try:
        return svc.get_meeting(onboarding, meeting_id)
    except svc.NotFound:
        abort(404)


def _stage_key_or_404(key: str) -> str:
    if key not in svc.STAGES:
        abort(404)
    return key


def _walk(fields) -> Any:
    for f in fields:
        yield f
        if isinstance(f, FieldList):
            yield from _walk(f.entries)
        elif isinstance(f, FormField):
            yield from _walk(f)


def _apply_errors(form: FlaskForm, error: OnboardingError) -> None:
    """Put each message next to its field; what has no field is flashed."""
    by_name = {f.name: f for f in _walk(form)}
    unplaced = []
    for name, message in error.fields.items():
        target = by_name.get(name) or by_name.get(f"{form._prefix}{name}")
        if target is not None:
            target.errors = list(target.errors) + [message]
        else:
            unplaced.append(message)
    if unplaced or not error.fields:
        flash(" ".join(unplaced) or error.message, "error")


def _form_status(form: FlaskForm) -> int | None:
    """None when the form parsed; else 400 for a missing/expired CSRF token, 422 for bad fields."""
    if form.validate():
        return None
    if form.meta.csrf and form.csrf_token.errors:
        return 400
    return 422


def _refused(form: FlaskForm, error: OnboardingError) -> int:
    db.session.rollback()
    _apply_errors(form, error)
    return error.status


def _user_zone() -> str:
    return current_user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _people_choices(onboarding: Onboarding, *, blank: bool = False):
    pairs = [("", "—")] if blank else []
    for person in svc.people_for(onboarding):
        who = person.display_name if person.is_staff else f"{person.display_name} ({onboarding.client.name})"
        pairs.append((person.id, who))
    return choices(pairs)


def _guardian_choices():
    return choices([("", "—")] + [(u.id, u.display_name) for u in svc.guardian_candidates()])


# -- list, start, detail ---------------------------------------------------------------------


@bp.route("/")
@staff_or_404
def index():
    mine = request.args.get("mine") == "1"
    rows = svc.list_onboardings(guardian_id=current_user.id if mine else None)
    guardians = {u.id: u for u in svc.guardian_candidates()}
    return render_template("onboarding/index.html", onboardings=rows, mine=mine, guardians=guardians)


@bp.route("/start", methods=["GET", "POST"])
@manager_required
def start():
    form = StartOnboardingForm()
    form.client.choices = choices([("", "—")] + [(c.id, c.name) for c in svc.clients_without_onboarding()])
    form.guardian.choices = _guardian_choices()
    status = 200
    if request.method == "POST":
        status = _form_status(form)
        if status is None:
            try:
                onboarding = svc.start_onboarding(
                    current_user, client_id=form.client.data, guardian_id=form.guardian.data,
                    kickoff_planned_on=form.kickoff_planned_on.data, now=utcnow(),
                )
            except OnboardingError as exc:
                status = _refused(form, exc)
            else:
                flash(_("The onboarding of %(client)s has started.", client=onboarding.client.name), "success")
                return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
    return render_template("onboarding/start.html", form=form), status


def _detail(onboarding: Onboarding, *, guardian_form=None, item_form=None, status: int = 200):
    now = utcnow()
    if guardian_form is None:
        guardian_form = GuardianForm(guardian=str(onboarding.client.guardian_id or ""))
    guardian_form.guardian.choices = _guardian_choices()
    guardian = db.session.get(User, onboarding.client.guardian_id) if onboarding.client.guardian_id else None
    history = svc.history(onboarding)
    return render_template(
        "onboarding/detail.html",
        onboarding=onboarding,
        guardian=guardian,
        can_edit=svc.can_edit(current_user, onboarding),
        start_data=svc.checklist(onboarding, "start_data"),
        missing=svc.missing_start_data(onboarding),
        gaps=svc.stage_gaps(onboarding),
        plan=svc.plan_items(onboarding),
        plan_version=svc.latest_plan_version(onboarding),
        upcoming=[m for m in svc.meetings(onboarding, include_cancelled=False) if m.starts_at > now],
        history=history,
        item_titles=svc.item_titles(onboarding),
        people={u.id: u.display_name for u in svc.people_for(onboarding)},
        guardian_form=guardian_form,
        item_form=item_form or StartDataItemForm(),
        item_state_form=ItemStateForm(),
        stage_labels=STAGE_LABELS,
    ), status


@bp.route("/<int:onboarding_id>")
@staff_or_404
def detail(onboarding_id: int):
    return _detail(_onboarding_or_404(onboarding_id))


@bp.route("/<int:onboarding_id>/guardian", methods=["POST"])
@staff_or_404
def guardian(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    form = GuardianForm()
    status = _form_status(form)
    if status is None:
        try:
            svc.change_guardian(current_user, onboarding, form.guardian.data, utcnow())
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
    return _detail(_onboarding_or_404(onboarding_id), guardian_form=form, status=status)


@bp.route("/<int:onboarding_id>/start-data", methods=["POST"])
@staff_or_404
def add_item(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    form = StartDataItemForm()
    status = _form_status(form)
    if status is None:
        try:
            svc.add_start_data_item(
                current_user, onboarding, label=form.label.data, required=form.required.data, now=utcnow()
            )
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
    return _detail(_onboarding_or_404(onboarding_id), item_form=form, status=status)


@bp.route("/<int:onboarding_id>/items/<int:item_id>", methods=["POST"])
@staff_or_404
def item(onboarding_id: int, item_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    try:
        found = svc.get_item(onboarding, item_id)
    except svc.NotFound:
        abort(404)
    on_stage_page = found.kind in ("configuration", "test")
    form = ItemStateForm()
    status = _form_status(form)
    if status is None:
        try:
            svc.set_item_state(current_user, onboarding, item_id, form.state.data, utcnow())
        except OnboardingError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            status = exc.status
        else:
            flash(_("Saved."), "success")
            if on_stage_page:
                return redirect(url_for("onboarding.stage", onboarding_id=onboarding.id, key="configuration"))
            return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
    else:
        flash(_("The form has expired; please try again."), "error")
    onboarding = _onboarding_or_404(onboarding_id)
    if on_stage_page:
        return _stage_page(onboarding, "configuration", status=status)
    return _detail(onboarding, status=status)


# -- stages ----------------------------------------------------------------------------------


def _stage_page(onboarding: Onboarding, key: str, *, edit_form=None, start_form=None, done_form=None,
                training_form=None, status: int = 200):
    stage = onboarding.stage(key)
    if edit_form is None:
        edit_form = StageForm(planned_on=stage.planned_on, owner=str(stage.owner_id or ""), notes=stage.notes)
    edit_form.owner.choices = _people_choices(onboarding, blank=True)
    extra: dict[str, Any] = {}
    if key == "configuration":
        extra["config_items"] = svc.checklist(onboarding, "configuration")
        extra["test_items"] = svc.checklist(onboarding, "test")
        extra["missing"] = svc.missing_start_data(onboarding)
    if key == "kickoff":
        extra["plan"] = svc.plan_items(onboarding)
    if key in ("kickoff", "training", "follow_up", "recurring"):
        extra["stage_meetings"] = [m for m in svc.meetings(onboarding) if m.kind == key]
    return render_template(
        "onboarding/stage.html",
        onboarding=onboarding,
        stage=stage,
        key=key,
        can_edit=svc.can_edit(current_user, onboarding),
        missing_prerequisites=missing_prerequisites(key, onboarding.states),
        edit_form=edit_form,
        start_form=start_form or StageProgressForm(prefix="start"),
        done_form=done_form or StageProgressForm(prefix="done"),
        training_form=training_form or TrainingForm(),
        item_state_form=ItemStateForm(),
        stage_labels=STAGE_LABELS,
        **extra,
    ), status


@bp.route("/<int:onboarding_id>/stages/<key>", methods=["GET", "POST"])
@staff_or_404
def stage(onboarding_id: int, key: str):
    onboarding = _onboarding_or_404(onboarding_id)
    key = _stage_key_or_404(key)
    if request.method == "GET":
        return _stage_page(onboarding, key)
    form = StageForm()
    form.owner.choices = _people_choices(onboarding, blank=True)
    status = _form_status(form)
    if status is None:
        try:
            svc.update_stage(
                current_user, onboarding, key, planned_on=form.planned_on.data, owner_id=form.owner.data,
                notes=form.notes.data, now=utcnow(),
            )
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("onboarding.stage", onboarding_id=onboarding.id, key=key))
    return _stage_page(_onboarding_or_404(onboarding_id), key, edit_form=form, status=status)


def _progress(onboarding_id: int, key: str, to_state: str):
    onboarding = _onboarding_or_404(onboarding_id)
    key = _stage_key_or_404(key)
    prefix = "start" if to_state == "in_progress" else "done"
    form = StageProgressForm(prefix=prefix)
    status = _form_status(form)
    if status is None:
        try:
            svc.change_stage_state(
                current_user, onboarding, key, to_state=to_state, actual_on=form.actual_on.data,
                reason=form.reason.data, now=utcnow(),
            )
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("%(stage)s: saved.", stage=STAGE_LABELS[key]), "success")
            return redirect(url_for("onboarding.stage", onboarding_id=onboarding.id, key=key))
    forms = {"start_form": form} if prefix == "start" else {"done_form": form}
    return _stage_page(_onboarding_or_404(onboarding_id), key, status=status, **forms)


@bp.route("/<int:onboarding_id>/stages/<key>/start", methods=["POST"])
@staff_or_404
def start_stage(onboarding_id: int, key: str):
    return _progress(onboarding_id, key, "in_progress")


@bp.route("/<int:onboarding_id>/stages/<key>/complete", methods=["POST"])
@staff_or_404
def complete_stage(onboarding_id: int, key: str):
    return _progress(onboarding_id, key, "done")


@bp.route("/<int:onboarding_id>/training", methods=["POST"])
@staff_or_404
def training(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    form = TrainingForm()
    status = _form_status(form)
    if status is None:
        try:
            svc.record_training(
                current_user, onboarding, held_on=form.held_on.data, plan_checked=form.plan_checked.data,
                access_handed_over=form.access_handed_over.data, notes=form.notes.data,
                reason=form.reason.data, now=utcnow(),
            )
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("The training is recorded; the follow-up and recurring meetings are scheduled."), "success")
            return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    return _stage_page(_onboarding_or_404(onboarding_id), "training", training_form=form, status=status)


# -- Success Plan ----------------------------------------------------------------------------


@bp.route("/<int:onboarding_id>/plan", methods=["GET", "POST"])
@staff_or_404
def plan(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    latest = svc.latest_plan_version(onboarding)
    form = PlanForm()
    status = 200
    if request.method == "POST":
        status = _form_status(form)
        if status is None:
            entries = [entry.data for entry in form.entries.entries]
            try:
                version = svc.add_plan_version(
                    current_user, onboarding, entries=entries, note=form.note.data, now=utcnow()
                )
            except OnboardingError as exc:
                status = _refused(form, exc)
            else:
                flash(_("Success Plan version %(n)s is recorded.", n=version.version), "success")
                return redirect(url_for("onboarding.plan", onboarding_id=onboarding.id))
        onboarding = _onboarding_or_404(onboarding_id)
    shown = latest
    wanted = request.args.get("version", "")
    if wanted:
        version = whole_number(wanted)
        if version is None or not 1 <= version <= latest:
            abort(404)
        shown = version
    if onboarding.stage("kickoff").state == "done" and request.method == "GET":
        for entry in form.entries.entries:
            entry.form.timing.data = "later"
    return render_template(
        "onboarding/plan.html",
        onboarding=onboarding,
        form=form,
        items=svc.plan_items(onboarding, shown),
        versions=svc.plan_versions(onboarding),
        shown=shown,
        latest=latest,
        can_edit=svc.can_edit(current_user, onboarding),
    ), status


# -- acceptance protocol ---------------------------------------------------------------------


@bp.route("/<int:onboarding_id>/protocol", methods=["GET", "POST"])
@staff_or_404
def protocol(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    form = ProtocolForm()
    status = 200
    if request.method == "POST":
        scan = uploaded_scan()
        status = _form_status(form)
        if status is None:
            try:
                svc.record_protocol(
                    current_user, onboarding, signed_on=form.signed_on.data,
                    functions=form.functions.data or [], scan=scan, now=utcnow(),
                )
            except OnboardingError as exc:
                status = _refused(form, exc)
            else:
                flash(_("The signed protocol is recorded: %(client)s is in production from %(day)s.",
                        client=onboarding.client.name, day=onboarding.protocol_signed_on.isoformat()), "success")
                return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
        if request.files.get("scan") and request.files["scan"].filename and not form.scan.errors:
            form.scan.errors = [_("Please attach the scan again.")]
        onboarding = _onboarding_or_404(onboarding_id)
    return render_template(
        "onboarding/protocol.html",
        onboarding=onboarding,
        form=form,
        functions=svc.checklist(onboarding, "protocol"),
        training=onboarding.stage("training"),
        can_edit=svc.can_edit(current_user, onboarding),
        max_mb=current_app.config["PROTOCOL_SCAN_MAX_BYTES"] // (1024 * 1024),
    ), status


def _send_scan(onboarding: Onboarding) -> Response:
    """The signed scan as a download (a few MB at most, so read whole and the file closed at once)."""
    try:
        stream = svc.open_scan(onboarding)
    except svc.NotFound:
        abort(404)
    with stream:
        data = stream.read()
    response = send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
        download_name=onboarding.protocol_scan_name or "protocol.pdf", max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:onboarding_id>/protocol/scan")
@staff_or_404
def protocol_scan(onboarding_id: int):
    return _send_scan(_onboarding_or_404(onboarding_id))


# -- meetings --------------------------------------------------------------------------------


def _meeting_starts(form: MeetingForm) -> datetime | None:
    if form.day.data is None or form.start_time.data is None:
        return None
    return svc.local_instant(form.day.data, form.start_time.data, _user_zone())


def _meetings_page(onboarding: Onboarding, *, form=None, status: int = 200):
    if form is None:
        form = MeetingForm(participants=[str(p.id) for p in svc._default_participants(onboarding)])
    form.participants.choices = _people_choices(onboarding)
    return render_template(
        "onboarding/meetings.html",
        onboarding=onboarding,
        meetings=svc.meetings(onboarding),
        form=form,
        confirm_form=ConfirmForm(),
        can_edit=svc.can_edit(current_user, onboarding),
        now=utcnow(),
    ), status


@bp.route("/<int:onboarding_id>/meetings", methods=["GET", "POST"])
@staff_or_404
def meetings(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    if request.method == "GET":
        return _meetings_page(onboarding)
    form = MeetingForm()
    form.participants.choices = _people_choices(onboarding)
    status = _form_status(form)
    if status is None:
        try:
            svc.schedule_meeting(
                current_user, onboarding, kind=form.kind.data, starts_at=_meeting_starts(form),
                duration=form.duration_minutes.data, location=form.location.data, notes=form.notes.data,
                participant_ids=form.participants.data, now=utcnow(),
            )
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("The meeting is scheduled."), "success")
            return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    return _meetings_page(_onboarding_or_404(onboarding_id), form=form, status=status)


@bp.route("/<int:onboarding_id>/meetings/next", methods=["POST"])
@staff_or_404
def next_recurring(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    form = ConfirmForm()
    status = _form_status(form)
    if status is None:
        try:
            svc.add_recurring_meeting(current_user, onboarding, utcnow())
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("The next recurring meeting is scheduled."), "success")
            return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    else:
        flash(_("The form has expired; please try again."), "error")
    return _meetings_page(_onboarding_or_404(onboarding_id), status=status)


@bp.route("/<int:onboarding_id>/meetings/<int:meeting_id>", methods=["GET", "POST"])
@staff_or_404
def meeting(onboarding_id: int, meeting_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
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
        form.participants.choices = _people_choices(onboarding)
        status = _form_status(form)
        if status is None:
            try:
                svc.update_meeting(
                    current_user, onboarding, found, starts_at=_meeting_starts(form),
                    duration=form.duration_minutes.data, location=form.location.data, notes=form.notes.data,
                    participant_ids=form.participants.data, now=utcnow(),
                )
            except OnboardingError as exc:
                status = _refused(form, exc)
            else:
                flash(_("The meeting is saved."), "success")
                return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
        onboarding = _onboarding_or_404(onboarding_id)
        found = _meeting_or_404(onboarding, meeting_id)
    form.participants.choices = _people_choices(onboarding)
    return render_template(
        "onboarding/meeting.html", onboarding=onboarding, meeting=found, form=form,
        confirm_form=ConfirmForm(), can_edit=svc.can_edit(current_user, onboarding),
    ), status


@bp.route("/<int:onboarding_id>/meetings/<int:meeting_id>/cancel", methods=["POST"])
@staff_or_404
def cancel_meeting(onboarding_id: int, meeting_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    found = _meeting_or_404(onboarding, meeting_id)
    form = ConfirmForm()
    status = _form_status(form)
    if status is None:
        try:
            svc.cancel_meeting(current_user, onboarding, found, utcnow())
        except OnboardingError as exc:
            status = _refused(form, exc)
        else:
            flash(_("The meeting is cancelled."), "success")
            return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    else:
        flash(_("The form has expired; please try again."), "error")
    return _meetings_page(_onboarding_or_404(onboarding_id), status=status)


def _calendar_entry(onboarding: Onboarding, meeting: OnboardingMeeting, host: str) -> CalendarMeeting:
    guardian = db.session.get(User, onboarding.client.guardian_id) if onboarding.client.guardian_id else None
    description = meeting.notes if current_user.is_staff else ""
    return CalendarMeeting(
        uid=f"onboarding-meeting-{meeting.id}@{host}",
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        summary=svc.meeting_title(onboarding, meeting),
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
    return svc.meetings(onboarding)


@bp.route("/<int:onboarding_id>/meetings/<int:meeting_id>.ics")
@staff_or_404
def meeting_ics(onboarding_id: int, meeting_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    found = _meeting_or_404(onboarding, meeting_id)
    return _ics(onboarding, [found], f"meeting-{found.id}.ics")


@bp.route("/<int:onboarding_id>/meetings.ics")
@staff_or_404
def series_ics(onboarding_id: int):
    onboarding = _onboarding_or_404(onboarding_id)
    return _ics(onboarding, _series(onboarding), f"onboarding-{onboarding.client.slug}.ics")


# -- managers' overview ----------------------------------------------------------------------


@manager_bp.route("/")
@manager_required
def overview():
    days = current_app.config["ONBOARDING_STALE_DAYS"]
    wanted = request.args.get("days", "")
    status = 200
    if wanted:
        if (number := whole_number(wanted)) is not None and 1 <= number <= 365:
            days = number
        else:
            flash(_("The number of days is a whole number from 1 to 365."), "error")
            status = 400
    return render_template(
        "onboarding/overview.html", overview=svc.overview(utcnow(), days), stage_labels=STAGE_LABELS,
    ), status


# -- the client's portal ---------------------------------------------------------------------


@portal_bp.route("/")
@client_required
def progress():
    onboarding = svc.onboarding_of_client(current_user)
    if onboarding is None:
        return render_template("portal/onboarding.html", progress=None)
    return render_template(
        "portal/onboarding.html",
        progress=svc.client_progress(onboarding, utcnow()),
        plan=svc.plan_items(onboarding),
        stage_labels=STAGE_LABELS,
    )


@portal_bp.route("/meetings/<int:meeting_id>.ics", endpoint="meeting_ics")
@client_required
def portal_meeting_ics(meeting_id: int):
    try:
        onboarding, found = svc.client_meeting(current_user, meeting_id)
    except svc.NotFound:
        abort(404)
    return _ics(onboarding, [found], f"meeting-{found.id}.ics")


@portal_bp.route("/meetings.ics", endpoint="series_ics")
@client_required
def portal_series_ics():
    onboarding = svc.onboarding_of_client(current_user)
    if onboarding is None:
        abort(404)
    return _ics(onboarding, _series(onboarding), f"onboarding-{onboarding.client.slug}.ics")


@portal_bp.route("/protocol/scan", endpoint="protocol_scan")
@client_required
def portal_protocol_scan():
    onboarding = svc.onboarding_of_client(current_user)
    if onboarding is None:
        abort(404)
    return _send_scan(onboarding)
