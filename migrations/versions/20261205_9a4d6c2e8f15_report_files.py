"""report files: report PDFs built by a job

Revision ID: 9a4d6c2e8f15
Revises: 4c8e2a6f0b13
Create Date: 2026-12-05 22:00:00

report_files: a margin or utilization PDF of more than 50 rows, asked for by one user with given filters, built by
the job psa.reports.tasks.build_report_pdf_job and stored here (the bytes in `pdf`) until it expires (24 hours,
removed by the job). At most one pending (queued or building) file per user, report and filters: a partial unique
index on both databases (SQLite and PostgreSQL both take the WHERE clause). A new table: nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9a4d6c2e8f15'
down_revision = '4c8e2a6f0b13'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), server_default='', nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('margin', 'utilization')", name=op.f('ck_report_files_kind')),
    sa.CheckConstraint("state IN ('queued', 'building', 'ready', 'failed')", name=op.f('ck_report_files_state')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_report_files_requested_by_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_files'))
    )
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.create_index('ix_report_files_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_files_requested_by_id'), ['requested_by_id'], unique=False)
        batch_op.create_index('uq_report_files_pending', ['requested_by_id', 'kind', 'filters'], unique=True,
                              sqlite_where=sa.text("state IN ('queued', 'building')"),
                              postgresql_where=sa.text("state IN ('queued', 'building')"))


def downgrade():
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.drop_index('uq_report_files_pending', sqlite_where=sa.text("state IN ('queued', 'building')"),
                            postgresql_where=sa.text("state IN ('queued', 'building')"))
        batch_op.drop_index(batch_op.f('ix_report_files_requested_by_id'))
        batch_op.drop_index('ix_report_files_created_at')

    op.drop_table('report_files')
