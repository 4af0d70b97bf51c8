"""speed at scale: an index on tickets.created_at for the SLA report's months

The SLA report counts the tickets filed in the months it shows; without this index it read
every ticket (a sequential scan at a million tickets).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 14:45:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_created_at')
