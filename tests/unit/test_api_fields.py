"""The API's declarative fields: what each accepts and refuses, and that it says so in JSON Schema.

Every accepted value must be valid by the field's own schema, and every refused one invalid, so
the OpenAPI document cannot promise what the code refuses (or the other way round).
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import jsonschema_rs
import pytest
from werkzeug.datastructures import MultiDict

from helpdesk.api.fields import (
    MAX_ID,
    Body,
    Boolean,
    Choice,
    Date,
    FieldErrors,
    Integer,
    Invalid,
    Query,
    String,
    user_reference,
)

ROOT = Path(__file__).resolve().parents[2]


def _agrees(field, value, accepted: bool) -> None:
    # jsonschema_rs is the validator schemathesis checks with; it reads patterns as ECMA-262 says,
    # whereas Python's jsonschema lets `$` match before a final newline.
    validator = jsonschema_rs.validator_for(field.schema(), validate_formats=True)
    assert validator.is_valid(value) == accepted, (field.schema(), value)


CASES = [
    # field, value, accepted
    (String(min_length=1, max_length=5, blank=False), "abc", True),
    (String(min_length=1, max_length=5, blank=False), "abcdef", False),
    (String(min_length=1, max_length=5, blank=False), "", False),
    (String(min_length=1, max_length=5, blank=False), "   ", False),
    (String(min_length=1, max_length=5, blank=False), 5, False),
    (String(min_length=1, max_length=5, blank=False), None, False),
    (String(pattern=r"^[a-z]+$"), "abc", True),
    (String(pattern=r"^[a-z]+$"), "abc\n", False),  # ECMA `$`: no match before a final newline
    (String(pattern=r"^[a-z]+$"), "ABC", False),
    (Integer(minimum=1, maximum=10), 1, True),
    (Integer(minimum=1, maximum=10), 10, True),
    (Integer(minimum=1, maximum=10), 5.0, True),  # JSON Schema: 5.0 is an integer
    (Integer(minimum=1, maximum=10), 0, False),
    (Integer(minimum=1, maximum=10), 11, False),
    (Integer(minimum=1, maximum=10), 5.5, False),
    (Integer(minimum=1, maximum=10), True, False),
    (Integer(minimum=1, maximum=10), "5", False),
    (Boolean(), True, True),
    (Boolean(), 1, False),
    (Boolean(), "true", False),
    (Choice(("a", "b")), "a", True),
    (Choice(("a", "b")), "c", False),
    (Choice(("a", "b")), ["a"], False),
    (Date(), "2026-11-27", True),
    (Date(), "2026-02-30", False),
    (Date(), "27.11.2026", False),
    (Date(nullable=True), None, True),
    (user_reference("x"), 7, True),
    (user_reference("x"), "agent@vendor.example", True),
    (user_reference("x"), "not an address", False),
    (user_reference("x"), 0, False),
    (user_reference("x"), MAX_ID + 1, False),
    (user_reference("x", nullable=True), None, True),
]


@pytest.mark.parametrize("field, value, accepted", CASES)
def test_a_field_accepts_exactly_what_its_schema_allows(field, value, accepted):
    try:
        field.parse(value)
        parsed = True
    except Invalid:
        parsed = False
    assert parsed == accepted, (value, field.schema())
    _agrees(field, value, accepted)


def test_nul_characters_are_refused_even_where_the_schema_is_silent():
    with pytest.raises(Invalid):
        String().parse("a\x00b")


def test_query_values_come_from_text():
    query = Query({"limit": Integer(minimum=1, maximum=200), "status": Choice(("open", "closed"))})
    assert query.parse(MultiDict({"limit": "20", "status": "open"})) == {"limit": 20, "status": "open"}
    for args, name in (
        ({"limit": "2.5"}, "limit"), ({"limit": "+5"}, "limit"), ({"limit": "1" * 30}, "limit"),
        ({"status": "pending"}, "status"), ({"colour": "red"}, "colour"),
        ([("limit", "1"), ("limit", "2")], "limit"),
    ):
        with pytest.raises(FieldErrors) as refused:
            query.parse(MultiDict(args))
        assert name in refused.value.fields


def test_a_body_reports_every_field_at_once_and_keeps_absent_ones_absent():
    body = Body({"a": String(), "b": Integer(minimum=0, maximum=1), "c": Boolean()}, required=("a",))
    assert body.parse({"a": "x"}) == {"a": "x"}
    with pytest.raises(FieldErrors) as refused:
        body.parse({"b": 3, "d": 1})
    assert set(refused.value.fields) == {"a", "b", "d"}
    schema = body.schema()
    assert schema["additionalProperties"] is False and schema["required"] == ["a"]
    with pytest.raises(ValueError):
        Body({"a": String()}, required=("z",))


def test_date_fields_give_dates():
    assert Date().parse("2026-11-27") == date(2026, 11, 27)


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
