"""Chargers the hub runs as their central system, in canonical terms: protocol modules (OCPP) report what
happens at a charger, this service turns it into Locations/EVSEs, authorizations, Sessions and CDRs.

- A charger belongs to one CPO party and one Location; its EVSEs appear as it reports their connectors
  (uid `<identity>-<n>`), built from the charger's connector template (OCPP does not tell standard or power).
- Authorization: a token the hub knows with whitelist ALWAYS is answered locally; otherwise the issuing
  eMSP is asked in real time (through the injected `realtime` authorizer, with a short timeout), within a
  budget per charger (a charger cannot make the hub ask others at any rate it likes). When the eMSP cannot
  be reached, or the charger's budget is spent, ALLOWED and ALLOWED_OFFLINE tokens are accepted as if
  whitelisted, NEVER ones refused. A start that follows the eMSP's own START_SESSION command (same token,
  same location, within 15 min) is authorized by that command. An allowed token is still refused where the
  eMSP restricts it to other EVSEs, at a Location closed now that does not allow charging when closed, and
  while it is in an active session at another EVSE.
- A transaction is a Session from its start, kept up to date from meter values (PATCHes to the token's
  eMSP at most every `session_update_interval` seconds), and ends as a CDR priced with the connector's
  tariff, carrying the meter's signed start and end readings when it signs them. Meter register resets,
  missing stop readings and offline transactions replayed later with old timestamps are taken as they come;
  gaps in a transaction's event numbers (OCPP 2.0.1 seqNo) are logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import sqlalchemy as sa

from hub import model, pricing
from hub.limits import Budgets, Tally
from hub.model import PartyId
from hub.services.commands import Commands
from hub.services.directory import Directory
from hub.services.errors import Invalid, NotFound
from hub.services.objects import Objects
from hub.services.parties import Parties
from hub.settings import Settings
from hub.store import chargers as store
from hub.store import documents as docs
from hub.store import locations, schema
from hub.store.chargers import Charger, ConnectorTemplate, evse_uid
from hub.store.db import Database, Tx

log = logging.getLogger(__name__)

Realtime = Callable[[model.Token, model.LocationReferences], Awaitable[model.AuthorizationInfo]]
# (the charger's CPO, its Location id, uid, type, by contract) -> the platform's answer, None when it has none
Elsewhere = Callable[[PartyId, str, str, str | None, bool], Awaitable[model.Authorization | None]]
COMMAND_WINDOW = timedelta(minutes=15)
AUTH_REUSE = 60.0  # seconds an Authorize answer stands for the StartTransaction that follows it
KWH = Decimal(1000)
# the most telling connector status becomes the EVSE's
STATUS_PRIORITY = ["CHARGING", "RESERVED", "BLOCKED", "AVAILABLE", "INOPERATIVE", "OUTOFORDER", "UNKNOWN"]


# what registering chargers sets of their Location (`hub chargers add` and `import`); the rest is the CPO's to keep
LOCATION_FIELDS = ("name", "address", "city", "postal_code", "country", "coordinates", "time_zone")

SEQ_MISSING_MAX = 32  # skipped seqNos a transaction remembers (to notice late arrivals), so its state stays small


_T, _C, _S = docs.TOKEN.table, schema.commands, docs.SESSION.table
_TOKENS = sa.select(_T.c.type, _T.c.doc).where(_T.c.uid == sa.bindparam("uid"))
_TOKENS_OF_TYPE = _TOKENS.where(_T.c.type == sa.bindparam("type"))
_TOKENS_OF_CONTRACT = sa.select(_T.c.type, _T.c.doc).where(_T.c.contract_id == sa.bindparam("contract"))
_ACTIVE_SESSIONS = sa.select(_S.c.country_code, _S.c.party_id, _S.c.evse_uid).where(  # ix_sessions_token
    _S.c.token_uid == sa.bindparam("uid"), _S.c.status == "ACTIVE", _S.c.emsp_country_code == sa.bindparam("cc"),
    _S.c.emsp_party_id == sa.bindparam("pid"))
_RECENT_STARTS = sa.select(_C.c.request).where(
    _C.c.kind == "START_SESSION", _C.c.created_us >= sa.bindparam("since"), _C.c.receiver_country_code == sa.bindparam("cc"),
    _C.c.receiver_party_id == sa.bindparam("pid"),
).order_by(_C.c.created_us.desc())


class TxState(msgspec.Struct):
    """A running transaction as the hub measures it (kept in the transactions table)."""

    session_id: str
    location_id: str
    evse_uid: str
    connector_id: str
    cdr_token: model.CdrToken
    auth_method: model.AuthMethod
    start: datetime
    meter_start_wh: Decimal
    last_wh: Decimal
    last_at: datetime
    energy_wh: Decimal = Decimal(0)
    usage: list[pricing.Usage] = msgspec.field(default_factory=list)
    authorization_reference: str | None = None
    valid: bool = True
    last_push_us: int = 0
    seq_no: int | None = None  # OCPP 2.0.1: the highest TransactionEvent seqNo seen
    seq_missing: list[int] = msgspec.field(default_factory=list)  # skipped and not seen since (at most SEQ_MISSING_MAX)
    signed_start: model.SignedReading | None = None  # the meter's signed reading at the start
    signed_end: model.SignedReading | None = None  # its latest signed reading since: the end's, once the transaction ends


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Charging:
    def __init__(
        self, db: Database, directory: Directory, objects: Objects, parties: Parties, commands: Commands, settings: Settings
    ) -> None:
        self.db = db
        self.directory = directory
        self.objects = objects
        self.parties = parties
        self.commands = commands
        self.settings = settings
        self.realtime: Realtime | None = None
        self.elsewhere: Elsewhere | None = None  # a roaming platform that may know a token the hub does not
        self._chargers: dict[str, Charger] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._statuses: dict[str, dict[str, dict[str, str]]] = {}  # identity -> evse uid -> connector id -> status
        self._grace: dict[str, asyncio.Task] = {}
        self._tx: dict[tuple[str, str], Running] = {}
        # a charger's last Authorize (until, uid, answer), for the start it precedes: one per charger, so bounded
        self._auth: dict[str, tuple[float, str, model.Authorization]] = {}
        self._realtime_budgets = Budgets(settings.ocpp_realtime_auth_rate, settings.ocpp_realtime_auth_burst)
        self._unasked = Tally(log, "real-time authorizations not asked (the charger's budget was spent)", settings.ocpp_log_summary_interval)
        self._gaps = Tally(log, "TransactionEvents missing (seqNo gaps)", settings.ocpp_log_summary_interval)
        db.subscribe(self._on_change)
        db.subscribe(self._on_foreign_change, foreign_only=True)

    def _on_change(self, topic: str, identity: str) -> None:
        if topic == "chargers":
            self._chargers.pop(identity, None)

    def _on_foreign_change(self, topic: str, payload: str) -> None:
        """Another process changed a Location: what this one remembers of its EVSEs' statuses may be stale, so
        the next status its chargers report is compared with the store, not with memory."""
        if topic != "location" or not payload.startswith("["):
            return
        key = tuple(msgspec.json.decode(payload)[0])
        for identity in list(self._statuses):
            charger = self._chargers.get(identity)
            if charger is None or (charger.party.country_code, charger.party.party_id, charger.location_id.upper()) == key:
                self._statuses.pop(identity, None)

    def _lock(self, identity: str) -> asyncio.Lock:
        return self._locks.setdefault(identity, asyncio.Lock())

    # --- the registry ---------------------------------------------------------------------------

    async def add(
        self, identity: str, party: PartyId, location: model.Location | str, password: str | None = None,
        connector: ConnectorTemplate | None = None,
    ) -> Charger:
        """Register a charger for a CPO at a Location (a new Location object is created first)."""
        if problem := store.identity_problem(identity):
            raise Invalid(problem, "identity")
        if password is not None and (problem := store.password_problem(password)):
            raise Invalid(problem, "password")
        await self.parties.ensure_local(party, "CPO", str(party))
        if isinstance(location, model.Location):
            if await self._location(party, location.id) is None:
                await self.objects.put_location(None, location)
            location_id = location.id
        else:
            location_id = location
            if await self._location(party, location_id) is None:
                raise NotFound(f"no location {location_id} of {party}: give its address to create it")
        template = connector or ConnectorTemplate()
        await self.db.write(lambda tx: store.add(tx, identity, party, location_id, password, template))
        self._chargers.pop(identity, None)
        charger = await self.get(identity)
        assert charger is not None
        return charger

    async def get(self, identity: str) -> Charger | None:
        charger = self._chargers.get(identity)
        if charger is None:
            charger = await self.db.read(lambda conn: store.get(conn, identity))
            if charger is not None:
                self._chargers[identity] = charger
        return charger

    async def listing(self) -> list[Charger]:
        return await self.db.read(store.listing)

    async def _location(self, party: PartyId, location_id: str, with_evses: bool = False) -> model.Location | None:
        """The Location (its own fields only, unless asked: a status at a big site must not read every EVSE)."""
        return await self.objects.location(party, location_id, with_evses)

    async def _charger(self, identity: str) -> Charger:
        charger = await self.get(identity)
        if charger is None:
            raise NotFound(f"unknown charger {identity}")
        return charger

    async def add_many(self, chargers: Sequence[store.Registration], sites: Sequence[model.Location] = ()) -> Registered:
        """Register chargers and create or update the Locations they stand at, in ONE transaction. A site gives a
        Location's LOCATION_FIELDS (its EVSEs in the store stay); new and changed Locations reach the eMSPs as
        put_location's do. An existing charger whose connector template changed has its connectors rebuilt from
        it. A charger is refused, and the others go on, when its identity is another CPO's or its Location does
        not exist. The parties must be hosted already (Parties.ensure_local)."""
        now = _now()
        return await self.db.write(lambda tx: _Registrar(tx, now).run(chargers, sites, self.objects))

    # --- connection -----------------------------------------------------------------------------

    async def connected(self, identity: str, protocol: str) -> None:
        grace = self._grace.pop(identity, None)
        if grace:
            grace.cancel()
        await self.db.write(lambda tx: self._connection(tx, identity, self.db.instance, protocol))

    async def disconnected(self, identity: str) -> None:
        """After the grace period without a new connection its EVSEs become UNKNOWN to everyone."""
        self._tx = {k: v for k, v in self._tx.items() if k[0] != identity}
        await self.db.write(lambda tx: self._connection(tx, identity, None))
        self._grace[identity] = asyncio.get_running_loop().create_task(self._unknown_after_grace(identity))

    def _connection(self, tx: Tx, identity: str, instance: str | None, protocol: str | None = None) -> None:
        store.set_connection(tx, identity, instance, protocol)
        charger = store.get(tx.conn, identity) if self.directory.hooks() else None
        if charger is not None:
            type_ = "charge_point.connected" if instance else "charge_point.disconnected"
            self.objects.announce_charger(tx, charger.party, charger.location_id, identity, type_)

    async def _unknown_after_grace(self, identity: str) -> None:
        await asyncio.sleep(self.settings.ocpp_offline_grace)
        charger = await self.db.read(lambda conn: store.get(conn, identity))
        if charger is None or charger.instance is not None:
            return
        location = await self._location(charger.party, charger.location_id, with_evses=True)
        for evse in location.evses if location else []:
            if evse.uid.startswith(f"{identity.upper()}-") and evse.status not in ("UNKNOWN", "REMOVED"):
                await self.objects.patch_location(None, charger.party, charger.location_id,
                                                  {"status": "UNKNOWN", "last_updated": _now()}, evse_uid=evse.uid)
        self._statuses.pop(identity, None)
        self._grace.pop(identity, None)

    async def shutdown(self) -> None:
        for task in self._grace.values():
            task.cancel()
        await self.db.write(lambda tx: store.release_instance(tx, self.db.instance))

    async def booted(self, identity: str, boot: dict[str, Any]) -> None:
        await self.db.write(lambda tx: store.set_boot(tx, identity, boot))

    # --- status ---------------------------------------------------------------------------------

    async def status(self, identity: str, evse_no: int, connector_no: int, status: model.EvseStatus) -> None:
        """A connector's status; evse_no 0 speaks for the whole charger (only outages are taken from it)."""
        charger = await self._charger(identity)
        async with self._lock(identity):
            known = self._statuses.setdefault(identity, {})
            if evse_no == 0:
                if status in ("INOPERATIVE", "OUTOFORDER"):
                    for uid in list(known):
                        await self._set(charger, uid, {c: status for c in known[uid]})
                return
            uid = evse_uid(identity, evse_no)
            connectors = dict(known.get(uid, {}))
            connectors[str(connector_no)] = status
            await self._set(charger, uid, connectors)

    async def _set(self, charger: Charger, uid: str, connectors: dict[str, str]) -> None:
        known = self._statuses[charger.identity]
        before = known.get(uid)
        known[uid] = connectors
        status = min(connectors.values(), key=STATUS_PRIORITY.index)
        now = _now()
        if before is not None and before.keys() == connectors.keys():  # an EVSE this process has seen: no need to read it
            if min(before.values(), key=STATUS_PRIORITY.index) != status:
                await self.objects.patch_location(None, charger.party, charger.location_id, {"status": status, "last_updated": now}, evse_uid=uid)
            return
        evse = await self.objects.evse(charger.party, charger.location_id, uid)
        missing = [c for c in connectors if evse is None or not any(x.id == c for x in evse.connectors)]
        if evse is None or missing:
            await self.objects.put_evse(None, charger.party, charger.location_id, self._evse(charger, uid, evse, connectors, status, now))
        elif evse.status != status:
            await self.objects.patch_location(None, charger.party, charger.location_id, {"status": status, "last_updated": now}, evse_uid=uid)

    def _evse(self, charger: Charger, uid: str, evse: model.Evse | None, connectors: dict[str, str], status: str, now: datetime) -> model.Evse:
        t = charger.connector
        have = {c.id: c for c in evse.connectors} if evse else {}
        conns = [have.get(cid) or model.Connector(
            id=cid, standard=t.standard, format=t.format, power_type=t.power_type, max_voltage=t.max_voltage,
            max_amperage=t.max_amperage, max_electric_power=t.max_electric_power, tariff_ids=list(t.tariff_ids), last_updated=now,
        ) for cid in sorted(set(have) | set(connectors), key=lambda c: int(c) if c.isdigit() else 0)]
        if evse is not None:
            return msgspec.structs.replace(evse, connectors=conns, status=status, last_updated=now)
        safe = "".join(ch for ch in charger.identity if ch.isalnum()).upper()[:30]
        return model.Evse(
            uid=uid, evse_id=f"{charger.party.country_code}*{charger.party.party_id}*E{safe}*{uid.rsplit('-', 1)[1]}",
            status=status, connectors=conns, last_updated=now,  # type: ignore[arg-type]
            capabilities=["REMOTE_START_STOP_CAPABLE", "RFID_READER", "UNLOCK_CAPABLE", "RESERVABLE", "CHARGING_PROFILE_CAPABLE"],
        )

    # --- authorization ----------------------------------------------------------------------------

    async def find_token(self, uid: str, type_: str | None = None, by_contract: bool = False) -> model.Token | None:
        """By uid (and type when the protocol knows it; an OCPP 1.6 idTag is an RFID first, or any other), or by
        contract id (an ISO 15118 eMAID)."""

        def op(conn: sa.Connection) -> model.Token | None:
            if by_contract:
                rows = conn.execute(_TOKENS_OF_CONTRACT, {"contract": uid.upper()}).all()
            else:
                rows = conn.execute(_TOKENS_OF_TYPE if type_ else _TOKENS, {"uid": uid.upper(), "type": type_}).all()
            rows.sort(key=lambda r: r.type != "RFID")
            return docs.TOKEN.decode(rows[0].doc) if rows else None

        return await self.db.read(op)

    async def authorize(self, identity: str, uid: str, type_: str | None = None, *, by_contract: bool = False) -> model.Authorization:
        auth = await self._authorize(await self._charger(identity), uid, type_, by_contract)
        self._auth[identity] = (time.monotonic() + AUTH_REUSE, uid.upper(), auth)
        return auth

    def _fresh_authorization(self, identity: str, uid: str) -> model.Authorization | None:
        """The answer to the Authorize a charger sent just before starting (asked once, not twice)."""
        until, asked, auth = self._auth.pop(identity, (0.0, "", None))
        return auth if asked == uid.upper() and until > time.monotonic() else None

    async def _authorize(
        self, charger: Charger, uid: str, type_: str | None, by_contract: bool, evse: str | None = None,
        location: model.Location | None = None,
    ) -> model.Authorization:
        """Whether the token may charge here: as the command, the whitelist or the eMSP decides, then as the
        hub's own rules allow (`evse`: the EVSE of a start, whose `location` the caller has read; an Authorize
        names none)."""
        return await self._restricted(charger, await self._decide(charger, uid, type_, by_contract), evse, location)

    async def _decide(self, charger: Charger, uid: str, type_: str | None, by_contract: bool) -> model.Authorization:
        command = await self._recent_command(charger, uid, by_contract)
        if command is not None:
            return model.Authorization("ALLOWED", command.token, "COMMAND", command.authorization_reference)
        token = await self.find_token(uid, type_, by_contract)
        if token is None:
            return await self._ask_elsewhere(charger, uid, type_, by_contract)
        if token.whitelist == "ALWAYS" or self.realtime is None:
            return _whitelisted(token)
        return await self._ask_emsp(self.realtime, charger, token)

    async def _ask_elsewhere(self, charger: Charger, uid: str, type_: str | None, by_contract: bool) -> model.Authorization:
        """A token the hub does not know, asked of the roaming platform the charger's CPO roams through (within the
        charger's real-time budget and timeout); no answer is a refusal."""
        refused = model.Authorization("NOT_ALLOWED", None, "AUTH_REQUEST")
        if self.elsewhere is None or not self._realtime_budgets[charger.identity].take():
            return refused
        try:
            auth = await asyncio.wait_for(self.elsewhere(charger.party, charger.location_id, uid, type_, by_contract),
                                          self.settings.realtime_auth_timeout)
        except Exception as exc:
            log.warning("authorization of an unknown token at %s by a roaming platform failed: %s", charger.identity, exc)
            return refused
        return auth or refused

    async def _ask_emsp(self, realtime: Realtime, charger: Charger, token: model.Token) -> model.Authorization:
        """Real time, within the charger's budget; without an answer, the token's whitelist rule decides."""
        if not self._realtime_budgets[charger.identity].take():
            self._unasked.add("charger", charger.identity)
            return _unanswered(token)
        where = model.LocationReferences(location_id=charger.location_id)
        try:
            info = await asyncio.wait_for(realtime(token, where), self.settings.realtime_auth_timeout)
        except Exception as exc:  # the eMSP cannot be asked
            log.warning("real-time authorization of %s at %s failed (%s): whitelist %s", token.uid, charger.identity, exc, token.whitelist)
            return _unanswered(token)
        return model.Authorization(info.allowed, info.token or token, "AUTH_REQUEST", info.authorization_reference, location=info.location)

    async def _restricted(
        self, charger: Charger, auth: model.Authorization, evse: str | None, location: model.Location | None = None,
    ) -> model.Authorization:
        """An allowed token refused all the same: where the eMSP allows it elsewhere only, when the Location is
        closed, while the token is charging at another EVSE."""
        if not auth.accepted or auth.token is None:
            return auth
        refusal = (_elsewhere(charger, auth.location, evse) or await self._closed(charger, location)
                   or await self._concurrent(charger, auth.token, evse))
        return auth if refusal is None else msgspec.structs.replace(auth, allowed="NOT_ALLOWED", refusal=refusal)

    async def _closed(self, charger: Charger, location: model.Location | None) -> model.AuthorizationRefusal | None:
        location = location or await self._location(charger.party, charger.location_id)
        if location is None or location.charging_when_closed is not False or _open(location, datetime.now(timezone.utc)):
            return None
        return "NOT_AT_THIS_TIME"

    async def _concurrent(self, charger: Charger, token: model.Token, evse: str | None) -> model.AuthorizationRefusal | None:
        """The token is in an active session at another EVSE (any EVSE of another charger when `evse` is None)."""
        params = {"uid": token.uid.upper(), "cc": token.country_code.upper(), "pid": token.party_id.upper()}
        rows = await self.db.read(lambda conn: conn.execute(_ACTIVE_SESSIONS, params).all())
        for row in rows:
            here = (row.country_code, row.party_id) == (charger.party.country_code, charger.party.party_id) and (
                row.evse_uid == evse.upper() if evse is not None else _charger_of(row.evse_uid) == charger.identity.upper())
            if not here:
                return "CONCURRENT_TX"
        return None

    async def _recent_command(self, charger: Charger, uid: str, by_contract: bool) -> model.StartSession | None:
        """The eMSP's START_SESSION for this token at this charger's location in the last 15 minutes."""
        since = docs.to_us(datetime.now(timezone.utc) - COMMAND_WINDOW)

        def op(conn: sa.Connection) -> model.StartSession | None:
            params = {"since": since, "cc": charger.party.country_code, "pid": charger.party.party_id}
            for row in conn.execute(_RECENT_STARTS, params):
                req = msgspec.json.decode(row.request, type=model.StartSession)
                presented = req.token.contract_id if by_contract else req.token.uid
                if presented.upper() == uid.upper() and req.location_id.upper() == charger.location_id.upper():
                    return req
            return None

        return await self.db.read(op)

    # --- transactions -----------------------------------------------------------------------------

    async def start(
        self, identity: str, evse_no: int, connector_no: int, uid: str, token_type: str | None, meter_wh: Decimal,
        timestamp: datetime, ocpp_id: str | None = None, *, by_contract: bool = False, seq_nos: tuple[int, ...] = (),
        samples: list[model.MeterReading] | None = None,
    ) -> tuple[str, model.Authorization]:
        """A transaction begins: its Session goes to the token's eMSP. Returns (the OCPP transaction id, the
        authorization). A replayed start (same OCPP id) returns the transaction it already is. `seq_nos`: the
        numbers of the events that made the start (2.0.1); `samples`: its readings (their signed ones are kept)."""
        charger = await self._charger(identity)
        if ocpp_id is not None and (known := await self._transaction(identity, ocpp_id)) is not None:
            return ocpp_id, model.Authorization("ALLOWED" if known.state.valid else "NOT_ALLOWED", None, known.state.auth_method)
        evse = evse_uid(identity, evse_no)
        location = await self._location(charger.party, charger.location_id)  # read once: for the rules and the CDR
        fresh = self._fresh_authorization(identity, uid)
        if fresh is not None:  # asked at the Authorize for the whole charger: now for this EVSE
            auth = await self._restricted(charger, fresh, evse, location)
        else:
            auth = await self._authorize(charger, uid, token_type, by_contract, evse, location)
        token = auth.token
        if token is not None:
            cdr_token = model.CdrToken(token.country_code, token.party_id, token.uid, token.type, token.contract_id)
        else:  # nobody issued it: the Session stays with the CPO
            cdr_token = model.CdrToken(charger.party.country_code, charger.party.party_id, uid.upper(), (token_type or "RFID"), uid.upper())  # type: ignore[arg-type]
        session_id = uuid.uuid4().hex.upper()
        state = TxState(
            session_id=session_id, location_id=charger.location_id, evse_uid=evse,
            connector_id=str(connector_no), cdr_token=cdr_token, auth_method=auth.method, start=timestamp,
            meter_start_wh=meter_wh, last_wh=meter_wh, last_at=timestamp, authorization_reference=auth.reference,
            valid=auth.accepted,
        )
        for seq_no in sorted(seq_nos):
            self._follow(identity, ocpp_id, state, seq_no)
        _keep_signed(state, samples or [])
        place = await self._place(charger, state, location)  # the CDR keeps the location and tariff as they were at the start
        tid = await self.db.write(lambda tx: store.open_transaction(tx, identity, ocpp_id, charger.party, session_id, docs.encode(state)))
        ocpp_id = ocpp_id or str(tid)
        self._tx[(identity, ocpp_id)] = Running(tid, state, place)
        await self.objects.put_session(None, self._session(charger, state, place, "ACTIVE" if state.valid else "INVALID"), exists=False)
        return ocpp_id, auth

    async def _transaction(self, identity: str, ocpp_id: str) -> Running | None:
        cached = self._tx.get((identity, ocpp_id))
        if cached is not None:
            return cached
        row = await self.db.read(lambda conn: store.find_transaction(conn, identity, ocpp_id))
        if row is None:
            return None
        state = msgspec.json.decode(row.state, type=TxState)
        found = Running(row.id, state, await self._place(await self._charger(identity), state), row.status == "ACTIVE")
        if found.active:
            self._tx[(identity, ocpp_id)] = found
        return found

    async def meter(self, identity: str, ocpp_id: str, samples: list[model.MeterReading], seq_no: int | None = None) -> None:
        found = await self._transaction(identity, ocpp_id)
        if found is None or not found.active:
            raise NotFound(f"unknown transaction {ocpp_id}")
        tid, state = found.tid, found.state
        self._follow(identity, ocpp_id, state, seq_no)
        _keep_signed(state, samples)
        _measure(state, samples)
        await self.db.write(lambda tx: store.save_transaction(tx, tid, docs.encode(state)))
        now = docs.now_us()
        if now - state.last_push_us >= self.settings.session_update_interval * 1e6:
            state.last_push_us = now
            charger = await self._charger(identity)
            costs = found.place.costs(state)
            changes = {"kwh": _kwh(state.energy_wh), "total_cost": costs.total_cost if costs else None, "last_updated": _now()}
            await self.objects.patch_session(None, charger.party, state.session_id, changes)

    async def stop(
        self, identity: str, ocpp_id: str, meter_wh: Decimal | None, timestamp: datetime, samples: list[model.MeterReading],
        reason: str | None = None, seq_no: int | None = None,
    ) -> model.Cdr | None:
        """The transaction ends: its Session completes and a priced CDR goes to the token's eMSP."""
        charger = await self._charger(identity)
        found = await self._transaction(identity, ocpp_id)
        if found is None:
            raise NotFound(f"unknown transaction {ocpp_id}")
        if not found.active:
            return None  # a repeated stop
        tid, state, place = found.tid, found.state, found.place
        self._follow(identity, ocpp_id, state, seq_no)
        _keep_signed(state, samples)
        final = [*samples]
        if meter_wh is not None:  # no stop reading after a reboot: the last one known stands
            final.append(model.MeterReading(timestamp=timestamp, energy_wh=meter_wh))
        _measure(state, final, end=timestamp)
        self._tx.pop((identity, ocpp_id), None)
        await self.db.write(lambda tx: store.save_transaction(tx, tid, docs.encode(state), "COMPLETED"))
        session = self._session(charger, state, place, "COMPLETED" if state.valid else "INVALID", end=timestamp)
        await self.objects.put_session(None, session)
        if not state.valid:
            return None
        cdr = self._cdr(charger, state, place, session, timestamp, reason)
        await self.objects.post_cdr(None, cdr)
        return cdr

    def _follow(self, identity: str, ocpp_id: str | None, state: TxState, seq_no: int | None) -> None:
        """Notice the events of a transaction that never arrived (2.0.1 seqNo); the state keeps what was seen,
        so a restart does not forget it. A transaction's first gap in an interval gets a line of its own, the
        rest are summarised (a station numbering its events across transactions has gaps all the time)."""
        gap = _sequence(state, seq_no)
        if gap and self._gaps.add("by transaction", f"{identity}/{ocpp_id}", len(gap)):
            log.warning("transaction %s of %s: %d TransactionEvent(s) missing (seqNo %d to %d)", ocpp_id, identity, len(gap), gap[0], gap[-1])

    async def session_of(self, party: PartyId, session_id: str) -> tuple[str, str] | None:
        """(charger identity, OCPP transaction id) of an active Session."""
        row = await self.db.read(lambda conn: store.transaction_of_session(conn, party, session_id))
        return (row.charger, row.ocpp_id) if row is not None and row.status == "ACTIVE" else None

    # --- building the canonical objects ---------------------------------------------------------------

    async def _place(self, charger: Charger, state: TxState, location: model.Location | None = None) -> Place:
        """Where a transaction happens: its Location (unless the caller read it), EVSE, connector and tariff."""
        location = location or await self._location(charger.party, charger.location_id)
        if location is None:
            raise NotFound(f"the location {charger.location_id} of charger {charger.identity} is gone")
        evse = await self.objects.evse(charger.party, charger.location_id, state.evse_uid)
        connector = next((c for c in evse.connectors if c.id == state.connector_id), None) if evse else None
        tariff = None
        for tariff_id in (connector.tariff_ids if connector else charger.connector.tariff_ids):
            try:
                tariff = await self.objects.get(None, docs.TARIFF, (charger.party.country_code, charger.party.party_id, tariff_id))
                break
            except NotFound:
                continue
        return Place(location, evse, connector, tariff)

    def _session(self, charger: Charger, state: TxState, place: Place, status: model.SessionStatus, end: datetime | None = None) -> model.Session:
        costs = place.costs(state)
        return model.Session(
            country_code=charger.party.country_code, party_id=charger.party.party_id, id=state.session_id,
            start_date_time=state.start, end_date_time=end, kwh=_kwh(state.energy_wh), cdr_token=state.cdr_token,
            auth_method=state.auth_method, authorization_reference=state.authorization_reference,
            location_id=state.location_id, evse_uid=state.evse_uid, connector_id=state.connector_id,
            currency=place.tariff.currency if place.tariff else self.settings.currency, status=status, last_updated=_now(),
            charging_periods=costs.charging_periods if costs and end else [],
            total_cost=costs.total_cost if costs else None,
        )

    def _cdr(self, charger: Charger, state: TxState, place: Place, session: model.Session, end: datetime, reason: str | None) -> model.Cdr:
        location, evse, connector, tariff = place.location, place.evse, place.connector, place.tariff
        usage = state.usage or [pricing.Usage(start=state.start, end=max(end, state.start + timedelta(seconds=1)), energy_kwh=Decimal(0))]
        costs = pricing.price(tariff, usage, location.time_zone)
        zero = model.Price(Decimal(0), Decimal(0))
        return model.Cdr(
            country_code=charger.party.country_code, party_id=charger.party.party_id, id=state.session_id,
            start_date_time=state.start, end_date_time=end, session_id=state.session_id, cdr_token=state.cdr_token,
            auth_method=state.auth_method, authorization_reference=state.authorization_reference,
            cdr_location=model.CdrLocation(
                id=location.id, name=location.name, address=location.address[:45], city=location.city,
                postal_code=location.postal_code, state=location.state[:20] if location.state else None,
                country=location.country, coordinates=location.coordinates, evse_uid=state.evse_uid,
                evse_id=(evse.evse_id if evse and evse.evse_id else state.evse_uid),
                connector_id=state.connector_id,
                connector_standard=connector.standard if connector else charger.connector.standard,
                connector_format=connector.format if connector else charger.connector.format,
                connector_power_type=connector.power_type if connector else charger.connector.power_type,
            ),
            currency=session.currency, tariffs=[tariff] if tariff else [], charging_periods=costs.charging_periods,
            total_cost=costs.total_cost if tariff else zero, total_fixed_cost=costs.total_fixed_cost,
            total_energy=_kwh(state.energy_wh), total_energy_cost=costs.total_energy_cost, total_time=costs.total_time,
            total_time_cost=costs.total_time_cost, total_parking_time=costs.total_parking_time,
            total_parking_cost=costs.total_parking_cost, remark=f"stop reason: {reason}"[:255] if reason else None,
            signed_data=_signed_data(state), last_updated=max(_now(), end),
        )


