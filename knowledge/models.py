"""Help articles, their history, and the visits to the new-ticket form (for deflection)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from knowledge.vocabulary import LANGUAGES, ArticleState, Audience, Topic


class Article(db.Model):
    """One article in one language. `search_text` is the folded title and body (helpdesk.fulltext),
    written by the service with every save; the index over it is the database's own (0015)."""

    __tablename__ = "articles"
    __table_args__ = (
        CheckConstraint(Topic.check("topic"), name="topic_known"),
        CheckConstraint(Audience.check("audience"), name="audience_known"),
        CheckConstraint(ArticleState.check("state"), name="state_known"),
        CheckConstraint(f"language IN ({', '.join(repr(v) for v in LANGUAGES)})", name="language_known"),
        Index("ix_articles_state_language_id", "state", "language", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2))
    audience: Mapped[str] = mapped_column(String(10), default="clients")
    state: Mapped[str] = mapped_column(String(10), default="draft")
    search_text: Mapped[str] = mapped_column(Text, default="")
    views: Mapped[int] = mapped_column(default=0, server_default="0")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User] = relationship(lazy="raise")


class ArticleRevision(db.Model):
    """Every saved version of an article, append-only: who changed what, when."""

    __tablename__ = "article_revisions"
    __table_args__ = (Index("ix_article_revisions_article_id_id", "article_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(200), default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")


class FormVisit(db.Model):
    """One opening of the new-ticket form: whether an article was read from it and whether a
    ticket was filed. A visit that read an article and filed nothing is a deflection."""

    __tablename__ = "form_visits"
    __table_args__ = (Index("ix_form_visits_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
