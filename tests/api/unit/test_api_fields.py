"""The API's marshmallow fields: what each accepts and refuses, and that its schema says so.

Every accepted value must be valid by the JSON Schema apispec writes for the field (as the OpenAPI
document shows it), and every refused one invalid, so the document cannot promise what the code
refuses (or the other way round). Rules the schema cannot state (the date bounds, one line of
text, NUL characters) are checked on their own.
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import jsonschema_rs
import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import ValidationError

from helpdesk.api.fields import (
    MAX_ID,
    Among,
    Between,
    Boolean,
    Day,
    Integer,
    QueryInteger,
    UniqueList,
    any_of_properties,
    choice,
    text,
    user_reference,
)
from helpdesk.api.schemas import Body, Query

ROOT = Path(__file__).resolve().parents[3]

_plugin = MarshmallowPlugin()
APISpec("fields", "1", "3.1.0", [_plugin])
_plugin.converter.add_attribute_function(any_of_properties)


def schema_of(field) -> dict:
    """The field's JSON Schema, as the OpenAPI document shows it."""
    return _plugin.converter.field2property(field)


def _agrees(field, value, accepted: bool) -> None:
    # jsonschema_rs is the validator schemathesis checks with; it reads patterns as ECMA-262 says,
    # whereas Python's jsonschema lets `$` match before a final newline.
    validator = jsonschema_rs.validator_for(schema_of(field), validate_formats=True)
    assert validator.is_valid(value) == accepted, (schema_of(field), value)


CASES = [
    # field, value, accepted
    (lambda: text(min_length=1, max_length=5, blank=False), "abc", True),
    (lambda: text(min_length=1, max_length=5, blank=False), "abcdef", False),
    (lambda: text(min_length=1, max_length=5, blank=False), "", False),
    (lambda: text(min_length=1, max_length=5, blank=False), "   ", False),
    (lambda: text(min_length=1, max_length=5, blank=False), 5, False),
    (lambda: text(min_length=1, max_length=5, blank=False), None, False),
    (lambda: text(pattern=r"^[a-z]+$"), "abc", True),
    (lambda: text(pattern=r"^[a-z]+$"), "abc\n", False),  # ECMA `$`: no match before a final newline
    (lambda: text(pattern=r"^[a-z]+$"), "ABC", False),
    (lambda: Integer(validate=Between(1, 10)), 1, True),
    (lambda: Integer(validate=Between(1, 10)), 10, True),
    (lambda: Integer(validate=Between(1, 10)), 5.0, True),  # JSON Schema: 5.0 is an integer
    (lambda: Integer(validate=Between(1, 10)), 0, False),
    (lambda: Integer(validate=Between(1, 10)), 11, False),
    (lambda: Integer(validate=Between(1, 10)), 5.5, False),
    (lambda: Integer(validate=Between(1, 10)), True, False),
    (lambda: Integer(validate=Between(1, 10)), "5", False),
    (lambda: Integer(validate=Among([1, 15, 30])), 15, True),  # integers from a fixed set
    (lambda: Integer(validate=Among([1, 15, 30])), 15.0, True),
    (lambda: Integer(validate=Among([1, 15, 30])), 20, False),
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), ["a"], True),
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), ["b", "a"], True),
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), [], False),
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), ["a", "a"], False),  # each item once
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), ["c"], False),
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), "a", False),
    (lambda: UniqueList(choice(("a", "b")), min_items=1, max_items=2), None, False),
    (lambda: UniqueList(Integer(validate=Between(0, None))), [1, 1.0], False),  # equal in JSON, so not unique
    (lambda: Boolean(), True, True),
    (lambda: Boolean(), 1, False),
    (lambda: Boolean(), "true", False),
    (lambda: choice(("a", "b")), "a", True),
    (lambda: choice(("a", "b")), "c", False),
    (lambda: choice(("a", "b")), ["a"], False),
    (lambda: Day(), "2026-11-27", True),
    (lambda: Day(), "2026-02-30", False),
    (lambda: Day(), "27.11.2026", False),
    (lambda: Day(allow_none=True), None, True),
    (lambda: user_reference("x"), 7, True),
    (lambda: user_reference("x"), "agent@vendor.example", True),
    (lambda: user_reference("x"), "not an address", False),
    (lambda: user_reference("x"), 0, False),
    (lambda: user_reference("x"), MAX_ID + 1, False),
    (lambda: user_reference("x", allow_none=True), None, True),
]


@pytest.mark.parametrize("make, value, accepted", CASES)
def test_a_field_accepts_exactly_what_its_schema_allows(make, value, accepted):
    field = make()
    try:
        field.deserialize(value)
        parsed = True
    except ValidationError:
        parsed = False
    assert parsed == accepted, (value, schema_of(field))
    _agrees(field, value, accepted)


def test_nul_characters_are_refused_even_where_the_schema_is_silent():
    with pytest.raises(ValidationError):
        text().deserialize("a\x00b")


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "tab\there", "line\u2028sep", "del\x7f"])
def test_one_line_fields_refuse_control_characters(value):
    """helpdesk.text's rule, reused as a validator: no e-mail header can be injected."""
    with pytest.raises(ValidationError, match="one line"):
        text(single_line=True).deserialize(value)
    assert text().deserialize(value) == value  # a multi-line field (a description) takes them


@pytest.mark.parametrize("value", ["1999-12-31", "2101-01-01", "0001-01-01", "9999-12-31"])
def test_days_outside_the_date_bounds_are_refused(value):
    """helpdesk.date_bounds' rule: 2000-01-01..2100-12-31."""
    with pytest.raises(ValidationError):
        Day().deserialize(value)


def test_days_within_the_bounds_are_dates():
    assert Day().deserialize("2026-11-27") == date(2026, 11, 27)
    assert Day().deserialize("2000-01-01") == date(2000, 1, 1)
    assert Day().deserialize("2100-12-31") == date(2100, 12, 31)
    assert "2000-01-01" in schema_of(Day())["description"]


def test_query_integers_come_from_text():
    field = QueryInteger(validate=Between(1, 200))
    assert field.deserialize("20") == 20
    for value in ("2.5", "+5", "1" * 30, "ten", " 5", "0"):
        with pytest.raises(ValidationError):
            field.deserialize(value)


def test_a_body_reports_every_field_at_once_and_keeps_absent_ones_absent():
    class Sample(Body):
        a = text(required=True)
        b = Integer(validate=Between(0, 1))
        c = Boolean()

    assert Sample().load({"a": "x"}) == {"a": "x"}
    with pytest.raises(ValidationError) as refused:
        Sample().load({"b": 3, "d": 1})
    assert set(refused.value.messages) == {"a", "b", "d"}


def test_a_query_refuses_unknown_parameters():
    class Sample(Query):
        limit = QueryInteger(validate=Between(1, 200))

    assert Sample().load({"limit": "5"}) == {"limit": 5}
    with pytest.raises(ValidationError) as refused:
        Sample().load({"colour": "red"})
    assert set(refused.value.messages) == {"colour"}


def test_the_api_plumbing_imports_no_domain():
    """helpdesk/ is the kernel: its API plumbing must not reach up into tickets/ or plans/."""
    for path in sorted((ROOT / "helpdesk").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("tickets", "plans"), f"{path.relative_to(ROOT)} imports {name}"
