"""notes of time entries and time off hold 5,000 characters; time on a non-billable project is not billable

Revision ID: 5e0f3b7a9c21
Revises: dda1b248e893
Create Date: 2026-12-03 19:20:00

SPEC §4: notes keep their line breaks and hold up to 5,000 characters (Harvest has no limit). The rule
"time on a non-billable project is never billable" is now applied on every path; entries the grid stored
as billable on such projects before are corrected here, once.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e0f3b7a9c21'
down_revision = 'dda1b248e893'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('time_entries', 'time_off'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('note', existing_type=sa.String(length=500), type_=sa.String(length=5000),
                                  existing_nullable=False)
    op.execute(sa.text(
        "UPDATE time_entries SET billable = :no WHERE billable = :yes AND project_id IN "
        "(SELECT id FROM projects WHERE billing_model = 'non_billable')").bindparams(no=False, yes=True))


def downgrade():
    # notes longer than the old column are cut to it; billable flags stay as corrected
    op.execute(sa.text("UPDATE time_entries SET note = substr(note, 1, 500) WHERE length(note) > 500"))
    op.execute(sa.text("UPDATE time_off SET note = substr(note, 1, 500) WHERE length(note) > 500"))
    for table in ('time_entries', 'time_off'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('note', existing_type=sa.String(length=5000), type_=sa.String(length=500),
                                  existing_nullable=False)
