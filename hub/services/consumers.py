"""Partner API consumers: credentials that act for one party, their tokens, scopes and quotas, and the view of
the hub's data each one gets.

A credential's state lives only in the database and is read on every request (a primary-key lookup), so a
revocation made by any process on the same database applies at once everywhere. Tokens are opaque random
strings; only their hashes are stored.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import time

import msgspec

from hub.model import PartyId
from hub.services.directory import Directory, Platform
from hub.services.errors import HubError, Invalid, NotFound, NotPermitted
from hub.services.scopes import Scopes
from hub.settings import Settings
from hub.store import consumers as store
from hub.store import webhooks as webhook_store
from hub.store.consumers import ConsumerRow, digest
from hub.store.db import Database, Tx
from hub.store.platforms import PlatformRow

log = logging.getLogger(__name__)

HOSTED = 0  # the id of the platform view of a party the hub hosts (no platform speaks for it; ids start at 1)
_NO_SECRET = digest("")  # compared against when the client id is unknown, so both cases cost the same


class Refused(HubError):
    """Unknown or revoked credentials, a wrong secret, or an unknown, spent or expired token."""


class Consumer(msgspec.Struct, frozen=True):
    client_id: str
    name: str
    party: PartyId | None  # None for an admin
    admin: bool
    scopes: Scopes
    rate_limit: int
    rate_window: int  # seconds
    created_us: int
    revoked_us: int | None


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    access_expires_us: int
    refresh_token: str
    refresh_expires_us: int


class Quota(msgspec.Struct, frozen=True):
    allowed: bool
    limit: int
    remaining: int
    resets_in: int  # seconds until the window starts again (rounded up)


def _consumer(row: ConsumerRow) -> Consumer:
    return Consumer(row.client_id, row.name, row.party, row.admin, Scopes.parse(row.scopes), row.rate_limit,
                    row.rate_window, row.created_us, row.revoked_us)


def _now_us() -> int:
    return time.time_ns() // 1000


class Consumers:
    def __init__(self, db: Database, directory: Directory, settings: Settings) -> None:
        self.db = db
        self.directory = directory
        self.access_ttl_us = int(settings.api_access_ttl * 1e6)
        self.refresh_ttl_us = int(settings.api_refresh_ttl * 1e6)

    # --- credentials -------------------------------------------------------------------------

    async def create(
        self, party: PartyId | None, scopes: str, name: str | None = None, rate_limit: int = 1000, rate_window: int = 600,
        admin: bool = False,
    ) -> tuple[str, str]:
        """A new credential: (client id, secret). The secret is shown this once; only its hash is kept. A
        credential acts for a party the hub knows (one it hosts or one an OCPI platform holds), or, as admin,
        for the hub operator (no party)."""
        parsed = Scopes.parse(scopes)
        if admin and party is not None:
            raise Invalid("an admin credential acts for the hub operator and sees every party: give no party", "party")
        if not admin:
            if party is None:
                raise Invalid("a credential acts for one party (CC/PID), or is an admin", "party")
            await self.directory.refresh()  # a party added a moment ago, by another process
            if not self.directory.known(party):
                raise Invalid(f"{party} is not a party the hub knows (one it hosts, or one an OCPI platform holds)", "party")
        if not 1 <= rate_limit <= 1_000_000_000 or not 1 <= rate_window <= 31 * 86_400:
            raise Invalid("the rate limit is 1 or more requests per window of 1 s to 31 days", "rate_limit")
        client_id = "hub_" + secrets.token_hex(12)
        secret = secrets.token_urlsafe(32)
        row = ConsumerRow(client_id, (name or ("admin" if admin else str(party)))[:100], party, admin, str(parsed), digest(secret),
                          rate_limit, rate_window, _now_us(), None)
        await self.db.write(lambda tx: store.insert(tx, row))
        log.info("partner API credential %s created for %s (scopes %s)", client_id, party or "the hub operator", parsed)
        return client_id, secret

    async def listing(self) -> list[Consumer]:
        return [_consumer(r) for r in await self.db.read(store.listing)]

    async def get(self, client_id: str) -> Consumer | None:
        row = await self.db.read(lambda conn: store.get(conn, client_id))
        return None if row is None else _consumer(row)

    async def revoke(self, client_id: str) -> None:
        """The credential and every token issued to it stop working at once, in every process."""
        now = _now_us()

        def op(tx: Tx) -> bool:
            if not store.revoke(tx, client_id, now):
                return False
            webhook_store.revoke_client(tx, client_id, "its credential was revoked")
            return True

        if not await self.db.write(op):
            raise NotFound(f"no credential {client_id}")
        log.info("partner API credential %s revoked", client_id)

    # --- tokens ------------------------------------------------------------------------------

    async def issue(self, client_id: str, secret: str) -> TokenPair:
        """A token pair for a client id and secret (compared in constant time)."""
        row = await self.db.read(lambda conn: store.get(conn, client_id)) if len(client_id) <= 64 else None
        matches = hmac.compare_digest(digest(secret), row.secret_hash if row else _NO_SECRET)
        if row is None or not matches or row.revoked_us is not None:
            raise Refused("unknown client id or wrong secret, or the credential is revoked")
        pair, tokens = self._pair()
        now = _now_us()
        await self.db.write(lambda tx: store.add_tokens(tx, client_id, tokens, now))
        return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for a live refresh token, which is spent by this: a second use fails, also when two
        requests race with it."""
        hashed = digest(refresh_token)
        pair, tokens = self._pair()
        now = _now_us()

        def op(tx: Tx) -> bool:  # no exception inside: a refusal must not spoil the other writes of its batch
            client_id = store.spend_refresh(tx, hashed, now)
            if client_id is not None:
                store.add_tokens(tx, client_id, tokens, now)
            return client_id is not None

        if not await self.db.write(op):
            raise Refused("unknown, expired or already used refresh token")
        return pair

    def _pair(self) -> tuple[TokenPair, list[tuple[str, str, int]]]:
        now = _now_us()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        pair = TokenPair(access, now + self.access_ttl_us, refresh, now + self.refresh_ttl_us)
        return pair, [(digest(access), "access", pair.access_expires_us), (digest(refresh), "refresh", pair.refresh_expires_us)]

    async def authenticate(self, access_token: str) -> Consumer | None:
        """The consumer of a live access token, looked up in the database on every request."""
        if not access_token or len(access_token) > 256:
            return None
        hashed = digest(access_token)
        found = await self.db.read(lambda conn: store.by_access_token(conn, hashed))
        if found is None:
            return None
        row, stored_hash, expires_us = found
        if not hmac.compare_digest(hashed, stored_hash) or expires_us <= _now_us() or row.revoked_us is not None:
            return None
        return _consumer(row)

    async def quota(self, consumer: Consumer) -> Quota:
        """Count this request against the consumer's fixed-window quota (one atomic statement, shared by every
        process on the database)."""
        window_us = consumer.rate_window * 1_000_000
        now = _now_us()
        start, used = await self.db.write(lambda tx: store.take_quota(tx, consumer.client_id, window_us, now))
        resets_in = max(1, math.ceil((start + window_us - now) / 1e6))
        return Quota(used <= consumer.rate_limit, consumer.rate_limit, max(0, consumer.rate_limit - used), resets_in)

    # --- visibility --------------------------------------------------------------------------

    def reader(self, consumer: Consumer) -> Platform | None:
        """What the consumer may see (None for an admin: everything): reader_of its party."""
        if consumer.admin or consumer.party is None:
            return None
        return reader_of(self.directory, consumer.party)

    def commands(self, consumer: Consumer, owner: PartyId, noun: str) -> None:
        """Only its own CPO's credential (or an admin) commands a charge point or charge (NotPermitted otherwise)."""
        if not consumer.admin and consumer.party != owner:
            raise NotPermitted(f"only the {noun}'s CPO may command it")

    def holder(self, consumer: Consumer) -> PartyId:
        """The party whose own fields (hub/services/extras.py) a consumer keeps: its own; an admin's, the hub's."""
        return consumer.party or self.directory.hub_party

    def writer(self, consumer: Consumer, named: PartyId | None, role: str = "CPO") -> PartyId:
        """The party a write of its own data acts for, as its owner: the consumer's own party, or for an admin the
        party the request names (`named`: in the body, or the owner in the object's id). Only a party the hub hosts
        in `role` has that data written here (a CPO its Locations, an eMSP its Tokens); one whose data comes from
        its own OCPI platform writes it there (NotPermitted). Another party's object is NotFound for a party's
        credential: it never learns it exists."""
        article, data = _WRITES[role]
        party = named if consumer.admin else consumer.party
        if party is None:
            raise Invalid("an admin credential writes for a party the hub hosts: name it (CC/PID)", "party")
        rows = self.directory.party_rows(party)
        if any(r.platform_id is not None for r in rows):
            raise NotPermitted(f"{party}'s {data} come from its own OCPI platform: change them there")
        if not any(r.role == role for r in rows):
            raise NotPermitted(f"{party} is not {article} the hub hosts: it has no {data} to write")
        if not consumer.admin and named is not None and named != party:
            raise NotFound("no such object")
        return party