class Registered(msgspec.Struct, frozen=True):
    """What add_many did, in order: per charger `created`, `updated`, `unchanged` or `refused` (why: `refused`,
    by index); per site `created`, `updated` or `unchanged`."""

    chargers: list[str]
    refused: dict[int, str]
    sites: list[str]


class _Registrar:
    """One add_many transaction: the Locations it writes whole, those it read whole, which Locations exist."""

    def __init__(self, tx: Tx, now: datetime) -> None:
        self.tx, self.now = tx, now
        self.writes: dict[tuple[str, ...], model.Location] = {}
        self.read: dict[tuple[str, ...], model.Location] = {}
        self.present: dict[tuple[str, ...], bool] = {}

    def run(self, chargers: Sequence[store.Registration], sites: Sequence[model.Location], objects: Objects) -> Registered:
        site_outcomes = [self.site(s) for s in sites]
        known = store.get_many(self.tx.conn, [c.identity for c in chargers])
        outcomes: list[str] = []
        refused: dict[int, str] = {}
        changed: list[store.Registration] = []
        for n, reg in enumerate(chargers):
            old, key = known.get(reg.identity), (reg.party.country_code, reg.party.party_id, reg.location_id.upper())
            if old is not None and old.party != reg.party:
                refused[n] = f"charger {reg.identity} belongs to {old.party}"
            elif not self.exists(key):
                refused[n] = f"no location {reg.location_id} of {reg.party}: give its address to create it"
            if n in refused:
                outcomes.append("refused")
                continue
            if old is not None and old.connector != reg.connector:
                self.retemplate(key, reg)
            differs = old is not None and (old.location_id != key[2] or old.connector != reg.connector or reg.password_hash)
            outcomes.append("created" if old is None else "updated" if differs else "unchanged")
            if outcomes[-1] != "unchanged":
                changed.append(reg)
        objects.put_locations(self.tx, None, list(self.writes.values()))
        store.upsert(self.tx, changed)
        return Registered(outcomes, refused, site_outcomes)

    def site(self, site: model.Location) -> str:
        key = docs.LOCATION.key(site)
        stored = locations.get(self.tx.conn, key, for_update=True, with_evses=False)
        self.present[key] = True
        if stored is None:
            self.writes[key] = site
            return "created"
        if all(getattr(stored.obj, f) == getattr(site, f) for f in LOCATION_FIELDS):
            return "unchanged"
        fields = {f: getattr(site, f) for f in LOCATION_FIELDS}
        self.writes[key] = msgspec.structs.replace(self.whole(key), last_updated=self.now, **fields)
        return "updated"

    def exists(self, key: tuple[str, ...]) -> bool:
        if key not in self.present:
            self.present[key] = docs.get(self.tx.conn, docs.LOCATION, key) is not None
        return self.present[key]

    def whole(self, key: tuple[str, ...]) -> model.Location:
        """The Location with its EVSEs, as this transaction has it so far (read for update the first time)."""
        if key in self.writes:
            return self.writes[key]
        if key not in self.read:
            stored = locations.get(self.tx.conn, key, for_update=True)
            assert stored is not None  # a charger's Location exists (checked first)
            self.read[key] = stored.obj
        return self.read[key]

    def retemplate(self, key: tuple[str, ...], reg: store.Registration) -> None:
        """The connectors of the charger's EVSEs, rebuilt from its new template: eMSPs see the new standard,
        power or tariff (a Location whose EVSEs all match is not written)."""
        loc = self.whole(key)
        evses = [self._rebuilt(e, reg.connector) if _charger_of(e.uid) == reg.identity.upper() else e for e in loc.evses]
        if evses != loc.evses:
            self.writes[key] = msgspec.structs.replace(loc, evses=evses, last_updated=self.now)

    def _rebuilt(self, evse: model.Evse, template: ConnectorTemplate) -> model.Evse:
        connectors = [c if template.matches(c) else template.connector(c.id, self.now) for c in evse.connectors]
        if connectors == evse.connectors:
            return evse
        return msgspec.structs.replace(evse, connectors=connectors, last_updated=self.now)


