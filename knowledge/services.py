"""The knowledge base's database side: saving articles with their history, finding them, and
counting the new-ticket form's visits that ended on an article instead of a ticket.

Who reads what: a visitor reads published articles for everyone; a logged-in user also those for
clients; staff edit everything, drafts included. Search is the tickets' search (helpdesk.fulltext
words, every word must be in the article, no diacritics needed): a GIN index over the folded text
on PostgreSQL, the FTS5 table `article_fts` on SQLite, both written with the article.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, literal_column, select, text, update

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.fulltext import words
from helpdesk.i18n import _
from helpdesk.text import check_text
from knowledge.models import Article, ArticleRevision, FormVisit
from knowledge.vocabulary import LANGUAGES, ArticleState, Audience, Topic

TITLE_LIMIT = 200
BODY_LIMIT = 50_000
SUGGESTIONS = 5
SUGGEST_MIN_LETTERS = 4  # "nie", "się", "the", "and": too common to suggest by
FTS_TABLE = "article_fts"  # SQLite only: the database's own table, not a model
SEARCH_INDEX = "ix_articles_search"  # PostgreSQL only: GIN over to_tsvector('simple', search_text)
MAX_ID = 2**31 - 1


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


# -- reading ------------------------------------------------------------------------------------


def readable(viewer: Any) -> Any:
    """The published articles `viewer` may read (None or anonymous: those for everyone)."""
    query = select(Article).where(Article.state == ArticleState.PUBLISHED.value)
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        query = query.where(Article.audience == Audience.PUBLIC.value)
    return query


def get_article(viewer: Any, article_id: int, *, for_staff: bool = False) -> Article:
    """An article `viewer` may read (drafts too for staff editing); 404 otherwise, never a hint."""
    if not 0 < article_id <= MAX_ID:
        raise NotFound(_not_found())
    if for_staff:
        if not getattr(viewer, "is_staff", False):
            raise Forbidden(_("Only support staff edit help articles."))
        article = db.session.get(Article, article_id)
    else:
        article = db.session.scalar(readable(viewer).where(Article.id == article_id))
    if article is None:
        raise NotFound(_not_found())
    return article


def _not_found() -> str:
    return _("There is no such help article.")


def matching(query: Any, q: str, *, any_word: bool = False) -> tuple[Any, bool]:
    """`query` narrowed to the articles containing every word of `q` (with `any_word`, any of its
    words of four letters or more), best first; (query, searched)."""
    found = _match_text(q, any_word)
    if found is None:
        return query.order_by(Article.topic, Article.title, Article.id), False
    # The words are bound, not written into the SQL: one statement for every subject (`search`
    # keeps it), run with the words of each (parameter "article_words").
    if _postgres():
        document = func.to_tsvector(literal_column("'simple'::regconfig"), Article.search_text)
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("article_words", found))
        return (query.where(document.op("@@")(tsquery))
                .order_by(func.ts_rank(document, tsquery).desc(), Article.views.desc(), Article.id)), True
    ranked = select(literal_column("rowid").label("id"), literal_column("rank").label("rank")).select_from(
        text(FTS_TABLE)).where(literal_column(FTS_TABLE).op("MATCH")(bindparam("article_words", found))).subquery()
    return (query.join(ranked, ranked.c.id == Article.id)
            .order_by(ranked.c.rank, Article.views.desc(), Article.id)), True


def _match_text(q: str, any_word: bool) -> str | None:
    """The words of `q` as the database's full-text query (None: no word to look for)."""
    terms = words(q)
    if any_word:
        terms = tuple(t for t in terms if len(t) >= SUGGEST_MIN_LETTERS)
    if not terms:
        return None
    if _postgres():
        return (" | " if any_word else " & ").join(f"'{t}'" for t in terms)
    return (" OR " if any_word else " AND ").join(f'"{t}"' for t in terms)


def search(viewer: Any, q: str, *, language: str | None, topic: str | None = None, limit: int = 50,
           any_word: bool = False) -> list[Article]:
    """Published articles `viewer` may read that contain every word of `q` (all when `q` has none)."""
    found = _match_text(q, any_word)
    if any_word and found is None:
        return []
    language = language if language in LANGUAGES else None
    topic = topic if topic in Topic.values() else None
    public_only = viewer is None or not getattr(viewer, "is_authenticated", False)
    # The statement depends on these, not on the words (bound): built once (the ticket page asks
    # on every view; building it cost as much as running it).
    key = (db.engine.dialect.name, public_only, language, topic, found is not None, any_word, limit)
    statement = _SEARCHES.get(key)
    if statement is None:
        query = readable(viewer)
        if language is not None:
            query = query.where(Article.language == language)
        if topic is not None:
            query = query.where(Article.topic == topic)
        statement = _SEARCHES[key] = matching(query, q, any_word=any_word)[0].limit(limit)
    return list(db.session.scalars(statement, {"article_words": found} if found is not None else {}))


