"""Bad input on the onboarding pages: a clear message next to the field, a 4xx, nothing half-saved."""

from __future__ import annotations

import html
import io
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.onboarding import access, checklists, errors, meetings, protocol, success_plan
from plans.onboarding.models import OnboardingEvent, OnboardingMeeting, SuccessPlanItem, SuccessPlanVersion
from tests.onboarding.support import NOW, PDF, PNG, at, reload, start, walk_to


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def field_error(response, text: str) -> bool:
    """`text` is shown as an error next to a field (not only somewhere on the page)."""
    wanted = re.escape(html.escape(text))
    return re.search(rf'<p class="field-error"[^>]*>[^<]*{wanted}', response.get_data(as_text=True)) is not None


def post_protocol(web, onboarding, **overrides):
    data = {"signed_on": "2026-03-02", "functions": ["orders_import"],
            "scan": (io.BytesIO(PDF), "signed.pdf")}
    data.update(overrides)
    return web.post(f"/onboarding/{onboarding.id}/protocol", data=data, content_type="multipart/form-data")


def assert_protocol_not_recorded(app, onboarding, world) -> None:
    onboarding = reload(onboarding)
    assert onboarding.protocol_signed_on is None and onboarding.protocol_scan_key is None
    assert onboarding.stage("protocol").state == "pending"
    client = reload(world.acme)
    assert client.phase == "onboarding" and client.protocol_signed_on is None
    assert stored_files(app) == []
    assert not db.session.scalars(select(OnboardingEvent).where(OnboardingEvent.kind == "protocol_recorded")).all()


def test_protocol_date_before_training(app, web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        login(world.agent)
        response = post_protocol(web, onboarding, signed_on="2026-03-01")
    assert response.status_code == 422
    assert field_error(response, "The protocol cannot be signed before the training (2026-03-02).")
    assert b'value="2026-03-01"' in response.data  # what was typed is still there
    assert_protocol_not_recorded(app, onboarding, world)


def test_protocol_before_any_training_and_in_the_future(app, web, world, login):
    with at():
        onboarding = walk_to(world, "training")
        login(world.agent)
        response = post_protocol(web, onboarding)
        assert response.status_code == 422
        assert field_error(response, "record the training first")
        onboarding = walk_to(world, "protocol", client=world.globex)
        response = post_protocol(web, onboarding, signed_on="2026-03-03")
        assert response.status_code == 422 and field_error(response, "cannot be in the future")
    assert reload(world.globex).phase == "onboarding"


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ((io.BytesIO(PNG), "signed.pdf"), "must be a PDF file"),  # judged by content, not by name
        ((io.BytesIO(b"just some text"), "signed.txt"), "must be a PDF file"),
        ((io.BytesIO(PDF + b"0" * 4096), "big.pdf"), "is larger than"),
        ((io.BytesIO(b""), "empty.pdf"), "is empty"),
        (None, "Attach the scan of the signed protocol"),
    ],
)
def test_bad_scan(app, app_config, web, world, login, scan, message):
    app.config["PROTOCOL_SCAN_MAX_BYTES"] = 2048
    with at():
        onboarding = walk_to(world, "protocol")
        login(world.agent)
        overrides = {"scan": scan} if scan is not None else {"scan": (io.BytesIO(b""), "")}
        response = post_protocol(web, onboarding, **overrides)
    assert response.status_code == 422
    assert field_error(response, message)
    assert_protocol_not_recorded(app, onboarding, world)


def test_storage_is_cleaned_when_the_commit_fails(app, world, monkeypatch):
    onboarding = walk_to(world, "protocol")

    def broken_commit():
        raise RuntimeError("database went away")

    with app.test_request_context():
        monkeypatch.setattr(db.session, "commit", broken_commit)
        with pytest.raises(RuntimeError):
            protocol.record_protocol(world.agent, onboarding, signed_on=date(2026, 3, 2), functions=[],
                                     scan=protocol.ScanUpload("p.pdf", PDF), now=NOW)
        monkeypatch.undo()
    assert stored_files(app) == []
    assert_protocol_not_recorded(app, onboarding, world)


