"""Partner API consumers (credentials), their tokens and their quotas: the SQL.

Secrets and tokens are 256-bit random strings, so a plain sha256 is their stored form (a slow KDF protects
guessable passwords, which these are not) and the lookup is by that hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.model import PartyId
from hub.store import schema
from hub.store.db import Tx

C, T, Q = schema.consumers, schema.consumer_tokens, schema.consumer_quota


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ConsumerRow(msgspec.Struct, frozen=True):
    client_id: str
    name: str
    party: PartyId | None  # None: an admin, acting for the hub operator
    admin: bool
    scopes: str
    secret_hash: str
    rate_limit: int
    rate_window: int
    created_us: int
    revoked_us: int | None


def _row(r: Any) -> ConsumerRow:
    party = PartyId(r.country_code, r.party_id) if r.country_code else None
    return ConsumerRow(r.client_id, r.name, party, bool(r.admin), r.scopes, r.secret_hash, r.rate_limit, r.rate_window,
                       r.created_us, r.revoked_us)


def insert(tx: Tx, row: ConsumerRow) -> None:
    values = msgspec.structs.asdict(row)
    party = values.pop("party")
    tx.execute(sa.insert(C).values(**values, country_code=party and party.country_code, party_id=party and party.party_id))


def get(conn: sa.Connection, client_id: str) -> ConsumerRow | None:
    r = conn.execute(sa.select(C).where(C.c.client_id == client_id)).first()
    return None if r is None else _row(r)


def listing(conn: sa.Connection) -> list[ConsumerRow]:
    return [_row(r) for r in conn.execute(sa.select(C).order_by(C.c.created_us, C.c.client_id))]


def revoke(tx: Tx, client_id: str, now: int) -> bool:
    """The consumer stops working and its tokens go; False when there is no such consumer."""
    found = tx.execute(sa.select(C.c.revoked_us).where(C.c.client_id == client_id)).first()
    if found is None:
        return False
    if found.revoked_us is None:
        tx.execute(sa.update(C).where(C.c.client_id == client_id).values(revoked_us=now))
    tx.execute(sa.delete(T).where(T.c.client_id == client_id))
    return True


def add_tokens(tx: Tx, client_id: str, tokens: list[tuple[str, str, int]], now: int) -> None:
    """(hash, kind, expires_us) for one consumer; its expired tokens go at the same time, so the table holds
    about one live pair per client and issuing."""
    tx.execute(sa.delete(T).where(T.c.client_id == client_id, T.c.expires_us <= now))
    tx.execute(sa.insert(T), [{"token_hash": h, "client_id": client_id, "kind": k, "expires_us": e, "created_us": now}
                              for h, k, e in tokens])


def spend_refresh(tx: Tx, token_hash: str, now: int) -> str | None:
    """Mark a live refresh token used, once: the client id, or None (unknown, expired, already spent, or its
    consumer revoked). One conditional UPDATE, so of two requests racing with one token exactly one wins (on
    PostgreSQL the second waits for the first's row lock and then finds the token spent)."""
    live = sa.select(C.c.client_id).where(C.c.client_id == T.c.client_id, C.c.revoked_us.is_(None)).exists()
    spent = tx.execute(
        sa.update(T).where(T.c.token_hash == token_hash, T.c.kind == "refresh", T.c.spent_us.is_(None), T.c.expires_us > now, live)
        .values(spent_us=now).returning(T.c.client_id)
    ).first()
    return None if spent is None else spent.client_id


def by_access_token(conn: sa.Connection, token_hash: str) -> tuple[ConsumerRow, str, int] | None:
    """The consumer of an access token with the stored hash and expiry (the caller checks both)."""
    r = conn.execute(
        sa.select(C, T.c.token_hash.label("t_hash"), T.c.expires_us.label("t_expires"))
        .select_from(T.join(C, C.c.client_id == T.c.client_id))
        .where(T.c.token_hash == token_hash, T.c.kind == "access")
    ).first()
    return None if r is None else (_row(r), r.t_hash, r.t_expires)


def take_quota(tx: Tx, client_id: str, window_us: int, now: int) -> tuple[int, int]:
    """Count one request in the consumer's fixed window, starting a new window when the last has passed:
    (window_start_us, requests in it including this one). One statement (an upsert with RETURNING), so
    several processes counting at once never lose a request or reset a window twice."""
    insert_ = (sqlite_insert if tx.dialect == "sqlite" else pg_insert)(Q)
    passed = Q.c.window_start_us + window_us <= now  # the stored row, before this update
    statement = insert_.values(client_id=client_id, window_start_us=now, used=1).on_conflict_do_update(
        index_elements=[Q.c.client_id],
        set_={"window_start_us": sa.case((passed, now), else_=Q.c.window_start_us),
              "used": sa.case((passed, 1), else_=Q.c.used + 1)},
    ).returning(Q.c.window_start_us, Q.c.used)
    r = tx.execute(statement).one()
    return r.window_start_us, r.used
