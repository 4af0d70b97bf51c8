"""Webhook URLs on IPv6 addresses that embed an IPv4 address are refused, at registration and at
delivery, whether the embedded address is private/loopback or public (the prefixes are refused)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.notifications.models import OutboxEntry, WebhookEndpoint
from helpdesk.notifications.webhooks import WebhookFailed, check_url, post

# prefix -> (embedding a private or loopback IPv4 address, embedding a public one)
EMBEDDED = {
    "::ffff:0:0/96 mapped": ("::ffff:10.0.0.1", "::ffff:8.8.8.8"),
    "::ffff:0:0:0/96 translated": ("::ffff:0:7f00:1", "::ffff:0:808:808"),
    "64:ff9b::/96 NAT64": ("64:ff9b::10.0.0.1", "64:ff9b::8.8.8.8"),
    "64:ff9b:1::/48 local NAT64": ("64:ff9b:1::a00:1", "64:ff9b:1::808:808"),
    "2002::/16 6to4": ("2002:7f00:1::1", "2002:808:808::1"),
    # Teredo keeps the client's IPv4 address inverted in the last 32 bits.
    "2001::/32 Teredo": ("2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
}
CASES = [(f"{name} {kind}", address) for name, pair in EMBEDDED.items()
         for kind, address in zip(("private", "public"), pair, strict=True)]


@pytest.mark.parametrize(("case", "address"), CASES, ids=[c for c, _a in CASES])
def test_registration_refuses_ipv6_with_embedded_ipv4(app, world, login, web, case, address):
    login(world.admin)
    response = web.post("/admin/notifications/webhooks",
                        data={"url": f"https://[{address}]/hook", "events": ["ticket.filed"]})
    assert response.status_code == 422, case
    assert "private, loopback or reserved" in response.get_data(as_text=True)
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


@pytest.mark.parametrize(("case", "address"), CASES, ids=[c for c, _a in CASES])
def test_delivery_refuses_ipv6_with_embedded_ipv4(app, world, case, address):
    # As if the URL had been registered before this rule (or its DNS name now answers with it).
    endpoint = WebhookEndpoint(url=f"https://[{address}]/hook", events=["ticket.filed"], secret="s" * 64)
    db.session.add(endpoint)
    db.session.commit()
    with pytest.raises(WebhookFailed, match="private, loopback or reserved"):
        post(endpoint, OutboxEntry(event="ticket.filed", values={}))


def test_a_plain_public_ipv6_address_is_still_accepted(app):
    """The control: the refusal above is about the prefixes, not about IPv6 literals."""
    url = "https://[2606:4700:4700::1111]/hook"
    assert check_url(url, allow_private=False) == url


def test_the_setting_for_private_hosts_also_allows_them(app):
    url = "https://[64:ff9b::10.0.0.1]/hook"
    assert check_url(url, allow_private=True) == url
