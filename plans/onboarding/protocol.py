"""The signed acceptance protocol: its scan (a PDF) and the move of the client to production.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO

from flask import current_app

from helpdesk.accounts import User
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.storage import storage
from helpdesk.uploads import UploadError, check_file
from plans.onboarding import rules
from plans.onboarding.access import lock, require_edit
from plans.onboarding.checklists import checklist
from plans.onboarding.dates import local_today
from plans.onboarding.errors import Conflict, NotFound, raise_if
from plans.onboarding.labels import PROTOCOL_FUNCTIONS
from plans.onboarding.models import Onboarding, record
from plans.onboarding.stages import advance


@dataclass(frozen=True)
class ScanUpload:
    """A file as the browser sent it (at most the size limit plus one byte read)."""

    filename: str
    data: bytes


def check_scan(scan: ScanUpload | None) -> tuple[str | None, str | None]:
    """(display name, None) for an acceptable PDF scan, else (None, message)."""
    limit = current_app.config["PROTOCOL_SCAN_MAX_BYTES"]
    if scan is None or not scan.filename:
        return None, _("Attach the scan of the signed protocol (PDF).")
    try:
        checked = check_file(scan.filename, scan.data, limit)
    except UploadError as exc:
        return None, str(exc)
    if checked.content_type != "application/pdf":
        return None, _("The signed protocol must be a PDF file; %(name)s is not one.", name=checked.filename)
    return checked.filename, None


def record_protocol(
    user: User, onboarding: Onboarding, *, signed_on: date | None, functions: Iterable[str],
    scan: ScanUpload | None, now: datetime,
) -> Onboarding:
    """Record the signed acceptance protocol; the client goes to production from the signing date.

    The client's phase and `protocol_signed_on` change in the same transaction, so from then on
    its tickets go to the normal queue and the post-onboarding package runs from that date.
    """
    require_edit(user, onboarding)
    lock(onboarding)
    if onboarding.protocol_signed_on is not None:
        raise Conflict(_("The acceptance protocol is already recorded."))
    fields: dict[str, str] = {}
    training = onboarding.stage("training")
    if signed_on is None:
        fields["signed_on"] = _("Enter the date the protocol was signed.")
    else:
        problem = rules.check_protocol_date(
            signed_on, training.done_on if training.state == "done" else None, local_today(now)
        )
        if problem == "training_not_done":
            fields["signed_on"] = _("The protocol follows the training; record the training first.")
        elif problem == "before_training":
            fields["signed_on"] = _(
                "The protocol cannot be signed before the training (%(day)s).", day=training.done_on.isoformat()
            )
        elif problem == "in_future":
            fields["signed_on"] = _("The signing date cannot be in the future.")
    ticked = set(functions or ())
    if not ticked <= set(PROTOCOL_FUNCTIONS):
        fields["functions"] = _("Unknown basic function.")
    filename, scan_error = check_scan(scan)
    if scan_error:
        fields["scan"] = scan_error
    raise_if(fields)
    assert scan is not None and signed_on is not None
    key = storage().save(scan.data)
    try:
        onboarding.protocol_signed_on = signed_on
        onboarding.protocol_scan_key = key
        onboarding.protocol_scan_name = filename
        onboarding.protocol_scan_size = len(scan.data)
        onboarding.protocol_recorded_at = now
        onboarding.protocol_recorded_by_id = user.id
        for item in checklist(onboarding, "protocol"):
            item.state = "done" if item.key in ticked else "open"
            item.updated_at, item.updated_by_id = now, user.id
        client = onboarding.client
        client.phase = "production"
        client.protocol_signed_on = signed_on
        stage = onboarding.stage("protocol")
        check = rules.check_stage_change(
            "protocol", "done", onboarding.states, actual_on=signed_on, today=local_today(now)
        )
        advance(onboarding, stage, "done", signed_on, "", check, user, now)
        record(onboarding, user, "protocol_recorded", now, signed_on=signed_on.isoformat(),
                functions=sorted(ticked))
        db.session.commit()
    except BaseException:
        # Kept on purpose: the file is deleted here, so no later commit in this session (a CLI,
        # a job) may save the row that points at it.
        db.session.rollback()
        storage().delete(key)
        raise
    return onboarding


def open_scan(onboarding: Onboarding) -> BinaryIO:
    if not onboarding.protocol_scan_key:
        raise NotFound(_("No scan of the protocol is stored."))
    try:
        return storage().open(onboarding.protocol_scan_key)
    except KeyError:
        raise NotFound(_("No scan of the protocol is stored.")) from None
