"""open tickets by status, by priority and by SLA state, in the queue's due order

The queue's "due" order with one status (?status=new), one priority (?priority=urgent) or the
breached filter walked the open-by-due index (or, for a status, the index of every ticket with a
due instant) and read each row for the filter: the more open tickets, the more rows read for
one page. These hold the open tickets only, by the filter's column, then (next_deadline_at, id),
so both halves of a page (with a due instant, then without one) are ranges read a page long.
A single status among the open ones is matched to them because tickets.queue adds the open
statuses' own condition to it. Plain CREATE INDEX, no batch: a batch on SQLite would rebuild
tickets and drop its triggers.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 20:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'open', 'waiting_on_client')"
INDEXES = {
    'ix_tickets_open_status_due_id': 'status',
    'ix_tickets_open_priority_due_id': 'priority',
    'ix_tickets_open_sla_state_due_id': 'sla_state',
}


def upgrade():
    for name, column in INDEXES.items():
        op.create_index(name, 'tickets', [column, 'next_deadline_at', 'id'], unique=False,
                        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name='tickets')
