"""The bare `ocpp` library as a central system: what bench/ocpp_load.py compares the hub with.

    .venv/bin/python -m bench.bare_csms --port 9000 --version 1.6|2.0.1

A websockets server with the library's ChargePoint (one per connection), an `@on` handler for every message
the load sends, minimal valid answers, no persistence, the library's defaults (jsonschema validation of
requests and responses in its thread pool). It runs on uvloop when installed, as `hub serve` does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as res16
from ocpp.v16.enums import Action as A16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as res201
from ocpp.v201.enums import Action as A201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

ACCEPTED = {"status": "Accepted"}
_transaction_ids = itertools.count(1)  # 1.6 transaction ids are the central system's


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Csms16(ChargePoint16):
    @on(A16.boot_notification)
    def on_boot(self, **_: object) -> res16.BootNotification:
        return res16.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(A16.heartbeat)
    def on_heartbeat(self) -> res16.Heartbeat:
        return res16.Heartbeat(current_time=_now())

    @on(A16.authorize)
    def on_authorize(self, id_tag: str) -> res16.Authorize:
        return res16.Authorize(id_tag_info=ACCEPTED)

    @on(A16.start_transaction)
    def on_start(self, **_: object) -> res16.StartTransaction:
        return res16.StartTransaction(transaction_id=next(_transaction_ids), id_tag_info=ACCEPTED)

    @on(A16.status_notification)
    def on_status(self, **_: object) -> res16.StatusNotification:
        return res16.StatusNotification()

    @on(A16.meter_values)
    def on_meter(self, **_: object) -> res16.MeterValues:
        return res16.MeterValues()

    @on(A16.stop_transaction)
    def on_stop(self, **_: object) -> res16.StopTransaction:
        return res16.StopTransaction()


class Csms201(ChargePoint201):
    @on(A201.boot_notification)
    def on_boot(self, **_: object) -> res201.BootNotification:
        return res201.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(A201.heartbeat)
    def on_heartbeat(self) -> res201.Heartbeat:
        return res201.Heartbeat(current_time=_now())

    @on(A201.authorize)
    def on_authorize(self, id_token: dict) -> res201.Authorize:
        return res201.Authorize(id_token_info=ACCEPTED)

    @on(A201.status_notification)
    def on_status(self, **_: object) -> res201.StatusNotification:
        return res201.StatusNotification()

    @on(A201.transaction_event)
    def on_event(self, id_token: dict | None = None, **_: object) -> res201.TransactionEvent:
        return res201.TransactionEvent(id_token_info=ACCEPTED if id_token else None)


async def run(port: int, version: str) -> None:
    csms = Csms16 if version == "1.6" else Csms201

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the charger went: nothing to do
            await csms(ws.request.path.rstrip("/").rsplit("/", 1)[-1], ws).start()

    async with serve(handler, "127.0.0.1", port, subprotocols=[f"ocpp{version}"], ping_interval=None, compression=None, max_queue=4):  # type: ignore[list-item]
        await asyncio.Future()


def spawn(port: int, version: str) -> subprocess.Popen:
    """This server in a process of its own, once it accepts connections (as bench/hubproc.serve starts the hub)."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.bare_csms", "--port", str(port), "--version", version],
                            cwd=Path(__file__).resolve().parent.parent)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the bare ocpp central system did not start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--version", choices=["1.6", "2.0.1"], required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)  # the library logs every frame at INFO
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args.port, args.version))


if __name__ == "__main__":
    main()
