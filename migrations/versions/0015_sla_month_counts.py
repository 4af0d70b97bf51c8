"""speed at scale: the open queue's partial indexes and sla_month_counts, the SLA report's
numbers per month, client, category and priority, kept by triggers

EXPLAIN ANALYZE on a seeded database (two SLA clocks per ticket, most tickets resolved):

- The queue's "due" order reads the open tickets with a due instant by (next_deadline_at, id),
  and after them the open tickets without one by id. Both walked indexes over every ticket:
  the first a BitmapAnd of the status and deadline indexes and a top-N sort of every open
  ticket with a deadline, the second the primary key from the oldest ticket, skipping every
  closed one. Two partial indexes hold the open tickets only, in those orders.
- The SLA report joined every ticket filed in its months (a year by default) to its two clocks:
  sequential scans and hash joins over all of them (1.2 s at a million tickets).
  sla_month_counts holds the report's sums per month (in the report's time zone), client,
  category and priority; triggers on sla_clocks and tickets keep it current in the same
  transaction as every change, whoever writes (services, bulk loads, SQL by hand), so the
  report reads a few thousand rows at most. The existing rows are summed once here.

A ticket counts once it has its first-response clock, as in the report's join (the clocks of a
ticket are written and removed together). Rows whose numbers all fall to zero are removed.

On SQLite a later revision that rebuilds `tickets` or `sla_clocks` with batch_alter_table drops
these triggers with the old table and must create them again (tests/sla/integration/
test_sla_month_counts.py fails if the numbers drift).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'open', 'waiting_on_client')"
COUNTS = ("tickets", "first_met", "first_decided", "resolution_met", "resolution_decided", "paused_seconds")
KEY = "month, client_id, category, priority"

# The month a ticket was filed in the report's zone (tickets.sla.report.REPORT_ZONE).
PG_MONTH = "to_char({at} AT TIME ZONE 'Europe/Warsaw', 'YYYY-MM')"
# SQLite knows no zones: Warsaw is UTC+2 from the last Sunday of March to the last Sunday of
# October, else UTC+1, so every month from April to October begins at 22:00 UTC the day before
# and every other at 23:00 UTC. Both switches fall inside a month, so the month is exact.
SQLITE_MONTH = ("(CASE WHEN strftime('%m', {at}, '+2 hours') BETWEEN '04' AND '10' "
                "THEN strftime('%Y-%m', {at}, '+2 hours') ELSE strftime('%Y-%m', {at}, '+1 hours') END)")


def _contribution(clock: str, paused: str) -> list[str]:
    """The six numbers one clock row adds: a first-response clock brings its ticket (with the
    ticket's paused time), each clock its own outcome."""
    first = f"{clock}.kind = 'first_response'"
    return [
        f"(CASE WHEN {first} THEN 1 ELSE 0 END)",
        f"(CASE WHEN {first} AND {clock}.outcome = 'met' THEN 1 ELSE 0 END)",
        f"(CASE WHEN {first} AND {clock}.outcome IS NOT NULL THEN 1 ELSE 0 END)",
        f"(CASE WHEN {clock}.kind = 'resolution' AND {clock}.outcome = 'met' THEN 1 ELSE 0 END)",
        f"(CASE WHEN {clock}.kind = 'resolution' AND {clock}.outcome IS NOT NULL THEN 1 ELSE 0 END)",
        f"(CASE WHEN {first} THEN {paused} ELSE 0 END)",
    ]


_UPSERT_SET = ", ".join(f"{c} = sla_month_counts.{c} + excluded.{c}" for c in COUNTS)
_ALL_ZERO = " AND ".join(f"{c} = 0" for c in COUNTS)

# -- PostgreSQL: one function adds or takes away what one clock contributes -------------------

_PG_FUNCTIONS = (
    f"""
CREATE FUNCTION sla_month_apply(p_created timestamptz, p_client integer, p_category text, p_priority text,
                                p_sign integer, p_kind text, p_outcome text, p_paused bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m text := {PG_MONTH.format(at="p_created")};
    t integer := 0; fm integer := 0; fd integer := 0; rm integer := 0; rd integer := 0; ps bigint := 0;
BEGIN
    IF p_kind = 'first_response' THEN
        t := p_sign; ps := p_sign * coalesce(p_paused, 0);
        fm := CASE WHEN p_outcome = 'met' THEN p_sign ELSE 0 END;
        fd := CASE WHEN p_outcome IS NOT NULL THEN p_sign ELSE 0 END;
    ELSE
        rm := CASE WHEN p_outcome = 'met' THEN p_sign ELSE 0 END;
        rd := CASE WHEN p_outcome IS NOT NULL THEN p_sign ELSE 0 END;
    END IF;
    IF p_sign > 0 THEN
        INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)})
        VALUES (m, p_client, p_category, p_priority, t, fm, fd, rm, rd, ps)
        ON CONFLICT ({KEY}) DO UPDATE SET {_UPSERT_SET};
    ELSE
        UPDATE sla_month_counts SET tickets = tickets + t, first_met = first_met + fm,
            first_decided = first_decided + fd, resolution_met = resolution_met + rm,
            resolution_decided = resolution_decided + rd, paused_seconds = paused_seconds + ps
        WHERE month = m AND client_id = p_client AND category = p_category AND priority = p_priority;
        DELETE FROM sla_month_counts
        WHERE month = m AND client_id = p_client AND category = p_category AND priority = p_priority AND {_ALL_ZERO};
    END IF;
END
$$""",
    """
CREATE FUNCTION sla_month_clocks_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tk record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT created_at, client_id, category, priority, sla_paused_seconds INTO tk FROM tickets WHERE id = OLD.ticket_id;
        IF FOUND THEN  -- not found: the ticket is being deleted, and took its numbers with it
            PERFORM sla_month_apply(tk.created_at, tk.client_id, tk.category, tk.priority, -1,
                                    OLD.kind, OLD.outcome, tk.sla_paused_seconds);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT created_at, client_id, category, priority, sla_paused_seconds INTO tk FROM tickets WHERE id = NEW.ticket_id;
        IF FOUND THEN
            PERFORM sla_month_apply(tk.created_at, tk.client_id, tk.category, tk.priority, 1,
                                    NEW.kind, NEW.outcome, tk.sla_paused_seconds);
        END IF;
    END IF;
    RETURN NULL;
END
$$""",
    """
CREATE FUNCTION sla_month_tickets_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE c record;
BEGIN
    FOR c IN SELECT kind, outcome FROM sla_clocks WHERE ticket_id = OLD.id LOOP
        PERFORM sla_month_apply(OLD.created_at, OLD.client_id, OLD.category, OLD.priority, -1,
                                c.kind, c.outcome, OLD.sla_paused_seconds);
        IF TG_OP = 'UPDATE' THEN
            PERFORM sla_month_apply(NEW.created_at, NEW.client_id, NEW.category, NEW.priority, 1,
                                    c.kind, c.outcome, NEW.sla_paused_seconds);
        END IF;
    END LOOP;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END
$$""",
)
_TICKET_MOVES = ("OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.client_id IS DISTINCT FROM NEW.client_id "
                 "OR OLD.category IS DISTINCT FROM NEW.category OR OLD.priority IS DISTINCT FROM NEW.priority "
                 "OR OLD.sla_paused_seconds IS DISTINCT FROM NEW.sla_paused_seconds")
# Immediate, not deferred like ticket_counts': each trigger reads the other table as it is at
# that moment, which is what makes a change and its reverse cancel out exactly.
_PG_TRIGGERS = (
    """CREATE TRIGGER sla_month_clocks_insert_delete AFTER INSERT OR DELETE ON sla_clocks
       FOR EACH ROW EXECUTE FUNCTION sla_month_clocks_follow()""",
    """CREATE TRIGGER sla_month_clocks_update AFTER UPDATE OF ticket_id, kind, outcome ON sla_clocks
       FOR EACH ROW WHEN (OLD.ticket_id IS DISTINCT FROM NEW.ticket_id OR OLD.kind IS DISTINCT FROM NEW.kind
                          OR OLD.outcome IS DISTINCT FROM NEW.outcome)
       EXECUTE FUNCTION sla_month_clocks_follow()""",
    f"""CREATE TRIGGER sla_month_tickets_update AFTER UPDATE OF created_at, client_id, category, priority,
       sla_paused_seconds ON tickets FOR EACH ROW WHEN ({_TICKET_MOVES}) EXECUTE FUNCTION sla_month_tickets_follow()""",
    # Before the delete: the clocks (deleted by the cascade after it) are still there to be read.
    """CREATE TRIGGER sla_month_tickets_delete BEFORE DELETE ON tickets
       FOR EACH ROW EXECUTE FUNCTION sla_month_tickets_follow()""",
)

# -- SQLite: the same as statements --------------------------------------------------------------


def _sqlite_add(clock: str, ticket_id: str) -> str:
    values = ", ".join(_contribution(clock, "t.sla_paused_seconds"))
    return (f"INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)}) "
            f"SELECT {SQLITE_MONTH.format(at='t.created_at')}, t.client_id, t.category, t.priority, {values} "
            f"FROM tickets t WHERE t.id = {ticket_id} "
            f"ON CONFLICT ({KEY}) DO UPDATE SET {_UPSERT_SET};")


def _sqlite_key(ticket_id: str) -> str:
    return (f"({KEY}) = (SELECT {SQLITE_MONTH.format(at='created_at')}, client_id, category, priority "
            f"FROM tickets WHERE id = {ticket_id})")


def _sqlite_take(clock: str, ticket_id: str) -> str:
    paused = f"(SELECT sla_paused_seconds FROM tickets WHERE id = {ticket_id})"
    sets = ", ".join(f"{c} = {c} - {v}" for c, v in zip(COUNTS, _contribution(clock, paused), strict=True))
    key = _sqlite_key(ticket_id)
    return (f"UPDATE sla_month_counts SET {sets} WHERE {key}; "
            f"DELETE FROM sla_month_counts WHERE {key} AND {_ALL_ZERO};")


def _sqlite_ticket_sums(ticket: str) -> list[str]:
    """The six numbers of a ticket (OLD or NEW) from its clocks, as subqueries."""
    def count(condition: str) -> str:
        return f"(SELECT count(*) FROM sla_clocks c WHERE c.ticket_id = {ticket}.id AND {condition})"
    first = "c.kind = 'first_response'"
    return [
        count(first), count(f"{first} AND c.outcome = 'met'"), count(f"{first} AND c.outcome IS NOT NULL"),
        count("c.kind = 'resolution' AND c.outcome = 'met'"), count("c.kind = 'resolution' AND c.outcome IS NOT NULL"),
        f"({count(first)} * {ticket}.sla_paused_seconds)",
    ]


def _sqlite_ticket_take() -> str:
    key = (f"month = {SQLITE_MONTH.format(at='OLD.created_at')} AND client_id = OLD.client_id "
           "AND category = OLD.category AND priority = OLD.priority")
    sets = ", ".join(f"{c} = {c} - {v}" for c, v in zip(COUNTS, _sqlite_ticket_sums("OLD"), strict=True))
    return (f"UPDATE sla_month_counts SET {sets} WHERE {key}; "
            f"DELETE FROM sla_month_counts WHERE {key} AND {_ALL_ZERO};")


def _sqlite_ticket_add() -> str:
    values = ", ".join(_sqlite_ticket_sums("NEW"))
    return (f"INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)}) "
            f"SELECT {SQLITE_MONTH.format(at='NEW.created_at')}, NEW.client_id, NEW.category, NEW.priority, {values} "
            f"WHERE EXISTS (SELECT 1 FROM sla_clocks WHERE ticket_id = NEW.id) "
            f"ON CONFLICT ({KEY}) DO UPDATE SET {_UPSERT_SET};")


_SQLITE_TICKET_MOVES = ("OLD.created_at IS NOT NEW.created_at OR OLD.client_id IS NOT NEW.client_id "
                        "OR OLD.category IS NOT NEW.category OR OLD.priority IS NOT NEW.priority "
                        "OR OLD.sla_paused_seconds IS NOT NEW.sla_paused_seconds")
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER sla_month_clocks_insert AFTER INSERT ON sla_clocks BEGIN {_sqlite_add('NEW', 'NEW.ticket_id')} END",
    f"CREATE TRIGGER sla_month_clocks_delete AFTER DELETE ON sla_clocks BEGIN {_sqlite_take('OLD', 'OLD.ticket_id')} END",
    f"""CREATE TRIGGER sla_month_clocks_update AFTER UPDATE OF ticket_id, kind, outcome ON sla_clocks
        WHEN OLD.ticket_id IS NOT NEW.ticket_id OR OLD.kind IS NOT NEW.kind OR OLD.outcome IS NOT NEW.outcome
        BEGIN {_sqlite_take('OLD', 'OLD.ticket_id')} {_sqlite_add('NEW', 'NEW.ticket_id')} END""",
    f"""CREATE TRIGGER sla_month_tickets_update AFTER UPDATE OF created_at, client_id, category, priority,
        sla_paused_seconds ON tickets WHEN {_SQLITE_TICKET_MOVES}
        BEGIN {_sqlite_ticket_take()} {_sqlite_ticket_add()} END""",
    f"CREATE TRIGGER sla_month_tickets_delete BEFORE DELETE ON tickets BEGIN {_sqlite_ticket_take()} END",
)
_TRIGGER_NAMES = {
    "postgresql": (("sla_month_clocks_insert_delete", "sla_clocks"), ("sla_month_clocks_update", "sla_clocks"),
                   ("sla_month_tickets_update", "tickets"), ("sla_month_tickets_delete", "tickets")),
    "sqlite": (("sla_month_clocks_insert", "sla_clocks"), ("sla_month_clocks_delete", "sla_clocks"),
               ("sla_month_clocks_update", "sla_clocks"), ("sla_month_tickets_update", "tickets"),
               ("sla_month_tickets_delete", "tickets")),
}


