"""The six stages of an onboarding: opening it, editing, starting and completing stages, the training.

Every change goes through a service of this package, once, for the web pages and the CLI; each
service checks who acts and what was asked, writes the change and an event of the onboarding's
history, and commits (one transaction per call). The rules that decide (stage order, meeting
rhythm, reminder dates) are the pure functions of `plans.onboarding.rules`; services hand them
`today` and `now`.

Guardian and phase live on `helpdesk.companies.Client` (`guardian_id`, `phase`,
`protocol_signed_on`): recording the signed protocol (`protocol`) moves the client to production
there, which is what the ticket routing and the coverage engine read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.onboarding import rules
from plans.onboarding.access import lock, people_for, pick, require_edit, require_manager
from plans.onboarding.checklists import checklist, missing_start_data
from plans.onboarding.dates import local_today
from plans.onboarding.errors import Conflict, NotFound, OnboardingError, check_text, raise_if, staff_user
from plans.onboarding.labels import (
    CONFIGURATION_ITEMS,
    PROTOCOL_FUNCTIONS,
    START_DATA_ITEMS,
    TEST_STEPS,
)
from plans.onboarding.meetings import schedule_rhythm
from plans.onboarding.models import GUARDIAN_ROLES, STAGES, ChecklistItem, Onboarding, OnboardingStage, record
from plans.onboarding.success_plan import latest_plan_version
from plans.onboarding.vocabulary import Stage


@dataclass(frozen=True)
class Gap:
    """One thing that keeps a stage from being done, with the items it is about (shown nested)."""

    text: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


def stage_gaps(onboarding: Onboarding) -> list[Gap]:
    """What keeps the current stage from being done, in plain words (shown to staff and client)."""
    stage = onboarding.current_stage
    gaps: list[Gap] = []
    if stage == "kickoff":
        if latest_plan_version(onboarding) == 0:
            gaps.append(Gap(_("The Success Plan is not recorded yet.")))
    elif stage == "configuration":
        missing = missing_start_data(onboarding)
        if missing:
            gaps.append(Gap(_("Configuration can start once these start data are complete:"), tuple(missing)))
        else:
            items = checklist(onboarding, "configuration") + checklist(onboarding, "test")
            open_items = [i for i in items if not i.complete]
            if open_items:
                gaps.append(Gap(
                    _("%(open)s of %(all)s configuration items and tests are still open.",
                      open=len(open_items), all=len(items))
                ))
    elif stage == "training":
        if not onboarding.training_plan_checked:
            gaps.append(Gap(_("The Success Plan has not been checked at a training yet.")))
        if not onboarding.training_access_handed_over:
            gaps.append(Gap(_("Access to the panel has not been handed over yet.")))
    elif stage == "protocol":
        gaps.append(Gap(_("The signed acceptance protocol has not been received yet.")))
    elif stage == "follow_up":
        gaps.append(Gap(_("The follow-up meeting has not taken place yet.")))
    return gaps


def start_onboarding(
    user: User, *, client_id: Any, guardian_id: Any, kickoff_planned_on: date | None, now: datetime
) -> Onboarding:
    """A manager opens the onboarding of a client in onboarding, with its guardian; commits."""
    require_manager(user)
    fields: dict[str, str] = {}
    try:
        client = db.session.get(Client, int(client_id))
    except (TypeError, ValueError):
        client = None
    if client is None:
        fields["client"] = _("Choose a client.")
    elif client.phase != "onboarding":
        fields["client"] = _("This client is already in production.")
    elif db.session.scalar(select(Onboarding.id).where(Onboarding.client_id == client.id)):
        fields["client"] = _("This client's onboarding is already open.")
    guardian = staff_user(fields, "guardian", guardian_id, GUARDIAN_ROLES)
    if kickoff_planned_on is not None and kickoff_planned_on < local_today(now):
        fields["kickoff_planned_on"] = _("The kickoff cannot be planned in the past.")
    raise_if(fields)
    assert client is not None and guardian is not None
    client.guardian_id = guardian.id
    onboarding = Onboarding(client=client, started_at=now, started_by_id=user.id, last_progress_at=now)
    db.session.add(onboarding)
    db.session.flush()
    for position, key in enumerate(STAGES):
        db.session.add(
            OnboardingStage(
                onboarding_id=onboarding.id, key=key, position=position, state="pending",
                owner_id=guardian.id, notes="",
                planned_on=kickoff_planned_on if key == "kickoff" else None,
            )
        )
    for kind, catalog in (
        ("start_data", START_DATA_ITEMS),
        ("configuration", CONFIGURATION_ITEMS),
        ("test", TEST_STEPS),
        ("protocol", PROTOCOL_FUNCTIONS),
    ):
        for position, key in enumerate(catalog):
            db.session.add(
                ChecklistItem(onboarding_id=onboarding.id, kind=kind, key=key, required=True,
                              state="open", position=position)
            )
    record(onboarding, user, "started", now, guardian=guardian.id)
    db.session.commit()
    db.session.refresh(onboarding)
    return onboarding


def change_guardian(user: User, onboarding: Onboarding, guardian_id: Any, now: datetime) -> Onboarding:
    """A manager hands the client to another guardian; stages the old one owned follow; commits."""
    require_manager(user)
    fields: dict[str, str] = {}
    guardian = staff_user(fields, "guardian", guardian_id, GUARDIAN_ROLES)
    raise_if(fields)
    assert guardian is not None
    old = onboarding.client.guardian_id
    if old == guardian.id:
        return onboarding
    onboarding.client.guardian_id = guardian.id
    for stage in onboarding.stages:
        if stage.state != "done" and stage.owner_id in (None, old):
            stage.owner_id = guardian.id
    record(onboarding, user, "guardian_changed", now, **{"from": old, "to": guardian.id})
    db.session.commit()
    return onboarding


def update_stage(
    user: User, onboarding: Onboarding, key: str, *, planned_on: date | None, owner_id: Any,
    notes: Any, now: datetime,
) -> OnboardingStage:
    """Edit a stage's planned date, owner and notes; commits."""
    require_edit(user, onboarding)
    stage = _stage(onboarding, key)
    fields: dict[str, str] = {}
    notes = check_text(fields, "notes", notes, limit=5000)
    owner = None
    if owner_id not in (None, ""):
        owner = pick({p.id: p for p in people_for(onboarding)}, owner_id)
        if owner is None:
            fields["owner"] = _("Choose a member of staff or a user of this client.")
    raise_if(fields)
    changed = {}
    if stage.planned_on != planned_on:
        changed["planned_on"] = planned_on.isoformat() if planned_on else None
    new_owner = owner.id if owner else None
    if stage.owner_id != new_owner:
        changed["owner"] = new_owner
    if stage.notes != notes:
        changed["notes"] = True
    if not changed:
        return stage
    stage.planned_on, stage.owner_id, stage.notes = planned_on, new_owner, notes
    record(onboarding, user, "stage_updated", now, stage=key, **changed)
    db.session.commit()
    return stage


