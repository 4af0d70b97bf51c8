"""One definition per vocabulary: the stored codes of a concept and what they are called.

A vocabulary is a ``Vocabulary`` (a ``StrEnum``): each member is the plain string stored in the
database, sent by the API and carried by outbox rows, and it carries its translated ``label``
(and, where a page explains it, its ``help``). From the one enum come the database CHECK
constraints (``check``), form choices (``choices``), the API's enum lists (``values``), the
template filter ``label`` and the words of e-mails.

Why a marker of our own instead of ``flask_babel.lazy_gettext``: the pure rule modules
(plans/coverage.py, plans/periods.py, helpdesk/calendars.py, plans/onboarding/rules.py) use the
vocabularies and must not import Flask. ``_l`` here imports nothing: it returns a ``Label`` that
keeps the English msgid (pybabel extracts it through the ``_l`` keyword of babel.cfg) and
translates it with flask_babel only when it is turned into text, inside a request or
``force_locale``. So this module, and every vocabulary module built on it, stays importable
without Flask; a label is shown in the reader's language, never the importer's.

Each vocabulary registers itself under a name (``@vocabulary("category")``) so that templates,
including the kernel's mail templates, can name a vocabulary without the kernel importing the
package that owns it: ``{{ ticket.category|label("category") }}``, ``{{ member|label }}``, and
``{% for s in vocabulary.status %}`` to list one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

# How a Label is translated: flask_babel.gettext, unless the app gives a faster one of the same
# meaning (helpdesk.babel_cache.gettext, set by app.py; this module imports no Flask).
_translate: Callable[[str], str] | None = None


def use_translator(translate: Callable[[str], str] | None) -> None:
    global _translate
    _translate = translate


class Label:
    """A msgid translated when shown (``str``, ``%`` formatting, Jinja, WTForms)."""

    __slots__ = ("msgid",)

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    def __str__(self) -> str:
        if _translate is not None:
            return _translate(self.msgid)
        from flask_babel import gettext  # at use, not at import: the rule modules stay Flask-free

        return gettext(self.msgid)

    def __repr__(self) -> str:
        return f"Label({self.msgid!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Label) and other.msgid == self.msgid

    def __hash__(self) -> int:
        return hash(self.msgid)


def _l(msgid: str) -> Label:
    """Mark ``msgid`` for extraction; translated when the label is shown."""
    return Label(msgid)


class Vocabulary(StrEnum):
    """A vocabulary's members: ``NAME = "code", _l("Label")`` or ``NAME = "code", _l("Label"), _l("Help")``."""

    label: Label
    help: Label | None

    def __new__(cls, value: str, label: Label, help: Label | None = None):  # noqa: A002
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.help = help
        return member

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The codes as plain strings, in definition order (API enums, validation)."""
        return tuple(m.value for m in cls)

    @classmethod
    def check(cls, column: str, values: tuple[str, ...] | None = None) -> str:
        """The SQL of a CHECK constraint: ``column IN ('a', 'b')`` (the form the migrations hold)."""
        return f"{column} IN ({', '.join(repr(v) for v in (values or cls.values()))})"

    @classmethod
    def choices(cls, members: tuple[Any, ...] | None = None) -> list[Any]:
        """The options of a WTForms field (``SelectChoice(code, label)``), in definition order."""
        from wtforms import SelectChoice  # at use: the rule modules do not load the form library

        return [SelectChoice(m.value, m.label) for m in (members or tuple(cls))]

    @classmethod
    def label_of(cls, value: Any, default: Any = None) -> Any:
        """The label of a code; ``default`` (or the value itself) for an unknown one."""
        try:
            return cls(value).label
        except ValueError:
            return value if default is None else default


VOCABULARIES: dict[str, type[Vocabulary]] = {}


def vocabulary(name: str) -> Callable[[type[Vocabulary]], type[Vocabulary]]:
    """Register a vocabulary under ``name`` for the ``label`` filter and the ``vocabulary`` global."""

    def register(cls: type[Vocabulary]) -> type[Vocabulary]:
        if VOCABULARIES.get(name, cls) is not cls:
            raise ValueError(f"vocabulary {name!r} is defined twice")
        VOCABULARIES[name] = cls
        return cls

    return register


def label(value: Any, name: str | None = None, default: Any = None, attribute: str = "label") -> Any:
    """The template filter: a member's label, or the label of a code in the vocabulary ``name``.

    A code the vocabulary does not know shows as ``default`` (or as itself); ``attribute="help"``
    gives the member's help text instead.
    """
    if isinstance(value, Vocabulary):
        return getattr(value, attribute) or ""
    if name is None:
        return value if default is None else default
    try:
        member = VOCABULARIES[name](value)
    except ValueError:
        return value if default is None else default
    return getattr(member, attribute) or ""


class Words(dict):
    """A vocabulary's labels translated once, code -> text, for a page that shows one per row
    (``words.status[t.status]``); like the ``label`` filter, an unknown code shows as itself, or
    as ``default``."""

    def __init__(self, items: dict[str, str], default: str | None = None) -> None:
        super().__init__(items)
        self.default = default

    def __missing__(self, key: Any) -> Any:
        return key if self.default is None else self.default


def words(name: str, default: str | None = None) -> Words:
    """The vocabulary ``name``'s labels in the reader's language (call it within the request)."""
    return Words({member.value: str(member.label) for member in VOCABULARIES[name]}, default)


@vocabulary("priority")
class Priority(Vocabulary):
    """A ticket's priority; SLA policies set targets per priority (so the kernel owns it)."""

    LOW = "low", _l("Low")
    NORMAL = "normal", _l("Normal")
    HIGH = "high", _l("High")
    URGENT = "urgent", _l("Urgent")


@vocabulary("clock")
class Clock(Vocabulary):
    """The SLA clocks a policy sets targets for."""

    FIRST_RESPONSE = "first_response", _l("First response")
    RESOLUTION = "resolution", _l("Resolution")


@vocabulary("role")
class Role(Vocabulary):
    """What a user account may do."""

    CLIENT = "client", _l("Client user")
    AGENT = "agent", _l("Agent")
    MANAGER = "manager", _l("Manager")
    ADMIN = "admin", _l("Admin")
