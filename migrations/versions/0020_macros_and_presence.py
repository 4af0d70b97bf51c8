"""agent workspace: macros (reply texts with actions and a usage count) and ticket presence

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 16:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

import helpdesk.dbtypes

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'macros',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('body_en', sa.Text(), nullable=False),
        sa.Column('body_pl', sa.Text(), nullable=False),
        sa.Column('set_status', sa.String(length=20), nullable=False),
        sa.Column('set_assignee', sa.String(length=20), nullable=False),
        sa.Column('set_priority', sa.String(length=10), nullable=False),
        sa.Column('set_category', sa.String(length=30), nullable=False),
        sa.Column('usage_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_macros_owner_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_macros')),
    )
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.create_index('ix_macros_owner_id_name', ['owner_id', 'name'], unique=False)
    op.create_table(
        'ticket_presence',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('seen_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_presence_ticket_id_tickets'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ticket_presence_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id', 'user_id', name=op.f('pk_ticket_presence')),
    )


def downgrade():
    op.drop_table('ticket_presence')
    with op.batch_alter_table('macros', schema=None) as batch_op:
        batch_op.drop_index('ix_macros_owner_id_name')
    op.drop_table('macros')
