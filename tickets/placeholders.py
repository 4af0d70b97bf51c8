"""Macro text: which placeholders a reply template may use, how a text is checked and rendered.

A macro's body is plain text with `{name}` placeholders from PLACEHOLDERS; `{{` and `}}` stand
for literal braces. Rendering is a plain substitution of those names (like `str.format_map`, but
never attribute or index access, conversions or format specs: `{client_name.__class__}` or
`{coverage!r}` are refused when the macro is saved, so rendering cannot reach into objects). A
text that was saved before a placeholder was withdrawn still renders: an unknown name is left as
it was typed. Pure: no Flask, no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

# The placeholders a macro may use, in the order the management page lists them.
PLACEHOLDERS = ("client_name", "ticket_number", "due_at", "coverage")


def placeholder_problems(text: str) -> list[str]:
    """What is wrong with `text`'s placeholders: each unknown or malformed one, as typed; [] when fine."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError:  # a lone "{" or "}"
        return ["{" if text.count("{") > text.count("}") else "}"]
    problems = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            typed = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            if typed not in problems:
                problems.append(typed)
    return problems


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with each known placeholder replaced by its value ("" when the value is missing).

    Assumes nothing about `text`: a malformed or unknown placeholder is kept as typed."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError:
        return text
    out = []
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name in PLACEHOLDERS and not spec and not conversion:
            out.append(str(values.get(name, "")))
        else:
            out.append("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    return "".join(out)
