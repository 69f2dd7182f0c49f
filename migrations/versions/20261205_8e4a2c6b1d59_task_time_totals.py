"""task time totals: minutes logged per task and timesheet, kept by a trigger

Revision ID: 8e4a2c6b1d59
Revises: 6d1f3a8b2c47
Create Date: 2026-12-05 02:30:00

task_time_totals: per timesheet and task, the count of entries and Σ minutes, in any state (psa/timesheets/
totals.py). The margin report's estimate at completion and the revenue forecast read a task's logged minutes from
it (some 80,000 rows for the large demo's million entries) instead of the entries. Keyed by timesheet too, so
writers of different weeks never update the same row (a row per task alone would make two people's grid saves on
one task wait for each other, or deadlock when they touch two tasks in opposite orders).

Triggers on time_entries keep it in the writer's transaction, as time_span_totals: after an INSERT with a task the
minutes are added, after a DELETE taken off, after an UPDATE of the timesheet, task or minutes moved. PostgreSQL:
one PL/pgSQL function and two triggers; SQLite: three SQL triggers with WHEN clauses. Filled from the entries here.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8e4a2c6b1d59'
down_revision = '6d1f3a8b2c47'
branch_labels = None
depends_on = None

ADD = ("INSERT INTO task_time_totals (timesheet_id, task_id, entries, minutes)"
       " VALUES ({row}.timesheet_id, {row}.task_id, 1, {row}.minutes)"
       " ON CONFLICT (timesheet_id, task_id) DO UPDATE SET entries = task_time_totals.entries + 1,"
       " minutes = task_time_totals.minutes + excluded.minutes;")
TAKE = ("UPDATE task_time_totals SET entries = entries - 1, minutes = minutes - {row}.minutes"
        " WHERE timesheet_id = {row}.timesheet_id AND task_id = {row}.task_id;")


def upgrade():
    op.create_table('task_time_totals',
    sa.Column('timesheet_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_time_totals_task_id_tasks'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timesheet_id'], ['timesheets.id'],
                            name=op.f('fk_task_time_totals_timesheet_id_timesheets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('timesheet_id', 'task_id', name=op.f('pk_task_time_totals'))
    )
    with op.batch_alter_table('task_time_totals', schema=None) as batch_op:
        batch_op.create_index('ix_task_time_totals_task_id', ['task_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE FUNCTION task_time_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"  IF TG_OP <> 'INSERT' AND OLD.task_id IS NOT NULL THEN {TAKE.format(row='OLD')} END IF;\n"
            f"  IF TG_OP <> 'DELETE' AND NEW.task_id IS NOT NULL THEN {ADD.format(row='NEW')} END IF;\n"
            "  RETURN NULL;\n"
            "END $$")
        op.execute("CREATE TRIGGER time_entries_task_totals AFTER INSERT OR DELETE ON time_entries"
                   " FOR EACH ROW EXECUTE FUNCTION task_time_totals_keep()")
        op.execute("CREATE TRIGGER time_entries_task_totals_update AFTER UPDATE OF timesheet_id, task_id, minutes"
                   " ON time_entries FOR EACH ROW EXECUTE FUNCTION task_time_totals_keep()")
    else:
        op.execute("CREATE TRIGGER time_entries_task_totals_insert AFTER INSERT ON time_entries"
                   f" WHEN NEW.task_id IS NOT NULL BEGIN {ADD.format(row='NEW')} END")
        op.execute("CREATE TRIGGER time_entries_task_totals_delete AFTER DELETE ON time_entries"
                   f" WHEN OLD.task_id IS NOT NULL BEGIN {TAKE.format(row='OLD')} END")
        # an update may clear or set the task: each half only when its row has one
        op.execute("CREATE TRIGGER time_entries_task_totals_update_old AFTER UPDATE OF timesheet_id, task_id, minutes"
                   f" ON time_entries WHEN OLD.task_id IS NOT NULL BEGIN {TAKE.format(row='OLD')} END")
        op.execute("CREATE TRIGGER time_entries_task_totals_update_new AFTER UPDATE OF timesheet_id, task_id, minutes"
                   f" ON time_entries WHEN NEW.task_id IS NOT NULL BEGIN {ADD.format(row='NEW')} END")

    op.execute("INSERT INTO task_time_totals (timesheet_id, task_id, entries, minutes)"
               " SELECT timesheet_id, task_id, count(*), sum(minutes) FROM time_entries WHERE task_id IS NOT NULL"
               " GROUP BY timesheet_id, task_id")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER time_entries_task_totals_update ON time_entries")
        op.execute("DROP TRIGGER time_entries_task_totals ON time_entries")
        op.execute("DROP FUNCTION task_time_totals_keep()")
    else:
        for name in ('insert', 'delete', 'update_old', 'update_new'):
            op.execute(f"DROP TRIGGER time_entries_task_totals_{name}")
    with op.batch_alter_table('task_time_totals', schema=None) as batch_op:
        batch_op.drop_index('ix_task_time_totals_task_id')

    op.drop_table('task_time_totals')
