"""helpdesk/select_widgets.py: a kept select is the select WTForms would write now.

Every variant below differs from the one before it in one thing the HTML depends on; each is
rendered through the cache right after the others, so a key that missed that thing would serve
the earlier variant's HTML and the comparison with WTForms' own rendering would fail.
"""

from __future__ import annotations

from flask_babel import force_locale
from markupsafe import Markup
from wtforms import Form, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.widgets import core

from helpdesk import select_widgets
from helpdesk.i18n import _l
from helpdesk.vocabulary import _l as label


def _form(choices, data=None, *, name="pick", multiple=False, coerce=str, required=False, prefix="", tuples=False,
          id=None):  # noqa: A002
    """A bound select; with `tuples` its choices set as (value, label) pairs after it is made, as
    the agent pages set the staff list."""
    field_class = SelectMultipleField if multiple else SelectField
    validators = [InputRequired()] if required else []
    declared = [] if tuples else [c if isinstance(c, SelectChoice) else SelectChoice(*c) for c in choices]
    form_class = type("F", (Form,), {name: field_class("Pick", choices=declared, coerce=coerce, validators=validators,
                                                                 id=id)})
    field = getattr(form_class(prefix=prefix, data={name: data} if data is not None else None), name)
    if tuples:
        field.choices = list(choices)
    return field


def _same_as_wtforms(field, **kwargs):
    ours = select_widgets.select_call(field.widget, field, **kwargs)
    assert isinstance(ours, Markup)
    assert ours == select_widgets.ORIGINAL_CALL(field.widget, field, **kwargs)
    return ours


def test_installed_in_the_app(app):
    assert core.Select.__call__ is select_widgets.select_call


def test_every_thing_the_html_depends_on_is_in_the_key(app):
    staff = [("", "Nobody"), ("4", "Jan Agent"), ("5", "Maria Manager")]
    variants = [
        lambda: _form(staff, "4"),
        lambda: _form(staff, "4", tuples=True),
        lambda: _form(staff, "5", tuples=True),  # another selected value
        lambda: _form(staff, "5"),
        lambda: _form([*staff, ("7", "Zofia New")], "5", tuples=True),  # an agent added
        lambda: _form([("", "Nobody"), ("4", "Jan Renamed"), ("5", "Maria Manager")], "5"),  # renamed
        lambda: _form([("", "Nobody"), ("5", "Maria Manager")], "5"),  # one gone
        lambda: _form([("", "Nobody"), ("5", Markup("<b>Maria</b>"))], "5"),  # a Markup label is not escaped
        lambda: _form([("", "Nobody"), ("5", "<b>Maria</b>")], "5"),  # a plain one is
        lambda: _form([("", "Nobody"), ("5", "<b>Maria</b>")], "5", name="other"),  # another field
        lambda: _form([("", "Nobody"), ("5", "<b>Maria</b>")], "5", prefix="x"),  # another id and name
        lambda: _form([("", "Nobody"), ("5", "<b>Maria</b>")], "5", prefix="x", id="elsewhere"),  # another id
        lambda: _form([("", "Nobody"), ("5", "<b>Maria</b>")], "5", required=True),  # a flag
        lambda: _form([("1", "one"), ("2", "two")], 1, coerce=int),  # coerced values
        lambda: _form([("1", "one"), ("2", "two")], 2, coerce=int),
        lambda: _form([("1", "one"), ("2", "two")], ["1", "2"], multiple=True),
        lambda: _form([("1", "one"), ("2", "two")], ["2"], multiple=True),
        lambda: _form([SelectChoice("w", label("Waiting on client"))], "w"),  # vocabulary labels
        lambda: _form([SelectChoice("w", label("Keep"))], "w"),
        lambda: _form([SelectChoice("w", _l("Waiting on client"))], "w"),  # lazy translations
        lambda: _form([SelectChoice("w", _l("Keep"))], "w"),
        lambda: _form([SelectChoice("a", "A", optgroup="g")], "a"),  # groups: not kept, still right
        lambda: _form([SelectChoice("a", "A", render_kw={"data-x": "1"})], "a"),  # option attributes
    ]
    with app.test_request_context("/"):
        for make in variants:
            _same_as_wtforms(make())
        field = _form(staff, "4")
        _same_as_wtforms(field, class_="wide")  # attributes given when rendered
        _same_as_wtforms(field, class_="narrow")
        _same_as_wtforms(field, **{"data-me": "4"})
        _same_as_wtforms(field, **{"data-me": "5"})


def test_labels_follow_the_readers_language(app):
    choices = [SelectChoice("waiting_on_client", label("Waiting on client")), SelectChoice("", _l("Keep"))]
    with app.test_request_context("/"):
        english = _same_as_wtforms(_form(choices, ""))
        with force_locale("pl"):
            polish = _same_as_wtforms(_form(choices, ""))
        again = _same_as_wtforms(_form(choices, ""))
    assert "Waiting on client" in english and "Keep" in english and english == again
    assert "Oczekuje na klienta" in polish and "Bez zmian" in polish


def test_kept_selects_are_bounded(app):
    select_widgets._RENDERED.clear()
    with app.test_request_context("/"):
        for n in range(select_widgets.MAX_ENTRIES + 10):
            _same_as_wtforms(_form([(str(n), f"agent {n}")], str(n)))
    assert len(select_widgets._RENDERED) <= select_widgets.MAX_ENTRIES
