"""The OCPP central system: a WebSocket server at ws://HOST:HUB_OCPP_PORT/ocpp/<identity>.

- Subprotocols `ocpp2.0.1` and `ocpp1.6`; a connection without one is refused.
- The identity must be registered; a charger registered with a password must send it by HTTP Basic
  (security profile 1); both are checked at the handshake.
- Failed handshakes are throttled per source address and per identity: a source that keeps failing gets
  429 (Retry-After) without its password being checked; an identity under attack only has passwords checked
  from sources without recent failures. Refusals are logged as one summary line per interval.
- One `Station` per connection reads frames in its own loop. Calls from the charger are validated against
  the official schemas, handled (slow ones, which may wait for an eMSP's real-time authorization, in a task
  of their own, so answers to the hub's calls are not stuck behind them) and answered; calls from the
  hub (`call`) wait for their answer on a future. A charger gets a fair share: with `ocpp_max_inflight` of
  its messages in hand, its socket is not read until one is done, so a flooding charger slows only itself.
  A message other than BootNotification from a charger that never booted is answered SecurityError; a
  transaction message for an unknown transaction, PropertyConstraintViolation; any frame that is not OCPP-J,
  the spec's CallError. Nothing malformed reaches the store, nothing a charger sends closes its connection.
- Several processes: a call for a charger whose socket another process holds travels there and back as
  database notifications (PostgreSQL LISTEN/NOTIFY).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from hub.limits import Budgets, Tally
from hub.services.charging import Charging
from hub.services.errors import NotFound
from hub.settings import Settings
from hub.store import chargers as charger_store
from hub.store.db import Database
from protocols.ocpp import rpc, v16, v201, validation
from protocols.ocpp.rpc import RpcError

log = logging.getLogger(__name__)

SUBPROTOCOLS = ["ocpp2.0.1", "ocpp1.6"]
SLOW = {"Authorize", "StartTransaction", "TransactionEvent"}  # may wait for an eMSP
HEARTBEAT_INTERVAL = 300
ACK = {"FirmwareStatusNotification", "DiagnosticsStatusNotification", "NotifyReport", "NotifyEvent",
       "SecurityEventNotification", "LogStatusNotification", "NotifyMonitoringReport", "ReservationStatusUpdate"}
PENDING_MAX = 32  # 2.0.1 transactions of a station started but not yet authorized (beyond, the oldest is forgotten)
SEQ_KEEP = 32  # seqNos of such a transaction's events kept until it starts


class ChargerOffline(Exception):
    """The charger is not connected to any hub process."""


class Station:
    """One charger's connection."""

    __slots__ = ("identity", "version", "ws", "server", "booted", "pending", "started")

    def __init__(self, identity: str, version: str, ws: ServerConnection, server: OcppServer, booted: bool) -> None:
        self.identity = identity
        self.version = version
        self.ws = ws
        self.server = server
        self.booted = booted
        self.pending: dict[str, asyncio.Future] = {}
        # 2.0.1 transactions started before any idToken: their first event and the seqNos seen since
        self.started: dict[str, tuple[v201.TransactionEvent, tuple[int, ...]]] = {}

    async def run(self) -> None:
        slots = asyncio.Semaphore(self.server.settings.ocpp_max_inflight)
        tasks: set[asyncio.Task] = set()
        try:
            async for raw in self.ws:
                try:
                    frame = rpc.parse(raw)
                except RpcError as err:
                    await self.ws.send(rpc.error(err.details.get("id", "-1"), err, self.version))
                    continue
                if frame.kind != rpc.CALL:  # an answer to the hub's call (one for no call is dropped)
                    waiter = self.pending.pop(frame.id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame)
                elif frame.action in SLOW:
                    await slots.acquire()  # backpressure: with its share in hand, this charger's socket is not read
                    task = asyncio.get_running_loop().create_task(self.handle(frame))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _: slots.release())
                else:
                    await self.handle(frame)
        except ConnectionClosed:
            pass
        finally:
            for waiter in self.pending.values():
                if not waiter.done():
                    waiter.set_exception(ChargerOffline(self.identity))

    async def handle(self, frame: rpc.Frame) -> None:
        action = frame.action or ""
        try:
            payload = await self.server.dispatch(self, action, frame.payload)
            reply = rpc.result(frame.id, payload)
        except RpcError as err:
            reply = rpc.error(frame.id, err, self.version)
        except Exception:
            log.exception("%s %s failed", self.identity, action)
            reply = rpc.error(frame.id, RpcError("InternalError", f"{action} could not be processed"), self.version)
        try:
            await self.ws.send(reply)
        except ConnectionClosed:
            pass

    async def call(self, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """A call from the hub; the charger's answer (checked against its schema), or RpcError for a CALLERROR."""
        validation.validate(self.version, action, payload)
        uid = uuid.uuid4().hex[:16]
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pending[uid] = waiter
        try:
            await self.ws.send(rpc.call(uid, action, payload))
            frame: rpc.Frame = await asyncio.wait_for(waiter, timeout)
        except ConnectionClosed as exc:
            raise ChargerOffline(self.identity) from exc
        finally:
            self.pending.pop(uid, None)
        if frame.kind == rpc.CALLERROR:
            code, description, _ = frame.error  # type: ignore[misc]
            raise RpcError(code, description)
        validation.validate(self.version, action, frame.payload, response=True)
        return frame.payload


Handler = Callable[[Station, Any], Awaitable[dict[str, Any]]]


class OcppServer:
    def __init__(self, charging: Charging, db: Database, settings: Settings) -> None:
        self.charging = charging
        self.db = db
        self.settings = settings
        self.stations: dict[str, Station] = {}
        self._server: Server | None = None
        self._remote: dict[str, asyncio.Future] = {}
        self._verified: dict[str, str] = {}  # identity -> sha256 of the password last verified (cheap reconnects)
        self.handshakes = Handshakes(settings)
        self.handlers: dict[str, dict[str, Handler]] = {"1.6": HANDLERS_16, "2.0.1": HANDLERS_201}
        db.subscribe(self._on_note)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        for version, messages in (("1.6", v16.MESSAGES), ("2.0.1", v201.MESSAGES)):
            for action in (*messages, "Heartbeat"):
                validation.validator(version, action)
        ping = self.settings.ocpp_ping_interval or None
        self._server = await serve(
            self._connection, self.settings.host, self.settings.ocpp_port, subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
            process_request=self._handshake, ping_interval=ping, ping_timeout=ping, max_size=1 << 18, max_queue=4,
            compression=None, write_limit=1 << 14,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.charging.shutdown()

    # --- connections ---------------------------------------------------------------------------------

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = request.path.split("?")[0].strip("/").split("/")
        if len(parts) != 2 or parts[0] != "ocpp" or not parts[1]:
            return connection.respond(HTTPStatus.NOT_FOUND, "not an OCPP endpoint: use /ocpp/<identity>\n")
        identity, source = unquote(parts[1]), _source(connection)
        if (wait := self.handshakes.wait(source)) is not None:  # before any lookup: a throttled source costs nothing
            return self.handshakes.throttled(connection, source, identity, wait)
        charger = await self.charging.get(identity)
        if charger is None:
            self.handshakes.failed(source, identity, known=False)
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charge point\n")
        if charger.password_hash:
            if (wait := self.handshakes.wait(source, identity)) is not None:
                return self.handshakes.throttled(connection, source, identity, wait)
            if not self._password_ok(identity, charger.password_hash, request.headers.get("Authorization")):
                self.handshakes.failed(source, identity, known=True)
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "authentication required\n")
                response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
                return response
        return None

    def _password_ok(self, identity: str, stored: str, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if user != identity:
            return False
        quick = hashlib.sha256(f"{stored}:{password}".encode()).hexdigest()
        if hmac.compare_digest(self._verified.get(identity, ""), quick):
            return True
        if charger_store.check_password(stored, password):
            self._verified[identity] = quick
            return True
        return False

    async def _connection(self, ws: ServerConnection) -> None:
        if ws.subprotocol not in rpc.VERSIONS:
            await ws.close(1002, "an OCPP subprotocol (ocpp1.6 or ocpp2.0.1) is required")
            return
        identity = unquote(ws.request.path.split("?")[0].strip("/").split("/")[1])  # type: ignore[union-attr]
        charger = await self.charging.get(identity)
        if charger is None:
            await ws.close(1008, "unknown charge point")
            return
        old = self.stations.get(identity)
        if old is not None:  # the newest connection wins
            await old.ws.close(1000, "replaced by a new connection")
        station = Station(identity, rpc.VERSIONS[ws.subprotocol], ws, self, charger.boot is not None)
        self.stations[identity] = station
        await self.charging.connected(identity, ws.subprotocol)
        log.info("charger %s connected (%s)", identity, ws.subprotocol)
        try:
            await station.run()
        finally:
            if self.stations.get(identity) is station:
                del self.stations[identity]
                await self.charging.disconnected(identity)
                log.info("charger %s disconnected", identity)

    # --- messages from chargers ------------------------------------------------------------------------

    async def dispatch(self, station: Station, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        handler = self.handlers[station.version].get(action)
        if handler is None:
            if validation.known(station.version, action):
                raise RpcError("NotSupported", f"{action} is not supported by this central system")
            raise RpcError("NotImplemented", f"{action} is not an OCPP {station.version} action")
        validation.validate(station.version, action, payload)
        if not station.booted and action != "BootNotification":
            raise RpcError("SecurityError", "send a BootNotification first")
        messages = v16.MESSAGES if station.version == "1.6" else v201.MESSAGES
        try:
            message = msgspec.convert(payload, messages[action], strict=False) if action in messages else payload
        except msgspec.ValidationError as exc:  # fits the schema, not the hub's bounds
            raise RpcError("PropertyConstraintViolation", f"{action}: {exc}") from None
        try:
            return await handler(station, message)
        except NotFound as exc:
            raise RpcError("PropertyConstraintViolation", exc.message) from None

    # --- calls to chargers ---------------------------------------------------------------------------------

    async def call(self, identity: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call a charger wherever its socket is: in this process, or in another one (by notification)."""
        timeout = self.settings.ocpp_call_timeout
        station = self.stations.get(identity)
        if station is not None:
            return await station.call(action, payload, timeout)
        charger = await self.db.read(lambda conn: charger_store.get(conn, identity))
        if charger is None or charger.instance is None or charger.instance == self.db.instance:
            raise ChargerOffline(identity)
        call_id = uuid.uuid4().hex
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self._remote[call_id] = waiter
        note = {"to": charger.instance, "from": self.db.instance, "id": call_id, "identity": identity, "action": action, "payload": payload}
        try:
            await self.db.publish("ocpp.call", msgspec.json.encode(note).decode())
            reply = await asyncio.wait_for(waiter, timeout + 5)
        finally:
            self._remote.pop(call_id, None)
        if reply.get("error"):
            if reply["error"] == "offline":
                raise ChargerOffline(identity)
            raise RpcError(reply["error"], reply.get("description", ""))
        return reply["result"]

    def _on_note(self, topic: str, payload: str) -> None:
        if topic not in ("ocpp.call", "ocpp.reply"):
            return
        note = msgspec.json.decode(payload)
        if note.get("to") != self.db.instance:
            return
        if topic == "ocpp.reply":
            waiter = self._remote.get(note["id"])
            if waiter is not None and not waiter.done():
                waiter.set_result(note)
        else:
            asyncio.get_running_loop().create_task(self._call_for(note))

    async def _call_for(self, note: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"to": note["from"], "id": note["id"]}
        station = self.stations.get(note["identity"])
        try:
            if station is None:
                raise ChargerOffline(note["identity"])
            reply["result"] = await station.call(note["action"], note["payload"], self.settings.ocpp_call_timeout)
        except ChargerOffline:
            reply["error"] = "offline"
        except RpcError as err:
            reply.update(error=err.code, description=err.description)
        except asyncio.TimeoutError:
            reply.update(error="Timeout", description="the charger did not answer")
        await self.db.publish("ocpp.reply", msgspec.json.encode(reply).decode())


class Handshakes:
    """Failed handshakes, counted per source address and per identity as budgets of failures (bounded in
    number), so that guessing passwords or identities gets nowhere fast:
    - a source that spent its failures gets 429 with Retry-After, without its password being checked;
    - an identity that spent its failures is under attack: its password is only checked for sources without
      recent failures, so the real charger still gets in from its own address;
    - an unknown identity is a failure of its source (identity scanning).
    Refusals are logged as one summary line per interval (the first of a known identity at INFO), never a
    password."""

    def __init__(self, settings: Settings) -> None:
        rate, burst = settings.ocpp_handshake_failure_rate, settings.ocpp_handshake_failure_burst
        self.sources = Budgets(rate, burst)
        self.identities = Budgets(rate, burst)
        self.interval = settings.ocpp_log_summary_interval
        self.tally = Tally(log, "refused OCPP handshakes", self.interval)

    def wait(self, source: str, identity: str | None = None) -> float | None:
        """Seconds before a handshake from `source` (for `identity`) is worth checking; None: check it now."""
        tried = self.sources.get(source)
        if tried is not None and tried.spent:
            return tried.seconds_until(1)
        attacked = self.identities.get(identity) if identity is not None else None
        if attacked is not None and attacked.spent and tried is not None and not tried.full:
            return min(tried.seconds_until(tried.burst), attacked.seconds_until(1))
        return None

    def failed(self, source: str, identity: str, known: bool) -> None:
        self.sources[source].take()
        first = self._count(source, identity)
        if known:
            self.identities[identity].take()
            if first:
                log.info("charger %r refused: wrong or missing password (from %s); further refusals are summarised every %g s",
                         identity, source, self.interval)

    def throttled(self, connection: ServerConnection, source: str, identity: str, wait: float) -> Response:
        self._count(source, identity)
        self.tally.add("throttled (429) by source", source)
        response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "too many failed handshakes: retry later\n")
        response.headers["Retry-After"] = str(max(1, math.ceil(min(wait, 3600))))
        return response

    def _count(self, source: str, identity: str) -> bool:
        """Count a refusal; True for the identity's first in this interval."""
        self.tally.add("by source", source)
        return self.tally.add("by identity", identity)


def _source(connection: ServerConnection) -> str:
    """Who is knocking: the address, or its /64 for IPv6 (one subscriber holds a whole /64)."""
    host = str((connection.remote_address or ("unknown",))[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{host}/64", strict=False))
    return str(address)


# --- handlers ------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


async def _boot16(st: Station, m: v16.BootNotification) -> dict[str, Any]:
    await st.server.charging.booted(st.identity, v16.boot_info(m))
    st.booted = True
    return v16.boot_accepted(HEARTBEAT_INTERVAL)


async def _heartbeat(st: Station, _m: Any) -> dict[str, Any]:
    return {"currentTime": v16.now()}


async def _status16(st: Station, m: v16.StatusNotification) -> dict[str, Any]:
    await st.server.charging.status(st.identity, m.connector_id, 1, v16.STATUS[m.status])
    return {}


async def _authorize16(st: Station, m: v16.Authorize) -> dict[str, Any]:
    return v16.id_tag_info(await st.server.charging.authorize(st.identity, m.id_tag))


async def _start16(st: Station, m: v16.StartTransaction) -> dict[str, Any]:
    ocpp_id, auth = await st.server.charging.start(st.identity, m.connector_id, 1, m.id_tag, None, Decimal(m.meter_start), m.timestamp)
    return {"transactionId": int(ocpp_id), **v16.id_tag_info(auth)}


async def _meter16(st: Station, m: v16.MeterValues) -> dict[str, Any]:
    if m.transaction_id is not None:  # readings outside a transaction are not kept
        await st.server.charging.meter(st.identity, str(m.transaction_id), v16.samples(m.meter_value))
    return {}


async def _stop16(st: Station, m: v16.StopTransaction) -> dict[str, Any]:
    await st.server.charging.stop(st.identity, str(m.transaction_id), Decimal(m.meter_stop), m.timestamp,
                                  v16.samples(m.transaction_data or []), m.reason)
    return {"idTagInfo": {"status": "Accepted"}} if m.id_tag else {}


async def _ack(_st: Station, _m: Any) -> dict[str, Any]:
    return {}


async def _data_transfer(_st: Station, _m: Any) -> dict[str, Any]:
    return {"status": "UnknownVendorId"}


HANDLERS_16: dict[str, Handler] = {
    "BootNotification": _boot16, "Heartbeat": _heartbeat, "StatusNotification": _status16, "Authorize": _authorize16,
    "StartTransaction": _start16, "MeterValues": _meter16, "StopTransaction": _stop16, "DataTransfer": _data_transfer,
    **{a: _ack for a in ACK if validation.known("1.6", a)},
}


async def _boot201(st: Station, m: v201.BootNotification) -> dict[str, Any]:
    await st.server.charging.booted(st.identity, v201.boot_info(m))
    st.booted = True
    return v201.boot_accepted(HEARTBEAT_INTERVAL)


async def _heartbeat201(st: Station, _m: Any) -> dict[str, Any]:
    return {"currentTime": v201.now()}


async def _status201(st: Station, m: v201.StatusNotification) -> dict[str, Any]:
    await st.server.charging.status(st.identity, m.evse_id, m.connector_id, v201.STATUS[m.connector_status])
    return {}


async def _authorize201(st: Station, m: v201.Authorize) -> dict[str, Any]:
    auth = await st.server.charging.authorize(st.identity, m.id_token.id_token, v201.TOKEN_TYPE.get(m.id_token.type),
                                              by_contract=m.id_token.type == v201.CONTRACT)
    return v201.id_token_info(auth, known=auth.token is not None)


def _energy(readings: list[Any], last: bool) -> Decimal | None:
    values = [r.energy_wh for r in readings if r.energy_wh is not None]
    return (values[-1] if last else values[0]) if values else None


async def _transaction201(st: Station, m: v201.TransactionEvent) -> dict[str, Any]:
    charging, tx = st.server.charging, m.transaction_info.transaction_id
    readings = v201.samples(m.meter_value)
    if m.event_type == "Started" or tx in st.started:
        first, seen = st.started.pop(tx, (m, ()))
        seen = (*seen, m.seq_no)[-SEQ_KEEP:]
        if m.id_token is None:  # started before authorization (e.g. on plug-in): wait for the idToken
            if m.event_type != "Ended":  # (one that ends unauthorized never was a transaction of the hub's)
                _wait_for_token(st, tx, first, seen)
            return {}
        evse = first.evse or m.evse or v201.Evse(id=1, connector_id=1)
        start_readings = v201.samples(first.meter_value)
        _, auth = await charging.start(
            st.identity, evse.id, evse.connector_id or 1, m.id_token.id_token, v201.TOKEN_TYPE.get(m.id_token.type),
            _energy(start_readings, last=False) or Decimal(0), first.timestamp, ocpp_id=tx,
            by_contract=m.id_token.type == v201.CONTRACT, seq_nos=seen, samples=start_readings,
        )
        if m.event_type == "Ended":
            await charging.stop(st.identity, tx, _energy(readings, last=True), m.timestamp, readings, m.transaction_info.stopped_reason)
        elif m.event_type == "Updated" and readings:
            await charging.meter(st.identity, tx, readings)
        return v201.id_token_info(auth, known=auth.token is not None)
    if m.event_type == "Updated":
        await charging.meter(st.identity, tx, readings, m.seq_no)
    else:
        await charging.stop(st.identity, tx, _energy(readings, last=True), m.timestamp, readings, m.transaction_info.stopped_reason, m.seq_no)
    return {"idTokenInfo": {"status": "Accepted"}} if m.id_token else {}


def _wait_for_token(st: Station, tx: str, first: v201.TransactionEvent, seen: tuple[int, ...]) -> None:
    st.started[tx] = (first, seen)
    if len(st.started) > PENDING_MAX:
        del st.started[next(iter(st.started))]


async def _meter201(st: Station, m: v201.MeterValues) -> dict[str, Any]:
    return {}  # readings outside transactions (TransactionEvent carries those of a transaction)


HANDLERS_201: dict[str, Handler] = {
    "BootNotification": _boot201, "Heartbeat": _heartbeat201, "StatusNotification": _status201, "Authorize": _authorize201,
    "TransactionEvent": _transaction201, "MeterValues": _meter201, "DataTransfer": _data_transfer,
    **{a: _ack for a in ACK if validation.known("2.0.1", a)},
}