_SEARCHES: dict[tuple[Any, ...], Any] = {}


def suggestions(viewer: Any, subject: str, *, language: str | None) -> list[Article]:
    """What the new-ticket form (and the agent beside a ticket) is offered for a subject: the few
    articles sharing most of its words of four letters or more, best first; none for no such word."""
    return search(viewer, subject, language=language, limit=SUGGESTIONS, any_word=True)


def staff_list(user: User, q: str = "") -> list[Article]:
    if not user.is_staff:
        raise Forbidden(_("Only support staff edit help articles."))
    query, _searched = matching(select(Article), q)
    return list(db.session.scalars(query.limit(500)))


def revisions(article: Article) -> list[ArticleRevision]:
    return list(db.session.scalars(
        select(ArticleRevision).where(ArticleRevision.article_id == article.id)
        .order_by(ArticleRevision.id.desc()).options(_with_author(ArticleRevision))
    ))


def _with_author(model: Any) -> Any:
    from sqlalchemy.orm import joinedload

    return joinedload(model.author)


class ArticleViews:
    """Reads of articles counted in this process's memory and added to `articles.views` in batches.

    A read used to cost a commit (a write transaction, on SQLite the database's one write lock)
    on the reader's request. Now it adds one to a dict; when `batch` reads are kept, or the
    oldest kept one is `seconds` old, that read's request writes them all: one
    ``UPDATE articles SET views = views + :n`` per article (nothing loaded) in one transaction of
    its own connection, so the request's session is never committed by it. Increments from several
    processes add up. Kept reads are written at the process's exit (atexit); a process that dies
    loses at most one batch. The counts a page shows may lag by that much.
    """

    def __init__(self, batch: int, seconds: float) -> None:
        self.batch = max(1, batch)
        self.seconds = seconds
        self.engine: Any = None
        self._kept: dict[int, int] = {}
        self._since: float | None = None
        self._lock = threading.Lock()
        _ALL_VIEWS.add(self)

    def count(self, article_id: int, engine: Any) -> None:
        with self._lock:
            self.engine = engine
            self._kept[article_id] = self._kept.get(article_id, 0) + 1
            if self._since is None:
                self._since = time.monotonic()
            due = sum(self._kept.values()) >= self.batch or time.monotonic() - self._since >= self.seconds
        if due:
            try:
                self.flush()
            except Exception as error:  # a read never fails for its count: kept for the next batch
                logging.getLogger(__name__).warning("article reads not written yet: %s", error)

    def kept(self) -> dict[int, int]:
        with self._lock:
            return dict(self._kept)

    def flush(self) -> None:
        """Write the kept reads (ordered by id: two processes lock the rows in the same order)."""
        with self._lock:
            kept, self._kept, self._since = self._kept, {}, None
        if not kept:
            return
        statement = (update(Article).where(Article.id == bindparam("article_id"))
                     .values(views=Article.views + bindparam("reads")))
        try:
            with self.engine.begin() as connection:
                connection.execute(statement,
                                   [{"article_id": i, "reads": n} for i, n in sorted(kept.items())])
        except Exception:
            with self._lock:  # written at the next flush
                for article_id, reads in kept.items():
                    self._kept[article_id] = self._kept.get(article_id, 0) + reads
                self._since = self._since or time.monotonic()
            raise


_ALL_VIEWS: weakref.WeakSet[ArticleViews] = weakref.WeakSet()


@atexit.register
def _flush_all_views() -> None:
    for views in list(_ALL_VIEWS):
        try:
            views.flush()
        except Exception as error:  # the database may be gone already; nothing to retry with
            logging.getLogger(__name__).warning("article reads not written at exit: %s", error)


def article_views(app: Any = None) -> ArticleViews:
    """The app's read counter (one per app, in app.extensions)."""
    app = app or current_app._get_current_object()
    views = app.extensions.get("knowledge.article_views")
    if views is None:
        views = app.extensions["knowledge.article_views"] = ArticleViews(
            app.config["ARTICLE_VIEWS_BATCH"], app.config["ARTICLE_VIEWS_SECONDS"])
    return views


def count_view(article: Article) -> None:
    """One read of the article, written with the batch it falls in (ArticleViews)."""
    article_views().count(article.id, db.engine)


# -- writing ------------------------------------------------------------------------------------


