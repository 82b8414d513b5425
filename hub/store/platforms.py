"""Platforms (connections to other systems) and the parties they represent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.model import PartyId
from hub.store import schema
from hub.store.db import Tx
from hub.store.documents import now_us
from hub.store.secrets import Secrets, sealed

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
    token_out: str | None  # encrypted (hub/store/secrets.py); the directory decrypts
    header_codec: str
    status: str
    last_ok_us: int | None
    offline_since_us: int | None
    claims: frozenset[tuple[PartyId, str]] | None  # the parties and roles it may hold; None: not fixed yet
    profile: str | None = None  # the rules of an upstream hub (gireve, emobi); None: a bilateral peer
    tenants: frozenset[PartyId] | None = None  # an upstream hub: the hub's parties it carries


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
        claims=None if row.claims is None else parse_claims(row.claims),
        profile=row.profile,
        tenants=None if row.tenants is None else frozenset(PartyId.parse(p) for p in row.tenants.split(",") if p),
    )


Claims = frozenset[tuple[PartyId, str]]


def claims_text(claims: Iterable[tuple[PartyId, str]]) -> str:
    return ",".join(sorted(f"{party}:{role}" for party, role in claims))


def parse_claims(text: str) -> Claims:
    """`CC/PID:ROLE,...` (the form of the `claims` column and of the CLI)."""
    out = set()
    for item in filter(None, (x.strip() for x in text.split(","))):
        party, sep, role = item.partition(":")
        if not sep or not role:
            raise ValueError(f"{item!r}: expected CC/PID:ROLE")
        out.add((PartyId.parse(party), role.upper()))
    return frozenset(out)


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


def create_platform(
    tx: Tx, *, name: str, token_in: str, token_kind: str = "A", protocol: str = "ocpi", status: str = "PLANNED",
    claims: Iterable[tuple[PartyId, str]] | None = None,
) -> int:
    now = now_us()
    pid = tx.execute(
        sa.insert(P).values(
            name=name, protocol=protocol, token_in_hash=token_hash(token_in), token_in_kind=token_kind,
            status=status, created_us=now, updated_us=now, claims=None if claims is None else claims_text(claims),
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
    if "claims" in values and values["claims"] is not None and not isinstance(values["claims"], str):
        values["claims"] = claims_text(values["claims"])
    if "tenants" in values and values["tenants"] is not None and not isinstance(values["tenants"], str):
        values["tenants"] = ",".join(sorted(str(p) for p in values["tenants"]))
    tx.execute(sa.update(P).where(P.c.id == platform_id).values(updated_us=now_us(), **values))
    if not quiet:
        tx.notify("platforms")


def delete_platform(tx: Tx, platform_id: int) -> None:
    tx.execute(sa.delete(PA).where(PA.c.platform_id == platform_id))
    tx.execute(sa.delete(P).where(P.c.id == platform_id))
    tx.notify("platforms")


class Holder(msgspec.Struct, frozen=True):
    party: PartyId
    role: str
    platform_id: int | None  # None: a party the hub hosts
    platform_status: str | None


def holders(conn: sa.Connection, parties: Iterable[PartyId]) -> list[Holder]:
    """Who holds these party codes now (in any role), with the status of their platforms."""
    codes = sorted({(p.country_code, p.party_id) for p in parties})
    if not codes:
        return []
    rows = conn.execute(
        sa.select(PA.c.country_code, PA.c.party_id, PA.c.role, PA.c.platform_id, P.c.status)
        .select_from(PA.outerjoin(P, P.c.id == PA.c.platform_id))
        .where(sa.tuple_(PA.c.country_code, PA.c.party_id).in_(codes))
    )
    return [Holder(PartyId(r.country_code, r.party_id), r.role, r.platform_id, r.status) for r in rows]


def drop_parties(tx: Tx, platform_id: int, parties: Iterable[PartyId]) -> None:
    """A platform gives up party codes (another invitation takes them over); it goes when it holds none."""
    for party in parties:
        tx.execute(sa.delete(PA).where(PA.c.platform_id == platform_id, PA.c.country_code == party.country_code,
                                       PA.c.party_id == party.party_id))
    if not tx.execute(sa.select(PA.c.role).where(PA.c.platform_id == platform_id).limit(1)).first():
        tx.execute(sa.delete(P).where(P.c.id == platform_id))
    tx.notify("platforms")


def set_parties(tx: Tx, platform_id: int | None, roles: list[tuple[PartyId, str, str, str | None]], keep_others: bool = False) -> None:
    """Replace the parties of a platform (or add parties the hub hosts, platform None): (party, role, name,
    business_details JSON). The caller has made sure nobody else holds them. `keep_others`: replace only these (an
    upstream hub registering again keeps the parties behind it)."""
    now = now_us()
    if platform_id is not None:
        mine = PA.c.platform_id == platform_id
        if keep_others:
            mine = sa.and_(mine, _in_parties([p for p, _, _, _ in roles]))
        tx.execute(sa.delete(PA).where(mine))
    for party, role, name, details in roles:
        if platform_id is None:
            key = sa.and_(PA.c.country_code == party.country_code, PA.c.party_id == party.party_id, PA.c.role == role)
            tx.execute(sa.delete(PA).where(key, PA.c.platform_id.is_(None)))
        tx.execute(
            sa.insert(PA).values(
                country_code=party.country_code, party_id=party.party_id, role=role, platform_id=platform_id,
                name=name[:100], business_details=details, updated_us=now,
            )
        )
    tx.notify("platforms")


def seal_stored(tx: Tx, secrets: Secrets) -> None:
    """Encrypt outgoing tokens stored before encryption existed."""
    for row in tx.execute(sa.select(P.c.id, P.c.token_out).where(P.c.token_out.is_not(None))):
        if not sealed(row.token_out):
            tx.execute(sa.update(P).where(P.c.id == row.id).values(token_out=secrets.seal(row.token_out)))


def touch_parties(tx: Tx, platform_id: int) -> None:
    """A status change is a ClientInfo change: its last_updated moves."""
    tx.execute(sa.update(PA).where(PA.c.platform_id == platform_id).values(updated_us=now_us()))


def ensure_local_party(tx: Tx, party: PartyId, role: str, name: str) -> bool:
    """A party the hub itself represents (its own HUB role, operators whose chargers it runs). False when a
    platform holds the party code: the hub cannot host a party that another system speaks for."""
    found = holders(tx.conn, [party])
    if any(h.platform_id is not None for h in found):
        return False
    if not any(h.role == role for h in found):  # several processes may do this at once: the first insert wins
        insert = (sqlite_insert if tx.dialect == "sqlite" else pg_insert)(PA).values(
            country_code=party.country_code, party_id=party.party_id, role=role, platform_id=None, name=name[:100],
            updated_us=now_us())
        tx.execute(insert.on_conflict_do_nothing())
        tx.notify("platforms")
    return True


def take_parties(tx: Tx, platform_id: int, roles: list[tuple[PartyId, str, str]]) -> list[PartyId]:
    """Parties a roaming platform speaks for as it meets them (a Hubject operator, a CPO behind an upstream hub), unless
    another platform holds them or the hub hosts them: the ones taken."""
    taken = []
    for party, role, name in roles:
        held = holders(tx.conn, [party])
        if any(h.platform_id != platform_id for h in held):
            continue
        if any(h.role == role for h in held):
            continue
        tx.execute(sa.insert(PA).values(country_code=party.country_code, party_id=party.party_id, role=role,
                                        platform_id=platform_id, name=name[:100], updated_us=now_us()))
        taken.append(party)
    if taken:
        tx.notify("platforms")
    return taken


def _in_parties(parties: list[PartyId]) -> sa.ColumnElement[bool]:
    codes = sorted({(p.country_code, p.party_id) for p in parties})
    return sa.tuple_(PA.c.country_code, PA.c.party_id).in_(codes) if codes else sa.false()
