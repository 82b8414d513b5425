"""partner API consumers: credentials, their tokens and quotas

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consumers',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=True),
    sa.Column('party_id', sa.String(length=3), nullable=True),
    sa.Column('admin', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('rate_limit', sa.Integer(), nullable=False),
    sa.Column('rate_window', sa.Integer(), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('revoked_us', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('consumer_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('expires_us', sa.BigInteger(), nullable=False),
    sa.Column('spent_us', sa.BigInteger(), nullable=True),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['consumers.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('consumer_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consumer_tokens_client_id'), ['client_id'], unique=False)
    op.create_table('consumer_quota',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('window_start_us', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['consumers.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id')
    )


def downgrade() -> None:
    op.drop_table('consumer_quota')
    with op.batch_alter_table('consumer_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consumer_tokens_client_id'))
    op.drop_table('consumer_tokens')
    op.drop_table('consumers')
