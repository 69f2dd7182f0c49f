"""indexes chosen from EXPLAIN on the large demo (a million entries, hundreds of thousands of audit events)

Revision ID: 3f1a9c7d2b60
Revises: 9b41d07e3a55
Create Date: 2026-12-04 16:10:00

- audit_events(object_type, object_id, at, id) replaces (object_type, object_id): each branch of the
  activity feed (WHERE object_type = ? AND object_id = ? ORDER BY at DESC, id DESC LIMIT 50) reads the
  newest events of its object straight off the index, backwards, instead of sorting all of them.
- time_entries(entry_date): the export page's count and the export itself filter on a date range alone
  (admins and leaders see every entry); no index started with entry_date, so both read the whole table.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3f1a9c7d2b60'
down_revision = '9b41d07e3a55'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id', 'at', 'id'], unique=False)
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_entries_date', ['entry_date'], unique=False)


def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_entries_date')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)
