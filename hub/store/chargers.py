"""Chargers, their transactions and reservations."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub import model
from hub.model import PartyId
from hub.store import schema
from hub.store.db import Tx
from hub.store.documents import now_us

C, T, R = schema.chargers, schema.transactions, schema.reservations
# Charger passwords are machine credentials of 16 to 40 characters (OCPP 2.0.1's BasicAuthPassword), so a
# modest work factor suffices, and a reconnect storm of thousands of chargers after a restart stays cheap.
PBKDF2_ROUNDS = 2_000
MIN_PASSWORD = 16
MAX_PASSWORD = 40
MAX_IDENTITY = 32  # so that an EVSE uid, `<identity>-<n>`, stays within OCPI's 36 characters
GENERATED_PASSWORD = 24
_PASSWORD_ALPHABET = string.ascii_letters + string.digits  # nothing a CSV file or a shell would quote


class ConnectorTemplate(msgspec.Struct, frozen=True):
    """What OCPP cannot tell: the connector each EVSE of a charger has (commissioning data)."""

    standard: model.ConnectorStandard = "IEC_62196_T2"
    format: model.ConnectorFormat = "SOCKET"
    power_type: model.PowerType = "AC_3_PHASE"
    max_voltage: int = 230
    max_amperage: int = 32
    max_electric_power: int | None = None
    tariff_ids: list[str] = msgspec.field(default_factory=list)

    def connector(self, connector_id: str, now: datetime) -> model.Connector:
        return model.Connector(
            id=connector_id, standard=self.standard, format=self.format, power_type=self.power_type, max_voltage=self.max_voltage,
            max_amperage=self.max_amperage, max_electric_power=self.max_electric_power, tariff_ids=list(self.tariff_ids),
            last_updated=now,
        )

    def matches(self, connector: model.Connector) -> bool:
        """Whether `connector` is what this template makes (its id and time aside)."""
        return (connector.standard, connector.format, connector.power_type, connector.max_voltage, connector.max_amperage,
                connector.max_electric_power, connector.tariff_ids) == (
            self.standard, self.format, self.power_type, self.max_voltage, self.max_amperage, self.max_electric_power, self.tariff_ids)


class Charger(msgspec.Struct, frozen=True):
    identity: str
    party: PartyId
    location_id: str
    password_hash: str | None
    connector: ConnectorTemplate
    protocol: str | None = None
    instance: str | None = None
    boot: dict[str, Any] | None = None


class Registration(msgspec.Struct, frozen=True):
    """A charger as an import registers it. `password_hash`: a new password's; None keeps the charger's own."""

    identity: str
    party: PartyId
    location_id: str
    connector: ConnectorTemplate
    password_hash: str | None = None


def identity_problem(identity: str) -> str | None:
    if not identity or len(identity) > MAX_IDENTITY or "/" in identity:
        return f"an identity of 1 to {MAX_IDENTITY} characters without '/'"
    return None


def password_problem(password: str) -> str | None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"a charger password has {MIN_PASSWORD} to {MAX_PASSWORD} characters (OCPP security profile 1)"
    return None


def new_password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD))


def hash_password(password: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), PBKDF2_ROUNDS).hex()
    return f"pbkdf2_sha256${PBKDF2_ROUNDS}${salt}${digest}"


def check_password(stored: str, password: str) -> bool:
    _, rounds, salt, digest = stored.split("$")
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds)).hex()
    return hmac.compare_digest(got, digest)


def _charger(row: Any) -> Charger:
    return Charger(
        identity=row.identity, party=PartyId(row.country_code, row.party_id), location_id=row.location_id,
        password_hash=row.password_hash, connector=msgspec.json.decode(row.connector, type=ConnectorTemplate),
        protocol=row.protocol, instance=row.instance, boot=msgspec.json.decode(row.boot) if row.boot else None,
    )


_GET = sa.select(C).where(C.c.identity == sa.bindparam("identity"))


def get(conn: sa.Connection, identity: str) -> Charger | None:
    row = conn.execute(_GET, {"identity": identity}).first()
    return None if row is None else _charger(row)


def listing(conn: sa.Connection) -> list[Charger]:
    return [_charger(r) for r in conn.execute(sa.select(C).order_by(C.c.identity))]


def get_many(conn: sa.Connection, identities: Sequence[str]) -> dict[str, Charger]:
    return {r.identity: _charger(r) for r in conn.execute(sa.select(C).where(C.c.identity.in_(identities)))}


def password_hashes(conn: sa.Connection, identities: Sequence[str]) -> dict[str, str | None]:
    """identity -> its password's hash (None: it has no password), of the chargers that exist."""
    rows = conn.execute(sa.select(C.c.identity, C.c.password_hash).where(C.c.identity.in_(identities)))
    return {r.identity: r.password_hash for r in rows}


