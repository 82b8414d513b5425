"""Connections and their life cycle: invitation, registration, offline and back, unregistration.

A status change of a platform is a ClientInfo change of each party it represents, which every other
connected platform hears about. A platform that comes back gets what it missed: the current state of
every object it should have that changed since the last successful exchange (the re-sync), replacing the
events it could not receive.
"""

from __future__ import annotations

import logging
from secrets import token_urlsafe
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services import visibility
from hub.services.directory import Directory, Platform
from hub.services.errors import Invalid, NotRegistered
from hub.services.webhooks import Webhooks
from hub.store import documents as docs
from hub.store import locations, outbox
from hub.store import platforms as store
from hub.store.webhooks import PROTOCOL as WEBHOOK
from hub.store.db import Database, Tx
from hub.store.documents import from_us, now_us
from hub.store.secrets import Secrets

log = logging.getLogger(__name__)

ReturnHook = Callable[[Platform, int | None], Awaitable[None]]  # (platform, last_ok_us) -> pull what it missed

RESYNC_KINDS = {"location": docs.LOCATION, "tariff": docs.TARIFF, "token": docs.TOKEN, "session": docs.SESSION, "cdr": docs.CDR}


def new_token() -> str:
    """A credentials token: 43 URL-safe characters (256 bits), within OCPI's printable-ASCII string(64)."""
    return token_urlsafe(32)


