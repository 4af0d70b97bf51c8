"""merge the notifications branch (0002) with coverage, SLA, onboarding and API tokens (0003-0006)

Both lines of revisions start from 0001; this revision joins them so there is one head. It
changes nothing in the schema.

Revision ID: 0007
Revises: 0002, 0006
Create Date: 2026-11-27 23:20:00.000000

"""

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = ('0002', '0006')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
