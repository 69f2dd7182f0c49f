"""tasks: the open tasks by project (the revenue forecast's remaining work)

Revision ID: 4c8e2a7f1b36
Revises: 3b9d7e1f5a62
Create Date: 2026-12-05 04:00:00

A partial index of the tasks not done, by project: the forecast reads the open tasks of the open time-and-materials
projects (a few hundred of thousands of projects) through it instead of scanning every task. On PostgreSQL it
INCLUDEs every column that read needs (id, assignee, role, estimate and dates), so the read is an index-only scan;
SQLite has no INCLUDE and gets the plain partial index. A new index only: no table is recreated (the tasks' report
triggers stay).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '4c8e2a7f1b36'
down_revision = '3b9d7e1f5a62'
branch_labels = None
depends_on = None

OPEN = "status <> 'done'"
INCLUDE = ['id', 'assignee_id', 'assignee_role', 'estimated_minutes', 'forecast_date', 'due_date',
           'baseline_due_date']


def upgrade():
    op.create_index('ix_tasks_project_open', 'tasks', ['project_id'], unique=False,
                    postgresql_include=INCLUDE, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index('ix_tasks_project_open', table_name='tasks')
