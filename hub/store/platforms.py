"""Platforms (connections to other systems) and the parties they represent."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import sqlalchemy as sa

from hub.model import PartyId
from hub.store import schema
from hub.store.db import Tx
from hub.store.documents import now_us

P, PA = schema.platforms, schema.parties


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PartyRow(msgspec.Struct, frozen=True):
    party: PartyId
    role: str
    name: str
    platform_id: int | None
    updated_us: int
    business_details: str | None = None


class PlatformRow(msgspec.Struct, frozen=True):
    id: int
    name: str
    protocol: str
    version: str | None
    versions_url: str | None
    endpoints: str | None
    receives: frozenset[str]
    serves: frozenset[str]
    token_in_hash: str | None
    token_in_kind: str
    token_in_prev_hash: str | None
    token_in_prev_until_us: int | None
    token_out: str | None
    header_codec: str
    status: str
    last_ok_us: int | None
    offline_since_us: int | None


def _platform(row: Any) -> PlatformRow:
    return PlatformRow(
        id=row.id,
        name=row.name,
        protocol=row.protocol,
        version=row.version,
        versions_url=row.versions_url,
        endpoints=row.endpoints,
        receives=frozenset(filter(None, row.receives.split(","))),
        serves=frozenset(filter(None, row.serves.split(","))),
        token_in_hash=row.token_in_hash,
        token_in_kind=row.token_in_kind,
        token_in_prev_hash=row.token_in_prev_hash,
        token_in_prev_until_us=row.token_in_prev_until_us,
        token_out=row.token_out,
        header_codec=row.header_codec,
        status=row.status,
        last_ok_us=row.last_ok_us,
        offline_since_us=row.offline_since_us,
    )


def all_platforms(conn: sa.Connection) -> list[PlatformRow]:
    return [_platform(r) for r in conn.execute(sa.select(P).order_by(P.c.id))]


def get_platform(conn: sa.Connection, platform_id: int) -> PlatformRow | None:
    row = conn.execute(sa.select(P).where(P.c.id == platform_id)).first()
    return None if row is None else _platform(row)


def all_parties(conn: sa.Connection) -> list[PartyRow]:
    return [
        PartyRow(PartyId(r.country_code, r.party_id), r.role, r.name, r.platform_id, r.updated_us, r.business_details)
        for r in conn.execute(sa.select(PA).order_by(PA.c.country_code, PA.c.party_id, PA.c.role))
    ]


def create_platform(tx: Tx, *, name: str, token_in: str, token_kind: str = "A", protocol: str = "ocpi", status: str = "PLANNED") -> int:
    now = now_us()
    pid = tx.execute(
        sa.insert(P).values(
            name=name, protocol=protocol, token_in_hash=token_hash(token_in), token_in_kind=token_kind,
            status=status, created_us=now, updated_us=now,
        ).returning(P.c.id)
    ).scalar_one()
    tx.notify("platforms")
    return pid


def update_platform(tx: Tx, platform_id: int, *, quiet: bool = False, **values: Any) -> None:
    """Change columns; `receives`/`serves` take sets. `quiet` skips the notification (bookkeeping only)."""
    for name in ("receives", "serves"):
        if name in values and not isinstance(values[name], str):
            values[name] = ",".join(sorted(values[name]))
    if "token_in" in values:
        values["token_in_hash"] = token_hash(values.pop("token_in"))
    tx.execute(sa.update(P).where(P.c.id == platform_id).values(updated_us=now_us(), **values))
    if not quiet:
        tx.notify("platforms")


def delete_platform(tx: Tx, platform_id: int) -> None:
    tx.execute(sa.delete(PA).where(PA.c.platform_id == platform_id))
    tx.execute(sa.delete(P).where(P.c.id == platform_id))
    tx.notify("platforms")


def set_parties(tx: Tx, platform_id: int | None, roles: list[tuple[PartyId, str, str, str | None]]) -> None:
    """Replace the parties of a platform: (party, role, name, business_details JSON)."""
    now = now_us()
    if platform_id is not None:
        tx.execute(sa.delete(PA).where(PA.c.platform_id == platform_id))
    for party, role, name, details in roles:
        key = sa.and_(PA.c.country_code == party.country_code, PA.c.party_id == party.party_id, PA.c.role == role)
        tx.execute(sa.delete(PA).where(key))
        tx.execute(
            sa.insert(PA).values(
                country_code=party.country_code, party_id=party.party_id, role=role, platform_id=platform_id,
                name=name[:100], business_details=details, updated_us=now,
            )
        )
    tx.notify("platforms")


def touch_parties(tx: Tx, platform_id: int) -> None:
    """A status change is a ClientInfo change: its last_updated moves."""
    tx.execute(sa.update(PA).where(PA.c.platform_id == platform_id).values(updated_us=now_us()))


def ensure_local_party(tx: Tx, party: PartyId, role: str, name: str) -> None:
    """A party the hub itself represents (its own HUB role, operators whose chargers it runs)."""
    exists = tx.execute(
        sa.select(PA.c.role).where(PA.c.country_code == party.country_code, PA.c.party_id == party.party_id, PA.c.role == role)
    ).first()
    if not exists:
        set_parties(tx, None, [(party, role, name, None)])
