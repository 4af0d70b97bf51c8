"""Schemas every part of the API shares: the error shape and a reference to a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helpdesk.accounts import User, user_by_email

ERROR = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. validation_failed."},
                "message": {"type": "string", "description": "For people, in the token user's language."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Field or parameter name -> what is wrong with it.",
                },
            },
        }
    },
}
USER_REF = {
    "type": "object",
    "required": ["id", "name", "email"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "description": "Display name (the e-mail when no name is set)."},
        "email": {"type": "string"},
    },
}
CORE_SCHEMAS = {"Error": ERROR, "UserRef": USER_REF}


def user_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.display_name, "email": user.email}


def instant(value: datetime | None) -> str | None:
    """An instant in ISO 8601 with its offset (UTC), or None."""
    return value.isoformat() if value is not None else None


def user_id_for(reference: int | str | None) -> int | None:
    """A user id from an id or an e-mail address, for the services to judge.

    An unknown e-mail becomes 0, which is no one: the service refuses it after its own permission
    check, so a caller who may not make the change learns nothing about which addresses exist.
    """
    if reference is None or isinstance(reference, int):
        return reference
    user = user_by_email(reference)
    return user.id if user is not None else 0