def _stage(onboarding: Onboarding, key: Any) -> OnboardingStage:
    try:
        return onboarding.stage(key)
    except KeyError:
        raise NotFound(_("There is no such stage.")) from None


STAGE_PROBLEMS = {
    "unknown_state": ("to_state", lambda: _("Choose to start or to complete the stage.")),
    "already_done": ("to_state", lambda: _("This stage is already done.")),
    "actual_date_required": ("actual_on", lambda: _("Enter the date the stage was completed.")),
    "actual_date_in_future": ("actual_on", lambda: _("The date cannot be in the future.")),
}


def check_change(
    onboarding: Onboarding, key: str, to_state: str, actual_on: date | None, reason: str, today: date
) -> rules.StageCheck:
    check = rules.check_stage_change(
        key, to_state, onboarding.states, actual_on=actual_on, today=today, reason=reason
    )
    fields: dict[str, str] = {}
    for problem in check.problems:
        if problem == "reason_required":
            names = ", ".join(str(Stage(s).label) for s in check.out_of_order)
            fields["reason"] = _(
                "%(stages)s not done yet: say why this stage goes out of order.", stages=names
            )
        else:
            name, message = STAGE_PROBLEMS[problem]
            fields[name] = message()
    if "already_done" in check.problems:
        raise Conflict(fields["to_state"], fields)
    raise_if(fields)
    return check


