"""The knowledge base: articles with history, who reads what, search without diacritics,
suggestions on the new-ticket form, deflection, a reply turned into an article, the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from knowledge import services
from knowledge.models import Article, ArticleRevision, FormVisit


def article(world, title, body, *, language="pl", audience="clients", state="published", topic="couriers"):
    return services.save_article(world.agent, {"title": title, "body": body, "topic": topic, "language": language,
                                               "audience": audience, "state": state})


@pytest.fixture
def articles(app, world):
    with app.test_request_context():
        return {
            "labels": article(world, "Etykiety kuriera nie drukują się", "Sprawdź **drukarkę** i sterownik żółwia."),
            "invoice": article(world, "Korekta faktury", "Jak wystawić korektę faktury do Allegro.",
                               topic="invoicing", audience="public"),
            "draft": article(world, "Szkic o kurierach", "Kurier kurier kurier", state="draft"),
            "english": article(world, "Courier labels do not print", "Check the printer driver.", language="en"),
        }


def test_every_save_is_a_revision_and_only_staff_write(app, world, articles):
    with app.test_request_context():
        services.save_article(world.agent, {"title": "Etykiety kuriera", "body": "Nowa treść", "topic": "couriers",
                                            "language": "pl", "audience": "clients", "state": "published"},
                              article_id=articles["labels"].id, note="krócej")
        with pytest.raises(services.Forbidden):
            services.save_article(world.acme_user, {"title": "x", "body": "y", "topic": "other", "language": "pl",
                                                    "audience": "public", "state": "published"})
    revisions = db.session.scalars(
        ArticleRevision.__table__.select().where(ArticleRevision.article_id == articles["labels"].id)).all()
    assert len(revisions) == 2
    assert db.session.get(Article, articles["labels"].id).body == "Nowa treść"


@pytest.mark.parametrize("typed", ["zolwia", "żółwia", "ZÓŁWIA", "drukarke"])
def test_search_finds_words_without_diacritics_both_ways(web, world, login, articles, typed):
    login(world.acme_user)
    page = web.get("/help/", query_string={"q": typed}, headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert "Etykiety kuriera nie drukują się" in page


def test_visitors_read_public_articles_clients_also_theirs_nobody_reads_drafts(web, world, login, articles):
    anonymous = web.get("/help/", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert "Korekta faktury" in anonymous and "Etykiety kuriera" not in anonymous and "Szkic" not in anonymous
    assert web.get(f"/help/articles/{articles['labels'].id}").status_code == 404
    assert web.get(f"/help/articles/{articles['invoice'].id}").status_code == 200
    login(world.globex_user)  # any company's client
    assert web.get(f"/help/articles/{articles['labels'].id}").status_code == 200
    assert web.get(f"/help/articles/{articles['draft'].id}").status_code == 404
    assert web.get("/help/articles/99999999999").status_code == 404


def test_the_reader_sees_articles_in_their_language(web, world, login, articles):
    login(world.acme_user)
    english = web.get("/help/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Courier labels do not print" in english and "Etykiety kuriera" not in english


def test_the_form_suggests_articles_for_the_subject_and_counts_a_deflection(app, web, world, login, articles):
    login(world.acme_user)
    form = web.get("/portal/tickets/new", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    visit = re.search(r'name="visit" value="([0-9a-f]{32})"', form).group(1)
    assert "<title>Nowe zgłoszenie · Opiekun</title>" in form  # the suggestions' script is in the page, not its title
    found = web.get("/help/suggest", query_string={"q": "Kurier nie drukuje etykiety", "visit": visit},
                    headers={"Accept-Language": "pl"}).get_json()
    assert [item["title"] for item in found] == ["Etykiety kuriera nie drukują się"]
    assert web.get(found[0]["url"]).status_code == 200  # read from the form, then left
    web.get("/portal/tickets/new", headers={"Accept-Language": "pl"})  # a second visit that files
    second = db.session.scalars(select(FormVisit).order_by(FormVisit.id.desc())).first()
    response = web.post("/portal/tickets/new", data={"subject": "Inny problem", "description": "Opis", "category": "bug",
                                                       "priority": "normal", "visit": second.token})
    assert response.status_code == 302
    login(world.manager)
    page = web.get("/manager/deflection/").get_data(as_text=True)
    row = re.search(r"<tbody><tr><td>[^<]*</td>((?:<td[^>]*>[^<]*</td>){5})", page).group(1)
    assert re.findall(r">([^<]*)<", row)[::2][:4] == ["2", "1", "1", "1"]


def test_a_staff_reply_becomes_the_draft_of_an_article(app, web, world, login, make_ticket):
    from tickets.services import Actor, add_message

    ticket = make_ticket(world.acme_user, "Drukarka etykiet")
    with app.test_request_context():
        reply = add_message(Actor(world.agent), ticket, body="Zainstaluj sterownik w wersji 2.")
    login(world.agent)
    page = web.get(f"/agent/tickets/{ticket.id}/messages/{reply.id}/article").get_data(as_text=True)
    assert "Zainstaluj sterownik w wersji 2." in page and 'value="Drukarka etykiet"' in page
    login(world.acme_user)
    assert web.get(f"/agent/tickets/{ticket.id}/messages/{reply.id}/article").status_code == 403


def test_bad_article_input_is_refused_by_the_field_and_kept(web, world, login):
    login(world.agent)
    response = web.post("/agent/articles/new", data={"title": "Line\nbreak", "body": "", "topic": "weather",
                                                    "language": "pl", "audience": "clients", "state": "draft"})
    assert response.status_code == 422
    assert "Choose one of:" in response.get_data(as_text=True)
    response = web.post("/agent/articles/new", data={"title": "Line\nbreak", "body": " ", "topic": "couriers",
                                                    "language": "pl", "audience": "clients", "state": "draft"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "This field is required." in page and "without line breaks" in page
    assert 'value="couriers" selected' in page or 'selected value="couriers"' in page  # what was chosen is kept
    assert db.session.query(Article).count() == 0


def test_the_api_lists_articles_the_token_may_read(app, world, articles, api, make_token):
    token = make_token(world.acme_user)
    found = api.get("/api/v1/articles?q=zolwia", token)
    assert found.status_code == 200
    assert [a["title"] for a in found.get_json()["items"]] == ["Etykiety kuriera nie drukują się"]
    assert [a["title"] for a in api.get("/api/v1/articles?q=kurier", token).get_json()["items"]] == []  # drafts stay hidden
    assert api.get("/api/v1/articles?language=xx", token).status_code == 422


def _views(article_id: int) -> int:
    return db.session.scalar(select(Article.views).where(Article.id == article_id).execution_options(populate_existing=True))


@pytest.fixture
def commits(app):
    """The commits on the app's database since the fixture was taken (engine-wide, every connection)."""
    from sqlalchemy import event

    seen: list[int] = []
    listener = lambda _connection: seen.append(1)  # noqa: E731
    event.listen(db.engine, "commit", listener)
    yield seen
    event.remove(db.engine, "commit", listener)


