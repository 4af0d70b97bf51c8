"""Web forms for tickets. Choices come from the vocabularies and are validated, numbers are parsed
here (ASCII digits); the services check the values again for the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional

from helpdesk.forms import AmountField, ChoiceField, RadioChoiceField, WholeNumberField
from helpdesk.i18n import _, _l
from helpdesk.uploads import CheckedFile, UploadError, check_file
from plans.coverage import MAX_ENTRY_MINUTES
from plans.services import MAX_RATE
from tickets.vocabulary import Category, Priority, Status

T = TypeVar("T")


class NewTicketForm(FlaskForm):
    subject = StringField(_l("Subject"))
    description = TextAreaField(_l("Description"))
    category = RadioChoiceField(_l("Category"), choices=Category.choices())
    priority = ChoiceField(_l("Priority"), choices=Priority.choices(), default="normal")
    attachments = MultipleFileField(_l("Attachments"))


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply"))
    internal = BooleanField(_l("Internal note (not shown to the client)"))
    attachments = MultipleFileField(_l("Attachments"))


class ActionForm(FlaskForm):
    """A button that changes one thing (close, reopen): a CSRF token only."""


class FollowerForm(FlaskForm):
    # Choices (the company's colleagues) are set by the page; the service checks the id it is given.
    user = SelectField(_l("Colleague"), choices=[], validate_choice=False)


class StatusForm(FlaskForm):
    status = ChoiceField(_l("Status"), choices=Status.choices())


class PriorityForm(FlaskForm):
    priority = ChoiceField(_l("Priority"), choices=Priority.choices())


class CategoryForm(FlaskForm):
    category = ChoiceField(_l("Category"), choices=Category.choices())
    reason = StringField(_l("Why"))


class SaveViewForm(FlaskForm):
    # The filters come as hidden fields (tickets.saved_views.VIEW_ARGS); the service checks them.
    name = StringField(_l("View name"))
    shared = BooleanField(_l("Shared with all staff"))


class RenameViewForm(FlaskForm):
    name = StringField(_l("View name"))
    shared = BooleanField(_l("Shared with all staff"))


class DeleteViewForm(FlaskForm):
    """A button: the form carries the CSRF token only."""


class AssignForm(FlaskForm):
    # Choices (the staff) are set by the page; the service checks the id it is given.
    assignee = SelectField(_l("Assignee"), choices=[], validate_choice=False)


class TimeEntryForm(FlaskForm):
    minutes = WholeNumberField(
        _l("Minutes"), minimum=1, maximum=MAX_ENTRY_MINUTES,
        range_message=_l("Enter the minutes worked, from 1 to %(max)s (one day).", max=MAX_ENTRY_MINUTES),
    )
    work_date = StringField(_l("Day worked"))
    note = StringField(_l("Note"))


class ApprovalForm(FlaskForm):
    outcome = RadioChoiceField(
        _l("Decision"),
        choices=[
            SelectChoice("billable", _l("Approve as billable work")),
            SelectChoice("goodwill", _l("Approve as goodwill (free of charge)")),
            SelectChoice("declined", _l("Decline")),
        ],
    )
    message = TextAreaField(_l("Message to the client"))
    rate = AmountField(_l("Hourly rate (empty: the plan's rate)"), maximum=MAX_RATE)
    currency = StringField(_l("Currency"), default="PLN")


def uploaded_files(field_name: str = "attachments") -> tuple[list[CheckedFile], str | None]:
    """The request's files, checked; or the first problem as a message for the form."""
    config = current_app.config
    files = [f for f in request.files.getlist(field_name) if f and f.filename]
    if len(files) > config["ATTACHMENT_MAX_FILES"]:
        return [], _("At most %(n)s files at once.", n=config["ATTACHMENT_MAX_FILES"])
    checked = []
    for storage in files:
        data = storage.stream.read(config["ATTACHMENT_MAX_BYTES"] + 1)
        try:
            checked.append(check_file(storage.filename, data, config["ATTACHMENT_MAX_BYTES"]))
        except UploadError as exc:
            return [], str(exc)
    return checked, None


def with_files(action: Callable[[list[CheckedFile]], T], field_name: str = "attachments") -> Callable[[], T]:
    """`action` given the request's checked files, for `helpdesk.forms.submit`: a file that cannot
    be accepted refuses the form next to its field, before the service is called."""
    def run() -> T:
        files, problem = uploaded_files(field_name)
        if problem:
            raise UploadError(problem, field_name)
        return action(files)
    return run


def _keep(choices: list[SelectChoice], keep_label: object) -> list[SelectChoice]:
    """A vocabulary's choices after a first "" choice that leaves the value as it is."""
    return [SelectChoice("", keep_label), *choices]


class TriageForm(ReplyForm):
    """The agent's reply box: the text, and the fields one send may change with it ("" keeps
    the value; the names differ from the page's single-action forms). `seen_event` is the newest
    history event the page showed (the collision check); `macro` the macro that filled the form
    (its use is counted); `back` the queue's arguments (for the next ticket)."""

    set_status = ChoiceField(_l("Set status"), choices=_keep(Status.choices(), _l("Keep")), validators=[Optional()])
    set_assignee = SelectField(_l("Assign to"), choices=[], validate_choice=False)
    set_priority = ChoiceField(_l("Set priority"), choices=_keep(Priority.choices(), _l("Keep")), validators=[Optional()])
    set_category = ChoiceField(_l("Set category"), choices=_keep(Category.choices(), _l("Keep")), validators=[Optional()])
    category_reason = StringField(_l("Why the category changes"))
    time_minutes = WholeNumberField(
        _l("Minutes worked today"), minimum=1, maximum=MAX_ENTRY_MINUTES,
        range_message=_l("Enter the minutes worked, from 1 to %(max)s (one day).", max=MAX_ENTRY_MINUTES),
    )
    seen_event = HiddenField()
    macro = HiddenField()
    back = HiddenField()
    confirm = HiddenField()


class BulkForm(FlaskForm):
    """One change to the tickets ticked in the queue ("" keeps the value)."""

    ticket = SelectMultipleField(_l("Tickets"), choices=[], validate_choice=False)
    assignee = SelectField(_l("Assign to"), choices=[], validate_choice=False)
    status = ChoiceField(_l("Status"), choices=_keep(Status.choices(), _l("Keep")), validators=[Optional()])
    priority = ChoiceField(_l("Priority"), choices=_keep(Priority.choices(), _l("Keep")), validators=[Optional()])
    category = ChoiceField(_l("Category"), choices=_keep(Category.choices(), _l("Keep")), validators=[Optional()])
    reason = StringField(_l("Why the category changes"))
    back = HiddenField()


class MacroForm(FlaskForm):
    name = StringField(_l("Name"))
    body_en = TextAreaField(_l("Text in English"))
    body_pl = TextAreaField(_l("Text in Polish"))
    set_status = ChoiceField(_l("Set status"), choices=_keep(Status.choices(), _l("Keep")), validators=[Optional()])
    set_assignee = SelectField(_l("Assign to"), choices=[], validate_choice=False)
    set_priority = ChoiceField(_l("Set priority"), choices=_keep(Priority.choices(), _l("Keep")), validators=[Optional()])
    set_category = ChoiceField(_l("Set category"), choices=_keep(Category.choices(), _l("Keep")), validators=[Optional()])
    shared = BooleanField(_l("Shared with every agent"))