def _gate(onboarding: Onboarding, key: str, to_state: str) -> None:
    """Hard conditions of the seed that no reason overrides."""
    if key == "configuration":
        missing = missing_start_data(onboarding)
        if missing:
            raise Conflict(
                _("Configuration can start only when all start data is complete. Missing: %(items)s",
                  items="; ".join(missing)),
                {"to_state": _("Start data missing: %(items)s", items="; ".join(missing))},
            )
        if to_state == "done":
            items = checklist(onboarding, "configuration") + checklist(onboarding, "test")
            still_open = [i.title for i in items if not i.complete]
            if still_open:
                raise Conflict(
                    _("Configuration is done when every item and test is done or not applicable. "
                      "Open: %(items)s", items="; ".join(still_open)),
                    {"to_state": _("Still open: %(items)s", items="; ".join(still_open))},
                )
    if key == "kickoff" and to_state == "done" and latest_plan_version(onboarding) == 0:
        raise Conflict(
            _("Record the Success Plan before completing the kickoff."),
            {"to_state": _("Record the Success Plan before completing the kickoff.")},
        )
    if key == "training" and to_state == "done":
        raise Conflict(
            _("The training is completed with the training record (Success Plan checked, access handed over)."),
            {"to_state": _("Use the training record below.")},
        )
    if key == "protocol" and to_state == "done":
        raise Conflict(
            _("The protocol is completed by recording the signed protocol with its scan."),
            {"to_state": _("Use the acceptance protocol page.")},
        )


def advance(
    onboarding: Onboarding, stage: OnboardingStage, to_state: str, actual_on: date | None,
    reason: str, check: rules.StageCheck, user: User, now: datetime,
) -> None:
    today = local_today(now)
    if to_state == "in_progress":
        stage.state = "in_progress"
        stage.started_on = actual_on or today
        kind = "stage_started"
    else:
        stage.state = "done"
        stage.started_on = stage.started_on or actual_on
        stage.done_on = actual_on
        kind = "stage_done"
    if check.out_of_order:
        stage.out_of_order_reason = reason[:500]
    record(
        onboarding, user, kind, now, stage=stage.key,
        on=(actual_on or today).isoformat(),
        **({"out_of_order": list(check.out_of_order), "reason": reason} if check.out_of_order else {}),
    )
    if all(s.state == "done" for s in onboarding.stages) and onboarding.completed_at is None:
        onboarding.completed_at = now
        record(onboarding, user, "completed", now)


def change_stage_state(
    user: User, onboarding: Onboarding, key: str, *, to_state: Any, actual_on: date | None,
    reason: Any, now: datetime,
) -> OnboardingStage:
    """Start or complete a stage. Out of order needs a reason; the seed's gates always hold."""
    require_edit(user, onboarding)
    lock(onboarding)
    stage = _stage(onboarding, key)
    fields: dict[str, str] = {}
    reason = check_text(fields, "reason", reason, limit=500)
    raise_if(fields)
    check = check_change(onboarding, key, to_state, actual_on, reason, local_today(now))
    _gate(onboarding, key, to_state)
    if to_state == "done" and key == "kickoff":
        onboarding.agreed_plan_version = latest_plan_version(onboarding)
    advance(onboarding, stage, to_state, actual_on, reason, check, user, now)
    db.session.commit()
    return stage


def record_training(
    user: User, onboarding: Onboarding, *, held_on: date | None, plan_checked: bool,
    access_handed_over: bool, notes: Any, reason: Any, now: datetime,
) -> OnboardingStage:
    """Complete the training; schedules the follow-up a week later and the recurring meetings.

    The follow-up and the recurring meetings are dated entries like any other (editable, with
    their own reminders); the follow-up and recurring stages get them as their planned dates.
    """
    require_edit(user, onboarding)
    lock(onboarding)
    fields: dict[str, str] = {}
    notes = check_text(fields, "notes", notes, limit=5000)
    reason = check_text(fields, "reason", reason, limit=500)
    if not plan_checked:
        fields["plan_checked"] = _("The training checks the integrations against the Success Plan.")
    if not access_handed_over:
        fields["access_handed_over"] = _("The training hands over access to the panel.")
    today = local_today(now)
    try:
        check = check_change(onboarding, "training", "done", held_on, reason, today)
    except Conflict:
        raise
    except OnboardingError as exc:
        fields.update({("held_on" if k == "actual_on" else k): v for k, v in exc.fields.items()})
        check = None
    raise_if(fields)
    assert check is not None and held_on is not None
    stage = onboarding.stage("training")
    onboarding.training_plan_checked = True
    onboarding.training_access_handed_over = True
    if notes:
        stage.notes = (stage.notes + "\n\n" + notes).strip()
    advance(onboarding, stage, "done", held_on, reason, check, user, now)
    record(onboarding, user, "training_recorded", now, on=held_on.isoformat())
    schedule_rhythm(onboarding, held_on, user, now)
    db.session.commit()
    return stage
