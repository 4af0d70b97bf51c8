"""Access rules shared by every blueprint: role guards, secure cookies, login throttling keys, and
the security headers every response carries.

Headers: a Content-Security-Policy that allows scripts only from our origin or with this
response's nonce (`csp_nonce()` in templates; inline event handlers and javascript: URLs never
run), styles from our origin plus inline styles ('unsafe-inline' for style-src only: the
templates and e-mails use style attributes, which nonces cannot allow, and a style cannot run
code), images from our origin or data: URLs, no plugins, no <base> elsewhere, forms posting only
to us and no framing (frame-ancestors 'none' and X-Frame-Options DENY for older browsers);
Referrer-Policy same-origin (ticket URLs never leak to other sites) and nosniff. Downloads
(Content-Disposition: attachment) get `default-src 'none'; sandbox` instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, abort, g, has_request_context, request
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


def csp_nonce() -> str:
    """This response's script nonce (made on first use; one per request)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ))


# A downloaded file is never a page of ours: should a browser render it anyway, nothing in it runs.
DOWNLOAD_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def add_security_headers(response: Response) -> Response:
    """Set the security headers on every response: pages, API answers, errors and downloads."""
    if "Content-Security-Policy" not in response.headers:  # a view may set a stricter one
        downloaded = response.headers.get("Content-Disposition", "").startswith("attachment")
        response.headers["Content-Security-Policy"] = (
            DOWNLOAD_POLICY if downloaded else content_security_policy(csp_nonce())
        )
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Security headers on every response, and `csp_nonce()` for the templates' inline scripts."""
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
