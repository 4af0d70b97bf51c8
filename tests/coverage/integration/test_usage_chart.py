"""Usage over the last plan periods as a chart: allowance, used and overage per period."""

from __future__ import annotations

import re
from datetime import date


def _bars(page: str) -> list[str]:
    return re.findall(r'<rect class="bar series-\d"[^>]*><title>([^<]*)</title>', page)


def test_the_client_admin_and_the_manager_see_each_period_as_bars(cov, world, clock, web, login):
    plan = cov.plan(allowance_minutes=120, period="month")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 10, 20))
    october = cov.file(world.acme_user, "question", "October question")
    cov.log(october, 60)
    clock.on(date(2026, 11, 10))
    november = cov.file(world.acme_user, "question", "November question")
    cov.log(november, 180)  # 60 beyond the allowance

    login(world.acme_admin)
    bars = _bars(web.get("/portal/usage").get_data(as_text=True))
    assert "October 2026 · Allowance: 2 h" in bars and "October 2026 · Used: 1 h" in bars
    assert "November 2026 · Used: 2 h" in bars and "November 2026 · Overage: 1 h" in bars
    assert bars.index("October 2026 · Allowance: 2 h") < bars.index("November 2026 · Used: 2 h")  # oldest first

    login(world.manager)
    page = web.get(f"/manager/clients/{world.acme.id}/coverage").get_data(as_text=True)
    assert 'id="usage-chart"' in page and "November 2026 · Overage: 1 h" in _bars(page)


def test_a_client_without_a_plan_gets_no_empty_chart(world, web, login):
    login(world.globex_admin)
    assert 'id="usage-chart"' not in web.get("/portal/usage").get_data(as_text=True)
