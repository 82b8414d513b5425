"""Tables. Each canonical object is its encoded document plus the indexed columns queries need.

Conventions:
- identifiers that protocols treat case-insensitively are stored upper case in key columns; the document
  keeps the original spelling;
- times are integer microseconds since the epoch (UTC), the same on SQLite and PostgreSQL;
- `doc` is the canonical msgspec JSON; `rendered` is the object as the primary wire format renders it (OCPI
  2.2.1, by a renderer the app injects), so list endpoints stream bytes without decoding rows.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

TS = sa.BigInteger  # microseconds since the epoch, UTC


def _owner() -> list[sa.Column]:
    return [
        sa.Column("country_code", sa.String(2), primary_key=True),
        sa.Column("party_id", sa.String(3), primary_key=True),
    ]


def _document() -> list[sa.Column]:
    return [
        sa.Column("updated_us", TS, nullable=False),  # the object's last_updated (the owner's clock)
        sa.Column("stored_us", TS, nullable=False, index=True),  # when the hub stored this version (the hub's clock)
        sa.Column("source_platform", sa.Integer, nullable=True),  # the platform that sent it; NULL = the hub itself
        sa.Column("doc", sa.LargeBinary, nullable=False),
        sa.Column("rendered", sa.LargeBinary, nullable=False),
    ]


# --- parties and their connections ------------------------------------------------------------

platforms = sa.Table(
    "platforms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("protocol", sa.String(16), nullable=False, server_default="ocpi"),
    sa.Column("version", sa.String(8), nullable=True),
    sa.Column("versions_url", sa.String(255), nullable=True),
    sa.Column("endpoints", sa.Text, nullable=True),  # protocol-specific JSON (OCPI: the version details endpoints)
    sa.Column("receives", sa.Text, nullable=False, server_default=""),  # kinds they accept pushes of, comma-separated
    sa.Column("serves", sa.Text, nullable=False, server_default=""),  # kinds the hub can pull from them
    sa.Column("token_in_hash", sa.String(64), nullable=True, unique=True),  # sha256 of the token they call us with
    sa.Column("token_in_kind", sa.String(1), nullable=False, server_default="A"),  # A until registered, then B or C
    sa.Column("token_in_prev_hash", sa.String(64), nullable=True),  # the previous token during a rotation overlap
    sa.Column("token_in_prev_until_us", TS, nullable=True),
    sa.Column("token_out", sa.String(255), nullable=True),  # the token we call them with, encrypted (hub/store/secrets.py)
    # the party codes and roles the platform may hold, `CC/PID:ROLE,...`, fixed by the invitation (or by the
    # operator when the hub registers with a peer); NULL: not fixed yet (an outgoing registration in progress)
    sa.Column("claims", sa.Text, nullable=True),
    sa.Column("header_codec", sa.String(8), nullable=False, server_default="base64"),  # base64 | raw
    # an upstream hub the hub is a platform behind (its rules: gireve | emobi), and the hub's parties it carries
    sa.Column("profile", sa.String(16), nullable=True),
    sa.Column("tenants", sa.Text, nullable=True),  # CC/PID,... (NULL: not an upstream hub)
    sa.Column("status", sa.String(10), nullable=False, server_default="PLANNED"),
    sa.Column("last_ok_us", TS, nullable=True),  # last successful exchange with them
    sa.Column("offline_since_us", TS, nullable=True),
    sa.Column("created_us", TS, nullable=False),
    sa.Column("updated_us", TS, nullable=False),
)

parties = sa.Table(
    "parties",
    metadata,
    *_owner(),
    sa.Column("role", sa.String(5), primary_key=True),
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), nullable=True, index=True),
    sa.Column("name", sa.String(100), nullable=False, server_default=""),
    sa.Column("business_details", sa.Text, nullable=True),  # JSON
    sa.Column("updated_us", TS, nullable=False),  # ClientInfo.last_updated
)

agreements = sa.Table(
    "agreements",
    metadata,
    sa.Column("cpo_country_code", sa.String(2), primary_key=True),
    sa.Column("cpo_party_id", sa.String(3), primary_key=True),
    sa.Column("emsp_country_code", sa.String(2), primary_key=True),
    sa.Column("emsp_party_id", sa.String(3), primary_key=True),
)

# --- canonical objects ---------------------------------------------------------------------------

locations = sa.Table(
    "locations",
    metadata,
    *_owner(),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("published", sa.Boolean, nullable=False, index=True),
    sa.Column("audience", sa.Text, nullable=True),  # unpublished: the parties that may see it, `|CC/PID|...|`
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    # its EVSEs are rows of `evses` (false: stored before they were; split when a hub starts)
    sa.Column("evses_apart", sa.Boolean, nullable=False, server_default=sa.false()),
    *_document(),
    sa.Index("ix_locations_updated", "updated_us", "country_code", "party_id", "id"),
)

# A Location's EVSEs, each on its own row, so that one EVSE's change writes one EVSE (hub/store/locations.py):
# the Location's row holds its own fields (`doc` without EVSEs; `rendered`: its shell, split where they go)
evses = sa.Table(
    "evses",
    metadata,
    *_owner(),
    sa.Column("location_id", sa.String(36), primary_key=True),
    sa.Column("uid", sa.String(36), primary_key=True),
    sa.Column("evse_id", sa.String(48), nullable=True, index=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),  # its place in the Location's list
    sa.Column("updated_us", TS, nullable=True),  # the EVSE's last_updated
    sa.Column("doc", sa.LargeBinary, nullable=True),  # canonical JSON of the EVSE (NULL: stored before EVSEs had rows)
    sa.Column("rendered", sa.LargeBinary, nullable=True),
    sa.ForeignKeyConstraint(
        ["country_code", "party_id", "location_id"],
        ["locations.country_code", "locations.party_id", "locations.id"],
        ondelete="CASCADE",
    ),
    sa.Index("ix_evses_order", "country_code", "party_id", "location_id", "position"),
)

tariffs = sa.Table(
    "tariffs",
    metadata,
    *_owner(),
    sa.Column("id", sa.String(36), primary_key=True),
    *_document(),
    sa.Index("ix_tariffs_updated", "updated_us", "country_code", "party_id", "id"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    *_owner(),
    sa.Column("uid", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(12), primary_key=True),
    sa.Column("contract_id", sa.String(36), nullable=False, index=True),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("whitelist", sa.String(16), nullable=False),
    sa.Column("group_id", sa.String(36), nullable=True, index=True),
    sa.Column("visual_number", sa.String(64), nullable=True),
    *_document(),
    sa.Index("ix_tokens_uid", "uid", "type"),
    sa.Index("ix_tokens_updated", "updated_us", "country_code", "party_id", "uid", "type"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    *_owner(),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("emsp_country_code", sa.String(2), nullable=False),
    sa.Column("emsp_party_id", sa.String(3), nullable=False),
    sa.Column("token_uid", sa.String(36), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("location_id", sa.String(36), nullable=False),
    sa.Column("evse_uid", sa.String(36), nullable=False),
    sa.Column("started_us", TS, nullable=True),  # start_date_time: the partner API's charges are ordered and filtered by it
    sa.Column("stopped_us", TS, nullable=True),  # end_date_time: an ACTIVE Session with one has stopped charging
    *_document(),
    sa.Index("ix_sessions_updated", "updated_us", "country_code", "party_id", "id"),
    sa.Index("ix_sessions_started", "started_us", "country_code", "party_id", "id"),
    sa.Index("ix_sessions_emsp", "emsp_country_code", "emsp_party_id", "updated_us"),
    sa.Index("ix_sessions_token", "token_uid", "status", "emsp_country_code", "emsp_party_id"),  # the concurrent-session check
    sa.Index("ix_sessions_evse", "location_id", "evse_uid", "status"),
)

cdrs = sa.Table(
    "cdrs",
    metadata,
    *_owner(),
    sa.Column("id", sa.String(39), primary_key=True),
    sa.Column("emsp_country_code", sa.String(2), nullable=False),
    sa.Column("emsp_party_id", sa.String(3), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=True),
    *_document(),
    sa.Index("ix_cdrs_updated", "updated_us", "country_code", "party_id", "id"),
    sa.Index("ix_cdrs_emsp", "emsp_country_code", "emsp_party_id", "updated_us"),
)

# --- commands relayed through the hub ------------------------------------------------------------

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the hub's id, part of the response_url it hands out
    sa.Column("kind", sa.String(32), nullable=False),  # CommandType or a charging-profile operation
    sa.Column("sender_country_code", sa.String(2), nullable=False),
    sa.Column("sender_party_id", sa.String(3), nullable=False),
    sa.Column("receiver_country_code", sa.String(2), nullable=False),
    sa.Column("receiver_party_id", sa.String(3), nullable=False),
    sa.Column("response_url", sa.String(255), nullable=False),  # the sender's own response_url
    sa.Column("correlation_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # REQUESTED, RESPONDED, RESULT, FAILED
    sa.Column("response", sa.Text, nullable=True),  # JSON of the synchronous response
    sa.Column("result", sa.Text, nullable=True),  # JSON of the asynchronous result
    sa.Column("request", sa.LargeBinary, nullable=False),  # canonical JSON of the request
    sa.Column("created_us", TS, nullable=False),
    sa.Column("updated_us", TS, nullable=False),
    sa.Index("ix_commands_receiver", "kind", "receiver_country_code", "receiver_party_id", "created_us"),
)

# --- changes announced to other processes (SQLite; PostgreSQL uses LISTEN/NOTIFY) ----------------------

changes = sa.Table(
    "changes",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("instance", sa.String(32), nullable=False),  # the process that made the change
    sa.Column("topic", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("at_us", TS, nullable=False),
)

# --- the transactional outbox --------------------------------------------------------------------

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("destination", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("stream", sa.String(200), nullable=False),  # order is kept per destination and stream (one object)
    sa.Column("kind", sa.String(16), nullable=False),  # location, evse, connector, tariff, token, session, cdr, clientinfo
    sa.Column("op", sa.String(8), nullable=False),  # put, patch, delete, post
    sa.Column("fields", sa.Text, nullable=True),  # for patch: JSON list of the changed field names
    sa.Column("payload", sa.LargeBinary, nullable=False),  # canonical JSON (or the encoded object for clientinfo)
    sa.Column("path", sa.String(200), nullable=False),  # the object's address: cc/pid/id[/evse_uid[/connector_id]]
    sa.Column("correlation_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(10), nullable=False, server_default="pending"),  # pending, inflight, done, parked, skipped
    sa.Column("owner", sa.String(32), nullable=True),  # inflight: the process delivering it (its lease lives with it)
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_us", TS, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_us", TS, nullable=False),
    sa.Index("ix_outbox_due", "status", "next_attempt_us"),
    sa.Index("ix_outbox_stream", "destination", "stream", "seq"),
    # a destination's open events in order: what its lane reads (small: delivered events are not in it)
    sa.Index("ix_outbox_open", "destination", "seq", sqlite_where=sa.text("status IN ('pending', 'inflight')"),
             postgresql_where=sa.text("status IN ('pending', 'inflight')")),
)

# objects a destination must be sent again as they are now (it was OFFLINE when they changed, or their events
# were dropped): one row per object, however often it changed
outbox_stale = sa.Table(
    "outbox_stale",
    metadata,
    sa.Column("destination", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("created_us", TS, nullable=False),
)

# the hub processes sharing the database: a claim (an inflight event, a charger's socket) lives as long as the
# process that made it keeps beating
processes = sa.Table(
    "processes",
    metadata,
    sa.Column("instance", sa.String(32), primary_key=True),
    sa.Column("started_us", TS, nullable=False),
    sa.Column("heartbeat_us", TS, nullable=False),
)

outbox_attempts = sa.Table(
    "outbox_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("seq", sa.BigInteger, sa.ForeignKey("outbox.seq", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("at_us", TS, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
)

# --- chargers the hub runs as their central system (OCPP) -------------------------------------------

chargers = sa.Table(
    "chargers",
    metadata,
    sa.Column("identity", sa.String(64), primary_key=True),  # the OCPP charge point identity (URL path)
    sa.Column("country_code", sa.String(2), nullable=False),  # the CPO that owns it
    sa.Column("party_id", sa.String(3), nullable=False),
    sa.Column("location_id", sa.String(36), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),  # HTTP Basic (security profile 1); NULL: none
    sa.Column("connector", sa.Text, nullable=False),  # JSON: the Connector template for its EVSEs (standard, power, tariff)
    sa.Column("protocol", sa.String(12), nullable=True),  # ocpp1.6 | ocpp2.0.1, as last connected
    sa.Column("instance", sa.String(32), nullable=True),  # the hub process holding its socket; NULL: disconnected
    sa.Column("connected_us", TS, nullable=True),
    sa.Column("last_seen_us", TS, nullable=True),
    sa.Column("boot", sa.Text, nullable=True),  # JSON: vendor, model, serial, firmware from BootNotification
    sa.Column("created_us", TS, nullable=False),
    sa.Index("ix_chargers_location", "country_code", "party_id", "location_id"),
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the OCPP 1.6 transactionId
    sa.Column("charger", sa.String(64), sa.ForeignKey("chargers.identity", ondelete="CASCADE"), nullable=False),
    sa.Column("ocpp_id", sa.String(36), nullable=False),  # 2.0.1: the station's transactionId; 1.6: str(id)
    sa.Column("session_country_code", sa.String(2), nullable=False),
    sa.Column("session_party_id", sa.String(3), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),
    sa.Column("status", sa.String(10), nullable=False),  # ACTIVE, COMPLETED
    sa.Column("state", sa.LargeBinary, nullable=False),  # canonical JSON of the running measurement
    sa.Column("updated_us", TS, nullable=False),
    sa.UniqueConstraint("charger", "ocpp_id", name="uq_transactions_charger_ocpp_id"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the OCPP reservationId (an integer)
    sa.Column("charger", sa.String(64), sa.ForeignKey("chargers.identity", ondelete="CASCADE"), nullable=False),
    sa.Column("emsp_country_code", sa.String(2), nullable=False),
    sa.Column("emsp_party_id", sa.String(3), nullable=False),
    sa.Column("reservation_id", sa.String(36), nullable=False),  # the eMSP's (OCPI) id
    sa.Column("created_us", TS, nullable=False),
    sa.UniqueConstraint("emsp_country_code", "emsp_party_id", "reservation_id", name="uq_reservations_emsp_id"),
)

# --- partner API consumers (credentials), their tokens and quotas --------------------------------

consumers = sa.Table(
    "consumers",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("country_code", sa.String(2), nullable=True),  # the party it acts for; NULL: admin (the hub operator)
    sa.Column("party_id", sa.String(3), nullable=True),
    sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("scopes", sa.Text, nullable=False),  # canonical `entity:permission,...`
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex of a 256-bit random secret
    sa.Column("rate_limit", sa.Integer, nullable=False),  # requests per window
    sa.Column("rate_window", sa.Integer, nullable=False),  # seconds
    sa.Column("created_us", TS, nullable=False),
    sa.Column("revoked_us", TS, nullable=True),
)

# opaque bearer and refresh tokens, only their sha256 stored
consumer_tokens = sa.Table(
    "consumer_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("consumers.client_id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # access | refresh
    sa.Column("expires_us", TS, nullable=False),
    sa.Column("spent_us", TS, nullable=True),  # a refresh token used once (rotation)
    sa.Column("created_us", TS, nullable=False),
)

# a fixed-window request quota per consumer, shared by every hub process on the database
consumer_quota = sa.Table(
    "consumer_quota",
    metadata,
    sa.Column("client_id", sa.String(64), sa.ForeignKey("consumers.client_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("window_start_us", TS, nullable=False),
    sa.Column("used", sa.Integer, nullable=False),
)

# what a partner API credential's party keeps beside an object (its own id and payload for it), and when the
# object was created over that API; `kind` is the canonical kind (location, evse), `key` the object's id in its owner
partner_extras = sa.Table(
    "partner_extras",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    *_owner(),
    sa.Column("key", sa.String(36), primary_key=True),
    sa.Column("holder_country_code", sa.String(2), primary_key=True),  # the credential's party (admin: the hub's)
    sa.Column("holder_party_id", sa.String(3), primary_key=True),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("payload", sa.LargeBinary, nullable=True),  # JSON
    sa.Column("created_us", TS, nullable=False),
    sa.Column("updated_us", TS, nullable=False),
    sa.Index("ix_partner_extras_external", "holder_country_code", "holder_party_id", "kind", "external_id"),
)

# the first answer to a POST with an Idempotency-Key, replayed for 24 h; `status` NULL while it runs
idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("client_id", sa.String(64), sa.ForeignKey("consumers.client_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # sha256 of method, path and body
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column("created_us", TS, nullable=False),
)

# --- webhook endpoints: each is a destination of the outbox (a `platforms` row of protocol `webhook`, whose status
# says whether it takes events: CONNECTED enabled, SUSPENDED disabled, OFFLINE disabled after failing for days)
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("client_id", sa.String(64), sa.ForeignKey("consumers.client_id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("event_types", sa.Text, nullable=False),  # comma-separated, or `*`
    sa.Column("format", sa.String(10), nullable=False),  # standard | monta
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("secret", sa.String(255), nullable=False),  # encrypted (hub/store/secrets.py)
    sa.Column("prev_secret", sa.String(255), nullable=True),  # still signs until prev_until_us (a rotation)
    sa.Column("prev_until_us", TS, nullable=True),
    sa.Column("disabled_reason", sa.String(500), nullable=True),
    sa.Column("created_us", TS, nullable=False),
    sa.Column("updated_us", TS, nullable=False),
)
