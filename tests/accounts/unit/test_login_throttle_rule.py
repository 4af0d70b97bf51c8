"""The account-throttling rule: a known device counts its own failures, any other client all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helpdesk.login_throttle import over_limit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def ago(seconds: int) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "attempts, device, refused",
    [
        ([], None, False),
        ([(ago(1), None), (ago(2), None)], None, False),
        ([(ago(1), None), (ago(2), None), (ago(3), "d1")], None, True),  # every failure counts
        ([(ago(1), None), (ago(2), None), (ago(3), None)], "d1", False),  # not the device's own
        ([(ago(1), "d1"), (ago(2), "d1"), (ago(3), "d1")], "d1", True),
        ([(ago(1), "d1"), (ago(2), "d1"), (ago(3), "d2")], "d1", False),
        ([(ago(61), None), (ago(70), None), (ago(1), None)], None, False),  # outside the window
        ([(ago(60), None), (ago(59), None), (ago(1), None)], None, False),  # exactly a minute ago: gone
    ],
)
def test_over_limit(attempts, device, refused):
    assert over_limit(attempts, device=device, limit=3, window=MINUTE, now=NOW) is refused