@pytest.fixture
def batches_of_three(app_config):
    app_config.update(ARTICLE_VIEWS_BATCH=3, ARTICLE_VIEWS_SECONDS=3600)


def test_reads_are_counted_in_batches_without_a_commit_per_read(batches_of_three, app, web, world, login, articles, commits):
    public, labels = articles["invoice"].id, articles["labels"].id
    commits.clear()
    assert web.get(f"/help/articles/{public}").status_code == 200
    assert web.get(f"/help/articles/{public}").status_code == 200
    assert commits == [] and _views(public) == 0  # two reads kept in memory, nothing written
    assert services.article_views().kept() == {public: 2}
    assert web.get("/help/articles/99999999999").status_code == 404  # not a read
    login(world.acme_user)
    commits.clear()
    assert web.get(f"/help/articles/{labels}").status_code == 200  # the third read writes the batch
    assert len(commits) == 1 and (_views(public), _views(labels)) == (2, 1)
    assert services.article_views().kept() == {}
    web.get(f"/help/articles/{labels}")
    assert _views(labels) == 1
    services.article_views().flush()  # what the process's exit does with the rest
    assert (_views(public), _views(labels)) == (2, 2)


def test_reads_counted_by_several_processes_add_up(app, world, articles):
    public = articles["invoice"].id
    one, two = services.ArticleViews(batch=100, seconds=3600), services.ArticleViews(batch=2, seconds=3600)
    for _ in range(5):
        one.count(public, db.engine)
    two.count(public, db.engine)
    two.count(public, db.engine)  # its batch: written
    assert _views(public) == 2
    one.flush()
    assert _views(public) == 7
    late = services.ArticleViews(batch=100, seconds=0)  # the oldest kept read is due at once
    late.count(public, db.engine)
    assert _views(public) == 8 and late.kept() == {}
