"""Macro placeholders: which are known, what is refused when saving, how a text is rendered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.placeholders import PLACEHOLDERS, placeholder_problems, render

VALUES = {"client_name": "ACME", "ticket_number": "OP-7", "due_at": "04.12.2026 17:00", "coverage": "Bug fix"}


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("Hello {client_name}, {ticket_number} is due {due_at} ({coverage}).", []),
        ("No placeholders at all.", []),
        ("Literal braces {{like this}}.", []),
        ("Dear {name}", ["{name}"]),
        ("{client_name.__class__}", ["{client_name.__class__}"]),
        ("{ticket_number[0]}", ["{ticket_number[0]}"]),
        ("{coverage!r}", ["{coverage!r}"]),
        ("{due_at:>20}", ["{due_at:>20}"]),
        ("{}", ["{}"]),
        ("{0}", ["{0}"]),
        ("a lone { brace", ["{"]),
        ("a lone } brace", ["}"]),
        ("{x} and {x} and {y}", ["{x}", "{y}"]),
    ],
)
def test_what_is_refused_when_saving(text, problems):
    assert placeholder_problems(text) == problems


def test_rendering_substitutes_known_placeholders_only():
    text = "Hello {client_name}, {ticket_number} is due {due_at} ({coverage}). {{not}} {other}"
    assert render(text, VALUES) == "Hello ACME, OP-7 is due 04.12.2026 17:00 (Bug fix). {not} {other}"
    assert render("{client_name.__class__} {coverage!r}", VALUES) == "{client_name.__class__} {coverage!r}"
    assert render("broken { brace", VALUES) == "broken { brace"
    assert render("{due_at}", {}) == ""


def test_the_documented_list():
    assert PLACEHOLDERS == ("client_name", "ticket_number", "due_at", "coverage")


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=50), st.sampled_from(PLACEHOLDERS))
def test_a_value_is_never_read_as_a_template(prefix, name):
    """Values go in as they are: braces in a client's name are not expanded again."""
    values = dict(VALUES, client_name="{ticket_number} {{x}}")
    rendered = render(prefix + "{" + name + "}", values)
    assert rendered == prefix + values[name]
    assert placeholder_problems(prefix + "{" + name + "}") == []
