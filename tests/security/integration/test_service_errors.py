"""One ServiceError family: every refusal the services raise is a ServiceError whose class carries
the HTTP status, and NotFound / Forbidden / Conflict exist once, in the kernel (issue 11)."""

from __future__ import annotations

import importlib
import pkgutil

import helpdesk
import plans
import tickets
from helpdesk.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound, ServiceError


def _all_modules():
    for package in (helpdesk, plans, tickets):
        yield package
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            yield importlib.import_module(info.name)


def _error_classes() -> dict[str, list[str]]:
    """Every exception class defined in the three packages: its name -> where it is defined."""
    found: dict[str, list[str]] = {}
    for module in _all_modules():
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == module.__name__:
                found.setdefault(value.__name__, []).append(module.__name__)
    return found


def test_not_found_forbidden_and_conflict_are_defined_once_in_the_kernel():
    classes = _error_classes()
    for name in ("NotFound", "Forbidden", "Conflict"):
        assert classes[name] == ["helpdesk.errors"], name


def test_the_status_is_on_the_class():
    assert [c.status for c in (Invalid, BadRequest, NotFound, Forbidden, Conflict)] == [422, 400, 404, 403, 409]
    assert NotFound("gone").status == 404 and NotFound("gone").fields == {}
    error = Invalid("Bad name.", "name")
    assert (error.fields, error.field, str(error)) == ({"name": "Bad name."}, "name", "Bad name.")


def test_the_services_refusals_belong_to_the_family():
    from helpdesk.accounts import AccountError
    from helpdesk.api.tokens import TokenError
    from helpdesk.calendars.policies import PolicyError
    from helpdesk.calendars.services import CalendarFormError
    from helpdesk.companies import ClientError, DuplicateClient
    from helpdesk.notifications.webhooks import WebhookError
    from helpdesk.uploads import UploadError
    from plans.onboarding.errors import OnboardingError
    from plans.services import CoverageError
    from tickets.access import TicketError

    for cls in (AccountError, TokenError, CalendarFormError, ClientError, WebhookError, PolicyError, UploadError,
                OnboardingError, CoverageError, TicketError):
        assert issubclass(cls, ServiceError) and cls.status == 422, cls
    assert issubclass(DuplicateClient, ClientError) and DuplicateClient.status == 409


def test_a_refusal_no_form_catches_gets_the_refused_page_with_its_status(web, world, login):
    login(world.manager)
    response = web.get("/manager/usage?period=not-a-period")
    assert response.status_code == 400
    assert "Choose a month such as 2026-11 or a quarter such as 2026-Q4." in response.get_data(as_text=True)
    login(world.acme_user)
    missing = web.get("/portal/tickets/999999")
    assert missing.status_code == 404 and "There is no such ticket." in missing.get_data(as_text=True)
