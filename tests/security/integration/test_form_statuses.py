"""Every form page answers an invalid form the same way: 422, the message by its field, the typed
values kept; only a missing or wrong CSRF token is a 400 (issue 11: it used to be 400 on some
pages and 422 on others)."""

from __future__ import annotations

import re

import pytest

# (who logs in, URL, a post whose fields do not parse or are refused, the field named, a typed value kept)
FORMS = [
    pytest.param(None, "/login", {"email": "", "password": "typed-secret"}, "email", None, id="login"),
    pytest.param(None, "/password/forgot", {"email": ""}, "email", None, id="forgot-password"),
    pytest.param("acme_user", "/preferences", {"name": "Anna Typed", "language": "", "timezone": ""},
                 "timezone", "Anna Typed", id="preferences"),
    pytest.param("acme_user", "/preferences", {"name": "Anna Typed", "language": "", "timezone": "Mars/Olympus"},
                 "timezone", "Anna Typed", id="preferences-refused-by-service"),
    pytest.param("admin", "/admin/users/new", {"email": "", "name": "Typed Name", "role": "agent", "client": ""},
                 "email", "Typed Name", id="admin-new-user"),
    pytest.param("admin", "/admin/users/new", {"email": "x@y.example", "name": "Typed Name", "role": "client",
                                               "client": ""}, "client", "Typed Name", id="admin-user-refused"),
    pytest.param("admin", "/admin/clients/new", {"slug": "", "name": "Typed Co", "guardian": ""},
                 "slug", "Typed Co", id="admin-new-client"),
    pytest.param("acme_user", "/preferences/tokens/", {"name": "t" * 300}, "name", None, id="api-token"),
    pytest.param("acme_user", "/preferences/tokens/revoke", {}, None, None, id="api-token-revoke"),
    pytest.param("acme_user", "/portal/tickets/new", {"subject": "", "description": "Typed description",
                                                      "category": "question", "priority": "normal"},
                 "subject", "Typed description", id="portal-new-ticket"),
]


@pytest.mark.parametrize(("who", "url", "data", "field", "kept"), FORMS)
def test_an_invalid_form_is_a_422_with_the_message_by_its_field(web, world, login, who, url, data, field, kept):
    if who:
        login(getattr(world, who))
    response = web.post(url, data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    if field:
        assert re.search(rf'<p class="field-error" id="{field}-error">[^<]+</p>', page), f"no message by {field}"
    if kept:
        assert kept in page


@pytest.mark.parametrize(("who", "url", "data"), [
    pytest.param(None, "/login", {"email": "anna@acme.example", "password": "x"}, id="login"),
    pytest.param("admin", "/admin/clients/new", {"slug": "fine", "name": "Fine"}, id="admin-new-client"),
    pytest.param("acme_user", "/preferences", {"name": "A", "timezone": "Europe/Warsaw"}, id="preferences"),
    pytest.param("acme_user", "/preferences/tokens/revoke", {"token_id": "1"}, id="api-token-revoke"),
])
def test_a_missing_csrf_token_stays_a_400(app, web, world, login, who, url, data):
    if who:
        login(getattr(world, who))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = web.post(url, data=data)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
