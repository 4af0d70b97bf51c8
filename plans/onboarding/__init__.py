"""Onboarding: a client's way from the kickoff meeting to the signed acceptance protocol and after.

One record per client company, its six stages, checklists, Success Plan versions, meetings (with
.ics files and reminders) and history. `init_app` registers the pages, the `flask onboarding`
commands, the hourly reminders job and the template names; the models are what other packages may read.
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
    """Register the onboarding blueprints, the `onboarding` commands, the reminders and the template names."""
    from helpdesk.jobs import periodic
    from plans.onboarding import (
        meeting_views,  # noqa: F401  (its routes are on the blueprints of `views`)
        models,  # noqa: F401  (the tables belong to the app's metadata)
        views,
        vocabulary,  # noqa: F401  (registers the words for the `label` filter)
    )
    from plans.onboarding.cli import onboarding_cli

    for key, value in ONBOARDING_DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    app.register_blueprint(views.manager_bp)
    app.register_blueprint(views.portal_bp)
    app.cli.add_command(onboarding_cli)
    app.jinja_env.globals["has_onboarding"] = has_onboarding
    # Meeting reminders go out on the working day before each meeting, once: look every hour.
    periodic(app, "onboarding-reminders", func="plans.onboarding.reminders.send_reminders_job", every=3600,
             setting="ONBOARDING_REMIND_SECONDS")


def has_onboarding(user) -> bool:
    """True when the user's company has an onboarding record (the portal link shows only then).

    One indexed look-up (onboardings.client_id is unique), once per request."""
    from flask import g
    from sqlalchemy import exists, select

    from helpdesk.extensions import db
    from plans.onboarding.models import Onboarding

    if getattr(user, "client_id", None) is None:
        return False
    if "has_onboarding" not in g:
        g.has_onboarding = bool(db.session.scalar(select(exists().where(Onboarding.client_id == user.client_id))))
    return g.has_onboarding
