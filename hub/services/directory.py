"""Who is who: platforms, the parties they represent, roaming agreements; an in-memory snapshot.

The snapshot answers the questions asked on every request (which platform holds this token, which
platform represents that party) without a query. It is rebuilt after every change to the platform
tables, in this process at once and in other processes when their database notification arrives.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterable

import msgspec
import sqlalchemy as sa

from hub.model import PartyId
from hub.services.scopes import ADMIN_ONLY, EVENT_TYPES, Scopes
from hub.store import platforms as store
from hub.store import schema
from hub.store import webhooks as webhook_store
from hub.store.db import Database
from hub.store.platforms import PartyRow, PlatformRow, token_hash
from hub.store.secrets import Secrets

log = logging.getLogger(__name__)


class Platform(msgspec.Struct, frozen=True):
    """A connected system and the parties it speaks for (`row.token_out` decrypted)."""

    row: PlatformRow
    roles: tuple[tuple[PartyId, str], ...]

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def parties(self) -> frozenset[PartyId]:
        return frozenset(p for p, _ in self.roles)

    def has_role(self, *roles: str) -> bool:
        return any(r in roles for _, r in self.roles)

    def parties_with_role(self, *roles: str) -> list[PartyId]:
        return [p for p, r in self.roles if r in roles]

    @property
    def connected(self) -> bool:
        return self.row.status == "CONNECTED"


class Hook(msgspec.Struct, frozen=True):
    """A webhook endpoint as the fan-out and its sender see it (its secrets opened: the current one first)."""

    id: int  # its platform's: the outbox destination
    party: PartyId | None  # its credential's (None: an admin)
    admin: bool
    scopes: Scopes
    event_types: frozenset[str] | None  # None: every type the credential may read
    url: str
    format: str
    secrets: tuple[str, ...]
    status: str

    def takes(self, type_: str) -> bool:
        """Subscribed to `type_`, and allowed to read what it is about (Directory.hooks holds the enabled ones)."""
        if self.event_types is not None and type_ not in self.event_types:
            return False
        entity = EVENT_TYPES.get(type_)
        return (self.admin or type_ not in ADMIN_ONLY) and (entity is None or self.scopes.allows(entity, "read"))


class Snapshot(msgspec.Struct, frozen=True):
    platforms: dict[int, Platform]
    parties: list[PartyRow]
    by_token: dict[str, int]
    by_party: dict[PartyId, list[PartyRow]]
    agreements: frozenset[tuple[PartyId, PartyId]]  # (cpo, emsp)
    hooks: tuple[Hook, ...] = ()
    hook_by_id: dict[int, Hook] = {}


def _load(conn: sa.Connection, secrets: Secrets) -> Snapshot:
    rows = [msgspec.structs.replace(r, token_out=secrets.open(r.token_out)) if r.token_out else r for r in store.all_platforms(conn)]
    parties = store.all_parties(conn)
    roles: dict[int, list[tuple[PartyId, str]]] = {}
    by_party: dict[PartyId, list[PartyRow]] = {}
    for p in parties:
        by_party.setdefault(p.party, []).append(p)
        if p.platform_id is not None:
            roles.setdefault(p.platform_id, []).append((p.party, p.role))
    now = time.time() * 1e6
    by_token: dict[str, int] = {}
    for r in rows:
        if r.token_in_hash and r.status != "SUSPENDED":
            by_token[r.token_in_hash] = r.id
        if r.token_in_prev_hash and (r.token_in_prev_until_us or 0) > now:
            by_token[r.token_in_prev_hash] = r.id
    a = schema.agreements
    agreements = frozenset(
        (PartyId(x.cpo_country_code, x.cpo_party_id), PartyId(x.emsp_country_code, x.emsp_party_id))
        for x in conn.execute(sa.select(a))
    )
    hooks = tuple(_hook(h, secrets, now) for h in webhook_store.hooks(conn))
    return Snapshot(
        platforms={r.id: Platform(r, tuple(roles.get(r.id, ()))) for r in rows},
        parties=parties,
        by_token=by_token,
        by_party=by_party,
        agreements=agreements,
        hooks=tuple(h for h in hooks if h.status == "CONNECTED"),
        hook_by_id={h.id: h for h in hooks},
    )


def _hook(row: webhook_store.HookRow, secrets: Secrets, now: float) -> Hook:
    e = row.endpoint
    keys = [secrets.open(e.secret)]
    if e.prev_secret and (e.prev_until_us or 0) > now:
        keys.append(secrets.open(e.prev_secret))
    types = None if e.event_types == ("*",) else frozenset(e.event_types)
    return Hook(e.id, row.party, row.admin, Scopes.parse(row.scopes), types, e.url, e.format, tuple(keys), e.status)


class Directory:
    def __init__(self, db: Database, hub_party: PartyId, secrets: Secrets, policy: str = "open") -> None:
        self.db = db
        self.secrets = secrets
        self.hub_party = hub_party
        self.policy = policy
        self.snap = Snapshot({}, [], {}, {}, frozenset())
        self._reads = 0  # refreshes started
        self._shown = 0  # the newest refresh whose snapshot is in place
        self._refreshing: set[asyncio.Task] = set()
        db.subscribe(self._on_change)

    async def refresh(self) -> None:
        """Reload from the store. Refreshes may overlap (a change noted while one reads must not be lost): the
        snapshot of a read that began later is never replaced by one that began earlier."""
        self._reads += 1
        mine = self._reads
        snap = await self.db.read(lambda conn: _load(conn, self.secrets))
        if mine > self._shown:
            self._shown, self.snap = mine, snap

    def _on_change(self, topic: str, _payload: str) -> None:
        if topic == "platforms":
            task = asyncio.get_running_loop().create_task(self.refresh())
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    # --- questions ---------------------------------------------------------------------------

    async def platform_for_token(self, token: str) -> Platform | None:
        """Constant-time on the secret: the lookup is by its hash, and the hashes are compared with compare_digest."""
        digest = token_hash(token)
        pid = self.snap.by_token.get(digest)
        if pid is None:
            await self.refresh()  # a token issued a moment ago in another process
            pid = self.snap.by_token.get(digest)
            if pid is None:
                return None
        platform = self.snap.platforms[pid]
        known = (platform.row.token_in_hash or "", platform.row.token_in_prev_hash or "")
        return platform if any(hmac.compare_digest(digest, k) for k in known) else None

    def platform(self, platform_id: int) -> Platform | None:
        return self.snap.platforms.get(platform_id)

    def platforms(self) -> Iterable[Platform]:
        return self.snap.platforms.values()

    def hooks(self) -> tuple[Hook, ...]:
        """The enabled webhook endpoints."""
        return self.snap.hooks

    def hook(self, endpoint_id: int) -> Hook | None:
        return self.snap.hook_by_id.get(endpoint_id)

    def party_rows(self, party: PartyId) -> list[PartyRow]:
        return self.snap.by_party.get(party, [])

    def platform_of(self, party: PartyId, role: str | None = None) -> Platform | None:
        """The platform that speaks for a party (None: unknown, or a party the hub itself runs)."""
        for row in self.party_rows(party):
            if (role is None or row.role == role) and row.platform_id is not None:
                return self.snap.platforms.get(row.platform_id)
        return None

    def is_local(self, party: PartyId) -> bool:
        """A party whose data the hub itself is the source of (its own HUB party, operators of its chargers)."""
        return any(row.platform_id is None for row in self.party_rows(party))

    def known(self, party: PartyId) -> bool:
        return bool(self.party_rows(party))

    def agrees(self, cpo: PartyId, emsp: PartyId) -> bool:
        return self.policy == "open" or (cpo, emsp) in self.snap.agreements

    def client_infos(self) -> list[tuple[PartyRow, str]]:
        """Every party the hub knows with its connection status, for HubClientInfo."""
        out = []
        for row in self.snap.parties:
            if row.platform_id is None:
                status = "CONNECTED"
            else:
                status = self.snap.platforms[row.platform_id].row.status
            out.append((row, status))
        return out
