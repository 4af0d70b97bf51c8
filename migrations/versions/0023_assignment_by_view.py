"""auto-assignment by saved view: a rule may name a shared saved view whose filters a new ticket must match

assignment_rules.saved_view_id: the view (NULL: the rule goes by category and priority only).
ON DELETE RESTRICT: a view that routes tickets is not deleted from under its rule (the view's
page refuses it with a message naming the rule; an admin changes the rule first). A plain
table (no triggers), so SQLite's batch mode may rebuild it to add the foreign key.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignment_rules') as batch:
        batch.add_column(sa.Column('saved_view_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_assignment_rules_saved_view_id'), ['saved_view_id'], unique=False)
        batch.create_foreign_key(batch.f('fk_assignment_rules_saved_view_id_saved_views'), 'saved_views',
                                 ['saved_view_id'], ['id'], ondelete='RESTRICT')


def downgrade():
    with op.batch_alter_table('assignment_rules') as batch:
        batch.drop_constraint(batch.f('fk_assignment_rules_saved_view_id_saved_views'), type_='foreignkey')
        batch.drop_index(batch.f('ix_assignment_rules_saved_view_id'))
        batch.drop_column('saved_view_id')
