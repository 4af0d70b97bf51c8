"""Never a 500: every route, as every role, with odd query strings and form values.

Also: every form needs its CSRF token, and uploads go through the pluggable storage interface.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import PASSWORD
from tests.samples import png_bytes

FIELDS = (
    "subject", "description", "category", "priority", "body", "internal", "status", "assignee", "reason",
    "email", "name", "password", "role", "client", "client_admin", "slug", "guardian", "active",
    "timezone", "language", "next",
)
ODD_VALUES = {
    "nul": "a\x00b",
    "huge": "x" * 120_000,
    "unicode": "Zażółć gęślą jaźń 🎫 \u202e\u200b ﷽",
    "markup": "<script>alert(1)</script>\"' --;",
    "numbers": "-1",
}
QUERY = "status={v}&category={v}&priority={v}&client={v}&assignee={v}&limit={v}&cursor={v}&scope={v}&next={v}"


def _urls(app: Any, ids: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", str(ids.get(name, "pl")), url)
        for method in ("GET", "POST"):
            if method in rule.methods:
                found.append((method, url))
    return found


@pytest.mark.parametrize("who", ["acme_user", "agent", "admin"])
@pytest.mark.parametrize("odd", sorted(ODD_VALUES))
def test_no_route_answers_odd_input_with_a_500(app, world, make_ticket, who, odd):
    from urllib.parse import quote

    ticket = make_ticket(world.acme_user, files=[])
    ids = {"ticket_id": ticket.id, "attachment_id": 1, "user_id": world.acme_colleague.id, "client_id": world.globex.id}
    value = ODD_VALUES[odd]
    client = app.test_client()
    assert client.post("/login", data={"email": getattr(world, who).email, "password": PASSWORD}).status_code == 302
    for method, url in _urls(app, ids):
        if url == "/logout":
            continue  # stays logged in for the whole walk
        if method == "GET":
            response = client.get(f"{url}?{QUERY.format(v=quote(value[:2000]))}")
        else:
            data = MultiDict([(name, value) for name in FIELDS] + [("status", "closed")])
            data.add("attachments", FileStorage(io.BytesIO(png_bytes()), value[:100] + ".png", content_type="image/png"))
            # encoded in memory: the test client would spool a large body to a file it never closes
            boundary, body = encode_multipart(data)
            response = client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")
        assert response.status_code < 500, (who, odd, method, url, response.status_code)


def test_nul_characters_are_refused_before_they_reach_the_database(web, world, login, count_rows):
    from tickets.models import Ticket

    login(world.acme_user)
    response = web.post(
        "/portal/tickets/new", data={"subject": "a\x00b", "description": "d", "category": "bug", "priority": "normal"}
    )
    assert response.status_code == 400
    assert count_rows(Ticket) == 0
    assert web.post("/login", data={"email": "anna\x00@acme.example", "password": "x"}).status_code == 400


@pytest.fixture
def csrf_on(app_config: dict[str, Any]) -> None:
    app_config["WTF_CSRF_ENABLED"] = True


@pytest.mark.parametrize("who", ["acme_user", "agent", "admin"])
def test_every_form_needs_its_csrf_token(csrf_on, app, world, make_ticket, who):
    from tests.samples import csrf_token
    from tests.security.integration.test_isolation import CompanyA

    a = CompanyA(world)
    ids = a.ids()
    before = a.snapshot()
    client = app.test_client()
    token = csrf_token(client.get("/login").data)
    user = getattr(world, who)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    # (the API takes no cookies and so needs no CSRF token: it answers 401 to a session)
    posts = [url for method, url in _urls(app, ids) if method == "POST" and not url.startswith("/api/")]
    assert len(posts) >= 12
    for url in posts:
        response = client.post(url, data={name: "x" for name in FIELDS} | {"category": "bug", "priority": "low"})
        assert response.status_code == 400, (who, url, response.status_code)
        assert "the form may have expired" in response.get_data(as_text=True)
    assert a.snapshot() == before
    assert client.get("/preferences").status_code == 200  # still logged in: /logout refused too


def test_uploads_go_through_the_storage_interface(app_config, monkeypatch, world, login, count_rows):
    """Another store (say, an object store) takes the place of the local folder by config alone."""
    from helpdesk import storage
    from tickets.models import Attachment

    class MemoryStorage:
        def __init__(self) -> None:
            self.blobs: dict[str, bytes] = {}

        def save(self, data: bytes) -> str:
            key = f"{len(self.blobs):032x}"
            self.blobs[key] = data
            return key

        def open(self, key: str) -> io.BytesIO:
            if key not in self.blobs:
                raise KeyError(key)
            return io.BytesIO(self.blobs[key])

        def delete(self, key: str) -> None:
            self.blobs.pop(key, None)

    store = MemoryStorage()
    monkeypatch.setitem(storage.BACKENDS, "memory", lambda app: store)
    app_config["STORAGE_BACKEND"] = "memory"
    from app import create_app
    from helpdesk.extensions import db

    email = world.acme_user.email  # read here: inside the other app, the world's session would use its engine
    other = create_app(app_config)
    with other.app_context():
        web = other.test_client()
        web.post("/login", data={"email": email, "password": PASSWORD})
        response = web.post(
            "/portal/tickets/new",
            data={"subject": "s", "description": "d", "category": "bug", "priority": "low",
                  "attachments": (io.BytesIO(png_bytes()), "shot.png")},
        )
        assert response.status_code == 302
        assert list(store.blobs.values()) == [png_bytes()]
        assert count_rows(Attachment) == 1
        attachment_id = db.session.scalar(select(Attachment.id))
        download = web.get(f"/attachments/{attachment_id}")
        assert download.status_code == 200 and download.data == png_bytes()
        db.session.remove()
        db.engine.dispose()  # this app's own engine: its connections must not outlive the test
    from pathlib import Path

    assert not Path(app_config["UPLOAD_FOLDER"]).exists()


def test_an_unknown_storage_backend_stops_the_app_from_starting(app_config):
    from app import create_app

    with pytest.raises(RuntimeError, match="Unknown STORAGE_BACKEND 's3-typo'"):
        create_app({**app_config, "STORAGE_BACKEND": "s3-typo"})
