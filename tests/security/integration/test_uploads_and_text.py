"""Smaller input holes: a polyglot upload keeps its detected type's extension, text attachments
carry one charset, a very long file name keeps its extension, zero-width-only text is blank,
and typed numbers are ASCII digits only."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from tests.api.support import *  # noqa: F403
from tests.samples import text_of

FORM = {"subject": "Labels print blank", "description": "Since this morning.", "category": "bug", "priority": "high"}
POLYGLOT = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;<html><script>alert(document.cookie)</script></html>"
ZERO_WIDTH = " \u200b \u200c\u200d \u2060\ufeff "


def _file_with(web, *files):
    response = web.post("/portal/tickets/new", data={
        **FORM, "attachments": [(io.BytesIO(data), name) for data, name in files]})
    assert response.status_code == 302, text_of(response)[:2000]
    from tickets.models import Attachment

    db.session.rollback()
    return list(db.session.scalars(select(Attachment).order_by(Attachment.id)))


def test_a_gif_html_polyglot_is_stored_and_served_as_a_gif(app, web, world, login):
    login(world.acme_user)
    [attachment] = _file_with(web, (POLYGLOT, "poly.html"))
    assert (attachment.filename, attachment.content_type) == ("poly.gif", "image/gif")
    served = web.get(f"/attachments/{attachment.id}")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/gif"
    assert "poly.gif" in served.headers["Content-Disposition"] and ".html" not in served.headers["Content-Disposition"]


def test_names_that_already_fit_the_detected_type_are_kept(app, web, world, login):
    from tests.samples import png_bytes

    login(world.acme_user)
    stored = _file_with(web, (png_bytes(), "screen.PNG"), (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "photo.jpeg"),
                        (png_bytes(), "no extension"))
    assert [a.filename for a in stored] == ["screen.PNG", "photo.jpeg", "no extension.png"]


def test_a_text_attachment_is_served_with_one_charset(app, web, world, login):
    login(world.acme_user)
    [attachment] = _file_with(web, (b"12:00 sync failed\n", "sync.txt"))
    served = web.get(f"/attachments/{attachment.id}")
    assert served.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_a_5000_character_file_name_loses_the_end_of_its_stem_not_its_extension(app, web, world, login):
    login(world.acme_user)
    [attachment] = _file_with(web, (b"12:00 sync failed\n", "a" * 4996 + ".txt"))
    assert attachment.filename.endswith("aaa.txt") and len(attachment.filename) == 200


# A raw CR/LF ends a multipart header, so the name never arrives; these characters do.
@pytest.mark.parametrize("name", ["log\ttab.txt", "log\u2028Bcc: eve@evil.example.txt", "log\x85next.txt"])
def test_a_file_name_with_a_control_character_is_refused_and_the_form_kept(app, web, world, login, name):
    from tickets.models import Ticket

    login(world.acme_user)
    response = web.post("/portal/tickets/new", data={**FORM, "attachments": [(io.BytesIO(b"ok\n"), name)]})
    assert response.status_code == 422
    assert "must be one line" in text_of(response) and "Since this morning." in text_of(response)
    assert db.session.scalar(select(func.count(Ticket.id))) == 0


# -- zero-width text -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["subject", "description"])
def test_a_zero_width_only_field_is_blank_on_the_web(app, web, world, login, field):
    from tickets.models import Ticket

    login(world.acme_user)
    response = web.post("/portal/tickets/new", data={**FORM, field: ZERO_WIDTH})
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', text_of(response))
    assert error and error.group(1) == "This field is required."
    assert db.session.scalar(select(func.count(Ticket.id))) == 0


@pytest.mark.parametrize("field", ["subject", "description"])
def test_a_zero_width_only_field_is_blank_in_the_api(api, world, tokens, field):
    body = {"subject": "Labels", "description": "Blank labels.", "category": "bug", field: ZERO_WIDTH}
    response = api.call("POST", "/api/v1/tickets", tokens.acme_user, json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"][field] == "This field is required."


def test_a_reply_of_zero_width_characters_is_blank(app, world, make_ticket):
    from tickets.access import TicketError
    from tickets.services import Actor, add_message

    ticket = make_ticket(world.acme_user)
    with pytest.raises(TicketError) as refused:
        add_message(Actor(world.acme_user), ticket, body="\u200b\ufeff")
    assert refused.value.fields == {"body": "This field is required."}


# -- digits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", ["３０", "٣٠", "3_0", "+30"])
def test_the_time_form_takes_ascii_digits_only(app, web, world, login, make_ticket, minutes):
    from tickets.models import TimeEntry

    ticket = make_ticket(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/time", data={"minutes": minutes, "work_date": ""})
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="minutes-error">([^<]*)</p>', text_of(response))
    assert error and error.group(1) == "Enter a whole number with the digits 0-9."
    assert f'value="{minutes}"' in text_of(response)
    assert db.session.scalar(select(func.count(TimeEntry.id))) == 0


@pytest.mark.parametrize("value", ["３０", "²", "٣"])
@pytest.mark.parametrize("name", ["limit", "breaching_within", "breaching_within_minutes", "assignee"])
def test_queue_filters_take_ascii_digits_only(app, web, world, login, name, value):
    login(world.agent)
    response = web.get("/agent/queue", query_string={name: value})
    assert response.status_code == 400


@pytest.mark.parametrize("duration", ["６０", "٦٠"])
def test_the_meeting_form_takes_ascii_digits_only(app, web, world, login, duration):
    from plans.onboarding.models import OnboardingMeeting
    from tests.onboarding.support import NOW, at, start

    with at(NOW):
        onboarding = start(world)
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "2026-03-05", "start_time": "10:00", "duration_minutes": duration,
            "participants": [str(world.agent.id)]})
    assert response.status_code == 422
    # refused by the form's whole-number field, next to the field, before the service runs
    assert "Enter a whole number with the digits 0-9." in text_of(response)
    assert db.session.scalar(select(func.count(OnboardingMeeting.id))) == 0