def _backfill(month: str) -> str:
    sums = ", ".join(f"sum({v})" for v in _contribution("c", "t.sla_paused_seconds"))
    return (f"INSERT INTO sla_month_counts ({KEY}, {', '.join(COUNTS)}) "
            f"SELECT {month.format(at='t.created_at')} AS m, t.client_id, t.category, t.priority, {sums} "
            f"FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id "
            f"GROUP BY m, t.client_id, t.category, t.priority")


def upgrade():
    # Plain CREATE INDEX (no batch): a batch on SQLite could rebuild tickets and lose its triggers.
    op.create_index('ix_tickets_open_next_deadline_at_id', 'tickets', ['next_deadline_at', 'id'], unique=False,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_index('ix_tickets_open_undated_id', 'tickets', ['id'], unique=False,
                    postgresql_where=sa.text(f"next_deadline_at IS NULL AND {OPEN}"),
                    sqlite_where=sa.text(f"next_deadline_at IS NULL AND {OPEN}"))
    op.create_table('sla_month_counts',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('first_met', sa.Integer(), nullable=False),
    sa.Column('first_decided', sa.Integer(), nullable=False),
    sa.Column('resolution_met', sa.Integer(), nullable=False),
    sa.Column('resolution_decided', sa.Integer(), nullable=False),
    sa.Column('paused_seconds', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sla_month_counts_client_id_clients')),
    sa.PrimaryKeyConstraint('month', 'client_id', 'category', 'priority', name=op.f('pk_sla_month_counts'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        # No clock or ticket may change between the backfill and the triggers taking over.
        op.execute("LOCK TABLE tickets, sla_clocks IN SHARE ROW EXCLUSIVE MODE")
        for statement in (*_PG_FUNCTIONS, *_PG_TRIGGERS):
            op.execute(statement)
        op.execute(_backfill(PG_MONTH))
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
        op.execute(_backfill(SQLITE_MONTH))


def downgrade():
    dialect = op.get_bind().dialect.name
    for name, table in _TRIGGER_NAMES[dialect]:
        op.execute(f"DROP TRIGGER {name} ON {table}" if dialect == 'postgresql' else f"DROP TRIGGER {name}")
    if dialect == 'postgresql':
        for name in ("sla_month_tickets_follow()", "sla_month_clocks_follow()",
                     "sla_month_apply(timestamptz, integer, text, text, integer, text, text, bigint)"):
            op.execute(f"DROP FUNCTION {name}")
    op.drop_table('sla_month_counts')
    op.drop_index('ix_tickets_open_undated_id', table_name='tickets')
    op.drop_index('ix_tickets_open_next_deadline_at_id', table_name='tickets')
