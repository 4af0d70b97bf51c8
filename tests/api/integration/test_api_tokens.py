"""Personal API tokens: made and revoked in the web UI and by command, stored hashed, the only key."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.api.support import error_of
from tests.conftest import PASSWORD


def _web(app: Any) -> Any:
    """A browser: each request in its own app context, logged in through the form."""
    from helpdesk.extensions import db

    client = app.test_client()

    def request(method: str, url: str, **kwargs: Any) -> Any:
        with app.app_context():
            response = client.open(url, method=method, buffered=True, **kwargs)
        db.session.expire_all()
        return response

    request.client = client  # type: ignore[attr-defined]
    return request


def _login(web: Any, user: Any) -> None:
    response = web("POST", "/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def test_a_user_makes_a_token_in_the_web_ui_sees_it_once_and_it_works(app, world, api):
    from helpdesk.api.tokens import ApiToken
    from helpdesk.extensions import db

    web = _web(app)
    _login(web, world.acme_user)
    preferences = web("GET", "/preferences").get_data(as_text=True)
    assert "/preferences/tokens/" in preferences
    response = web("POST", "/preferences/tokens/", data={"name": "ERP sync"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = re.search(r'id="new-token"[^>]*>(opk_[A-Za-z0-9_-]{43})<', page).group(1)

    stored = db.session.scalar(select(ApiToken))
    assert stored.name == "ERP sync" and stored.user_id == world.acme_user.id
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (stored.hint, stored.token_hash) and stored.hint == secret[:10]
    # Shown once: the list shows the hint, never the secret again.
    listing = web("GET", "/preferences/tokens/").get_data(as_text=True)
    assert "ERP sync" in listing and stored.hint in listing and secret not in listing
    assert stored.last_used_at is None

    assert api.get("/api/v1/tickets", secret).status_code == 200
    db.session.refresh(stored)
    assert stored.last_used_at is not None
    assert "never" not in web("GET", "/preferences/tokens/").get_data(as_text=True).split("ERP sync")[1][:300]


def test_the_web_ui_refuses_a_nameless_token_and_needs_a_login(app, world):
    web = _web(app)
    assert web("GET", "/preferences/tokens/").status_code == 302  # to the login page
    _login(web, world.agent)
    response = web("POST", "/preferences/tokens/", data={"name": "   "})
    assert response.status_code == 422
    assert "Give the token a name" in response.get_data(as_text=True)


def test_revoking_in_the_web_ui_stops_the_token_at_once(app, world, api, make_token):
    from helpdesk.api.tokens import ApiToken
    from helpdesk.extensions import db

    secret = make_token(world.agent, "nightly report")
    assert api.get("/api/v1/tickets", secret).status_code == 200
    token = db.session.scalar(select(ApiToken))
    web = _web(app)
    _login(web, world.agent)
    response = web("POST", "/preferences/tokens/revoke", data={"token_id": str(token.id)})
    assert response.status_code == 302
    db.session.refresh(token)
    assert token.revoked_at is not None
    response = api.get("/api/v1/tickets", secret)
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_token"
    assert "revoked" in web("GET", "/preferences/tokens/").get_data(as_text=True)


def test_nobody_revokes_another_users_token(app, world, api, make_token):
    from helpdesk.api.tokens import ApiToken
    from helpdesk.extensions import db

    secret = make_token(world.globex_user, "globex erp")
    token = db.session.scalar(select(ApiToken))
    web = _web(app)
    _login(web, world.acme_admin)
    assert web("POST", "/preferences/tokens/revoke", data={"token_id": str(token.id)}).status_code == 404
    # No token named: an invalid form, a 422 like every form (issue 11); a bad CSRF token is the 400.
    assert web("POST", "/preferences/tokens/revoke", data={}).status_code == 422
    assert api.get("/api/v1/tickets", secret).status_code == 200


def test_a_token_id_in_other_digits_is_not_a_token_id(app, world, api, make_token):
    from helpdesk.api.tokens import ApiToken
    from helpdesk.extensions import db

    secret = make_token(world.agent, "nightly report")
    token = db.session.scalar(select(ApiToken))
    web = _web(app)
    _login(web, world.agent)
    fullwidth = str(token.id).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert web("POST", "/preferences/tokens/revoke", data={"token_id": fullwidth}).status_code == 422
    assert api.get("/api/v1/tickets", secret).status_code == 200  # still works


def test_the_web_ui_is_csrf_protected(app, app_config, world):
    app.config["WTF_CSRF_ENABLED"] = True
    web = _web(app)
    page = web("GET", "/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = web("POST", "/login", data={"email": world.agent.email, "password": PASSWORD, "csrf_token": csrf})
    assert response.status_code == 302
    assert web("POST", "/preferences/tokens/", data={"name": "no csrf"}).status_code == 400
    page = web("GET", "/preferences/tokens/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert web("POST", "/preferences/tokens/", data={"name": "with csrf", "csrf_token": csrf}).status_code == 200


def test_flask_tokens_create_prints_a_working_token(app, world, api):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tokens", "create", "--email", world.manager.email, "--name", "BI export"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"opk_[A-Za-z0-9_-]{43}", secret)
    assert api.get("/api/v1/clients", secret).status_code == 200

    unknown = runner.invoke(args=["tokens", "create", "--email", "nobody@example.com"])
    assert unknown.exit_code != 0 and "No user" in unknown.output


def test_a_user_holds_a_bounded_number_of_active_tokens(app, world, make_token):
    from helpdesk.api.tokens import TokenError

    app.config["API_TOKENS_PER_USER"] = 2
    make_token(world.agent, "one")
    make_token(world.agent, "two")
    with pytest.raises(TokenError):
        make_token(world.agent, "three")


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer opk_not-a-real-token", "Bearer something-else",
     "Token opk_x"],
)
def test_without_a_valid_token_every_endpoint_answers_401(app, world, api, header):
    headers = {"Authorization": header} if header is not None else {}
    response = api.get("/api/v1/tickets", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] in ("unauthorized", "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_api_ignores_the_session_cookie(app, world, api, tokens):
    """A logged-in browser cannot call the API, so a cross-site request cannot either (no CSRF)."""
    web = _web(app)
    _login(web, world.agent)
    assert web("GET", "/agent/queue").status_code == 200
    response = web("GET", "/api/v1/tickets")
    assert response.status_code == 401 and response.mimetype == "application/json"
    response = web("POST", "/api/v1/tickets", json={"subject": "x", "description": "y", "category": "bug"})
    assert response.status_code == 401
    assert "Set-Cookie" not in api.get("/api/v1/tickets", tokens.agent).headers


def test_a_deactivated_user_s_token_stops_working(app, world, api, tokens):
    from helpdesk.extensions import db

    assert api.get("/api/v1/tickets", tokens.acme_user).status_code == 200
    world.acme_user.active = False
    db.session.commit()
    assert api.get("/api/v1/tickets", tokens.acme_user).status_code == 401


def test_a_token_carries_the_users_current_role(app, world, api, tokens):
    from helpdesk.extensions import db

    assert api.get("/api/v1/clients", tokens.agent).status_code == 403
    world.agent.role = "manager"
    db.session.commit()
    assert api.get("/api/v1/clients", tokens.agent).status_code == 200


# -- rate limits ----------------------------------------------------------------------------


def test_each_token_has_its_own_rate_limit_and_429_says_when_to_retry(app, world, api, tokens):
    app.config["API_RATE_LIMIT"] = "3 per minute"  # read on every request
    for _ in range(3):
        assert api.get("/api/v1/tickets", tokens.agent).status_code == 200
    response = api.get("/api/v1/tickets", tokens.agent)
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # The limit is shared by every endpoint of the token ...
    assert api.post("/api/v1/tickets/1/replies", tokens.agent, json={"body": "x"}).status_code == 429
    # ... and another token is not slowed down by it.
    assert api.get("/api/v1/tickets", tokens.agent2).status_code == 200
