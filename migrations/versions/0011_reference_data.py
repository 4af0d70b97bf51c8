"""reference data: the default and 24/7 calendars and the default SLA policy, seeded here

Until this revision they were created the first time something read them (a GET of the calendar
or policy pages committed them). They are now stored once, by the same function that
`flask demo seed` and the tests call after emptying the tables; the code only reads them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 13:45:00.000000

"""
from alembic import op

from helpdesk.calendars.seed import seed_reference_data


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    seed_reference_data(op.get_bind())


def downgrade():
    # The rows stay: at revision 0008 the code creates these very rows on first use, and the
    # tickets, plans and policies that refer to them would otherwise have to go too.
    pass
