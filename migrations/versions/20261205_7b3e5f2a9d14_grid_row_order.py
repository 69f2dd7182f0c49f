"""a timesheet line keeps its place in the week's grid

Revision ID: 7b3e5f2a9d14
Revises: 5d7e9a1b3c48
Create Date: 2026-12-05 10:00:00

time_entries.row_position: the place of the entry's line in its week's grid (0 the top line), written by the
grid's save, an import and copied rows, so a save no longer re-sorts the lines by project name. Nullable, no
default: entries saved before (and the demo's) keep NULL and are shown first, by name, as before. Adding a
nullable column is an ALTER TABLE ... ADD COLUMN on both databases (batch mode does not copy the table for it).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '7b3e5f2a9d14'
down_revision = '5d7e9a1b3c48'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('row_position', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_column('row_position')
