"""report changes: what tells a cached report that its data changed

Revision ID: 3b9d7e1f5a62
Revises: 8e4a2c6b1d59
Create Date: 2026-12-05 03:00:00

The report pages reuse a computed report until any of its inputs changes (psa/core/report_cache.py). Triggers on
every table a report reads (REPORT_TABLES) record that a transaction changed one:

- PostgreSQL: report_changes gets the writing transaction's id (txid_current(), ON CONFLICT DO NOTHING: one row a
  transaction) from statement-level triggers that look at their transition table first, so a statement changing
  no row (a refused conditional UPDATE) records nothing. Insert-only, so writers never wait for each other; the row
  becomes visible exactly when the transaction's changes do. The data's version is (report_epoch.epoch,
  count(report_changes)): a later snapshot sees a superset of the rows, so the count moves with every committed
  change; the daily compaction empties the table and raises the epoch in one transaction.
- SQLite (one writer at a time anyway): row-level triggers add one to report_version.n (inserting the row when
  missing).
The three tables exist on both databases; each uses its own.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3b9d7e1f5a62'
down_revision = '8e4a2c6b1d59'
branch_labels = None
depends_on = None

#: Every table a report reads (tests/core/test_report_cache.py checks the reports' statements against it).
REPORT_TABLES = ('time_entries', 'time_off', 'timesheets', 'milestones', 'tasks', 'projects', 'project_members',
                 'accounts', 'users', 'user_rates', 'project_rates', 'settings', 'holidays', 'templates',
                 'template_versions', 'ttv_snapshots')
EVENTS = (('insert', 'INSERT', 'NEW'), ('update', 'UPDATE', 'NEW'), ('delete', 'DELETE', 'OLD'))


def upgrade():
    # the three tables on both databases (each uses its own; the models declare all three)
    op.create_table('report_changes',
    sa.Column('txid', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('txid', name=op.f('pk_report_changes'))
    )
    op.create_table('report_epoch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_epoch'))
    )
    op.create_table('report_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_version'))
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(
            "CREATE FUNCTION report_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "  IF EXISTS (SELECT 1 FROM changed) THEN\n"
            "    INSERT INTO report_changes (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;\n"
            "  END IF;\n"
            "  RETURN NULL;\n"
            "END $$")
        for table in REPORT_TABLES:
            for name, event, row in EVENTS:
                op.execute(f"CREATE TRIGGER {table}_report_{name} AFTER {event} ON {table}"
                           f" REFERENCING {row} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_changed()")
    else:
        for table in REPORT_TABLES:
            for name, event, _ in EVENTS:
                op.execute(f"CREATE TRIGGER {table}_report_{name} AFTER {event} ON {table} BEGIN"
                           " INSERT INTO report_version (id, n) VALUES (1, 1)"
                           " ON CONFLICT (id) DO UPDATE SET n = report_version.n + 1; END")


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in REPORT_TABLES:
        for name, _, _ in EVENTS:
            op.execute(f"DROP TRIGGER {table}_report_{name}" + (f" ON {table}" if dialect == 'postgresql' else ""))
    if dialect == 'postgresql':
        op.execute("DROP FUNCTION report_changed()")
    op.drop_table('report_version')
    op.drop_table('report_epoch')
    op.drop_table('report_changes')
