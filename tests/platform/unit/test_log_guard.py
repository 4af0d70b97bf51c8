"""The control test of the ERROR-log guard (tests/log_guard.py): it does fail a test."""

from __future__ import annotations

import logging

import pytest

from tests.log_guard import ErrorLogGuard


def test_an_error_logged_by_the_application_fails_the_test(expect_errors):
    expect_errors("deliberate failure", reason="this test logs one to show the guard sees it")
    guard = ErrorLogGuard().install()
    try:
        logging.getLogger("helpdesk.notifications.outbox").error("deliberate failure of delivery %s", 7)
        logging.getLogger("rq.worker").error("an error of a library is not ours to judge")
        logging.getLogger("tickets.services").warning("a warning is not an error")
    finally:
        guard.uninstall()
    with pytest.raises(pytest.fail.Exception, match="deliberate failure of delivery 7"):
        guard.check()


def test_an_expected_error_passes_and_an_expected_one_that_never_came_fails(expect_errors):
    expect_errors("could not be decided", reason="logged below for the guard under test")
    guard = ErrorLogGuard().install()
    try:
        guard.expect("could not be decided", reason="the test breaks coverage on purpose")
        logging.getLogger("tickets.services").error("Coverage of ticket 3 could not be decided")
    finally:
        guard.uninstall()
    guard.check()  # expected: passes
    guard = ErrorLogGuard()
    guard.expect("never logged", reason="a stale expectation")
    with pytest.raises(pytest.fail.Exception, match="never logged"):
        guard.check()
    with pytest.raises(ValueError):
        guard.expect("anything", reason="")
