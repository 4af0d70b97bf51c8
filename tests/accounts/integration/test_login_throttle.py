"""Login throttling per account shared by every worker, normalised addresses, known devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import PASSWORD, ROOT
from tests.samples import text_of


@pytest.fixture
def strict_account_limit(app_config: dict[str, Any]) -> None:
    """Three failed logins a minute per account; the per-address limit out of the way."""
    app_config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per minute"
    app_config["LOGIN_LIMIT_PER_ADDRESS"] = "1000 per minute"


# Another worker: a separate process with its own application on the same database, as a second
# gunicorn worker is. (Two apps in one process would share the extension singletons.)
WORKER = """
import json, sys
from app import create_app
config, attempts = json.loads(sys.argv[1]), json.loads(sys.argv[2])
client = create_app(config).test_client()
codes = [client.post("/login", data={"email": e, "password": p}, environ_base={"REMOTE_ADDR": a}).status_code
         for e, p, a in attempts]
print(json.dumps(codes))
"""


@pytest.fixture
def second_worker(app: Any, app_config: dict[str, Any]) -> Callable[..., list[int]]:
    def attempts(*tried: tuple[str, str, str]) -> list[int]:
        result = subprocess.run(
            [sys.executable, "-c", WORKER, json.dumps(app_config), json.dumps(tried)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "SECRET_KEY": "test-secret"},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    return attempts


def _try(client: Any, email: str, password: str, n: int) -> int:
    response = client.post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}
    )
    return response.status_code


def test_the_account_limit_is_shared_by_two_workers(strict_account_limit, app, world, second_worker):
    email = world.acme_user.email
    first = app.test_client()
    assert [_try(first, email, "wrong", n) for n in range(2)] == [401, 401]
    # the third failure happens in the other worker, and counts in both
    assert second_worker((email, "wrong", "198.51.100.3"), (email, PASSWORD, "198.51.100.4")) == [401, 429]
    response = first.post("/login", data={"email": email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert response.status_code == 429
    assert "Too many attempts" in text_of(response)


def test_a_known_device_passes_the_account_limit_a_new_one_does_not(strict_account_limit, app, world, login):
    email = world.acme_user.email
    phone = app.test_client()
    assert _try(phone, email, PASSWORD, 1) == 302
    assert phone.get_cookie("opiekun_device") is not None
    phone.post("/logout")
    attacker = app.test_client()
    assert [_try(attacker, email, "guess", n) for n in range(20, 23)] == [401, 401, 401]
    assert _try(attacker, email, PASSWORD, 24) == 429  # refused without looking at the password
    assert _try(app.test_client(), email, PASSWORD, 25) == 429  # a new device is refused too
    assert _try(phone, email, PASSWORD, 1) == 302  # the real user, on the phone, gets in


def test_a_known_device_is_held_by_its_own_failures(strict_account_limit, app, world):
    email = world.acme_user.email
    phone = app.test_client()
    assert _try(phone, email, PASSWORD, 1) == 302
    phone.post("/logout")
    assert [_try(phone, email, "typo", 1) for _ in range(3)] == [401, 401, 401]
    assert _try(phone, email, PASSWORD, 1) == 429


def test_a_device_cookie_of_another_account_or_forged_does_not_count(strict_account_limit, app, world):
    email = world.acme_user.email
    colleague_phone = app.test_client()
    assert _try(colleague_phone, world.acme_colleague.email, PASSWORD, 1) == 302
    colleague_phone.post("/logout")
    forged = app.test_client()
    forged.set_cookie("opiekun_device", "eyJhZGRyZXNzIjoiYW5uYUBhY21lLmV4YW1wbGUiLCJkZXZpY2UiOiJ4In0.forged")
    attacker = app.test_client()
    assert [_try(attacker, email, "guess", n) for n in range(30, 33)] == [401, 401, 401]
    assert _try(colleague_phone, email, PASSWORD, 1) == 429
    assert _try(forged, email, PASSWORD, 2) == 429


def test_the_address_is_normalised_for_login_and_for_the_count(strict_account_limit, app, world):
    client = app.test_client()
    response = client.post("/login", data={"email": "  Anna@ACME.example ", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 200
    client.post("/logout")
    attacker = app.test_client()
    assert _try(attacker, "anna@acme.example", "guess", 40) == 401
    assert _try(attacker, "  Anna@ACME.example ", "guess", 41) == 401
    assert _try(attacker, "ANNA@acme.EXAMPLE", "guess", 42) == 401
    assert _try(attacker, " anna@acme.example", PASSWORD, 43) == 429


def test_failures_older_than_the_window_no_longer_count(strict_account_limit, app, world):
    from datetime import UTC, datetime, timedelta

    from helpdesk.clock import frozen

    email = world.acme_user.email
    client = app.test_client()
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    with frozen(start):
        assert [_try(client, email, "guess", n) for n in range(3)] == [401, 401, 401]
        assert _try(client, email, PASSWORD, 4) == 429
    with frozen(start + timedelta(seconds=61)):
        assert _try(client, email, PASSWORD, 5) == 302
