"""sessions that end and login throttling across workers: users.session_version, auth_attempts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 13:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

import helpdesk.dbtypes


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))

    op.create_table(
        'auth_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('subject', sa.String(length=254), nullable=False),
        sa.Column('device', sa.String(length=64), nullable=True),
        sa.Column('at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_attempts')),
    )
    with op.batch_alter_table('auth_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_auth_attempts_kind_subject_at', ['kind', 'subject', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('auth_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_attempts_kind_subject_at')
    op.drop_table('auth_attempts')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
