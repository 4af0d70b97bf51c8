"""Web forms of the onboarding pages. They carry CSRF and parse the fields (choices validated,
numbers in ASCII digits); the services check the values again and own the rules between them."""

from __future__ import annotations

from flask import current_app, request
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FileField,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from helpdesk.date_bounds import WithinDateBounds
from helpdesk.forms import ChoiceField, ChoicesField, WholeNumberField
from helpdesk.i18n import _l
from plans.onboarding.labels import PROTOCOL_FUNCTIONS
from plans.onboarding.protocol import ScanUpload
from plans.onboarding.vocabulary import IntegrationKind, ItemState, MeetingKind, PlanSection, Timing


def choices(pairs) -> list[SelectChoice]:
    """Options of a select from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    return [SelectChoice(str(value), label) for value, label in pairs]


CheckboxesField = ChoicesField


def _date(label) -> DateField:
    return DateField(label, validators=[Optional(), WithinDateBounds()], format="%Y-%m-%d")


class StartOnboardingForm(FlaskForm):
    # The people and clients are listed by the views; the services check the ids they get (who
    # may be chosen, and that the request may act at all, which decides 403 before any 422).
    client = SelectField(_l("Client"), choices=[], validate_choice=False)
    guardian = SelectField(_l("Guardian"), choices=[], validate_choice=False)
    kickoff_planned_on = _date(_l("Kickoff planned on"))


class GuardianForm(FlaskForm):
    guardian = SelectField(_l("Guardian"), choices=[], validate_choice=False)  # see StartOnboardingForm


class StageForm(FlaskForm):
    planned_on = _date(_l("Planned on"))
    owner = SelectField(_l("Owner"), choices=[], validate_choice=False)  # see StartOnboardingForm
    notes = TextAreaField(_l("Notes (staff only)"))


class StageProgressForm(FlaskForm):
    to_state = HiddenField()
    actual_on = _date(_l("Date"))
    reason = StringField(_l("Reason, if earlier stages are not done"))


class TrainingForm(FlaskForm):
    held_on = _date(_l("Training held on"))
    plan_checked = BooleanField(_l("The integrations were checked against the Success Plan"))
    access_handed_over = BooleanField(_l("Access to the panel was handed over"))
    notes = TextAreaField(_l("Notes (staff only)"))
    reason = StringField(_l("Reason, if earlier stages are not done"))


class PlanEntryForm(Form):
    # Optional: rows the page did not post are blank rows; a posted value must be one of the choices.
    section = ChoiceField(_l("Section"), choices=PlanSection.choices(), validators=[Optional()])
    kind = ChoiceField(
        _l("Kind of integration"), choices=choices([("", "—")]) + IntegrationKind.choices(), validators=[Optional()]
    )
    name = StringField(_l("Name"))
    timing = ChoiceField(_l("When"), choices=Timing.choices(), validators=[Optional()])
    notes = StringField(_l("Notes"))


class PlanForm(FlaskForm):
    entries = FieldList(FormField(PlanEntryForm), min_entries=5, max_entries=30)
    note = StringField(_l("What this version adds, and why"))


class ItemStateForm(FlaskForm):
    state = ChoiceField(_l("State"), choices=ItemState.choices())


class StartDataItemForm(FlaskForm):
    label = StringField(_l("Start data to ask for"))
    required = BooleanField(_l("Required before configuration starts"), default=True)


class ProtocolForm(FlaskForm):
    signed_on = _date(_l("Signed on"))
    functions = CheckboxesField(
        _l("Basic functions confirmed"), choices=choices(PROTOCOL_FUNCTIONS.items())
    )
    scan = FileField(_l("Scan of the signed protocol (PDF)"))


class MeetingForm(FlaskForm):
    # Optional: the edit page posts no kind (a meeting keeps its kind); a posted kind must be one.
    kind = ChoiceField(_l("Meeting"), choices=MeetingKind.choices(), validators=[Optional()])
    day = _date(_l("Date"))
    start_time = TimeField(_l("Start time"), validators=[Optional()])
    duration_minutes = WholeNumberField(
        _l("Duration (minutes)"), minimum=5, maximum=480, default=60,
        range_message=_l("A meeting lasts from 5 to 480 minutes."),
    )
    location = StringField(_l("Where (room or link)"))
    notes = TextAreaField(_l("Notes (staff only)"))
    participants = CheckboxesField(
        _l("Participants"), choices=[], validate_choice=False  # see StartOnboardingForm
    )


class ConfirmForm(FlaskForm):
    """An action with nothing to fill in but its CSRF token."""


def uploaded_scan(field_name: str = "scan") -> ScanUpload | None:
    """The uploaded file, read up to the size limit plus one byte (so an oversize is detected)."""
    found = request.files.get(field_name)
    if found is None or not found.filename:
        return None
    limit = current_app.config["PROTOCOL_SCAN_MAX_BYTES"]
    return ScanUpload(found.filename, found.stream.read(limit + 1))
