"""upstream hubs: a platform the hub is behind (Gireve, Emobi) has a profile of rules and carries tenants

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profile', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('tenants', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.drop_column('tenants')
        batch_op.drop_column('profile')
