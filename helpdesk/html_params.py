"""WTForms' ``html_params`` without ``Markup.format``: the same attributes, a fraction of the time.

Every form field's attributes and every ``<option>`` of a select go through
``wtforms.widgets.core.html_params``, which joins each ``key="value"`` with ``Markup.format``
(a ``string.Formatter`` walk per attribute). A ticket page renders some 70 of them, a fifth of
its time. ``install`` puts this one in its place: the same keys (``clean_key``), the same
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


def install() -> None:
    """Use this ``html_params`` wherever WTForms looks it up: its widgets' module, the package
    (field labels call ``widgets.html_params``) and the input and button widgets, which keep
    it as a static method."""
    core.html_params = html_params
    widgets.html_params = html_params
    core.Input.html_params = staticmethod(html_params)
    core.Button.html_params = staticmethod(html_params)
