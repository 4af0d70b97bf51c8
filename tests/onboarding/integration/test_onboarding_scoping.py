"""Who sees which onboarding: every onboarding route walked with another company's ids.

A client of company B (Globex) gets 404 on every onboarding route that names an id of company A
(ACME): staff pages do not exist for clients, and the portal only reads the user's own company.
Staff get every page rendered; managers get the overview.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from plans.onboarding import checklists, meetings, overview, protocol, stages
from plans.onboarding.models import OnboardingMeeting
from tests.onboarding.support import NOW, PDF, at, walk_to

BLUEPRINTS = ("onboarding.", "onboarding_manager.", "portal_onboarding.")


def onboarding_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith(BLUEPRINTS)]


def acme_setup(world):
    """ACME past its protocol (scan stored, meetings scheduled); Globex with an onboarding of its own."""
    acme = walk_to(world, "protocol")
    from flask import current_app

    with current_app.test_request_context():
        protocol.record_protocol(world.agent, acme, signed_on=NOW.date(), functions=["orders_import"],
                                 scan=protocol.ScanUpload("signed.pdf", PDF), now=NOW)
    globex = walk_to(world, "configuration", client=world.globex)
    return acme, globex


def fill(rule, acme) -> str:
    meeting = meetings.meetings(acme)[0]
    values = {
        "onboarding_id": acme.id,
        "meeting_id": meeting.id,
        "item_id": checklists.checklist(acme, "start_data")[0].id,
        "key": "kickoff",
    }
    return rule.build({name: values[name] for name in rule.arguments})[1]


def test_every_onboarding_route_is_404_for_another_company(app, web, world, login):
    with at():
        acme, globex = acme_setup(world)
        rules = onboarding_rules(app)
        assert len(rules) >= 20  # the walk covers the whole blueprint, not a hand-picked list
        login(world.globex_user)
        walked = 0
        for rule in rules:
            url = fill(rule, acme)
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = web.open(url, method=method)
                body = response.get_data(as_text=True)
                assert "ACME" not in body, (method, url)
                if rule.arguments:
                    assert response.status_code == 404, (method, url, response.status_code)
                elif rule.endpoint.startswith("portal_onboarding."):
                    assert response.status_code in (200, 404, 405), (method, url)
                else:
                    assert response.status_code in (403, 404), (method, url, response.status_code)
                walked += 1
        assert walked >= 25
        # Globex's own page shows Globex's onboarding, and none of ACME's meetings.
        page = web.get("/portal/onboarding/")
        assert page.status_code == 200 and b"Configuration and tests" in page.data
        acme_meeting = meetings.meetings(acme)[0]
        assert web.get(f"/portal/onboarding/meetings/{acme_meeting.id}.ics").status_code == 404
        assert web.get("/portal/onboarding/protocol/scan").status_code == 404  # Globex has none yet
        assert web.get(f"/onboarding/{globex.id}").status_code == 404  # clients never reach staff pages


def test_a_meeting_id_of_another_onboarding_is_404_for_staff_too(web, world, login):
    with at():
        acme, globex = acme_setup(world)
        login(world.agent)
        other = meetings.meetings(acme)[0]
        assert web.get(f"/onboarding/{globex.id}/meetings/{other.id}").status_code == 404
        assert web.get(f"/onboarding/{globex.id}/meetings/{other.id}.ics").status_code == 404
        item = checklists.checklist(acme, "start_data")[0]
        assert web.post(f"/onboarding/{globex.id}/items/{item.id}", data={"state": "done"}).status_code == 404
        assert web.get(f"/onboarding/{acme.id}/stages/lunch").status_code == 404
        assert web.get("/onboarding/999999").status_code == 404


def test_staff_pages_all_render(app, web, world, login):
    with at():
        acme, globex = acme_setup(world)
        login(world.manager)
        for rule in onboarding_rules(app):
            if "GET" not in rule.methods or rule.endpoint.startswith("portal_onboarding."):
                continue
            for key in ("kickoff", "configuration", "training", "protocol", "follow_up", "recurring"):
                url = fill(rule, acme).replace("/stages/kickoff", f"/stages/{key}")
                response = web.get(url)
                assert response.status_code == 200, (url, response.status_code)
                if "/stages/" not in url:
                    break
        # The client's own pages; staff notes stay internal.
        with app.test_request_context():
            stages.update_stage(world.agent, acme, "follow_up", planned_on=None, owner_id=world.agent.id,
                                notes="Internal: client slow with the ERP export", now=NOW)
        login(world.acme_admin)
        page = web.get("/portal/onboarding/")
        assert page.status_code == 200
        assert b"Follow-up meeting" in page.data and b"Allegro main account" in page.data
        assert b"client slow with the ERP export" not in page.data


def test_managers_overview_by_stage_stalled_and_load(app, web, world, login):
    with at():
        acme, globex = acme_setup(world)
    later = NOW + timedelta(days=11)
    with at(later):
        login(world.manager)
        page = web.get("/manager/onboarding/")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        # Both onboardings had their last progress on 2 March: idle for 11 days > 10 (the default).
        stalled = text.split("No progress for 10 days or more")[1].split("Guardians")[0]
        assert "ACME Logistics" in stalled and "Globex Trading" in stalled
        assert "No progress for 20 days or more" in web.get("/manager/onboarding/?days=20").get_data(as_text=True)
        assert web.get("/manager/onboarding/?days=zero").status_code == 400
        found = overview.overview(later, 10)
        assert [o.client.slug for o in found.by_stage["follow_up"]] == ["acme"]
        assert [o.client.slug for o in found.by_stage["configuration"]] == ["globex"]
        (load,) = found.load
        assert load.guardian.id == world.agent.id
        assert (load.active, load.before_protocol, load.stalled) == (2, 1, 2)
        # ACME's meetings within 14 days of 13 March: 23 March only (9 March is past).
        assert load.meetings_next_14_days == 1
        assert re.search(r"Agnes Agent</td><td>2</td><td>1</td><td>2</td><td>1</td>", text)
        # The stall threshold is a setting.
        app.config["ONBOARDING_STALE_DAYS"] = 30
        assert "No progress for 30 days or more" in web.get("/manager/onboarding/").get_data(as_text=True)


def test_progress_resets_the_stall(app, world):
    acme = walk_to(world, "protocol")
    later = NOW + timedelta(days=15)
    assert acme in overview.overview(later, 10).stalled
    meeting = meetings.meetings(acme)[-1]
    with app.test_request_context():
        meetings.update_meeting(world.agent, acme, meeting, starts_at=meeting.starts_at, duration=30,
                                location="", notes="", participant_ids=[world.agent.id], now=later)
    assert acme not in overview.overview(later, 10).stalled
    assert isinstance(meeting, OnboardingMeeting) and meeting.starts_at > datetime(2026, 3, 2, tzinfo=UTC)
