"""Schema bases and the shapes every part of the API shares: the error and a reference to a person.

- `Shape`: a response. It serializes (dump) and is documented as a named component; every field
  is always present, so every field is required in the document. Unknown keys are refused
  (marshmallow's default), so the document says `additionalProperties: false`.
- `Body` and `Query`: what a request may carry, checked on load; unknown names are refused.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, fields

from helpdesk.accounts import User, user_by_email
from helpdesk.api.fields import Integer, Text
from helpdesk.i18n import _l


class Shape(Schema):
    """A response shape, named `component` in the document's schemas."""

    component: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A shape's docstring is its description in the document."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("__doc__"):
            cls.Meta = type("Meta", (cls.Meta,), {"description": " ".join(cls.__doc__.split())})

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.required = True  # only documents: dump never checks it


class Body(Schema):
    """A JSON object body: its fields, nothing else."""

    error_messages: ClassVar[dict[str, Any]] = {
        "unknown": _l("Unknown field."),
        "type": _l("The body must be a JSON object."),
    }


class Query(Schema):
    """Query-string parameters: each optional, each at most once (the parser checks), nothing else."""

    error_messages: ClassVar[dict[str, Any]] = {"unknown": _l("Unknown parameter.")}


def component_name(schema: Any) -> str | None:
    """apispec's schema name resolver: shapes are components, bodies and queries stay inline."""
    cls = schema if isinstance(schema, type) else type(schema)
    return getattr(cls, "component", None)


class ErrorDetail(Shape):
    code = Text(metadata={"description": "Machine-readable, e.g. validation_failed."})
    message = Text(metadata={"description": "For people, in the token user's language."})
    field_errors = fields.Dict(
        keys=fields.String(), values=fields.String(), data_key="fields", attribute="fields",
        metadata={"description": "Field or parameter name -> what is wrong with it."},
    )


class ErrorSchema(Shape):
    component = "Error"
    error = fields.Nested(ErrorDetail)


class UserRef(Shape):
    component = "UserRef"
    id = Integer()
    name = Text(attribute="display_name", metadata={"description": "Display name (the e-mail when no name is set)."})
    email = Text()


def user_id_for(reference: int | str | None) -> int | None:
    """A user id from an id or an e-mail address, for the services to judge.

    An unknown e-mail becomes 0, which is no one: the service refuses it after its own permission
    check, so a caller who may not make the change learns nothing about which addresses exist.
    """
    if reference is None or isinstance(reference, int):
        return reference
    user: User | None = user_by_email(reference)
    return user.id if user is not None else 0


class UserById(fields.Nested):
    """A person named by an id column (e.g. `guardian_id`), shown as a UserRef; null for none.
    Looked up through the session's identity map, so a list that loads its people first costs
    no query per row."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(UserRef, allow_none=True, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        from helpdesk.extensions import db

        user = db.session.get(User, value) if value is not None else None
        return super()._serialize(user, attr, obj, **kwargs)
