"""Simulated chargers built on the `ocpp` library's ChargePoint (1.6 and 2.0.1), for the demo, the tests
and anyone trying the hub: they boot, report their connectors' status, and run charging sessions with
meter values; they accept the hub's remote start/stop, reservations, unlocks, charging profiles and resets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import random
from datetime import datetime, timezone
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

log = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Behaviour:
    """What the simulated charger answers to the hub's calls (tests change it)."""

    start = "Accepted"
    stop = "Accepted"
    unlock = "Unlocked"
    reserve = "Accepted"
    profile = "Accepted"
    reset = "Accepted"


class Sim16(ChargePoint16):
    def __init__(self, identity: str, connection: Any, connectors: int = 2) -> None:
        super().__init__(identity, connection, response_timeout=30)
        self.connectors = connectors
        self.meter_wh = random.randint(10_000, 900_000)
        self.behaviour = Behaviour()
        self.transactions: dict[int, int] = {}  # connector -> transaction id
        self.remote_requests: list[tuple[str, dict[str, Any]]] = []
        self._tasks: set[asyncio.Task] = set()

    # the hub's calls ----------------------------------------------------------------------------
    @on(Action16.remote_start_transaction)
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **kw: Any) -> Any:
        self.remote_requests.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id}))
        return result16.RemoteStartTransaction(status=self.behaviour.start)

    @after(Action16.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, connector_id: int | None = None, **kw: Any) -> None:
        if self.behaviour.start == "Accepted":
            self._spawn(self.session(connector_id or 1, id_tag, seconds=3600, authorize=False))

    @on(Action16.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        ok = transaction_id in self.transactions.values()
        return result16.RemoteStopTransaction(status=self.behaviour.stop if ok else "Rejected")

    @after(Action16.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int, **kw: Any) -> None:
        for connector, tid in list(self.transactions.items()):
            if tid == transaction_id:
                self.transactions.pop(connector)

    @on(Action16.unlock_connector)
    def on_unlock(self, connector_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("UnlockConnector", {"connector_id": connector_id}))
        return result16.UnlockConnector(status=self.behaviour.unlock)

    @on(Action16.reserve_now)
    def on_reserve(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("ReserveNow", {"connector_id": connector_id, "reservation_id": reservation_id}))
        return result16.ReserveNow(status=self.behaviour.reserve)

    @on(Action16.cancel_reservation)
    def on_cancel(self, reservation_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("CancelReservation", {"reservation_id": reservation_id}))
        return result16.CancelReservation(status="Accepted")

    @on(Action16.set_charging_profile)
    def on_set_profile(self, connector_id: int, cs_charging_profiles: dict, **kw: Any) -> Any:
        self.remote_requests.append(("SetChargingProfile", {"connector_id": connector_id, "profile": cs_charging_profiles}))
        return result16.SetChargingProfile(status=self.behaviour.profile)

    @on(Action16.reset)
    def on_reset(self, type: str, **kw: Any) -> Any:  # noqa: A002 (the message's field)
        self.remote_requests.append(("Reset", {"type": type}))
        return result16.Reset(status=self.behaviour.reset)

    @on(Action16.get_composite_schedule)
    def on_composite(self, connector_id: int, duration: int, **kw: Any) -> Any:
        self.remote_requests.append(("GetCompositeSchedule", {"connector_id": connector_id}))
        return result16.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=now(),
            charging_schedule={"duration": duration, "charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]},
        )

    @on(Action16.clear_charging_profile)
    def on_clear_profile(self, **kw: Any) -> Any:
        self.remote_requests.append(("ClearChargingProfile", kw))
        return result16.ClearChargingProfile(status="Accepted")

    # the charger's own behaviour ----------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def boot(self) -> None:
        await self.call(call16.BootNotification(charge_point_vendor="EVHub", charge_point_model="Sim-16",
                                                charge_point_serial_number=self.id, firmware_version="1.0"))
        for connector in range(1, self.connectors + 1):
            await self.status(connector, "Available")

    async def status(self, connector: int, status: str) -> None:
        await self.call(call16.StatusNotification(connector_id=connector, error_code="NoError", status=status, timestamp=now()))

    async def session(self, connector: int, id_tag: str, seconds: float, meter_interval: float = 5.0, authorize: bool = True,
                      power_w: int = 11_000) -> dict[str, Any]:
        """One charging session; returns what happened."""
        if authorize:
            auth = await self.call(call16.Authorize(id_tag=id_tag))
            if auth.id_tag_info["status"] != "Accepted":
                return {"authorized": False}
        await self.status(connector, "Preparing")
        started = await self.call(call16.StartTransaction(connector_id=connector, id_tag=id_tag, meter_start=self.meter_wh, timestamp=now()))
        tid = started.transaction_id
        self.transactions[connector] = tid
        await self.status(connector, "Charging")
        elapsed = 0.0
        while elapsed < seconds and self.transactions.get(connector) == tid:
            step = min(meter_interval, seconds - elapsed)
            await asyncio.sleep(step)
            elapsed += step
            self.meter_wh += int(power_w * step / 3600)
            await self.call(call16.MeterValues(connector_id=connector, transaction_id=tid, meter_value=[{
                "timestamp": now(), "sampled_value": [
                    {"value": str(self.meter_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
                    {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
                ]}]))
        self.transactions.pop(connector, None)
        stopped = await self.call(call16.StopTransaction(meter_stop=self.meter_wh, timestamp=now(), transaction_id=tid, reason="Local", id_tag=id_tag))
        await self.status(connector, "Finishing")
        await self.status(connector, "Available")
        return {"authorized": True, "transaction_id": tid, "stopped": stopped}


class Sim201(ChargePoint201):
    def __init__(self, identity: str, connection: Any, evses: int = 2) -> None:
        super().__init__(identity, connection, response_timeout=30)
        self.evses = evses
        self.meter_wh = random.randint(10_000, 900_000)
        self.behaviour = Behaviour()
        self.transactions: dict[int, str] = {}  # evse -> transaction id
        self.remote_requests: list[tuple[str, dict[str, Any]]] = []
        self._seq = 0
        self._tasks: set[asyncio.Task] = set()

    @on(Action201.request_start_transaction)
    def on_remote_start(self, id_token: dict, remote_start_id: int, evse_id: int | None = None, **kw: Any) -> Any:
        self.remote_requests.append(("RequestStartTransaction", {"id_token": id_token, "evse_id": evse_id}))
        return result201.RequestStartTransaction(status=self.behaviour.start)

    @after(Action201.request_start_transaction)
    async def after_remote_start(self, id_token: dict, remote_start_id: int, evse_id: int | None = None, **kw: Any) -> None:
        if self.behaviour.start == "Accepted":
            self._spawn(self.session(evse_id or 1, id_token["id_token"], seconds=3600, authorize=False, token_type=id_token["type"]))

    @on(Action201.request_stop_transaction)
    def on_remote_stop(self, transaction_id: str, **kw: Any) -> Any:
        self.remote_requests.append(("RequestStopTransaction", {"transaction_id": transaction_id}))
        ok = transaction_id in self.transactions.values()
        for evse, tid in list(self.transactions.items()):
            if tid == transaction_id:
                self.transactions.pop(evse)
        return result201.RequestStopTransaction(status=self.behaviour.stop if ok else "Rejected")

    @on(Action201.unlock_connector)
    def on_unlock(self, evse_id: int, connector_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("UnlockConnector", {"evse_id": evse_id, "connector_id": connector_id}))
        return result201.UnlockConnector(status=self.behaviour.unlock)

    @on(Action201.reserve_now)
    def on_reserve(self, id: int, expiry_date_time: str, id_token: dict, **kw: Any) -> Any:
        self.remote_requests.append(("ReserveNow", {"id": id}))
        return result201.ReserveNow(status=self.behaviour.reserve)

    @on(Action201.cancel_reservation)
    def on_cancel(self, reservation_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("CancelReservation", {"reservation_id": reservation_id}))
        return result201.CancelReservation(status="Accepted")

    @on(Action201.set_charging_profile)
    def on_set_profile(self, evse_id: int, charging_profile: dict, **kw: Any) -> Any:
        self.remote_requests.append(("SetChargingProfile", {"evse_id": evse_id, "profile": charging_profile}))
        return result201.SetChargingProfile(status=self.behaviour.profile)

    @on(Action201.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **kw: Any) -> Any:  # noqa: A002 (the message's field)
        self.remote_requests.append(("Reset", {"type": type, "evse_id": evse_id}))
        return result201.Reset(status=self.behaviour.reset)

    @on(Action201.get_composite_schedule)
    def on_composite(self, duration: int, evse_id: int, **kw: Any) -> Any:
        self.remote_requests.append(("GetCompositeSchedule", {"evse_id": evse_id}))
        return result201.GetCompositeSchedule(status="Accepted", schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": now(), "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]})

    @on(Action201.clear_charging_profile)
    def on_clear_profile(self, **kw: Any) -> Any:
        self.remote_requests.append(("ClearChargingProfile", kw))
        return result201.ClearChargingProfile(status="Accepted")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def boot(self) -> None:
        await self.call(call201.BootNotification(charging_station={"model": "Sim-201", "vendor_name": "EVHub", "serial_number": self.id},
                                                 reason="PowerUp"))
        for evse in range(1, self.evses + 1):
            await self.status(evse, "Available")

    async def status(self, evse: int, status: str) -> None:
        await self.call(call201.StatusNotification(timestamp=now(), connector_status=status, evse_id=evse, connector_id=1))

    def _meter(self, context: str, power_w: int) -> list[dict[str, Any]]:
        return [{"timestamp": now(), "sampled_value": [
            {"value": self.meter_wh, "measurand": "Energy.Active.Import.Register", "context": context, "unit_of_measure": {"unit": "Wh"}},
            {"value": power_w, "measurand": "Power.Active.Import", "context": context, "unit_of_measure": {"unit": "W"}},
        ]}]

    async def event(self, event_type: str, trigger: str, tid: str, evse: int, id_token: dict | None, meter: list | None,
                    **info: Any) -> Any:
        self._seq += 1
        return await self.call(call201.TransactionEvent(
            event_type=event_type, timestamp=now(), trigger_reason=trigger, seq_no=self._seq,
            transaction_info={"transaction_id": tid, **info}, evse={"id": evse, "connector_id": 1}, id_token=id_token, meter_value=meter))

    async def session(self, evse: int, id_tag: str, seconds: float, meter_interval: float = 5.0, authorize: bool = True,
                      power_w: int = 11_000, token_type: str = "ISO14443") -> dict[str, Any]:
        token = {"id_token": id_tag, "type": token_type}
        if authorize:
            auth = await self.call(call201.Authorize(id_token=token))
            if auth.id_token_info["status"] != "Accepted":
                return {"authorized": False}
        tid = f"{self.id}-{random.randint(1, 10**9)}"
        self.transactions[evse] = tid
        await self.status(evse, "Occupied")
        started = await self.event("Started", "Authorized", tid, evse, token, self._meter("Transaction.Begin", 0), charging_state="Charging")
        elapsed = 0.0
        while elapsed < seconds and self.transactions.get(evse) == tid:
            step = min(meter_interval, seconds - elapsed)
            await asyncio.sleep(step)
            elapsed += step
            self.meter_wh += int(power_w * step / 3600)
            await self.event("Updated", "MeterValuePeriodic", tid, evse, None, self._meter("Sample.Periodic", power_w))
        self.transactions.pop(evse, None)
        ended = await self.event("Ended", "StopAuthorized", tid, evse, None, self._meter("Transaction.End", 0),
                                 charging_state="Idle", stopped_reason="Local")
        await self.status(evse, "Available")
        return {"authorized": True, "transaction_id": tid, "started": started, "ended": ended}


async def connect_charger(hub_url: str, identity: str, version: str, password: str | None = None) -> tuple[Any, Any, asyncio.Task]:
    """A connected, started simulated charger: (charge point, websocket, its reader task)."""
    headers = {}
    if password:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()
    ws = await connect(f"{hub_url.rstrip('/')}/ocpp/{identity}" if "/ocpp" not in hub_url else f"{hub_url.rstrip('/')}/{identity}",
                       subprotocols=[f"ocpp{version}"], additional_headers=headers, open_timeout=10)  # type: ignore[list-item]
    cp = Sim16(identity, ws) if version == "1.6" else Sim201(identity, ws)
    task = asyncio.get_running_loop().create_task(cp.start())
    return cp, ws, task


async def _one(args: argparse.Namespace, n: int) -> None:
    identity = f"{args.prefix}-{n}"
    while True:
        try:
            cp, ws, reader = await connect_charger(args.hub_url, identity, args.ocpp, args.password)
            await cp.boot()
            print(f"{identity}: booted (OCPP {args.ocpp})", flush=True)
            done = 0
            while args.sessions and (args.count == 0 or done < args.count):
                outcome = await cp.session(1, args.id_tag, args.session_seconds, args.meter_interval)
                done += 1
                print(f"{identity}: session {done} {'charged' if outcome['authorized'] else 'was not authorized'}"
                      f"{', meter at ' + str(cp.meter_wh) + ' Wh' if outcome['authorized'] else ''}", flush=True)
                await asyncio.sleep(random.uniform(1, 3))
            await reader if not args.count else None
            await ws.close()
            return
        except (OSError, asyncio.TimeoutError, WebSocketException) as exc:  # the hub is not up (yet), or went away
            print(f"{identity}: {exc}; retrying in 3 s", flush=True)
            await asyncio.sleep(3)


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    await asyncio.gather(*(_one(args, n) for n in range(1, args.chargers + 1)))
