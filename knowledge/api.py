"""The knowledge base in the API: published articles the caller may read, searched like the help page."""

from __future__ import annotations

from typing import Any

from marshmallow import fields as ma

from helpdesk.api import ApiBlueprint, ApiCall, Query, Shape, register_api
from helpdesk.api import fields as f
from knowledge import services
from knowledge.vocabulary import LANGUAGES, Audience, Topic

bp = ApiBlueprint("articles_api", __name__, tag="articles", tag_description="Help articles (the knowledge base).")


class ArticleFilters(Query):
    q = f.text(max_length=200, metadata={"description": (
        "Full-text search: articles containing every word of the title or text, whole words compared "
        "without diacritics (the tickets' search). Without it, every article in topic order.")})
    language = f.choice(LANGUAGES, metadata={"description": "Only articles in this language."})
    topic = f.choice(Topic.values())


class ArticleShape(Shape):
    component = "Article"
    id = f.Integer()
    title = f.Text()
    body = f.Text(metadata={"description": "Markdown."})
    topic = f.choice(Topic.values())
    language = f.choice(LANGUAGES)
    audience = f.choice(Audience.values(), metadata={"description": "public: everyone; clients: logged-in users."})
    updated_at = f.Instant()


class ArticleList(Shape):
    component = "ArticleList"
    items = ma.List(ma.Nested(ArticleShape))


@bp.endpoint(
    "GET",
    "/articles",
    summary="Search help articles",
    description="Published articles the token's user may read, best match first (at most 50).",
    query=ArticleFilters,
    response=(200, ArticleList),
)
def list_articles(call: ApiCall) -> Any:
    query = call.query
    found = services.search(call.user, str(query.get("q") or ""), language=query.get("language"),
                            topic=query.get("topic"))
    return {"items": found}


def init_app(app: Any) -> None:
    register_api(app, bp)