def at_location(conn: sa.Connection, party: PartyId, location_id: str) -> list[Charger]:
    rows = conn.execute(sa.select(C).where(C.c.country_code == party.country_code, C.c.party_id == party.party_id,
                                           C.c.location_id == location_id.upper()).order_by(C.c.identity))
    return [_charger(r) for r in rows]


def evse_uid(identity: str, evse_no: int) -> str:
    """The uid of a charger's EVSE: `<IDENTITY>-<n>` (OCPP 1.6 connectorId / 2.0.1 evseId)."""
    return f"{identity}-{evse_no}".upper()


def split_evse_uid(uid: str) -> tuple[str, int] | None:
    """(identity, number) of an EVSE uid made by evse_uid, upper case; None for any other uid."""
    identity, _, number = uid.rpartition("-")
    return (identity.upper(), int(number)) if identity and number.isdigit() else None


def link(conn: sa.Connection, party: PartyId, location_id: str, identity: str) -> tuple[str, bool, int | None] | None:
    """(identity as registered, connected, when it last connected) of the charger `identity` (any case) at a Location."""
    for r in conn.execute(sa.select(C.c.identity, C.c.instance, C.c.connected_us).where(
            C.c.country_code == party.country_code, C.c.party_id == party.party_id, C.c.location_id == location_id.upper())):
        if r.identity.upper() == identity.upper():
            return r.identity, r.instance is not None, r.connected_us
    return None


def add(tx: Tx, identity: str, party: PartyId, location_id: str, password: str | None, connector: ConnectorTemplate) -> None:
    values = {
        "country_code": party.country_code, "party_id": party.party_id, "location_id": location_id.upper(),
        "password_hash": hash_password(password) if password else None,
        "connector": msgspec.json.encode(connector).decode(),
    }
    if tx.execute(sa.select(C.c.identity).where(C.c.identity == identity)).first():
        tx.execute(sa.update(C).where(C.c.identity == identity).values(**values))
    else:
        tx.execute(sa.insert(C).values(identity=identity, created_us=now_us(), **values))
    tx.notify("chargers", identity)


def upsert(tx: Tx, registrations: Sequence[Registration]) -> None:
    """Insert or update many chargers in one statement; a registration without a password hash keeps the stored one."""
    if not registrations:
        return
    insert = (sqlite_insert if tx.dialect == "sqlite" else pg_insert)(C)
    now = now_us()
    tx.execute(insert.on_conflict_do_update(index_elements=[C.c.identity], set_={
        "country_code": insert.excluded.country_code, "party_id": insert.excluded.party_id,
        "location_id": insert.excluded.location_id, "connector": insert.excluded.connector,
        "password_hash": sa.func.coalesce(insert.excluded.password_hash, C.c.password_hash),
    }), [{
        "identity": r.identity, "country_code": r.party.country_code, "party_id": r.party.party_id,
        "location_id": r.location_id.upper(), "connector": msgspec.json.encode(r.connector).decode(),
        "password_hash": r.password_hash, "created_us": now,
    } for r in registrations])
    for r in registrations:
        tx.notify("chargers", r.identity)


