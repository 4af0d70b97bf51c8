"""The e-mail channel's core: one raw message in, the right record out, once (receive.py).

Transport (the IMAP poller, the drop folder) hands each message to
`tickets.inbound.receive.receive_message`; `flask mail import` does it for an MTA pipe.
Pure decisions live in rules.py; reading MIME in reading.py; the pages in views.py.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tickets.inbound import views
    from tickets.inbound.cli import mail_cli

    app.register_blueprint(views.bp)
    app.cli.add_command(mail_cli)