class Parties:
    def __init__(self, db: Database, directory: Directory, secrets: Secrets, webhooks: Webhooks) -> None:
        self.db = db
        self.directory = directory
        self.secrets = secrets
        self.webhooks = webhooks
        self.on_return: list[ReturnHook] = []

    async def _write(self, op: Callable[[Tx], object]) -> object:
        result = await self.db.write(op)
        await self.directory.refresh()
        return result

    # --- set-up ------------------------------------------------------------------------------

    async def invite(self, claims: list[tuple[PartyId, str]], name: str | None = None) -> tuple[int, str]:
        """A new platform that will register with token A and may hold exactly `claims` (party, role); returns
        (platform id, token A). A party code the hub hosts, or one a registered platform holds, is refused;
        an earlier invitation not yet used, or a platform that unregistered, gives the code up."""
        if not claims:
            raise Invalid("an invitation names at least one party and role")
        token = new_token()
        label = name or ", ".join(sorted({str(p) for p, _ in claims}))
        parties = {p for p, _ in claims}

        def op(tx: Tx) -> int:
            for holder in store.holders(tx.conn, parties):
                if holder.platform_id is None:
                    raise Invalid(f"{holder.party} is a party the hub hosts ({holder.role})")
                if holder.platform_status in ("PLANNED", "SUSPENDED"):
                    store.drop_parties(tx, holder.platform_id, [holder.party])
                else:
                    raise Invalid(f"{holder.party} is held by platform {holder.platform_id} ({holder.platform_status})")
            pid = store.create_platform(tx, name=label, token_in=token, token_kind="A", claims=claims)
            store.set_parties(tx, pid, [(party, role, label, None) for party, role in sorted(claims)])
            return pid

        return await self._write(op), token  # type: ignore[return-value]

    async def outgoing(
        self, name: str, versions_url: str, token_a: str, claims: list[tuple[PartyId, str]] | None = None, *,
        into: int | None = None, **values: object,
    ) -> tuple[int, str]:
        """A platform the hub registers with (it gave us token A): token B is active before we POST it. Its
        claims are fixed by the operator, or by what it declares in that registration (never later). `values`:
        what the protocol learned before (a 2.1.1 peer's endpoints, which tell the hub its role). `into`: a platform
        registering again (a new token the way of a peer without PUT credentials): its tokens replaced, the rest kept."""
        token_b = new_token()

        def op(tx: Tx) -> int:
            if into is not None:
                store.update_platform(tx, into, token_in=token_b, token_in_kind="B", token_in_prev_hash=None)
                pid = into
            else:
                pid = store.create_platform(tx, name=name, token_in=token_b, token_kind="B", claims=claims)
            store.update_platform(tx, pid, versions_url=versions_url, token_out=self.secrets.seal(token_a), **values)
            return pid

        return await self._write(op), token_b  # type: ignore[return-value]

    async def take(self, platform_id: int, roles: list[tuple[PartyId, str, str]]) -> None:
        """Parties an upstream hub speaks for, met in its requests: see hub/store/platforms.take_parties."""
        await self._write(lambda tx: store.take_parties(tx, platform_id, roles))

    async def forget(self, platform_id: int) -> None:
        await self._write(lambda tx: store.delete_platform(tx, platform_id))

    async def ensure_local(self, party: PartyId, role: str, name: str) -> None:
        """A party the hub hosts (its own HUB party, operators whose chargers it runs)."""

        def op(tx: Tx) -> None:
            if not store.ensure_local_party(tx, party, role, name):
                raise Invalid(f"{party} is a party another platform speaks for: the hub cannot host it")

        await self._write(op)

    async def update(self, platform_id: int, **values: object) -> None:
        await self._write(lambda tx: store.update_platform(tx, platform_id, **values))

    def check_claims(self, platform: Platform, roles: list[tuple[PartyId, str]]) -> None:
        """What a platform declares must be within its claims, and nobody else's (from the snapshot; the
        registration checks again inside its transaction)."""
        _check_claims(platform.id, platform.row.claims, roles, [(r.party, r.platform_id) for r in self.directory.snap.parties])

    async def registered(
        self, platform_id: int, *, roles: list[tuple[PartyId, str, str, str | None]], **values: object
    ) -> None:
        """Registration finished: store what the handshake learned, go CONNECTED, tell the others."""
        if "token_out" in values:
            values["token_out"] = self.secrets.seal(str(values["token_out"]))

        def op(tx: Tx) -> None:
            row = store.get_platform(tx.conn, platform_id)
            if row is None:
                raise Invalid("the platform is gone")
            declared = [(party, role) for party, role, _, _ in roles]
            held = [(h.party, h.platform_id) for h in store.holders(tx.conn, [p for p, _ in declared])]
            _check_claims(platform_id, row.claims, declared, held)
            claims = row.claims if row.claims is not None else frozenset(declared)
            store.update_platform(tx, platform_id, status="CONNECTED", last_ok_us=now_us(), offline_since_us=None,
                                  claims=claims, **values)
            store.set_parties(tx, platform_id, roles, keep_others=row.tenants is not None)  # an upstream keeps those behind it

        await self._write(op)
        platform = self.directory.platform(platform_id)
        if platform:

            def events(tx: Tx) -> None:
                self._announce(tx, platform)
                self._clientinfo_to(tx, platform)

            await self.db.write(events)

    async def unregister(self, platform: Platform) -> None:
        """Credentials DELETE: no more traffic either way; the parties are SUSPENDED for the others. A platform that
        never registered (token A) has nothing to end."""
        if platform.row.token_in_kind == "A":
            raise NotRegistered("not registered")
        platform_id = platform.id

        def op(tx: Tx) -> None:
            store.update_platform(tx, platform_id, status="SUSPENDED", token_in_hash=None, token_out=None, token_in_prev_hash=None)
            store.touch_parties(tx, platform_id)
            outbox.skip_open(tx, platform_id, "unregistered")

        await self._write(op)
        await self._announce_now(platform_id)

    # --- liveness ----------------------------------------------------------------------------

    async def went_offline(self, platform_id: int, reason: str) -> None:
        platform = self.directory.platform(platform_id)
        if platform is None or platform.row.status != "CONNECTED":
            return
        log.warning("platform %s (%s) is OFFLINE: %s", platform_id, platform.row.name, reason)

        def op(tx: Tx) -> None:
            store.update_platform(tx, platform_id, status="OFFLINE", offline_since_us=now_us())
            store.touch_parties(tx, platform_id)
            dropped = outbox.to_stale(tx, platform_id, f"offline: {reason}")
            log.info("platform %s: %d waiting events dropped; their objects are sent as they are when it is back", platform_id, dropped)

        await self._write(op)
        await self._announce_now(platform_id)

    async def came_back(self, platform_id: int) -> None:
        """An OFFLINE platform answers again: CONNECTED; it gets the current state of every object that changed
        for it meanwhile (its stale objects) and what stayed queued, and the hub pulls what it missed."""
        platform = self.directory.platform(platform_id)
        if platform is None or platform.row.status != "OFFLINE":
            return
        since = platform.row.last_ok_us
        log.info("platform %s (%s) is back; sending what it missed, pulling changes since %s", platform_id, platform.row.name,
                 since and from_us(since))

        def op(tx: Tx) -> None:
            store.update_platform(tx, platform_id, status="CONNECTED", offline_since_us=None, last_ok_us=now_us())
            store.touch_parties(tx, platform_id)
            tx.notify("outbox", str(platform_id))  # its lane wakes: stale objects and queued events go out

        await self._write(op)
        platform = self.directory.platform(platform_id)
        if platform is None:
            return

        def events(tx: Tx) -> None:
            self._announce(tx, platform)
            self._clientinfo_to(tx, platform)

        await self.db.write(events)
        for hook in self.on_return:
            try:
                await hook(platform, since)
            except Exception:
                log.exception("re-sync from platform %s failed", platform_id)

    async def touch(self, platform_id: int) -> None:
        """A successful exchange (bookkeeping only, no notification)."""
        await self.db.write(lambda tx: store.update_platform(tx, platform_id, quiet=True, last_ok_us=now_us()))

    async def resync(self, platform_id: int, since_us: int | None) -> None:
        platform = self.directory.platform(platform_id)
        if platform is not None:
            await self.db.write(lambda tx: self._resync(tx, platform, since_us))

    # --- events ------------------------------------------------------------------------------

    async def _announce_now(self, platform_id: int) -> None:
        platform = self.directory.platform(platform_id)
        if platform:
            await self.db.write(lambda tx: self._announce(tx, platform))

    def _announce(self, tx: Tx, about: Platform) -> None:
        """ClientInfo of `about`'s parties to every other connected platform that takes ClientInfo; its status to the
        admins' webhooks (`partner.status_changed`)."""
        targets = [p.id for p in self.directory.platforms() if p.connected and p.id != about.id and "clientinfo" in p.row.receives]
        status = about.row.status
        for party, role in about.roles:
            outbox.enqueue(tx, targets, _clientinfo_draft(party, role, status))
        if about.row.protocol != WEBHOOK:
            data = {"id": about.id, "name": about.row.name, "protocol": about.row.protocol, "version": about.row.version, "status": status,
                    "parties": [{"countryCode": p.country_code, "partyId": p.party_id, "role": r} for p, r in about.roles]}
            self.webhooks.announce_to(tx, "partner.status_changed", set(), "partner", data, f"partner:{about.id}")

    def _clientinfo_to(self, tx: Tx, platform: Platform) -> None:
        """Every party the hub knows, to one platform (after it registers or comes back)."""
        if "clientinfo" not in platform.row.receives:
            return
        for row, status in self.directory.client_infos():
            if row.platform_id != platform.id:
                outbox.enqueue(tx, [platform.id], _clientinfo_draft(row.party, row.role, status, row.updated_us))

    def _resync(self, tx: Tx, platform: Platform, since_us: int | None) -> None:
        for name, kind in RESYNC_KINDS.items():
            if name not in platform.row.receives:
                continue
            t = kind.table
            visible = visibility.visible_clause(self.directory, platform, kind)
            own = visibility._pairs((t.c.country_code, t.c.party_id), platform.parties)
            conds = [visible, sa.not_(own)]
            if since_us is not None:
                conds.append(t.c.stored_us >= since_us)
            for row in tx.execute(sa.select(t.c.doc).where(*conds).order_by(t.c.stored_us)):
                obj = kind.decode(row.doc)
                if kind is docs.LOCATION:  # its row is the shell: with its EVSEs
                    obj = locations.get(tx.conn, kind.key(obj)).obj  # type: ignore[union-attr]
                key = "/".join(kind.key(obj))
                path = f"{obj.country_code.upper()}/{obj.party_id.upper()}/{getattr(obj, 'id', None) or obj.uid}"
                draft = outbox.Draft(f"{name}:{key}", name, "post" if name == "cdr" else "put", path, docs.encode(obj))
                outbox.enqueue(tx, [platform.id], draft)


