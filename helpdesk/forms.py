"""How a form page answers a refused request: the one place a `ServiceError` becomes field errors.

A view parses its form and calls one service. `submit` does both: it answers 400 when the CSRF
token is missing or expired and 422 when a field does not parse; when the service refuses, it
rolls the session back and `refuse` puts each message next to its field (flashing what has no
field) and answers the error's status. Nothing the user typed is lost: the view renders the
same form again. A `ServiceError` that no form catches (a 404 for another company's id, a
conflict on a one-button form) reaches `refused_page`, registered by the app for every page:
it rolls back too and answers the refused page with the error's status.

The form refuses bad input first: choice fields (`ChoiceField`, `RadioChoiceField`,
`ChoicesField`) validate the posted code and name the choices by their labels, never the stored
codes; `WholeNumberField` takes ASCII digits only (`helpdesk.text.whole_number`) within a range,
and `AmountField` an amount with at most two decimals. The view passes the typed `data` to the
service, which checks it again (the API calls it with JSON values) and owns the rules between
fields.

`refuse` and `refused_page` are the web's one place to roll back a refused change; services
raise and leave the session to them (and, for anything else, to Flask-SQLAlchemy's teardown at the end of the
request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from flask import flash, redirect, render_template, request
from wtforms import (
    DecimalField,
    Field,
    FieldList,
    FormField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import whole_number

T = TypeVar("T")


def form_status(form: Any) -> int | None:
    """None when the form parsed; else 400 for a missing/expired CSRF token, 422 for bad fields."""
    if form.validate():
        return None
    if form.meta.csrf and form.csrf_token.errors:
        return 400
    return 422


def _fields(fields: Iterable[Field]) -> Iterator[Field]:
    for found in fields:
        yield found
        if isinstance(found, FieldList):
            yield from _fields(found.entries)
        elif isinstance(found, FormField):
            yield from _fields(found)


def place_errors(form: Any, messages: Mapping[str, str]) -> list[str]:
    """Put each message next to its field (also inside lists of sub-forms, with or without the
    form's prefix); return the messages that have no field on this form."""
    by_name = {f.name: f for f in _fields(form)}
    unplaced = []
    for name, message in messages.items():
        target = by_name.get(name) or by_name.get(f"{form._prefix}{name}")
        if target is not None:
            target.errors = list(target.errors) + [message]
        else:
            unplaced.append(message)
    return unplaced


def refuse(form: Any | None, error: ServiceError, *, flash_message: bool = False) -> int:
    """Undo the refused change and show why on the form; returns the status to answer with.

    Messages go next to their fields; what has no field is flashed (the error's message when it
    names no field). With `flash_message` the error's message is flashed in any case. With no
    form (a small form the page does not show again) every message is flashed.
    """
    refusal(error)
    unplaced = list(error.fields.values()) if form is None else place_errors(form, error.fields)
    if flash_message or not error.fields:
        flash(error.message, "error")
    for message in unplaced:
        flash(message, "error")
    return error.status


def flash_form_errors(form: Any, status: int) -> None:
    """For a small form the page shows afresh: flash why it did not parse (an expired token, or
    each field's message, which names the field's choices or range)."""
    if status == 400:
        flash(_("The form has expired; please try again."), "error")
        return
    for found in _fields(form):
        for message in found.errors:
            if isinstance(message, str):
                flash(message, "error")


def refused_page(error: ServiceError, *details: str) -> tuple[str, int]:
    """The page for a refusal no form shows: undo the change, say why (with `details`, each once),
    answer the error's status."""
    refusal(error)
    message = " ".join(dict.fromkeys([error.message, *details]))
    return render_template("refused.html", status=error.status, message=message), error.status


def refusal(error: ServiceError) -> tuple[dict[str, str], int]:
    """For a page that shows its own errors by field (no WTForms): undo the refused change and
    hand back the messages by field and the status to answer with."""
    db.session.rollback()
    return error.fields, error.status


@dataclass(frozen=True)
class Submitted(Generic[T]):
    """What became of a submitted form: done (with the service's result) or the 4xx to answer."""

    status: int | None = None
    value: T | None = None
    invalid: bool = False  # the form itself did not parse, so no service was called

    @property
    def done(self) -> bool:
        return self.status is None


def submit(form: Any, action: Callable[[], T], *, flash_message: bool = False) -> Submitted[T]:
    """Parse `form` and, when it parses, run `action` (one service call); see the module's docstring.

    `flash_message` is passed on to `refuse`."""
    status = form_status(form)
    if status is not None:
        return Submitted(status=status, invalid=True)
    try:
        value = action()
    except ServiceError as exc:
        return Submitted(status=refuse(form, exc, flash_message=flash_message))
    return Submitted(value=value)


def saved(message: str, url: str) -> Any:
    """After a change: say so, and go to `url` (a redirect, so a reload does not post again)."""
    flash(message, "success")
    return redirect(url)


def form_page(
    form: Any, action: Callable[[], T], *, page: Callable[[], str], done: Callable[[T], Any],
    flash_message: bool = False,
) -> Any:
    """A page with one form: shown on GET; on POST the form is submitted and `done(value)` answers
    (usually `saved(...)`), or the page is shown again, with what was typed, and the 4xx.
    `flash_message` is passed on to `refuse`."""
    status = 200
    if request.method == "POST":
        outcome = submit(form, action, flash_message=flash_message)
        if outcome.done:
            return done(outcome.value)  # type: ignore[arg-type]
        status = outcome.status or 422
    return page(), status


# -- fields that parse: the form refuses bad input first, next to the field, with 422 ---------


def choose_one_of(field: Any) -> str:
    """"Choose one of: Question, Configuration change, Bug." from the field's labels (never its codes)."""
    labels = [str(choice.label) for choice in field.choices or () if getattr(choice, "value", "") != ""]
    return _("Choose one of: %(values)s.", values=", ".join(labels))


class _LabelledChoice:
    """A choice field that validates its choice and says what the choices are called.

    With an `Optional()` validator the field may be left out of the post (a page that does not
    show it); it keeps its default then. Anything else posted must be one of the choices.
    `message` replaces "Choose one of: ..." where the choices are rows, not a vocabulary."""

    def __init__(self, *args: Any, message: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal = message

    def pre_validate(self, form: Any) -> None:
        if self.flags.optional and not self.raw_data:  # type: ignore[attr-defined]
            return
        try:
            super().pre_validate(form)  # type: ignore[misc]
        except ValidationError:
            raise ValidationError(self.refusal or choose_one_of(self)) from None


class ChoiceField(_LabelledChoice, SelectField):
    """A select whose posted value must be one of its choices."""


class RadioChoiceField(_LabelledChoice, RadioField):
    """Radio buttons whose posted value must be one of its choices."""


class ChoicesField(_LabelledChoice, SelectMultipleField):
    """Several choices (as check boxes), each of which must be one of the field's choices."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WholeNumberField(StringField):
    """A whole number typed in ASCII digits (`helpdesk.text.whole_number`: "３０" is refused),
    from `minimum` to `maximum`; empty gives None (the service says when a value is required).

    `range_message` replaces the out-of-range message. What was typed is shown again as typed."""

    def __init__(
        self, label: Any = None, validators: Any = None, *, minimum: int = 0, maximum: int,
        range_message: Any = None, **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.minimum, self.maximum, self.range_message = minimum, maximum, range_message
        self._bad = False

    def process_formdata(self, valuelist: list[Any]) -> None:
        self._bad = False
        text = valuelist[0] if valuelist else ""
        if not isinstance(text, str) or not text.strip():
            self.data = None
            return
        self.data = whole_number(text, signed=True)  # a negative number is out of range, not garbage
        self._bad = self.data is None

    def process_data(self, value: Any) -> None:
        self.data = None if value in (None, "") else int(value)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)

    def pre_validate(self, form: Any) -> None:
        if self._bad:
            raise ValidationError(_("Enter a whole number with the digits 0-9."))
        if self.data is not None and not self.minimum <= self.data <= self.maximum:
            raise ValidationError(str(self.range_message) if self.range_message else _(
                "Enter a whole number from %(low)s to %(high)s.", low=self.minimum, high=self.maximum
            ))


class AmountField(DecimalField):
    """An amount of money: ASCII digits with at most two decimals after a point or a comma, from 0
    to `maximum`; empty gives None. (Decimal() alone would take "１８０" or "1e3".)"""

    _AMOUNT = re.compile(r"[0-9]{1,12}([.,][0-9]{1,12})?")

    def __init__(self, label: Any = None, validators: Any = None, *, maximum: Decimal, **kwargs: Any) -> None:
        super().__init__(label, validators, places=2, **kwargs)
        self.maximum = maximum
        self._bad = False

    def process_formdata(self, valuelist: list[Any]) -> None:
        self._bad = False
        text = (valuelist[0] if valuelist else "") or ""
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            self.data = None
            return
        if not self._AMOUNT.fullmatch(text):
            self.data, self._bad = None, True
            return
        try:
            self.data = Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            self.data, self._bad = None, True

    def process_data(self, value: Any) -> None:
        self.data = None if value in (None, "") else Decimal(str(value))

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return super()._value()

    def pre_validate(self, form: Any) -> None:
        if self._bad or (self.data is not None and (
            not 0 <= self.data <= self.maximum or self.data != self.data.quantize(Decimal("0.01"))
        )):
            raise ValidationError(_(
                "Enter an amount from 0 to %(max)s with at most two decimals.", max=self.maximum
            ))
