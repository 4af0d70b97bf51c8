"""The client portal: filing tickets with attachments, threads, replies, who sees what, bad input."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select

from tests.samples import ELF_BYTES, PDF_BYTES, png_bytes, text_of

GOOD_FORM = {
    "subject": "Labels print blank",
    "description": "Since this morning every label is blank.",
    "category": "bug",
    "priority": "high",
}


def _files(*items: tuple[bytes, str]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for data, name in items]


def _ticket_id(response: Any) -> int:
    assert response.status_code == 302, text_of(response)[:2000]
    match = re.fullmatch(r"/portal/tickets/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _stored(model: Any) -> list[Any]:
    from helpdesk.extensions import db

    return list(db.session.scalars(select(model).order_by(model.id)))


def test_client_files_a_ticket_with_attachments_sees_it_and_replies(app, web, world, login):
    from tickets.models import Attachment, Message, Ticket, TicketEvent

    login(world.acme_user)
    page = text_of(web.get("/portal/tickets/new"))
    assert 'name="subject"' in page and 'name="attachments"' in page and 'type="file"' in page

    response = web.post(
        "/portal/tickets/new",
        data={
            **GOOD_FORM,
            "attachments": _files(
                (png_bytes(), "screen shot.png"), (PDF_BYTES, "invoice.pdf"), (b"12:00 sync failed\n", "sync.txt")
            ),
        },
    )
    ticket_id = _ticket_id(response)

    ticket = _stored(Ticket)[0]
    assert (ticket.id, ticket.subject, ticket.category, ticket.priority, ticket.status) == (
        ticket_id, "Labels print blank", "bug", "high", "new",
    )
    assert (ticket.client_id, ticket.requester_id) == (world.acme.id, world.acme_user.id)
    files = {a.filename: a for a in _stored(Attachment)}
    assert {name: a.content_type for name, a in files.items()} == {
        "screen shot.png": "image/png",
        "invoice.pdf": "application/pdf",
        "sync.txt": "text/plain; charset=utf-8",
    }
    assert all(a.ticket_id == ticket_id and a.message_id is None and not a.internal for a in files.values())
    events = _stored(TicketEvent)
    assert [(e.kind, e.actor_id) for e in events] == [("created", world.acme_user.id)]

    page = text_of(web.get(f"/portal/tickets/{ticket_id}"))
    assert f"Thank you. Your ticket OP-{ticket_id} is filed." in page
    assert "Labels print blank" in page and "Since this morning every label is blank." in page
    for name, attachment in files.items():
        assert escape(name) in page
        assert f"/attachments/{attachment.id}" in page

    listing = text_of(web.get("/portal/"))
    assert f"/portal/tickets/{ticket_id}" in listing and "Labels print blank" in listing

    response = web.post(
        f"/portal/tickets/{ticket_id}",
        data={"body": "It happens on station 2 too.", "attachments": _files((png_bytes(3, 1), "station2.png"))},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/portal/tickets/{ticket_id}"
    page = text_of(web.get(f"/portal/tickets/{ticket_id}"))
    assert "It happens on station 2 too." in page and "station2.png" in page
    (message,) = _stored(Message)
    assert (message.author_id, message.internal, message.body) == (world.acme_user.id, False, "It happens on station 2 too.")
    reply_file = [a for a in _stored(Attachment) if a.filename == "station2.png"][0]
    assert reply_file.message_id == message.id


def test_the_form_explains_each_category(web, world, login):
    login(world.acme_user)
    page = text_of(web.get("/portal/tickets/new"))
    for value in ("question", "configuration_change", "bug"):
        assert 'type="radio"' in page and f'value="{value}"' in page
    assert "How does something work?" in page
    assert "Change my setup" in page
    assert "The product misbehaves" in page
    for value in ("low", "normal", "high", "urgent"):
        assert f'<option value="{value}"' in page or f'<option selected value="{value}"' in page


def test_client_admin_sees_the_company_tickets_only_when_asking(web, world, login, make_ticket):
    own = make_ticket(world.acme_admin, "Admin's own question")
    colleague = make_ticket(world.acme_user, "Anna's question")
    other_company = make_ticket(world.globex_user, "Globex secret")

    login(world.acme_admin)
    mine = text_of(web.get("/portal/"))
    assert escape("Admin's own question") in mine and escape("Anna's question") not in mine
    company = text_of(web.get("/portal/", query_string={"scope": "company"}))
    assert escape("Admin's own question") in company and escape("Anna's question") in company
    assert "Globex secret" not in company
    assert web.get(f"/portal/tickets/{colleague.id}").status_code == 200
    assert web.get(f"/portal/tickets/{own.id}").status_code == 200
    assert web.get(f"/portal/tickets/{other_company.id}").status_code == 404


def test_client_user_does_not_see_a_colleagues_ticket(web, world, login, make_ticket):
    colleague = make_ticket(world.acme_colleague, "Bob's private matter")
    login(world.acme_user)
    for scope in (None, "company"):
        listing = text_of(web.get("/portal/", query_string={"scope": scope} if scope else None))
        assert escape("Bob's private matter") not in listing
    assert web.get(f"/portal/tickets/{colleague.id}").status_code == 404
    assert web.post(f"/portal/tickets/{colleague.id}", data={"body": "me too"}).status_code == 404


def test_clients_never_see_internal_notes_their_files_or_their_history(app, web, world, login, make_ticket):
    from tickets import access
    from tickets.models import Attachment

    ticket = make_ticket(world.acme_user, "Where is my invoice?")
    login(world.agent)
    response = web.post(
        f"/agent/tickets/{ticket.id}/reply",
        data={
            "body": "Customer is on the old plan, do not promise anything",
            "internal": "y",
            "attachments": _files((b"contract notes\n", "contract-internal.txt")),
        },
    )
    assert response.status_code == 302
    web.post(f"/agent/tickets/{ticket.id}/reply", data={"body": "We are looking into it."})
    agent_page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
    assert "do not promise anything" in agent_page and "contract-internal.txt" in agent_page
    internal_file = [a for a in _stored(Attachment) if a.internal][0]

    for viewer in (world.acme_user, world.acme_admin):
        login(viewer)
        page = text_of(web.get(f"/portal/tickets/{ticket.id}"))
        assert "We are looking into it." in page
        assert "do not promise anything" not in page
        assert "contract-internal.txt" not in page
        assert f"/attachments/{internal_file.id}" not in page
        assert "Internal note" not in page
        assert web.get(f"/attachments/{internal_file.id}").status_code == 404
        kinds = [e.kind for e in access.history(viewer, ticket)]
        assert "note_added" not in kinds and "replied" in kinds
        assert all(not m.internal for m in access.thread(viewer, ticket))
        assert all(not a.internal for a in access.attachments(viewer, ticket))


# -- bad input -----------------------------------------------------------------------------


@pytest.fixture
def small_files(app_config: dict[str, Any]) -> None:
    app_config["ATTACHMENT_MAX_BYTES"] = 2048


BAD_INPUT = [
    pytest.param({"subject": "  "}, None, "subject", "This field is required.", id="empty-subject"),
    pytest.param({"description": "x" * 100_000}, None, "description", "At most 20000 characters.", id="100kB-description"),
    pytest.param({"subject": "s" * 201}, None, "subject", "At most 200 characters.", id="long-subject"),
    pytest.param({"category": "feature_request"}, None, "category", "Choose one of: Question, Configuration change, Bug.", id="unknown-category"),
    pytest.param({"category": None}, None, "category", "Choose one of", id="no-category"),
    pytest.param({"priority": "critical"}, None, "priority", "Choose one of: Low, Normal, High, Urgent.", id="unknown-priority"),
    pytest.param({}, (b"\x89PNG\r\n\x1a\n" + b"\x00" * 4096, "huge.png"), "attachments", "is larger than", id="too-large"),
    pytest.param({}, (ELF_BYTES, "setup.exe"), "attachments", "is not of an allowed type", id="executable"),
    pytest.param({}, (ELF_BYTES, "notes.txt"), "attachments", "is not of an allowed type", id="binary-as-txt"),
    pytest.param({}, (b"hello\x00world", "log.txt"), "attachments", "is not of an allowed type", id="nul-in-txt"),
    pytest.param({}, (b"<html><script>alert(1)</script></html>", "cat.png"), "attachments", "is not of an allowed type", id="html-as-png"),
    pytest.param({}, (b"", "empty.pdf"), "attachments", "is empty", id="empty-file"),
]


@pytest.mark.parametrize(("change", "upload", "field", "message"), BAD_INPUT)
def test_bad_input_comes_back_with_a_message_and_what_was_typed(
    small_files, web, world, login, change, upload, field, message
):
    from tickets.models import Attachment, Ticket

    login(world.acme_user)
    form = {**GOOD_FORM, "subject": "Sync <stopped> & more", "description": "Typed with care: \"quotes\" & <tags>"}
    form.update(change)
    form = {k: v for k, v in form.items() if v is not None}
    data: dict[str, Any] = dict(form)
    if upload:
        data["attachments"] = _files((png_bytes(), "fine.png"), upload)
    response = web.post("/portal/tickets/new", data=data)

    assert 400 <= response.status_code < 500, response.status_code
    page = text_of(response)
    error = re.search(rf'<p class="field-error" id="{field}(?:-0)?-error">([^<]*)</p>', page)
    assert error, f"no message next to {field}"
    assert message in html.unescape(error.group(1))
    # what was typed is still there
    if form.get("subject", "").strip():
        assert f'value="{escape(form["subject"])}"' in page
    assert escape(form["description"]) in page
    if form.get("category") in ("question", "configuration_change", "bug"):
        assert re.search(rf'<input checked[^>]*value="{form["category"]}"', page)
    if form.get("priority") in ("low", "normal", "high", "urgent"):
        assert f'<option selected value="{form["priority"]}"' in page
    if upload:
        assert "Please attach your files again." in page
    assert _stored(Ticket) == [] and _stored(Attachment) == []
    uploads = Path(web.application.config["UPLOAD_FOLDER"])
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


def test_too_many_files_are_refused(app_config, web, world, login):
    from tickets.models import Ticket

    login(world.acme_user)
    limit = web.application.config["ATTACHMENT_MAX_FILES"]
    files = _files(*[(png_bytes(), f"p{n}.png") for n in range(limit + 1)])
    response = web.post("/portal/tickets/new", data={**GOOD_FORM, "attachments": files})
    assert response.status_code == 422
    assert f"At most {limit} files at once." in text_of(response)
    assert _stored(Ticket) == []


def test_a_request_over_the_size_limit_is_refused_without_a_crash(app_config, web, world, login):
    from tickets.models import Ticket

    login(world.acme_user)
    web.application.config["MAX_CONTENT_LENGTH"] = 10_000
    response = web.post(
        "/portal/tickets/new", data={**GOOD_FORM, "attachments": _files((b"\x89PNG\r\n\x1a\n" + b"\0" * 20_000, "x.png"))}
    )
    assert response.status_code == 413
    assert "too large" in text_of(response)
    assert _stored(Ticket) == []


def test_a_form_without_files_is_not_told_to_attach_them_again(web, world, login):
    login(world.acme_user)
    response = web.post(
        "/portal/tickets/new",
        data={**GOOD_FORM, "subject": "", "attachments": (io.BytesIO(b""), "")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Please attach your files again." not in text_of(response)


def test_nothing_odd_in_a_reply_is_a_500(web, world, login, make_ticket):
    ticket = make_ticket(world.acme_user)
    login(world.acme_user)
    response = web.post(f"/portal/tickets/{ticket.id}", data={"body": "   "})
    assert response.status_code == 422
    assert "This field is required." in text_of(response)
    response = web.post(f"/portal/tickets/{ticket.id}", data={"body": "y" * 30_000})
    assert response.status_code == 422
    assert "y" * 30_000 in text_of(response)
    response = web.post(
        f"/portal/tickets/{ticket.id}", data={"body": "see file", "attachments": _files((ELF_BYTES, "a.pdf"))}
    )
    assert response.status_code == 422
    assert "see file" in text_of(response)


# -- showing text and serving files --------------------------------------------------------


def test_ticket_text_is_escaped_or_sanitised(web, world, login, make_ticket):
    description = (
        "<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
        "<img src=x onerror=alert(2)> [ok](https://example.com) **bold**"
    )
    ticket = make_ticket(world.acme_user, "<script>alert('subject')</script>", description=description)
    login(world.acme_user)
    web.post(f"/portal/tickets/{ticket.id}", data={"body": "<script>alert(3)</script> [y](javascript:alert(4))"})
    pages = [text_of(web.get(f"/portal/tickets/{ticket.id}")), text_of(web.get("/portal/"))]
    login(world.agent)
    pages += [text_of(web.get(f"/agent/tickets/{ticket.id}")), text_of(web.get("/agent/queue"))]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img" not in page
        assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", page, re.I)
        assert "onerror=" not in page.replace("onerror=alert(2)&gt;", "")
    for page in (pages[0], pages[2]):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert '<a href="https://example.com" rel="noopener noreferrer nofollow">ok</a>' in page
        assert "<strong>bold</strong>" in page


def test_attachments_are_served_after_the_access_check_as_downloads(app, web, world, login, make_ticket):
    from helpdesk.uploads import check_file
    from tickets.models import Attachment

    data = png_bytes()
    ticket = make_ticket(world.acme_user, files=[check_file("../../etc/passwd.png", data, 10_000)])
    (attachment,) = _stored(Attachment)
    assert attachment.filename == "passwd.png"

    for allowed in (world.acme_user, world.acme_admin, world.agent, world.manager, world.admin):
        login(allowed)
        response = web.get(f"/attachments/{attachment.id}")
        assert response.status_code == 200, allowed
        assert response.data == data
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "passwd.png" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == "image/png"
        assert "no-store" in response.headers["Cache-Control"]
    for refused in (world.acme_colleague, world.globex_user, world.globex_admin):
        login(refused)
        assert web.get(f"/attachments/{attachment.id}").status_code == 404
    assert web.get(f"/attachments/{attachment.id + 1000}").status_code == 404
    web.post("/logout")
    response = web.get(f"/attachments/{attachment.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert ticket.id


def test_uploads_are_kept_under_generated_names_outside_static_folders(app, web, world, login):
    from tickets.models import Attachment

    login(world.acme_user)
    web.post("/portal/tickets/new", data={**GOOD_FORM, "attachments": _files((PDF_BYTES, "index.html.pdf"))})
    (attachment,) = _stored(Attachment)
    root = Path(app.config["UPLOAD_FOLDER"]).resolve()
    stored = root / attachment.storage_key
    assert stored.is_file() and stored.read_bytes() == PDF_BYTES
    assert [p for p in root.rglob("*") if p.is_file()] == [stored]
    assert "index" not in attachment.storage_key and "pdf" not in attachment.storage_key
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}", attachment.storage_key)
    static = Path(app.static_folder).resolve()
    assert not stored.is_relative_to(static)
    for blueprint in app.blueprints.values():
        if blueprint.static_folder:
            assert not stored.is_relative_to(Path(blueprint.static_folder).resolve())
    # and nothing serves the folder by its path
    assert web.get(f"/static/{attachment.storage_key}").status_code == 404
    assert web.get(f"/uploads/{attachment.storage_key}").status_code == 404


# -- status changes by the client's reply ---------------------------------------------------


def _set_status(ticket: Any, status: str, at: datetime) -> None:
    """An agent moves the ticket to `status` at the instant `at`."""
    from helpdesk.accounts import User
    from helpdesk.clock import frozen
    from helpdesk.extensions import db
    from tickets import services

    agent = db.session.scalar(select(User).where(User.email == "agent@vendor.example"))
    with frozen(at):
        services.change_status(services.Actor(agent), ticket, status)


def test_reply_within_the_reopen_window_reopens_a_resolved_ticket(web, world, login, make_ticket):
    from helpdesk.clock import frozen
    from tickets.models import Ticket, TicketEvent

    ticket = make_ticket(world.acme_user)
    resolved_at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    _set_status(ticket, "resolved", resolved_at)
    login(world.acme_user)
    with frozen(resolved_at + timedelta(days=13, hours=23)):
        response = web.post(f"/portal/tickets/{ticket.id}", data={"body": "Still broken."})
    assert response.status_code == 302
    (stored,) = _stored(Ticket)
    assert stored.status == "open" and stored.resolved_at is None
    reopened = [e for e in _stored(TicketEvent) if e.actor_id == world.acme_user.id and e.kind == "status_changed"]
    assert [e.data for e in reopened] == [{"from": "resolved", "to": "open"}]


# A reply after the reopen window, or to a closed ticket, files a new linked ticket:
# tests/tickets/integration/test_client_close.py.


def test_client_reply_moves_waiting_on_client_back_to_open(web, world, login, make_ticket):
    from tickets.models import Ticket

    ticket = make_ticket(world.acme_user)
    _set_status(ticket, "waiting_on_client", datetime.now(UTC))
    login(world.acme_user)
    assert web.post(f"/portal/tickets/{ticket.id}", data={"body": "Here is the export."}).status_code == 302
    assert _stored(Ticket)[0].status == "open"
