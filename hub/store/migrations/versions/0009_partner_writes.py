"""partner API writes: the partner's own fields beside objects (partner_extras) and Idempotency-Key answers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner_extras',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('party_id', sa.String(length=3), nullable=False),
    sa.Column('key', sa.String(length=36), nullable=False),
    sa.Column('holder_country_code', sa.String(length=2), nullable=False),
    sa.Column('holder_party_id', sa.String(length=3), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('updated_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'country_code', 'party_id', 'key', 'holder_country_code', 'holder_party_id')
    )
    with op.batch_alter_table('partner_extras', schema=None) as batch_op:
        batch_op.create_index('ix_partner_extras_external', ['holder_country_code', 'holder_party_id', 'kind', 'external_id'], unique=False)
    op.create_table('idempotency',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['consumers.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', 'key')
    )


def downgrade() -> None:
    op.drop_table('idempotency')
    with op.batch_alter_table('partner_extras', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_extras_external')
    op.drop_table('partner_extras')
