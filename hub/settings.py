"""All configuration, read once from environment variables into one object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec
from msgspec import Struct

from hub.model import PartyId


class Settings(Struct, kw_only=True, frozen=True):
    database_url: str = "sqlite+aiosqlite:///./hub.db"
    # every commit waits for the disk (fsync): a power failure then loses nothing acknowledged. Off, a crash of
    # the hub loses nothing either, a crash of the machine (or of PostgreSQL) the last moments (under a second)
    durable_commits: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # the base URL the hub announces to parties; derived from host/port when empty
    country_code: str = "NL"
    party_id: str = "HUB"
    hub_name: str = "EV Roaming Hub"
    ocpp_port: int = 9000  # 0: any free port
    ocpp_public_url: str = ""  # the WebSocket base chargers are given; derived from the public URL's host when empty
    ocpp_ping_interval: float = 60.0  # WebSocket pings to chargers (liveness); 0 switches them off
    ocpp_offline_grace: float = 120.0  # seconds a charger may be disconnected before its EVSEs become UNKNOWN
    ocpp_call_timeout: float = 30.0  # seconds a charger has to answer the hub's calls
    realtime_auth_timeout: float = 3.0  # seconds to wait for an eMSP's real-time authorization
    session_update_interval: float = 60.0  # at most one Session PATCH per transaction in this many seconds
    # OCPP defences
    ocpp_max_inflight: Annotated[int, msgspec.Meta(ge=1)] = 4  # messages of one charger handled at once; beyond, its socket is not read (backpressure)
    ocpp_realtime_auth_rate: float = 1.0  # real-time authorizations one charger may cause per second (then whitelist rules)
    ocpp_realtime_auth_burst: int = 5  # ... and at once
    ocpp_handshake_failure_rate: float = 0.2  # failed handshakes per second a source or an identity may keep making
    ocpp_handshake_failure_burst: int = 10  # ... and at once, before a source gets 429 / an identity is under attack
    ocpp_log_summary_interval: float = 60.0  # seconds between summary lines (refused handshakes, unasked authorizations, seqNo gaps)
    currency: str = "EUR"  # for sessions at connectors without a tariff
    # open: every eMSP may see every CPO's published data; agreements: only pairs in the agreements table
    roaming_policy: Literal["open", "agreements"] = "open"
    page_limit: int = 100  # the server's maximum page size (X-Limit)
    page_cache_mb: int = 64  # rendered Locations/Tariffs kept in memory for GET All (0: always read the database)
    # OCPI input limits
    max_body_bytes: int = 1_048_576  # larger request bodies are refused (413) before they are read; 1 MiB holds thousands of EVSEs
    forward_timeout: float = 10.0  # seconds an addressed OCPI request may take at the receiver before 4002
    outbox_concurrency: int = 8  # pushes in flight per destination (below outbound_concurrency: room for its other calls)
    outbox_backoff_max: float = 60.0  # seconds, cap of the exponential backoff
    outbox_retention: float = 86_400.0  # seconds delivered and dropped events stay listed (`hub outbox list`)
    offline_after: float = 120.0  # seconds a party may fail without a success before it is OFFLINE
    alive_check_interval: float = 300.0  # seconds between still-alive checks of OFFLINE parties
    # Outbound calls (hub/outbound.py): what peers' URLs may point at, and each destination's budget
    ocpi_allow_private: bool = False  # peers on loopback/private/link-local addresses (tests, the demo, closed networks)
    outbound_max_response_bytes: int = 8 * 1024 * 1024
    outbound_concurrency: int = 16  # requests in flight per destination
    outbound_queue: int = 64  # requests waiting per destination; beyond that a call fails at once
    # HTTP connections (hub serve): idle and slow clients are dropped, so that the hub keeps answering
    http_header_timeout: float = 5.0  # seconds to send a request's headers (also the idle time allowed between requests)
    http_body_timeout: float = 10.0  # seconds to send a request's body
    http_max_connections: int = 2048  # connections served at once; more wait until one goes
    # partner API (/api/v1): lifetimes of the tokens a credential gets
    api_access_ttl: float = 3600.0  # seconds an access token works
    api_refresh_ttl: float = 86_400.0  # seconds a refresh token works (once)
    # webhooks (hub/services/webhooks.py): what their URLs may point at, and how their deliveries are retried
    webhook_allow_private: bool = False  # endpoints on loopback/private networks (link-local and metadata addresses never)
    webhook_timeout: float = 15.0  # seconds an endpoint has to answer 2xx
    # seconds after the first attempt at which each retry is due (Standard Webhooks' schedule, +-20% jitter);
    # after the last the delivery has failed (replayable)
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,50400,72000,86400"
    webhook_disable_after: float = 432_000.0  # seconds an endpoint may fail without a success before it is disabled
    # Hubject (connectors/hubject): how often a serving hub pulls EVSE status and data deltas (0: never on its own;
    # with several processes on one database, let one do it), and how often it does the full loads and full pulls
    hubject_pull_interval: float = 300.0
    hubject_full_interval: float = 86_400.0
    # the key that encrypts the tokens the hub presents to others (hub/store/secrets.py); see README
    secret_key: str = ""
    log_level: str = "INFO"

    @property
    def webhook_retries(self) -> tuple[float, ...]:
        return tuple(float(x) for x in self.webhook_retry_schedule.replace(" ", "").split(",") if x)

    @property
    def hub_party(self) -> PartyId:
        return PartyId.of(self.country_code, self.party_id)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def ocpp_url(self) -> str:
        if self.ocpp_public_url:
            return self.ocpp_public_url.rstrip("/")
        host = self.base_url.split("://", 1)[1].split("/")[0].rsplit(":", 1)[0]
        return f"ws://{host}:{self.ocpp_port}/ocpp"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """`HUB_<FIELD>` variables, e.g. HUB_DATABASE_URL, HUB_PORT, HUB_PUBLIC_URL, HUB_COUNTRY_CODE."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in msgspec.structs.fields(cls):
            if (raw := env.get(f"HUB_{f.name.upper()}")) is not None:
                values[f.name] = raw
        values.update(overrides)
        return msgspec.convert(values, cls, strict=False)
