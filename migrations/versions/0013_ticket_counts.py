"""speed at scale: ticket_counts, the number of tickets per client and status, kept by triggers

The manager home showed each client's tickets by status with one GROUP BY over every ticket
(about 460 ms of database time at a million tickets on PostgreSQL). ticket_counts holds those
numbers; database triggers on tickets (after insert, after an update of status or client_id,
after delete) keep it current in the same transaction as the change (on PostgreSQL at its commit), whatever wrote it: the
services, a raw-SQL bulk load (`flask demo seed`) or a manual fix. A row whose count reaches zero
is removed. The existing tickets are counted once here.

On SQLite, a later revision that rebuilds `tickets` with batch_alter_table drops these triggers
with the old table: such a revision must create them again (tests/tickets/integration/
test_ticket_counts.py fails if the counts drift).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 15:15:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_BACKFILL = """
    INSERT INTO ticket_counts (client_id, status, n)
    SELECT client_id, status, count(*) FROM tickets GROUP BY client_id, status
"""

# PostgreSQL: one function for the three triggers. An update that moves a ticket touches the
# two counts in key order, so two transactions moving tickets in opposite directions queue
# behind each other instead of deadlocking.
_PG_FUNCTION = """
CREATE FUNCTION ticket_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.client_id, NEW.status) < (OLD.client_id, OLD.status) THEN
        INSERT INTO ticket_counts (client_id, status, n) VALUES (NEW.client_id, NEW.status, 1)
        ON CONFLICT (client_id, status) DO UPDATE SET n = ticket_counts.n + 1;
        UPDATE ticket_counts SET n = n - 1 WHERE client_id = OLD.client_id AND status = OLD.status;
        DELETE FROM ticket_counts WHERE client_id = OLD.client_id AND status = OLD.status AND n <= 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE ticket_counts SET n = n - 1 WHERE client_id = OLD.client_id AND status = OLD.status;
        DELETE FROM ticket_counts WHERE client_id = OLD.client_id AND status = OLD.status AND n <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO ticket_counts (client_id, status, n) VALUES (NEW.client_id, NEW.status, 1)
        ON CONFLICT (client_id, status) DO UPDATE SET n = ticket_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$
"""

# Bulk loads: every row updates its count row, and on PostgreSQL many updates of one row in one
# transaction get slower with each (100,000 tickets in one statement: 50 s instead of 7; in
# transactions of 5,000, as `flask demo seed` commits, about 1.8x the insert alone). Load in
# batches of a few thousand rows a transaction.
# Deferred to the commit: a filing holds the lock on its client's count for the commit only, not
# for the rest of its transaction (coverage, SLA, outbox), so concurrent filings for one client
# do not queue behind each other's whole transactions.
_PG_TRIGGERS = (
    """CREATE CONSTRAINT TRIGGER ticket_counts_insert AFTER INSERT ON tickets
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ticket_counts_follow()""",
    """CREATE CONSTRAINT TRIGGER ticket_counts_update AFTER UPDATE OF status, client_id ON tickets
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
       WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.client_id IS DISTINCT FROM NEW.client_id)
       EXECUTE FUNCTION ticket_counts_follow()""",
    """CREATE CONSTRAINT TRIGGER ticket_counts_delete AFTER DELETE ON tickets
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ticket_counts_follow()""",
)

_SQLITE_ADD = """
    INSERT INTO ticket_counts (client_id, status, n) VALUES (NEW.client_id, NEW.status, 1)
    ON CONFLICT (client_id, status) DO UPDATE SET n = n + 1;
"""
_SQLITE_REMOVE = """
    UPDATE ticket_counts SET n = n - 1 WHERE client_id = OLD.client_id AND status = OLD.status;
    DELETE FROM ticket_counts WHERE client_id = OLD.client_id AND status = OLD.status AND n <= 0;
"""
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER ticket_counts_insert AFTER INSERT ON tickets BEGIN {_SQLITE_ADD} END",
    f"""CREATE TRIGGER ticket_counts_update AFTER UPDATE OF status, client_id ON tickets
        WHEN OLD.status IS NOT NEW.status OR OLD.client_id IS NOT NEW.client_id
        BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END""",
    f"CREATE TRIGGER ticket_counts_delete AFTER DELETE ON tickets BEGIN {_SQLITE_REMOVE} END",
)


def upgrade():
    op.create_table('ticket_counts',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_ticket_counts_client_id_clients')),
    sa.PrimaryKeyConstraint('client_id', 'status', name=op.f('pk_ticket_counts'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        # No ticket may be written between the backfill and the triggers taking over.
        op.execute("LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE")
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(_BACKFILL)


def downgrade():
    for name in ('ticket_counts_insert', 'ticket_counts_update', 'ticket_counts_delete'):
        if op.get_bind().dialect.name == 'postgresql':
            op.execute(f"DROP TRIGGER {name} ON tickets")
        else:
            op.execute(f"DROP TRIGGER {name}")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION ticket_counts_follow()")
    op.drop_table('ticket_counts')
