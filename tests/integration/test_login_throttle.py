"""Login throttling per account shared by every worker, normalised addresses, known devices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import COMPILED_TEMPLATES, PASSWORD, RequestClient
from tests.samples import text_of


@pytest.fixture
def strict_account_limit(app_config: dict[str, Any]) -> None:
    """Three failed logins a minute per account; the per-address limit out of the way."""
    app_config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per minute"
    app_config["LOGIN_LIMIT_PER_ADDRESS"] = "1000 per minute"


@pytest.fixture
def second_worker(app: Any, app_config: dict[str, Any]) -> Iterator[Any]:
    """Another application on the same database, as a second gunicorn worker would be."""
    from app import create_app
    from helpdesk.extensions import db

    other = create_app(dict(app_config))
    other.test_client_class = RequestClient
    other.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    yield other
    with other.app_context():
        db.engine.dispose()


def _try(client: Any, email: str, password: str, n: int) -> int:
    response = client.post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}
    )
    return response.status_code


def test_the_account_limit_is_shared_by_two_workers(strict_account_limit, app, world, second_worker):
    email = world.acme_user.email
    first = app.test_client()
    assert [_try(first, email, "wrong", n) for n in range(2)] == [401, 401]
    other = second_worker.test_client()
    assert _try(other, email, "wrong", 3) == 401
    # the third failure happened on the other worker, and still counts here and there
    response = first.post("/login", data={"email": email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert response.status_code == 429
    assert "Too many attempts" in text_of(response)
    assert _try(second_worker.test_client(), email, PASSWORD, 10) == 429


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
