"""How a form page answers a refused request: the one place a `ServiceError` becomes field errors.

A view parses its form and calls one service. `submit` does both: it answers 400 when the CSRF
token is missing or expired and 422 when a field does not parse; when the service refuses, it
rolls the session back and `refuse` puts each message next to its field (flashing what has no
field) and answers the error's status. Nothing the user typed is lost: the view renders the
same form again. A `ServiceError` that no form catches (a 404 for another company's id, a
conflict on a one-button form) reaches `refused_page`, registered by the app for every page:
it rolls back too and answers the refused page with the error's status.

These two are the web's one place to roll back a refused change; services raise and leave the
session to them (and, for anything else, to Flask-SQLAlchemy's teardown at the end of the
request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import flash, redirect, render_template, request
from wtforms import Field, FieldList, FormField

from helpdesk.errors import ServiceError
from helpdesk.extensions import db

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
