"""The one shape of a refused request, shared by every domain's services.

A service raises a subclass of `ServiceError` with a message for the user, the form fields it
is about, and the HTTP status a view or the API answers with. Domains keep their own subclasses
(TicketError, OnboardingError, CoverageError) so callers can tell them apart.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request was refused. `fields` maps form fields to messages; `status` is the 4xx to answer."""

    status = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if status is not None:
            self.status = status
