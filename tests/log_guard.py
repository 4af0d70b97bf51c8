"""Any ERROR the application logs during a test fails that test, unless the test expected it.

Code that catches an exception and logs it (a failed inline delivery, an after-commit callback,
an undecided coverage) keeps the request alive, and would let a broken path pass green. The
guard is a logging handler on the root logger that keeps ERROR and worse records from our own
packages; `tests/conftest.py` installs one for every test and calls `check()` at teardown. A test
that provokes an error on purpose says so: `expect_errors("text in the message", reason=...)`;
an expectation that no record meets fails the test too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

APP_LOGGERS = ("app", "helpdesk", "tickets", "plans")


@dataclass
class Expected:
    text: str
    reason: str
    met: bool = False


class ErrorLogGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.expected: list[Expected] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in APP_LOGGERS:
            self.records.append(record)

    def expect(self, text: str, *, reason: str) -> None:
        if not reason:
            raise ValueError("say why the error is expected")
        self.expected.append(Expected(text, reason))

    def install(self) -> ErrorLogGuard:
        logging.getLogger().addHandler(self)
        return self

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)

    def check(self) -> None:
        """Fail (pytest.fail) on an unexpected ERROR record or an expectation nothing met."""
        unexpected = []
        for record in self.records:
            message = record.getMessage()
            matches = [e for e in self.expected if e.text in message]
            for e in matches:
                e.met = True
            if not matches:
                unexpected.append(record)
        problems = [
            f"{r.levelname} from {r.name}: {r.getMessage()}" + (f"\n{self.format(r)}" if r.exc_info else "")
            for r in unexpected
        ]
        problems += [f"expected an ERROR log containing {e.text!r} ({e.reason}), none came"
                     for e in self.expected if not e.met]
        if problems:
            pytest.fail("the application logged errors during the test:\n" + "\n".join(problems), pytrace=False)