class Running(msgspec.Struct):
    """A transaction this process follows: its row, its measurement, where it happens."""

    tid: int
    state: TxState
    place: Place
    active: bool = True


class Place(msgspec.Struct, frozen=True):
    location: model.Location
    evse: model.Evse | None
    connector: model.Connector | None
    tariff: model.Tariff | None

    def costs(self, state: TxState) -> pricing.Costs | None:
        if self.tariff is None or not state.usage:
            return None
        return pricing.price(self.tariff, state.usage, self.location.time_zone)


def own_answer(token: model.Token, where: model.LocationReferences | None = None) -> model.AuthorizationInfo:
    """The hub's answer to a roaming party asking about a token of a party the hub runs: the token's own validity, with
    a reference of the hub's for the Session and CDR to echo."""
    return model.AuthorizationInfo(allowed="ALLOWED" if token.valid else "BLOCKED", token=token, location=where,
                                   authorization_reference=uuid.uuid4().hex if token.valid else None)


def _whitelisted(token: model.Token) -> model.Authorization:
    return model.Authorization("ALLOWED" if token.valid else "BLOCKED", token, "WHITELIST")


def _unanswered(token: model.Token) -> model.Authorization:
    """The eMSP was not asked, or did not answer: ALLOWED and ALLOWED_OFFLINE tokens count as whitelisted."""
    if token.whitelist in ("ALLOWED", "ALLOWED_OFFLINE"):
        return _whitelisted(token)
    return model.Authorization("NOT_ALLOWED", token, "AUTH_REQUEST")


