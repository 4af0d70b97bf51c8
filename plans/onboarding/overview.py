"""What is shown about onboardings as a whole: the managers' overview and the client's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from helpdesk.accounts import User
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.onboarding import rules
from plans.onboarding.access import guardian_candidates, onboarding_of_client
from plans.onboarding.checklists import missing_start_data
from plans.onboarding.errors import NotFound
from plans.onboarding.meetings import get_meeting, meetings
from plans.onboarding.models import STAGES, Onboarding, OnboardingMeeting
from plans.onboarding.stages import Gap, stage_gaps


@dataclass
class GuardianLoad:
    guardian: User | None
    active: int = 0
    before_protocol: int = 0
    stalled: int = 0
    meetings_next_14_days: int = 0


@dataclass
class Overview:
    by_stage: dict[str, list[Onboarding]]
    completed: list[Onboarding]
    stalled: list[Onboarding]
    load: list[GuardianLoad]
    stale_days: int


def overview(now: datetime, stale_days: int) -> Overview:
    """All onboardings by current stage, the stalled ones and each guardian's load."""
    onboardings = list(
        db.session.scalars(
            select(Onboarding)
            .join(Client, Client.id == Onboarding.client_id)
            .options(selectinload(Onboarding.stages))
            .order_by(Onboarding.last_progress_at)
        )
    )
    by_stage: dict[str, list[Onboarding]] = {key: [] for key in STAGES}
    completed, stalled = [], []
    guardians = {u.id: u for u in guardian_candidates()}
    load: dict[int | None, GuardianLoad] = {}
    for onboarding in onboardings:
        stage = onboarding.current_stage
        if stage is None:
            completed.append(onboarding)
            continue
        by_stage[stage].append(onboarding)
        gid = onboarding.client.guardian_id
        if gid is not None and gid not in guardians:
            guardians[gid] = db.session.get(User, gid)
        entry = load.setdefault(gid, GuardianLoad(guardians.get(gid) if gid else None))
        entry.active += 1
        if onboarding.protocol_signed_on is None:
            entry.before_protocol += 1
        if rules.is_stalled(onboarding.last_progress_at, now, stale_days):
            stalled.append(onboarding)
            entry.stalled += 1
    upcoming = db.session.execute(
        select(Client.guardian_id, func.count(OnboardingMeeting.id))
        .join(Onboarding, Onboarding.id == OnboardingMeeting.onboarding_id)
        .join(Client, Client.id == Onboarding.client_id)
        .where(
            OnboardingMeeting.cancelled.is_(False),
            OnboardingMeeting.starts_at > now,
            OnboardingMeeting.starts_at <= now + timedelta(days=14),
        )
        .group_by(Client.guardian_id)
    ).all()
    for gid, count in upcoming:
        entry = load.setdefault(gid, GuardianLoad(guardians.get(gid) if gid else None))
        entry.meetings_next_14_days = count
    rows = sorted(load.values(), key=lambda g: (-g.active, g.guardian.display_name if g.guardian else ""))
    return Overview(by_stage, completed, stalled, rows, stale_days)


@dataclass
class ClientProgress:
    onboarding: Onboarding
    current_stage: str | None
    gaps: list[Gap]
    missing_start_data: list[str]
    next_meeting: OnboardingMeeting | None
    upcoming: list[OnboardingMeeting]


def client_progress(onboarding: Onboarding, now: datetime) -> ClientProgress:
    upcoming = [m for m in meetings(onboarding, include_cancelled=False) if m.starts_at > now]
    return ClientProgress(
        onboarding=onboarding,
        current_stage=onboarding.current_stage,
        gaps=stage_gaps(onboarding),
        missing_start_data=missing_start_data(onboarding),
        next_meeting=upcoming[0] if upcoming else None,
        upcoming=upcoming,
    )


def client_meeting(user: User, meeting_id: int) -> tuple[Onboarding, OnboardingMeeting]:
    """A meeting of the client user's own company's onboarding, else NotFound."""
    onboarding = onboarding_of_client(user)
    if onboarding is None:
        raise NotFound(_("There is no such meeting."))
    return onboarding, get_meeting(onboarding, meeting_id)
