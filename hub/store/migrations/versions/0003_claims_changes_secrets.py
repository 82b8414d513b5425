"""platform claims, encrypted outgoing tokens, changes for other processes, sessions by token

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims', sa.Text(), nullable=True))
        batch_op.alter_column('token_out', existing_type=sa.String(length=64), type_=sa.String(length=255), existing_nullable=True)
    # Platforms registered before claims existed keep the parties they hold.
    op.execute(
        "UPDATE platforms SET claims = (SELECT " + _concat() + " FROM parties WHERE parties.platform_id = platforms.id)"
    )
    op.create_table('changes',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('instance', sa.String(length=32), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_token', ['token_uid', 'status'], unique=False)
        batch_op.create_index('ix_sessions_evse', ['location_id', 'evse_uid', 'status'], unique=False)


def _concat() -> str:
    bind = op.get_bind()
    item = "country_code || '/' || party_id || ':' || role"
    if bind.dialect.name == "postgresql":
        return f"string_agg({item}, ',')"
    return f"group_concat({item}, ',')"


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_evse')
        batch_op.drop_index('ix_sessions_token')
    op.drop_table('changes')
    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.alter_column('token_out', existing_type=sa.String(length=255), type_=sa.String(length=64), existing_nullable=True)
        batch_op.drop_column('claims')
