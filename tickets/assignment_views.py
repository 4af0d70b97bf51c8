"""Pages of auto-assignment: each agent's duty (the "away" switch, their calendar) and the
admins' rules. The header reads the agent's unread notifications and away state in one query."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, bindparam, select
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Optional

from helpdesk.accounts import staff_users
from helpdesk.calendars.models import all_calendars
from helpdesk.extensions import db
from helpdesk.forms import ChoiceField, ChoicesField, WholeNumberField, form_page, saved
from helpdesk.i18n import _, _l
from helpdesk.notifications.inbox import unread_count_column
from helpdesk.security import admin_required, staff_required
from tickets import autoassign
from tickets.access import MAX_ID
from tickets.autoassign import AgentDuty, AssignmentRule, RuleInput
from tickets.vocabulary import AssignmentStrategy, Category, Priority

duty_bp = Blueprint("duty", __name__, url_prefix="/agent/duty")
rules_bp = Blueprint("assignment_rules", __name__, url_prefix="/admin/assignment")


def workspace_header() -> dict[str, Any]:
    """For the header of a staff page: unread notifications (counted up to the cap, from the
    (user_id, read_at) index) and the away switch (a primary-key read)."""
    unread, away = db.session.execute(_header_statement(), {"user_id": current_user.id}).one()
    return {"unread": unread, "away": bool(away)}


@cache
def _header_statement() -> Select:
    # Built once: building the statement cost as much as running it (on every staff page).
    # Both reads in one statement: one round trip to the database per page, not two.
    away = select(AgentDuty.away).where(AgentDuty.user_id == bindparam("user_id")).scalar_subquery()
    return select(unread_count_column(), away)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@duty_bp.route("/away", methods=["POST"])
@staff_required
def away():
    """The header's switch: away (no auto-assignment) or back on duty."""
    autoassign.set_away(current_user, request.form.get("away") == "1")
    flash(_("You are away: no new tickets are assigned to you automatically.")
          if request.form.get("away") == "1" else _("You are on duty."), "success")
    return redirect(_safe_next(request.form.get("next")) or url_for("duty.settings"))


class DutyForm(FlaskForm):
    calendar = ChoiceField(_l("My working hours"), choices=[])
    away = BooleanField(_l("Away (no new tickets are assigned to me automatically)"))


@duty_bp.route("/", methods=["GET", "POST"])
@staff_required
def settings():
    row = autoassign.duty_of(current_user.id)
    form = DutyForm()
    form.calendar.choices = [("", _("The team's calendar (default)"))] + [
        (str(c.id), c.name) for c in all_calendars()
    ]
    if request.method == "GET":
        form.calendar.data = str(row.calendar_id) if row and row.calendar_id else ""
        form.away.data = bool(row and row.away)

    def save() -> None:
        autoassign.set_calendar(current_user, form.calendar.data)
        autoassign.set_away(current_user, form.away.data)

    return form_page(
        form, save,
        page=lambda: render_template("agent/duty.html", form=form),
        done=lambda _none: saved(_("Your duty settings are saved."), url_for("duty.settings")),
    )


# -- the admins' rules ---------------------------------------------------------------------------


class RuleForm(FlaskForm):
    name = StringField(_l("Name"))
    category = ChoiceField(_l("Category"), choices=[], validators=[Optional()])
    priority = ChoiceField(_l("Priority"), choices=[], validators=[Optional()])
    # Checked by the service (autoassign.save_rule), which says why a view cannot be used.
    view = SelectField(_l("Saved view"), choices=[], validate_choice=False)
    strategy = ChoiceField(_l("Strategy"), choices=AssignmentStrategy.choices())
    members = ChoicesField(_l("Team"), choices=[], validators=[Optional()])
    position = WholeNumberField(_l("Order (rules are tried from the lowest)"), maximum=10_000)
    enabled = BooleanField(_l("Enabled"))


def _rule_form(rule: AssignmentRule | None) -> RuleForm:
    form = RuleForm()
    form.category.choices = [("", _("Any category"))] + list(Category.choices())
    form.priority.choices = [("", _("Any priority"))] + list(Priority.choices())
    form.members.choices = [(str(u.id), u.display_name) for u in staff_users()]
    form.view.choices = [("", _("Any ticket (no view)"))] + [
        (str(view_id), label) for view_id, label in autoassign.shared_views()
    ]
    if request.method == "GET":
        if rule is not None:
            form.name.data, form.strategy.data, form.enabled.data = rule.name, rule.strategy, rule.enabled
            form.category.data, form.priority.data = rule.category or "", rule.priority or ""
            form.view.data = str(rule.saved_view_id or "")
            form.position.data = rule.position
            form.members.data = [str(i) for i in autoassign.members_of([rule.id])[rule.id]]
        else:
            form.strategy.data, form.enabled.data, form.position.data = "least_loaded", True, 0
    return form


def _input(form: RuleForm) -> RuleInput:
    return RuleInput(
        name=form.name.data, category=form.category.data or None, priority=form.priority.data or None,
        strategy=form.strategy.data, enabled=bool(form.enabled.data), position=form.position.data or 0,
        members=list(form.members.data or []), view=form.view.data or None,
    )


@rules_bp.route("/")
@admin_required
def rules():
    found = autoassign.all_rules()
    people = {u.id: u.display_name for u in staff_users()}
    return render_template("admin/assignment_rules.html", rules=found,
                           members=autoassign.members_of(r.id for r in found), people=people,
                           views=autoassign.view_names(r.saved_view_id for r in found))


def _rule(rule_id: int) -> AssignmentRule:
    rule = db.session.get(AssignmentRule, rule_id) if 0 < rule_id <= MAX_ID else None
    return rule or abort(404)


def _edit(rule: AssignmentRule | None):
    form = _rule_form(rule)
    return form_page(
        form, lambda: autoassign.save_rule(rule, _input(form)),
        page=lambda: render_template("admin/assignment_rule_form.html", form=form, rule=rule),
        done=lambda saved_rule: saved(_("Rule %(name)s saved.", name=saved_rule.name),
                                      url_for("assignment_rules.rules")),
    )


@rules_bp.route("/new", methods=["GET", "POST"])
@admin_required
def new_rule():
    return _edit(None)


@rules_bp.route("/<int:rule_id>", methods=["GET", "POST"])
@admin_required
def edit_rule(rule_id: int):
    return _edit(_rule(rule_id))


@rules_bp.route("/<int:rule_id>/delete", methods=["POST"])
@admin_required
def delete_rule(rule_id: int):
    rule = _rule(rule_id)
    name = rule.name
    autoassign.delete_rule(rule)
    return saved(_("Rule %(name)s deleted.", name=name), url_for("assignment_rules.rules"))


def template_globals() -> dict[str, Any]:
    return {"workspace_header": workspace_header}

