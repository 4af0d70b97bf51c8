"""The per-ticket reply address: `support+<token>@domain`, where the token names the ticket and
is signed, so a reply sent to it can be matched to its ticket and nobody can make up a token for
another ticket.

The token is `<ticket id>.<signature>`: ten characters of base32 HMAC-SHA256 over the ticket id
with the app's secret, in lower case (mail systems may fold the local part's case). Pure functions:
no Flask, no database; the secret is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

SIGNATURE_CHARS = 10
_TOKEN = re.compile(r"^([1-9][0-9]{0,9})\.([a-z2-7]{" + str(SIGNATURE_CHARS) + "})$")


def _signature(ticket_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"reply:{ticket_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_CHARS]


def sign_reply_token(ticket_id: int, secret: str) -> str:
    """The token for a ticket's reply address."""
    return f"{ticket_id}.{_signature(ticket_id, secret)}"


def read_reply_token(token: str, secret: str) -> int | None:
    """The ticket id a token names, or None when it is malformed or its signature is wrong."""
    found = _TOKEN.match((token or "").strip().lower())
    if found is None:
        return None
    ticket_id = int(found.group(1))
    if not hmac.compare_digest(found.group(2), _signature(ticket_id, secret)):
        return None
    return ticket_id


def reply_address(base: str, ticket_id: int, secret: str) -> str:
    """`local+<token>@domain` for the base address `local@domain`."""
    local, _, domain = base.rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}+{sign_reply_token(ticket_id, secret)}@{domain}"


def token_of(address: str) -> str | None:
    """The part after `+` in an address's local part, or None."""
    local = address.strip().rpartition("@")[0]
    if "+" not in local:
        return None
    return local.split("+", 1)[1]
