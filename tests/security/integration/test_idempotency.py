"""One submit, one effect: the same form or API call sent again (or at the same moment) acts once.

The concurrent tests run a real threaded WSGI server (werkzeug) and send the same request from
several threads through a barrier, each with its own HTTP connection, app context and database
connection. Filing and time logging are slowed a little so that the repeats surely arrive while
the first is still working: without the idempotency key the very same race makes one ticket (or
time entry) per request, which the control tests show.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from helpdesk.extensions import db
from helpdesk.idempotency import FORM_FIELD, IdempotencyKey
from plans.models import UsageEntry
from tests.api.support import *  # noqa: F403  (fixtures)
from tests.api.support import error_of
from tests.conftest import PASSWORD
from tickets.models import Ticket, TimeEntry

ROOT = Path(__file__).resolve().parents[3]
NEW_TICKET = {"subject": "Labels print blank", "description": "Since 9:00.", "category": "bug", "priority": "high"}


def count(model: Any, *where: Any) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app behind a real threaded HTTP server on a free loopback port; yields its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


def logged_in(base: str, user: Any) -> requests.Session:
    browser = requests.Session()
    response = browser.post(f"{base}/login", data={"email": user.email, "password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302, response.text[:300]
    return browser


def at_once(n: int, send: Any) -> list[Any]:
    """Call send() from n threads released together; return their results (re-raising failures)."""
    barrier = threading.Barrier(n, timeout=10)
    results: list[Any] = [None] * n

    def one(i: int) -> None:
        try:
            barrier.wait()
            results[i] = send()
        except BaseException as exc:  # reported by the main thread
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def slowed(monkeypatch: Any, module: Any, name: str, seconds: float = 0.4) -> None:
    """Make module.name take a little longer, so concurrent repeats overlap with the first."""
    real = getattr(module, name)

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)


# -- web forms -----------------------------------------------------------------------------------


def _three_at_once(server, world, monkeypatch, key):
    import tickets.services

    slowed(monkeypatch, tickets.services, "file_ticket")
    browser = logged_in(server, world.acme_user)
    data = dict(NEW_TICKET, **({FORM_FIELD: key} if key else {}))
    return at_once(3, lambda: browser.post(f"{server}/portal/tickets/new", data=data, allow_redirects=False))


def test_three_simultaneous_posts_of_the_new_ticket_form_make_one_ticket(app, world, server, monkeypatch):
    responses = _three_at_once(server, world, monkeypatch, str(uuid.uuid4()))
    assert [r.status_code for r in responses] == [302, 302, 302]
    assert len({r.headers["Location"] for r in responses}) == 1  # the same redirect for all three
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true", "true"]
    assert count(Ticket) == 1
    ticket = db.session.scalars(select(Ticket)).one()
    assert responses[0].headers["Location"].endswith(f"/portal/tickets/{ticket.id}")


def test_control_without_a_key_the_same_three_posts_make_three_tickets(app, world, server, monkeypatch):
    """The race above is real: the same three posts without a key each file a ticket."""
    responses = _three_at_once(server, world, monkeypatch, None)
    assert [r.status_code for r in responses] == [302, 302, 302]
    assert count(Ticket) == 3


def _two_time_entries_at_once(cov, world, clock, server, monkeypatch, key):
    import tickets.coverage

    plan = cov.plan(allowance_minutes=30, overage_policy="approval", hourly_rate="")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket_id = cov.file(world.acme_user, "question", "Setup").id
    db.session.commit()
    slowed(monkeypatch, tickets.coverage, "log_time")
    browser = logged_in(server, world.agent)
    data = {"minutes": "60", "work_date": "2026-11-10", "note": "Mapping", **({FORM_FIELD: key} if key else {})}
    responses = at_once(2, lambda: browser.post(f"{server}/agent/tickets/{ticket_id}/time", data=data,
                                                 allow_redirects=False))
    assert [r.status_code for r in responses] == [302, 302]
    return count(TimeEntry), count(UsageEntry, UsageEntry.charge == "pending")


def test_two_simultaneous_identical_time_entries_make_one_entry_and_one_overage(cov, world, clock, server,
                                                                               monkeypatch):
    assert _two_time_entries_at_once(cov, world, clock, server, monkeypatch, str(uuid.uuid4())) == (1, 1)


def test_control_without_a_key_two_time_entries_make_two_overages(cov, world, clock, server, monkeypatch):
    assert _two_time_entries_at_once(cov, world, clock, server, monkeypatch, None) == (2, 2)


def test_a_repeat_gets_the_first_redirect_and_its_message_and_creates_nothing(app, world, web, login):
    login(world.acme_user)
    data = dict(NEW_TICKET, **{FORM_FIELD: "k-1"})
    first = web.post("/portal/tickets/new", data=data)
    web.get(first.headers["Location"])  # the browser shows the first answer (and its message)
    again = web.post("/portal/tickets/new", data=data)
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "is filed" in web.get(again.headers["Location"]).get_data(as_text=True)  # told again
    assert count(Ticket) == 1
    assert web.post("/portal/tickets/new", data=NEW_TICKET).status_code == 302  # no key: still works
    assert count(Ticket) == 2


def test_a_failed_submit_gives_the_key_back(app, world, web, login):
    login(world.acme_user)
    bad = web.post("/portal/tickets/new", data=dict(NEW_TICKET, subject="   ", **{FORM_FIELD: "k-2"}))
    assert bad.status_code in (400, 422) and count(Ticket) == 0
    assert count(IdempotencyKey) == 0
    fixed = web.post("/portal/tickets/new", data=dict(NEW_TICKET, **{FORM_FIELD: "k-2"}))
    assert fixed.status_code == 302 and "Idempotent-Replayed" not in fixed.headers
    assert count(Ticket) == 1


def test_the_same_key_with_other_values_is_refused_with_a_message(app, world, web, login):
    login(world.acme_user)
    assert web.post("/portal/tickets/new", data=dict(NEW_TICKET, **{FORM_FIELD: "k-3"})).status_code == 302
    changed = web.post("/portal/tickets/new", data=dict(NEW_TICKET, subject="Other", **{FORM_FIELD: "k-3"}))
    assert changed.status_code == 422
    assert "already sent with other values" in changed.get_data(as_text=True)
    assert count(Ticket) == 1


def test_a_key_is_the_users_own(app, world, login):
    """Another user sending the same key files their own ticket and never sees the first answer."""
    anna, bob = app.test_client(), app.test_client()
    login(world.acme_user, anna)
    login(world.acme_colleague, bob)
    data = dict(NEW_TICKET, **{FORM_FIELD: "shared-key"})
    first, second = anna.post("/portal/tickets/new", data=data), bob.post("/portal/tickets/new", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] != second.headers["Location"]
    assert "Idempotent-Replayed" not in second.headers
    assert count(Ticket) == 2


def test_a_malformed_key_is_a_400(app, world, web, login):
    login(world.acme_user)
    response = web.post("/portal/tickets/new", data=dict(NEW_TICKET, **{FORM_FIELD: "x" * 300}))
    assert response.status_code == 400 and count(Ticket) == 0


def test_every_post_form_carries_the_guard():
    """No template writes its own CSRF field: each POST form calls form_guard() (token and key)."""
    forms = 0
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert "csrf_token" not in text, f"{path}: use form_guard()"
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r'method="post"', match.group(0)[:200], re.I):
                forms += 1
                body = match.group(1)
                assert "form_guard(" in body or "meeting_fields(" in body, f"{path}: a POST form without form_guard()"
    assert forms >= 40


def test_rendered_forms_carry_a_fresh_key_each(app, world, web, login, make_ticket):
    login(world.agent)
    ticket = make_ticket(world.acme_user)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    posts = len(re.findall(r'<form[^>]*method="post"', page))
    keys = re.findall(rf'name="{FORM_FIELD}" value="([0-9a-f-]{{36}})"', page)
    assert posts >= 6 and len(keys) == posts and len(set(keys)) == posts
    again = re.findall(rf'name="{FORM_FIELD}" value="([0-9a-f-]{{36}})"', web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True))
    assert not set(again) & set(keys)


def test_a_page_showing_a_secret_once_is_not_kept(app, world, web, login):
    """A repeat of "make a token" makes no second token, and the secret is never written to the table."""
    login(world.acme_user)
    data = {"name": "ERP", FORM_FIELD: "k-token"}
    first = web.post("/preferences/tokens/", data=data)
    assert first.status_code == 200 and "opk_" in first.get_data(as_text=True)
    again = web.post("/preferences/tokens/", data=data)
    assert again.status_code == 303 and again.headers["Location"].endswith("/preferences/tokens/")
    from helpdesk.api.tokens import ApiToken

    assert count(ApiToken) == 1
    stored = db.session.scalars(select(IdempotencyKey)).one()
    assert b"opk_" not in (stored.response_body or b"")


def test_expired_keys_are_purged_and_run_anew(app, world, web, login, clock, monkeypatch):
    import helpdesk.idempotency

    login(world.acme_user)
    clock.on(date(2026, 11, 10))
    data = dict(NEW_TICKET, **{FORM_FIELD: "k-old"})
    assert web.post("/portal/tickets/new", data=data).status_code == 302
    clock.on(date(2026, 11, 11), hour=13)  # 25 hours later
    monkeypatch.setattr(helpdesk.idempotency, "_last_purge", 0.0)
    assert web.post("/portal/tickets/new", data=dict(NEW_TICKET, **{FORM_FIELD: "k-new"})).status_code == 302
    assert [k.key for k in db.session.scalars(select(IdempotencyKey))] == ["k-new"]  # the old one purged
    assert web.post("/portal/tickets/new", data=data).status_code == 302
    assert count(Ticket) == 3  # after 24 hours the old key is a new request


# -- the API ---------------------------------------------------------------------------------------


def test_api_repeat_with_the_same_key_returns_the_first_ticket(api, world, tokens):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post("/api/v1/tickets", tokens.acme_user, json=NEW_TICKET, headers=key)
    again = api.post("/api/v1/tickets", tokens.acme_user, json=dict(reversed(NEW_TICKET.items())), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(Ticket) == 1


def test_api_another_token_with_the_same_key_gets_its_own_result(api, world, tokens, make_token):
    key = {"Idempotency-Key": "order-42"}
    mine = api.post("/api/v1/tickets", tokens.acme_user, json=NEW_TICKET, headers=key)
    theirs = api.post("/api/v1/tickets", tokens.acme_colleague, json=NEW_TICKET, headers=key)
    my_other_token = api.post("/api/v1/tickets", make_token(world.acme_user, "Second script"), json=NEW_TICKET,
                              headers=key)
    ids = {r.get_json()["id"] for r in (mine, theirs, my_other_token)}
    assert [r.status_code for r in (mine, theirs, my_other_token)] == [201, 201, 201] and len(ids) == 3
    assert count(Ticket) == 3


def test_api_the_same_key_with_another_body_is_refused(api, world, tokens):
    key = {"Idempotency-Key": "k-body"}
    assert api.post("/api/v1/tickets", tokens.acme_user, json=NEW_TICKET, headers=key).status_code == 201
    changed = api.post("/api/v1/tickets", tokens.acme_user, json=dict(NEW_TICKET, priority="low"), headers=key)
    assert changed.status_code == 422
    assert error_of(changed)["code"] == "idempotency_key_reused"
    assert "different request" in error_of(changed)["message"]
    assert count(Ticket) == 1


def test_api_a_refused_request_gives_the_key_back(api, world, tokens):
    key = {"Idempotency-Key": "k-retry"}
    refused = api.post("/api/v1/tickets", tokens.acme_user, json=dict(NEW_TICKET, subject="  "), headers=key)
    assert refused.status_code == 422 and count(IdempotencyKey) == 0
    assert api.post("/api/v1/tickets", tokens.acme_user, json=NEW_TICKET, headers=key).status_code == 201


def test_api_patch_honours_the_key(api, world, tokens, file_ticket):
    ticket = file_ticket(world.acme_user)
    key = {"Idempotency-Key": "k-patch"}
    first = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"priority": "urgent"}, headers=key)
    again = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"priority": "urgent"}, headers=key)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"


def test_api_a_malformed_key_is_a_422_naming_the_header(api, world, tokens):
    response = api.post("/api/v1/tickets", tokens.acme_user, json=NEW_TICKET, headers={"Idempotency-Key": "a b"})
    assert response.status_code == 422 and "Idempotency-Key" in error_of(response)["fields"]
    assert count(Ticket) == 0


def test_api_three_simultaneous_posts_with_the_same_key_make_one_ticket(app, world, tokens, server, monkeypatch):
    import tickets.services

    slowed(monkeypatch, tickets.services, "file_ticket")
    headers = {"Authorization": f"Bearer {tokens.acme_user}", "Idempotency-Key": str(uuid.uuid4())}
    responses = at_once(3, lambda: requests.post(f"{server}/api/v1/tickets", json=NEW_TICKET, headers=headers))
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.text for r in responses}) == 1
    assert count(Ticket) == 1


def test_the_header_is_documented_on_every_post_and_patch(api):
    for path, operations in api.document.raw["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            expected = method in ("post", "patch")
            assert ("Idempotency-Key" in names) == expected, f"{method} {path}"
            if expected:
                assert {"409", "422"} <= set(operation["responses"]), f"{method} {path}"


def _hold(key: str, scope: str, asked: str, created_at: Any) -> None:
    """A claim left "in progress" (a request still running, or a process that died)."""
    db.session.add(IdempotencyKey(scope=scope, key=key, fingerprint=asked, state="in_progress", created_at=created_at))
    db.session.commit()


def _api_fingerprint(app: Any, body: dict[str, Any]) -> str:
    from helpdesk.idempotency import api_fingerprint

    with app.test_request_context("/api/v1/tickets", method="POST"):
        return api_fingerprint(body)


def test_api_a_repeat_while_the_first_still_runs_waits_then_answers_409(app, api, world, tokens):
    from helpdesk.api.tokens import token_for_secret
    from helpdesk.clock import utcnow

    app.config["IDEMPOTENCY_WAIT_SECONDS"] = 0.3
    secret = tokens.acme_user
    _hold("k-busy", f"token:{token_for_secret(secret).id}", _api_fingerprint(app, NEW_TICKET), utcnow())
    started = time.monotonic()
    response = api.post("/api/v1/tickets", secret, json=NEW_TICKET, headers={"Idempotency-Key": "k-busy"})
    assert response.status_code == 409 and error_of(response)["code"] == "idempotency_key_in_use"
    assert time.monotonic() - started >= 0.3  # it waited for the first
    assert count(Ticket) == 0


def test_api_a_claim_left_by_a_dead_process_is_taken_over_after_the_lease(app, api, world, tokens):
    from datetime import timedelta

    from helpdesk.api.tokens import token_for_secret
    from helpdesk.clock import utcnow

    secret = tokens.acme_user
    lease = timedelta(seconds=app.config["IDEMPOTENCY_LEASE_SECONDS"])
    _hold("k-dead", f"token:{token_for_secret(secret).id}", _api_fingerprint(app, NEW_TICKET), utcnow() - lease)
    response = api.post("/api/v1/tickets", secret, json=NEW_TICKET, headers={"Idempotency-Key": "k-dead"})
    assert response.status_code == 201 and count(Ticket) == 1
    assert [k.state for k in db.session.scalars(select(IdempotencyKey))] == ["done"]


def test_with_csrf_on_the_guard_writes_each_forms_own_token(app, world, login):
    """A form with a prefix checks "start-csrf_token": form_guard(form) writes that field, and the key."""
    import html

    from tests.onboarding.support import at, reload, start

    with at():
        onboarding = start(world)
        client = app.test_client()
        login(world.agent, client)
        app.config["WTF_CSRF_ENABLED"] = True
        try:
            page = client.get(f"/onboarding/{onboarding.id}/stages/kickoff").get_data(as_text=True)
            form = re.search(r'<form[^>]*action="([^"]*/stages/kickoff/start)"[^>]*>(.*?)</form>', page, re.S)
            hidden = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"', form.group(2)))
            hidden |= dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
            assert "start-csrf_token" in hidden and FORM_FIELD in hidden
            response = client.post(html.unescape(form.group(1)), data={k: html.unescape(v) for k, v in hidden.items()})
            again = client.post(html.unescape(form.group(1)), data={k: html.unescape(v) for k, v in hidden.items()})
        finally:
            app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert again.status_code == 302 and again.headers["Idempotent-Replayed"] == "true"
    assert reload(onboarding).stage("kickoff").state == "in_progress"
