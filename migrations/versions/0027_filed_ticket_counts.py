"""speed at scale: filed_ticket_counts, the tickets filed per period by current category and source

The usage report counted the tickets filed in its period by their current category and source
(those of each ticket's latest coverage decision) by reading every filing decision of the period
and probing each one's ticket for its latest decision: its cost grew with the tickets per period
(2.85x from 10k to 1M tickets on PostgreSQL). filed_ticket_counts holds those counts per (period
start, client, category, source); the report reads the few rows of its period.

A "filed" decision fixes a ticket's period and client (the filing decision's own); every later
decision of the ticket may change the category and source it is counted under. Database triggers
on coverage_decisions keep the counts in the same transaction as the decision, whoever writes it:
for each ticket a statement touches, the counts its decisions gave before the statement are taken
away and those they give after it are added (only the difference is written: usually one key
down and one up, or nothing). Deletes and updates in SQL are handled the same way (the services
never change or delete a decision). A key whose count reaches zero is removed. On PostgreSQL the
triggers are statement triggers over the transition tables (a bulk insert of many decisions of
one ticket is counted once, from the rows as they are after it); on SQLite, row triggers, which
run as each row is written. The counts are made once here from the existing decisions.

coverage_decisions is not rebuilt (no batch mode): on SQLite that would drop the triggers of
0017 and 0025 with the old table.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 22:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

KEY = "period_start, client_id, category, source"
_COLUMNS = 'id, ticket_id, "trigger", period_start, client_id, category, source'

# Every ticket's filing decisions, each under its ticket's latest decision's category and source.
BACKFILL = (
    f"INSERT INTO filed_ticket_counts ({KEY}, tickets) "
    "SELECT f.period_start, f.client_id, c.category, c.source, count(*) FROM coverage_decisions f "
    "JOIN (SELECT ticket_id, max(id) AS id FROM coverage_decisions GROUP BY ticket_id) latest "
    "ON latest.ticket_id = f.ticket_id JOIN coverage_decisions c ON c.id = latest.id "
    "WHERE f.\"trigger\" = 'filed' GROUP BY f.period_start, f.client_id, c.category, c.source"
)

# -- PostgreSQL ---------------------------------------------------------------------------------


def _pg_counted(rows: str, sign: int) -> str:
    """The keys the decisions in `rows` count their tickets' filings under, each with `sign`."""
    return (f"SELECT f.period_start, f.client_id, c.category, c.source, {sign} AS n FROM {rows} f "
            f"JOIN (SELECT DISTINCT ON (ticket_id) ticket_id, category, source FROM {rows} "
            f"ORDER BY ticket_id, id DESC) c ON c.ticket_id = f.ticket_id WHERE f.\"trigger\" = 'filed'")


def _pg_function(name: str, new_rows: str | None, old_rows: str | None) -> str:
    """A statement trigger's function: the counts of the tickets the statement touched, as their
    decisions are now (`after`) and as they were (`before`: without the statement's new rows,
    with its old ones); the difference is added in key order (two transactions writing the same
    keys queue instead of deadlocking), and a key left at zero is removed."""
    changed = " UNION ".join(f"SELECT ticket_id FROM {t}" for t in (new_rows, old_rows) if t)
    before = "SELECT * FROM after a"
    if new_rows:
        before += f" WHERE NOT EXISTS (SELECT 1 FROM {new_rows} n WHERE n.id = a.id)"
    if old_rows:
        before += f" UNION ALL SELECT {_COLUMNS} FROM {old_rows}"
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN
        WITH after AS MATERIALIZED (
            SELECT {_COLUMNS} FROM coverage_decisions WHERE ticket_id IN ({changed})),
        before AS MATERIALIZED ({before}),
        delta AS (
            SELECT {KEY}, sum(n) AS n FROM ({_pg_counted('after', 1)} UNION ALL {_pg_counted('before', -1)}) d
            GROUP BY {KEY} HAVING sum(n) <> 0)
        INSERT INTO filed_ticket_counts AS s ({KEY}, tickets)
        SELECT {KEY}, n FROM delta ORDER BY {KEY}
        ON CONFLICT ({KEY}) DO UPDATE SET tickets = s.tickets + excluded.tickets
        RETURNING s.period_start, s.client_id, s.category, s.source, s.tickets
    LOOP
        IF r.tickets <= 0 THEN
            DELETE FROM filed_ticket_counts WHERE period_start = r.period_start AND client_id = r.client_id
                AND category = r.category AND source = r.source;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$"""


_PG_FUNCTIONS = {
    "filed_ticket_counts_insert": _pg_function("filed_ticket_counts_insert", "new_rows", None),
    "filed_ticket_counts_update": _pg_function("filed_ticket_counts_update", "new_rows", "old_rows"),
    "filed_ticket_counts_delete": _pg_function("filed_ticket_counts_delete", None, "old_rows"),
}
_PG_TRIGGERS = (
    """CREATE TRIGGER filed_ticket_counts_insert AFTER INSERT ON coverage_decisions
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION filed_ticket_counts_insert()""",
    """CREATE TRIGGER filed_ticket_counts_update AFTER UPDATE ON coverage_decisions
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION filed_ticket_counts_update()""",
    """CREATE TRIGGER filed_ticket_counts_delete AFTER DELETE ON coverage_decisions
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION filed_ticket_counts_delete()""",
)

# -- SQLite ---------------------------------------------------------------------------------------


def _sqlite_counted(rows: str, sign: int) -> str:
    """The keys one ticket's decisions `rows` count its filings under, each with `sign`."""
    return (f"SELECT f.period_start, f.client_id, c.category, c.source, {sign} AS n FROM {rows} f, "
            f"(SELECT category, source FROM {rows} ORDER BY id DESC LIMIT 1) c WHERE f.\"trigger\" = 'filed'")


