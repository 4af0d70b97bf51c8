"""Fixtures for the integration tests: tickets made through the services, row counts."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def make_ticket(app: Any) -> Any:
    """make_ticket(user, **fields) files a ticket through the service, as the web form does."""
    from tickets.services import Actor, file_ticket

    def _make(user: Any, subject: str = "Printer station offline", **fields: Any) -> Any:
        values = {"description": "It stopped this morning.", "category": "question", "priority": "normal"}
        values.update(fields)
        return file_ticket(Actor(user), subject=subject, **values)

    return _make


@pytest.fixture
def count_rows(app: Any) -> Any:
    """count_rows(Model) -> number of rows in its table."""
    from sqlalchemy import func, select

    from helpdesk.extensions import db

    def _count(model: Any) -> int:
        db.session.rollback()
        return db.session.scalar(select(func.count()).select_from(model)) or 0

    return _count
