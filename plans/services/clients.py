"""A client's side of coverage: today on the vendor's calendar, the per-client lock, and the
post-onboarding package (the acceptance protocol's signing day and the package length).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text

from helpdesk.companies import Client, vendor_today
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.services.parsing import by_id, parse_date, parse_int, raise_if

MAX_PACKAGE_MONTHS = 24
# pg_advisory_xact_lock(namespace, client_id): one namespace for the coverage of a client.
_LOCK_NAMESPACE = 0x434F56  # "COV"


def coverage_today() -> date:
    """Today on the vendor's calendar (``COVERAGE_TIMEZONE``, Europe/Warsaw by default)."""
    return vendor_today()


def lock_client(client_id: int) -> None:
    """Serialise coverage work for one client until the transaction ends (PostgreSQL).

    Reading usage and writing the ledger happen under this lock, so two agents logging the last
    minutes of an allowance at once are decided one after the other. SQLite runs one writer at a
    time anyway.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :client_id)"),
            {"namespace": _LOCK_NAMESPACE, "client_id": client_id},
        )


def get_client(client_id: int) -> Client:
    return by_id(Client, client_id, _("There is no such client."))


def set_package(client_id: int, *, signed_on: Any, months: Any) -> Client:
    """Record the acceptance protocol's signing day and the package length; commits.

    A signing day puts the client in production (the package runs from that day); clearing it
    puts the client back in onboarding.
    """
    client = get_client(client_id)
    fields: dict[str, str] = {}
    day = parse_date(fields, "protocol_signed_on", signed_on, required=False)
    length = parse_int(fields, "package_months", months, low=1, high=MAX_PACKAGE_MONTHS, required=True)
    if day is not None and day > coverage_today():
        fields["protocol_signed_on"] = _("The protocol cannot be signed in the future.")
    raise_if(fields)
    lock_client(client.id)
    client.protocol_signed_on = day
    client.package_months = length
    client.phase = "production" if day is not None else "onboarding"
    db.session.commit()
    return client
