"""time span totals: pre-aggregated time sums kept by a trigger

Revision ID: 6d1f3a8b2c47
Revises: 5e1b7c3d9a20
Create Date: 2026-12-05 02:00:00

time_span_totals: per timesheet, project, billable flag and span (an ISO week's days inside one calendar month),
the count of entries, Σ minutes, Σ minutes × cost rate and Σ minutes × bill rate (psa/timesheets/totals.py). The
reports read it instead of the entries (a million on the large demo become some 66,000 rows).

A trigger on time_entries keeps it, in the writer's transaction: after an INSERT the row's figures are added to its
span (INSERT … ON CONFLICT DO UPDATE), after a DELETE taken off, after an UPDATE of a summed column (timesheet,
project, billable, date, minutes, rates) taken off the old span and added to the new one. A note's edit fires
nothing. PostgreSQL: one PL/pgSQL function and two triggers; SQLite: three SQL triggers (SQLite has neither
functions nor IF). The span expressions are psa.timesheets.totals.SPAN_SQL's. The table is filled from the
existing entries here.

Amounts are NUMERIC(20, 2) on PostgreSQL and integer cents on SQLite, as every exact column (ExactNumeric).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6d1f3a8b2c47'
down_revision = '5e1b7c3d9a20'
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(precision=20, scale=2).with_variant(sa.Integer(), 'sqlite')

SPAN = {
    'postgresql': (
        "GREATEST({d} - (EXTRACT(ISODOW FROM {d})::int - 1), date_trunc('month', {d})::date)",
        "LEAST({d} - (EXTRACT(ISODOW FROM {d})::int - 1) + 6, "
        "(date_trunc('month', {d}) + interval '1 month' - interval '1 day')::date)",
    ),
    'sqlite': (
        "max(date({d}, '-' || ((CAST(strftime('%w', {d}) AS INTEGER) + 6) % 7) || ' days'), "
        "date({d}, 'start of month'))",
        "min(date({d}, '-' || ((CAST(strftime('%w', {d}) AS INTEGER) + 6) % 7) || ' days', '+6 days'), "
        "date({d}, 'start of month', '+1 month', '-1 day'))",
    ),
}

SUMMED = 'timesheet_id, project_id, billable, entry_date, minutes, cost_rate, bill_rate'


def _add(dialect, row):
    start, end = (expression.format(d=f'{row}.entry_date') for expression in SPAN[dialect])
    return (
        "INSERT INTO time_span_totals (timesheet_id, project_id, billable, span_start, span_end, entries, minutes,"
        " cost_amount, bill_amount)"
        f" VALUES ({row}.timesheet_id, {row}.project_id, {row}.billable, {start}, {end}, 1, {row}.minutes,"
        f" {row}.minutes * {row}.cost_rate, {row}.minutes * {row}.bill_rate)"
        " ON CONFLICT (timesheet_id, project_id, billable, span_start) DO UPDATE SET"
        " entries = time_span_totals.entries + 1, minutes = time_span_totals.minutes + excluded.minutes,"
        " cost_amount = time_span_totals.cost_amount + excluded.cost_amount,"
        " bill_amount = time_span_totals.bill_amount + excluded.bill_amount;")


def _take(dialect, row):
    start = SPAN[dialect][0].format(d=f'{row}.entry_date')
    return (
        f"UPDATE time_span_totals SET entries = entries - 1, minutes = minutes - {row}.minutes,"
        f" cost_amount = cost_amount - {row}.minutes * {row}.cost_rate,"
        f" bill_amount = bill_amount - {row}.minutes * {row}.bill_rate"
        f" WHERE timesheet_id = {row}.timesheet_id AND project_id = {row}.project_id"
        f" AND billable = {row}.billable AND span_start = {start};")


def upgrade():
    op.create_table('time_span_totals',
    sa.Column('timesheet_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('billable', sa.Boolean(), nullable=False),
    sa.Column('span_start', sa.Date(), nullable=False),
    sa.Column('span_end', sa.Date(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('cost_amount', AMOUNT, nullable=False),
    sa.Column('bill_amount', AMOUNT, nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_time_span_totals_project_id_projects'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timesheet_id'], ['timesheets.id'],
                            name=op.f('fk_time_span_totals_timesheet_id_timesheets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('timesheet_id', 'project_id', 'billable', 'span_start', name=op.f('pk_time_span_totals'))
    )
    with op.batch_alter_table('time_span_totals', schema=None) as batch_op:
        batch_op.create_index('ix_time_span_totals_project_id', ['project_id'], unique=False)
        batch_op.create_index('ix_time_span_totals_span_start', ['span_start'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(
            "CREATE FUNCTION time_span_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"  IF TG_OP <> 'INSERT' THEN {_take(dialect, 'OLD')} END IF;\n"
            f"  IF TG_OP <> 'DELETE' THEN {_add(dialect, 'NEW')} END IF;\n"
            "  RETURN NULL;\n"
            "END $$")
        op.execute("CREATE TRIGGER time_entries_span_totals AFTER INSERT OR DELETE ON time_entries"
                   " FOR EACH ROW EXECUTE FUNCTION time_span_totals_keep()")
        op.execute(f"CREATE TRIGGER time_entries_span_totals_update AFTER UPDATE OF {SUMMED} ON time_entries"
                   " FOR EACH ROW EXECUTE FUNCTION time_span_totals_keep()")
    else:
        op.execute("CREATE TRIGGER time_entries_span_totals_insert AFTER INSERT ON time_entries BEGIN "
                   f"{_add(dialect, 'NEW')} END")
        op.execute("CREATE TRIGGER time_entries_span_totals_delete AFTER DELETE ON time_entries BEGIN "
                   f"{_take(dialect, 'OLD')} END")
        op.execute(f"CREATE TRIGGER time_entries_span_totals_update AFTER UPDATE OF {SUMMED} ON time_entries BEGIN "
                   f"{_take(dialect, 'OLD')} {_add(dialect, 'NEW')} END")

    start, end = (expression.format(d='entry_date') for expression in SPAN[dialect])
    op.execute(
        "INSERT INTO time_span_totals (timesheet_id, project_id, billable, span_start, span_end, entries, minutes,"
        " cost_amount, bill_amount)"
        f" SELECT timesheet_id, project_id, billable, {start}, {end}, count(*), sum(minutes),"
        " sum(minutes * cost_rate), sum(minutes * bill_rate) FROM time_entries"
        f" GROUP BY timesheet_id, project_id, billable, {start}, {end}")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER time_entries_span_totals_update ON time_entries")
        op.execute("DROP TRIGGER time_entries_span_totals ON time_entries")
        op.execute("DROP FUNCTION time_span_totals_keep()")
    else:
        for name in ('insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER time_entries_span_totals_{name}")
    with op.batch_alter_table('time_span_totals', schema=None) as batch_op:
        batch_op.drop_index('ix_time_span_totals_span_start')
        batch_op.drop_index('ix_time_span_totals_project_id')

    op.drop_table('time_span_totals')