def set_connection(tx: Tx, identity: str, instance: str | None, protocol: str | None = None) -> None:
    values: dict[str, Any] = {"instance": instance, "last_seen_us": now_us()}
    if instance is not None:
        values.update(protocol=protocol, connected_us=now_us())
    tx.execute(sa.update(C).where(C.c.identity == identity).values(**values))


def release_instance(tx: Tx, instance: str) -> None:
    """A process that stops holds no sockets any more."""
    tx.execute(sa.update(C).where(C.c.instance == instance).values(instance=None))


def set_boot(tx: Tx, identity: str, boot: dict[str, Any]) -> None:
    tx.execute(sa.update(C).where(C.c.identity == identity).values(boot=msgspec.json.encode(boot).decode(), last_seen_us=now_us()))


# --- transactions --------------------------------------------------------------------------------------


_OPEN = sa.insert(T).returning(T.c.id)
_NUMBER = sa.update(T).where(T.c.id == sa.bindparam("tid"))
_FIND = sa.select(T).where(T.c.charger == sa.bindparam("charger"), T.c.ocpp_id == sa.bindparam("ocpp"))


def open_transaction(tx: Tx, charger: str, ocpp_id: str | None, party: PartyId, session_id: str, state: bytes) -> int:
    """A new transaction; without an OCPP id (1.6) its row id becomes it."""
    tid = tx.execute(_OPEN, {
        "charger": charger, "ocpp_id": ocpp_id or session_id, "session_country_code": party.country_code,
        "session_party_id": party.party_id, "session_id": session_id, "status": "ACTIVE", "state": state, "updated_us": now_us(),
    }).scalar_one()
    if ocpp_id is None:
        tx.execute(_NUMBER, {"tid": tid, "ocpp_id": str(tid)})
    return tid


def find_transaction(conn: sa.Connection, charger: str, ocpp_id: str) -> Any:
    return conn.execute(_FIND, {"charger": charger, "ocpp": ocpp_id}).first()


def transaction_of_session(conn: sa.Connection, party: PartyId, session_id: str) -> Any:
    return conn.execute(
        sa.select(T).where(T.c.session_country_code == party.country_code, T.c.session_party_id == party.party_id,
                           T.c.session_id == session_id.upper())
    ).first()


_SAVE = sa.update(T).where(T.c.id == sa.bindparam("tid"))  # built once: the meter-value path runs it all the time


def save_transaction(tx: Tx, tid: int, state: bytes, status: str = "ACTIVE") -> None:
    """(Deferred: the meter values of many transactions are written together; one transaction's in order.)"""
    tx.defer(_SAVE, {"tid": tid, "state": state, "status": status, "updated_us": now_us()})


def active_transactions(conn: sa.Connection, charger: str) -> list[Any]:
    return conn.execute(sa.select(T).where(T.c.charger == charger, T.c.status == "ACTIVE")).all()


# --- reservations ----------------------------------------------------------------------------------------


def reserve(tx: Tx, charger: str, emsp: PartyId, reservation_id: str) -> int:
    """The integer id OCPP needs for an eMSP's reservation id (the same eMSP id replaces the reservation)."""
    found = tx.execute(sa.select(R.c.id).where(R.c.emsp_country_code == emsp.country_code, R.c.emsp_party_id == emsp.party_id,
                                               R.c.reservation_id == reservation_id.upper())).scalar()
    if found is not None:
        return found
    return tx.execute(
        sa.insert(R).values(charger=charger, emsp_country_code=emsp.country_code, emsp_party_id=emsp.party_id,
                            reservation_id=reservation_id.upper(), created_us=now_us()).returning(R.c.id)
    ).scalar_one()


def reservation(conn: sa.Connection, emsp: PartyId, reservation_id: str) -> Any:
    return conn.execute(sa.select(R).where(R.c.emsp_country_code == emsp.country_code, R.c.emsp_party_id == emsp.party_id,
                                           R.c.reservation_id == reservation_id.upper())).first()
