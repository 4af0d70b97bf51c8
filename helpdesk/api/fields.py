"""Marshmallow fields and validators with JSON's meaning, for the API's schemas.

The schemas built from these check every request (webargs), shape every response (dump) and
write the OpenAPI document (apispec), so the document says what the code accepts. Marshmallow's
own fields are lenient where JSON is not (its Integer takes "5" and true, its Boolean "yes"), so
each field here takes exactly its JSON type; messages are the user's language at request time.
A field checks shape (type, range, pattern); the services decide everything else.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import current_app
from marshmallow import ValidationError, fields, validate

from helpdesk.date_bounds import EARLIEST, LATEST, DateOutOfBounds, parse_day
from helpdesk.i18n import _, _l
from helpdesk.text import is_blank, one_line_error

MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
DATE_BOUNDS = f"From {EARLIEST} to {LATEST}."


def python_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema (ECMA-262) pattern for Python: there `$` never matches before a final newline."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


# -- validators (apispec reads their min/max/choices/regex into the document) ------------------


class Between(validate.Range):
    """A number from `min` to `max`, both included."""

    def _format_error(self, value: Any, message: str) -> str:
        return _("Must be from %(low)s to %(high)s.", low=self.min, high=self.max)


class Among(validate.OneOf):
    """One of a fixed set of values (words or numbers)."""

    def _format_error(self, value: Any) -> str:
        return _("Choose one of: %(values)s.", values=", ".join(map(str, self.choices)))


class Length(validate.Length):
    """At least `min` and at most `max` characters (or items); `max` may be read from the config
    by name, so the document states the limit the app runs with."""

    def __init__(self, min: int | None = None, max: int | str | None = None, *, items: bool = False) -> None:
        self._config_max = max if isinstance(max, str) else None
        self._items = items
        super().__init__(min=min, max=None if isinstance(max, str) else max)

    @property
    def max(self) -> int | None:  # type: ignore[override]
        return current_app.config[self._config_max] if self._config_max else self._max

    @max.setter
    def max(self, value: int | None) -> None:
        self._max = value

    def __call__(self, value: Any) -> Any:
        if self.min is not None and len(value) < self.min:
            raise ValidationError(
                _("At least %(limit)s items.", limit=self.min) if self._items
                else _("At least %(limit)s characters.", limit=self.min)
            )
        if self.max is not None and len(value) > self.max:
            raise ValidationError(
                _("At most %(limit)s items.", limit=self.max) if self._items
                else _("At most %(limit)s characters.", limit=self.max)
            )
        return value


class Pattern(validate.Validator):
    """Text that matches an ECMA-262 pattern, as JSON Schema reads it (documented as `pattern`)."""

    def __init__(self, pattern: str) -> None:
        self.regex = re.compile(pattern)  # what the document shows
        self._python = python_pattern(pattern)

    def __call__(self, value: str) -> str:
        if not self._python.search(value):
            raise ValidationError(_("Not in the expected format."))
        return value


class NotBlank(Pattern):
    """Something visible, not only spaces or zero-width characters (documented as `\\S`)."""

    def __init__(self) -> None:
        super().__init__(r"\S")

    def __call__(self, value: str) -> str:
        if is_blank(value):
            raise ValidationError(_("This field is required."))
        return value


def one_line(value: str) -> str:
    """No line break or other control character (helpdesk.text: no e-mail header injection)."""
    problem = one_line_error(value)
    if problem:
        raise ValidationError(problem)
    return value


def unique(items: list[Any]) -> list[Any]:
    """Each item at most once (1 and 1.0 are equal in JSON, so they count as the same)."""
    if len({repr(item) for item in items}) != len(items):
        raise ValidationError(_("Each item at most once."))
    return items


# -- fields ------------------------------------------------------------------------------------


class _Messages:
    """Required and null in the user's language (msgids of the catalogue)."""

    default_error_messages = {
        "required": _l("This field is required."),
        "null": _l("A value is required here (not null)."),
    }


