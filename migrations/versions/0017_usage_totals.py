"""speed at scale: usage_totals, the ledger summed per period, kept by triggers

The usage report and every coverage decision carried the rollover from the first period of a
subscription to the one shown by summing every ledger row since the subscription began, so
their cost grew with the ledger's history. usage_totals holds the sums per (period start,
client, subscription, charge, currency): minutes, tickets, amount and the number of rows. The
report reads the rows of its period and one row per earlier period for the rollover chain.
An index on coverage_decisions (ticket_id, id, category, source) replaces (ticket_id, id), so
the report's ticket counts probe each ticket filed in the period instead of reading every
decision.

Database triggers on usage_entries keep it in the same transaction as the ledger write, whatever
wrote it (the services, a raw-SQL bulk load, a manual fix). On PostgreSQL they are statement
triggers over the transition table (a COPY of a million rows adds a few thousand sums, not a
million upserts of the same rows); on SQLite, row triggers. A key whose last row is deleted is
removed. The existing ledger is summed once here.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 16:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_KEY = "period_start, client_id, subscription_id, charge, currency"
_SUMS = (
    "SELECT period_start, client_id, coalesce(subscription_id, 0) AS subscription_id, charge, "
    "coalesce(currency, '') AS currency, sum(minutes) AS minutes, sum(tickets) AS tickets, "
    "sum(amount) AS amount, count(*) AS entries FROM {rows} GROUP BY period_start, client_id, "
    "coalesce(subscription_id, 0), charge, coalesce(currency, '')"
)
_BACKFILL = f"INSERT INTO usage_totals ({_KEY}, minutes, tickets, amount, entries) " + _SUMS.format(
    rows="usage_entries")

# PostgreSQL: sums of the statement's rows, added in key order (two transactions writing the
# same keys queue behind each other instead of deadlocking).
_PG_ADD = f"""
CREATE FUNCTION usage_totals_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_totals ({_KEY}, minutes, tickets, amount, entries)
    SELECT * FROM ({_SUMS.format(rows="new_rows")}) AS added ORDER BY {_KEY}
    ON CONFLICT ({_KEY}) DO UPDATE SET
        minutes = usage_totals.minutes + excluded.minutes,
        tickets = usage_totals.tickets + excluded.tickets,
        amount = usage_totals.amount + excluded.amount,
        entries = usage_totals.entries + excluded.entries;
    RETURN NULL;
END
$$
"""
_PG_REMOVE = f"""
CREATE FUNCTION usage_totals_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage_totals AS t SET
        minutes = t.minutes - removed.minutes,
        tickets = t.tickets - removed.tickets,
        amount = t.amount - removed.amount,
        entries = t.entries - removed.entries
    FROM ({_SUMS.format(rows="old_rows")}) AS removed
    WHERE (t.period_start, t.client_id, t.subscription_id, t.charge, t.currency)
        = (removed.period_start, removed.client_id, removed.subscription_id, removed.charge, removed.currency);
    DELETE FROM usage_totals WHERE entries <= 0;
    RETURN NULL;
END
$$
"""
_PG_TRIGGERS = (
    """CREATE TRIGGER usage_totals_insert AFTER INSERT ON usage_entries
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_add()""",
    # an update is the old rows taken away, then the new rows added (triggers fire in name order)
    """CREATE TRIGGER usage_totals_update_1 AFTER UPDATE ON usage_entries
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_remove()""",
    """CREATE TRIGGER usage_totals_update_2 AFTER UPDATE ON usage_entries
       REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_add()""",
    """CREATE TRIGGER usage_totals_delete AFTER DELETE ON usage_entries
       REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_totals_remove()""",
)

_SQLITE_ADD = f"""
    INSERT INTO usage_totals ({_KEY}, minutes, tickets, amount, entries)
    VALUES (NEW.period_start, NEW.client_id, coalesce(NEW.subscription_id, 0), NEW.charge,
            coalesce(NEW.currency, ''), NEW.minutes, NEW.tickets, NEW.amount, 1)
    ON CONFLICT ({_KEY}) DO UPDATE SET minutes = minutes + excluded.minutes,
        tickets = tickets + excluded.tickets, amount = amount + excluded.amount, entries = entries + 1;
"""
_SQLITE_MATCH = """period_start = OLD.period_start AND client_id = OLD.client_id
    AND subscription_id = coalesce(OLD.subscription_id, 0) AND charge = OLD.charge
    AND currency = coalesce(OLD.currency, '')"""
_SQLITE_REMOVE = f"""
    UPDATE usage_totals SET minutes = minutes - OLD.minutes, tickets = tickets - OLD.tickets,
        amount = amount - OLD.amount, entries = entries - 1 WHERE {_SQLITE_MATCH};
    DELETE FROM usage_totals WHERE {_SQLITE_MATCH} AND entries <= 0;
"""
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER usage_totals_insert AFTER INSERT ON usage_entries BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER usage_totals_update AFTER UPDATE ON usage_entries BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
    f"CREATE TRIGGER usage_totals_delete AFTER DELETE ON usage_entries BEGIN {_SQLITE_REMOVE} END",
)


def upgrade():
    op.create_table('usage_totals',
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('charge', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_usage_totals_client_id_clients')),
    sa.PrimaryKeyConstraint('period_start', 'client_id', 'subscription_id', 'charge', 'currency',
                            name=op.f('pk_usage_totals'))
    )
    with op.batch_alter_table('usage_totals', schema=None) as batch_op:
        batch_op.create_index('ix_usage_totals_subscription_id_period_start', ['subscription_id', 'period_start'],
                              unique=False)
    # The usage report's ticket counts read each ticket's current category and source from the
    # index alone (it replaces the (ticket_id, id) index, which it serves as well).
    with op.batch_alter_table('coverage_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_coverage_decisions_ticket_id_id_category_source',
                              ['ticket_id', 'id', 'category', 'source'], unique=False)
        batch_op.drop_index('ix_coverage_decisions_ticket_id_id')
    if op.get_bind().dialect.name == 'postgresql':
        # No ledger row may be written between the backfill and the triggers taking over.
        op.execute("LOCK TABLE usage_entries IN SHARE ROW EXCLUSIVE MODE")
        op.execute(_PG_ADD)
        op.execute(_PG_REMOVE)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(_BACKFILL)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    names = ('usage_totals_insert', 'usage_totals_update_1', 'usage_totals_update_2', 'usage_totals_delete') \
        if postgresql else ('usage_totals_insert', 'usage_totals_update', 'usage_totals_delete')
    for name in names:
        op.execute(f"DROP TRIGGER {name} ON usage_entries" if postgresql else f"DROP TRIGGER {name}")
    if postgresql:
        op.execute("DROP FUNCTION usage_totals_add()")
        op.execute("DROP FUNCTION usage_totals_remove()")
    with op.batch_alter_table('usage_totals', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_totals_subscription_id_period_start')
    op.drop_table('usage_totals')
    with op.batch_alter_table('coverage_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_coverage_decisions_ticket_id_id', ['ticket_id', 'id'], unique=False)
        batch_op.drop_index('ix_coverage_decisions_ticket_id_id_category_source')
