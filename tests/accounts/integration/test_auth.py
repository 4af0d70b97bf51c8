"""Logging in and out: credentials, sessions, cookies, redirects, password storage, throttling, CSRF."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.samples import csrf_token, text_of


def _session_cookie(response: Any) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_login_lands_on_the_role_home_and_logout_ends_the_session(web, world):
    homes = {
        world.acme_user: "/portal/",
        world.agent: "/agent/queue",
        world.manager: "/manager/",
        world.admin: "/admin/",
    }
    for user, home in homes.items():
        response = web.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
        assert response.headers["Location"] == home
        assert web.get(home).status_code == 200
        response = web.post("/logout")
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        assert web.get(home).status_code == 302  # back to the login page


def test_email_is_matched_without_regard_to_case_and_spaces(web, world):
    response = web.post("/login", data={"email": "  ANNA@Acme.Example ", "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_is_refused_with_a_message(web, world):
    response = web.post("/login", data={"email": world.acme_user.email, "password": "not the password"})
    assert response.status_code == 401
    assert "Wrong e-mail or password." in text_of(response)
    assert world.acme_user.email in text_of(response)  # the e-mail typed stays filled in
    assert web.get("/portal/").status_code == 302


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(web, world):
    response = web.post("/login", data={"email": "nobody@acme.example", "password": PASSWORD})
    assert response.status_code == 401
    assert "Wrong e-mail or password." in text_of(response)


def test_empty_login_form_is_refused_by_its_fields_not_a_crash(web, world):
    # An invalid form is a 422 like every other form (issue 11); only a bad CSRF token is a 400.
    assert web.post("/login", data={}).status_code == 422


def test_inactive_user_is_refused(web, world):
    from helpdesk.extensions import db

    world.acme_user.active = False
    db.session.commit()
    response = web.post("/login", data={"email": world.acme_user.email, "password": PASSWORD})
    assert response.status_code == 401
    assert web.get("/portal/").status_code == 302


def test_deactivating_a_logged_in_user_ends_their_access(web, world, login):
    from helpdesk.extensions import db

    login(world.acme_user)
    assert web.get("/portal/").status_code == 200
    world.acme_user.active = False
    db.session.commit()
    assert web.get("/portal/").status_code == 302


def test_login_starts_a_new_session(web, world):
    web.get("/login")
    with web.session_transaction() as session:
        session["planted"] = "by someone before login"
        session["_user_id"] = str(world.admin.id)  # a fixated identity must not survive either
    before = web.get_cookie("session").value
    response = web.post("/login", data={"email": world.acme_user.email, "password": PASSWORD})
    assert response.status_code == 302
    after = web.get_cookie("session").value
    assert after != before
    with web.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(world.acme_user.id)
    assert web.get("/admin/").status_code == 403


def test_language_chosen_before_login_is_kept(web, world):
    web.post("/language/pl", data={"next": "/login"})
    web.post("/login", data={"email": world.agent.email, "password": PASSWORD})
    with web.session_transaction() as session:
        assert session["language"] == "pl"


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_http(web, world):
    response = web.post("/login", data={"email": world.acme_user.email, "password": PASSWORD})
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(web, world):
    response = web.post(
        "/login",
        data={"email": world.acme_user.email, "password": PASSWORD},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_behind_a_tls_proxy(app, world):
    """gunicorn's --forwarded-allow-ips makes the request https when the proxy says so."""
    web = app.test_client()
    response = web.post(
        "/login",
        data={"email": world.acme_user.email, "password": PASSWORD},
        environ_overrides={"wsgi.url_scheme": "https"},
    )
    assert "Secure" in _session_cookie(response)


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "evil.example"],
)
def test_next_pointing_elsewhere_is_ignored(web, world, target):
    response = web.post(
        "/login", query_string={"next": target}, data={"email": world.acme_user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    # a path on this site (a backslash is sent percent-encoded, so no browser reads it as "//")
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert urlsplit(location).netloc == "" and "evil.example" not in location.split("/")[1:2]


def test_next_within_the_site_is_followed(web, world):
    response = web.post(
        "/login", query_string={"next": "/portal/tickets/new"},
        data={"email": world.acme_user.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/portal/tickets/new"


def test_password_is_stored_as_argon2id_never_plain(app, world):
    from helpdesk.accounts import User, check_password
    from helpdesk.extensions import db

    hashes = db.session.scalars(select(User.password_hash)).all()
    assert hashes
    for stored in hashes:
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
    assert check_password(world.acme_user, PASSWORD)
    assert not check_password(world.acme_user, PASSWORD + "x")


def test_login_upgrades_a_hash_made_with_weaker_parameters(app, web, world):
    from argon2 import PasswordHasher

    from helpdesk.accounts import User
    from helpdesk.extensions import db

    world.acme_user.password_hash = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    db.session.commit()
    assert web.post("/login", data={"email": world.acme_user.email, "password": PASSWORD}).status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, world.acme_user.id).password_hash
    assert stored.startswith("$argon2id$") and "m=1024" in stored


@pytest.fixture
def strict_limits(app_config: dict[str, Any]) -> None:
    """Three login attempts a minute, per account and per address (asked for before `app`)."""
    app_config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per minute"
    app_config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per minute"


@pytest.fixture
def csrf_on(app_config: dict[str, Any]) -> None:
    app_config["WTF_CSRF_ENABLED"] = True


def test_login_is_throttled_per_account_whatever_the_address(strict_limits, web, world):
    email = world.acme_user.email
    for n in range(3):
        response = web.post(
            "/login", data={"email": email, "password": "wrong"}, environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}
        )
        assert response.status_code == 401
    response = web.post(
        "/login", data={"email": email.upper(), "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert response.status_code == 429
    assert "Too many attempts" in text_of(response)
    # another account from the same addresses is not held up
    response = web.post(
        "/login", data={"email": world.acme_colleague.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 302


def test_login_is_throttled_per_address_whatever_the_account(strict_limits, app, world):
    web = app.test_client()
    attacker = {"REMOTE_ADDR": "192.0.2.66"}
    for n in range(3):
        response = web.post("/login", data={"email": f"guess{n}@acme.example", "password": "x"}, environ_base=attacker)
        assert response.status_code == 401
    response = web.post("/login", data={"email": world.acme_user.email, "password": PASSWORD}, environ_base=attacker)
    assert response.status_code == 429
    other = app.test_client()
    response = other.post(
        "/login", data={"email": world.acme_user.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 302


def test_throttling_counts_only_login_attempts_not_page_views(strict_limits, web, world):
    for _ in range(5):
        assert web.get("/login").status_code == 200


def _login_with_csrf(web: Any, email: str) -> None:
    token = csrf_token(web.get("/login").data)
    response = web.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, text_of(response)[:500]


def test_forms_need_a_csrf_token(csrf_on, web, world):
    from helpdesk.extensions import db
    from tickets.models import Ticket

    # the login form itself is protected
    response = web.post("/login", data={"email": world.acme_user.email, "password": PASSWORD})
    assert response.status_code == 400
    _login_with_csrf(web, world.acme_user.email)

    form = {"subject": "Forged", "description": "From another site.", "category": "bug", "priority": "normal"}
    response = web.post("/portal/tickets/new", data=form)
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Ticket.id))) == 0

    response = web.post("/portal/tickets/new", data={**form, "csrf_token": "forged"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Ticket.id))) == 0

    token = csrf_token(web.get("/portal/tickets/new").data)
    response = web.post("/portal/tickets/new", data={**form, "subject": "Real", "csrf_token": token})
    assert response.status_code == 302
    subjects = db.session.scalars(select(Ticket.subject)).all()
    assert subjects == ["Real"]

    # logging out needs the token too, so another site cannot log a user out
    assert web.post("/logout").status_code == 400
    assert web.get("/portal/").status_code == 200
    token = csrf_token(web.get("/portal/").data)
    assert web.post("/logout", data={"csrf_token": token}).status_code == 302
    assert web.get("/portal/").status_code == 302
