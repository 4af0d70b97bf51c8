"""The admin's calendar pages: list the business calendars, add one, edit one."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField, TextAreaField

from helpdesk.calendars.models import Calendar, all_calendars, get_calendar
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.calendars.services import (
    WEEKDAY_FIELDS,
    WEEKDAY_LABELS,
    CalendarInput,
    input_of,
    save_calendar,
)
from helpdesk.extensions import db
from helpdesk.forms import form_page, saved
from helpdesk.i18n import _, _l
from helpdesk.security import admin_required

bp = Blueprint("calendars_admin", __name__, url_prefix="/admin/calendars")


class CalendarForm(FlaskForm):
    name = StringField(_l("Name"))
    timezone = StringField(_l("Time zone"))
    country = StringField(_l("Public holidays of the country (code, e.g. PL; empty: none)"))
    monday = StringField(WEEKDAY_LABELS["monday"])
    tuesday = StringField(WEEKDAY_LABELS["tuesday"])
    wednesday = StringField(WEEKDAY_LABELS["wednesday"])
    thursday = StringField(WEEKDAY_LABELS["thursday"])
    friday = StringField(WEEKDAY_LABELS["friday"])
    saturday = StringField(WEEKDAY_LABELS["saturday"])
    sunday = StringField(WEEKDAY_LABELS["sunday"])
    closed_dates = TextAreaField(_l("Extra closed dates"))
    open_dates = TextAreaField(_l("Extra open dates, with their hours"))


def _fill(form: CalendarForm, data: CalendarInput) -> None:
    form.name.data, form.timezone.data, form.country.data = data.name, data.timezone, data.country
    for day in WEEKDAY_FIELDS:
        getattr(form, day).data = data.weekly.get(day, "")
    form.closed_dates.data, form.open_dates.data = data.closed_dates, data.open_dates


def _input(form: CalendarForm) -> CalendarInput:
    return CalendarInput(
        name=form.name.data or "",
        timezone=form.timezone.data or "",
        country=form.country.data or "",
        weekly={day: getattr(form, day).data or "" for day in WEEKDAY_FIELDS},
        closed_dates=form.closed_dates.data or "",
        open_dates=form.open_dates.data or "",
    )


@bp.route("/")
@admin_required
def calendars():
    rows = all_calendars()
    used = dict(db.session.execute(
        select(SlaPolicy.calendar_id, func.count(SlaPolicy.id)).group_by(SlaPolicy.calendar_id)
    ).all())
    return render_template("admin/calendars.html", calendars=rows, used=used)


def _edit(row: Calendar | None):
    form = CalendarForm()
    if request.method == "GET":
        _fill(form, input_of(row))
    if row is not None and row.is_builtin:
        form.name.render_kw = {"readonly": True}
    return form_page(
        form, lambda: save_calendar(row, _input(form)),
        page=lambda: render_template("admin/calendar_form.html", form=form, calendar=row, weekdays=WEEKDAY_FIELDS),
        done=lambda saved_row: saved(
            _("Calendar %(name)s saved.", name=saved_row.name), url_for("calendars_admin.calendars")
        ),
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new_calendar():
    return _edit(None)


@bp.route("/<int:calendar_id>", methods=["GET", "POST"])
@admin_required
def edit_calendar(calendar_id: int):
    row = get_calendar(calendar_id) or abort(404)
    return _edit(row)
