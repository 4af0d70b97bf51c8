"""Admins manage client companies and users in the web UI and by CLI; demo data is idempotent."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.samples import text_of


def _field_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert match, f"no message next to {field}"
    return match.group(1)


def _user(email: str) -> Any:
    from helpdesk.accounts import user_by_email
    from helpdesk.extensions import db

    db.session.rollback()
    return user_by_email(email)


def _counts() -> dict[str, int]:
    from helpdesk.accounts import User
    from helpdesk.companies import Client
    from helpdesk.extensions import db
    from tickets.models import Attachment, Message, Ticket, TicketEvent

    db.session.rollback()
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Client, User, Ticket, Message, Attachment, TicketEvent)
    }


# -- the web UI -------------------------------------------------------------------------------


def test_admin_creates_a_client_and_its_users_in_the_web_ui(web, world, login):
    from helpdesk.companies import client_by_slug

    login(world.admin)
    assert "Add a client" in text_of(web.get("/admin/clients"))
    response = web.post("/admin/clients/new", data={"slug": "initech", "name": "Initech Sp. z o.o.", "guardian": str(world.agent.id), "active": "y"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/clients"
    client = client_by_slug("initech")
    assert (client.name, client.phase, client.guardian_id, client.active) == ("Initech Sp. z o.o.", "onboarding", world.agent.id, True)
    assert "Initech Sp. z o.o." in text_of(web.get("/admin/clients"))

    response = web.post(
        "/admin/users/new",
        data={"email": "Peter@Initech.example", "name": "Peter", "password": "tps-reports-1", "role": "client",
              "client": "initech", "client_admin": "y", "active": "y"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    peter = _user("peter@initech.example")
    assert (peter.role, peter.client_id, peter.is_client_admin, peter.name) == ("client", client.id, True, "Peter")
    assert peter.password_hash.startswith("$argon2id$")
    web.post(
        "/admin/users/new",
        data={"email": "milton@initech.example", "password": "red-stapler", "role": "client", "client": "initech"},
    )
    milton = _user("milton@initech.example")
    assert milton.client_id == client.id and not milton.is_client_admin
    web.post("/admin/users/new", data={"email": "bill@vendor.example", "password": "yeaaah-okay-then", "role": "manager", "client": ""})
    assert _user("bill@vendor.example").role == "manager"
    listing = text_of(web.get("/admin/users"))
    assert "peter@initech.example" in listing and "milton@initech.example" in listing and "bill@vendor.example" in listing

    # the new people can log in and land on their pages
    other = web.application.test_client()
    response = other.post("/login", data={"email": "peter@initech.example", "password": "tps-reports-1"})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"slug": "Bad Slug!", "name": "Bad"}, "slug", "A slug is 1-40 lower-case letters, digits and hyphens"),
        ({"slug": "-acme", "name": "Bad"}, "slug", "A slug is 1-40 lower-case letters"),
        ({"slug": "acme", "name": "ACME again"}, "slug", "A client with this slug already exists."),
        ({"slug": "", "name": "No slug"}, "slug", "This field is required."),
        ({"slug": "fine", "name": ""}, "name", "This field is required."),
        ({"slug": "fine", "name": "x", "guardian": "999"}, "guardian", "Not a valid choice"),
    ],
)
def test_bad_client_input_is_refused_with_a_message(web, world, login, data, field, message):
    login(world.admin)
    before = _counts()
    response = web.post("/admin/clients/new", data={"guardian": "", **data})
    # A taken slug is a conflict (409, as the API answers it); every other bad value is a 422.
    assert response.status_code == (409 if "already exists" in message else 422)
    page = text_of(response)
    assert message in _field_error(page, field)
    if data.get("name"):
        assert f'value="{data["name"]}"' in page
    assert _counts() == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "ANNA@acme.example", "role": "client", "client": "acme"}, "email", "A user with this e-mail already exists."),
        ({"email": "not-an-e-mail", "role": "agent"}, "email", "Enter a valid e-mail address."),
        ({"email": "new@acme.example", "role": "client", "client": ""}, "client", "A client user needs a client company."),
        ({"email": "new@vendor.example", "role": "agent", "client": "acme"}, "client", "Only client users belong to a client company."),
        ({"email": "new@acme.example", "role": "client", "client": "nope"}, "client", "Not a valid choice"),
        ({"email": "new@acme.example", "role": "wizard"}, "role", "Choose one of: Client user, Agent, Manager, Admin."),
        ({"email": "new@acme.example", "role": "client", "client": "acme", "password": "short"}, "password", "at least 10 characters"),
        ({"email": "new@vendor.example", "role": "agent", "client_admin": "y"}, "client_admin", "Only client users can be client admins."),
    ],
)
def test_bad_user_input_is_refused_with_a_message(web, world, login, data, field, message):
    login(world.admin)
    before = _counts()
    form = {"password": "long-enough-pass", "name": "Typed Name", "client": "", **data}
    response = web.post("/admin/users/new", data=form)
    assert response.status_code == 422
    page = text_of(response)
    assert message in _field_error(page, field)
    assert 'value="Typed Name"' in page
    assert _counts() == before


def test_admin_edits_a_user(web, world, login):
    from helpdesk.accounts import check_password

    login(world.admin)
    page = text_of(web.get(f"/admin/users/{world.acme_user.id}"))
    assert 'value="anna@acme.example"' in page and "readonly" in page
    response = web.post(
        f"/admin/users/{world.acme_user.id}",
        data={"email": "anna@acme.example", "name": "Anna Kowalska", "role": "client", "client": "acme",
              "client_admin": "y", "active": "y", "password": "a-brand-new-one"},
    )
    assert response.status_code == 302
    anna = _user("anna@acme.example")
    assert (anna.name, anna.is_client_admin, anna.active) == ("Anna Kowalska", True, True)
    assert check_password(anna, "a-brand-new-one")

    # deactivating: the box is unticked, so the browser sends no "active"
    response = web.post(
        f"/admin/users/{world.acme_user.id}",
        data={"email": "anna@acme.example", "name": "Anna Kowalska", "role": "client", "client": "acme"},
    )
    assert response.status_code == 302
    anna = _user("anna@acme.example")
    assert (anna.active, anna.is_client_admin) == (False, False)
    assert web.application.test_client().post(
        "/login", data={"email": "anna@acme.example", "password": "a-brand-new-one"}
    ).status_code == 401

    # a client user cannot lose their company without becoming staff
    response = web.post(
        f"/admin/users/{world.acme_user.id}",
        data={"email": "anna@acme.example", "name": "Anna", "role": "client", "client": ""},
    )
    assert response.status_code == 422
    assert "belong to a client company" in _field_error(text_of(response), "client")
    assert _user("anna@acme.example").client_id == world.acme.id

    assert web.get("/admin/users/999999").status_code == 404


def test_admin_edits_a_client_but_not_its_slug(web, world, login):
    from helpdesk.companies import Client
    from helpdesk.extensions import db

    login(world.admin)
    response = web.post(
        f"/admin/clients/{world.globex.id}",
        data={"slug": "hijacked", "name": "Globex Trading S.A.", "guardian": str(world.agent2.id), "active": "y"},
    )
    assert response.status_code == 302
    globex = db.session.get(Client, world.globex.id, populate_existing=True)
    assert (globex.slug, globex.name, globex.guardian_id) == ("globex", "Globex Trading S.A.", world.agent2.id)
    response = web.post(f"/admin/clients/{world.globex.id}", data={"name": "", "guardian": ""})
    assert response.status_code == 422
    assert web.get("/admin/clients/999999").status_code == 404


# -- the command line -------------------------------------------------------------------------


def _run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_creates_clients_and_users(app, world):
    from helpdesk.accounts import check_password
    from helpdesk.companies import client_by_slug

    result = _run(app, "clients", "create", "--slug", "initech", "--name", "Initech")
    assert result.exit_code == 0, result.output
    client = client_by_slug("initech")
    assert f"Created client initech (id {client.id})." in result.output

    result = _run(
        app, "users", "create", "--email", "peter@initech.example", "--password", "tps-reports-1",
        "--role", "client", "--client", "initech", "--client-admin", "--name", "Peter",
    )
    assert result.exit_code == 0, result.output
    peter = _user("peter@initech.example")
    assert f"Created client peter@initech.example (id {peter.id})." in result.output
    assert (peter.client_id, peter.is_client_admin, peter.name) == (client.id, True, "Peter")
    assert check_password(peter, "tps-reports-1")

    result = _run(app, "users", "create", "--email", "ops@vendor.example", "--password", "long-enough-pass", "--role", "agent")
    assert result.exit_code == 0, result.output
    assert _user("ops@vendor.example").role == "agent"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["clients", "create", "--slug", "acme", "--name", "Again"], 1, "A client with this slug already exists."),
        (["clients", "create", "--slug", "Not OK", "--name", "Bad"], 1, "A slug is 1-40 lower-case letters"),
        (["clients", "create", "--slug", "fine", "--name", "  "], 1, "A name of 1 to 200 characters is required."),
        (["clients", "create", "--slug", "fine"], 2, "Missing option '--name'"),
        (["users", "create", "--email", "x@acme.example", "--password", "long-enough-pass", "--role", "client"], 1,
         "A client user needs a client company."),
        (["users", "create", "--email", "x@acme.example", "--password", "long-enough-pass", "--role", "client", "--client", "nope"], 1,
         "There is no client with this slug."),
        (["users", "create", "--email", "anna@acme.example", "--password", "long-enough-pass", "--role", "client", "--client", "acme"], 1,
         "A user with this e-mail already exists."),
        (["users", "create", "--email", "x@vendor.example", "--password", "short", "--role", "agent"], 1,
         "A password needs at least 10 characters."),
        (["users", "create", "--email", "x@vendor.example", "--password", "long-enough-pass", "--role", "agent", "--client-admin"], 1,
         "Only client users can be client admins."),
        (["users", "create", "--email", "nope", "--password", "long-enough-pass", "--role", "agent"], 1,
         "Enter a valid e-mail address."),
        (["users", "create", "--email", "x@vendor.example", "--password", "long-enough-pass", "--role", "wizard"], 2,
         "'wizard' is not one of"),
    ],
)
def test_cli_errors_exit_non_zero_with_a_clear_message(app, world, args, code, message):
    before = _counts()
    result = _run(app, *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _counts() == before


def test_demo_seed_is_idempotent(app):
    result = _run(app, "demo", "seed")
    assert result.exit_code == 0, result.output
    first = _counts()
    assert first["clients"] == 2 and first["users"] == 6 and first["tickets"] == 4 and first["messages"] == 1
    for email in ("client@acme.example", "clientadmin@acme.example", "agent@opiekun.example",
                  "manager@opiekun.example", "admin@opiekun.example"):
        assert email in result.output
    assert "opiekun-demo" in result.output

    again = _run(app, "demo", "seed")
    assert again.exit_code == 0, again.output
    assert _counts() == first
    assert "0 tickets added" in again.output

    web = app.test_client()
    assert web.post("/login", data={"email": "agent@opiekun.example", "password": "opiekun-demo"}).status_code == 302


def test_demo_seed_tops_tickets_up_with_a_progress_bar(app):
    result = _run(app, "demo", "seed", "--tickets", "300")
    assert result.exit_code == 0, result.output
    assert "Creating tickets" in result.output
    assert "296 tickets added" in result.output  # on top of the four samples
    counts = _counts()
    assert counts["tickets"] == 300
    # the samples' history (the onboarding client's ticket is also assigned to its guardian), and
    # the bulk tickets' own (created, assigned, replied, status changes, time, SLA facts), whose
    # consistency tests/tickets/integration/test_demo_seed.py checks
    assert counts["ticket_events"] > 7 + 296 * 2

    again = _run(app, "demo", "seed", "--tickets", "300")
    assert again.exit_code == 0 and "0 tickets added" in again.output
    assert _counts() == counts
    fewer = _run(app, "demo", "seed", "--tickets", "10")
    assert fewer.exit_code == 0 and _counts() == counts

    # the bulk rows are real tickets: the agent queue pages through them
    web = app.test_client()
    web.post("/login", data={"email": "agent@opiekun.example", "password": "opiekun-demo"})
    response = web.get("/agent/queue?status=all&limit=200")
    assert response.status_code == 200
    assert len(re.findall(r'<a href="/agent/tickets/\d+[?"]', text_of(response))) == 200


def test_demo_seed_refuses_a_negative_count(app):
    result = _run(app, "demo", "seed", "--tickets", "-5")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
