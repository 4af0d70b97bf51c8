"""Plans: support plans and subscriptions, onboarding and Success Plans, coverage and usage.

Imports nothing of `tickets/`: where a ticket matters, its id is kept as a plain value.
"""

from __future__ import annotations

from flask import Flask

# Settings of the onboarding tracker; the environment or a test config may override any of them.
ONBOARDING_DEFAULTS = {
    "ONBOARDING_TIMEZONE": "Europe/Warsaw",  # the team's calendar: meeting dates, reminders
    "ONBOARDING_STALE_DAYS": 10,  # the managers' overview flags onboardings idle this long
    "ONBOARDING_RECURRING_MEETINGS": 4,  # recurring meetings scheduled ahead after the training
    "ONBOARDING_MEETING_TIME": "10:00",  # local time proposed for scheduled meetings
    "ONBOARDING_MEETING_MINUTES": 60,
    "PROTOCOL_SCAN_MAX_BYTES": 10 * 1024 * 1024,
}


def init_app(app: Flask) -> None:
    """Register the plans blueprints, the `coverage` and `onboarding` commands and template names."""
    from plans import (
        models,  # noqa: F401  (the tables belong to the app's metadata)
        onboarding_views,
    )
    from plans.cli import coverage_cli
    from plans.labels import render_reason
    from plans.labels import template_globals as coverage_globals
    from plans.onboarding_cli import onboarding_cli
    from plans.onboarding_labels import template_globals as onboarding_globals
    from plans.views import bp, portal_bp

    app.config.setdefault("COVERAGE_TIMEZONE", "Europe/Warsaw")
    app.config.setdefault("TIME_ENTRY_MAX_AGE_DAYS", 31)
    for key, value in ONBOARDING_DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(onboarding_views.bp)
    app.register_blueprint(onboarding_views.manager_bp)
    app.register_blueprint(onboarding_views.portal_bp)
    app.cli.add_command(coverage_cli)
    app.cli.add_command(onboarding_cli)
    app.jinja_env.globals.update(coverage_globals())
    app.jinja_env.globals.update(onboarding_globals())
    app.jinja_env.globals["coverage_reason"] = render_reason
