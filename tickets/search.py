"""Full-text search over tickets: one module for the agent queue, the client portal and the API.

A query matches a ticket when every word of it is in the ticket's document: the number, subject,
description and public replies; for staff also the internal notes (a separate document, so a
client's search never matches a note). Words are compared without diacritics ("zolw" finds
"żółw" and the other way round), whole words only: no prefixes (on PostgreSQL the planner
estimates a whole word from the column's statistics, so a rare word reads the GIN index and a
common one walks the queue's order; a prefix gets a flat guess and, at a million tickets, the
wrong plan) and no stemming (the `simple` configuration: "faktury" does not find "faktura"). A query that is a ticket number ("OP-123", "op123", "#123", "123")
also matches that ticket; the pages jump straight to it when the user may see it.

The documents are kept by database triggers (migration 0016) in the same transaction
as every ticket and message written: tsvector columns with GIN indexes on PostgreSQL (`simple`
configuration over unaccent), the FTS5 table `ticket_fts` on SQLite. Search is a condition on
the queue's query (tickets.queue), so results keep the queue's order and keyset pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, column, false, func, literal_column, or_, select, table

from helpdesk.extensions import db
from helpdesk.fulltext import words
from tickets.access import MAX_ID, visible_tickets
from tickets.models import Ticket

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
PROBE_LIMIT = 1000  # PostgreSQL: words matching at most this many tickets are looked up by id
FTS_TABLE = "ticket_fts"  # SQLite only: a virtual table (and its shadow tables) the models do not declare
POSTGRES_ONLY = frozenset({"search_public", "search_staff", "ix_tickets_search_public", "ix_tickets_search_staff"})

_NUMBER = re.compile(r"\s*(?:op\s*-?\s*|#)?(\d{1,10})\s*", re.IGNORECASE)


@dataclass(frozen=True)
class SearchQuery:
    text: str
    terms: tuple[str, ...]  # folded, lower case
    number: int | None  # the ticket number the query names, if it is one


def parse(text: str) -> SearchQuery | None:
    """The query's words and ticket number; None when it has nothing to search for."""
    text = (text or "").strip()
    number = None
    found = _NUMBER.fullmatch(text)
    if found and 0 < int(found.group(1)) <= MAX_ID:
        number = int(found.group(1))
    if number is not None:  # "OP-123": that ticket, or the word 123 (not 1234)
        return SearchQuery(text=text, terms=(str(number),), number=number)
    terms = words(text, MAX_TERMS)
    if not terms:
        return None
    return SearchQuery(text=text, terms=terms, number=None)


def ticket_number_in(text: str) -> int | None:
    query = parse(text)
    return query.number if query else None


def ticket_to_open(user: Any, args: Mapping[str, str]) -> int | None:
    """The ticket a search names by number ("OP-123"), for the pages to jump to: its id when
    `user` may see it (tickets.access.visible_tickets: a client never lands on another company's
    ticket), else None and the query searches as words. A next page (`cursor`) never jumps."""
    number = ticket_number_in(args.get("q", ""))
    if number is None or args.get("cursor"):
        return None
    return db.session.scalar(visible_tickets(user).where(Ticket.id == number).with_only_columns(Ticket.id))


def _postgres_query(query: SearchQuery) -> str:
    return " & ".join(f"'{t}'" for t in query.terms)


def _fts_query(query: SearchQuery, document: str) -> str:
    return " AND ".join(f'{document} : "{t}"' for t in query.terms)


def matches(query: SearchQuery, *, staff: bool, probe: bool = False) -> ColumnElement[bool]:
    """The condition on tickets: all words in the ticket's document (the staff one with internal
    notes, else the public one), or the ticket the query names by number.

    With `probe` (a page of the queue, PostgreSQL), one bounded query first asks the GIN index
    for at most PROBE_LIMIT matching ids. When the words are that rare, the page's condition is
    those ids (a few primary-key lookups in the queue's order); else it is the match itself, and
    the page walks the queue's index until it has a page, which a common word fills at once.
    The planner cannot choose between the two by itself: it guesses 0.5 % for any word missing
    from the column's statistics, and at a million tickets walked the whole index for a word
    found in one ticket. The ids are only candidates: the page's query still applies the
    company scope and every filter.
    """
    conditions: list[ColumnElement[bool]] = []
    if query.number is not None:
        conditions.append(Ticket.id == query.number)
    if query.terms:
        if db.engine.dialect.name == "postgresql":
            columns = Ticket.__table__.c
            document = columns.search_staff if staff else columns.search_public
            tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), func.search_fold(_postgres_query(query)))
            matched = document.op("@@")(tsquery)
            if probe:
                ids = db.session.scalars(select(Ticket.id).where(matched).limit(PROBE_LIMIT + 1)).all()
                if len(ids) <= PROBE_LIMIT:
                    matched = Ticket.id.in_(ids) if ids else false()
            conditions.append(matched)
        else:
            fts = table(FTS_TABLE, column("rowid"))
            match = literal_column(FTS_TABLE).op("MATCH")(_fts_query(query, "staff" if staff else "public"))
            conditions.append(Ticket.id.in_(select(fts.c.rowid).where(match)))
    return or_(*conditions) if conditions else false()


def included_in_schema(dialect: str) -> Any:
    """For Alembic's comparison of the models with the database (`flask db check`): SQLite's FTS5
    tables (tickets' and help articles') are the database's own, the tsvector columns exist on
    PostgreSQL only, and the help articles' expression index is the database's own too."""
    from knowledge.services import FTS_TABLE as ARTICLE_FTS
    from knowledge.services import SEARCH_INDEX as ARTICLE_INDEX

    def include(_object: Any, name: str | None, kind: str, reflected: bool, _compare_to: Any) -> bool:
        if kind == "table" and name and name.startswith((FTS_TABLE, ARTICLE_FTS)):
            return False
        if kind == "index" and name == ARTICLE_INDEX:
            return False
        return not (dialect != "postgresql" and name in POSTGRES_ONLY)

    return include
