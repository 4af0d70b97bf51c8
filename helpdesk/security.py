"""Access rules shared by every blueprint: role guards, secure cookies, login throttling keys."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_required

from helpdesk.i18n import _

F = TypeVar("F", bound=Callable[..., Any])


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let in logged-in users with one of `roles`; others get 403 (anonymous: the login page)."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


staff_required = roles_required("agent", "manager", "admin")
manager_required = roles_required("manager", "admin")
admin_required = roles_required("admin")
client_required = roles_required("client")


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return has_request_context() and request.is_secure


def login_account_key() -> str:
    """Throttle key for the account being tried (the e-mail typed), whatever the address."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def refuse_nul_characters() -> None:
    """Refuse a request whose query or form holds a NUL character (400).

    No person types one, and PostgreSQL cannot store or even compare it in text, so left alone it
    would reach the database and fail there as a 500. The API checks its own JSON and query
    values (and must read its body itself), so it is left to that.
    """
    if request.path.startswith("/api/"):
        return
    for values in (request.args, request.form):
        for _name, value in values.items(multi=True):
            if "\x00" in value:
                abort(400, description=_("NUL characters are not allowed."))
