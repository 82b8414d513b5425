"""a Location's EVSEs on rows of their own

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('evses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('updated_us', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('doc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('rendered', sa.LargeBinary(), nullable=True))
        batch_op.create_index('ix_evses_order', ['country_code', 'party_id', 'location_id', 'position'], unique=False)
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evses_apart', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_column('evses_apart')
    with op.batch_alter_table('evses', schema=None) as batch_op:
        batch_op.drop_index('ix_evses_order')
        batch_op.drop_column('rendered')
        batch_op.drop_column('doc')
        batch_op.drop_column('updated_us')
        batch_op.drop_column('position')
