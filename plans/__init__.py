"""Plans: support plans and subscriptions, onboarding and Success Plans, coverage and usage.

Imports nothing of `tickets/`: where a ticket matters, its id is kept as a plain value.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the plans blueprints and API endpoints, the `coverage` command, template names and onboarding."""
    from plans import (
        api,
        models,  # noqa: F401  (the tables belong to the app's metadata)
        onboarding,
    )
    from plans.cli import coverage_cli
    from plans.labels import period_name, render_reason
    from plans.labels import template_globals as coverage_globals
    from plans.views import bp, portal_bp

    app.config.setdefault("COVERAGE_TIMEZONE", "Europe/Warsaw")
    app.config.setdefault("TIME_ENTRY_MAX_AGE_DAYS", 31)
    app.register_blueprint(bp)
    app.register_blueprint(portal_bp)
    api.init_app(app)
    app.cli.add_command(coverage_cli)
    app.jinja_env.globals.update(coverage_globals())
    app.jinja_env.globals["coverage_reason"] = render_reason
    app.jinja_env.filters["period"] = period_name  # a plan period named for the reader
    onboarding.init_app(app)
