"""agent workspace: auto-assignment rules, agents' duty settings, in-app notifications

- agent_duty: per staff member the "away" switch and their own business calendar (none: the
  team's `default` calendar);
- assignment_rules and assignment_rule_members: the admins' rules (category/priority, strategy,
  enabled, order) with their team and the round-robin pointer `last_assigned_id`;
- inbox_items: each staff member's in-app notifications, indexed for the header's unread count
  (user_id, read_at) and the list's keyset (user_id, id).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 16:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

import helpdesk.dbtypes

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'agent_duty',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('away', sa.Boolean(), nullable=False),
        sa.Column('calendar_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['calendar_id'], ['business_calendars.id'],
                                name=op.f('fk_agent_duty_calendar_id_business_calendars'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_duty_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_agent_duty')),
    )
    op.create_table(
        'assignment_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=True),
        sa.Column('priority', sa.String(length=20), nullable=True),
        sa.Column('strategy', sa.String(length=20), nullable=False),
        sa.Column('last_assigned_id', sa.Integer(), nullable=True),
        sa.Column('created_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("strategy IN ('round_robin', 'least_loaded')", name=op.f('ck_assignment_rules_strategy')),
        sa.ForeignKeyConstraint(['last_assigned_id'], ['users.id'],
                                name=op.f('fk_assignment_rules_last_assigned_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_rules')),
        sa.UniqueConstraint('name', name=op.f('uq_assignment_rules_name')),
    )
    op.create_table(
        'assignment_rule_members',
        sa.Column('rule_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['rule_id'], ['assignment_rules.id'],
                                name=op.f('fk_assignment_rule_members_rule_id_assignment_rules'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_assignment_rule_members_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('rule_id', 'user_id', name=op.f('pk_assignment_rule_members')),
    )
    op.create_table(
        'inbox_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=60), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('created_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('read_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inbox_items_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_items')),
    )
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_items_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('ix_inbox_items_user_id_read_at', ['user_id', 'read_at'], unique=False)


def downgrade():
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_items_user_id_read_at')
        batch_op.drop_index('ix_inbox_items_user_id_id')
    op.drop_table('inbox_items')
    op.drop_table('assignment_rule_members')
    op.drop_table('assignment_rules')
    op.drop_table('agent_duty')
