"""SLA: the clocks of every ticket, the policies that set them, their timers, pages and report.

See each module's docstring; `init_app` registers the pages, the `flask sla` commands and the
sweep that every worker schedules on start.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the SLA pages, commands and worker hook."""
    from helpdesk.jobs import on_worker_start
    from tickets.sla import admin, report
    from tickets.sla.cli import sla_cli
    from tickets.sla.timers import schedule_next_sweep

    app.register_blueprint(admin.bp)
    app.register_blueprint(report.bp)
    app.cli.add_command(sla_cli)
    app.config.setdefault("SLA_INLINE_SWEEP", True)
    on_worker_start(app, schedule_next_sweep)
