"""Onboarding pages: staff run an onboarding, managers overview them all, clients follow their own.

Views are thin: parse the form, call one service, redirect; on refusal show the page again with
the message next to the field and a 4xx status. Staff pages answer 404 to anyone who is not staff
(a client never learns which onboarding ids exist); the portal pages only ever read the client
user's own company.

Meeting pages and .ics files are in `meeting_views`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps
from typing import Any

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

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.forms import flash_form_errors, form_status, refuse, submit
from helpdesk.i18n import _
from helpdesk.security import client_required, manager_required
from helpdesk.text import whole_number
from plans.onboarding import meetings as meeting_services
from plans.onboarding import overview as overviews
from plans.onboarding.access import (
    can_edit,
    clients_without_onboarding,
    get_onboarding,
    guardian_candidates,
    history,
    list_onboardings,
    onboarding_of_client,
    people_for,
)
from plans.onboarding.checklists import (
    add_start_data_item,
    checklist,
    get_item,
    item_titles,
    missing_start_data,
    set_item_state,
)
from plans.onboarding.errors import NotFound, OnboardingError
from plans.onboarding.forms import (
    GuardianForm,
    ItemStateForm,
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
from plans.onboarding.models import STAGES, Onboarding
from plans.onboarding.protocol import open_scan, record_protocol
from plans.onboarding.rules import missing_prerequisites
from plans.onboarding.stages import (
    change_guardian,
    change_stage_state,
    record_training,
    stage_gaps,
    start_onboarding,
    update_stage,
)
from plans.onboarding.success_plan import add_plan_version, latest_plan_version, plan_items, plan_versions
from plans.onboarding.vocabulary import Stage

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


def onboarding_or_404(onboarding_id: int) -> Onboarding:
    try:
        return get_onboarding(current_user, onboarding_id)
    except NotFound:
        abort(404)


def own_onboarding_or_404() -> Onboarding:
    """The onboarding of the client user's own company; 404 when it has none."""
    onboarding = onboarding_of_client(current_user)
    if onboarding is None:
        abort(404)
    return onboarding


def _stage_key_or_404(key: str) -> str:
    if key not in STAGES:
        abort(404)
    return key


def people_choices(onboarding: Onboarding, *, blank: bool = False):
    pairs = [("", "—")] if blank else []
    for person in people_for(onboarding):
        who = person.display_name if person.is_staff else f"{person.display_name} ({onboarding.client.name})"
        pairs.append((person.id, who))
    return choices(pairs)


def _guardian_choices():
    return choices([("", "—")] + [(u.id, u.display_name) for u in guardian_candidates()])


# -- list, start, detail ---------------------------------------------------------------------------


@bp.route("/")
@staff_or_404
def index():
    mine = request.args.get("mine") == "1"
    rows = list_onboardings(guardian_id=current_user.id if mine else None)
    guardians = {u.id: u for u in guardian_candidates()}
    return render_template("onboarding/index.html", onboardings=rows, mine=mine, guardians=guardians)


@bp.route("/start", methods=["GET", "POST"])
@manager_required
def start():
    form = StartOnboardingForm()
    form.client.choices = choices([("", "—")] + [(c.id, c.name) for c in clients_without_onboarding()])
    form.guardian.choices = _guardian_choices()
    status = 200
    if request.method == "POST":
        outcome = submit(form, lambda: start_onboarding(
            current_user, client_id=form.client.data, guardian_id=form.guardian.data,
            kickoff_planned_on=form.kickoff_planned_on.data, now=utcnow(),
        ))
        if outcome.done:
            onboarding = outcome.value
            flash(_("The onboarding of %(client)s has started.", client=onboarding.client.name), "success")
            return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
        status = outcome.status
    return render_template("onboarding/start.html", form=form), status


def _detail(onboarding: Onboarding, *, guardian_form=None, item_form=None, status: int = 200):
    now = utcnow()
    if guardian_form is None:
        guardian_form = GuardianForm(guardian=str(onboarding.client.guardian_id or ""))
    guardian_form.guardian.choices = _guardian_choices()
    guardian = db.session.get(User, onboarding.client.guardian_id) if onboarding.client.guardian_id else None
    return render_template(
        "onboarding/detail.html",
        onboarding=onboarding,
        guardian=guardian,
        can_edit=can_edit(current_user, onboarding),
        start_data=checklist(onboarding, "start_data"),
        missing=missing_start_data(onboarding),
        gaps=stage_gaps(onboarding),
        plan=plan_items(onboarding),
        plan_version=latest_plan_version(onboarding),
        upcoming=[m for m in meeting_services.meetings(onboarding, include_cancelled=False) if m.starts_at > now],
        history=history(onboarding),
        item_titles=item_titles(onboarding),
        people={u.id: u.display_name for u in people_for(onboarding)},
        guardian_form=guardian_form,
        item_form=item_form or StartDataItemForm(),
        item_state_form=ItemStateForm(),
    ), status