def _charger_of(uid: str) -> str:
    """The charger identity of one of its EVSE uids (`<identity>-<n>`)."""
    return uid.rsplit("-", 1)[0]


def _elsewhere(charger: Charger, where: model.LocationReferences | None, evse: str | None) -> model.AuthorizationRefusal | None:
    """The eMSP allows the token at other places only (its AuthorizationInfo.location)."""
    if where is None:
        return None
    if where.location_id.upper() != charger.location_id.upper():
        return "NOT_AT_THIS_LOCATION"
    allowed = {uid.upper() for uid in where.evse_uids}
    if not allowed or (evse.upper() in allowed if evse is not None else any(_charger_of(uid) == charger.identity.upper() for uid in allowed)):
        return None
    return "NOT_AT_THIS_LOCATION"


def _open(location: model.Location, at: datetime) -> bool:
    """Whether the Location's opening times say it is open at `at` (OCPI Hours, regular hours in local time)."""
    hours = location.opening_times
    if hours is None:
        return True
    if any(p.period_begin <= at < p.period_end for p in hours.exceptional_closings):
        return False
    if hours.twentyfourseven or any(p.period_begin <= at < p.period_end for p in hours.exceptional_openings):
        return True
    try:
        local = at.astimezone(ZoneInfo(location.time_zone))
    except (ZoneInfoNotFoundError, ValueError):
        local = at
    now, today = local.strftime("%H:%M"), local.isoweekday()
    for period in hours.regular_hours:
        begin, end = period.period_begin, period.period_end
        if begin < end:
            if period.weekday == today and begin <= now < end:
                return True
        elif (period.weekday == today and now >= begin) or (period.weekday % 7 + 1 == today and now < end):  # over midnight
            return True
    return False


