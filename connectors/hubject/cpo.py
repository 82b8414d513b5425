"""The hub's operators at Hubject (OICP's CPO role).

- EVSE data: a full load on demand (`hub hubject sync --full`) and on the schedule, refused by a guard when it would
  replace what Hubject holds with an empty or much shorter list; after it, each Location change from the outbox as
  an `update` of its EVSEs' records (`insert` when Hubject does not know them yet, `delete` for removed EVSEs).
- EVSE status: a push on every status change. The lane to Hubject sends one request at a time, so changes reach
  it in the order they were made.
- Sessions that Hubject authorized (their authorization_reference is the Hubject SessionID): charging notifications
  Start/Progress/End/Error, and the CDR once (a second CDR for the SessionID is refused by Hubject: delivered).
- A token the hub does not know, at a charger of an operator: AuthorizeStart, within the charger's real-time budget.
- Hubject's AuthorizeRemoteStart/Stop and reservations: commands to the operator's charger, answered with the
  charger's answer.
Failures follow the outbox: transport trouble, 5xx and 429 (after its Retry-After) are tried again; a refusal is
parked with Hubject's StatusCode.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Protocol

import msgspec
import sqlalchemy as sa

from connectors.hubject.connection import Hubject, Operator
from connectors.hubject.outbox import acknowledged, attempt
from hub import model
from hub.model import PartyId
from hub.outbound import OutboundError
from hub.services import errors
from hub.services.directory import Platform
from hub.services.dispatch import Delivery
from hub.store import documents as docs
from hub.store import extras as extras_store
from hub.store import locations as location_store
from hub.store import schema
from hub.store.outbox import Event
from protocols.oicp.v23 import errors as oicp_errors
from protocols.oicp.v23 import mapping, wire
from protocols.oicp.v23.client import OicpCallError, OicpClient

log = logging.getLogger(__name__)

GUARD_SHARE = 0.5  # a full load with fewer than this share of the EVSEs of the last one is refused (--force sends it)
NOTIFIED = "oicp.notified"  # extras kind: the Session as Hubject last heard of it, per session
DUPLICATE_CDR = ("400",)  # Hubject's answer to a second CDR for a SessionID (undocumented; digest §5.5)
LOCATION_KINDS = ("location", "evse", "connector")
_L, _E = docs.LOCATION.table, schema.evses


class Operators:
    """The outbox sender of the Hubject platform (CPO side), the full load, and authorizations for the operators."""

    concurrency = 1  # one request at a time: statuses and deltas reach Hubject in the order they were made
    offline_after = 600.0  # Hubject is asked no health checks (AUP): real traffic finds out when it is back

    def __init__(self, hubject: Hubject, emp: EmpSide) -> None:
        self.hubject = hubject
        self.core = hubject.core
        self.emp = emp

    # --- the outbox ----------------------------------------------------------------------------------------------

    async def deliver(self, platform: Platform, event: Event) -> Delivery:
        if event.kind == "token":
            return await self.emp.deliver_token(event)
        if event.kind not in (*LOCATION_KINDS, "session", "cdr"):
            return Delivery("ok", f"Hubject takes no {event.kind}")
        owner = PartyId.parse("/".join(event.path.split("/")[:2]))  # every path begins with the owner's party
        operator = self.hubject.operator(owner)
        if operator is None:
            return Delivery("ok", f"{owner} does not roam through Hubject")
        if event.kind == "session":
            return await attempt(lambda: self._session(owner, operator, event))
        if event.kind == "cdr":
            return await attempt(lambda: self._cdr(operator, event))
        return await attempt(lambda: self._location_change(owner, operator, event))

    async def alive(self, platform: Platform) -> bool:
        return True  # the AUP forbids health checks: the next delivery is the test

    async def _location_change(self, owner: PartyId, operator: Operator, event: Event) -> Delivery:
        location_id = event.path.split("/")[2]
        client = self.hubject.client()
        if event.kind == "evse" and event.op == "patch" and set(event.fields or ()) <= {"status", "last_updated"}:
            evse = msgspec.json.decode(event.payload, type=model.Evse)
            return await self._statuses(client, operator, mapping.evse_status_records([evse]))
        location = await self.core.objects.location(owner, location_id)
        if location is None:
            return Delivery("ok", f"Location {location_id} is gone")
        details = _details(operator)
        name = _name(operator, [location])
        records = mapping.location_to_evse_data(location, details)
        removed = [e for e in location.evses if e.status == "REMOVED" and e.evse_id]
        if records:  # the data, then the statuses (EVSE data carries none): a Location sent again after an outage is whole
            data = wire.OperatorEvseData(operator_id=operator.operator_id, operator_name=name, evse_data_record=records)
            ack = await client.push_evse_data(operator.operator_id, wire.PushEvseData(action_type="update", operator_evse_data=data))
            if not ack.result:  # not there yet (a Location made after the full load): inserted
                ack = await client.push_evse_data(operator.operator_id, wire.PushEvseData(action_type="insert", operator_evse_data=data))
            if (outcome := acknowledged(ack, f"{len(records)} EVSE records")).outcome != "ok":
                return outcome
            if (outcome := await self._statuses(client, operator, mapping.evse_status_records(location))).outcome != "ok":
                return outcome
        if removed:
            data = wire.OperatorEvseData(operator_id=operator.operator_id, operator_name=name,
                                         evse_data_record=_records_of_removed(location, removed, details))
            ack = await client.push_evse_data(operator.operator_id, wire.PushEvseData(action_type="delete", operator_evse_data=data))
            return acknowledged(ack, f"{len(removed)} EVSEs deleted")
        return Delivery("ok", f"{len(records)} EVSE records" if records else "nothing Hubject takes")

    @staticmethod
    async def _statuses(client: OicpClient, operator: Operator, records: list[wire.EvseStatusRecord],
                        action: wire.ActionType = "update") -> Delivery:
        records = [r for r in records if r.evse_status]  # PLANNED and REMOVED have none to send
        if not records:
            return Delivery("ok", "no status to send")
        push = wire.PushEvseStatus(action_type=action, operator_evse_status=wire.OperatorEvseStatus(
            operator_id=operator.operator_id, operator_name=operator.name, evse_status_record=records))
        return acknowledged(await client.push_evse_status(operator.operator_id, push), f"{len(records)} statuses")

    async def _session(self, owner: PartyId, operator: Operator, event: Event) -> Delivery:
        session_id = event.path.rsplit("/", 1)[1]
        session = await self.core.objects.find_session(session_id, owner)  # a PATCH's payload holds only its new periods
        if session is None or not session.authorization_reference:
            return Delivery("ok", "no session Hubject authorized")
        key = (owner.country_code, owner.party_id, session.id.upper())
        holder = PartyId.parse(self.hubject.config.party)  # type: ignore[union-attr]
        before = await self.core.db.read(lambda conn: extras_store.get_many(conn, holder, NOTIFIED, [key]))
        previous = msgspec.json.decode(before[key].payload, type=model.Session) if key in before and before[key].payload else None
        location = await self.core.objects.location(owner, session.location_id)
        if location is None:
            return Delivery("ok", f"Location {session.location_id} is gone")
        client = self.hubject.client()
        for notification in mapping.notifications(session, previous, location=location, operator=operator.operator_id):
            delivery = acknowledged(await client.charging_notification(notification), f"{type(notification).__name__}")
            if delivery.outcome != "ok":
                return delivery
        now = docs.now_us()
        await self.core.db.write(lambda tx: extras_store.put(tx, holder, NOTIFIED, key, {"payload": docs.encode(session)}, now))
        return Delivery("ok", "notified")

    async def _cdr(self, operator: Operator, event: Event) -> Delivery:
        cdr = msgspec.json.decode(event.payload, type=model.Cdr)
        if not cdr.authorization_reference:
            return Delivery("ok", "not a session Hubject authorized")
        record = mapping.cdr_from_canonical(cdr)
        ack = await self.hubject.client().charge_detail_record(operator.operator_id, record)
        if not ack.result and ack.status_code.code in DUPLICATE_CDR:
            return Delivery("ok", f"Hubject has the CDR of session {record.session_id} already")
        return acknowledged(ack, f"CDR of session {record.session_id}")

    # --- the full load ---------------------------------------------------------------------------------------------

    async def full_load(self, party: PartyId, force: bool = False) -> int:
        """Every pushable EVSE of the operator, as a fullLoad (Hubject replaces what it held). Refused when empty, or
        when shorter than GUARD_SHARE of the last full load, unless forced. Returns the records sent."""
        operator = self.hubject.operator(party)
        if operator is None:
            raise errors.Invalid(f"{party} is no operator at Hubject: hub hubject add-operator")
        locations = await self._locations_of(party)
        details = _details(operator)
        records = [r for loc in locations for r in mapping.location_to_evse_data(loc, details)]
        stored = self.hubject.stored()
        last = stored.state.loaded.get(str(party), 0) if stored else 0
        if not force and (not records or len(records) < last * GUARD_SHARE):
            detail = (f"refused: {len(records)} EVSE records would replace the {last} of the last full load"
                      if last else "refused: no EVSE to load (a full load of nothing would take every EVSE off Hubject)")
            await self.hubject.record(self.hubject.sync("evse-data full load", party, False, len(records), detail))
            raise errors.Conflict(f"{detail}; --force sends it anyway")
        data = wire.OperatorEvseData(operator_id=operator.operator_id, operator_name=_name(operator, locations), evse_data_record=records)
        try:
            ack = await self.hubject.client().push_evse_data(operator.operator_id, wire.PushEvseData(action_type="fullLoad", operator_evse_data=data))
            if not ack.result:
                raise oicp_errors.error_of(ack.status_code) or errors.HubError("refused")
        except (OicpCallError, OutboundError, errors.HubError) as exc:
            await self.hubject.record(self.hubject.sync("evse-data full load", party, False, len(records), str(exc)))
            raise
        await self.hubject.record(self.hubject.sync("evse-data full load", party, True, len(records)), loaded={str(party): len(records)})
        await self._push_statuses(party, operator, locations)
        return len(records)

    async def _push_statuses(self, party: PartyId, operator: Operator, locations: list[model.Location]) -> None:
        records = [r for loc in locations for r in mapping.evse_status_records(loc)]
        delivery = await self._statuses(self.hubject.client(), operator, records, "fullLoad")
        await self.hubject.record(self.hubject.sync("evse-status full load", party, delivery.outcome == "ok", len(records), delivery.detail))

    async def _locations_of(self, party: PartyId) -> list[model.Location]:
        def op(conn: sa.Connection) -> list[model.Location]:
            keys = conn.execute(sa.select(_L.c.id).where(_L.c.country_code == party.country_code, _L.c.party_id == party.party_id)
                                .order_by(_L.c.id)).scalars().all()
            found = (location_store.get(conn, (party.country_code, party.party_id, key)) for key in keys)
            return [s.obj for s in found if s is not None and s.obj.publish]

        return await self.core.db.read(op)

    # --- authorization of tokens the hub does not know --------------------------------------------------------------

    async def authorize(self, party: PartyId, location_id: str, uid: str, type_: str | None, by_contract: bool) -> model.Authorization | None:
        """AuthorizeStart at Hubject for a token of no eMSP the hub knows, at a charger of an operator."""
        operator = self.hubject.operator(party)
        if operator is None:
            return None
        if by_contract:
            identification = wire.Identification(plug_and_charge_identification=wire.PlugAndChargeIdentification(evco_id=uid))
        else:
            identification = wire.Identification(rfid_mifare_family_identification=wire.RFIDMifareFamilyIdentification(uid=uid.upper()))
        request = wire.AuthorizeStart(operator_id=operator.operator_id, identification=identification)
        answer = await self.hubject.client().authorize_start(operator.operator_id, request)
        auth = mapping.authorization(answer, request, last_updated=datetime.now(timezone.utc))
        if auth.accepted and auth.token is not None:  # its Sessions and CDR go to Hubject: it speaks for the provider
            await self.hubject.take_parties([(auth.token.owner_party, "EMSP", answer.provider_id or "")])
        return auth

    # --- Hubject's calls ------------------------------------------------------------------------------------------

    async def remote_start(self, provider_id: str, request: wire.AuthorizeRemoteStart) -> wire.Acknowledgement:
        provider = mapping.provider_party(provider_id)
        owner, location_id, evse_uid = await self._evse(request.evse_id)
        evco = request.identification.remote_identification
        contract = evco.evco_id if evco else None
        if contract is None:
            raise errors.Invalid("a remote start identifies the contract (RemoteIdentification)", "Identification")
        await self.hubject.take_parties([(provider, "EMSP", provider_id)])
        token = model.Token(country_code=provider.country_code, party_id=provider.party_id, uid=contract, type="APP_USER",
                            contract_id=contract, issuer=provider_id, valid=True, whitelist="NEVER",
                            last_updated=datetime.now(timezone.utc))
        command = model.StartSession(token=token, location_id=location_id, evse_uid=evse_uid, authorization_reference=request.session_id)
        command_id, result = await self.core.commands.run("START_SESSION", provider, owner, command)
        return _acknowledgement(result, request.session_id, command_id)

    async def remote_stop(self, provider_id: str, request: wire.AuthorizeRemoteStop) -> wire.Acknowledgement:
        provider = mapping.provider_party(provider_id)
        owner, location_id, evse_uid = await self._evse(request.evse_id)
        session = await self._session_of(owner, request.session_id)
        if session is None or session.cdr_token.owner_party != provider or session.evse_uid.upper() != evse_uid.upper():
            raise errors.UnknownSession(f"no session {request.session_id} at {request.evse_id}")
        command_id, result = await self.core.commands.run("STOP_SESSION", provider, owner, model.StopSession(session_id=session.id))
        return _acknowledgement(result, request.session_id, session.id)

    async def reservation_start(self, provider_id: str, request: wire.AuthorizeRemoteReservationStart) -> wire.Acknowledgement:
        provider = mapping.provider_party(provider_id)
        owner, location_id, evse_uid = await self._evse(request.evse_id)
        evco = request.identification.remote_identification
        contract = evco.evco_id if evco else None
        if contract is None or not request.session_id:
            raise errors.Invalid("a reservation identifies the contract and carries Hubject's SessionID", "Identification")
        await self.hubject.take_parties([(provider, "EMSP", provider_id)])
        token = model.Token(country_code=provider.country_code, party_id=provider.party_id, uid=contract, type="APP_USER",
                            contract_id=contract, issuer=provider_id, valid=True, whitelist="NEVER",
                            last_updated=datetime.now(timezone.utc))
        expiry = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=request.duration or 15)
        command = model.ReserveNow(token=token, expiry_date=expiry, reservation_id=request.session_id[:36], location_id=location_id,
                                   evse_uid=evse_uid, authorization_reference=request.session_id)
        command_id, result = await self.core.commands.run("RESERVE_NOW", provider, owner, command)
        return _acknowledgement(result, request.session_id, command_id)

    async def reservation_stop(self, provider_id: str, request: wire.AuthorizeRemoteReservationStop) -> wire.Acknowledgement:
        provider = mapping.provider_party(provider_id)
        owner, _, _ = await self._evse(request.evse_id)
        command = model.CancelReservation(reservation_id=request.session_id[:36])
        command_id, result = await self.core.commands.run("CANCEL_RESERVATION", provider, owner, command)
        return _acknowledgement(result, request.session_id, command_id)

    async def _evse(self, evse_id: str) -> tuple[PartyId, str, str]:
        """(owner, Location id, EVSE uid) of an EvseID of an operator that roams through Hubject; 603 otherwise."""
        def op(conn: sa.Connection) -> list:
            return conn.execute(sa.select(_E.c.country_code, _E.c.party_id, _E.c.location_id, _E.c.uid)
                                .where(_E.c.evse_id.in_({evse_id, evse_id.upper()}))).all()

        for row in await self.core.db.read(op):
            owner = PartyId(row.country_code, row.party_id)
            if self.hubject.operator(owner) is not None:
                return owner, row.location_id, row.uid
        raise errors.UnknownLocation(f"unknown EVSE {evse_id}")

    async def _session_of(self, owner: PartyId, hubject_session: str) -> model.Session | None:
        table = docs.SESSION.table

        def op(conn: sa.Connection) -> model.Session | None:
            rows = conn.execute(sa.select(table.c.doc).where(table.c.country_code == owner.country_code, table.c.party_id == owner.party_id,
                                                             table.c.status == "ACTIVE"))
            for row in rows:
                session = docs.SESSION.decode(row.doc)
                if (session.authorization_reference or "").lower() == hubject_session.lower():
                    return session
            return None

        return await self.core.db.read(op)


def _acknowledgement(result: model.CommandResult, session_id: str | None, cpo_session: str) -> wire.Acknowledgement:
    """The charger's answer as Hubject hears it (ACCEPTED: the charge will start)."""
    if result.result == "ACCEPTED":
        return mapping.acknowledgement(session_id=session_id, cpo_partner_session_id=cpo_session[:250])
    code = {"EVSE_OCCUPIED": "602", "EVSE_INOPERATIVE": "700", "UNKNOWN_RESERVATION": "400", "UNKNOWN_SESSION": "400"}.get(result.result, "501")
    return mapping.acknowledgement(code, "; ".join(m.text for m in result.message) or f"the charger answered {result.result}",
                                   session_id=session_id)


def _details(operator: Operator) -> mapping.OperatorDetails:
    return mapping.OperatorDetails(hotline_phone_number=operator.hotline, operator_name=operator.name)


def _name(operator: Operator, locations: list[model.Location]) -> str:
    return (operator.name or next((loc.operator.name for loc in locations if loc.operator), None) or operator.operator_id)[:100]


def _records_of_removed(location: model.Location, removed: list[model.Evse], details: mapping.OperatorDetails) -> list[wire.EvseDataRecord]:
    """Records of removed EVSEs, to delete them (Hubject keys them by EvseID; the rest of the record must be valid)."""
    revived = [msgspec.structs.replace(e, status="UNKNOWN") for e in removed]
    return mapping.location_to_evse_data(msgspec.structs.replace(location, evses=revived), details)


class EmpSide(Protocol):
    """What this module asks of the EMP side (connectors/hubject/emp.py): tokens come down the platform's one lane."""

    async def deliver_token(self, event: Event) -> Delivery: ...
