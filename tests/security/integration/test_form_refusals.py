"""helpdesk.forms: how a form page answers a form that does not parse and a refused service call."""

from __future__ import annotations

from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, StringField
from wtforms.validators import InputRequired

from helpdesk.errors import ServiceError
from helpdesk.forms import place_errors, refuse, submit


class Entry(Form):
    name = StringField()


class PlanLike(FlaskForm):
    note = StringField()
    minutes = IntegerField(validators=[InputRequired()])
    entries = FieldList(FormField(Entry), min_entries=2)


class Refused(ServiceError):
    status = 409


def test_messages_go_next_to_fields_even_in_sub_forms_and_with_a_prefix(app):
    with app.test_request_context(method="POST", data={"done-note": "x", "done-minutes": "5"}):
        form = PlanLike(prefix="done")
        unplaced = place_errors(form, {"note": "Too long.", "entries-1-name": "Name it.", "nowhere": "Lost?"})
        assert form.note.errors == ["Too long."]
        assert form.entries.entries[1].form.name.errors == ["Name it."]
        assert unplaced == ["Lost?"]


def test_submit_answers_422_for_a_field_that_does_not_parse_and_calls_nothing(app):
    called = []
    with app.test_request_context(method="POST", data={"minutes": "many"}):
        outcome = submit(PlanLike(), lambda: called.append(1))
    assert (outcome.done, outcome.status, outcome.invalid, called) == (False, 422, True, [])


def test_submit_answers_400_without_a_csrf_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        with app.test_request_context(method="POST", data={"minutes": "5"}):
            outcome = submit(PlanLike(), lambda: "never")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert (outcome.status, outcome.invalid, outcome.value) == (400, True, None)


def test_a_refusal_is_placed_flashed_and_answers_its_status(app):
    def refused():
        raise Refused("Not now.", {"note": "Too late.", "other": "See above."})

    with app.test_request_context(method="POST", data={"minutes": "5"}):
        form = PlanLike()
        outcome = submit(form, refused)
        assert (outcome.done, outcome.status, outcome.invalid) == (False, 409, False)
        assert form.note.errors == ["Too late."]
        assert get_flashed_messages(with_categories=True) == [("error", "See above.")]
    # Without fields the error's own message is flashed; `flash_message` flashes it always.
    with app.test_request_context(method="POST", data={"minutes": "5"}):
        form = PlanLike()
        assert refuse(form, Refused("Not now.")) == 409
        assert refuse(form, Refused("Not now.", {"note": "Again."}), flash_message=True) == 409
        assert get_flashed_messages() == ["Not now.", "Not now."]


def test_submit_hands_back_what_the_service_returned(app):
    with app.test_request_context(method="POST", data={"minutes": "5"}):
        outcome = submit(PlanLike(), lambda: 42)
    assert (outcome.done, outcome.status, outcome.value) == (True, None, 42)
