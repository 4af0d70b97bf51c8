"""WTForms' own messages come in the reader's language from a catalogue read once per locale
(helpdesk/babel_cache.wtforms_translations), not from the .mo file on every request."""

from __future__ import annotations

import flask_wtf.i18n
from flask_babel import force_locale

from helpdesk import babel_cache

# WTForms' messages, named through variables: pybabel extracts literal gettext("...") calls, and
# these belong to WTForms' catalogue, not ours.
REQUIRED, NOT_A_CHOICE = "This field is required.", "Not a valid choice."


def test_wtforms_messages_follow_the_locale_and_the_catalogue_is_read_once(app):
    assert flask_wtf.i18n._get_translations is babel_cache.wtforms_translations
    with app.test_request_context("/"):
        with force_locale("pl"):
            polish = babel_cache.wtforms_translations()
            assert flask_wtf.i18n.translations.gettext(REQUIRED) == "To pole jest wymagane."
        with force_locale("en"):
            assert flask_wtf.i18n.translations.gettext(REQUIRED) == "This field is required."
    with app.test_request_context("/"), force_locale("pl"):
        assert babel_cache.wtforms_translations() is polish  # the next request: the same catalogue
        assert flask_wtf.i18n.translations.gettext(NOT_A_CHOICE) == "Nieprawidłowy wybór"


def test_outside_a_request_no_translation(app):
    with app.app_context():
        assert babel_cache.wtforms_translations() is None
        assert flask_wtf.i18n.translations.gettext(REQUIRED) == "This field is required."


def test_a_form_says_wtforms_messages_in_polish(app):
    from flask_wtf import FlaskForm
    from wtforms import StringField
    from wtforms.validators import InputRequired

    class Form(FlaskForm):
        name = StringField("Name", validators=[InputRequired()])

    with app.test_request_context("/", method="POST", data={}), force_locale("pl"):
        form = Form(meta={"csrf": False})
        assert not form.validate()
        assert form.name.errors == ["To pole jest wymagane."]
