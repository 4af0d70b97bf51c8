"""Declarative request fields: each one checks a value and describes itself as JSON Schema.

An endpoint names its body, query and path fields once; the same objects check every request and
write the OpenAPI document, so the document says exactly what the code accepts. A field only
checks shape (type, range, pattern); the services decide everything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from helpdesk.date_bounds import EARLIEST, LATEST, DateOutOfBounds, parse_day
from helpdesk.i18n import _
from helpdesk.text import is_blank

MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
Bound = int | Callable[[], int]


class Invalid(Exception):
    """One value is not acceptable; the message says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldErrors(Exception):
    """Some values of a body or a query are not acceptable: field name -> message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


def _bound(value: Bound | None) -> int | None:
    return value() if callable(value) else value


def _python_pattern(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262, where `$` never matches before a final newline.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


class Field:
    """A value of some JSON type. `nullable` fields also take null, meaning "none"."""

    json_type = "string"

    def __init__(
        self, *, description: str = "", nullable: bool = False, default: Any = None, example: Any = None
    ) -> None:
        self.description = description
        self.nullable = nullable
        self.default = default
        self.example = example

    def schema(self) -> dict[str, Any]:
        schema = self._schema()
        if self.nullable:
            if "type" in schema:
                schema["type"] = [schema["type"], "null"]
            else:
                schema = {"anyOf": [*schema["anyOf"], {"type": "null"}]}
        if self.description:
            schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        if self.example is not None:
            schema["examples"] = [self.example]
        return schema

    def parse(self, value: Any) -> Any:
        """The value from a JSON body, checked (raises Invalid)."""
        if value is None:
            if self.nullable:
                return None
            raise Invalid(_("A value is required here (not null)."))
        return self._parse(value)

    def parse_text(self, text: str) -> Any:
        """The value from a query string or a path, checked (raises Invalid)."""
        return self._parse(text)

    def _schema(self) -> dict[str, Any]:
        return {"type": self.json_type}

    def _parse(self, value: Any) -> Any:
        raise NotImplementedError


class String(Field):
    """Text. `blank=False` needs something visible (not only spaces or zero-width characters);
    NUL characters are always refused. One-line fields are checked by the services."""

    def __init__(
        self,
        *,
        min_length: int = 0,
        max_length: Bound | None = None,
        blank: bool = True,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length
        self.blank = blank
        self.pattern = pattern
        self._compiled = _python_pattern(pattern) if pattern else None

    def _schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = _bound(self.max_length)
        if self.pattern:
            schema["pattern"] = self.pattern
        elif not self.blank:
            schema["pattern"] = r"\S"
        return schema

    def _parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(_("Must be text."))
        if "\x00" in value:
            raise Invalid(_("Must not contain NUL characters."))
        if len(value) < self.min_length:
            raise Invalid(_("At least %(limit)s characters.", limit=self.min_length))
        limit = _bound(self.max_length)
        if limit is not None and len(value) > limit:
            raise Invalid(_("At most %(limit)s characters.", limit=limit))
        if not self.blank and is_blank(value):
            raise Invalid(_("This field is required."))
        if self._compiled is not None and not self._compiled.search(value):
            raise Invalid(_("Not in the expected format."))
        return value


class Integer(Field):
    """A whole number within [minimum, maximum] (and one of `values`, when given); in a JSON body
    5.0 counts, true does not."""

    json_type = "integer"

    def __init__(
        self,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        values: tuple[int, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum
        self.values = values

    def _schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.values is not None:
            schema["enum"] = list(self.values)
        return schema

    def _parse(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(_("Must be a whole number."))
        return self._in_range(value)

    def parse_text(self, text: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,20}", text):
            raise Invalid(_("Must be a whole number."))
        return self._in_range(int(text))

    def _in_range(self, value: int) -> int:
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise Invalid(
                _("Must be from %(low)s to %(high)s.", low=self.minimum, high=self.maximum)
            )
        if self.values is not None and value not in self.values:
            raise Invalid(_("Choose one of: %(values)s.", values=", ".join(map(str, self.values))))
        return value


class Boolean(Field):
    json_type = "boolean"

    def _parse(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(_("Must be true or false."))
        return value


class Choice(Field):
    """One of a fixed list of words."""

    def __init__(self, values: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values = values

    def _schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}

    def _parse(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise Invalid(_("Choose one of: %(values)s.", values=", ".join(self.values)))
        return value


class Date(Field):
    """A calendar day written YYYY-MM-DD."""

    def _schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date", "description": f"From {EARLIEST} to {LATEST}."}

    def _parse(self, value: Any) -> date:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise Invalid(_("Must be a date written YYYY-MM-DD."))
        try:
            return parse_day(value)
        except DateOutOfBounds as exc:
            raise Invalid(str(exc)) from exc
        except ValueError as exc:
            raise Invalid(_("Must be a date written YYYY-MM-DD.")) from exc


class Array(Field):
    """A JSON array of values of one field, each different, within [min_items, max_items].
    Only in bodies: a query string has no arrays."""

    json_type = "array"

    def __init__(self, item: Field, *, min_items: int = 0, max_items: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.min_items = min_items
        self.max_items = max_items

    def _schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.item.schema(), "uniqueItems": True}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema

    def parse_text(self, text: str) -> Any:
        raise Invalid(_("Must be a list."))

    def _parse(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid(_("Must be a list."))
        if len(value) < self.min_items:
            raise Invalid(_("At least %(limit)s items.", limit=self.min_items))
        if self.max_items is not None and len(value) > self.max_items:
            raise Invalid(_("At most %(limit)s items.", limit=self.max_items))
        items = [self.item.parse(item) for item in value]
        if len({repr(item) for item in items}) != len(items):
            raise Invalid(_("Each item at most once."))
        return items


class AnyOf(Field):
    """The first of several fields that takes the value (e.g. a user's id or e-mail)."""

    def __init__(self, *options: Field, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options

    def _schema(self) -> dict[str, Any]:
        return {"anyOf": [option.schema() for option in self.options]}

    def _parse(self, value: Any) -> Any:
        first: Invalid | None = None
        for option in self.options:
            try:
                return option.parse(value)
            except Invalid as exc:
                first = first or exc
        assert first is not None
        raise first


def user_reference(description: str, *, nullable: bool = False) -> AnyOf:
    """A user named by id or by e-mail address (the API layer looks the e-mail up)."""
    return AnyOf(
        Integer(minimum=1, maximum=MAX_ID),
        String(min_length=3, max_length=254, pattern=r"^[^@\x00-\x20]+@[^@\x00-\x20]+$"),
        description=description,
        nullable=nullable,
    )


class Body:
    """A JSON object body: its fields, which of them are required, nothing else allowed."""

    def __init__(self, fields: Mapping[str, Field], *, required: tuple[str, ...] = ()) -> None:
        unknown = set(required) - set(fields)
        if unknown:
            raise ValueError(f"required fields not declared: {sorted(unknown)}")
        self.fields = dict(fields)
        self.required = required

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: field.schema() for name, field in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            schema["required"] = list(self.required)
        return schema

    def parse(self, data: Any) -> dict[str, Any]:
        """The given fields, checked; absent optional fields stay absent (PATCH needs to know)."""
        if not isinstance(data, dict):
            raise FieldErrors({"": _("The body must be a JSON object.")})
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name in data:
            if name not in self.fields:
                errors[name] = _("Unknown field.")
        for name, field in self.fields.items():
            if name not in data:
                if name in self.required:
                    errors[name] = _("This field is required.")
                continue
            try:
                values[name] = field.parse(data[name])
            except Invalid as exc:
                errors[name] = exc.message
        if errors:
            raise FieldErrors(errors)
        return values


class Query:
    """Query-string parameters: each optional, each at most once, nothing else allowed."""

    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.fields = dict(fields)

    def parameters(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "in": "query", "required": False, "schema": field.schema()}
            | ({"description": field.description} if field.description else {})
            for name, field in self.fields.items()
        ]

    def parse(self, args: MultiDict[str, str]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name in args:
            if name not in self.fields:
                errors[name] = _("Unknown parameter.")
                continue
            given = args.getlist(name)
            if len(given) > 1:
                errors[name] = _("Give this parameter once.")
                continue
            try:
                values[name] = self.fields[name].parse_text(given[0])
            except Invalid as exc:
                errors[name] = exc.message
        if errors:
            raise FieldErrors(errors)
        return values