def _sqlite_move(ticket: str, new: bool, old: bool, when: str = "1") -> str:
    """One ticket's counts: as its decisions are now, less as they were before the row trigger's
    change (without the NEW row, with the OLD one); then a key left at zero is removed."""
    after = f"(SELECT {_COLUMNS} FROM coverage_decisions WHERE ticket_id = {ticket})"
    before = f"SELECT {_COLUMNS} FROM coverage_decisions WHERE ticket_id = {ticket}"
    if new:
        before += " AND id IS NOT NEW.id"
    if old:
        before += (" UNION ALL SELECT OLD.id, OLD.ticket_id, OLD.\"trigger\", OLD.period_start, OLD.client_id, "
                   f"OLD.category, OLD.source WHERE OLD.ticket_id = {ticket}")
    before = f"({before})"
    return (
        f"INSERT INTO filed_ticket_counts ({KEY}, tickets) "
        f"SELECT {KEY}, sum(n) FROM ({_sqlite_counted(after, 1)} UNION ALL {_sqlite_counted(before, -1)}) "
        f"WHERE {when} GROUP BY {KEY} HAVING sum(n) <> 0 "
        f"ON CONFLICT ({KEY}) DO UPDATE SET tickets = tickets + excluded.tickets; "
        f"DELETE FROM filed_ticket_counts WHERE tickets <= 0 AND {when} AND (period_start, client_id) IN "
        f"(SELECT period_start, client_id FROM {before} WHERE \"trigger\" = 'filed' "
        f"UNION SELECT period_start, client_id FROM {after} WHERE \"trigger\" = 'filed');"
    )


_SQLITE_TRIGGERS = (
    "CREATE TRIGGER filed_ticket_counts_insert AFTER INSERT ON coverage_decisions "
    f"BEGIN {_sqlite_move('NEW.ticket_id', new=True, old=False)} END",
    'CREATE TRIGGER filed_ticket_counts_update AFTER UPDATE OF id, ticket_id, "trigger", period_start, client_id, '
    "category, source ON coverage_decisions "
    f"BEGIN {_sqlite_move('OLD.ticket_id', new=True, old=True)} "
    f"{_sqlite_move('NEW.ticket_id', new=True, old=True, when='NEW.ticket_id IS NOT OLD.ticket_id')} END",
    "CREATE TRIGGER filed_ticket_counts_delete AFTER DELETE ON coverage_decisions "
    f"BEGIN {_sqlite_move('OLD.ticket_id', new=False, old=True)} END",
)
_TRIGGER_NAMES = ("filed_ticket_counts_insert", "filed_ticket_counts_update", "filed_ticket_counts_delete")


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table('filed_ticket_counts',
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_filed_ticket_counts_client_id_clients')),
    sa.PrimaryKeyConstraint('period_start', 'client_id', 'category', 'source', name=op.f('pk_filed_ticket_counts'))
    )
    if dialect == 'postgresql':
        # No decision may be written between the counting and the triggers taking over.
        op.execute("LOCK TABLE coverage_decisions IN SHARE ROW EXCLUSIVE MODE")
        for statement in (*_PG_FUNCTIONS.values(), *_PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(BACKFILL)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for name in _TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER {name} ON coverage_decisions" if postgresql else f"DROP TRIGGER {name}")
        if postgresql:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table('filed_ticket_counts')
