"""Client admins manage their company's users: list, invite (single-use signed link that expires),
deactivate (sessions end), reactivate; scoped to their company."""

from __future__ import annotations

import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.samples import text_of

NEW_PASSWORD = "violet-harbour-93-kestrel"


def _invitation_link(app: Any) -> str:
    parse = BytesParser(policy=policy.default).parsebytes
    mails = [parse(p.read_bytes()) for p in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))]
    (mail,) = [m for m in mails if "You are invited" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+(/invitation/\S+)", text).group(1)


def test_an_admin_invites_a_colleague_who_sets_name_and_password_once(app, web, world, login):
    from helpdesk.accounts import User, user_by_email
    from helpdesk.extensions import db

    login(world.acme_admin)
    page = text_of(web.get("/company/users"))
    assert "anna@acme.example" in page and "bob@acme.example" in page and "globex" not in page
    response = web.post("/company/users", data={"email": "not an address"})
    assert response.status_code == 422 and 'value="not an address"' in text_of(response)
    response = web.post("/company/users", data={"email": "gina@globex.example"})  # already someone's account
    assert response.status_code == 422 and "A user with this e-mail already exists." in text_of(response)
    assert web.post("/company/users", data={"email": "Carol@ACME.example"}).status_code == 302
    link = _invitation_link(app)

    web.post("/logout")
    page = text_of(web.get(link))
    assert "carol@acme.example" in page
    weak = web.post(link, data={"name": "Carol", "password": "password1", "repeat_password": "password1"})
    assert weak.status_code == 422 and 'value="Carol"' in text_of(weak)
    assert user_by_email("carol@acme.example") is None
    done = web.post(link, data={"name": "Carol", "password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert done.status_code == 302
    carol = user_by_email("carol@acme.example")
    assert (carol.name, carol.role, carol.client_id, carol.is_client_admin) == ("Carol", "client", world.acme.id, False)
    # single use
    assert web.get(link).status_code == 404
    again = web.post(link, data={"name": "Mallory", "password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert again.status_code == 404
    assert db.session.scalar(select(User).where(User.name == "Mallory")) is None
    assert web.post("/login", data={"email": "carol@acme.example", "password": NEW_PASSWORD}).status_code == 302


def test_an_invitation_expires(app, web, world, login):
    from helpdesk.accounts import user_by_email
    from helpdesk.clock import frozen, utcnow

    login(world.acme_admin)
    web.post("/company/users", data={"email": "late@acme.example"})
    link = _invitation_link(app)
    web.post("/logout")
    with frozen(utcnow() + timedelta(days=7, minutes=1)):
        assert web.get(link).status_code == 404
        web.post(link, data={"name": "Late", "password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert user_by_email("late@acme.example") is None
    assert web.get(link[:-3] + "abc").status_code == 404  # a forged signature


def test_deactivating_ends_the_sessions_and_reactivating_lets_them_back(app, world, login):
    from helpdesk.extensions import db

    anna = app.test_client()
    login(world.acme_user, anna)
    assert anna.get("/portal/").status_code == 200
    admin = login(world.acme_admin, app.test_client())
    assert admin.post(f"/company/users/{world.acme_user.id}/deactivate").status_code == 302
    db.session.refresh(world.acme_user)
    assert world.acme_user.active is False
    assert anna.get("/portal/").status_code == 302  # logged out: to the login page
    assert anna.post("/login", data={"email": world.acme_user.email, "password": PASSWORD}).status_code != 302
    assert admin.post(f"/company/users/{world.acme_user.id}/reactivate").status_code == 302
    assert anna.post("/login", data={"email": world.acme_user.email, "password": PASSWORD}).status_code == 302
    # an admin cannot lock themselves out
    assert admin.post(f"/company/users/{world.acme_admin.id}/deactivate").status_code == 409


def test_scoped_to_the_company_and_to_admins(app, web, world, login):
    from helpdesk.extensions import db

    login(world.globex_admin)
    for user in (world.acme_user, world.acme_admin):
        for action in ("deactivate", "reactivate"):
            assert web.post(f"/company/users/{user.id}/{action}").status_code == 404
    assert "acme" not in text_of(web.get("/company/users"))
    login(world.acme_colleague)  # not an admin
    assert web.get("/company/users").status_code == 403
    assert web.post("/company/users", data={"email": "x@acme.example"}).status_code == 403
    assert web.post(f"/company/users/{world.acme_user.id}/deactivate").status_code == 404
    login(world.agent)  # staff use the admin pages
    assert web.get("/company/users").status_code == 403
    for user in (world.acme_user, world.globex_user):
        db.session.refresh(user)
        assert user.active