def test_protocol_is_recorded_once(app, web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        login(world.agent)
        assert post_protocol(web, onboarding).status_code == 302
        again = post_protocol(web, onboarding)
    assert again.status_code == 409
    assert len(stored_files(app)) == 1


def test_meeting_in_the_past(web, world, login):
    with at():
        onboarding = start(world)
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "2026-03-02", "start_time": "08:30", "duration_minutes": "60",
            "participants": [str(world.agent.id)],
        })
        assert response.status_code == 422
        assert field_error(response, "A meeting cannot be scheduled in the past.")
        assert b'value="08:30"' in response.data
        # Unparseable date, no time, a silly duration, a stranger as participant: each has its message.
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "tomorrow", "start_time": "", "duration_minutes": "0",
            "participants": [str(world.globex_user.id)],
        })
        assert response.status_code == 422
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "2026-03-05", "start_time": "10:00", "duration_minutes": "0",
            "participants": [str(world.globex_user.id)],
        })
        assert response.status_code == 422
        # the form refuses the duration itself, before the service looks at the participants
        assert field_error(response, "A meeting lasts from 5 to 480 minutes.")
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "2026-03-05", "start_time": "10:00", "duration_minutes": "60",
            "participants": [str(world.globex_user.id)],
        })
        assert response.status_code == 422
        assert field_error(response, "Choose participants among staff and this client")
    assert count(OnboardingMeeting) == 0


def test_moving_a_meeting_into_the_past(web, world, login):
    with at():
        onboarding = walk_to(world, "protocol")
        meeting = meetings.meetings(onboarding)[0]
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/meetings/{meeting.id}", data={
            "day": "2026-03-01", "start_time": "10:00", "duration_minutes": "60",
            "participants": [str(world.agent.id)],
        })
    assert response.status_code == 422
    assert field_error(response, "A meeting cannot be moved into the past.")
    assert reload(meeting).starts_at == meeting.starts_at and reload(meeting).sequence == 0


def test_stage_out_of_order_needs_a_reason(web, world, login):
    with at():
        onboarding = start(world)
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/stages/follow_up/complete",
                            data={"done-actual_on": "2026-03-02", "done-reason": "  "})
        assert response.status_code == 422
        assert field_error(response, "Training not done yet: say why this stage goes out of order.")
        assert reload(onboarding).stage("follow_up").state == "pending"
        response = web.post(f"/onboarding/{onboarding.id}/stages/follow_up/complete",
                            data={"done-actual_on": "2026-03-02", "done-reason": "Client asked for it early"})
        assert response.status_code == 302
        stage = reload(onboarding).stage("follow_up")
        assert stage.state == "done" and stage.out_of_order_reason == "Client asked for it early"
        event = db.session.scalar(select(OnboardingEvent).where(OnboardingEvent.kind == "stage_done"))
        assert event.data["out_of_order"] == ["training"] and event.data["reason"] == "Client asked for it early"
        # A completion date in the future, or none at all.
        response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff/complete",
                            data={"done-actual_on": "2026-03-09"})
        assert response.status_code == 422 and field_error(response, "The date cannot be in the future.")
        response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff/complete", data={"done-actual_on": ""})
        assert response.status_code == 422 and field_error(response, "Enter the date the stage was completed.")


