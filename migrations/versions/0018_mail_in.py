"""e-mail channel: inbound mailboxes, the record of every message received, client e-mail domains

- inbound_mailboxes: the addresses clients write to, each with its default category and the
  poller's IMAP settings;
- inbound_messages: one row per message received, unique by Message-ID (receiving is idempotent),
  with its outcome and the reason;
- client_email_domains: a client company's domains (unknown senders there become pending contacts);
- tickets.category_to_confirm: the category came from the mailbox, an agent confirms it;
- users.email_undeliverable_at / _reason: a bounce said the address cannot be reached.

Columns are added and dropped with plain ALTER TABLE (SQLite 3.35+ drops a column in place), never
a batch rebuild of `tickets`, so the ticket_counts triggers of 0013 stay in place.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 16:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

import helpdesk.dbtypes

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

CATEGORIES = "category IN ('question', 'configuration_change', 'bug')"
OUTCOMES = "outcome IN ('ticket_created', 'reply_added', 'reopened', 'linked_ticket_created', 'pending_contact', 'unrecognised', 'auto_reply_ignored', 'bounce', 'held_loop', 'duplicate', 'failed')"  # noqa: E501


def upgrade():
    op.create_table(
        'inbound_mailboxes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('category', sa.String(length=30), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('imap_url', sa.String(length=500), nullable=True),
        sa.Column('imap_user', sa.String(length=254), nullable=True),
        sa.Column('imap_password_ref', sa.String(length=100), nullable=True),
        sa.Column('folder_inbox', sa.String(length=200), nullable=False),
        sa.Column('folder_processed', sa.String(length=200), nullable=False),
        sa.Column('folder_failed', sa.String(length=200), nullable=False),
        sa.Column('created_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(CATEGORIES, name=op.f('ck_inbound_mailboxes_category')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_mailboxes')),
        sa.UniqueConstraint('address', name=op.f('uq_inbound_mailboxes_address')),
    )
    op.create_table(
        'client_email_domains',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('domain', sa.String(length=253), nullable=False),
        sa.Column('created_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_email_domains_client_id_clients'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_client_email_domains')),
        sa.UniqueConstraint('domain', name=op.f('uq_client_email_domains_domain')),
    )
    with op.batch_alter_table('client_email_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_email_domains_client_id'), ['client_id'], unique=False)
    op.create_table(
        'inbound_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('outcome', sa.String(length=30), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('sender', sa.String(length=254), nullable=False),
        sa.Column('sender_name', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('mailbox_address', sa.String(length=254), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('storage_key', sa.String(length=200), nullable=True),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('client_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('received_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('handled_at', helpdesk.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.Column('handled_action', sa.String(length=20), nullable=True),
        sa.CheckConstraint(OUTCOMES, name=op.f('ck_inbound_messages_outcome')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_inbound_messages_client_id_clients'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_inbound_messages_handled_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_inbound_messages_ticket_id_tickets'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inbound_messages_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
        sa.UniqueConstraint('message_id', name=op.f('uq_inbound_messages_message_id')),
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_messages_outcome_id', ['outcome', 'id'], unique=False)
        batch_op.create_index('ix_inbound_messages_sender_received_at', ['sender', 'received_at'], unique=False)
        batch_op.create_index('ix_inbound_messages_client_id_id', ['client_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_ticket_id'), ['ticket_id'], unique=False)
    # Plain ALTER TABLE ADD COLUMN (no batch): a batch on SQLite would rebuild `tickets` and lose
    # the ticket_counts triggers of 0013.
    op.add_column('tickets', sa.Column('category_to_confirm', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_tickets_category_to_confirm_id', 'tickets', ['category_to_confirm', 'id'], unique=False)
    op.add_column('users', sa.Column('email_undeliverable_at', helpdesk.dbtypes.UTCDateTime(timezone=True),
                                     nullable=True))
    op.add_column('users', sa.Column('email_undeliverable_reason', sa.String(length=500), nullable=True))


def downgrade():
    op.execute('ALTER TABLE users DROP COLUMN email_undeliverable_reason')
    op.execute('ALTER TABLE users DROP COLUMN email_undeliverable_at')
    # Not batch_alter_table: on SQLite that rebuilds `tickets` and loses 0013's triggers.
    # SQLite (3.35 and later) and PostgreSQL both drop a plain column in place.
    op.drop_index('ix_tickets_category_to_confirm_id', table_name='tickets')
    op.execute('ALTER TABLE tickets DROP COLUMN category_to_confirm')
    op.drop_table('inbound_messages')
    op.drop_table('client_email_domains')
    op.drop_table('inbound_mailboxes')