class Text(_Messages, fields.String):
    """JSON text; NUL characters are always refused (no database stores them)."""

    default_error_messages = {"invalid": _l("Must be text.")}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if "\x00" in value:
            raise ValidationError(_("Must not contain NUL characters."))
        return value


class Integer(_Messages, fields.Integer):
    """A JSON whole number: 5.0 counts (JSON Schema says so), true and "5" do not."""

    default_error_messages = {"invalid": _l("Must be a whole number.")}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


class QueryInteger(Integer):
    """A whole number written in a query string: ASCII digits, an optional minus."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,20}", value):
            raise self.make_error("invalid")
        return int(value)


class Boolean(_Messages, fields.Boolean):
    """JSON true or false, nothing that merely looks like it."""

    default_error_messages = {"invalid": _l("Must be true or false.")}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Day(_Messages, fields.Date):
    """A calendar day written YYYY-MM-DD, within helpdesk.date_bounds (parse_day refuses the rest)."""

    default_error_messages = {"invalid": _l("Must be a date written YYYY-MM-DD.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("description", DATE_BOUNDS)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise self.make_error("invalid")
        try:
            return parse_day(value)
        except DateOutOfBounds as exc:
            raise ValidationError(str(exc)) from exc
        except ValueError as exc:
            raise self.make_error("invalid") from exc


class Instant(fields.DateTime):
    """An instant in ISO 8601 with its offset (the database keeps them in UTC)."""


class UniqueList(_Messages, fields.List):
    """A JSON array of different items, within [min_items, max_items]."""

    default_error_messages = {"invalid": _l("Must be a list.")}

    def __init__(self, item: fields.Field, *, min_items: int = 0, max_items: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {})["uniqueItems"] = True
        super().__init__(item, validate=[Length(min_items or None, max_items, items=True), unique], **kwargs)


class AnyOf(_Messages, fields.Field):
    """The first of several fields that takes the value (e.g. a user's id or e-mail address);
    documented as `anyOf` (see `any_of_properties`)."""

    def __init__(self, *options: fields.Field, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        first: ValidationError | None = None
        for option in self.options:
            try:
                return option.deserialize(value)
            except ValidationError as exc:
                first = first or exc
        assert first is not None
        raise first


def any_of_properties(converter: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: an AnyOf field is the anyOf of its options (plus null)."""
    if not isinstance(field, AnyOf):
        return {}
    ret.pop("type", None)
    options = [converter.field2property(option) for option in field.options]
    if field.allow_none:
        options.append({"type": "null"})
    return {"anyOf": options}


def choice(values: tuple[Any, ...] | list[Any], **kwargs: Any) -> Text:
    """One of a fixed list of words."""
    return Text(validate=Among(list(values)), **kwargs)


def text(*, min_length: int = 0, max_length: int | str | None = None, blank: bool = True,
         pattern: str | None = None, single_line: bool = False, **kwargs: Any) -> Text:
    """Text with the usual checks: length (`max_length` may name a config key), something
    visible (`blank=False`), a pattern, one line."""
    checks: list[Any] = []
    if min_length or max_length is not None:
        checks.append(Length(min_length or None, max_length))
    if pattern:
        checks.append(Pattern(pattern))
    elif not blank:
        checks.append(NotBlank())
    if single_line:
        checks.append(one_line)
    return Text(validate=checks, **kwargs)


def user_reference(description: str, *, allow_none: bool = False) -> AnyOf:
    """A user named by id or by e-mail address (the endpoint looks the e-mail up)."""
    return AnyOf(
        Integer(validate=Between(1, MAX_ID)),
        text(min_length=3, max_length=254, pattern=r"^[^@\x00-\x20]+@[^@\x00-\x20]+$"),
        allow_none=allow_none,
        metadata={"description": description},
    )


class Money(Text):
    """A decimal amount shown as text with two decimals, e.g. "180.50" (never a float)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{value:.2f}"
