"""Every response carries the security headers: pages, API answers, error pages and downloads.
Inline scripts run only with the response's nonce (checked in Chromium by tests/e2e)."""

from __future__ import annotations

import re
from typing import Any

from tests.api.support import *  # noqa: F403  (fixtures)
from tests.samples import png_bytes

PAGE_POLICY = {
    "default-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(response: Any) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {name: value.strip() for name, _sep, value in (d.strip().partition(" ") for d in header.split(";")) if name}


def assert_security_headers(response: Any, *, download: bool = False) -> dict[str, str]:
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy") == "same-origin"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    found = policy(response)
    if download:
        assert found == {"default-src": "'none'", "frame-ancestors": "'none'", "sandbox": ""}
    else:
        assert {k: v for k, v in found.items() if k != "script-src"} == PAGE_POLICY
        assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9_-]{24}'", found["script-src"]), found["script-src"]
    return found


def test_a_page_carries_the_headers_with_a_fresh_nonce_each_time(web):
    first, second = web.get("/login"), web.get("/login")
    assert first.status_code == 200
    assert assert_security_headers(first)["script-src"] != assert_security_headers(second)["script-src"]


def test_api_answers_and_api_errors_carry_the_headers(app, world, api, tokens):
    assert_security_headers(api.get("/api/v1/tickets", tokens.agent))
    assert_security_headers(api.get("/api/v1/openapi.json"))
    assert_security_headers(api.get("/api/v1/tickets"))  # 401
    assert_security_headers(api.get("/api/v1/no-such-thing", tokens.agent))  # 404


def test_error_pages_carry_the_headers(web, world, login):
    assert_security_headers(web.get("/no-such-page"))  # 404, anonymous
    login(world.acme_user)
    response = web.get("/agent/queue")
    assert response.status_code == 403
    assert_security_headers(response)


def test_the_inline_script_of_a_refusal_page_has_the_response_nonce(web, world, login):
    login(world.acme_admin)
    response = web.get("/portal/usage?period=bogus")
    assert response.status_code == 400
    nonce = re.search(r"'nonce-([^']+)'", assert_security_headers(response)["script-src"]).group(1)
    page = response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts)
    assert "javascript:" not in page


def test_an_attachment_download_carries_the_headers_and_a_sandbox(app, web, world, login, make_ticket):
    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.uploads import check_file
    from tickets.models import Attachment

    make_ticket(world.acme_user, files=[check_file("label.png", png_bytes(), 10_000)])
    attachment = db.session.scalars(select(Attachment)).one()
    login(world.acme_user)
    response = web.get(f"/attachments/{attachment.id}")
    assert response.status_code == 200
    assert_security_headers(response, download=True)


def test_no_template_has_inline_handlers_or_javascript_urls():
    """CSP nonces allow <script nonce> blocks only: an onclick= or a javascript: URL would be blocked."""
    from tests.conftest import ROOT

    offending = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offending.append(path.name)
        for attrs in re.findall(r"<script([^>]*)>", text):
            if "csp_nonce()" not in attrs:
                offending.append(f"{path.name}: <script{attrs}>")
    assert offending == []
