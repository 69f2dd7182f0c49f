"""escalations, time to value, reminders

Revision ID: 3357bf0c794e
Revises: 1f7fbbb04128
Create Date: 2026-12-04 20:01:17

The jobs issue: escalations of slipping milestones (at most one open per milestone: a partial unique index
on both databases), a project's time to value once its first-value milestone is done and a template's
target, the nightly TTV snapshots (one row per cohort and day), reminders recorded once each, and the
outbox's next attempt (backoff). Nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3357bf0c794e'
down_revision = '1f7fbbb04128'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reminders_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('recipient', sa.String(length=40), nullable=False),
    sa.Column('subject_key', sa.String(length=80), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders_sent')),
    sa.UniqueConstraint('kind', 'recipient', 'subject_key', name='uq_reminders_sent_once')
    )
    op.create_table('ttv_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('template_key', sa.Integer(), nullable=False),
    sa.Column('template_name', sa.String(length=120), nullable=False),
    sa.Column('segment', sa.String(length=10), nullable=False),
    sa.Column('kickoff_quarter', sa.String(length=7), nullable=False),
    sa.Column('project_count', sa.Integer(), nullable=False),
    sa.Column('median_days', sa.Numeric(precision=10, scale=2).with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('p75_days', sa.Numeric(precision=10, scale=2).with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mean_days', sa.Numeric(precision=10, scale=2).with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('within_target_share', sa.Numeric(precision=5, scale=4).with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ttv_snapshots')),
    sa.UniqueConstraint('taken_on', 'template_key', 'segment', 'kickoff_quarter', name='uq_ttv_snapshots_cohort')
    )
    with op.batch_alter_table('ttv_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ttv_snapshots_taken_on'), ['taken_on'], unique=False)

    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('slip_days', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_level', sa.Integer(), nullable=False),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledgement_note', sa.String(length=500), server_default='', nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=20), nullable=True),
    sa.CheckConstraint("reason IN ('overdue', 'forecast_slip')", name=op.f('ck_escalations_reason')),
    sa.CheckConstraint('level BETWEEN 1 AND 3', name=op.f('ck_escalations_level')),
    sa.CheckConstraint('slip_days >= 0', name=op.f('ck_escalations_slip')),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_escalations_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestones.id'], name=op.f('fk_escalations_milestone_id_milestones'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_escalations_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index('ix_escalations_open_level', ['resolved_at', 'level'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_project_id'), ['project_id'], unique=False)
        batch_op.create_index('uq_escalations_open_milestone', ['milestone_id'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))

    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ttv_days', sa.Integer(), nullable=True))

    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_ttv_days', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_column('target_ttv_days')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('ttv_days')

    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')

    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('uq_escalations_open_milestone', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_escalations_project_id'))
        batch_op.drop_index('ix_escalations_open_level')

    op.drop_table('escalations')
    with op.batch_alter_table('ttv_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ttv_snapshots_taken_on'))

    op.drop_table('ttv_snapshots')
    op.drop_table('reminders_sent')
