"""open tickets by assignee and due instant: the queue's "Mine" and "Unassigned"

The views' counts and pages ask for the open tickets of one assignee (or of none), nearest due
first. The plain (assignee_id, id) index walks every ticket the agent ever had, closed ones
included, reading each row for its status, and the open-by-due index walks every open ticket
for the assignee's; this one holds the open tickets only, by assignee, then in the queue's
"due" order (next_deadline_at, id), so the count and both halves of the page are ranges. Plain CREATE INDEX, no batch:
a batch on SQLite would rebuild tickets and drop its triggers.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'open', 'waiting_on_client')"


def upgrade():
    op.create_index('ix_tickets_open_assignee_due_id', 'tickets', ['assignee_id', 'next_deadline_at', 'id'], unique=False,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index('ix_tickets_open_assignee_due_id', table_name='tickets')
