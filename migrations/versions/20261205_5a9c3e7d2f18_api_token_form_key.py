"""api tokens: the key of the form that made each, one token per (user, form key)

Revision ID: 5a9c3e7d2f18
Revises: 4c8e2a7f1b36
Create Date: 2026-12-05 05:00:00

The new-token page's form carries a random key; a unique index on (user_id, form_key) makes a second sending of
that form (a refreshed page, a double click) make no second token. Tokens made before, and from the command line,
have none (NULLs are never equal to each other in a unique index, on both databases). A new column and index
only: no table is recreated.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5a9c3e7d2f18'
down_revision = '4c8e2a7f1b36'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('api_tokens', sa.Column('form_key', sa.String(length=64), nullable=True))
    op.create_index('uq_api_tokens_user_id_form_key', 'api_tokens', ['user_id', 'form_key'], unique=True)


def downgrade():
    op.drop_index('uq_api_tokens_user_id_form_key', table_name='api_tokens')
    with op.batch_alter_table('api_tokens') as batch_op:
        batch_op.drop_column('form_key')
