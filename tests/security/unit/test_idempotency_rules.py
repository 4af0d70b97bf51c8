"""The rule that decides what a request does about the row already holding its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helpdesk.idempotency import (
    ABANDONED,
    DONE,
    EXPIRED,
    IN_PROGRESS,
    MISMATCH,
    REPLAY,
    WAIT,
    fingerprint,
    valid_key,
    verdict,
)

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)


@pytest.mark.parametrize(
    ("state", "stored", "age", "expected"),
    [
        (DONE, "a", timedelta(seconds=1), REPLAY),
        (DONE, "a", timedelta(hours=23, minutes=59), REPLAY),
        (DONE, "a", timedelta(hours=24), EXPIRED),  # kept 24 hours, then a new request
        (DONE, "b", timedelta(seconds=1), MISMATCH),  # the key of another request
        (IN_PROGRESS, "a", timedelta(seconds=5), WAIT),
        (IN_PROGRESS, "b", timedelta(seconds=5), MISMATCH),  # refused at once, no waiting
        (IN_PROGRESS, "a", timedelta(seconds=120), ABANDONED),  # left by a process that died
        (IN_PROGRESS, "a", timedelta(hours=30), EXPIRED),
    ],
)
def test_verdict(state, stored, age, expected):
    assert verdict(state=state, fingerprint=stored, created_at=NOW - age, asked="a", now=NOW, lease=LEASE) == expected


def test_the_fingerprint_covers_method_path_and_body_without_ambiguity():
    base = fingerprint("POST", "/api/v1/tickets?", [b'{"a":1}'])
    assert base == fingerprint("post", "/api/v1/tickets?", [b'{"a":1}'])
    assert base != fingerprint("PATCH", "/api/v1/tickets?", [b'{"a":1}'])
    assert base != fingerprint("POST", "/api/v1/tickets/1?", [b'{"a":1}'])
    assert base != fingerprint("POST", "/api/v1/tickets?", [b'{"a":2}'])
    assert fingerprint("POST", "/x", [b"ab", b"c"]) != fingerprint("POST", "/x", [b"a", b"bc"])


@pytest.mark.parametrize(
    ("key", "ok"),
    [("3f1c2d9e-5b4a-4c3e-9f1a-0b2c3d4e5f60", True), ("order-42", True), ("x" * 255, True), ("", False),
     ("x" * 256, False), ("a b", False), ("zażółć", False), ("a\nb", False), ("a\x00", False)],
)
def test_keys_are_printable_ascii_up_to_255(key, ok):
    assert valid_key(key) is ok
