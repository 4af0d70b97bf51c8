"""The one family of refused requests, shared by every domain's services.

A service raises a `ServiceError` with a message for the user and the form fields it is about;
the class says the HTTP status a view or the API answers with (`Invalid` 422, `NotFound` 404,
`Forbidden` 403, `Conflict` 409, `BadRequest` 400 for a malformed query). Domains keep their own
subclasses of `Invalid` (TicketError, OnboardingError, CoverageError, AccountError ...) so a
caller can tell them apart; a caller that only answers the request catches `ServiceError`.
`helpdesk.forms.refuse` turns one into a form page, `helpdesk.api.errors.service_error_response`
into the API's JSON. Neither the service nor the view rolls back: the one handler that answers
does (see `refuse`).
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """A request was refused. `fields` maps form fields to messages; `status` is the 4xx to answer.

    `fields` may also be one field's name, for an error about that field alone.
    """

    status = 422

    def __init__(self, message: str, fields: Mapping[str, str] | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if isinstance(fields, str):
            fields = {fields: message}
        self.fields: dict[str, str] = dict(fields or {})

    @property
    def field(self) -> str | None:
        """The first field the error is about, if any."""
        return next(iter(self.fields), None)


class Invalid(ServiceError):
    """Some values are not acceptable; `fields` says which and why."""

    status = 422


class BadRequest(ServiceError):
    """A malformed query (an unknown filter, a period that is not one): not a form to correct."""

    status = 400


class NotFound(ServiceError):
    """No such thing for this user; also what another company's ids get."""

    status = 404


class Forbidden(ServiceError):
    """This user may not do this."""

    status = 403


class Conflict(ServiceError):
    """The change conflicts with the current state (taken name, overlap, already decided)."""

    status = 409