def _check_claims(
    platform_id: int, claims: frozenset[tuple[PartyId, str]] | None, declared: list[tuple[PartyId, str]],
    held: list[tuple[PartyId, int | None]],
) -> None:
    """Identity is fixed by the hub, not claimed: a platform holds only what its invitation allows, and never
    a party code that the hub hosts or another platform holds (in any role)."""
    if not declared:
        raise Invalid("the credentials list no roles", "roles")
    if claims is not None and (extra := set(declared) - claims):
        allowed = ", ".join(f"{p} {r}" for p, r in sorted(claims))
        raise Invalid(f"{', '.join(f'{p} {r}' for p, r in sorted(extra))} not allowed for this platform (it may hold: {allowed})", "roles")
    codes = {p for p, _ in declared}
    for party, holder in held:  # (party, the platform holding it; None: the hub hosts it)
        if party in codes and holder != platform_id:
            whose = "a party the hub hosts" if holder is None else "held by another platform"
            raise Invalid(f"{party} is {whose}", "roles")


def _clientinfo_draft(party: PartyId, role: str, status: str, updated_us: int | None = None) -> outbox.Draft:
    info = model.ClientInfo(
        country_code=party.country_code, party_id=party.party_id, role=role, status=status,  # type: ignore[arg-type]
        last_updated=from_us(updated_us) if updated_us else datetime.now(timezone.utc).replace(microsecond=0),
    )
    return outbox.Draft(f"clientinfo:{party}:{role}", "clientinfo", "put", f"{party.country_code}/{party.party_id}", docs.encode(info))
