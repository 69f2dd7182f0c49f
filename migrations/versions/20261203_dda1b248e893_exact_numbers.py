"""exact numbers: money, percentages and hours stored exactly on SQLite too

SQLite's NUMERIC keeps a float (100.005 goes in, 100.00 may come out), so on SQLite every Numeric column
becomes an INTEGER holding the value x 100 (psa.core.db.ExactNumeric), which keeps SQL sums exact. The
existing values are converted in Python: a float is read as the shortest decimal that gives it back (what
was typed), and rounded half-up to the cent when it had more than two decimals. PostgreSQL's NUMERIC is
exact already: nothing changes there.

Revision ID: dda1b248e893
Revises: 4c4589e9ec08
Create Date: 2026-12-03 19:00:00

"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'dda1b248e893'
down_revision = '4c4589e9ec08'
branch_labels = None
depends_on = None

#: table -> [(column, precision, scale, nullable)]
COLUMNS = {
    'settings': [('utilization_target_percent', 5, 2, False)],
    'users': [('weekly_capacity_hours', 5, 2, False)],
    'accounts': [('arr', 14, 2, False)],
    'template_milestones': [('fee_share_percent', 5, 2, False)],
    'projects': [('fee_amount', 14, 2, True)],
    'milestones': [('fee_share_percent', 5, 2, False)],
    'user_rates': [('cost_rate', 12, 2, False), ('bill_rate', 12, 2, False)],
    'project_rates': [('bill_rate', 12, 2, False)],
    'time_entries': [('bill_rate', 12, 2, False), ('cost_rate', 12, 2, False)],
}
#: CHECK constraints whose bounds are not 0: table -> (name, condition before, condition in hundredths on SQLite)
CHECKS = {
    'users': ('ck_users_capacity', 'weekly_capacity_hours >= 0 AND weekly_capacity_hours <= 168',
              'weekly_capacity_hours >= 0 AND weekly_capacity_hours <= 16800'),
    'template_milestones': ('ck_template_milestones_fee_share', 'fee_share_percent >= 0 AND fee_share_percent <= 100',
                            'fee_share_percent >= 0 AND fee_share_percent <= 10000'),
    'milestones': ('ck_milestones_fee_share', 'fee_share_percent >= 0 AND fee_share_percent <= 100',
                   'fee_share_percent >= 0 AND fee_share_percent <= 10000'),
}


def _units(value, table, column, precision, scale):
    """A stored NUMERIC value (int, float or text on SQLite) as a whole number of 10^-scale units."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{table}.{column} holds {value!r}, which is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{table}.{column} holds {value!r}, which is not a finite number")
    units = int(number.scaleb(scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if abs(units) >= 10 ** precision:
        raise ValueError(f"{table}.{column} holds {value!r}, beyond NUMERIC({precision}, {scale})")
    return units


def _replace_check(batch_op, table, upgrading):
    if table in CHECKS:
        name, before, after = CHECKS[table]
        batch_op.drop_constraint(op.f(name), type_='check')
        batch_op.create_check_constraint(op.f(name), after if upgrading else before)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    # the values become hundredths before their CHECK bounds do (both are rewritten below)
    op.execute('PRAGMA ignore_check_constraints = ON')
    for table, columns in COLUMNS.items():
        for column, precision, scale, _nullable in columns:
            rows = bind.execute(sa.text(
                f'SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL')).all()
            changes = [{'rowid': rowid, 'units': _units(value, table, column, precision, scale)}
                       for rowid, value in rows]
            if changes:
                bind.execute(sa.text(f'UPDATE {table} SET {column} = :units WHERE rowid = :rowid'), changes)
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, precision, scale, nullable in columns:
                batch_op.alter_column(column, existing_type=sa.Numeric(precision=precision, scale=scale),
                                      type_=sa.Integer(), existing_nullable=nullable)
            _replace_check(batch_op, table, upgrading=True)
    op.execute('PRAGMA ignore_check_constraints = OFF')


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    op.execute('PRAGMA ignore_check_constraints = ON')
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, precision, scale, nullable in columns:
                batch_op.alter_column(column, existing_type=sa.Integer(),
                                      type_=sa.Numeric(precision=precision, scale=scale), existing_nullable=nullable)
            _replace_check(batch_op, table, upgrading=False)
        for column, _precision, scale, _nullable in columns:
            op.execute(f'UPDATE {table} SET {column} = {column} / {10 ** scale}.0 WHERE {column} IS NOT NULL')
    op.execute('PRAGMA ignore_check_constraints = OFF')
