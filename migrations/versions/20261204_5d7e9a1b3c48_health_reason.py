"""projects cache the reason of their health with it

Revision ID: 5d7e9a1b3c48
Revises: 8c2d4e6f1a37
Create Date: 2026-12-04 16:55:00

Health explains itself: the schedule refresh stores, beside health, the clause of SPEC §3 that decided it
("Build is overdue by 8 working days") and the milestone it names. Existing rows get '' and NULL; the next
refresh (every project is refreshed daily) fills them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d7e9a1b3c48'
down_revision = '8c2d4e6f1a37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_reason', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('health_milestone_id', sa.Integer(), nullable=True))
    # the refresh recomputes every open project on its next run (their schedules are a day old at most)
    op.execute("UPDATE projects SET schedule_refreshed_on = NULL")


def downgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('health_milestone_id')
        batch_op.drop_column('health_reason')
