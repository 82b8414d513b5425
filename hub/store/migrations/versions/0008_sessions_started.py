"""sessions by their start: the partner API lists charges newest first and filters them by start and by
whether they have stopped, so the start and end times are columns (filled from the stored documents)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from datetime import datetime, timezone

from alembic import op
import msgspec
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BATCH = 1000


class _Times(msgspec.Struct):
    start_date_time: datetime
    end_date_time: datetime | None = None


def _us(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_us', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('stopped_us', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_sessions_started', ['started_us', 'country_code', 'party_id', 'id'], unique=False)
    conn = op.get_bind()
    t = sa.table('sessions', sa.column('country_code'), sa.column('party_id'), sa.column('id'), sa.column('doc', sa.LargeBinary),
                 sa.column('started_us'), sa.column('stopped_us'))
    decoder = msgspec.json.Decoder(_Times)
    update = sa.update(t).where(t.c.country_code == sa.bindparam('k0'), t.c.party_id == sa.bindparam('k1'), t.c.id == sa.bindparam('k2'))
    key = (t.c.country_code, t.c.party_id, t.c.id)
    last = None
    while True:  # in batches by primary key, so a long history is never all in memory
        query = sa.select(*key, t.c.doc).order_by(*key).limit(BATCH)
        if last is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*(sa.literal(v) for v in last)))
        rows = conn.execute(query).all()
        if not rows:
            break
        params = []
        for r in rows:
            times = decoder.decode(r.doc)
            params.append({'k0': r.country_code, 'k1': r.party_id, 'k2': r.id,
                           'started_us': _us(times.start_date_time), 'stopped_us': _us(times.end_date_time)})
        conn.execute(update, params)
        last = tuple(rows[-1][:3])


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_started')
        batch_op.drop_column('stopped_us')
        batch_op.drop_column('started_us')
