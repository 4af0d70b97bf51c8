"""Auto-assignment of new tickets: the admins' rules, duty (calendars, away), the guardian first,
manual assignment kept, the history's reason, the round-robin pointer under concurrent filings."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from sqlalchemy import select

from tests.samples import text_of

WEDNESDAY = date(2026, 12, 2)  # 12:00 UTC is 13:00 in Warsaw: the default calendar is open


def _rule(name: str, members: list[Any], strategy: str = "least_loaded", category: str | None = "bug",
          priority: str | None = None, enabled: bool = True, position: int = 0) -> Any:
    from tickets.autoassign import RuleInput, save_rule

    return save_rule(None, RuleInput(name=name, category=category, priority=priority, strategy=strategy,
                                     enabled=enabled, position=position, members=[str(m.id) for m in members]))


def _fresh(ticket: Any) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    return db.session.get(Ticket, ticket.id, populate_existing=True)


def _assigned_events(ticket: Any) -> list[dict]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    return [e.data for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "assigned")
        .order_by(TicketEvent.id))]


def _inbox(user: Any) -> list[Any]:
    from helpdesk.extensions import db
    from helpdesk.notifications.models import InboxItem

    db.session.rollback()
    return list(db.session.scalars(select(InboxItem).where(InboxItem.user_id == user.id).order_by(InboxItem.id)))


def test_a_new_bug_goes_to_the_least_loaded_agent_on_duty_and_the_history_says_why(
        app, web, world, login, make_ticket, clock):
    from tickets import services

    clock.on(WEDNESDAY)
    _rule("bug team", [world.agent, world.agent2])
    busy = make_ticket(world.acme_user, "Earlier question", category="question")
    services.assign(services.Actor(world.manager), busy, world.agent.id)  # agent: 1 open ticket

    ticket = make_ticket(world.acme_user, "Labels print blank", category="bug")
    assert _fresh(ticket).assignee_id == world.agent2.id
    assert _assigned_events(ticket) == [{"from": None, "to": world.agent2.id,
                                         "auto": {"rule": "bug team", "strategy": "least_loaded", "available": 2}}]
    [item] = [i for i in _inbox(world.agent2) if i.ticket_id == ticket.id]
    assert item.event == "ticket.assigned" and item.values["assigned_by"] == ""

    login(world.agent2)
    assert f"Auto-assignment assigned {ticket.number} to you" in text_of(web.get("/agent/notifications/"))
    login(world.agent)
    page = text_of(web.get(f"/agent/tickets/{ticket.id}"))
    assert "auto-assigned: least loaded among on-duty bug team" in page
    # A question matches no rule: nobody, and the "Unassigned" filter of the queue shows it.
    question = make_ticket(world.acme_user, "How do I export?", category="question")
    assert _fresh(question).assignee_id is None
    page = text_of(web.get("/agent/queue?assignee=none&sort=newest"))
    assert f"/agent/tickets/{question.id}" in page and f"/agent/tickets/{ticket.id}\"" not in page


def test_round_robin_takes_turns_and_skips_agents_away_or_off_duty(app, world, make_ticket, clock):
    from helpdesk.calendars.models import builtin_calendars
    from tickets.autoassign import set_away, set_calendar

    clock.on(WEDNESDAY)
    _rule("everyone", [world.agent, world.agent2, world.manager], strategy="round_robin", category=None)
    first, second = sorted([world.agent, world.agent2, world.manager], key=lambda u: u.id)[:2]
    got = [_fresh(make_ticket(world.acme_user, f"T{i}")).assignee_id for i in range(6)]
    ids = sorted(u.id for u in (world.agent, world.agent2, world.manager))
    assert got == ids + ids

    set_away(world.manager, True)
    got = [_fresh(make_ticket(world.acme_user, f"U{i}")).assignee_id for i in range(4)]
    assert world.manager.id not in got and sorted(got) == sorted([first.id, second.id] * 2)

    # At night in Warsaw only an agent on the 24/7 calendar is on duty.
    set_away(world.manager, False)
    set_calendar(world.agent2, builtin_calendars()["24/7"].id)
    clock.on(WEDNESDAY, hour=23)
    got = {_fresh(make_ticket(world.acme_user, f"N{i}")).assignee_id for i in range(3)}
    assert got == {world.agent2.id}
    set_away(world.agent2, True)
    assert _fresh(make_ticket(world.acme_user, "Nobody awake")).assignee_id is None


def test_rules_apply_in_order_by_category_and_priority_and_a_disabled_rule_does_nothing(
        app, world, make_ticket, clock):
    clock.on(WEDNESDAY)
    _rule("urgent bugs", [world.manager], category="bug", priority="urgent", position=1)
    _rule("bugs", [world.agent], category="bug", position=2)
    _rule("questions (off)", [world.agent2], category="question", enabled=False)
    assert _fresh(make_ticket(world.acme_user, "Down", category="bug", priority="urgent")).assignee_id == world.manager.id
    assert _fresh(make_ticket(world.acme_user, "Slow", category="bug", priority="low")).assignee_id == world.agent.id
    assert _fresh(make_ticket(world.acme_user, "How?", category="question")).assignee_id is None


def test_an_onboarding_clients_ticket_still_goes_to_its_guardian(app, world, make_ticket, clock):
    from tests.onboarding.support import start

    clock.on(WEDNESDAY)
    start(world, guardian=world.manager)
    _rule("bugs", [world.agent, world.agent2], category=None)
    ticket = make_ticket(world.acme_user, "During onboarding", category="bug")
    assert _fresh(ticket).assignee_id == world.manager.id
    assert _assigned_events(ticket) == [{"from": None, "to": world.manager.id}]
    assert _fresh(make_ticket(world.globex_user, "Not onboarding", category="bug")).assignee_id in (
        world.agent.id, world.agent2.id)


def test_an_agents_reassignment_is_never_overridden(app, world, make_ticket, clock):
    from tickets import services

    clock.on(WEDNESDAY)
    _rule("bugs", [world.agent], category=None)
    ticket = make_ticket(world.acme_user, "Reassign me", category="question")
    assert _fresh(ticket).assignee_id == world.agent.id
    actor = services.Actor(world.agent)
    services.assign(actor, _fresh(ticket), world.agent2.id)
    services.reclassify(actor, _fresh(ticket), "bug", "it is a bug")
    services.add_message(services.Actor(world.acme_user), _fresh(ticket), body="Any news?")
    services.assign(actor, _fresh(ticket), None)
    services.change_priority(actor, _fresh(ticket), "high")
    assert _fresh(ticket).assignee_id is None
    assert [e.get("auto") is not None for e in _assigned_events(ticket)] == [True, False, False]


def test_concurrent_filings_take_consecutive_turns(app, world, clock, is_postgres):
    """The pointer is read under a row lock: filings at the same moment never take the same turn."""
    from helpdesk.extensions import db
    from tickets.models import Ticket
    from tickets.services import Actor, file_ticket

    clock.on(WEDNESDAY)
    team = [world.agent, world.agent2]
    _rule("pair", team, strategy="round_robin", category=None)
    db.session.commit()
    count = 8
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    requester_id = world.acme_user.id

    def file(i: int) -> None:
        try:
            with app.app_context():
                from helpdesk.accounts import User

                user = db.session.get(User, requester_id)
                barrier.wait(timeout=30)
                file_ticket(Actor(user), subject=f"Race {i}", description="d", category="bug", priority="normal")
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=file, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    db.session.rollback()
    got = [a for (a,) in db.session.execute(select(Ticket.assignee_id).order_by(Ticket.id))]
    # Each filing took the turn after the one committed before it (without the lock, two
    # filings read the same pointer and the same agent got both).
    assert sorted(got) == sorted([world.agent.id, world.agent2.id] * (count // 2)), got


# -- the admins' and agents' pages ---------------------------------------------------------------


def test_admins_manage_rules_through_the_form_and_bad_input_is_refused_with_what_was_typed(app, web, world, login):
    from tickets.autoassign import AssignmentRule, all_rules, members_of

    login(world.agent)
    assert web.get("/admin/assignment/").status_code == 403
    login(world.admin)
    page = text_of(web.get("/admin/assignment/new"))
    assert "Least loaded" in page and world.agent.display_name in page
    bad = web.post("/admin/assignment/new", data={
        "name": "Bug team", "category": "nonsense", "strategy": "least_loaded", "position": "x",
        "members": [str(world.agent.id)], "enabled": "y"})
    assert bad.status_code == 422
    assert 'value="Bug team"' in text_of(bad)
    forged = web.post("/admin/assignment/new", data={
        "name": "Bug team", "category": "bug", "strategy": "least_loaded", "position": "1",
        "members": [str(world.acme_user.id)], "enabled": "y"})
    assert forged.status_code == 422  # a client is no agent
    done = web.post("/admin/assignment/new", data={
        "name": "Bug team", "category": "bug", "priority": "", "strategy": "round_robin", "position": "3",
        "members": [str(world.agent.id), str(world.agent2.id)], "enabled": "y"})
    assert done.status_code == 302
    [rule] = all_rules()
    assert (rule.name, rule.category, rule.priority, rule.strategy, rule.position, rule.enabled) == (
        "Bug team", "bug", None, "round_robin", 3, True)
    assert sorted(members_of([rule.id])[rule.id]) == sorted([world.agent.id, world.agent2.id])
    assert "Bug team" in text_of(web.get("/admin/assignment/"))
    twin = web.post("/admin/assignment/new", data={"name": "bug TEAM", "strategy": "round_robin", "position": "0"})
    assert twin.status_code == 422 and "Another rule has this name." in text_of(twin)

    edited = web.post(f"/admin/assignment/{rule.id}", data={
        "name": "Bug team", "category": "", "strategy": "least_loaded", "position": "3",
        "members": [str(world.agent2.id)]})
    assert edited.status_code == 302
    rule = all_rules()[0]
    assert (rule.category, rule.strategy, rule.enabled) == (None, "least_loaded", False)
    assert members_of([rule.id])[rule.id] == [world.agent2.id]
    assert web.get("/admin/assignment/99999").status_code == 404
    assert web.post(f"/admin/assignment/{rule.id}/delete").status_code == 302
    assert all_rules() == [] and AssignmentRule.query.count() == 0


def test_the_away_switch_in_the_header_and_the_calendar_on_the_duty_page(app, web, world, login):
    from helpdesk.calendars.models import builtin_calendars
    from tickets.autoassign import duty_of

    login(world.agent)
    page = text_of(web.get("/agent/queue"))
    assert "On duty" in page
    response = web.post("/agent/duty/away", data={"away": "1", "next": "/agent/queue"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/agent/queue")
    assert duty_of(world.agent.id).away is True
    assert ">Away<" in text_of(web.get("/agent/queue"))
    assert web.post("/agent/duty/away", data={"away": "0", "next": "https://evil.example/"}).headers[
        "Location"].endswith("/agent/duty/")
    assert duty_of(world.agent.id).away is False

    always = builtin_calendars()["24/7"]
    bad = web.post("/agent/duty/", data={"calendar": "424242", "away": "y"})
    assert bad.status_code == 422
    assert web.post("/agent/duty/", data={"calendar": str(always.id), "away": "y"}).status_code == 302
    row = duty_of(world.agent.id)
    assert (row.calendar_id, row.away) == (always.id, True)

    login(world.acme_user)
    assert web.post("/agent/duty/away", data={"away": "1"}).status_code == 403
    assert "On duty" not in text_of(web.get("/portal/tickets"))


# -- rules by saved view -------------------------------------------------------------------------


def _view(owner: Any, name: str, args: dict[str, str], shared: bool = True) -> Any:
    from tickets.saved_views import save_view

    return save_view(owner, name=name, args=args, shared=shared)


def _view_rule(name: str, members: list[Any], view: Any, position: int = 0, **kwargs: Any) -> Any:
    from tickets.autoassign import RuleInput, save_rule

    return save_rule(None, RuleInput(name=name, category=kwargs.get("category"), priority=kwargs.get("priority"),
                                     strategy=kwargs.get("strategy", "round_robin"), enabled=True,
                                     position=position, members=[str(m.id) for m in members],
                                     view=str(view.id)))


def test_a_ticket_the_view_shows_goes_to_the_views_team_and_one_it_does_not_show_does_not(
        app, world, make_ticket, clock):
    """The view's own filters (client, priority, words) decide, in its place among the rules."""
    clock.on(WEDNESDAY)
    globex_urgent = _view(world.manager, "Globex urgent", {"client": "globex", "priority": "urgent"})
    _view_rule("Globex desk", [world.agent2], globex_urgent, position=1)
    _rule("everything else", [world.agent], category=None, position=2)

    matching = make_ticket(world.globex_user, "Warehouse down", category="question", priority="urgent")
    assert _fresh(matching).assignee_id == world.agent2.id
    assert _assigned_events(matching)[0]["auto"]["rule"] == "Globex desk"
    other_client = make_ticket(world.acme_user, "Acme down", category="question", priority="urgent")
    assert _fresh(other_client).assignee_id == world.agent.id  # not in the view: the next rule
    not_urgent = make_ticket(world.globex_user, "Slow report", category="question", priority="low")
    assert _fresh(not_urgent).assignee_id == world.agent.id

    # Full-text words of the view count too; and all the views that can decide are asked in one
    # statement (not per rule, not per agent).
    from sqlalchemy import event

    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.autoassign import views_matching

    printers = _view(world.agent, "Printers", {"q": "printer"})
    labels = _view(world.agent, "Labels", {"q": "labels"})
    ticket = _fresh(make_ticket(world.acme_user, "The printer jams", category="question"))
    ids = [printers.id, labels.id, globex_urgent.id]
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        found = views_matching(ticket, ids, utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert found == {printers.id}
    assert len(seen) == 2, "\n".join(" ".join(s.split())[:150] for s in seen)  # the views with their owners, then one EXISTS column per view



def test_a_rule_name_with_a_non_ascii_capital_is_refused_the_second_time(app, web, world, login):
    # SQLite's lower() folds only ASCII: the check must still see the exact name the unique
    # constraint refuses, or the second rule is a 500 instead of a message.
    from tickets.autoassign import all_rules

    login(world.admin)
    rule = {"name": "Ósemka", "strategy": "round_robin", "position": "0", "members": [str(world.agent.id)]}
    assert web.post("/admin/assignment/new", data=rule).status_code == 302
    twin = web.post("/admin/assignment/new", data=rule)
    assert twin.status_code == 422 and "Another rule has this name." in text_of(twin)
    assert [r.name for r in all_rules()] == ["Ósemka"]

def test_rules_by_view_keep_guardian_first_and_never_override_a_manual_assignment(
        app, world, make_ticket, clock):
    from tests.onboarding.support import start
    from tickets import services

    clock.on(WEDNESDAY)
    everything = _view(world.manager, "Everything new", {"status": "new"})
    _view_rule("All new", [world.agent], everything)
    start(world, guardian=world.manager)
    onboarding = make_ticket(world.acme_user, "During onboarding", category="bug")
    assert _fresh(onboarding).assignee_id == world.manager.id  # the guardian, not the view's team
    ticket = make_ticket(world.globex_user, "Routed by view", category="question")
    assert _fresh(ticket).assignee_id == world.agent.id
    actor = services.Actor(world.agent)
    services.assign(actor, _fresh(ticket), world.agent2.id)
    services.change_priority(actor, _fresh(ticket), "urgent")
    services.change_status(actor, _fresh(ticket), "open")
    assert _fresh(ticket).assignee_id == world.agent2.id
    assert [e.get("auto") is not None for e in _assigned_events(ticket)] == [True, False]


def test_a_personal_view_cannot_route_and_a_routing_view_cannot_be_deleted_or_made_personal(
        app, web, world, login):
    import pytest

    from helpdesk.errors import Invalid
    from tickets.access import TicketError
    from tickets.saved_views import delete_view, rename_view

    mine = _view(world.agent, "My bugs", {"category": "bug"}, shared=False)
    with pytest.raises(Invalid) as refused:
        _view_rule("Personal", [world.agent], mine)
    assert "This view is personal" in refused.value.fields["view"]
    shared = _view(world.agent, "Team bugs", {"category": "bug"})
    rule = _view_rule("Team bugs rule", [world.agent2], shared)
    shared_id = shared.id
    with pytest.raises(TicketError) as kept:
        delete_view(world.agent, shared_id)
    assert "Team bugs rule" in kept.value.message and "cannot be deleted" in kept.value.message
    with pytest.raises(TicketError) as still_shared:
        rename_view(world.agent, shared_id, name="Team bugs", shared=False)
    assert "stays shared" in still_shared.value.message

    # Through the queue's form: a 4xx with the message; the view is still there.
    login(world.agent)
    response = web.post(f"/agent/views/{shared_id}/delete")
    assert response.status_code == 422
    assert "New tickets are assigned by this view (rule: Team bugs rule)" in text_of(response)
    from helpdesk.extensions import db
    from tickets.models import SavedView

    assert db.session.get(SavedView, shared_id, populate_existing=True) is not None
    # Once the rule no longer uses it, the owner may delete it.
    from tickets.autoassign import RuleInput, save_rule

    save_rule(rule, RuleInput(name=rule.name, category="bug", priority=None, strategy="round_robin",
                              enabled=True, position=0, members=[str(world.agent2.id)], view=""))
    assert web.post(f"/agent/views/{shared_id}/delete").status_code == 302
    assert db.session.get(SavedView, shared_id, populate_existing=True) is None


def test_admins_choose_a_shared_view_on_the_rule_form(app, web, world, login):
    from tickets.autoassign import all_rules

    shared = _view(world.manager, "Globex urgent", {"client": "globex", "priority": "urgent"})
    personal = _view(world.agent, "Only mine", {"category": "bug"}, shared=False)
    login(world.admin)
    page = text_of(web.get("/admin/assignment/new"))
    assert "Saved view" in page and "Globex urgent" in page and "Only mine" not in page
    forged = web.post("/admin/assignment/new", data={
        "name": "Mine", "view": str(personal.id), "strategy": "round_robin", "position": "0",
        "members": [str(world.agent.id)], "enabled": "y"})
    assert forged.status_code == 422
    assert "This view is personal: only a view shared with all staff can route tickets." in text_of(forged)
    gone = web.post("/admin/assignment/new", data={
        "name": "Gone", "view": "99999", "strategy": "round_robin", "position": "0", "enabled": "y"})
    assert gone.status_code == 422 and "Choose a view from the list." in text_of(gone)
    done = web.post("/admin/assignment/new", data={
        "name": "Globex desk", "view": str(shared.id), "strategy": "least_loaded", "position": "1",
        "members": [str(world.agent2.id)], "enabled": "y"})
    assert done.status_code == 302
    [rule] = all_rules()
    assert (rule.name, rule.saved_view_id, rule.category, rule.priority) == ("Globex desk", shared.id, None, None)
    assert "View: Globex urgent" in text_of(web.get("/admin/assignment/"))
    assert f'<option selected value="{shared.id}">' in text_of(web.get(f"/admin/assignment/{rule.id}")) or \
        f'value="{shared.id}" selected' in text_of(web.get(f"/admin/assignment/{rule.id}"))