def _sequence(state: TxState, seq_no: int | None) -> range:
    """Follow a transaction's event numbers: the ones a new number skipped (empty when none did)."""
    if seq_no is None:
        return range(0)
    if state.seq_no is None or seq_no > state.seq_no:
        gap = range(state.seq_no + 1, seq_no) if state.seq_no is not None else range(0)
        state.seq_no = seq_no
        state.seq_missing.extend(gap[: max(0, SEQ_MISSING_MAX - len(state.seq_missing))])
        return gap
    if seq_no in state.seq_missing:  # late, not lost
        state.seq_missing.remove(seq_no)
    return range(0)


def _keep_signed(state: TxState, samples: list[model.MeterReading]) -> None:
    """The first signed start reading, and the latest signed reading after it (an end one is not replaced by
    an intermediate one): what the CDR carries, at a bounded size."""
    for sample in sorted(samples, key=lambda s: s.timestamp):
        signed = sample.signed
        if signed is None:
            continue
        if signed.value.nature == "Start":
            state.signed_start = state.signed_start or signed
        elif state.signed_end is None or state.signed_end.value.nature != "End" or signed.value.nature == "End":
            state.signed_end = signed


def _signed_data(state: TxState) -> model.SignedData | None:
    readings = [r for r in (state.signed_start, state.signed_end) if r is not None]
    if not readings:
        return None
    return model.SignedData(encoding_method=readings[0].encoding_method, signed_values=[r.value for r in readings],
                            public_key=next((r.public_key for r in readings if r.public_key), None))


