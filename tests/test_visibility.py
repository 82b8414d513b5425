"""Visibility is decided in one place and means the same everywhere: the in-memory catalogs (GET All),
the SQL predicates (other lists, re-sync), single reads and the fan-out agree, on both databases and
across processes."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from fixtures import generate
from hub import model
from hub.core import Core
from hub.model import PartyId
from hub.services import visibility
from hub.settings import Settings
from hub.store import documents as docs
from hub.store import locations
from hub.store import platforms as store
from protocols.ocpi.v221 import codec
from tests.conftest import BACKENDS, TEST_SECRET_KEY

CPOS = [PartyId("NL", "CP1"), PartyId("DE", "CP2"), PartyId("FR", "CP3")]
EMSPS = [PartyId("NL", "EM1"), PartyId("BE", "EM2"), PartyId("DE", "EM3")]


async def _core(database_url: str, policy: str = "open") -> Core:
    core = Core(Settings(database_url=database_url, roaming_policy=policy, log_level="WARNING", secret_key=TEST_SECRET_KEY), rendering=codec)  # type: ignore[arg-type]
    await core.start()
    return core


async def _platform(core: Core, name: str, roles: list[tuple[PartyId, str]]) -> int:
    def op(tx: Any) -> int:
        pid = store.create_platform(tx, name=name, token_in=f"token-{name}", token_kind="C", status="CONNECTED")
        store.update_platform(tx, pid, receives={"location", "tariff", "token", "session", "cdr"})
        store.set_parties(tx, pid, [(p, r, name, None) for p, r in roles])
        return pid

    pid = await core.db.write(op)
    await core.directory.refresh()
    return pid


async def _world(core: Core, seed: int = 3) -> None:
    rng = random.Random(seed)
    for cpo in CPOS:
        await _platform(core, f"cpo-{cpo.party_id}", [(cpo, "CPO")])
    await _platform(core, "em1", [(EMSPS[0], "EMSP")])
    await _platform(core, "em2+nsp", [(EMSPS[1], "EMSP"), (PartyId("BE", "NSP"), "NSP")])
    await _platform(core, "em3+cpo", [(EMSPS[2], "EMSP"), (PartyId("DE", "CP4"), "CPO")])
    for n, emsp in enumerate(EMSPS):
        await core.objects.put_token(None, generate.token(emsp, n))
    writes = []
    for n in range(60):
        cpo = CPOS[n % 3]
        loc = generate.location(rng, cpo, n, when=generate.T0 + timedelta(minutes=rng.randint(0, 500)))
        if n % 7 == 0:  # unpublished, for the holder of one eMSP's token
            tok = generate.token(EMSPS[n % 3], n % 3)
            loc = msgspec.structs.replace(loc, publish=False, publish_allowed_to=[model.PublishTokenType(uid=tok.uid, type="RFID")])
        writes.append(core.objects.put_location(None, loc))
    for cpo in CPOS:
        for tariff in generate.tariffs(cpo):
            writes.append(core.objects.put_tariff(None, tariff))
    await asyncio.gather(*writes)


async def _sql_page(core: Core, reader: Any, kind: docs.Kind, window: docs.Window) -> tuple[list[bytes], int]:
    def op(conn: sa.Connection) -> tuple[list[bytes], int]:
        visible = visibility.visible_clause(core.directory, reader, kind)
        if kind is not docs.LOCATION:
            return docs.page(conn, kind, visible, window)
        keys, total = docs.page_keys(conn, kind, visible, window)  # a Location's row is its shell: put together
        found = locations.rendered_by_keys(conn, keys, codec.assemble_location)
        return [found[k][1] for k in keys], total

    return await core.db.read(op)


async def _assert_catalog_matches_sql(core: Core) -> None:
    for reader in core.directory.platforms():
        for kind in (docs.LOCATION, docs.TARIFF):
            for window in (docs.Window(0, 100), docs.Window(5, 7), docs.Window(0, 100, generate.T0 + timedelta(minutes=100),
                                                                                 generate.T0 + timedelta(minutes=300))):
                got = await core.objects.page(reader, kind, window)
                want = await _sql_page(core, reader, kind, window)
                assert got == want, f"{reader.row.name} {kind.name} {window}"


@pytest.mark.parametrize("policy", ["open", "agreements"])
async def test_catalog_sql_and_single_reads_agree(database_url: str, policy: str) -> None:
    core = await _core(database_url, policy)
    try:
        if policy == "agreements":
            await core.db.write(lambda tx: tx.execute(sa.insert(sa.table("agreements", *[sa.column(c) for c in (
                "cpo_country_code", "cpo_party_id", "emsp_country_code", "emsp_party_id")])).values(
                cpo_country_code="NL", cpo_party_id="CP1", emsp_country_code="BE", emsp_party_id="EM2")))
        await _world(core)
        await core.directory.refresh()
        await _assert_catalog_matches_sql(core)
        # changes keep them in step: a status patch moves a location to the end, a tariff goes, a token
        # opens an unpublished location to another eMSP
        await core.objects.patch_location(None, CPOS[0], "LOC000003", {"status": "CHARGING",
                                          "last_updated": generate.T0 + timedelta(days=2)}, evse_uid="LOC000003-1")
        await core.objects.delete_tariff(None, CPOS[1], "AC1")
        await core.objects.put_token(None, msgspec.structs.replace(generate.token(EMSPS[1], 7), uid=generate.token(EMSPS[0], 0).uid))
        await _assert_catalog_matches_sql(core)
        # single reads say the same as the lists
        for reader in core.directory.platforms():
            listed = {msgspec.json.decode(d)["id"] for d in (await core.objects.page(reader, docs.LOCATION, docs.Window(0, 100)))[0]}
            for loc_key in await core.db.read(lambda c: c.execute(sa.select(docs.LOCATION.table.c.country_code,
                                                                    docs.LOCATION.table.c.party_id, docs.LOCATION.table.c.id)).all()):
                try:
                    await core.objects.get(reader, docs.LOCATION, tuple(loc_key))
                    readable = True
                except Exception:
                    readable = False
                assert readable == (loc_key[2] in listed), f"{reader.row.name} {loc_key}"
    finally:
        await core.stop()


async def test_unpublished_location_reaches_only_its_audience(database_url: str) -> None:
    core = await _core(database_url)
    try:
        await _world(core)
        await core.directory.refresh()
        em1 = core.directory.platform_of(EMSPS[0])
        em2 = core.directory.platform_of(EMSPS[1])
        loc = await core.objects.get(None, docs.LOCATION, ("NL", "CP1", "LOC000000"))  # n=0: unpublished, EM1's token
        assert not loc.publish
        assert [p.row.name for p in visibility.receivers(core.directory, "location", loc, None, frozenset({EMSPS[0]}))] == ["em1"]
        assert visibility.may_read(core.directory, em1, "location", loc, frozenset({EMSPS[0]}))
        assert not visibility.may_read(core.directory, em2, "location", loc, frozenset({EMSPS[0]}))
    finally:
        await core.stop()


@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)
async def test_catalog_follows_changes_made_by_another_process(database_url: str) -> None:
    """Several processes share PostgreSQL (SQLite is served by one process)."""
    one, two = await _core(database_url), await _core(database_url)
    try:
        reader_id = await _platform(one, "reader", [(EMSPS[0], "EMSP")])
        await two.directory.refresh()
        reader = two.directory.platform(reader_id)
        assert (await two.objects.page(reader, docs.LOCATION, docs.Window()))[1] == 0  # loads the catalog
        await one.objects.put_location(None, generate.locations(CPOS[0], 1)[0])
        for _ in range(100):
            if (await two.objects.page(reader, docs.LOCATION, docs.Window()))[1] == 1:
                break
            await asyncio.sleep(0.02)
        rows, total = await two.objects.page(reader, docs.LOCATION, docs.Window())
        assert total == 1 and msgspec.json.decode(rows[0])["id"] == "LOC000000"
    finally:
        await one.stop()
        await two.stop()
