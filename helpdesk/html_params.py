"""WTForms' ``html_params`` without ``Markup.format``: the same attributes, a fraction of the time.

Every form field's attributes and every ``<option>`` of a select go through
``wtforms.widgets.core.html_params``, which joins each ``key="value"`` with ``Markup.format``
(a ``string.Formatter`` walk per attribute). A ticket page renders some 70 of them, a fifth of
its time. ``install`` puts this one in its place (and a select's plain ``<option>`` written
directly, its renderer looked up once per widget class): the same keys (``clean_key``), the same
escaping of values (``escape``, quotes as ``&quot;``) and of keys (``Markup.format`` escapes a
plain key), the same sorting, booleans and output type (tests/platform/unit/test_html_params.py
checks it against WTForms' own on generated arguments). WTForms is pinned (requirements.txt).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets import core

ORIGINAL = core.html_params
_QUOTE, _QUOTE_ENTITY = Markup('"'), Markup("&quot;")


def html_params(**kwargs: Any) -> Markup:
    params = []
    for key, value in sorted(kwargs.items()):
        key = core.clean_key(key)
        if value is True:
            params.append(key)
        elif value is False:
            pass
        else:
            # Markup('{k}="{v}"').format(k=key, v=escaped): the key escaped, the value as it is.
            params.append(f'{escape(key)}="{escape(value).replace(_QUOTE, _QUOTE_ENTITY)}"')
    return Markup(" ".join(params))


ORIGINAL_RENDER_OPTION = core.Select.render_option.__func__  # type: ignore[attr-defined]


def render_option(cls: Any, choice: Any, **kwargs: Any) -> Markup:
    """``Select.render_option`` for the plain option (no extra attributes): the text its
    ``html_params`` would write (``selected`` sorts before ``value``) without building it."""
    if kwargs or choice.render_kw:
        return ORIGINAL_RENDER_OPTION(cls, choice, **kwargs)
    value = choice.value
    if isinstance(value, bool):
        value = str(value)
    value = escape(value).replace(_QUOTE, _QUOTE_ENTITY)
    label = escape(choice.label or choice.value)
    if choice.selected:
        return Markup(f'<option selected value="{value}">{label}</option>')
    return Markup(f'<option value="{value}">{label}</option>')


_DISPATCH = core.Select._dispatch_render_option.__func__  # type: ignore[attr-defined]
_DISPATCHED: dict[type, Any] = {}


def dispatch_render_option(cls: Any) -> Any:
    """WTForms picks the option renderer by inspecting its signature on every select it renders;
    the answer depends only on the class."""
    found = _DISPATCHED.get(cls)
    if found is None:
        found = _DISPATCHED[cls] = _DISPATCH(cls)
    return found


def install() -> None:
    """Use this ``html_params`` wherever WTForms looks it up: its widgets' module, the package
    (field labels call ``widgets.html_params``) and the input and button widgets, which keep
    it as a static method."""
    core.html_params = html_params
    widgets.html_params = html_params
    core.Input.html_params = staticmethod(html_params)
    core.Button.html_params = staticmethod(html_params)
    core.Select.render_option = classmethod(render_option)  # type: ignore[assignment]
    core.Select._dispatch_render_option = classmethod(dispatch_render_option)  # type: ignore[assignment]
