"""What admins set up for the e-mail channel: the inbound mailboxes and the clients' e-mail
domains. Services check every value and commit."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from helpdesk.accounts import AccountError, normalise_email
from helpdesk.companies import Client
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import check_text
from tickets.inbound.models import ClientEmailDomain, InboundMailbox
from tickets.models import CATEGORIES

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_FOLDER_MAX = 200


class MailSettingsError(Invalid):
    """A mailbox or a domain was refused; `fields` says where."""


def _address(fields: dict[str, str], value: Any) -> str:
    try:
        return normalise_email(value if isinstance(value, str) else "")
    except AccountError as exc:
        fields["address"] = exc.message
        return ""


def save_mailbox(mailbox: InboundMailbox | None, *, address: Any, category: Any, active: bool = True,
                 imap_url: Any = "", imap_user: Any = "", imap_password_ref: Any = "", folder_inbox: Any = "INBOX",
                 folder_processed: Any = "Processed", folder_failed: Any = "Failed") -> InboundMailbox:
    """Add a mailbox (mailbox None) or change one."""
    fields: dict[str, str] = {}
    address = _address(fields, address)
    if category not in CATEGORIES:
        fields["category"] = _("Choose one of: %(values)s.", values=", ".join(CATEGORIES))
    url = check_text(fields, "imap_url", imap_url, limit=500, one_line=True)
    if url and not re.match(r"^imaps?://", url):
        fields["imap_url"] = _("An IMAP address starts with imaps:// (or imap:// for a server on this machine).")
    user = check_text(fields, "imap_user", imap_user, limit=254, one_line=True)
    ref = check_text(fields, "imap_password_ref", imap_password_ref, limit=100, one_line=True)
    if ref and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", ref):
        fields["imap_password_ref"] = _("The name of an environment variable: capital letters, digits and _.")
    folders = {}
    for name, value in (("folder_inbox", folder_inbox), ("folder_processed", folder_processed),
                        ("folder_failed", folder_failed)):
        folders[name] = check_text(fields, name, value, limit=_FOLDER_MAX, required=True, one_line=True)
    if fields:
        raise MailSettingsError(_("Please correct the marked fields."), fields)
    taken = db.session.scalar(select(InboundMailbox.id).where(func.lower(InboundMailbox.address) == address))
    if taken is not None and (mailbox is None or taken != mailbox.id):
        raise Conflict(_("There is already a mailbox with this address."), {"address": _("Already taken.")})
    if mailbox is None:
        mailbox = InboundMailbox(address=address)
        db.session.add(mailbox)
    mailbox.address, mailbox.category, mailbox.active = address, category, bool(active)
    mailbox.imap_url, mailbox.imap_user, mailbox.imap_password_ref = url or None, user or None, ref or None
    mailbox.folder_inbox = folders["folder_inbox"]
    mailbox.folder_processed = folders["folder_processed"]
    mailbox.folder_failed = folders["folder_failed"]
    db.session.commit()
    return mailbox


def add_domain(client_id: Any, domain: Any) -> ClientEmailDomain:
    """Give a client company an e-mail domain (each domain belongs to one company)."""
    fields: dict[str, str] = {}
    text = check_text(fields, "domain", domain, limit=253, required=True, one_line=True).lower().lstrip("@")
    if not fields and not _DOMAIN.match(text):
        fields["domain"] = _("Enter a domain such as acme.example.")
    client = db.session.get(Client, int(client_id)) if str(client_id or "").isdigit() else None
    if client is None:
        fields["client"] = _("Choose a client company.")
    if fields:
        raise MailSettingsError(_("Please correct the marked fields."), fields)
    if db.session.scalar(select(ClientEmailDomain.id).where(ClientEmailDomain.domain == text)) is not None:
        raise Conflict(_("This domain already belongs to a client."), {"domain": _("Already taken.")})
    found = ClientEmailDomain(client_id=client.id, domain=text)
    db.session.add(found)
    db.session.commit()
    return found


def remove_domain(domain_id: int) -> None:
    found = db.session.get(ClientEmailDomain, domain_id)
    if found is None:
        raise NotFound(_("There is no such domain."))
    db.session.delete(found)
    db.session.commit()
