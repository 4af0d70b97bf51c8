"""agent workspace: full-text search documents and saved views

Search (tickets/search.py) reads two documents per ticket: the public one (number, subject,
description, public replies) that clients search, and the staff one (the same plus internal
notes). Database triggers keep both in the same transaction as every ticket or message written,
whoever writes it (services, e-mail intake, `flask demo seed`'s bulk inserts):

- PostgreSQL: tsvector columns tickets.search_public / tickets.search_staff with GIN indexes, in
  the `simple` configuration over `search_fold()` (an IMMUTABLE wrapper of unaccent), so "zolw"
  finds "żółw". A reply or note appends its words to the ticket's documents (one set-based
  UPDATE per INSERT statement on messages); a change of subject or description rebuilds them.
- SQLite: the FTS5 table `ticket_fts` (rowid = ticket id; columns public and staff), tokenizer
  unicode61 with remove_diacritics 2; it folds every Polish letter but ł, which the triggers
  (and tickets.search for the query) replace by l.

Also: saved_views (named filter sets, personal or shared). The "Category to confirm" view reads
tickets.category_to_confirm (0018: the e-mail intake marks guessed categories).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:30:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_PG_FUNCTIONS = (
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    # unaccent() is STABLE (it reads its dictionary); named with its dictionary it never changes.
    """CREATE FUNCTION search_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$""",
    # Punctuation is a space, as for SQLite's tokenizer and the query's words (tickets.search):
    # the parser would keep "OP-123" as 'op' and '-123', e-mail addresses and hosts as one word.
    """CREATE FUNCTION search_document(text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT to_tsvector('simple'::regconfig,
                                regexp_replace(public.search_fold($1), '[[:punct:]]+', ' ', 'g')) $$""",
    # Before a ticket is written: its own text; on a change of subject or description, with its
    # messages again (public ones for the public document).
    """CREATE FUNCTION tickets_search_documents() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        own tsvector := search_document('OP-' || NEW.id || ' ' || NEW.subject || ' ' || NEW.description);
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.search_public := own;
            NEW.search_staff := own;
        ELSE
            NEW.search_public := own || coalesce((SELECT search_document(string_agg(body, ' ' ORDER BY id))
                FROM messages WHERE ticket_id = NEW.id AND NOT internal), ''::tsvector);
            NEW.search_staff := own || coalesce((SELECT search_document(string_agg(body, ' ' ORDER BY id))
                FROM messages WHERE ticket_id = NEW.id), ''::tsvector);
        END IF;
        RETURN NEW;
    END
    $$""",
    # After messages are inserted: one UPDATE for the whole statement, each ticket once.
    """CREATE FUNCTION messages_search_documents() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tickets t SET
            search_public = CASE WHEN m.public_text IS NULL THEN t.search_public
                            ELSE coalesce(t.search_public, ''::tsvector) || search_document(m.public_text) END,
            search_staff = coalesce(t.search_staff, ''::tsvector) || search_document(m.all_text)
        FROM (SELECT ticket_id,
                     string_agg(body, ' ' ORDER BY id) FILTER (WHERE NOT internal) AS public_text,
                     string_agg(body, ' ' ORDER BY id) AS all_text
              FROM added GROUP BY ticket_id ORDER BY ticket_id) m
        WHERE t.id = m.ticket_id;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER tickets_search BEFORE INSERT OR UPDATE OF subject, description ON tickets
       FOR EACH ROW EXECUTE FUNCTION tickets_search_documents()""",
    """CREATE TRIGGER messages_search AFTER INSERT ON messages REFERENCING NEW TABLE AS added
       FOR EACH STATEMENT EXECUTE FUNCTION messages_search_documents()""",
)

_PG_BACKFILL = (
    """UPDATE tickets SET search_public = d, search_staff = d
       FROM (SELECT id AS ticket, search_document('OP-' || id || ' ' || subject || ' ' || description) AS d
             FROM tickets) own WHERE tickets.id = own.ticket""",
    """UPDATE tickets t SET
           search_public = CASE WHEN m.public_text IS NULL THEN t.search_public
                           ELSE t.search_public || search_document(m.public_text) END,
           search_staff = t.search_staff || search_document(m.all_text)
       FROM (SELECT ticket_id,
                    string_agg(body, ' ' ORDER BY id) FILTER (WHERE NOT internal) AS public_text,
                    string_agg(body, ' ' ORDER BY id) AS all_text
             FROM messages GROUP BY ticket_id) m
       WHERE t.id = m.ticket_id""",
)


def _fold(sql: str) -> str:
    """SQLite: FTS5's remove_diacritics folds every Polish letter but ł."""
    return f"replace(replace({sql}, 'ł', 'l'), 'Ł', 'L')"


_OWN = "'OP-' || NEW.id || ' ' || NEW.subject || ' ' || NEW.description"
_SQLITE = (
    "CREATE VIRTUAL TABLE ticket_fts USING fts5(public, staff, tokenize = 'unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER ticket_fts_insert AFTER INSERT ON tickets BEGIN
        INSERT INTO ticket_fts (rowid, public, staff) VALUES (NEW.id, {_fold(_OWN)}, {_fold(_OWN)});
    END""",
    f"""CREATE TRIGGER ticket_fts_update AFTER UPDATE OF subject, description ON tickets BEGIN
        UPDATE ticket_fts SET
            public = {_fold(_OWN + " || ' ' || coalesce((SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = NEW.id AND NOT internal), '')")},
            staff = {_fold(_OWN + " || ' ' || coalesce((SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = NEW.id), '')")}
        WHERE rowid = NEW.id;
    END""",
    "CREATE TRIGGER ticket_fts_delete AFTER DELETE ON tickets BEGIN DELETE FROM ticket_fts WHERE rowid = OLD.id; END",
    f"""CREATE TRIGGER message_fts_insert AFTER INSERT ON messages BEGIN
        UPDATE ticket_fts SET
            public = CASE WHEN NEW.internal THEN public ELSE public || ' ' || {_fold("NEW.body")} END,
            staff = staff || ' ' || {_fold("NEW.body")}
        WHERE rowid = NEW.ticket_id;
    END""",
)
_SQLITE_BACKFILL = f"""
    INSERT INTO ticket_fts (rowid, public, staff)
    SELECT t.id,
        {_fold(_OWN.replace("NEW.", "t.") + " || ' ' || coalesce((SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = t.id AND NOT internal), '')")},
        {_fold(_OWN.replace("NEW.", "t.") + " || ' ' || coalesce((SELECT group_concat(body, ' ') FROM messages WHERE ticket_id = t.id), '')")}
    FROM tickets t
"""


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.create_table('saved_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('shared', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_saved_views_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_views'))
    )
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.create_index('ix_saved_views_owner_id_id', ['owner_id', 'id'], unique=False)
        batch_op.create_index('ix_saved_views_shared_id', ['shared', 'id'], unique=False)

    if postgres:
        op.add_column('tickets', sa.Column('search_public', postgresql.TSVECTOR(), nullable=True))
        op.add_column('tickets', sa.Column('search_staff', postgresql.TSVECTOR(), nullable=True))
        # No ticket or message may be written between the backfill and the triggers taking over.
        op.execute("LOCK TABLE tickets, messages IN SHARE ROW EXCLUSIVE MODE")
        for statement in _PG_FUNCTIONS:
            op.execute(statement)
        for statement in _PG_BACKFILL:
            op.execute(statement)
        op.create_index('ix_tickets_search_public', 'tickets', ['search_public'], postgresql_using='gin')
        op.create_index('ix_tickets_search_staff', 'tickets', ['search_staff'], postgresql_using='gin')
    else:
        for statement in _SQLITE:
            op.execute(statement)
        op.execute(_SQLITE_BACKFILL)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER messages_search ON messages")
        op.execute("DROP TRIGGER tickets_search ON tickets")
        op.execute("DROP FUNCTION messages_search_documents()")
        op.execute("DROP FUNCTION tickets_search_documents()")
        op.execute("DROP FUNCTION search_document(text)")
        op.execute("DROP FUNCTION search_fold(text)")
        op.drop_index('ix_tickets_search_staff', table_name='tickets')
        op.drop_index('ix_tickets_search_public', table_name='tickets')
        op.drop_column('tickets', 'search_staff')
        op.drop_column('tickets', 'search_public')
    else:
        for name in ('message_fts_insert', 'ticket_fts_delete', 'ticket_fts_update', 'ticket_fts_insert'):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE ticket_fts")
    op.drop_table('saved_views')
