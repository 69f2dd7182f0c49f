"""the customer portal: contacts, their sign-ins and single-use links, sign-offs and ratings

Revision ID: 1f7fbbb04128
Revises: 7b3e5f2a9d14
Create Date: 2026-12-04 19:09:55

Contacts of an account sign in to the portal (contact_sessions, as user_sessions) through invitations and
e-mailed sign-in links (portal_links, single use); customer tasks are assigned to a contact; milestones carry
the customer's sign-off; milestone_ratings hold CSAT once per contact and milestone; comments and files may
come from a contact, and files are internal or shared; an audit event's actor may be a contact. Existing files stay internal.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1f7fbbb04128'
down_revision = '7b3e5f2a9d14'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('title', sa.String(length=120), server_default='', nullable=False),
    sa.Column('stakeholder_role', sa.String(length=20), nullable=False),
    sa.Column('view_level', sa.String(length=10), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('email_opt_out', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("stakeholder_role IN ('executive_sponsor', 'project_lead', 'daily_user')", name=op.f('ck_contacts_stakeholder_role')),
    sa.CheckConstraint("view_level IN ('overview', 'full', 'my_tasks')", name=op.f('ck_contacts_view_level')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_contacts_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('email', name=op.f('uq_contacts_email'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_account_id'), ['account_id'], unique=False)

    op.create_table('contact_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_sessions_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_contact_sessions_token_hash'))
    )
    with op.batch_alter_table('contact_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_sessions_contact_id'), ['contact_id'], unique=False)

    op.create_table('portal_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('invite', 'signin')", name=op.f('ck_portal_links_purpose')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_portal_links_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_links_token_hash'))
    )
    with op.batch_alter_table('portal_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_links_contact_id'), ['contact_id'], unique=False)

    op.create_table('milestone_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_milestone_ratings_score')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_milestone_ratings_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestones.id'], name=op.f('fk_milestone_ratings_milestone_id_milestones'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_milestone_ratings_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone_ratings')),
    sa.UniqueConstraint('milestone_id', 'contact_id', name='uq_milestone_ratings_once')
    )
    with op.batch_alter_table('milestone_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestone_ratings_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_milestone_ratings_milestone_id'), ['milestone_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_milestone_ratings_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_contact_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_audit_events_actor_contact_id_contacts'), 'contacts', ['actor_contact_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allowed_email_domains', sa.String(length=500), server_default='', nullable=False))

    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uploaded_by_contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('visibility', sa.String(length=10), server_default='internal', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_attachments_uploaded_by_contact_id_contacts'), 'contacts', ['uploaded_by_contact_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_attachments_visibility'), "visibility IN ('internal', 'shared')")

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_contact_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_comments_author_contact_id_contacts'), 'contacts', ['author_contact_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_off_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('signed_off_by_contact_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_milestones_signed_off_by_contact_id_contacts'), 'contacts', ['signed_off_by_contact_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_shows_hours', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_contact_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tasks_assignee_contact_id'), ['assignee_contact_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tasks_assignee_contact_id_contacts'), 'contacts', ['assignee_contact_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_assignee_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tasks_assignee_contact_id'))
        batch_op.drop_column('assignee_contact_id')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('portal_shows_hours')

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_milestones_signed_off_by_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_column('signed_off_by_contact_id')
        batch_op.drop_column('signed_off_at')

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_comments_author_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_column('author_contact_id')

    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_attachments_visibility'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_attachments_uploaded_by_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_column('visibility')
        batch_op.drop_column('uploaded_by_contact_id')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('allowed_email_domains')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_events_actor_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_column('actor_contact_id')

    with op.batch_alter_table('milestone_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestone_ratings_project_id'))
        batch_op.drop_index(batch_op.f('ix_milestone_ratings_milestone_id'))
        batch_op.drop_index(batch_op.f('ix_milestone_ratings_contact_id'))

    op.drop_table('milestone_ratings')
    with op.batch_alter_table('portal_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_links_contact_id'))

    op.drop_table('portal_links')
    with op.batch_alter_table('contact_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_sessions_contact_id'))

    op.drop_table('contact_sessions')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_account_id'))

    op.drop_table('contacts')
