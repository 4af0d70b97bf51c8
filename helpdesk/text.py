"""What typed text must look like before a service stores it: the one rule per kind of field.

- A **one-line** field (a subject, a person's or a company's name, a plan, calendar or webhook
  name, a file name) holds no control character at all: no CR or LF (which would let a value
  add a line to an e-mail header built from it), no TAB, no other C0 or C1 control, no DEL, and
  no Unicode line or paragraph separator (U+2028, U+2029). Such a value is refused, not
  repaired, so what is stored is exactly what the person typed.
- A **required** field is blank when nothing visible is left after removing white space and the
  invisible format characters people paste by accident (zero-width space, joiners, word joiner,
  byte order mark).
- A **whole number** typed into a form is ASCII digits (Python's int() also takes "３０").

Pure functions over strings; the services call them and turn a message into a field error.
"""

from __future__ import annotations

import re
from typing import Any

from helpdesk.i18n import _

# C0 controls (CR, LF and TAB among them), DEL, C1 controls, and the Unicode line/paragraph separators.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible characters that make a field look filled in when it is not.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def one_line_error(value: str) -> str | None:
    """Why `value` cannot be a one-line field (a message for the user), or None when it can."""
    if _NOT_ON_ONE_LINE.search(value):
        return _("Must be one line of text, without line breaks, tabs or other control characters.")
    return None


def is_blank(value: str | None) -> bool:
    """True when nothing visible is left after white space and zero-width characters go."""
    return not _INVISIBLE.sub("", value or "").strip()


def whole_number(text: str, *, signed: bool = False) -> int | None:
    """The whole number written in ASCII digits (spaces around allowed; a leading minus only when
    `signed`), else None. Python's int() would also take "３０", "1_000" or "+5"."""
    text = (text or "").strip()
    if not _WHOLE_NUMBER.fullmatch(text) or (text.startswith("-") and not signed):
        return None
    return int(text)


def check_text(
    fields: dict[str, str], name: str, value: Any, *, limit: int, required: bool = False, one_line: bool = False
) -> str:
    """A form's text value, trimmed; a problem goes into `fields` under `name` (and "" comes back
    for a value that is not text). The services' one check of a text field."""
    if value is not None and not isinstance(value, str):
        fields[name] = _("Must be text.")
        return ""
    if value and "\x00" in value:  # PostgreSQL cannot store NUL in text
        fields[name] = _("Must not contain NUL characters.")
        return ""
    value = (value or "").strip()
    if one_line and (problem := one_line_error(value)):
        fields[name] = problem
    elif required and is_blank(value):
        fields[name] = _("This field is required.")
    elif len(value) > limit:
        fields[name] = _("At most %(limit)s characters.", limit=limit)
    return value
