"""Commands and charging-profile requests relayed through the hub, with their asynchronous results.

The hub hands the receiver a `response_url` of its own, keeps the sender's, and relays the result when
it arrives. A command for a party whose chargers the hub runs itself goes to a local executor instead
(the OCPP central system); for every other party the protocol module forwards it.

`run` is the other way to reach the hub's own chargers: it waits for the charger's answer and returns it (the
partner API answers a command at once, with no response_url). It is recorded like every command.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services.directory import Directory, Platform
from hub.services.errors import Invalid, NotFound, NotPermitted, UnknownLocation, UnknownReceiver, UnknownSession
from hub.services.objects import Objects
from hub.store import documents as docs
from hub.store import outbox, schema
from hub.store.db import Database, Tx
from hub.store.documents import encode, now_us

C = schema.commands

# A local executor runs a command on the hub's own chargers: (record) -> the synchronous response.
LocalExecutor = Callable[["CommandRecord"], Awaitable[Any]]
# A remote executor hands a command to a platform that speaks another protocol than the sender (a roaming platform
# such as Hubject): (record, platform) -> the synchronous response; it completes the record when the result is known.
RemoteExecutor = Callable[["CommandRecord", Platform], Awaitable[Any]]
# A runner asks a charger of the hub's own and waits: (record) -> the charger's answer (see Commands.run).
Runner = Callable[["CommandRecord"], Awaitable[model.CommandResult]]


class CommandRecord(msgspec.Struct, frozen=True):
    id: str
    kind: str
    sender: PartyId
    receiver: PartyId
    response_url: str
    correlation_id: str | None
    status: str
    request: bytes

    def decoded(self, type_: type) -> Any:
        return msgspec.json.decode(self.request, type=type_)


def _record(row: Any) -> CommandRecord:
    return CommandRecord(
        id=row.id, kind=row.kind, sender=PartyId(row.sender_country_code, row.sender_party_id),
        receiver=PartyId(row.receiver_country_code, row.receiver_party_id), response_url=row.response_url,
        correlation_id=row.correlation_id, status=row.status, request=row.request,
    )


class Commands:
    def __init__(self, db: Database, directory: Directory, objects: Objects) -> None:
        self.db = db
        self.directory = directory
        self.objects = objects
        self.local: dict[str, LocalExecutor] = {}  # kind family ("command", "profile") -> executor
        self.runner: Runner | None = None  # the central system's, when this process has one
        self.remote: dict[str, RemoteExecutor] = {}  # platform protocol -> executor, for receivers it speaks for

    async def route(self, caller: Platform, sender: PartyId, request: model.CommandRequest, to: PartyId | None) -> PartyId:
        """Decide (and check) which CPO a command goes to. An eMSP acts only on what it may: its own tokens, Locations
        it may see, its own Sessions; a connector another eMSP's driver is charging at is not its to unlock."""
        self._check_sender(caller, sender)
        token = getattr(request, "token", None)
        if token is not None and token.owner_party not in caller.parties:
            raise Invalid("an eMSP may only use its own tokens in commands", "token")
        location_id = getattr(request, "location_id", None)
        if location_id is not None:
            owner = to if to is not None and to != self.directory.hub_party else await self.objects.find_location_owner(location_id)
            if owner is None and (to is None or self.directory.is_local(to)):
                raise UnknownLocation(f"unknown location {location_id}")
            receiver = to or owner
            if owner is not None:
                await self._check_location(caller, owner, location_id)
            if isinstance(request, model.UnlockConnector) and receiver is not None:
                await self._check_unlock(caller, receiver, request)
        elif isinstance(request, model.StopSession):
            session = await self.objects.find_session(request.session_id, to)
            receiver = to or (session.owner_party if session else None)
            if session is not None and session.cdr_token.owner_party not in caller.parties:
                receiver = None  # never stop another eMSP's session
        else:  # CANCEL_RESERVATION: where the reservation went
            receiver = to or await self._reservation_receiver(sender, request.reservation_id)  # type: ignore[union-attr]
        if receiver is None:
            raise UnknownReceiver("no CPO found for this command")
        if not self.directory.known(receiver):
            raise UnknownReceiver(f"unknown receiver {receiver}")
        return receiver

    async def profile_receiver(self, caller: Platform, sender: PartyId, session_id: str, to: PartyId | None) -> PartyId:
        """The CPO a charging-profile request goes to. Only the eMSP of the Session's token may steer its
        charging, as only it may stop it; a Session the hub has not seen may still go to an addressed CPO the
        hub reaches (that CPO decides), never to one whose chargers the hub runs."""
        self._check_sender(caller, sender)
        session = await self.objects.find_session(session_id, to if to != self.directory.hub_party else None)
        if session is not None:
            if session.cdr_token.owner_party not in caller.parties:
                raise UnknownSession(f"unknown session {session_id}")
            return session.owner_party
        if to is None or to == self.directory.hub_party or self.directory.is_local(to):
            raise UnknownSession(f"unknown session {session_id}")
        return to

    @staticmethod
    def _check_sender(caller: Platform, sender: PartyId) -> None:
        if sender not in caller.parties_with_role("EMSP", "SCSP", "OTHER"):
            raise Invalid(f"{sender} is not a party of this platform that may send commands", "OCPI-from-party-id")

    async def _check_location(self, caller: Platform, owner: PartyId, location_id: str) -> None:
        """A Location the hub holds must be one the sender may see (an unpublished one stays hidden)."""
        try:
            await self.objects.get(caller, docs.LOCATION, (owner.country_code, owner.party_id, location_id))
        except NotFound:
            if self.directory.is_local(owner) or await self.objects.exists(docs.LOCATION, (owner.country_code, owner.party_id, location_id)):
                raise UnknownLocation(f"unknown location {location_id}") from None

    async def _check_unlock(self, caller: Platform, cpo: PartyId, request: model.UnlockConnector) -> None:
        """Unlocking a connector during someone else's session would end their charge (or free their cable):
        only the eMSP of a Session running at the EVSE may; a free EVSE may be unlocked by any eMSP that sees it."""
        running = await self.objects.active_sessions_at(cpo, request.location_id, request.evse_uid)
        if any(s.cdr_token.owner_party not in caller.parties for s in running):
            raise NotPermitted("another eMSP's session is running at this EVSE: only its eMSP may unlock the connector")

    async def _reservation_receiver(self, sender: PartyId, reservation_id: str) -> PartyId | None:
        def op(conn: sa.Connection) -> PartyId | None:
            for row in conn.execute(
                sa.select(C).where(C.c.kind == "RESERVE_NOW", C.c.sender_country_code == sender.country_code,
                                   C.c.sender_party_id == sender.party_id).order_by(C.c.created_us.desc())
            ):
                req = msgspec.json.decode(row.request, type=model.ReserveNow)
                if req.reservation_id.upper() == reservation_id.upper():
                    return PartyId(row.receiver_country_code, row.receiver_party_id)
            return None

        return await self.db.read(op)

    async def open(
        self, kind: str, sender: PartyId, receiver: PartyId, request: msgspec.Struct, response_url: str,
        correlation_id: str | None,
    ) -> CommandRecord:
        """Record a request about to be relayed; its id goes into the hub's response_url."""
        now = now_us()
        row = {
            "id": uuid.uuid4().hex, "kind": kind, "sender_country_code": sender.country_code,
            "sender_party_id": sender.party_id, "receiver_country_code": receiver.country_code,
            "receiver_party_id": receiver.party_id, "response_url": response_url, "correlation_id": correlation_id,
            "status": "REQUESTED", "request": encode(request), "created_us": now, "updated_us": now,
        }
        await self.db.write(lambda tx: tx.execute(sa.insert(C).values(**row)))
        return CommandRecord(
            id=row["id"], kind=kind, sender=sender, receiver=receiver, response_url=response_url,
            correlation_id=correlation_id, status="REQUESTED", request=row["request"],
        )

    async def run(self, kind: str, sender: PartyId, receiver: PartyId, request: msgspec.Struct) -> tuple[str, model.CommandResult]:
        """Ask a charger of the hub's own central system (`request` names its EVSE or Session) and wait for its
        answer: (the command's id, the answer; TIMEOUT when it does not answer in time). Kept like every command,
        with the answer as its result. A charger that cannot be asked raises instead: ReceiverOffline (not
        connected), UnknownReceiver (no charger of the hub's there), UnknownSession (no transaction running)."""
        if self.runner is None:
            raise UnknownReceiver("this hub runs no central system")
        record = await self.open(kind, sender, receiver, request, "", None)
        try:
            result = await self.runner(record)
        except BaseException:
            await self.responded(record.id, None, failed=True)
            raise
        await self.db.write(lambda tx: self._store_result(tx, record, result))
        return record.id, result

    async def responded(self, command_id: str, response: msgspec.Struct | None, failed: bool = False) -> None:
        status = "FAILED" if failed else "RESPONDED"
        await self.db.write(lambda tx: _update(tx, command_id, status=status, response=encode(response).decode() if response else None))

    async def result(self, caller: Platform | None, command_id: str, result: msgspec.Struct) -> CommandRecord:
        """The receiver's asynchronous result; only the party the command went to may give it."""

        def op(tx: Tx) -> CommandRecord:
            row = tx.execute(sa.select(C).where(C.c.id == command_id)).first()
            if row is None:
                raise NotFound("unknown command")
            record = _record(row)
            if caller is not None and record.receiver not in caller.parties:
                raise NotFound("unknown command")
            self._store_result(tx, record, result)
            tx.notify("command", command_id)
            return record

        return await self.db.write(op)

    async def complete(self, record: CommandRecord, result: msgspec.Struct) -> None:
        """The result of a request the hub ran itself (on its own chargers): stored, and sent to the
        sender's response_url through the outbox (kind `commandresult` or `profileresult`)."""
        platform = self.directory.platform_of(record.sender)
        kind = "profileresult" if record.kind.endswith("_PROFILE") else "commandresult"

        def op(tx: Tx) -> None:
            self._store_result(tx, record, result)
            tx.notify("command", record.id)
            if platform is not None:
                draft = outbox.Draft(f"command:{record.id}", kind, "post", record.response_url, encode(result),
                                     (record.kind, str(record.receiver), str(record.sender)))
                outbox.enqueue(tx, [platform.id], draft)

        await self.db.write(op)

    def _store_result(self, tx: Tx, record: CommandRecord, result: msgspec.Struct) -> None:
        """A command's result, kept, and announced to the webhooks of its sender and receiver (`command.result`)."""
        _update(tx, record.id, status="RESULT", result=encode(result).decode())
        data = {"id": record.id, "type": record.kind, "sender": str(record.sender), "receiver": str(record.receiver),
                "result": getattr(result, "result", None), "message": [m.text for m in getattr(result, "message", None) or []]}
        self.objects.webhooks.announce_to(tx, "command.result", {record.sender, record.receiver}, "command", data, f"command:{record.id}")

    async def get(self, command_id: str) -> CommandRecord | None:
        row = await self.db.read(lambda conn: conn.execute(sa.select(C).where(C.c.id == command_id)).first())
        return None if row is None else _record(row)

    async def stored_result(self, command_id: str) -> bytes | None:
        value = await self.db.read(lambda conn: conn.execute(sa.select(C.c.result).where(C.c.id == command_id)).scalar())
        return value.encode() if value else None

    async def latest_profile_setter(self, session_id: str, receiver: PartyId) -> CommandRecord | None:
        """Who last set a charging profile on a session (they get the CPO's ActiveChargingProfile updates)."""

        def op(conn: sa.Connection) -> CommandRecord | None:
            rows = conn.execute(
                sa.select(C).where(C.c.kind == "SET_PROFILE", C.c.receiver_country_code == receiver.country_code,
                                   C.c.receiver_party_id == receiver.party_id).order_by(C.c.created_us.desc())
            )
            for row in rows:
                if msgspec.json.decode(row.request).get("session_id", "").upper() == session_id.upper():
                    return _record(row)
            return None

        return await self.db.read(op)


def _update(tx: Tx, command_id: str, **values: Any) -> None:
    tx.execute(sa.update(C).where(C.c.id == command_id).values(updated_us=now_us(), **values))
