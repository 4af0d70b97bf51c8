"""Names that must be unique, checked the same way on SQLite and PostgreSQL.

A plan or an assignment rule may not take a name another row has, whatever the case. SQLite's
`lower()` folds only ASCII letters ("Ó" stays "Ó") while Python's folds all, so a check by
`lower()` alone missed the exact name on SQLite, which the table's unique constraint then
refused with a 500. `name_taken` looks for the exact name too; `flush_or_name_taken` turns a
row of the same name stored by another request between the check and the insert into the same
field message instead of an IntegrityError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from helpdesk.extensions import db


def name_taken(model: Any, name: str, own_id: int | None = None) -> bool:
    """Whether a row of `model` other than `own_id` has `name` (exactly, or differing in case)."""
    found = db.session.scalars(
        select(model.id).where(or_(model.name == name, func.lower(model.name) == name.lower()))
    ).all()
    return any(row_id != own_id for row_id in found)


def flush_or_name_taken(refuse: Callable[[], None]) -> None:
    """Flush; on a unique-constraint clash (a twin stored meanwhile) roll back and call `refuse`,
    which raises the caller's field error."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        refuse()
        raise
