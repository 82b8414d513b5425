"""The Hubject connection: its configuration, its platform in the directory, its client.

Hubject is one platform of protocol `oicp`. Its configuration (base URL, the mutual-TLS files, the networks its
calls come from, the operators and providers that roam through it) and the state of its syncs are kept as the
platform's protocol-specific JSON (`platforms.endpoints`), so every process of the hub sees the same.

In the directory the platform speaks for the parties on Hubject's side, which is how the core's routing reaches it:
- Hubject itself (a reading party, `OTHER`): the hub's operators' Locations go to it;
- the EVSE operators whose data the hub pulls (`CPO`): their Locations are theirs, and the hub's eMSPs see them;
- the providers whose tokens charge at the hub's operators (`EMSP`): their Sessions and CDRs go to it.
A party code another platform holds, or the hub hosts, is never taken over.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import ssl
from datetime import datetime, timezone

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.core import Core
from hub.model import PartyId
from hub.outbound import Outbound, Policy
from hub.services.directory import Platform
from hub.services.errors import Invalid
from hub.store import platforms as store
from hub.store import schema
from hub.store.db import Tx
from protocols.oicp.v23 import mapping
from protocols.oicp.v23.client import OicpClient

log = logging.getLogger(__name__)

PROTOCOL = "oicp"
NAME = "Hubject"
LOOPBACK = ["127.0.0.0/8", "::1/128"]
SYNCS_KEPT = 50
TIMEOUT = 20.0  # seconds: AuthorizeStart fans out to every EMP (digest §5.3)


class Operator(msgspec.Struct, frozen=True, kw_only=True):
    operator_id: str  # DE*ABC
    hotline: str  # Hubject requires a hotline per EVSE record
    name: str | None = None


class Config(msgspec.Struct, kw_only=True, omit_defaults=True):
    base_url: str  # up to and including /api/oicp
    cert: str | None = None  # the operator's client certificate (PEM), for mutual TLS
    key: str | None = None
    ca: str | None = None  # Hubject's private root and intermediate CA
    inbound_allow: list[str] = msgspec.field(default_factory=lambda: list(LOOPBACK))
    party: str = "DE/HBS"  # Hubject's own party in the directory
    operators: dict[str, Operator] = msgspec.field(default_factory=dict)  # CPO party -> how it is known at Hubject
    providers: dict[str, str] = msgspec.field(default_factory=dict)  # eMSP party -> ProviderID


class Sync(msgspec.Struct, frozen=True, kw_only=True):
    """One sync run, as `hub hubject status` shows it."""

    what: str  # evse-data full load, evse-data delta, evse-status, pull-evse-data, pull-evse-status, authentication-data
    party: str
    at: str
    ok: bool
    count: int = 0
    detail: str = ""


class State(msgspec.Struct, kw_only=True, omit_defaults=True):
    syncs: list[Sync] = msgspec.field(default_factory=list)  # newest last
    last_call: dict[str, str] = msgspec.field(default_factory=dict)  # provider party -> LastCall of its last full pull
    loaded: dict[str, int] = msgspec.field(default_factory=dict)  # operator party -> EVSEs in its last full load


class Stored(msgspec.Struct, kw_only=True):
    config: Config
    state: State = msgspec.field(default_factory=State)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class Hubject:
    """The connection as every part of the connector uses it (one per process)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._client: tuple[tuple, OicpClient, Outbound] | None = None

    # --- what is configured ------------------------------------------------------------------------------------

    @property
    def platform(self) -> Platform | None:
        return next((p for p in self.core.directory.platforms() if p.row.protocol == PROTOCOL), None)

    def stored(self, platform: Platform | None = None) -> Stored | None:
        platform = platform or self.platform
        if platform is None or not platform.row.endpoints:
            return None
        return msgspec.json.decode(platform.row.endpoints, type=Stored)

    @property
    def config(self) -> Config | None:
        stored = self.stored()
        return stored.config if stored else None

    def operator(self, party: PartyId) -> Operator | None:
        config = self.config
        return config.operators.get(str(party)) if config else None

    def provider_id(self, party: PartyId) -> str | None:
        config = self.config
        return config.providers.get(str(party)) if config else None

    def allowed(self, client: str) -> bool:
        config = self.config
        if config is None:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in config.inbound_allow)

    def client(self) -> OicpClient:
        """The client for the configured base URL, with the operator's certificate (rebuilt when the configuration
        changes)."""
        config = self.config
        if config is None:
            raise Invalid("Hubject is not configured: hub hubject configure --base-url ...")
        key = (config.base_url, config.cert, config.key, config.ca)
        if self._client is None or self._client[0] != key:
            settings = self.core.settings
            tls = _tls(config.cert, config.key, config.ca)
            outbound = Outbound(Policy(settings.ocpi_allow_private, [settings.base_url], [settings.port, settings.ocpp_port]),
                                max_response_bytes=max(settings.outbound_max_response_bytes, 64 * 1024 * 1024),
                                concurrency=settings.outbound_concurrency, queue=settings.outbound_queue, timeout=TIMEOUT,
                                tls=tls)
            if self._client is not None:  # its kept-alive connections go with it
                asyncio.get_running_loop().create_task(self._client[2].aclose())
            self._client = (key, OicpClient(outbound, config.base_url, TIMEOUT), outbound)
        return self._client[1]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client[2].aclose()
            self._client = None

    # --- changing it -------------------------------------------------------------------------------------------

    async def configure(self, base_url: str, *, cert: str | None = None, key: str | None = None, ca: str | None = None,
                        inbound_allow: list[str] | None = None, party: PartyId | None = None) -> Config:
        if not base_url.startswith(("https://", "http://")) or not base_url.rstrip("/").endswith("/api/oicp"):
            raise Invalid("the base URL is Hubject's up to and including /api/oicp (https://service-qa.hubject.com/api/oicp)")
        if (cert is None) != (key is None):
            raise Invalid("mutual TLS needs both --cert and --key")
        for net in inbound_allow or []:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise Invalid(f"{net!r} is no network (CIDR)") from None
        try:
            _tls(cert, key, ca)  # files that cannot be read or do not fit fail now, not at the first delivery
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise Invalid(f"cannot use the certificate files: {exc}") from None
        platform = self.platform
        stored = self.stored(platform)
        config = stored.config if stored else Config(base_url=base_url)
        config = msgspec.structs.replace(
            config, base_url=base_url.rstrip("/"), cert=cert, key=key, ca=ca,
            inbound_allow=inbound_allow if inbound_allow is not None else config.inbound_allow,
            party=str(party) if party else config.party)
        new = Stored(config=config, state=stored.state if stored else State())
        hubject_party = PartyId.parse(config.party)

        def op(tx: Tx) -> None:
            pid = platform.id if platform else store.create_platform(
                tx, name=NAME, token_in=secrets.token_urlsafe(32), token_kind="C", protocol=PROTOCOL, status="CONNECTED")
            store.update_platform(tx, pid, versions_url=config.base_url, endpoints=msgspec.json.encode(new).decode(),
                                  receives={"location", "evse", "connector", "token", "session", "cdr"}, last_ok_us=None)
            store.take_parties(tx, pid, [(hubject_party, "OTHER", NAME)])

        await self._write(op)
        return config

    async def add_operator(self, party: PartyId, operator_id: str, hotline: str, name: str | None = None) -> Operator:
        if mapping.operator_party(operator_id) != party:  # (a DIN OperatorID names no party: Unmappable)
            raise Invalid(f"OperatorID {operator_id} is not party {party}'s (expected {mapping.operator_id(party)})")
        if not hotline.startswith("+") or not hotline[1:].isdigit() or not 5 <= len(hotline) - 1 <= 15:
            raise Invalid("the hotline is a phone number: + and 5 to 15 digits")
        if not self.core.directory.known(party):
            raise Invalid(f"{party} is no party of this hub")
        if self._held_here(party):
            raise Invalid(f"{party} is a party on Hubject's side")
        operator = Operator(operator_id=operator_id, hotline=hotline, name=name)
        await self._change(lambda s: s.config.operators.__setitem__(str(party), operator))
        await self._write(lambda tx: _agree(tx, [(party, PartyId.parse(self.config.party))]))  # type: ignore[union-attr]
        return operator

    async def add_provider(self, party: PartyId, provider_id: str) -> str:
        if mapping.provider_party(provider_id) != party:
            raise Invalid(f"ProviderID {provider_id} is not party {party}'s (expected {mapping.provider_id(party)})")
        if not self.core.directory.known(party) or self._held_here(party):
            raise Invalid(f"{party} is no eMSP of this hub")
        await self._change(lambda s: s.config.providers.__setitem__(str(party), provider_id))
        operators = self.platform.parties_with_role("CPO") if self.platform else []
        await self._write(lambda tx: _agree(tx, [(operator, party) for operator in operators]))
        return provider_id

    def _held_here(self, party: PartyId) -> bool:
        platform = self.platform
        return platform is not None and party in platform.parties

    async def take_parties(self, roles: list[tuple[PartyId, str, str]]) -> None:
        """Parties on Hubject's side (operators of pulled EVSE data, providers of authorizations) that the platform
        does not speak for yet: taken, unless another platform holds them or the hub hosts them."""
        platform = self.platform
        if platform is None:
            return
        missing = [r for r in roles if (r[0], r[1]) not in platform.roles]
        if not missing:
            return
        providers = [PartyId.parse(p) for p in self.config.providers] if self.config else []

        def op(tx: Tx) -> None:
            store.take_parties(tx, platform.id, missing)
            _agree(tx, [(party, provider) for party, role, _ in missing if role == "CPO" for provider in providers])

        await self._write(op)

    async def record(self, sync: Sync, **state: dict) -> None:
        """A sync's outcome (and state it moves on, such as a LastCall), kept for `hub hubject status`."""

        def change(s: Stored) -> None:
            s.state.syncs = [*s.state.syncs, sync][-SYNCS_KEPT:]
            for name, values in state.items():
                getattr(s.state, name).update(values)

        await self._change(change, quiet=True)

    def sync(self, what: str, party: PartyId | str, ok: bool, count: int = 0, detail: str = "") -> Sync:
        return Sync(what=what, party=str(party), at=_now(), ok=ok, count=count, detail=detail[:500])

    async def _change(self, change, quiet: bool = False) -> None:
        """Read, change and write the stored JSON in one transaction (another process may change it too)."""
        platform = self.platform
        if platform is None:
            raise Invalid("Hubject is not configured: hub hubject configure --base-url ...")
        P = schema.platforms

        def op(tx: Tx) -> None:
            text = tx.execute(sa.select(P.c.endpoints).where(P.c.id == platform.id).with_for_update()).scalar()
            stored = msgspec.json.decode(text, type=Stored)
            change(stored)
            store.update_platform(tx, platform.id, quiet=quiet, endpoints=msgspec.json.encode(stored).decode())

        if quiet:
            await self.core.db.write(op)
            await self.core.directory.refresh()
        else:
            await self._write(op)

    async def _write(self, op) -> None:
        await self.core.db.write(op)
        await self.core.directory.refresh()


def _agree(tx: Tx, pairs: list[tuple[PartyId, PartyId]]) -> None:
    """Roaming agreements (CPO, reader) for the `agreements` policy: the hub's operators with Hubject, Hubject's
    operators with the hub's providers (under the `open` policy they change nothing)."""
    A = schema.agreements
    insert = sqlite_insert if tx.dialect == "sqlite" else pg_insert
    for cpo, reader in pairs:
        tx.execute(insert(A).values(cpo_country_code=cpo.country_code, cpo_party_id=cpo.party_id, emsp_country_code=reader.country_code,
                                    emsp_party_id=reader.party_id).on_conflict_do_nothing())
    if pairs:
        tx.notify("platforms")


def _tls(cert: str | None, key: str | None, ca: str | None) -> ssl.SSLContext:
    """Hubject's server checked against its own CA (when given), the operator's certificate presented (mutual TLS)."""
    tls = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if cert:
        tls.load_cert_chain(cert, key)
    return tls
