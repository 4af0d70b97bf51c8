"""knowledge base: help articles with their history, and the new-ticket form's visits

Articles carry their folded words (`search_text`, written by knowledge.services with every save):
PostgreSQL searches them through a GIN index over to_tsvector('simple', search_text); SQLite
through the FTS5 table `article_fts` (rowid = article id), written in the same transaction.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 17:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('topic', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('audience', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('views', sa.Integer(), server_default='0', nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("topic IN ('integrations', 'couriers', 'marketplaces', 'invoicing', 'account', 'other')", name=op.f('ck_articles_topic_known')),
    sa.CheckConstraint("audience IN ('public', 'clients')", name=op.f('ck_articles_audience_known')),
    sa.CheckConstraint("state IN ('draft', 'published')", name=op.f('ck_articles_state_known')),
    sa.CheckConstraint("language IN ('pl', 'en')", name=op.f('ck_articles_language_known')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_articles_author_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles'))
    )
    op.create_index('ix_articles_state_language_id', 'articles', ['state', 'language', 'id'], unique=False)
    op.create_table('article_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_revisions_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_article_revisions_author_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_revisions'))
    )
    op.create_index('ix_article_revisions_article_id_id', 'article_revisions', ['article_id', 'id'], unique=False)
    op.create_table('form_visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_form_visits_article_id_articles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_form_visits_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_visits')),
    sa.UniqueConstraint('token', name=op.f('uq_form_visits_token'))
    )
    op.create_index('ix_form_visits_started_at', 'form_visits', ['started_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE INDEX ix_articles_search ON articles USING gin (to_tsvector('simple'::regconfig, search_text))")
    else:
        op.execute("CREATE VIRTUAL TABLE article_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX ix_articles_search")
    else:
        op.execute("DROP TABLE article_fts")
    op.drop_index('ix_form_visits_started_at', table_name='form_visits')
    op.drop_table('form_visits')
    op.drop_index('ix_article_revisions_article_id_id', table_name='article_revisions')
    op.drop_table('article_revisions')
    op.drop_index('ix_articles_state_language_id', table_name='articles')
    op.drop_table('articles')
