"""The `label` filter: one way for every template, page or mail, to show a vocabulary's words
in the reader's language, whether it holds an enum member or the plain code a row stores."""

from __future__ import annotations

from flask_babel import force_locale

from plans.vocabulary import CoverageSource
from tickets.vocabulary import Status


def _render(app, source: str, **context) -> str:
    with app.app_context(), force_locale("pl"):
        return app.jinja_env.from_string(source).render(**context)


def test_codes_and_members_render_in_the_readers_language(app):
    assert _render(app, '{{ "urgent"|label("priority") }}|{{ s|label }}|{{ "bug"|label("category") }}',
                   s=Status.WAITING_ON_CLIENT) == "Pilny|" + _render(app, "{{ _('Waiting on client') }}") + "|Błąd"
    with app.app_context():
        assert app.jinja_env.from_string('{{ "urgent"|label("priority") }}').render() == "Urgent"


def test_a_vocabulary_lists_its_members_in_order_for_a_select(app):
    html = _render(app, '{% for s in vocabulary.coverage_source %}<option value="{{ s }}">{{ s|label }}</option>{% endfor %}')
    assert html.count("<option") == len(CoverageSource)
    assert html.startswith('<option value="bug_fix">') and 'value="none"' in html


def test_an_unknown_code_shows_as_itself_or_the_default(app):
    assert _render(app, '{{ "gone"|label("status") }}|{{ none|label("sla_state", "") }}|{{ "x"|label("charge", "—") }}') == "gone||—"


def test_no_label_dicts_are_left_as_template_globals(app):
    assert [name for name in app.jinja_env.globals if name.endswith(("_LABELS", "_HELP"))] == []
    assert "label" in app.jinja_env.filters and "word" not in app.jinja_env.globals
