"""open tickets by assignee: a partial index for the queue's "Mine" and "Unassigned"

The views' counts and pages ask for the open tickets of one assignee (or of none). The plain
(assignee_id, id) index walks every ticket the agent ever had, closed ones included, and reads
each row to check its status; this one holds the open tickets only. Plain CREATE INDEX, no batch:
a batch on SQLite would rebuild tickets and drop its triggers.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'open', 'waiting_on_client')"


def upgrade():
    op.create_index('ix_tickets_open_assignee_id_id', 'tickets', ['assignee_id', 'id'], unique=False,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index('ix_tickets_open_assignee_id_id', table_name='tickets')
