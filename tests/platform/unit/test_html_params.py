"""helpdesk/html_params.py writes exactly what WTForms' own html_params writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import widgets
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
