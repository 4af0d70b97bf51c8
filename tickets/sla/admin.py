"""The manager's SLA policy pages: policies with their targets, and which source gets which."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from helpdesk.calendars.models import all_calendars
from helpdesk.calendars.policies import (
    CLOCKS,
    DEFAULT_TARGETS,
    DEFAULT_WARNING_PERCENT,
    PRIORITIES,
    PolicyError,
    PolicyInput,
    SlaPolicy,
    all_policies,
    save_policy,
    target_field,
)
from helpdesk.extensions import db
from helpdesk.forms import refusal
from helpdesk.i18n import _
from helpdesk.security import manager_required
from tickets.sla.policies import MAPPED_SOURCES, save_source_mapping, source_mapping

bp = Blueprint("sla_admin", __name__, url_prefix="/manager/sla/policies")


@bp.route("/", methods=["GET"])
@manager_required
def policies():
    rows = all_policies()
    return render_template(
        "manager/sla_policies.html", policies=rows, mapping=source_mapping(), sources=MAPPED_SOURCES,
        priorities=PRIORITIES, errors={},
    )


@bp.route("/mapping", methods=["POST"])
@manager_required
def mapping():
    choices = {source: request.form.get(source) for source in MAPPED_SOURCES}
    try:
        save_source_mapping(choices)
    except PolicyError as exc:
        errors, status = refusal(exc)
        rows = all_policies()
        return render_template(
            "manager/sla_policies.html", policies=rows, mapping={**source_mapping(), **choices},
            sources=MAPPED_SOURCES, priorities=PRIORITIES, errors=errors,
        ), status
    flash(_("Which policy each source gets is saved."), "success")
    return redirect(url_for("sla_admin.policies"))


def _form_values(policy: SlaPolicy | None) -> dict[str, str]:
    if request.method == "POST":
        return {key: value for key, value in request.form.items()}
    values: dict[str, str] = {}
    if policy is None:
        values["warning_percent"] = str(DEFAULT_WARNING_PERCENT)
        for priority, (first, resolution) in DEFAULT_TARGETS.items():
            values[target_field("first_response", priority)] = str(first)
            values[target_field("resolution", priority)] = str(resolution)
        return values
    values.update(name=policy.name, calendar_id=str(policy.calendar_id), warning_percent=str(policy.warning_percent))
    if policy.is_default:
        values["is_default"] = "1"
    for priority in PRIORITIES:
        for clock in CLOCKS:
            values[target_field(clock, priority)] = str(policy.minutes(clock, priority))
    return values


def _edit(policy: SlaPolicy | None):
    status = 200
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = PolicyInput(
            name=request.form.get("name", ""),
            calendar_id=request.form.get("calendar_id"),
            warning_percent=request.form.get("warning_percent"),
            targets={target_field(c, p): request.form.get(target_field(c, p)) for c in CLOCKS for p in PRIORITIES},
            is_default=request.form.get("is_default") == "1",
        )
        try:
            saved = save_policy(policy, data)
        except PolicyError as exc:
            errors, status = refusal(exc)
        else:
            flash(_("Policy %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("sla_admin.policies"))
    calendars = all_calendars()
    return render_template(
        "manager/sla_policy_form.html", policy=policy, values=_form_values(policy), errors=errors,
        calendars=calendars, priorities=PRIORITIES, clocks=CLOCKS,
        target_field=target_field,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new_policy():
    return _edit(None)


@bp.route("/<int:policy_id>", methods=["GET", "POST"])
@manager_required
def edit_policy(policy_id: int):
    policy = db.session.get(SlaPolicy, policy_id) or abort(404)
    return _edit(policy)