def test_gates_no_reason_overrides(web, world, login):
    with at():
        onboarding = start(world)
        login(world.agent)
        # No Success Plan: the kickoff cannot be completed.
        response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff/complete",
                            data={"done-actual_on": "2026-03-02"})
        assert response.status_code == 409 and b"Record the Success Plan before completing the kickoff." in response.data
        # Start data missing: configuration cannot start even with a reason.
        response = web.post(f"/onboarding/{onboarding.id}/stages/configuration/start",
                            data={"start-reason": "we are in a hurry"})
        assert response.status_code == 409
        assert b"Company details and the sender address for shipping labels" in response.data
        # Configuration items are ticked only while configuration is in progress.
        item = checklists.checklist(onboarding, "configuration")[0]
        response = web.post(f"/onboarding/{onboarding.id}/items/{item.id}", data={"state": "done"})
        assert response.status_code == 409
        assert b"Configuration items and tests are ticked while configuration is in progress." in response.data
        assert reload(item).state == "open"
        # The protocol stage is completed only through the protocol page.
        response = web.post(f"/onboarding/{onboarding.id}/stages/protocol/complete",
                            data={"done-actual_on": "2026-03-02", "done-reason": "x"})
        assert response.status_code == 409
    assert all(s.state == "pending" for s in reload(onboarding).stages)


def test_configuration_done_only_when_items_and_tests_are(web, world, login):
    with at():
        onboarding = walk_to(world, "configuration")
        login(world.agent)
        assert web.post(f"/onboarding/{onboarding.id}/stages/configuration/start", data={}).status_code == 302
        response = web.post(f"/onboarding/{onboarding.id}/stages/configuration/complete",
                            data={"done-actual_on": "2026-03-02"})
        assert response.status_code == 409
        assert b"A test offer is listed" in response.data
    assert reload(onboarding).stage("configuration").state == "in_progress"


def test_training_needs_both_checks(web, world, login):
    with at():
        onboarding = walk_to(world, "training")
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/training", data={"held_on": "2026-03-02"})
    assert response.status_code == 422
    assert field_error(response, "The training checks the integrations against the Success Plan.")
    assert field_error(response, "The training hands over access to the panel.")
    assert reload(onboarding).stage("training").state == "pending"
    assert count(OnboardingMeeting) == 0


def test_success_plan_versions_never_rewrite_the_start(web, world, login):
    with at():
        onboarding = walk_to(world, "configuration")
        login(world.agent)
        before = [(i.id, i.name, i.timing, i.version) for i in success_plan.plan_items(onboarding)]
        # After the kickoff, nothing more is added "at start".
        response = web.post(f"/onboarding/{onboarding.id}/plan", data={
            "entries-0-section": "integration", "entries-0-kind": "marketplace",
            "entries-0-name": "Allegro second account", "entries-0-timing": "at_start",
        })
        assert response.status_code == 422
        assert field_error(response, "add this as a later entry")
        assert count(SuccessPlanVersion) == 1
        # Blank rows only, or a row without a kind of integration.
        assert web.post(f"/onboarding/{onboarding.id}/plan", data={"entries-0-name": ""}).status_code == 422
        response = web.post(f"/onboarding/{onboarding.id}/plan", data={
            "entries-0-section": "integration", "entries-0-kind": "", "entries-0-name": "X", "entries-0-timing": "later",
        })
        assert response.status_code == 422 and field_error(response, "Choose what kind of integration this is.")
        # Later additions make version 2; version 1 reads as it was agreed.
        response = web.post(f"/onboarding/{onboarding.id}/plan", data={
            "entries-0-section": "integration", "entries-0-kind": "marketplace",
            "entries-0-name": "Allegro second account", "entries-0-timing": "later", "note": "Second account",
        })
        assert response.status_code == 302
        page = web.get(f"/onboarding/{onboarding.id}/plan?version=1")
        assert b"Allegro second account" not in page.data and b"Allegro main account" in page.data
        assert web.get(f"/onboarding/{onboarding.id}/plan?version=3").status_code == 404
    assert [(i.id, i.name, i.timing, i.version) for i in success_plan.plan_items(onboarding, 1)] == before
    assert [i.name for i in success_plan.plan_items(onboarding) if i.version == 2] == ["Allegro second account"]
    assert count(SuccessPlanItem) == len(before) + 1
    assert reload(onboarding).agreed_plan_version == 1


