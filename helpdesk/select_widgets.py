"""A select's HTML kept per process, keyed by everything it is made of.

WTForms builds every ``<select>`` anew: it turns each choice into a ``SelectChoice`` twice (once
to ask whether there are groups), compares each with the value, escapes each label and looks the
field's flags up with ``dir()``. The agent's ticket page renders eight selects (status, priority,
category and assignee, each twice) on every request, always from the same few option lists: a
tenth of the page's time. Their HTML is a function of the widget, the field's name and id, the
attributes given, the flags, each choice's value and label and the selected value; a label that
is a lazy translation (or a vocabulary's Label) is named by its message and variables plus the reader's locale (what
``str()`` of it depends on). That tuple is the key, so a new agent in the assignee list, a
renamed one, another language or another selected value is another key: nothing is invalidated
because nothing stale can be found. A select with anything else (option groups, per-option
attributes, a field or widget class that chooses its options its own way, an unhashable value)
is rendered by WTForms as before.
"""

from __future__ import annotations

from typing import Any

import flask_babel
from flask_babel.speaklater import LazyString
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice, SelectField, SelectMultipleField
from wtforms.widgets import core

from helpdesk.vocabulary import Label

ORIGINAL_CALL = core.Select.__call__
MAX_ENTRIES = 2048
_RENDERED: dict[tuple[Any, ...], Markup] = {}
# Fields whose options come from WTForms' own iter_choices (the ones this key describes).
_STOCK_ITER_CHOICES = {SelectField.iter_choices, SelectMultipleField.iter_choices}
_UNCACHED = object()


def _label_key(label: Any) -> Any:
    if type(label) is str or type(label) is Markup:  # a Markup label is not escaped: its type counts
        return (type(label), label)
    if type(label) is LazyString:
        return (label._func, label._args, tuple(sorted(label._kwargs.items())))
    if type(label) is Label:  # a vocabulary's label: its msgid, translated in the reader's locale
        return (Label, label.msgid)
    return _UNCACHED


def _choices_key(choices: Any) -> tuple[Any, ...] | None:
    if type(choices) is not list:
        return None
    key = []
    for choice in choices:
        if type(choice) is SelectChoice:
            if choice.render_kw or choice.optgroup is not None:
                return None
            value, label = choice.value, choice.label
        elif type(choice) is tuple and len(choice) == 2:
            value, label = choice
            label = value if label is None else label
        else:
            return None
        label_key = _label_key(label)
        if label_key is _UNCACHED or type(value) not in (str, int):
            return None
        key.append((type(value), value, label_key))
    return tuple(key)


def _key(widget: core.Select, field: Any, kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    if type(widget) is not core.Select or type(field).iter_choices not in _STOCK_ITER_CHOICES:
        return None
    choices = _choices_key(field.choices)
    if choices is None:
        return None
    data = field.data
    if type(data) is list:
        data = tuple(data)
    flags = tuple(getattr(field.flags, name) for name in widget.validation_attrs)
    attributes = tuple(sorted((name, type(value), value) for name, value in kwargs.items()))
    key = (widget.multiple, type(field), field.name, field.id, field.coerce, type(data), data, flags, attributes,
           str(flask_babel.get_locale()), choices)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def select_call(self: core.Select, field: Any, **kwargs: Any) -> Markup:
    """``Select.__call__``, its HTML found by its key when it was made before."""
    key = _key(self, field, kwargs)
    if key is None:
        return ORIGINAL_CALL(self, field, **kwargs)
    html = _RENDERED.get(key)
    if html is None:
        html = ORIGINAL_CALL(self, field, **kwargs)
        if len(_RENDERED) >= MAX_ENTRIES:
            _RENDERED.clear()
        _RENDERED[key] = html
    return html


def install() -> None:
    core.Select.__call__ = select_call  # type: ignore[method-assign]
