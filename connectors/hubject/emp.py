"""The hub's eMSPs at Hubject (OICP's EMP role).

- EVSE data: PullEvseData page by page (a full pull, then deltas since the LastCall of the last complete one) into
  the store as Locations owned by their operators (OperatorID DE*ABC -> party DE/ABC, spoken for by the Hubject
  platform), seen over OCPI by the hub's eMSPs like any CPO's. A page is decoded, then mapped and written a chunk at
  a time, so memory holds one page whatever the size of the pull and the event loop is never held for long. The LastCall moves on only when every page succeeded. A full
  pull marks the EVSEs of Locations it no longer lists REMOVED.
- EVSE status: PullEvseStatus into those Locations, only the EVSEs whose status changed.
- Tokens of the providers: PushAuthenticationData (a full upload on sync, then each change from the outbox).
- An OCPI START_SESSION or STOP_SESSION of a provider at a Hubject Location: AuthorizeRemoteStart/Stop; Hubject's
  acknowledgement is the command's result.
- Hubject's calls for the providers: AuthorizeStart/Stop answered from the hub's tokens (a token the eMSP wants to
  be asked about is asked in real time, within the hub's real-time budget); charging notifications become the
  eMSP's Session, a CDR its CDR (a CDR Hubject sends again is acknowledged, not stored twice). GetChargeDetailRecords
  catches up on CDRs missed while the hub was unreachable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import msgspec
import sqlalchemy as sa

from connectors.hubject.connection import Hubject
from connectors.hubject.outbox import acknowledged, attempt
from hub import model
from hub.model import PartyId
from hub.services import errors
from hub.services.commands import CommandRecord
from hub.services.directory import Platform
from hub.services.dispatch import Delivery
from hub.store import documents as docs
from hub.store import locations as location_store
from hub.store import schema
from hub.store.outbox import Event
from protocols.oicp.v23 import mapping, wire

log = logging.getLogger(__name__)

PAGE_SIZE = 2000  # Hubject's largest page (digest §1.2)
# records mapped and written at a time: a page at once would hold the event loop (and every charger's messages) for
# most of a second on SQLite, whose writes run on it; this many keep each hold to a few tens of milliseconds
CHUNK = 200
REMOVAL_BATCH = 2000  # Location ids read at a time when a full pull looks for those it no longer lists
CLOCK_SKEW = timedelta(minutes=5)  # a LastCall this much before the pull began: a record Hubject changed meanwhile is not missed
CURRENCY = "EUR"  # OICP carries no money; Hubject's market
_E, _L = schema.evses, schema.locations
_PAGE = wire.decoder(wire.EvseDataPage)


def _format(when: datetime) -> str:
    return mapping.format_datetime(when.replace(microsecond=0))


class Providers:
    def __init__(self, hubject: Hubject) -> None:
        self.hubject = hubject
        self.core = hubject.core

    def _provider(self, party: PartyId) -> str:
        provider_id = self.hubject.provider_id(party)
        if provider_id is None:
            raise errors.Invalid(f"{party} is no provider at Hubject: hub hubject add-provider")
        return provider_id

    def _platform(self) -> Platform:
        platform = self.hubject.platform
        if platform is None:
            raise errors.Invalid("Hubject is not configured")
        return platform

    # --- EVSE data ------------------------------------------------------------------------------------------------

    async def pull_evse_data(self, party: PartyId, full: bool = False) -> int:
        """Pull Hubject's EVSE data for a provider into the store; returns the records taken."""
        provider_id = self._provider(party)
        stored = self.hubject.stored()
        last_call = None if full or stored is None else stored.state.last_call.get(str(party))
        began = datetime.now(timezone.utc)
        request = wire.PullEvseData(provider_id=provider_id, geo_coordinates_response_format="DecimalDegree", last_call=last_call)
        client = self.hubject.client()
        seen: set[tuple[str, str, str]] = set()
        taken = skipped = page = 0
        what = "pull-evse-data" + ("" if last_call else " full")
        fetch = asyncio.ensure_future(client.pull_evse_data_raw(provider_id, request, page, PAGE_SIZE))
        try:
            while True:
                content = await asyncio.to_thread(_PAGE.decode, await fetch)  # tens of ms the loop need not wait
                more = content.last is False and bool(content.content)
                if more:  # the next page travels while this one is stored
                    fetch = asyncio.ensure_future(client.pull_evse_data_raw(provider_id, request, page + 1, PAGE_SIZE))
                for start in range(0, len(content.content), CHUNK):
                    taken_now, skipped_now = await self._take(content.content[start:start + CHUNK], seen, began, delta=last_call is not None)
                    taken, skipped = taken + taken_now, skipped + skipped_now
                if not more:
                    break
                page += 1
        except BaseException as exc:
            fetch.cancel()
            if isinstance(exc, Exception):
                await self.hubject.record(self.hubject.sync(what, party, False, taken, f"page {page}: {type(exc).__name__}: {exc}"))
            raise
        removed = await self._remove_unlisted(seen) if last_call is None else 0
        detail = f"{skipped} records skipped" if skipped else ""
        if removed:
            detail = f"{detail}; {removed} Locations no longer listed: removed".lstrip("; ")
        await self.hubject.record(self.hubject.sync(what, party, True, taken, detail),
                                  last_call={str(party): _format(began - CLOCK_SKEW)})
        log.info("pulled %d EVSE records from Hubject for %s (%s)", taken, party, detail or "all taken")
        return taken

    async def _take(self, records: list[wire.PullEvseDataRecord], seen: set[tuple[str, str, str]], received: datetime,
                    delta: bool) -> tuple[int, int]:
        """Records of a page into the store, in one transaction. A full pull replaces a Location when it first meets it and
        merges what later pages add; a delta merges its records into the stored Location (deleted ones as REMOVED). A
        record's EVSE keeps the status the hub holds (statuses come from the status pull). A Location that comes out
        as it is stored is not written."""
        if not records:
            return 0, 0
        skipped: list[str] = []
        statuses = await self.core.db.read(lambda conn: _statuses(conn, [r.evse_id for r in records]))
        locations = mapping.evse_data_to_locations(records, received=received, statuses=statuses,
                                                   skip=lambda record, problem: skipped.append(f"{record.evse_id}: {problem}"))
        for problem in skipped[:3]:
            log.warning("Hubject EVSE record skipped: %s", problem)
        owners = {loc.owner_party for loc in locations}
        await self.hubject.take_parties([(owner, "CPO", mapping.operator_id(owner)) for owner in owners])
        platform = self._platform()
        locations = [loc for loc in locations if loc.owner_party in platform.parties]  # a party held elsewhere stays theirs

        def op(tx) -> None:
            stored = docs.present(tx.conn, docs.LOCATION, [docs.LOCATION.key(loc) for loc in locations])
            changed = []
            for loc in locations:
                key = docs.LOCATION.key(loc)
                earlier = location_store.get(tx.conn, key) if key in stored else None
                if earlier is not None and (delta or key in seen):
                    loc = _merged(earlier.obj, loc)
                seen.add(key)
                if earlier is None or loc != earlier.obj:  # the daily full pull writes (and pushes) only what changed
                    changed.append(loc)
            self.core.objects.put_locations(tx, platform, changed)

        await self.core.db.write(op)
        return sum(len(loc.evses) for loc in locations), len(skipped)

    async def _remove_unlisted(self, seen: set[tuple[str, str, str]]) -> int:
        """After a full pull: Locations of Hubject's operators it no longer lists are removed (their EVSEs REMOVED);
        those removed already are left as they are. Read a batch at a time (each read holds the loop on SQLite)."""
        platform = self._platform()
        gone = 0
        for owner in platform.parties_with_role("CPO"):
            after = ""
            while True:
                def op(conn: sa.Connection, after: str = after) -> list[str]:
                    return list(conn.execute(
                        sa.select(_E.c.location_id).distinct()
                        .where(_E.c.country_code == owner.country_code, _E.c.party_id == owner.party_id,
                               _E.c.location_id > after, _E.c.status != "REMOVED")
                        .order_by(_E.c.location_id).limit(REMOVAL_BATCH)).scalars())

                batch = await self.core.db.read(op)
                for location_id in batch:
                    if (owner.country_code, owner.party_id, location_id) not in seen:
                        await self.core.objects.remove_location(platform, owner, location_id, _later)
                        gone += 1
                if len(batch) < REMOVAL_BATCH:
                    break
                after = batch[-1]
        return gone

    # --- EVSE status ----------------------------------------------------------------------------------------------

    async def pull_evse_status(self, party: PartyId) -> int:
        """Hubject's EVSE statuses into the Locations the hub pulled; returns the EVSEs whose status changed."""
        provider_id = self._provider(party)
        try:
            answer = await self.hubject.client().pull_evse_status(provider_id, wire.PullEvseStatus(provider_id=provider_id))
            changed = await self.take_statuses(mapping.evse_statuses(answer))
        except Exception as exc:
            await self.hubject.record(self.hubject.sync("pull-evse-status", party, False, 0, f"{type(exc).__name__}: {exc}"))
            raise
        await self.hubject.record(self.hubject.sync("pull-evse-status", party, True, changed))
        return changed

    async def take_statuses(self, statuses: dict[str, model.EvseStatus]) -> int:
        platform = self._platform()
        owners = set(platform.parties_with_role("CPO"))
        now = datetime.now(timezone.utc).replace(microsecond=0)

        def op(conn: sa.Connection) -> list:
            out = []
            ids = list(statuses)
            for start in range(0, len(ids), 500):
                rows = conn.execute(sa.select(_E.c.country_code, _E.c.party_id, _E.c.location_id, _E.c.uid, _E.c.evse_id, _E.c.status)
                                    .where(_E.c.evse_id.in_(ids[start:start + 500])))
                out += [r for r in rows if PartyId(r.country_code, r.party_id) in owners and r.status not in (statuses[r.evse_id], "REMOVED")]
            return out

        changed = 0
        for row in await self.core.db.read(op):
            await self.core.objects.patch_location(platform, PartyId(row.country_code, row.party_id), row.location_id,
                                                   {"status": statuses[row.evse_id], "last_updated": now}, row.uid)
            changed += 1
        return changed

    # --- tokens ---------------------------------------------------------------------------------------------------

    async def push_authentication_data(self, party: PartyId) -> int:
        """Every valid token of the provider that Hubject can check itself (cards, Plug&Charge contracts), as a full
        load: Hubject then authorizes them without asking."""
        provider_id = self._provider(party)
        table = docs.TOKEN.table
        rows = await self.core.db.read(lambda conn: conn.execute(sa.select(table.c.doc).where(
            table.c.country_code == party.country_code, table.c.party_id == party.party_id)).all())
        records = [r for r in (_record(docs.TOKEN.decode(row.doc)) for row in rows) if r is not None]
        push = wire.PushAuthenticationData(action_type="fullLoad", provider_authentication_data=wire.ProviderAuthenticationData(
            provider_id=provider_id, authentication_data_record=records))
        ack = await self.hubject.client().push_authentication_data(provider_id, push)
        await self.hubject.record(self.hubject.sync("authentication-data full load", party, ack.result, len(records),
                                                    "" if ack.result else ack.status_code.code))
        if not ack.result:
            raise errors.Invalid(f"Hubject refused the authentication data: {ack.status_code.code} {ack.status_code.description or ''}")
        return len(records)

    async def deliver_token(self, event: Event) -> Delivery:
        token = msgspec.json.decode(event.payload, type=model.Token)
        provider_id = self.hubject.provider_id(token.owner_party)
        if provider_id is None:
            return Delivery("ok", f"{token.owner_party} does not roam through Hubject")
        record = _record(msgspec.structs.replace(token, valid=True))
        if record is None:
            return Delivery("ok", f"a {token.type} token is not uploaded")

        async def push() -> Delivery:
            action = "update" if token.valid and token.whitelist != "NEVER" else "delete"
            data = wire.ProviderAuthenticationData(provider_id=provider_id, authentication_data_record=[record])
            client = self.hubject.client()
            ack = await client.push_authentication_data(provider_id, wire.PushAuthenticationData(action_type=action, provider_authentication_data=data))
            if not ack.result and action == "update":  # not uploaded before: inserted
                ack = await client.push_authentication_data(provider_id, wire.PushAuthenticationData(action_type="insert", provider_authentication_data=data))
            return acknowledged(ack, f"token {action}")

        return await attempt(push)

    # --- OCPI commands at Hubject Locations ----------------------------------------------------------------------

    async def command(self, record: CommandRecord, platform: Platform) -> model.CommandResponse:
        """An eMSP's START_SESSION/STOP_SESSION at a Location Hubject holds: AuthorizeRemoteStart/Stop; Hubject's
        acknowledgement (it waits for the CPO's) is the result, sent to the eMSP's response_url."""
        provider_id = self.hubject.provider_id(record.sender)
        if provider_id is None:
            return _rejected(f"{record.sender} does not roam through Hubject")
        try:
            if record.kind == "START_SESSION":
                ack = await self._remote_start(record, provider_id)
            elif record.kind == "STOP_SESSION":
                ack = await self._remote_stop(record, provider_id)
            else:
                return model.CommandResponse(result="NOT_SUPPORTED", timeout=0)
        except errors.HubError as exc:
            return _rejected(exc.message)
        except Exception as exc:
            log.warning("Hubject could not be asked for command %s: %s", record.id, exc)
            return _rejected(f"Hubject could not be asked: {type(exc).__name__}")
        result = model.CommandResult(result="ACCEPTED" if ack.result else "REJECTED", message=[] if ack.result else [
            model.DisplayText("en", f"{ack.status_code.code} {ack.status_code.description or ''}".strip()[:512])])
        await self.core.commands.complete(record, result)
        return model.CommandResponse(result="ACCEPTED", timeout=30)

    async def _remote_start(self, record: CommandRecord, provider_id: str) -> wire.Acknowledgement:
        request = record.decoded(model.StartSession)
        evse = await self._evse_of(record.receiver, request.location_id, request.evse_uid)
        identification = wire.Identification(remote_identification=wire.RemoteIdentification(evco_id=request.token.contract_id))
        start = wire.AuthorizeRemoteStart(provider_id=provider_id, evse_id=evse.evse_id, identification=identification,  # type: ignore[arg-type]
                                          emp_partner_session_id=(request.authorization_reference or record.id)[:250])
        return await self.hubject.client().authorize_remote_start(provider_id, start)

    async def _remote_stop(self, record: CommandRecord, provider_id: str) -> wire.Acknowledgement:
        request = record.decoded(model.StopSession)
        session = await self.core.objects.find_session(request.session_id, record.receiver)
        if session is None or session.cdr_token.owner_party != record.sender:
            raise errors.UnknownSession(f"unknown session {request.session_id}")
        evse = await self._evse_of(record.receiver, session.location_id, session.evse_uid)
        stop = wire.AuthorizeRemoteStop(session_id=session.authorization_reference or session.id, provider_id=provider_id,
                                        evse_id=evse.evse_id)  # type: ignore[arg-type]
        return await self.hubject.client().authorize_remote_stop(provider_id, stop)

    async def _evse_of(self, owner: PartyId, location_id: str, evse_uid: str | None) -> model.Evse:
        location = await self.core.objects.location(owner, location_id)
        if location is None:
            raise errors.UnknownLocation(f"unknown location {location_id}")
        evses = [e for e in location.evses if e.evse_id and (evse_uid is None or e.uid.upper() == evse_uid.upper())]
        if len(evses) != 1:
            raise errors.Invalid("OICP starts a charge at one EVSE: name it (evse_uid)" if evses else f"no EVSE {evse_uid} at {location_id}")
        return evses[0]

    # --- Hubject's calls ------------------------------------------------------------------------------------------

    async def authorize_start(self, operator_id: str, request: wire.AuthorizeStart) -> wire.AuthorizationStart:
        token = await self._token(request.identification)
        if token is None:
            return mapping.authorization_start(None, request)
        info = await self._decide(token, request.evse_id)
        answer = mapping.authorization_start(info, request)
        if answer.authorization_status == "Authorized":  # the ProviderID as configured (Hubject compares it with the certificate)
            answer = msgspec.structs.replace(answer, provider_id=self.hubject.provider_id(token.owner_party))
        return answer

    async def authorize_stop(self, operator_id: str, request: wire.AuthorizeStop) -> wire.AuthorizationStop:
        token = await self._token(request.identification)
        allowed = token is not None and token.valid
        code = "000" if allowed else mapping.authorization_start(None, wire.AuthorizeStart(
            operator_id=request.operator_id, identification=request.identification)).status_code.code
        return wire.AuthorizationStop(
            authorization_status="Authorized" if allowed else "NotAuthorized",
            status_code=wire.StatusCode(code=code, description=wire.STATUS_CODES.get(code)), session_id=request.session_id,
            cpo_partner_session_id=request.cpo_partner_session_id, emp_partner_session_id=request.emp_partner_session_id,
            provider_id=self.hubject.provider_id(token.owner_party) if allowed and token else None)

    async def _token(self, identification: wire.Identification) -> model.Token | None:
        """The token of a provider roaming through Hubject that the medium names, or None."""
        found = mapping.medium(identification)
        if isinstance(found, wire.RFIDMifareFamilyIdentification | wire.RFIDIdentification):
            token = await self.core.charging.find_token(found.uid, "RFID")
        else:
            token = await self.core.charging.find_token(found.evco_id, by_contract=True)
        if token is None or self.hubject.provider_id(token.owner_party) is None:
            return None
        return token

    async def _decide(self, token: model.Token, evse_id: str | None) -> model.AuthorizationInfo:
        """As the hub decides for its own chargers: a valid token the eMSP wants asked is asked in real time (a few
        seconds: Hubject waits for the slowest EMP); without an answer its whitelist rule decides."""
        whitelisted = model.AuthorizationInfo(allowed="ALLOWED" if token.valid else "BLOCKED", token=token)
        realtime = self.core.charging.realtime
        if not token.valid or token.whitelist == "ALWAYS" or realtime is None:
            return whitelisted
        where = model.LocationReferences(location_id=evse_id or "UNKNOWN")
        try:
            return await asyncio.wait_for(realtime(token, where), self.core.settings.realtime_auth_timeout)
        except Exception as exc:
            log.info("eMSP %s not asked in time about a Hubject authorization: %s", token.owner_party, exc)
            if token.whitelist in ("ALLOWED", "ALLOWED_OFFLINE"):
                return whitelisted
            return model.AuthorizationInfo(allowed="NOT_ALLOWED", token=token)

    async def charge_detail_record(self, operator_id: str, record: wire.ChargeDetailRecord) -> wire.Acknowledgement:
        platform = self._platform()
        location = await self._hubject_location(record.evse_id)
        provider = await self._provider_of(record.identification, record.hub_provider)
        cdr = mapping.cdr_to_canonical(record, location=location, received=datetime.now(timezone.utc).replace(microsecond=0),
                                       currency=CURRENCY, provider=provider)
        if self.hubject.provider_id(cdr.cdr_token.owner_party) is None:
            raise errors.NotOwner(f"{cdr.cdr_token.owner_party} is no provider of this hub at Hubject")
        try:
            await self.core.objects.post_cdr(platform, cdr)
        except errors.Invalid:
            if not await self.core.objects.exists(docs.CDR, docs.CDR.key(cdr)):
                raise
            log.info("Hubject sent the CDR of session %s again: acknowledged", record.session_id)
        return mapping.acknowledgement(session_id=record.session_id, cpo_partner_session_id=record.cpo_partner_session_id,
                                       emp_partner_session_id=record.emp_partner_session_id)

    async def charging_notification(self, notification: wire.ChargingNotification) -> wire.Acknowledgement:
        platform = self._platform()
        location = await self._hubject_location(notification.evse_id)
        previous = await self.core.objects.find_session(notification.session_id, location.owner_party)
        provider = None
        if previous is None and notification.identification is not None:
            provider = await self._provider_of(notification.identification, None)
        session = mapping.session_from_notification(notification, previous, location=location, currency=CURRENCY,
                                                    received=datetime.now(timezone.utc).replace(microsecond=0), provider=provider)
        if self.hubject.provider_id(session.cdr_token.owner_party) is None:
            raise errors.NotOwner(f"{session.cdr_token.owner_party} is no provider of this hub at Hubject")
        await self.core.objects.put_session(platform, session, exists=previous is not None)
        return mapping.acknowledgement(session_id=notification.session_id, cpo_partner_session_id=notification.cpo_partner_session_id,
                                       emp_partner_session_id=notification.emp_partner_session_id)

    async def _provider_of(self, identification: wire.Identification, hub_provider: str | None) -> PartyId | None:
        """The eMSP of a medium: an EvcoID's own, else the hub's token with that card UID, else HubProviderID."""
        token = await self._token(identification)
        if token is not None:
            return token.owner_party
        return mapping.provider_party(hub_provider) if hub_provider else None

    async def _hubject_location(self, evse_id: str) -> model.Location:
        owners = set(self._platform().parties_with_role("CPO"))

        def op(conn: sa.Connection) -> list:
            return conn.execute(sa.select(_E.c.country_code, _E.c.party_id, _E.c.location_id)
                                .where(_E.c.evse_id.in_({evse_id, evse_id.upper()}))).all()

        for row in await self.core.db.read(op):
            owner = PartyId(row.country_code, row.party_id)
            if owner in owners:
                location = await self.core.objects.location(owner, row.location_id)
                if location is not None:
                    return location
        raise errors.UnknownLocation(f"unknown EVSE {evse_id}: not in the EVSE data pulled from Hubject")

    async def catch_up_cdrs(self, party: PartyId, since: datetime) -> int:
        """GetChargeDetailRecords since `since`: the provider's CDRs the hub missed (while it was unreachable)."""
        provider_id = self._provider(party)
        request = wire.GetChargeDetailRecords(provider_id=provider_id, start=_format(since), end=_format(datetime.now(timezone.utc)))
        client = self.hubject.client()
        taken = page = 0
        while True:
            answer = await client.get_charge_detail_records(provider_id, request, page, PAGE_SIZE)
            for record in answer.content:
                try:
                    await self.charge_detail_record(mapping.evse_operator_id(record.evse_id), record)
                    taken += 1
                except (errors.HubError, mapping.Unmappable) as exc:
                    log.warning("Hubject CDR %s not taken: %s", record.session_id, exc)
            if answer.last is not False or not answer.content:
                break
            page += 1
        await self.hubject.record(self.hubject.sync("get-charge-detail-records", party, True, taken))
        return taken


