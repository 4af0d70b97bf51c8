"""The whole onboarding through the web pages, from the kickoff to the signed protocol.

Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL). Checks what the seed promises: the
client's tickets go to the guardian while it onboards, and to the normal queue from the signing
date of the acceptance protocol, which moves the client to production on that date.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from sqlalchemy import select

from helpdesk.companies import Client
from helpdesk.extensions import db
from plans.onboarding.models import ChecklistItem, Onboarding, OnboardingMeeting, SuccessPlanItem
from plans.onboarding.success_plan import plan_items
from tests.onboarding.support import NOW, PDF, at, reload
from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.services import Actor


def file_ticket(user, subject: str) -> Ticket:
    """File as the client does (the portal form calls this same service)."""
    return services.file_ticket(
        Actor(user), subject=subject, description="Which files do you still need?", category="question"
    )


def items(onboarding_id: int, kind: str) -> list[ChecklistItem]:
    return list(db.session.scalars(
        select(ChecklistItem).where(ChecklistItem.onboarding_id == onboarding_id, ChecklistItem.kind == kind)
    ))


def test_kickoff_to_signed_protocol(web, world, login):
    with at(NOW):
        # A manager opens the onboarding and names the guardian.
        login(world.manager)
        response = web.post("/onboarding/start", data={
            "client": str(world.acme.id), "guardian": str(world.agent.id), "kickoff_planned_on": "2026-03-02",
        })
        assert response.status_code == 302
        onboarding = db.session.scalar(select(Onboarding).where(Onboarding.client_id == world.acme.id))
        oid = onboarding.id
        assert reload(world.acme).guardian_id == world.agent.id

        # While onboarding, a client's ticket goes to the guardian, recorded as a system assignment.
        before = file_ticket(world.acme_user, "Before the protocol")
        assert before.assignee_id == world.agent.id
        event = db.session.scalar(
            select(TicketEvent).where(TicketEvent.ticket_id == before.id, TicketEvent.kind == "assigned")
        )
        assert event.via == "system" and event.actor_id is None and event.data["to"] == world.agent.id

        # The client sees where its onboarding stands and what is missing.
        login(world.acme_user)
        page = web.get("/portal/onboarding/")
        assert page.status_code == 200
        assert b"Kickoff meeting" in page.data and b"Success Plan is not recorded" in page.data

        # The guardian records the Success Plan at the kickoff and completes it.
        login(world.agent)
        response = web.post(f"/onboarding/{oid}/plan", data={
            "entries-0-section": "integration", "entries-0-kind": "marketplace",
            "entries-0-name": "Allegro main account", "entries-0-timing": "at_start",
            "entries-1-section": "integration", "entries-1-kind": "erp",
            "entries-1-name": "Comarch Optima", "entries-1-timing": "at_start",
            "entries-2-section": "courier", "entries-2-name": "DPD", "entries-2-timing": "at_start",
            "entries-3-section": "process", "entries-3-name": "Order status e-mails", "entries-3-timing": "later",
            "entries-4-section": "integration", "entries-4-name": "", "entries-4-timing": "at_start",
            "note": "Agreed at the kickoff",
        })
        assert response.status_code == 302, response.data[:600]
        response = web.post(f"/onboarding/{oid}/stages/kickoff/complete", data={"done-actual_on": "2026-03-02"})
        assert response.status_code == 302, response.data[:600]
        assert reload(onboarding).agreed_plan_version == 1

        # Configuration waits for the start data, and says what is missing.
        response = web.post(f"/onboarding/{oid}/stages/configuration/start", data={"start-actual_on": ""})
        assert response.status_code == 409
        assert b"Access data for Marketplace account: Allegro main account" in response.data
        page = web.get(f"/onboarding/{oid}")
        assert b"Configuration cannot start yet" in page.data
        for item in items(oid, "start_data"):
            assert web.post(f"/onboarding/{oid}/items/{item.id}", data={"state": "done"}).status_code == 302
        response = web.post(f"/onboarding/{oid}/stages/configuration/start", data={"start-actual_on": ""})
        assert response.status_code == 302

        # Configuration items and test steps, then the stage is done.
        page = web.get(f"/onboarding/{oid}/stages/configuration")
        assert b"A test order with a shipping label generated" in page.data
        assert b"Label printing stations" in page.data
        for item in items(oid, "configuration") + items(oid, "test"):
            state = "not_applicable" if item.key == "shop_integration" else "done"
            assert web.post(f"/onboarding/{oid}/items/{item.id}", data={"state": state}).status_code == 302
        response = web.post(f"/onboarding/{oid}/stages/configuration/complete", data={"done-actual_on": "2026-03-02"})
        assert response.status_code == 302, response.data[:600]

        # The training: Success Plan checked, access handed over; the meeting rhythm is scheduled.
        response = web.post(f"/onboarding/{oid}/training", data={
            "held_on": "2026-03-02", "plan_checked": "y", "access_handed_over": "y", "notes": "All good",
        })
        assert response.status_code == 302, response.data[:600]
        meetings = list(db.session.scalars(
            select(OnboardingMeeting).where(OnboardingMeeting.onboarding_id == oid).order_by(OnboardingMeeting.starts_at)
        ))
        assert [m.kind for m in meetings] == ["follow_up"] + ["recurring"] * 4
        # 10:00 in Warsaw (CET, UTC+1): the follow-up a week after the training, then every two weeks;
        # 6 April 2026 is Easter Monday, so that one moves to Tuesday.
        assert [m.starts_at for m in meetings] == [
            datetime(2026, 3, 9, 9, tzinfo=UTC),
            datetime(2026, 3, 23, 9, tzinfo=UTC),
            datetime(2026, 4, 7, 8, tzinfo=UTC),  # CEST from 29 March
            datetime(2026, 4, 20, 8, tzinfo=UTC),
            datetime(2026, 5, 4, 8, tzinfo=UTC),
        ]

        # The signed protocol with its scan moves the client to production on the signing date.
        response = web.post(f"/onboarding/{oid}/protocol", data={
            "signed_on": "2026-03-02", "functions": ["orders_import", "shipping_labels", "panel_access"],
            "scan": (io.BytesIO(PDF), "protokol-podpisany.pdf"),
        }, content_type="multipart/form-data")
        assert response.status_code == 302, response.data[:600]
        client = reload(world.acme)
        assert client.phase == "production"
        assert client.protocol_signed_on == date(2026, 3, 2)
        onboarding = reload(onboarding)
        assert onboarding.stage("protocol").state == "done"
        assert onboarding.stage("protocol").done_on == date(2026, 3, 2)
        assert onboarding.current_stage == "follow_up"
        ticked = {i.key for i in items(oid, "protocol") if i.state == "done"}
        assert ticked == {"orders_import", "shipping_labels", "panel_access"}

        # The scan is stored through helpdesk.storage and served as an attachment.
        scan = web.get(f"/onboarding/{oid}/protocol/scan")
        assert scan.status_code == 200 and scan.data == PDF
        assert scan.headers["Content-Disposition"].startswith("attachment")
        assert scan.mimetype == "application/pdf"

        # From now on the client's tickets go to the normal queue.
        after = file_ticket(world.acme_user, "After the protocol")
        assert after.assignee_id is None
        assert not db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == after.id, TicketEvent.kind == "assigned")
        ).all()

        # The client sees the new stage, the next meeting and can download it.
        login(world.acme_user)
        page = web.get("/portal/onboarding/")
        assert b"Follow-up meeting" in page.data and b"production work and support have started" in page.data
        assert f"/portal/onboarding/meetings/{meetings[0].id}.ics".encode() in page.data
        assert web.get("/portal/onboarding/protocol/scan").data == PDF

    # The plan as agreed: entries of version 1; nothing rewritten.
    assert [i.name for i in plan_items(onboarding, 1)] == [
        i.name for i in db.session.scalars(select(SuccessPlanItem).where(SuccessPlanItem.version == 1)
                                           .order_by(SuccessPlanItem.section, SuccessPlanItem.timing,
                                                     SuccessPlanItem.id))
    ]
    assert db.session.get(Client, world.globex.id).phase == "onboarding"


def test_a_client_without_guardian_or_in_production_gets_the_normal_queue(world):
    assert file_ticket(world.globex_user, "No guardian yet").assignee_id is None
    world.globex.guardian_id = world.agent2.id
    world.globex.phase = "production"
    db.session.commit()
    assert file_ticket(world.globex_user, "In production").assignee_id is None
    world.globex.phase = "onboarding"
    db.session.commit()
    assert file_ticket(world.globex_user, "Guarded").assignee_id == world.agent2.id


def test_demo_data_opens_the_onboarding_of_the_demo_client(app, web, login):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0  # idempotent
    globex = db.session.scalar(select(Client).where(Client.slug == "globex"))
    (onboarding,) = db.session.scalars(select(Onboarding)).all()
    assert onboarding.client_id == globex.id and onboarding.current_stage == "configuration"
    guarded = db.session.scalar(select(Ticket).where(Ticket.client_id == globex.id))
    assert guarded.assignee_id == globex.guardian_id