def _detail_form(onboarding_id: int, form: Any, action: Callable[[], object], **forms: Any):
    """A form of the detail page: saved, back to the page; refused, the page again with the form."""
    outcome = submit(form, action)
    if outcome.done:
        flash(_("Saved."), "success")
        return redirect(url_for("onboarding.detail", onboarding_id=onboarding_id))
    return _detail(onboarding_or_404(onboarding_id), status=outcome.status, **forms)


@bp.route("/<int:onboarding_id>")
@staff_or_404
def detail(onboarding_id: int):
    return _detail(onboarding_or_404(onboarding_id))


@bp.route("/<int:onboarding_id>/guardian", methods=["POST"])
@staff_or_404
def guardian(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    form = GuardianForm()
    return _detail_form(
        onboarding_id, form, lambda: change_guardian(current_user, onboarding, form.guardian.data, utcnow()),
        guardian_form=form,
    )


@bp.route("/<int:onboarding_id>/start-data", methods=["POST"])
@staff_or_404
def add_item(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    form = StartDataItemForm()
    return _detail_form(onboarding_id, form, lambda: add_start_data_item(
        current_user, onboarding, label=form.label.data, required=form.required.data, now=utcnow()
    ), item_form=form)


@bp.route("/<int:onboarding_id>/items/<int:item_id>", methods=["POST"])
@staff_or_404
def item(onboarding_id: int, item_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    try:
        found = get_item(onboarding, item_id)
    except NotFound:
        abort(404)
    on_stage_page = found.kind in ("configuration", "test")
    form = ItemStateForm()
    status = form_status(form)
    if status is None:
        try:
            set_item_state(current_user, onboarding, item_id, form.state.data, utcnow())
        except OnboardingError as exc:
            # Each row has its own state form, so the message goes at the top of the page.
            status = refuse(form, exc, flash_message=True)
        else:
            flash(_("Saved."), "success")
            if on_stage_page:
                return redirect(url_for("onboarding.stage", onboarding_id=onboarding.id, key="configuration"))
            return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
    else:
        flash_form_errors(form, status)
    onboarding = onboarding_or_404(onboarding_id)
    if on_stage_page:
        return _stage_page(onboarding, "configuration", status=status)
    return _detail(onboarding, status=status)


# -- stages ----------------------------------------------------------------------------------------


def _stage_page(onboarding: Onboarding, key: str, *, edit_form=None, start_form=None, done_form=None,
                training_form=None, status: int = 200):
    stage = onboarding.stage(key)
    if edit_form is None:
        edit_form = StageForm(planned_on=stage.planned_on, owner=str(stage.owner_id or ""), notes=stage.notes)
    edit_form.owner.choices = people_choices(onboarding, blank=True)
    extra: dict[str, Any] = {}
    if key == "configuration":
        extra["config_items"] = checklist(onboarding, "configuration")
        extra["test_items"] = checklist(onboarding, "test")
        extra["missing"] = missing_start_data(onboarding)
    if key == "kickoff":
        extra["plan"] = plan_items(onboarding)
    if key in ("kickoff", "training", "follow_up", "recurring"):
        extra["stage_meetings"] = [m for m in meeting_services.meetings(onboarding) if m.kind == key]
    return render_template(
        "onboarding/stage.html",
        onboarding=onboarding,
        stage=stage,
        key=key,
        can_edit=can_edit(current_user, onboarding),
        missing_prerequisites=missing_prerequisites(key, onboarding.states),
        edit_form=edit_form,
        start_form=start_form or StageProgressForm(prefix="start"),
        done_form=done_form or StageProgressForm(prefix="done"),
        training_form=training_form or TrainingForm(),
        item_state_form=ItemStateForm(),
        **extra,
    ), status


@bp.route("/<int:onboarding_id>/stages/<key>", methods=["GET", "POST"])
@staff_or_404
def stage(onboarding_id: int, key: str):
    onboarding = onboarding_or_404(onboarding_id)
    key = _stage_key_or_404(key)
    if request.method == "GET":
        return _stage_page(onboarding, key)
    form = StageForm()
    form.owner.choices = people_choices(onboarding, blank=True)
    outcome = submit(form, lambda: update_stage(
        current_user, onboarding, key, planned_on=form.planned_on.data, owner_id=form.owner.data,
        notes=form.notes.data, now=utcnow(),
    ))
    if outcome.done:
        flash(_("Saved."), "success")
        return redirect(url_for("onboarding.stage", onboarding_id=onboarding.id, key=key))
    return _stage_page(onboarding_or_404(onboarding_id), key, edit_form=form, status=outcome.status)


def _progress(onboarding_id: int, key: str, to_state: str):
    onboarding = onboarding_or_404(onboarding_id)
    key = _stage_key_or_404(key)
    prefix = "start" if to_state == "in_progress" else "done"
    form = StageProgressForm(prefix=prefix)
    outcome = submit(form, lambda: change_stage_state(
        current_user, onboarding, key, to_state=to_state, actual_on=form.actual_on.data,
        reason=form.reason.data, now=utcnow(),
    ))
    if outcome.done:
        flash(_("%(stage)s: saved.", stage=Stage(key).label), "success")
        return redirect(url_for("onboarding.stage", onboarding_id=onboarding.id, key=key))
    forms = {"start_form": form} if prefix == "start" else {"done_form": form}
    return _stage_page(onboarding_or_404(onboarding_id), key, status=outcome.status, **forms)


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
    onboarding = onboarding_or_404(onboarding_id)
    form = TrainingForm()
    outcome = submit(form, lambda: record_training(
        current_user, onboarding, held_on=form.held_on.data, plan_checked=form.plan_checked.data,
        access_handed_over=form.access_handed_over.data, notes=form.notes.data,
        reason=form.reason.data, now=utcnow(),
    ))
    if outcome.done:
        flash(_("The training is recorded; the follow-up and recurring meetings are scheduled."), "success")
        return redirect(url_for("onboarding.meetings", onboarding_id=onboarding.id))
    return _stage_page(onboarding_or_404(onboarding_id), "training", training_form=form, status=outcome.status)


# -- Success Plan ----------------------------------------------------------------------------------


@bp.route("/<int:onboarding_id>/plan", methods=["GET", "POST"])
@staff_or_404
def plan(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    latest = latest_plan_version(onboarding)
    form = PlanForm()
    status = 200
    if request.method == "POST":
        outcome = submit(form, lambda: add_plan_version(
            current_user, onboarding, entries=[entry.data for entry in form.entries.entries],
            note=form.note.data, now=utcnow(),
        ))
        if outcome.done:
            flash(_("Success Plan version %(n)s is recorded.", n=outcome.value.version), "success")
            return redirect(url_for("onboarding.plan", onboarding_id=onboarding.id))
        status = outcome.status
        onboarding = onboarding_or_404(onboarding_id)
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
        items=plan_items(onboarding, shown),
        versions=plan_versions(onboarding),
        shown=shown,
        latest=latest,
        can_edit=can_edit(current_user, onboarding),
    ), status


# -- acceptance protocol ---------------------------------------------------------------------------


@bp.route("/<int:onboarding_id>/protocol", methods=["GET", "POST"])
@staff_or_404
def protocol(onboarding_id: int):
    onboarding = onboarding_or_404(onboarding_id)
    form = ProtocolForm()
    status = 200
    if request.method == "POST":
        scan = uploaded_scan()
        outcome = submit(form, lambda: record_protocol(
            current_user, onboarding, signed_on=form.signed_on.data,
            functions=form.functions.data or [], scan=scan, now=utcnow(),
        ))
        if outcome.done:
            flash(_("The signed protocol is recorded: %(client)s is in production from %(day)s.",
                    client=onboarding.client.name, day=onboarding.protocol_signed_on.isoformat()), "success")
            return redirect(url_for("onboarding.detail", onboarding_id=onboarding.id))
        status = outcome.status
        if request.files.get("scan") and request.files["scan"].filename and not form.scan.errors:
            form.scan.errors = [_("Please attach the scan again.")]
        onboarding = onboarding_or_404(onboarding_id)
    return render_template(
        "onboarding/protocol.html",
        onboarding=onboarding,
        form=form,
        functions=checklist(onboarding, "protocol"),
        training=onboarding.stage("training"),
        can_edit=can_edit(current_user, onboarding),
        max_mb=current_app.config["PROTOCOL_SCAN_MAX_BYTES"] // (1024 * 1024),
    ), status


def _send_scan(onboarding: Onboarding) -> Response:
    """The signed scan as a download (a few MB at most, so read whole and the file closed at once)."""
    try:
        stream = open_scan(onboarding)
    except NotFound:
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
    return _send_scan(onboarding_or_404(onboarding_id))


# -- managers' overview ----------------------------------------------------------------------------


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
        "onboarding/overview.html", overview=overviews.overview(utcnow(), days),
    ), status


# -- the client's portal ---------------------------------------------------------------------------


@portal_bp.route("/")
@client_required
def progress():
    onboarding = onboarding_of_client(current_user)
    if onboarding is None:
        return render_template("portal/onboarding.html", progress=None)
    return render_template(
        "portal/onboarding.html",
        progress=overviews.client_progress(onboarding, utcnow()),
        plan=plan_items(onboarding),
    )


@portal_bp.route("/protocol/scan", endpoint="protocol_scan")
@client_required
def portal_protocol_scan():
    return _send_scan(own_onboarding_or_404())
