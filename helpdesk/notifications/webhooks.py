"""Webhooks: endpoints admins register per event type, and signed deliveries to them.

Each delivery is a POST of JSON with three headers: the webhook id (from the outbox id, the same
on every retry, so receivers can drop duplicates), a Unix timestamp, and
`sha256=<hex HMAC-SHA256 of "id.timestamp.body" with the endpoint's secret>`. URLs must be
https:// on public addresses (IPv6 addresses that embed an IPv4 one, such as NAT64, 6to4 or
Teredo, are refused whatever they embed); WEBHOOKS_ALLOW_PRIVATE also allows http:// and
private, loopback or link-local hosts. The address is checked again at every delivery (DNS may have changed), and
redirects are never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.notifications.events import WEBHOOK_EVENT_TYPES
from helpdesk.notifications.models import OutboxEntry, WebhookEndpoint
from helpdesk.text import one_line_error

ID_HEADER = "X-Opiekun-Webhook-Id"
TIMESTAMP_HEADER = "X-Opiekun-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Opiekun-Webhook-Signature"


class WebhookError(Invalid):
    """An endpoint could not be registered; the message says why, `field` says where."""

    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__(message, field)


def webhook_id(outbox_id: int) -> str:
    return f"opiekun-{outbox_id}"


def sign(secret: str, wid: str, timestamp: int, body: bytes) -> str:
    signed = f"{wid}.{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(secret: str, wid: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300) -> bool:
    """What a receiver does: recompute the signature and refuse stale timestamps."""
    try:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, wid, int(timestamp), body), signature)


# IPv6 prefixes that carry an IPv4 address inside (mapped, compatible, NAT64, 6to4, Teredo).
# Whatever IPv4 address they embed, a translator or tunnel may deliver to it, including private
# and loopback ones, so webhooks refuse these prefixes entirely rather than decode each scheme.
EMBEDDED_IPV4_PREFIXES = tuple(
    ipaddress.ip_network(prefix)
    for prefix in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local-use prefix
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
    )
)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6 and any(ip in prefix for prefix in EMBEDDED_IPV4_PREFIXES):
        return False
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """The URL if deliveries may go there, else WebhookError with a message for the admin."""
    url = (url or "").strip()
    if not url:
        raise WebhookError(_("Enter the endpoint's URL."))
    if len(url) > 500:
        raise WebhookError(_("A URL may have at most 500 characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookError(_("This is not a valid URL.")) from exc
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise WebhookError(_("The URL must start with https://."))
    if not parts.hostname:
        raise WebhookError(_("This is not a valid URL: it has no host name."))
    if parts.username or parts.password:
        raise WebhookError(_("Put no user name or password in the URL; deliveries are signed."))
    if not resolve:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookError(_("The host name %(host)s does not resolve.", host=parts.hostname)) from exc
    if not allow_private and not all(_is_public(info[4][0]) for info in infos):
        raise WebhookError(
            _("The host %(host)s is a private, loopback or reserved address; webhooks go only to "
              "public addresses.", host=parts.hostname)
        )
    return url


def parse_events(chosen: list[str]) -> list[str]:
    unknown = [e for e in chosen if e not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise WebhookError(_("Unsupported event type: %(events)s.", events=", ".join(unknown)), "events")
    if not chosen:
        raise WebhookError(_("Choose at least one event type."), "events")
    return [e for e in WEBHOOK_EVENT_TYPES if e in chosen]


def create_endpoint(url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    """Register an endpoint after checking its URL and event types; commits."""
    allow_private = bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"])
    description = (description or "").strip()
    if problem := one_line_error(description):
        raise WebhookError(problem, "description")
    if len(description) > 200:
        raise WebhookError(_("At most %(limit)s characters.", limit=200), "description")
    chosen = parse_events(events)
    url = check_url(url, allow_private=allow_private)
    endpoint = WebhookEndpoint(url=url, events=chosen, secret=secrets.token_hex(32), description=description)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def deactivate_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.active = False
    db.session.commit()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is a failed delivery, never a hop to another host


_opener = urllib.request.build_opener(_NoRedirects)


class WebhookFailed(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def payload(entry: OutboxEntry) -> bytes:
    body = {
        "id": webhook_id(entry.id),
        "type": entry.event,
        "created_at": entry.created_at.isoformat(),
        "ticket_id": entry.ticket_id,
        "data": entry.values,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def post(endpoint: WebhookEndpoint, entry: OutboxEntry) -> int:
    """Deliver `entry` to `endpoint`; returns the HTTP status, raises WebhookFailed."""
    if not endpoint.active:
        raise WebhookFailed("endpoint deactivated", permanent=True)
    try:
        check_url(endpoint.url, allow_private=bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"]))
    except WebhookError as exc:
        raise WebhookFailed(str(exc), permanent=False) from exc
    body = payload(entry)
    wid = webhook_id(entry.id)
    timestamp = int(time.time())
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Opiekun-Webhooks/1",
            ID_HEADER: wid,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(endpoint.secret, wid, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=float(current_app.config["WEBHOOK_TIMEOUT"])) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        # 410 Gone says the receiver will never want it; anything else may pass later.
        raise WebhookFailed(f"HTTP {exc.code} {exc.reason}", permanent=exc.code == 410) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookFailed(f"request failed: {exc}", permanent=False) from exc