_WRITES = {"CPO": ("a CPO", "locations"), "EMSP": ("an eMSP", "tokens")}  # role -> (as said, the data it writes)


def reader_of(directory: Directory, party: PartyId) -> Platform:
    """What a credential acting for `party` may see, as the hub's visibility rules take it: the platform that holds
    the party, with only that party's roles (a platform holding several parties shows each credential only its own
    party's share); for a party the hub hosts, a view of its own (id HOSTED). A party no longer known sees nothing."""
    rows = directory.party_rows(party)
    held = next((r for r in rows if r.platform_id is not None), None)
    if held is not None and (platform := directory.platform(held.platform_id)) is not None:  # type: ignore[arg-type]
        return Platform(platform.row, tuple((p, r) for p, r in platform.roles if p == party))
    roles = tuple((party, r.role) for r in rows if r.platform_id is None)
    return Platform(_hosted_row(rows[0].name if rows else str(party), roles), roles)


def _hosted_row(name: str, roles: tuple[tuple[PartyId, str], ...]) -> PlatformRow:
    return PlatformRow(
        id=HOSTED, name=name, protocol="hub", version=None, versions_url=None, endpoints=None, receives=frozenset(),
        serves=frozenset(), token_in_hash=None, token_in_kind="C", token_in_prev_hash=None, token_in_prev_until_us=None,
        token_out=None, header_codec="base64", status="CONNECTED", last_ok_us=None, offline_since_us=None,
        claims=frozenset(roles),
    )
