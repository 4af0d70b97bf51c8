"""Asking for a password-reset link by e-mail.

The answer never says whether the address is known. The link carries a signed token (see
`accounts.password_reset_token`) that dies after an hour, once used, or when the password or the
session version changes otherwise. Requests are counted per address across workers
(login_throttle), so the form cannot be used to flood someone's mailbox.
"""

from __future__ import annotations

from flask import url_for

from helpdesk.accounts import password_reset_token, user_by_email
from helpdesk.extensions import db
from helpdesk.login_throttle import normalise_address, reset_request_allowed
from helpdesk.notifications import PASSWORD_RESET, notify, recipients_for


def request_password_reset(email: str) -> None:
    """Send a reset link to the active user with this address, if any and not asked too often.

    Returns nothing on purpose: the caller answers the same whatever happened. Commits.
    """
    address = normalise_address(email)
    if not address or not reset_request_allowed(address):
        return
    user = user_by_email(address)
    if user is None or not user.active:
        return
    link = url_for("auth.reset_password_page", token=password_reset_token(user))
    notify(PASSWORD_RESET, recipients=recipients_for([user]), values={"link": link})
    db.session.commit()