def _statuses(conn: sa.Connection, evse_ids: Iterable[str]) -> dict[str, model.EvseStatus]:
    ids = list(evse_ids)
    out: dict[str, model.EvseStatus] = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(sa.select(_E.c.evse_id, _E.c.status).where(_E.c.evse_id.in_(ids[start:start + 500]))):
            out[row.evse_id] = row.status
    return out


def _merged(earlier: model.Location, later: model.Location) -> model.Location:
    """A Location's records from two pages of one pull: the EVSEs of both (the later page's win)."""
    uids = {e.uid for e in later.evses}
    return msgspec.structs.replace(later, evses=[e for e in earlier.evses if e.uid not in uids] + later.evses,
                                   last_updated=max(earlier.last_updated, later.last_updated))


def _later(last_updated: datetime) -> datetime:
    return max(datetime.now(timezone.utc).replace(microsecond=0), last_updated + timedelta(seconds=1))


def _record(token: model.Token) -> wire.AuthenticationDataRecord | None:
    if not token.valid:
        return None
    try:
        return mapping.authentication_data_record(token)
    except mapping.Unmappable:
        return None


def _rejected(text: str) -> model.CommandResponse:
    return model.CommandResponse(result="REJECTED", timeout=0, message=[model.DisplayText("en", text[:512])])
