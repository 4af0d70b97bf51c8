"""The agent queue's rows (tickets/queue_rows.py): a fragment filled per row from Core rows, its
cells made once per distinct value on the page. Each row must still show its own values (a
cell made for one ticket is never another's), escaped as the template's autoescape did."""

from __future__ import annotations

import re

from sqlalchemy import update

from tests.samples import text_of


def _rows(page: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in re.finditer(r'<tr data-ticket="(\d+)">(.*?)</tr>', page, re.S)}


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_each_row_shows_its_own_values_escaped(web, world, login, make_ticket):
    from helpdesk.companies import Client
    from helpdesk.extensions import db
    from tickets import services
    from tickets.models import Ticket

    odd = make_ticket(world.acme_user, "<b>Bold</b> & \"quoted\" 'it' {braces} %(n)s", category="bug", priority="high")
    plain = make_ticket(world.globex_user, "Globex sync is late")
    third = make_ticket(world.acme_colleague, "Third one", priority="low")
    agent = services.Actor(world.agent)
    services.assign(agent, odd, world.agent.id)
    services.assign(agent, third, world.agent2.id)
    db.session.execute(update(Client).where(Client.slug == "acme").values(name="ACME & <Sons>"))
    db.session.execute(update(Ticket).where(Ticket.id == plain.id).values(
        coverage_source=None, coverage_covered=None, coverage_approval="pending", category_to_confirm=True))
    db.session.execute(update(Ticket).where(Ticket.id == third.id).values(sla_policy_id=None, sla_state=None))
    db.session.commit()

    login(world.agent)
    page = text_of(web.get("/agent/queue?sort=newest"))
    rows = _rows(page)
    assert list(rows) == [third.id, plain.id, odd.id]

    odd_cells = _cells(rows[odd.id])
    assert f'aria-label="Select OP-{odd.id}"' in odd_cells[0]
    assert odd_cells[1] == f"OP-{odd.id}"
    subject = "&lt;b&gt;Bold&lt;/b&gt; &amp; &#34;quoted&#34; &#39;it&#39; {braces} %(n)s"
    assert f'title="{subject}"' in rows[odd.id] and f">{subject}</a>" in odd_cells[2]
    assert odd_cells[2].endswith('<span class="muted">Anna</span>')
    assert odd_cells[3] == "ACME &amp; &lt;Sons&gt;"
    assert odd_cells[4] == '<span class="badge bug">Bug</span>'
    assert odd_cells[6] == '<span class="badge high">High</span>'
    assert odd_cells[8] == "Agnes Agent"

    plain_cells = _cells(rows[plain.id])
    assert plain_cells[2].endswith('<span class="muted">gina@globex.example</span>')  # no name: the e-mail
    assert plain_cells[3] == "Globex Trading"
    assert plain_cells[4].endswith('<div class="muted category-to-confirm">category to confirm</div>')
    assert plain_cells[5].startswith('<span class="badge cov uncovered">Undecided</span>')
    assert "Awaiting a manager&#39;s approval" in plain_cells[5]
    assert plain_cells[8] == "—"

    third_cells = _cells(rows[third.id])
    assert third_cells[3] == "ACME &amp; &lt;Sons&gt;"  # the same client's cell, made once
    assert third_cells[6] == '<span class="badge low">Low</span>'
    assert third_cells[8] == "Artur Agent"
    assert third_cells[9].startswith('<span class="badge sla-none">No SLA</span>')
    assert "left</span>" in _cells(rows[odd.id])[9]  # a running clock: business time left


def test_rows_are_in_the_readers_language_and_ticked_after_a_refused_bulk_change(web, world, login, make_ticket):
    first = make_ticket(world.acme_user, "First")
    second = make_ticket(world.acme_user, "Second")
    login(world.agent)
    web.post("/language/pl")
    page = text_of(web.get("/agent/queue?sort=newest"))
    cells = _cells(_rows(page)[first.id])
    assert f'aria-label="Zaznacz OP-{first.id}"' in cells[0]
    assert cells[7] == "Nowe"
    assert re.fullmatch(r"\d{1,2}\.\d\d\.\d{4}, \d\d:\d\d", cells[10])  # the Polish short date

    # A bulk change refused (no change chosen) shows the queue again with the same boxes ticked.
    refused = text_of(web.post("/agent/queue/bulk", data={"ticket": [str(second.id)], "back": "sort=newest"}))
    rows = _rows(refused)
    assert f'value="{second.id}" aria-label="Zaznacz OP-{second.id}" checked>' in rows[second.id]
    assert "checked" not in rows[first.id]


def test_the_coverage_cell_is_the_coverage_badge_macro_in_both_languages(app):
    """queue_rows writes out templates/_coverage.html's coverage_badge (the ticket pages and the
    portal use the macro): for every source, covered or not, and approval state they must match."""
    from types import SimpleNamespace

    from flask import render_template_string
    from flask_babel import force_locale

    from helpdesk.vocabulary import VOCABULARIES
    from tickets.queue_rows import _Cells

    sources = [None, *VOCABULARIES["coverage_source"].values()]
    approvals = [None, *VOCABULARIES["approval"].values()]
    macro = '{% from "_coverage.html" import coverage_badge %}{{ coverage_badge(t) }}'
    with app.test_request_context("/"):
        for language in ("en", "pl"):
            with force_locale(language):
                cells = _Cells()
                for source in sources:
                    for covered in (True, False):
                        for approval in approvals:
                            t = SimpleNamespace(coverage_source=source, coverage_covered=covered,
                                                coverage_approval=approval)
                            expected = render_template_string(macro, t=t)
                            assert cells.get(("coverage", source, covered, approval)) == expected, (language, t)
