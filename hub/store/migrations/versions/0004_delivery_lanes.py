"""delivery lanes: inflight events owned by living processes, stale objects of offline destinations

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'inflight')"


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_outbox_open', ['destination', 'seq'], unique=False,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_table('outbox_stale',
    sa.Column('destination', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=200), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['destination'], ['platforms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('destination', 'stream')
    )
    op.create_table('processes',
    sa.Column('instance', sa.String(length=32), nullable=False),
    sa.Column('started_us', sa.BigInteger(), nullable=False),
    sa.Column('heartbeat_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('instance')
    )


def downgrade() -> None:
    op.drop_table('processes')
    op.drop_table('outbox_stale')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_open', sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
        batch_op.drop_column('owner')