def test_only_the_guardian_or_a_manager_changes_an_onboarding(web, world, login):
    with at():
        onboarding = start(world)
        login(world.agent2)
        assert web.get(f"/onboarding/{onboarding.id}").status_code == 200  # other staff may look
        response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff",
                            data={"planned_on": "2026-03-04", "owner": "", "notes": "mine now"})
        assert response.status_code == 403
        assert web.post(f"/onboarding/{onboarding.id}/guardian", data={"guardian": str(world.agent2.id)}).status_code == 403
        assert web.get("/onboarding/start").status_code == 403
        assert web.get("/manager/onboarding/").status_code == 403
        login(world.manager)
        response = web.post(f"/onboarding/{onboarding.id}/guardian", data={"guardian": str(world.agent2.id)})
        assert response.status_code == 302
        assert reload(world.acme).guardian_id == world.agent2.id
        assert {s.owner_id for s in reload(onboarding).stages} == {world.agent2.id}
        login(world.agent2)
        response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff",
                            data={"planned_on": "2026-03-04", "owner": str(world.acme_admin.id), "notes": "ok"})
        assert response.status_code == 302
        stage = reload(onboarding).stage("kickoff")
        assert stage.planned_on == date(2026, 3, 4) and stage.owner_id == world.acme_admin.id
        # An owner from another company is refused.
        response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff",
                            data={"planned_on": "", "owner": str(world.globex_user.id), "notes": ""})
        assert response.status_code == 422 and field_error(response, "Choose a member of staff or a user of this client.")


def test_start_refuses_a_second_onboarding_and_a_client_in_production(web, world, login):
    with at():
        start(world)
        login(world.manager)
        response = web.post("/onboarding/start", data={"client": str(world.acme.id), "guardian": str(world.agent.id)})
        assert response.status_code == 422 and field_error(response, "already open")
        world.globex.phase = "production"
        db.session.commit()
        response = web.post("/onboarding/start", data={"client": str(world.globex.id), "guardian": str(world.acme_user.id)})
        assert response.status_code == 422
        assert field_error(response, "already in production") and field_error(response, "Choose an active agent.")
        response = web.post("/onboarding/start", data={"client": "", "guardian": "", "kickoff_planned_on": "2026-02-01"})
        assert response.status_code == 422 and field_error(response, "Choose a client.")


def test_csrf_is_required(app, web, world, login):
    with at():
        onboarding = start(world)
        login(world.agent)
        app.config["WTF_CSRF_ENABLED"] = True
        try:
            response = web.post(f"/onboarding/{onboarding.id}/stages/kickoff",
                                data={"planned_on": "2026-03-04", "owner": "", "notes": "x"})
        finally:
            app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert reload(onboarding).stage("kickoff").planned_on is None


@pytest.mark.postgres_only
def test_two_guardians_recording_the_protocol_at_once_make_one_record(app, world, is_postgres):
    """The onboarding row lock: the second request waits, then sees the first one's protocol."""
    import threading

    from helpdesk.accounts import User

    if not is_postgres:
        pytest.skip("row locks need PostgreSQL")
    onboarding_id = walk_to(world, "protocol").id
    user_ids = (world.agent.id, world.manager.id)
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def record(user_id: int) -> None:
        with app.app_context(), app.test_request_context():
            user = db.session.get(User, user_id)
            onboarding = access.get_onboarding(user, onboarding_id)
            barrier.wait()
            try:
                protocol.record_protocol(user, onboarding, signed_on=date(2026, 3, 2), functions=[],
                                         scan=protocol.ScanUpload("p.pdf", PDF), now=NOW)
                outcomes.append("recorded")
            except errors.Conflict:
                db.session.rollback()
                outcomes.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=record, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "recorded"]
    assert len(stored_files(app)) == 1
    events = db.session.scalars(select(OnboardingEvent).where(OnboardingEvent.kind == "protocol_recorded")).all()
    assert len(events) == 1
