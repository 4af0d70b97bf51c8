"""Fixtures shared by the notification integration tests."""

from __future__ import annotations

import pytest

from tests.notifications.support import SmtpSink


@pytest.fixture
def sink():
    """A real SMTP server on loopback (aiosmtpd) for the test; the process's SMTP connection is
    closed after it, so the next test's sink is not talked to through a stale transport."""
    from helpdesk.notifications.mail import close_transport

    with SmtpSink() as server:
        try:
            yield server
        finally:
            close_transport()
