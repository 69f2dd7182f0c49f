"""templates take their target time to value from their newest version that has one

Revision ID: 4c8e2a6f0b13
Revises: 3357bf0c794e
Create Date: 2026-12-04 20:30:00

The target moved from the template version (frozen with it) to the template (a business target that may
change): a template without one takes the target of its newest version that has one, published first.
Data only; downgrade leaves the values (the column goes with 3357bf0c794e's downgrade).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '4c8e2a6f0b13'
down_revision = '3357bf0c794e'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        UPDATE templates SET target_ttv_days = (
            SELECT tv.target_ttv_days FROM template_versions tv
            WHERE tv.template_id = templates.id AND tv.target_ttv_days IS NOT NULL
            ORDER BY CASE WHEN tv.state = 'published' THEN 0 ELSE 1 END, tv.number DESC
            LIMIT 1)
        WHERE target_ttv_days IS NULL
    """)


def downgrade():
    pass
