"""SLA: the clocks of every ticket, the policies that set them, their timers, pages and report.

- `clock`: the pure rules (no Flask, no ORM, no clock): due and warning instants from a clock's
  history, and which warning or breach is due or still ahead.
- `policies`: which policy a ticket gets; the coverage-source mapping (the generic policies are
  the kernel's, `helpdesk.calendars.policies`).
- `refresh`: recomputes a ticket's clocks in the transaction of every change; records facts.
- `timers`: the RQ timer jobs, set after the commit.
- `jobs`: the sweep and the RQ jobs (`sla_timer`, and `sla_sweep`: a periodic job).
- `display`: queue badges and the clocks on a ticket's page; `report`: the manager's report;
  `admin`: the manager's policy pages; `cli`: `flask sla due | sweep`.

Imports run one way inside: clock <- policies <- refresh -> timers; jobs -> refresh, timers.
`init_app` registers the pages, the commands and the periodic sweep (every SLA_SWEEP_SECONDS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing tickets.sla.clock runs this file: keep it light
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the SLA pages, commands and the periodic sweep."""
    from helpdesk.jobs import periodic
    from tickets.sla import admin, report
    from tickets.sla.cli import sla_cli

    app.register_blueprint(admin.bp)
    app.register_blueprint(report.bp)
    app.cli.add_command(sla_cli)
    app.config.setdefault("SLA_INLINE_SWEEP", True)
    # The safety net under the timers (a timer lost with Redis, a ticket changed while Redis was
    # away): record every warning and breach that is due, once a minute on one worker.
    periodic(app, "sla-sweep", func="tickets.sla.jobs.sla_sweep", every=60, setting="SLA_SWEEP_SECONDS")