def _kwh(wh: Decimal) -> Decimal:
    return (wh / KWH).quantize(Decimal("0.001"))


def _measure(state: TxState, samples: list[model.MeterReading], end: datetime | None = None) -> None:
    """Take readings in: energy since the last one (a lower reading means the register was reset, so the
    reading itself is what it counted since), as stretches of charging or parking for the pricing."""
    for sample in sorted(samples, key=lambda s: s.timestamp):
        if sample.timestamp < state.last_at or sample.energy_wh is None:
            continue
        delta = sample.energy_wh - state.last_wh
        if delta < 0:
            delta = sample.energy_wh
        power = sample.power_w / KWH if sample.power_w is not None else None
        _stretch(state, sample.timestamp, delta, power)
        state.last_wh = sample.energy_wh
        state.last_at = sample.timestamp
    if end is not None and end > state.last_at:
        _stretch(state, end, Decimal(0), None)
        state.last_at = end


def _stretch(state: TxState, until: datetime, delta_wh: Decimal, power_kw: Decimal | None) -> None:
    """Consecutive stretches of the same kind merge, so the state stays small for long sessions."""
    if until <= state.last_at and delta_wh == 0:
        return
    state.energy_wh += delta_wh
    charging = delta_wh > 0 or bool(power_kw and power_kw > Decimal("0.05"))
    energy = delta_wh / KWH
    last = state.usage[-1] if state.usage else None
    if last is not None and last.charging == charging and last.end == state.last_at:
        peak = max((p for p in (last.max_power_kw, power_kw) if p is not None), default=None)
        state.usage[-1] = msgspec.structs.replace(last, end=max(until, last.end), energy_kwh=last.energy_kwh + energy, max_power_kw=peak)
    else:  # readings may share a timestamp (whole seconds): a stretch of no duration still carries its energy
        state.usage.append(pricing.Usage(start=state.last_at, end=max(until, state.last_at), energy_kwh=energy, charging=charging,
                                         max_power_kw=power_kw))
