"""backlog chart: indexes on tickets.resolved_at and closed_at

The manager home's backlog chart counts the tickets finished on each day of the last twelve
weeks; these indexes keep that to the tickets of the window (tickets/backlog.py). Plain
CREATE INDEX, no table rebuild, so the ticket_counts triggers of 0013 stay in place on SQLite.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tickets_resolved_at', 'tickets', ['resolved_at'], unique=False)
    op.create_index('ix_tickets_closed_at', 'tickets', ['closed_at'], unique=False)


def downgrade():
    op.drop_index('ix_tickets_closed_at', table_name='tickets')
    op.drop_index('ix_tickets_resolved_at', table_name='tickets')