def _values(values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, str] = {}
    title = check_text(fields, "title", values.get("title"), limit=TITLE_LIMIT, required=True, one_line=True)
    body = check_text(fields, "body", values.get("body"), limit=BODY_LIMIT, required=True)
    topic = values.get("topic") or ""
    if topic not in Topic.values():
        fields["topic"] = _("Choose a topic.")
    language = values.get("language") or ""
    if language not in LANGUAGES:
        fields["language"] = _("Choose Polish or English.")
    audience = values.get("audience") or ""
    if audience not in Audience.values():
        fields["audience"] = _("Choose who may read it.")
    state = values.get("state") or ArticleState.DRAFT.value
    if state not in ArticleState.values():
        fields["state"] = _("Choose draft or published.")
    if fields:
        raise Invalid(_("Please correct the marked fields."), fields)
    return {"title": title, "body": body, "topic": topic, "language": language, "audience": audience, "state": state}


def save_article(user: User, values: dict[str, Any], *, article_id: int | None = None, note: str = "",
                 now: datetime | None = None) -> Article:
    """Create or change an article (staff only); every save is a revision; commits."""
    if not user.is_staff:
        raise Forbidden(_("Only support staff edit help articles."))
    clean = _values(values)
    fields: dict[str, str] = {}
    note = check_text(fields, "note", note, limit=200, one_line=True)
    if fields:
        raise Invalid(_("Please correct the marked fields."), fields)
    now = now or utcnow()
    if article_id is None:
        article = Article(author_id=user.id, created_at=now, **clean)
        db.session.add(article)
    else:
        article = get_article(user, article_id, for_staff=True)
        for name, value in clean.items():
            setattr(article, name, value)
    article.updated_at = now
    if article.state == ArticleState.PUBLISHED.value and article.published_at is None:
        article.published_at = now
    article.search_text = " ".join(words(f"{article.title} {article.body}", limit=100_000))
    db.session.flush()
    db.session.add(ArticleRevision(article_id=article.id, title=article.title, body=article.body,
                                   state=article.state, note=note, author_id=user.id, created_at=now))
    if not _postgres():
        db.session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": article.id})
        db.session.execute(text(f"INSERT INTO {FTS_TABLE} (rowid, body) VALUES (:id, :body)"),
                           {"id": article.id, "body": article.search_text})
    db.session.commit()
    return article


# -- deflection: form visits that ended on an article ---------------------------------------------


def start_visit(user: User, now: datetime | None = None) -> str:
    """Record an opening of the new-ticket form; the token travels with the form and the links."""
    token = secrets.token_hex(16)
    db.session.add(FormVisit(token=token, user_id=user.id, started_at=now or utcnow()))
    db.session.commit()
    return token


def _visit(user: Any, token: str | None) -> FormVisit | None:
    if not token or len(token) != 32 or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(select(FormVisit).where(FormVisit.token == token, FormVisit.user_id == user.id))


def visit_read(user: Any, token: str | None, article: Article, now: datetime | None = None) -> None:
    """The visit's client opened an article from the form (the first one is kept)."""
    visit = _visit(user, token)
    if visit is not None and visit.read_at is None:
        visit.read_at, visit.article_id = now or utcnow(), article.id
        db.session.commit()


def visit_filed(user: Any, token: str | None, now: datetime | None = None) -> None:
    """The visit ended in a filed ticket (called in the filing's own transaction, before its commit)."""
    visit = _visit(user, token)
    if visit is not None and visit.filed_at is None:
        visit.filed_at = now or utcnow()


@dataclass(frozen=True)
class Deflection:
    visits: int
    read: int
    filed: int
    deflected: int  # read an article and filed nothing

    @property
    def share(self) -> float | None:
        return self.deflected / self.visits if self.visits else None


def deflection(since: datetime, until: datetime) -> Deflection:
    """The form's visits started in [since, until): one GROUP-free aggregate over an index range."""
    row = db.session.execute(
        select(
            func.count(FormVisit.id),
            func.count(FormVisit.read_at),
            func.count(FormVisit.filed_at),
            func.count(FormVisit.id).filter(FormVisit.read_at.is_not(None), FormVisit.filed_at.is_(None)),
        ).where(FormVisit.started_at >= since, FormVisit.started_at < until)
    ).one()
    return Deflection(*(int(n) for n in row))


def top_articles(since: datetime, until: datetime, limit: int = 10) -> list[tuple[Article, int]]:
    """The articles that ended the most visits without a ticket, in the period."""
    rows = db.session.execute(
        select(Article, func.count(FormVisit.id).label("n"))
        .join(FormVisit, FormVisit.article_id == Article.id)
        .where(FormVisit.started_at >= since, FormVisit.started_at < until, FormVisit.filed_at.is_(None))
        .group_by(Article.id).order_by(literal_column("n").desc(), Article.id).limit(limit)
    ).all()
    return [(article, n) for article, n in rows]


def month_bounds(now: datetime, months_back: int = 0) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _i in range(months_back):
        start = (start - timedelta(days=1)).replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end
