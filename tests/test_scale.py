"""Operators at real scale: a charger's status change costs the same at a site of 50 chargers as at a site of
one (one EVSE's worth of data written, one EVSE PATCH pushed), and the Locations served are the same bytes as a
rendering of the whole. On SQLite and PostgreSQL, with real OCPP chargers and a real OCPI eMSP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from ocpp.v16 import call

from connectors import bilateral
from fixtures.ocpi_party import free_port
from hub import model
from hub.model import PartyId
from hub.store.db import Database
from protocols.ocpi.v221 import codec
from protocols.ocpp.simulator import connect_charger
from tests.conftest import Served, hub_settings
from tests.test_ocpi_e2e import eventually

CPO = PartyId("NL", "GRN")
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _site(lid: str, others: int) -> model.Location:
    """A Location with `others` EVSEs besides the two its charger will report (a connector each)."""
    connector = model.Connector(id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE", max_voltage=230,
                                max_amperage=32, last_updated=NOW)
    evses = [model.Evse(uid=f"{lid}-E{n}", evse_id=f"NL*GRN*E{lid}{n}", status="AVAILABLE", connectors=[connector], last_updated=NOW)
             for n in range(others)]
    return model.Location(country_code="NL", party_id="GRN", id=lid, publish=True, address="Stationsplein 1", city="Utrecht",
                          country="NLD", coordinates=model.GeoPoint(Decimal("52.089444"), Decimal("5.110278")),
                          time_zone="Europe/Amsterdam", last_updated=NOW, evses=evses, name=f"site {lid}")


@contextmanager
def _writes(db: Database) -> Iterator[list[tuple[str, int]]]:
    """The INSERT/UPDATE/DELETE statements the database runs meanwhile, with the bytes of their parameters."""
    seen: list[tuple[str, int]] = []
    engine = db._write_engine if db.dialect == "sqlite" else db._engine.sync_engine  # noqa: SLF001

    def size(params: Any) -> int:
        if isinstance(params, (list, tuple)):
            return sum(size(p) for p in params)
        if isinstance(params, dict):
            return sum(size(v) for v in params.values())
        return len(params) if isinstance(params, (bytes, str, memoryview)) else 8

    def listen(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append((statement, size(params)))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


@pytest.fixture
async def hub(database_url: str, make_party: Any) -> Any:
    settings = hub_settings(database_url, free_port(), ocpp_port=0, ocpp_ping_interval=0.0)
    async with Served(settings) as served:
        core = served.hub.core
        await core.parties.ensure_local(CPO, "CPO", "GreenCharge")
        for lid, others in (("TWO", 0), ("FIFTY", 48)):
            await core.objects.put_location(None, _site(lid, others))
            await core.charging.add(f"CP-{lid}", CPO, lid)
        emsp = await make_party("NL", "EMS", "EMSP")
        invite = await bilateral.invite(served.hub.ocpi, PartyId("NL", "EMS"), "EMSP")
        await emsp.register(invite["versions_url"], invite["token"])
        await core.dispatcher.drain()
        yield served, emsp


async def _status_change(served: Served, emsp: Any, lid: str) -> tuple[int, list[str]]:
    """Bytes written by one status change of the charger at `lid`, and the pushes the eMSP got for it."""
    cp, ws, task = await connect_charger(f"ws://127.0.0.1:{served.hub.ocpp.port}/ocpp", f"CP-{lid}", "1.6", None)
    await cp.boot()
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    await served.hub.core.dispatcher.drain()
    before = len(emsp.received["locations"])
    with _writes(served.hub.core.db) as writes:
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        await eventually(lambda: len(emsp.received["locations"]) > before)
        await served.hub.core.dispatcher.drain()
    await ws.close()
    task.cancel()
    pushed = [f"{x.method} {x.path} {sorted(x.body)}" for x in emsp.received["locations"][before:]]
    return sum(n for _, n in writes), pushed


async def test_a_status_change_writes_one_evse_and_pushes_one_patch_whatever_the_site(hub: Any) -> None:
    served, emsp = hub
    small, small_pushes = await _status_change(served, emsp, "TWO")
    big, big_pushes = await _status_change(served, emsp, "FIFTY")
    print(f"\nbytes written by one status change: {small} at a site of 2 EVSEs, {big} at a site of 50")
    assert small_pushes == ["PATCH NL/GRN/TWO/CP-TWO-1 ['last_updated', 'status']"]
    assert big_pushes == ["PATCH NL/GRN/FIFTY/CP-FIFTY-1 ['last_updated', 'status']"]
    assert big <= small * 1.2 + 200, (small, big)  # the same work (ids differ in length), not 50 EVSEs' worth
    assert big < 8_000


async def test_locations_are_served_as_the_same_bytes_as_a_rendering_of_the_whole(hub: Any) -> None:
    served, emsp = hub
    await _status_change(served, emsp, "FIFTY")
    core = served.hub.core
    whole = await core.objects.location(CPO, "FIFTY")
    assert whole is not None and len(whole.evses) == 50 and whole.evse("CP-FIFTY-1").status == "CHARGING"  # type: ignore[union-attr]
    expected = codec.render("location", whole)
    r = await emsp.send("GET", "locations", "SENDER", "FIFTY")
    assert r.content.startswith(b'{"data":' + expected + b",")
    listed = await emsp.send("GET", "locations", "SENDER", params={"limit": "10"})  # GET All, from the catalog
    assert b"," + expected + b"]" in listed.content or b"[" + expected + b"," in listed.content
    assert [e["uid"] for e in msgspec.json.decode(r.content)["data"]["evses"]][-2:] == ["CP-FIFTY-1", "CP-FIFTY-2"]  # appended
