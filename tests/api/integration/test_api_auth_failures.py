"""Failed API authentications are limited per client address, whatever token is presented."""

from __future__ import annotations

import secrets
import time

from tests.api.support import *  # noqa: F403  (fixtures)
from tests.api.support import error_of


def random_token() -> str:
    return "opk_" + secrets.token_urlsafe(32)


def test_random_bad_tokens_are_limited_per_address_with_429_and_retry_after(app, world, api, tokens):
    app.config["API_AUTH_FAILURE_LIMIT"] = "5 per 2 seconds"  # read on every request
    for _ in range(4):
        assert api.get("/api/v1/tickets", random_token()).status_code == 401
    assert api.get("/api/v1/tickets").status_code == 401  # no token at all is a failure too
    response = api.get("/api/v1/tickets", random_token())
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "rate_limited" and "failed authentications" in error["message"]
    # At least the failure window (2 s); the per-token/address API window (a minute) may make it longer.
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # While the address is over its allowance, even a valid token is refused: it learns nothing.
    assert api.get("/api/v1/tickets", tokens.agent).status_code == 429
    # Another address is not affected (the count is per address, not global).
    other = app.test_client().get("/api/v1/tickets", headers={"Authorization": f"Bearer {tokens.agent}"},
                                  environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert other.status_code == 200
    # Once the window has passed, the address may try again.
    time.sleep(2.2)
    assert api.get("/api/v1/tickets", tokens.agent).status_code == 200


def test_valid_tokens_do_not_count_as_failures(app, world, api, tokens):
    app.config["API_AUTH_FAILURE_LIMIT"] = "3 per minute"
    for _ in range(6):
        assert api.get("/api/v1/tickets", tokens.agent).status_code == 200
    assert api.get("/api/v1/tickets", random_token()).status_code == 401
