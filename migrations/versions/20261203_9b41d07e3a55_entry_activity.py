"""time entries keep the activity an import named (Harvest's and Toggl's tasks that are not ours)

Revision ID: 9b41d07e3a55
Revises: 5e0f3b7a9c21
Create Date: 2026-12-03 19:40:00

SPEC §4: a Harvest row whose task matches none of the project's tasks goes on the project with the
activity kept. Existing entries have none ('').
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b41d07e3a55'
down_revision = '5e0f3b7a9c21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activity', sa.String(length=120), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_column('activity')
