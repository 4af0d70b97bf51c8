"""helpdesk/html_params.py writes exactly what WTForms' own html_params writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import widgets
from wtforms.fields.choices import Choice
from wtforms.widgets import core

from helpdesk import html_params

keys = st.from_regex(r"(data_|aria_)?[a-z][a-z0-9_]{0,12}_?", fullmatch=True)
values = st.one_of(
    st.booleans(), st.integers(), st.none(), st.text(max_size=20),
    st.sampled_from(['a "quoted" <b>&amp;</b>', "it's", "{braces} %s"]).map(Markup),
    st.text(alphabet='<>&"\' x', max_size=10),
)


@given(st.dictionaries(keys, values, max_size=6))
def test_the_same_attributes_as_wtforms(kwargs):
    ours = html_params.html_params(**kwargs)
    assert ours == html_params.ORIGINAL(**kwargs)
    assert isinstance(ours, Markup)


def test_installed_in_the_app(app):
    for found in (core.html_params, widgets.html_params, core.Input.html_params, core.TextInput().html_params,
                  core.Button.html_params):
        assert found is html_params.html_params
    assert str(core.html_params(class_="x", data_row_id=3, required=True, disabled=False, value='a"b')) == \
        'class="x" data-row-id="3" required value="a&#34;b"'


choice_values = st.one_of(st.booleans(), st.integers(), st.none(), st.text(alphabet='<>&"\' xą', max_size=10),
                          st.sampled_from(['a "quoted" <b>&amp;</b>', "{x}"]).map(Markup))


@given(choice_values, st.one_of(st.none(), st.text(alphabet='<>&"\' xł', max_size=10)), st.booleans(),
       st.one_of(st.none(), st.dictionaries(keys, values, max_size=2)))
def test_the_same_options_as_wtforms(value, label, selected, render_kw):
    choice = Choice(value, label, selected, render_kw)
    original = html_params.ORIGINAL_RENDER_OPTION
    with_originals = (core.html_params, widgets.html_params)
    core.html_params = widgets.html_params = html_params.ORIGINAL
    try:
        expected = original(core.Select, choice)
    finally:
        core.html_params, widgets.html_params = with_originals
    ours = html_params.render_option(core.Select, choice)
    assert ours == expected
    assert isinstance(ours, Markup)


def test_option_renderer_installed(app):
    from wtforms import Form, SelectField
    from wtforms.fields.choices import SelectChoice

    class F(Form):
        pick = SelectField(choices=[SelectChoice("a", "A & B"), SelectChoice("b", 'say "b"')], default="b")

    assert str(F().pick()) == \
        '<select id="pick" name="pick"><option value="a">A &amp; B</option><option selected value="b">say &#34;b&#34;</option></select>'
    assert core.Select._dispatch_render_option() is core.Select._dispatch_render_option()
