"""The knowledge base: help articles in Polish and English that answer before a ticket is filed.

Between tickets and plans in the layers: the ticket pages use it (suggestions on the new-ticket
form, articles beside a ticket, a reply turned into an article); it knows nothing of tickets.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from knowledge import (
        api,
        models,  # noqa: F401  (the tables belong to the app's metadata)
        views,
        vocabulary,  # noqa: F401  (registers the words for the `label` filter)
    )

    app.register_blueprint(views.bp)
    app.register_blueprint(views.staff_bp)
    app.register_blueprint(views.manager_bp)
    api.init_app(app)
