"""Sessions that end: logout, password changes and deactivation end every session of the user;
self-service password change, password reset by e-mail, and the password policy."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.samples import text_of

NEW_PASSWORD = "Zielony-Dab-nad-Wisla"


def _copy_session(source: Any, target: Any) -> None:
    """Put the session cookie of `source` into `target`, as a thief who copied it would."""
    target.set_cookie("session", source.get_cookie("session").value)


def _logged_out(client: Any) -> bool:
    response = client.get("/preferences")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_copied_cookie_replayed_after_logout_is_refused_and_mints_no_token(app, web, world, login):
    from sqlalchemy import func, select

    from helpdesk.api.tokens import ApiToken
    from helpdesk.extensions import db

    login(world.acme_user)
    thief = app.test_client()
    _copy_session(web, thief)
    assert thief.get("/preferences").status_code == 200  # the copy works while the session lives
    assert thief.post("/preferences/tokens/", data={"name": "before"}).status_code == 200
    assert db.session.scalar(select(func.count(ApiToken.id))) == 1
    assert web.post("/logout").status_code == 302
    assert _logged_out(thief)
    response = thief.post("/preferences/tokens/", data={"name": "stolen"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert db.session.scalar(select(func.count(ApiToken.id))) == 1


def test_an_admin_changing_the_password_ends_the_old_sessions(app, web, world, login):
    login(world.acme_user)
    admin = login(world.admin, app.test_client())
    response = admin.post(
        f"/admin/users/{world.acme_user.id}",
        data={"email": world.acme_user.email, "name": "Anna", "role": "client", "client": "acme",
              "active": "y", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302, text_of(response)[:800]
    assert _logged_out(web)
    assert admin.get("/admin/users").status_code == 200  # the admin's own session goes on


def test_deactivation_ends_the_sessions_for_good(app, web, world, login):
    from helpdesk.extensions import db

    login(world.acme_user)
    admin = login(world.admin, app.test_client())
    form = {"email": world.acme_user.email, "name": "Anna", "role": "client", "client": "acme"}
    assert admin.post(f"/admin/users/{world.acme_user.id}", data=form).status_code == 302  # unticked
    assert _logged_out(web)
    # reactivated, the old cookie stays dead: only a new login opens a session
    world.acme_user.active = True
    db.session.commit()
    assert _logged_out(web)


def test_self_service_change_needs_the_current_password(web, world, login):
    login(world.acme_user)
    response = web.post(
        "/preferences/password",
        data={"current_password": "not the password", "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert 'id="current_password-error"' in text_of(response)
    assert "This is not your current password." in text_of(response)
    response = web.post(
        "/preferences/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD + "x"},
    )
    assert response.status_code == 422 and 'id="repeat_password-error"' in text_of(response)
    other = web.application.test_client()
    assert other.post("/login", data={"email": world.acme_user.email, "password": PASSWORD}).status_code == 302


def test_self_service_change_ends_other_sessions_but_not_this_one(app, web, world, login):
    login(world.acme_user)
    laptop = login(world.acme_user, app.test_client())
    response = web.post(
        "/preferences/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/preferences"
    assert web.get("/preferences").status_code == 200
    assert _logged_out(laptop)
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": world.acme_user.email, "password": PASSWORD}).status_code == 401
    assert fresh.post("/login", data={"email": world.acme_user.email, "password": NEW_PASSWORD}).status_code == 302


def _reset_links(app: Any, address: str) -> list[str]:
    links = []
    for path in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address not in str(message["To"]):
            continue
        body = message.get_body(("plain",)).get_content()
        links += re.findall(r"https?://\S+/password/reset/\S+", body)
    return links


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(app, web, world):
    page = text_of(web.get("/login"))
    assert 'href="/password/forgot"' in page
    known = web.post("/password/forgot", data={"email": "  Anna@ACME.example "}, follow_redirects=True)
    unknown = web.post("/password/forgot", data={"email": "nobody@acme.example"}, follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    assert "we have sent it a link" in text_of(known) and "we have sent it a link" in text_of(unknown)
    assert len(_reset_links(app, "anna@acme.example")) == 1
    assert _reset_links(app, "nobody@acme.example") == []


def test_a_reset_link_works_once_and_ends_every_session(app, web, world, login):
    login(world.acme_user)
    stranger = app.test_client()
    stranger.post("/password/forgot", data={"email": world.acme_user.email})
    [link] = _reset_links(app, world.acme_user.email)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert stranger.get("/" + path).status_code == 200
    weak = stranger.post("/" + path, data={"new_password": "password123", "repeat_password": "password123"})
    assert weak.status_code == 422 and 'id="new_password-error"' in text_of(weak)
    response = stranger.post("/" + path, data={"new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _logged_out(web)
    again = stranger.post("/" + path, data={"new_password": "Another-Strong-Pass-42", "repeat_password": "Another-Strong-Pass-42"})
    assert again.status_code == 404
    assert "invalid, used or expired" in text_of(again)
    assert stranger.post("/login", data={"email": world.acme_user.email, "password": NEW_PASSWORD}).status_code == 302


def test_a_reset_token_expires_after_an_hour(app, web, world):
    from helpdesk.accounts import password_reset_token, user_for_reset_token
    from helpdesk.clock import frozen

    issued = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    with frozen(issued):
        token = password_reset_token(world.acme_user)
    with frozen(issued + timedelta(minutes=59)):
        assert user_for_reset_token(token) == world.acme_user
    with frozen(issued + timedelta(minutes=61)):
        assert user_for_reset_token(token) is None
        response = web.post(f"/password/reset/{token}", data={"new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
        assert response.status_code == 404
    assert user_for_reset_token(token + "x") is None


def test_reset_requests_are_throttled_per_address(app, web, world):
    for _ in range(5):
        web.post("/password/forgot", data={"email": world.acme_user.email.upper()})
    assert len(_reset_links(app, world.acme_user.email)) == 3  # PASSWORD_RESET_LIMIT_PER_ACCOUNT


def test_reset_links_never_reach_webhooks(app, world):
    from helpdesk.notifications.webhooks import WebhookError, parse_events

    with pytest.raises(WebhookError):
        parse_events(["account.password_reset"])


@pytest.mark.parametrize(
    "password, message",
    [
        ("Short-1x", "at least 10 characters"),
        ("1234567890", "too common or too easy to guess"),
        ("password123", "too common or too easy to guess"),
        ("qwertyuiop", "too common or too easy to guess"),
    ],
)
def test_the_policy_refuses_short_and_common_passwords_everywhere(app, web, world, login, password, message):
    from click.testing import CliRunner

    login(world.acme_user)
    response = web.post(
        "/preferences/password",
        data={"current_password": PASSWORD, "new_password": password, "repeat_password": password},
    )
    assert response.status_code == 422
    assert 'id="new_password-error"' in text_of(response) and message in text_of(response)

    admin = login(world.admin, app.test_client())
    response = admin.post(
        "/admin/users/new",
        data={"email": "new@vendor.example", "password": password, "role": "agent", "client": ""},
    )
    assert response.status_code == 422
    assert 'id="password-error"' in text_of(response) and message in text_of(response)

    result = CliRunner().invoke(
        app.cli, ["users", "create", "--email", "cli@vendor.example", "--password", password, "--role", "agent"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1 and message in result.output


def test_the_policy_accepts_the_demo_and_test_passwords(app):
    from helpdesk.accounts import validate_password
    from tickets.demo import DEMO_PASSWORD

    validate_password(DEMO_PASSWORD)
    validate_password(PASSWORD)
    validate_password(NEW_PASSWORD)


def test_an_admin_changing_their_own_password_stays_logged_in_here_only(app, web, world, login):
    login(world.admin)
    other = login(world.admin, app.test_client())
    response = web.post(
        f"/admin/users/{world.admin.id}",
        data={"email": world.admin.email, "role": "admin", "client": "", "active": "y", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302, text_of(response)[:800]
    assert web.get("/admin/users").status_code == 200
    assert _logged_out(other)
