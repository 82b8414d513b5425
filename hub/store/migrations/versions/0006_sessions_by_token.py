"""sessions found by token and its eMSP: the index holds all four columns the concurrent-session check asks for

Without them SQLite (no statistics on a young database) chose ix_sessions_emsp and read every Session of the
eMSP for each authorization, a cost that grew with the eMSP's history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_token')
        batch_op.create_index('ix_sessions_token', ['token_uid', 'status', 'emsp_country_code', 'emsp_party_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_token')
        batch_op.create_index('ix_sessions_token', ['token_uid', 'status'], unique=False)
